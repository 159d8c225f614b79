/* log.c - where log lines go (syslog or stderr) and at which verbosity,
 * plus a rate limiter for warnings a peer can trigger at will. */
#include "config.h"
#include "log.h"
#include "nvdp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* The one piece of process-wide state the style guide allows: every module
 * logs without being handed a context, as in the OpenBSD daemons. */
static struct {
    int to_stderr;
    int journal;        /* stderr is systemd's journal: "<pri>" prefixes */
    int verbose;
    int inited;
    FILE *file;         /* log_init_file: instead of syslog/stderr */
    char ident[32];
    /* log_batch: info and debug lines to stderr wait here for log_flush()
     * (or a warning, or a full buffer), in order */
    int batch;
    size_t held;
    char hold[16384];
} log_st = {1, 0, 0, 0, NULL, "", 0, 0, ""};

/* Writes the held lines, in one write. */
void
log_flush(void)
{
    if (log_st.held > 0) {
        (void)!write(STDERR_FILENO, log_st.hold, log_st.held);
        log_st.held = 0;
    }
}

void
log_batch(int on)
{
    if (!on)
        log_flush();
    log_st.batch = on;
}

/* Under a systemd unit (-d), stderr is a stream to the journal, named by
 * JOURNAL_STREAM: a line that starts with "<N>" keeps its priority there
 * (sd-daemon(3)), so warnings stay warnings. */
static int
log_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    return e != NULL && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
           fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev &&
           st.st_ino == ino;
}

void
log_init(const char *ident, int to_stderr, int verbose)
{
    if (log_st.file != NULL) {
        fclose(log_st.file);
        log_st.file = NULL;
    }
    log_st.to_stderr = to_stderr;
    log_st.journal = to_stderr && log_stderr_is_journal();
    log_st.verbose = verbose;
    log_st.inited = 1;
    if (!to_stderr)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    tzset();
}

int
log_init_file(const char *ident, const char *path, int verbose)
{
    FILE *f = fopen(path, "ae");

    if (f == NULL)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0); /* one write per line: O_APPEND keeps
                                  * lines of concurrent processes whole */
    if (log_st.file != NULL)
        fclose(log_st.file);
    log_st.file = f;
    snprintf(log_st.ident, sizeof(log_st.ident), "%s", ident);
    log_st.verbose = verbose;
    log_st.inited = 1;
    tzset();
    return 0;
}

void
log_setverbose(int verbose)
{
    log_st.verbose = verbose;
}

int
log_getverbose(void)
{
    return log_st.verbose;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap)
{
    int saved = errno;
    char buf[2048];
    size_t off = 0, len;

    if (log_st.file == NULL && log_st.to_stderr && log_st.journal)
        off = (size_t)snprintf(buf, 8, "<%d>", pri);
    /* lines carry text from peers (NAME, REASON, hook input): nobody may
     * forge a line or drive the terminal reading the log */
    vsnprintf(buf + off, sizeof(buf) - off - 1, fmt, ap);
    nvdp_text_sanitise(buf + off);
    if (log_st.file != NULL) {
        fprintf(log_st.file, "%s[%ld]: %s\n", log_st.ident, (long)getpid(),
                buf);
    } else if (log_st.to_stderr) {
        /* one write of the formatted line: stdio's unbuffered stderr
         * formatted it a second time, byte by byte, per info line */
        len = strlen(buf);
        buf[len++] = '\n';
        if (log_st.batch && pri >= LOG_INFO) {
            if (log_st.held + len > sizeof(log_st.hold))
                log_flush();
            memcpy(log_st.hold + log_st.held, buf, len);
            log_st.held += len;
        } else {
            log_flush(); /* what came before it first */
            (void)!write(STDERR_FILENO, buf, len);
        }
    } else {
        syslog(pri, "%s", buf);
    }
    errno = saved;
}

static void
log_write(int pri, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(pri, fmt, ap);
    va_end(ap);
}

/* Appends ": strerror(errno)" when errnum != 0. */
static void
log_vwrite_err(int pri, int errnum, const char *fmt, va_list ap)
{
    char buf[1024];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (errnum)
        log_write(pri, "%s: %s", buf, strerror(errnum));
    else
        log_write(pri, "%s", buf);
}

void
log_warn(const char *fmt, ...)
{
    int errnum = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vwrite_err(LOG_ERR, errnum, fmt, ap);
    va_end(ap);
    errno = errnum;
}

void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_ERR, fmt, ap);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_INFO, fmt, ap);
    va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
    va_list ap;

    if (log_st.verbose < 1)
        return;
    va_start(ap, fmt);
    log_vwrite(LOG_DEBUG, fmt, ap);
    va_end(ap);
}

void
log_debug2(const char *fmt, ...)
{
    va_list ap;

    if (log_st.verbose < 2)
        return;
    va_start(ap, fmt);
    log_vwrite(LOG_DEBUG, fmt, ap);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    int errnum = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vwrite_err(LOG_CRIT, errnum, fmt, ap);
    va_end(ap);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(LOG_CRIT, fmt, ap);
    va_end(ap);
    exit(1);
}

/* ---- rate limiting ---------------------------------------------------- */
void
log_rl_init(struct log_rl *rl, unsigned burst, uint32_t interval_ms)
{
    memset(rl, 0, sizeof(*rl));
    rl->burst = burst ? burst : 1;
    rl->interval_ms = interval_ms ? interval_ms : 1;
}

int
log_rl_allow(struct log_rl *rl, uint64_t now_ms)
{
    if (rl->burst == 0) /* zeroed, never initialised: use defaults */
        log_rl_init(rl, LOG_RL_BURST, LOG_RL_INTERVAL_MS);
    if (rl->count == 0 || now_ms - rl->start >= rl->interval_ms) {
        /* A new interval: report what the previous one swallowed, so an
         * operator knows the peer kept misbehaving. */
        if (rl->suppressed)
            log_warnx("%u similar messages suppressed", rl->suppressed);
        rl->start = now_ms;
        rl->count = 0;
        rl->suppressed = 0;
    }
    if (rl->count < rl->burst) {
        rl->count++;
        return 1;
    }
    rl->suppressed++;
    rl->total_suppressed++;
    return 0;
}

static uint64_t
log_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
log_warnx_rl(struct log_rl *rl, const char *fmt, ...)
{
    va_list ap;

    if (!log_rl_allow(rl, log_now_ms()))
        return;
    va_start(ap, fmt);
    log_vwrite(LOG_WARNING, fmt, ap);
    va_end(ap);
}
