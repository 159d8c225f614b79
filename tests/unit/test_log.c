/* test_log.c - logging: verbosity levels, errno text, and the rate limiter
 * for warnings a peer can trigger. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Runs fn with stderr redirected; returns what it printed (static). */
static const char *
capture(void (*fn)(void *), void *arg)
{
    static char out[8192];
    char path[] = "/tmp/test_log.XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    ssize_t n;

    fflush(stderr);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return out;
}

static int
count_lines(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void
levels(void *arg)
{
    (void)arg;
    log_info("info %d", 1);
    log_debug("debug %d", 2);
    log_debug2("debug2 %d", 3);
    log_warnx("warnx %s", "x");
}

/* The file destination: what syslog would get, one line per call. */
static void
test_file(void **st)
{
    char path[] = "/tmp/test_log_file.XXXXXX", buf[512];
    int fd = mkstemp(path);
    ssize_t n;

    (void)st;
    assert_true(fd >= 0);
    assert_int_equal(log_init_file("nvdp-hook", "/nonexistent/dir/log", 0), -1);
    assert_int_equal(log_init_file("nvdp-hook", path, 0), 0);
    log_info("attached %s", "web1");
    log_debug("not at verbose 0");
    log_warnx("refused: \x1b[31mred\x1b[0m");
    n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    char want[128];
    snprintf(want, sizeof(want), "nvdp-hook[%ld]: attached web1\n", (long)getpid());
    assert_non_null(strstr(buf, want));
    assert_null(strstr(buf, "not at verbose 0"));
    /* text from the hook's input cannot drive a terminal reading the log */
    assert_null(strchr(buf, 0x1b));
    assert_int_equal(count_lines(buf, "\n"), 2);
    close(fd);
    unlink(path);
    log_init("test_log", 1, 0);
}

static void
test_levels(void **st)
{
    const char *out;

    (void)st;
    log_init("test_log", 1, 0);
    out = capture(levels, NULL);
    assert_non_null(strstr(out, "info 1\n"));
    assert_non_null(strstr(out, "warnx x\n"));
    assert_null(strstr(out, "debug 2"));
    assert_null(strstr(out, "debug2 3"));
    log_setverbose(1);
    assert_int_equal(log_getverbose(), 1);
    out = capture(levels, NULL);
    assert_non_null(strstr(out, "debug 2\n"));
    assert_null(strstr(out, "debug2 3"));
    log_setverbose(2);
    out = capture(levels, NULL);
    assert_non_null(strstr(out, "debug2 3\n"));
    log_setverbose(0);
}

static void
warn_enoent(void *arg)
{
    int *after = arg;

    errno = ENOENT;
    log_warn("open %s", "/nowhere");
    *after = errno;
}

static void
test_warn_errno(void **st)
{
    int after = 0;
    const char *out;

    (void)st;
    out = capture(warn_enoent, &after);
    assert_string_equal(out, "open /nowhere: No such file or directory\n");
    assert_int_equal(after, ENOENT); /* errno preserved for the caller */
}

static void
test_ratelimit_allow(void **st)
{
    struct log_rl rl;

    (void)st;
    log_rl_init(&rl, 3, 1000);
    /* 3 per interval, then suppressed until the interval ends. */
    assert_true(log_rl_allow(&rl, 5000));
    assert_true(log_rl_allow(&rl, 5001));
    assert_true(log_rl_allow(&rl, 5500));
    assert_false(log_rl_allow(&rl, 5600));
    assert_false(log_rl_allow(&rl, 5999));
    assert_int_equal(rl.suppressed, 2);
    assert_int_equal(rl.total_suppressed, 2);
    /* A new interval: allowed again, the count of suppressed reset. */
    assert_true(log_rl_allow(&rl, 6000));
    assert_int_equal(rl.suppressed, 0);
    assert_int_equal(rl.total_suppressed, 2);
    /* A zeroed limiter works with the defaults. */
    struct log_rl z;
    memset(&z, 0, sizeof(z));
    for (int i = 0; i < LOG_RL_BURST; i++)
        assert_true(log_rl_allow(&z, 100));
    assert_false(log_rl_allow(&z, 100));
    assert_true(log_rl_allow(&z, 100 + LOG_RL_INTERVAL_MS));
}

static void
flood(void *arg)
{
    struct log_rl *rl = arg;

    for (int i = 0; i < 50; i++)
        log_warnx_rl(rl, "malformed frame %d", i);
}

static void
summary(void *arg)
{
    struct log_rl *rl = arg;

    log_rl_allow(rl, rl->start + rl->interval_ms); /* the interval ends */
}

static void
test_ratelimit_lines(void **st)
{
    struct log_rl rl;
    const char *out;

    (void)st;
    log_rl_init(&rl, 5, 60000);
    out = capture(flood, &rl);
    assert_int_equal(count_lines(out, "malformed frame"), 5);
    assert_non_null(strstr(out, "malformed frame 4\n"));
    assert_null(strstr(out, "malformed frame 5\n"));
    assert_int_equal(rl.suppressed, 45);
    /* The next interval starts with one line saying what was swallowed. */
    out = capture(summary, &rl);
    assert_string_equal(out, "45 similar messages suppressed\n");
}

/* Peer text (NAME, REASON) reaches log lines: control characters must not
 * forge extra lines or drive the terminal (spec section 6). */
static void
hostile(void *arg)
{
    (void)arg;
    log_info("peer is \"%s\"", "evil\nNVE up\r\x1b[31mred\x7f\xc2\x9b" "2J");
    log_warnx("reason: %s", "caf\xc3\xa9" " ok\tx");
}

static void
test_sanitised(void **st)
{
    const char *out;

    (void)st;
    log_init("test_log", 1, 0);
    out = capture(hostile, NULL);
    assert_string_equal(out, "peer is \"evil?NVE up??[31mred???2J\"\n"
                             "reason: caf\xc3\xa9" " ok?x\n");
}

/* On the journal's stream (JOURNAL_STREAM names stderr), lines carry
 * their syslog priority; elsewhere they do not. */
static void
journal_lines(void *arg)
{
    struct stat st;
    char v[64];

    (void)arg;
    fstat(STDERR_FILENO, &st);
    snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", v, 1);
    log_init("test_log", 1, 1);
    log_warnx("a warning");
    log_info("some info");
    log_debug("a detail");
    setenv("JOURNAL_STREAM", "1:2", 1); /* another stream: not ours */
    log_init("test_log", 1, 0);
    log_warnx("plain warning");
    unsetenv("JOURNAL_STREAM");
}

static void
test_journal_priorities(void **st)
{
    const char *out = capture(journal_lines, NULL);

    (void)st;
    assert_non_null(strstr(out, "<3>a warning\n")); /* LOG_ERR, as syslog */
    assert_non_null(strstr(out, "<6>some info\n"));
    assert_non_null(strstr(out, "<7>a detail\n"));
    assert_non_null(strstr(out, "\nplain warning\n"));
    assert_null(strstr(out, ">plain warning"));
}

/* Batched: info lines wait for log_flush(), a warning writes what was held
 * first and then itself, nothing is lost or reordered, and a buffer's worth
 * of lines leaves without a flush. */
static void
batched(void *arg)
{
    const char **seen = arg;
    char big[1000];

    log_batch(1);
    log_info("held %d", 1);
    log_info("held %d", 2);
    /* nothing written yet: stderr is the capture file */
    seen[0] = lseek(2, 0, SEEK_CUR) == 0 ? "empty" : "written";
    log_warnx("urgent");
    log_info("held %d", 3);
    log_flush();
    log_info("held %d", 4);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 40; i++) /* 40 KB: more than the buffer holds */
        log_info("%s", big);
    seen[1] = lseek(2, 0, SEEK_CUR) > 16384 ? "spilled" : "held";
    log_info("held %d", 5);
    log_batch(0); /* writes the rest */
    /* every byte: 5 "held N" lines, "urgent", 40 lines of 1,000 */
    seen[2] = lseek(2, 0, SEEK_CUR) == 5 * 7 + 7 + 40 * 1000 ? "all" : "lost";
}

static void
test_batch(void **st)
{
    const char *seen[3] = {NULL, NULL, NULL}, *out, *a, *b, *c;

    (void)st;
    log_init("test_log", 1, 0);
    out = capture(batched, seen);
    assert_string_equal(seen[0], "empty");
    assert_string_equal(seen[1], "spilled");
    assert_string_equal(seen[2], "all");
    a = strstr(out, "held 1\nheld 2\nurgent\n");
    b = strstr(out, "held 3\n");
    c = strstr(out, "held 4\n");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_warn_errno),
        cmocka_unit_test(test_ratelimit_allow),
        cmocka_unit_test(test_ratelimit_lines),
        cmocka_unit_test(test_sanitised),
        cmocka_unit_test(test_journal_priorities),
        cmocka_unit_test(test_batch),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
