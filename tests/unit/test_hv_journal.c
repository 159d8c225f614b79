/* test_hv_journal.c - hv-agent's state journal on a temporary directory:
 * round trip, a torn last write, a bad CRC in the middle, NUL bytes, binary
 * junk, a record missing from its commit, rewrites (compaction), and the
 * write and fsync failures injected through the journal's I/O table. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "hv_journal.h"

struct fx {
    char dir[64];
    char path[128];
    char err[512];
    struct hv_journal j;
    struct hv_jbuf b;
    /* what a scan handed over */
    char got[64][64];
    unsigned ngot;
    int refuse; /* the callback refuses records containing "refuse" */
};

/* ---- I/O with faults ------------------------------------------------- */
static int write_budget = -1;  /* bytes that may still be written; -1 all */
static int fail_sync;          /* fdatasync/fsync fail with EIO */
static unsigned syncs;

static ssize_t
t_write(int fd, const void *buf, size_t len)
{
    if (write_budget == 0) {
        errno = ENOSPC;
        return -1;
    }
    if (write_budget > 0 && len > (size_t)write_budget)
        len = (size_t)write_budget; /* a short write, then ENOSPC */
    ssize_t n = write(fd, buf, len);
    if (n > 0 && write_budget > 0)
        write_budget -= (int)n;
    return n;
}

static int
t_fdatasync(int fd)
{
    syncs++;
    if (fail_sync) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int
t_fsync(int fd)
{
    syncs++;
    if (fail_sync) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static const struct hv_journal_io t_io = {t_write, t_fdatasync, t_fsync};

static int
setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_hv_journal.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/j", f->dir);
    hv_journal_init(&f->j, f->path, &t_io);
    write_budget = -1;
    fail_sync = 0;
    syncs = 0;
    *st = f;
    return 0;
}

static int
teardown(void **st)
{
    struct fx *f = *st;
    char cmd[128];

    hv_journal_close(&f->j);
    hv_jbuf_free(&f->b);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void
rec(struct hv_jbuf *b, const char *name)
{
    size_t at = b->len;

    hv_jbuf_printf(b, "{\"name\":");
    hv_jbuf_putstr(b, name);
    assert_true(hv_jbuf_end(b, at) > 0);
}

static int
collect(void *arg, const char *line, size_t len, char *why, size_t whylen)
{
    struct fx *f = arg;
    const char *p = memmem(line, len, "\"name\":\"", 8);
    const char *e;

    assert_non_null(p);
    p += 8;
    e = memchr(p, '"', len - (size_t)(p - line));
    assert_non_null(e);
    if (f->refuse && memmem(p, (size_t)(e - p), "refuse", 6) != NULL) {
        snprintf(why, whylen, "refused by the test");
        return -1;
    }
    assert_true(f->ngot < 64);
    snprintf(f->got[f->ngot++], sizeof(f->got[0]), "%.*s", (int)(e - p), p);
    return 0;
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void
spew(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

static void
scan(struct fx *f, struct hv_journal_scan *r)
{
    size_t len;
    char *buf = slurp(f->path, &len);

    f->ngot = 0;
    hv_journal_scan(buf, len, collect, f, r);
    free(buf);
}

/* A journal of three commits: {a}, {b, c}, {d}. */
static void
three_commits(struct fx *f)
{
    hv_jbuf_reset(&f->b);
    assert_int_equal(hv_journal_rewrite(&f->j, &f->b, f->err,
                                        sizeof(f->err)), 0);
    hv_jbuf_reset(&f->b);
    rec(&f->b, "a");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), 0);
    hv_jbuf_reset(&f->b);
    rec(&f->b, "b");
    rec(&f->b, "c");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), 0);
    hv_jbuf_reset(&f->b);
    rec(&f->b, "d");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), 0);
}

/* ---- tests ----------------------------------------------------------------- */

static void
test_round_trip(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;
    struct stat sb;

    three_commits(f);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal((uint64_t)sb.st_size, f->j.size);
    /* one sync per commit (and one per rewrite, one for its directory) */
    assert_int_equal(syncs, 2 + 3);
    assert_int_equal(f->j.st.commits, 3);
    assert_int_equal(f->j.st.records, 4);
    scan(f, &r);
    assert_false(hv_journal_damaged(&r));
    assert_true(r.header_ok);
    assert_int_equal(r.records, 4);
    assert_int_equal(r.commits, 4); /* the rewrite's empty commit too */
    assert_int_equal(r.good_end, f->j.size);
    assert_int_equal(r.next_seq, f->j.seq);
    assert_int_equal(f->ngot, 4);
    assert_string_equal(f->got[0], "a");
    assert_string_equal(f->got[1], "b");
    assert_string_equal(f->got[3], "d");
    /* every line is JSON: the CRC is a field of its own line */
    size_t len;
    char *buf = slurp(f->path, &len);
    assert_non_null(strstr(buf, "{\"name\":\"a\",\"crc\":\""));
    free(buf);
    /* names and reasons may hold anything: escaped */
    hv_jbuf_reset(&f->b);
    rec(&f->b, "q \"quoted\"\n\\ \x01");
    assert_non_null(strstr(f->b.p, "\"q \\\"quoted\\\"\\u000a\\\\ \\u0001\""));

    /* reopened at its end, it goes on */
    hv_journal_close(&f->j);
    assert_int_equal(hv_journal_open(&f->j, r.good_end, r.next_seq, f->err,
                                     sizeof(f->err)), 0);
    hv_jbuf_reset(&f->b);
    rec(&f->b, "e");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), 0);
    scan(f, &r);
    assert_false(hv_journal_damaged(&r));
    assert_int_equal(f->ngot, 5);
    assert_string_equal(f->got[4], "e");
}

static void
test_torn_last_write(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;
    size_t len, cut;
    char *buf;

    three_commits(f);
    buf = slurp(f->path, &len);
    /* the last commit ({d} and its commit line) cut in the middle, as a
     * crash during the write leaves it: d was never acknowledged, and the
     * line cut short is no record */
    cut = (size_t)(strstr(buf, "{\"name\":\"d\"") - buf) + 20;
    spew(f->path, buf, cut);
    scan(f, &r);
    assert_true(hv_journal_damaged(&r));
    assert_int_equal(r.damaged, 0);
    assert_int_equal(r.tail_bytes, 20);
    assert_int_equal(r.records, 3);
    assert_int_equal(f->ngot, 3);
    assert_string_equal(f->got[2], "c");
    assert_non_null(strstr(r.first_bad, "20 bytes after the last commit"));

    /* a whole record written but not its commit line: it loads (any
     * record is a whole VNIC), and the missing commit is reported */
    cut = (size_t)(strstr(buf, "{\"commit\":4") - buf);
    spew(f->path, buf, cut);
    scan(f, &r);
    assert_true(hv_journal_damaged(&r));
    assert_int_equal(r.damaged, 0);
    assert_int_equal(r.records, 4);
    assert_int_equal(r.uncommitted, 1);
    assert_string_equal(f->got[3], "d");
    assert_int_equal(r.tail_bytes, cut - (size_t)(strstr(buf, "{\"name\":\"d\"") - buf));
    free(buf);
}

static void
corrupt_middle(struct fx *f, const char *junk, size_t junklen,
               unsigned long want_line)
{
    struct hv_journal_scan r;
    size_t len, at;
    char *buf, *out;

    three_commits(f);
    buf = slurp(f->path, &len);
    /* damage the record "b" (line 5) in place */
    at = (size_t)(strstr(buf, "{\"name\":\"b\"") - buf) + 3;
    out = malloc(len + junklen);
    memcpy(out, buf, at);
    memcpy(out + at, junk, junklen);
    memcpy(out + at + junklen, buf + at, len - at);
    spew(f->path, out, len + junklen);
    scan(f, &r);
    /* every other record loads, the damage is counted and located */
    assert_true(hv_journal_damaged(&r));
    assert_true(r.damaged >= 1);
    assert_int_equal(r.tail_bytes, 0);
    assert_int_equal(f->ngot, 3);
    assert_string_equal(f->got[0], "a");
    assert_string_equal(f->got[1], "c");
    assert_string_equal(f->got[2], "d");
    assert_int_equal(r.first_bad_line, want_line);
    free(buf);
    free(out);
}

static void
test_bad_crc_in_the_middle(void **st)
{
    /* one changed character: the line is valid JSON, its CRC is not */
    struct fx *f = *st;
    struct hv_journal_scan r;
    size_t len;
    char *buf, *p;

    three_commits(f);
    buf = slurp(f->path, &len);
    p = strstr(buf, "{\"name\":\"b\"");
    p[9] = 'B';
    spew(f->path, buf, len);
    scan(f, &r);
    assert_int_equal(r.damaged, 1);
    assert_int_equal(r.first_bad_line, 5);
    assert_non_null(strstr(r.first_bad, "CRC"));
    assert_int_equal(f->ngot, 3);
    free(buf);
}

static void
test_nul_bytes(void **st)
{
    corrupt_middle(*st, "\0\0\0\0\0\0\0\0", 8, 5);
}

static void
test_binary_junk(void **st)
{
    /* junk with newlines of its own: several bad lines, all counted */
    static const char junk[] = "\xff\xfe\n\x80\x01\x02{\"crc\":\"0\"}\n\x7f";
    corrupt_middle(*st, junk, sizeof(junk) - 1, 5);
}

static void
test_record_missing_from_commit(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;
    size_t len, a, b;
    char *buf, *out;

    three_commits(f);
    buf = slurp(f->path, &len);
    /* the whole line of "b" disappears: its commit counts 2 records */
    a = (size_t)(strstr(buf, "{\"name\":\"b\"") - buf);
    b = (size_t)(strchr(buf + a, '\n') - buf) + 1;
    out = malloc(len);
    memcpy(out, buf, a);
    memcpy(out + a, buf + b, len - b);
    spew(f->path, out, len - (b - a));
    scan(f, &r);
    assert_int_equal(r.damaged, 1);
    assert_non_null(strstr(r.first_bad, "counts 2 records, 1 found"));
    assert_int_equal(f->ngot, 3);
    free(buf);
    free(out);
}

static void
test_refused_record_counts_as_damage(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;

    hv_jbuf_reset(&f->b);
    rec(&f->b, "x");
    rec(&f->b, "refuse me");
    rec(&f->b, "y");
    assert_int_equal(hv_journal_rewrite(&f->j, &f->b, f->err,
                                        sizeof(f->err)), 0);
    f->refuse = 1;
    scan(f, &r);
    assert_int_equal(r.damaged, 1);
    assert_int_equal(r.records, 2);
    assert_string_equal(r.first_bad, "refused by the test");
    assert_int_equal(r.first_bad_line, 3);
}

static void
test_not_a_journal(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;

    spew(f->path, "hello\nworld\n", 12);
    scan(f, &r);
    assert_true(hv_journal_damaged(&r));
    assert_false(r.header_ok);
    assert_int_equal(f->ngot, 0);
    /* an empty file is an empty journal */
    spew(f->path, "", 0);
    scan(f, &r);
    assert_false(hv_journal_damaged(&r));
    assert_int_equal(r.next_seq, 1);
}

static void
test_rewrite_compacts(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;
    uint64_t before;
    char tmp[160];

    three_commits(f);
    before = f->j.size;
    hv_jbuf_reset(&f->b);
    rec(&f->b, "live");
    assert_int_equal(hv_journal_rewrite(&f->j, &f->b, f->err,
                                        sizeof(f->err)), 0);
    assert_true(f->j.size < before);
    assert_int_equal(f->j.st.rewrites, 2);
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    assert_int_equal(access(tmp, F_OK), -1);
    scan(f, &r);
    assert_false(hv_journal_damaged(&r));
    assert_int_equal(f->ngot, 1);
    assert_string_equal(f->got[0], "live");
    /* appends continue on the new file, commits keep counting */
    hv_jbuf_reset(&f->b);
    rec(&f->b, "next");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), 0);
    scan(f, &r);
    assert_int_equal(f->ngot, 2);
    assert_int_equal(r.next_seq, f->j.seq);

    /* a rewrite that cannot complete leaves the journal as it was */
    size_t len1, len2;
    char *a = slurp(f->path, &len1), *b;
    fail_sync = 1;
    hv_jbuf_reset(&f->b);
    rec(&f->b, "never");
    assert_int_equal(hv_journal_rewrite(&f->j, &f->b, f->err,
                                        sizeof(f->err)), -1);
    assert_int_equal(errno, EIO);
    assert_non_null(strstr(f->err, "Input/output error"));
    assert_int_equal(access(tmp, F_OK), -1);
    b = slurp(f->path, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(a, b, len1);
    free(a);
    free(b);
}

static void
test_write_failure_cuts_back(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;
    uint64_t size;
    size_t len;
    char *before, *after;

    three_commits(f);
    size = f->j.size;
    before = slurp(f->path, &len);
    /* the disk fills up in the middle of a commit of two records */
    write_budget = 30;
    hv_jbuf_reset(&f->b);
    rec(&f->b, "e-long-enough-to-be-cut-in-two");
    rec(&f->b, "f");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), -1);
    assert_int_equal(errno, ENOSPC);
    assert_non_null(strstr(f->err, "No space left on device"));
    assert_int_equal(f->j.st.write_errors, 1);
    assert_false(f->j.need_rewrite);
    assert_int_equal(f->j.size, size);
    /* the partial group is gone: the file is what was committed */
    after = slurp(f->path, &len);
    assert_int_equal(len, size);
    assert_memory_equal(before, after, len);
    free(after);
    scan(f, &r);
    assert_false(hv_journal_damaged(&r));
    assert_int_equal(f->ngot, 4);
    /* space again: the next commit appends normally */
    write_budget = -1;
    hv_jbuf_reset(&f->b);
    rec(&f->b, "e");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), 0);
    scan(f, &r);
    assert_false(hv_journal_damaged(&r));
    assert_int_equal(f->ngot, 5);
    free(before);
}

static void
test_sync_failure_needs_rewrite(void **st)
{
    struct fx *f = *st;
    struct hv_journal_scan r;
    struct stat sb;
    uint64_t size;

    three_commits(f);
    size = f->j.size;
    fail_sync = 1;
    hv_jbuf_reset(&f->b);
    rec(&f->b, "e");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), -1);
    assert_int_equal(errno, EIO);
    assert_non_null(strstr(f->err, "fdatasync"));
    assert_int_equal(f->j.st.sync_errors, 1);
    assert_int_equal(f->j.size, size); /* not committed */
    /* what the kernel kept of the failed write is unknown: no appending
     * until a rewrite replaced the file */
    assert_true(f->j.need_rewrite);
    fail_sync = 0;
    hv_jbuf_reset(&f->b);
    rec(&f->b, "f");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "rewritten first"));
    hv_jbuf_reset(&f->b);
    rec(&f->b, "a");
    rec(&f->b, "f");
    assert_int_equal(hv_journal_rewrite(&f->j, &f->b, f->err,
                                        sizeof(f->err)), 0);
    assert_false(f->j.need_rewrite);
    scan(f, &r);
    assert_false(hv_journal_damaged(&r));
    assert_int_equal(f->ngot, 2);
    assert_string_equal(f->got[1], "f");
    /* nothing of the failed commit is pending any more: appends continue
     * on the new file, which the journal knows the size of */
    hv_jbuf_reset(&f->b);
    rec(&f->b, "g");
    assert_int_equal(hv_journal_append(&f->j, &f->b, f->err,
                                       sizeof(f->err)), 0);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, f->j.size);
}

static void
test_open_missing_directory(void **st)
{
    struct fx *f = *st;
    struct hv_journal j;

    (void)f;
    hv_journal_init(&j, "/nonexistent-dir/j", NULL);
    assert_int_equal(hv_journal_open(&j, 0, 1, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "/nonexistent-dir/j"));
    hv_jbuf_reset(&f->b);
    assert_int_equal(hv_journal_rewrite(&j, &f->b, f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "/nonexistent-dir/j.tmp"));
    assert_int_equal(hv_journal_append(&j, &f->b, f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "not open"));
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_round_trip),
        T(test_torn_last_write),
        T(test_bad_crc_in_the_middle),
        T(test_nul_bytes),
        T(test_binary_junk),
        T(test_record_missing_from_commit),
        T(test_refused_record_counts_as_damage),
        T(test_not_a_journal),
        T(test_rewrite_compacts),
        T(test_write_failure_cuts_back),
        T(test_sync_failure_needs_rewrite),
        T(test_open_missing_directory),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
