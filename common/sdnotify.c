/* sdnotify.c - sd_notify(3) for the daemons' systemd units: READY=1 once
 * the daemon serves (sockets open, privileges dropped), RELOADING=1 around
 * a SIGHUP, STOPPING=1 on the way out. */
#include "config.h"
#include "sdnotify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

static void
sdnotify_send(const char *msg)
{
    int rc = sd_notify(0, msg);

    if (rc < 0)
        log_warnx("systemd: cannot notify \"%s\": %s", msg, strerror(-rc));
}
#else
static void
sdnotify_send(const char *msg)
{
    static int told;

    (void)msg;
    if (getenv("NOTIFY_SOCKET") != NULL && !told++)
        log_warnx("systemd: built without libsystemd, cannot notify it: "
                  "run this daemon with Type=exec, not Type=notify");
}
#endif

void
sdnotify_ready(const char *status)
{
    char msg[256];

    if (status != NULL)
        snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
    else
        snprintf(msg, sizeof(msg), "READY=1");
    sdnotify_send(msg);
}

void
sdnotify_reloading(void)
{
    sdnotify_send("RELOADING=1");
}

void
sdnotify_stopping(void)
{
    sdnotify_send("STOPPING=1");
}
