/* log.h - logging to syslog or stderr with levels, OpenBSD style. This is
 * the one module with process-wide state: where log lines go. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdint.h>

/* to_stderr: 1 when running in the foreground (-d). verbose: 0 info,
 * 1 debug (-v), 2 more debug (-vv). */
void log_init(const char *ident, int to_stderr, int verbose);
/* Lines go to the file path instead (appended, "ident[pid]: text" per
 * line, as syslog would store them): for tests of programs whose stderr
 * is not theirs to use (nvdp-hook under libvirt). 0, or -1 (errno) and
 * logging is left as it was. */
int log_init_file(const char *ident, const char *path, int verbose);
void log_setverbose(int verbose);
int log_getverbose(void);
/* With batching on, info and debug lines to stderr are held and written
 * together by log_flush() (a daemon calls it once per loop turn: a burst of
 * requests logs a line or two each, and a system call per line was a good
 * part of a request's CPU), when the buffer is full, or before a warning, which is written at once;
 * syslog and log_init_file lines are never held. log_batch(0) writes what
 * is held. */
void log_batch(int on);
void log_flush(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* + strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only at -vv: per-frame / per-message tracing. */
void log_debug2(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only for our own bugs and start-up failures, never for peer input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Rate limiting for warnings a peer can trigger (malformed frames...): at
 * most burst lines per interval; when a new interval starts, one line says
 * how many were suppressed. A zeroed struct works (defaults below). One
 * limiter per message class, kept in the daemon's context. */
#define LOG_RL_BURST 10
#define LOG_RL_INTERVAL_MS 10000
struct log_rl {
    uint64_t start;       /* ms, start of the current interval */
    uint32_t interval_ms;
    unsigned burst;
    unsigned count;       /* lines let through in this interval */
    unsigned suppressed;  /* lines dropped in this interval */
    uint64_t total_suppressed;
};
void log_rl_init(struct log_rl *rl, unsigned burst, uint32_t interval_ms);
/* 1 if a line may be logged at now_ms (counts it), 0 if suppressed. */
int log_rl_allow(struct log_rl *rl, uint64_t now_ms);
/* log_warnx through rl (monotonic clock). */
void log_warnx_rl(struct log_rl *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
