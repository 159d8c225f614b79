/* sdnotify.h - telling systemd (Type=notify units) that a daemon is ready,
 * reloading or stopping, through libsystemd's sd_notify(3). */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

/* Each does nothing outside a Type=notify unit (no NOTIFY_SOCKET). In a
 * build without libsystemd, the first call under one logs that systemd
 * cannot be told (the unit then has Type=exec). status: one line for
 * "systemctl status", or NULL. */
void sdnotify_ready(const char *status);
void sdnotify_reloading(void);
void sdnotify_stopping(void);

#endif
