/* log.h - logging to syslog or stderr with levels, OpenBSD style. This is
 * the one module with process-wide state: where log lines go. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

/* to_stderr: 1 when running in the foreground (-d). verbose: 0 info,
 * 1 debug (-v), 2 more debug (-vv). */
void log_init(const char *ident, int to_stderr, int verbose);
void log_setverbose(int verbose);
int log_getverbose(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* + strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only for our own bugs and start-up failures, never for peer input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
