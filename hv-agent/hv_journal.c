/* hv_journal.c - hv-agent's append-only journal (hv_journal.h): record
 * lines with their CRC-32, group commits, full rewrites. File I/O only. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "hv_journal.h"

#define CRC_KEY ",\"crc\":\""
#define CRC_KEY_LEN 8
#define CRC_SUFFIX_LEN (CRC_KEY_LEN + 8 + 2) /* ,"crc":"xxxxxxxx"} */
#define HEADER_KEY "{\"journal\":"
#define COMMIT_KEY "{\"commit\":"

/* ---- building records ---------------------------------------------- */

void
hv_jbuf_reset(struct hv_jbuf *b)
{
    b->len = 0;
    b->nrec = 0;
    b->oom = 0;
}

void
hv_jbuf_free(struct hv_jbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static int
jbuf_room(struct hv_jbuf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->oom)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    for (cap = b->cap ? b->cap : 4096; cap < b->len + n + 1; cap *= 2)
        ;
    if ((p = realloc(b->p, cap)) == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void
hv_jbuf_printf(struct hv_jbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    /* one pass when it fits (it nearly always does), two otherwise */
    if (jbuf_room(b, 128) < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        if (jbuf_room(b, (size_t)n) < 0)
            return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void
hv_jbuf_putstr(struct hv_jbuf *b, const char *s)
{
    hv_jbuf_printf(b, "\"");
    while (*s) {
        size_t plain = strcspn(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09"
                                  "\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
                                  "\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d"
                                  "\x1e\x1f");
        unsigned char c = (unsigned char)s[plain];

        if (plain > 0)
            hv_jbuf_printf(b, "%.*s", (int)plain, s);
        s += plain;
        if (c == '\0')
            break;
        if (c == '"' || c == '\\')
            hv_jbuf_printf(b, "\\%c", c);
        else
            hv_jbuf_printf(b, "\\u%04x", c);
        s++;
    }
    hv_jbuf_printf(b, "\"");
}

static uint32_t
crc_of(const char *p, size_t n)
{
    return (uint32_t)crc32(0L, (const Bytef *)p, (uInt)n);
}

size_t
hv_jbuf_end(struct hv_jbuf *b, size_t start)
{
    uint32_t crc;

    if (b->oom || start > b->len)
        return 0;
    crc = crc_of(b->p + start, b->len - start);
    hv_jbuf_printf(b, CRC_KEY "%08x\"}\n", crc);
    b->nrec++;
    return b->len - start;
}

/* ---- reading ---------------------------------------------------------- */

/* Whether line (without its newline) ends with the CRC of what precedes. */
static int
line_valid(const char *l, size_t n)
{
    const char *s;
    char hex[9];

    if (n < 1 + CRC_SUFFIX_LEN || l[0] != '{')
        return 0;
    s = l + n - CRC_SUFFIX_LEN;
    if (memcmp(s, CRC_KEY, CRC_KEY_LEN) != 0 ||
        memcmp(s + CRC_KEY_LEN + 8, "\"}", 2) != 0)
        return 0;
    memcpy(hex, s + CRC_KEY_LEN, 8);
    hex[8] = '\0';
    if (strspn(hex, "0123456789abcdef") != 8)
        return 0;
    return crc_of(l, n - CRC_SUFFIX_LEN) == (uint32_t)strtoul(hex, NULL, 16);
}

static int
starts(const char *l, size_t n, const char *key)
{
    size_t k = strlen(key);

    return n >= k && memcmp(l, key, k) == 0;
}

/* The commit line's sequence number and record count (a valid line: we
 * wrote it, so its shape is known). */
static int
commit_parse(const char *l, size_t n, unsigned long long *seq, unsigned *nrec)
{
    char tmp[96];

    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, l, n);
    tmp[n] = '\0';
    return sscanf(tmp, "{\"commit\":%llu,\"records\":%u", seq, nrec) == 2 ? 0
                                                                         : -1;
}

static void
note_bad(struct hv_journal_scan *r, unsigned long line, const char *why)
{
    r->damaged++;
    if (r->first_bad_line == 0) {
        r->first_bad_line = line;
        snprintf(r->first_bad, sizeof(r->first_bad), "%s", why);
    }
}

void
hv_journal_scan(const char *buf, size_t len, hv_journal_rec_fn fn,
                void *arg, struct hv_journal_scan *r)
{
    unsigned long long seq;
    unsigned long ln = 0;
    size_t group_seen = 0;
    unsigned nrec;
    char why[128];

    memset(r, 0, sizeof(*r));
    r->next_seq = 1;
    for (size_t off = 0; off < len;) {
        const char *l = buf + off, *nl = memchr(l, '\n', len - off);
        size_t n;

        if (nl == NULL)
            break; /* a last line cut short: part of the tail */
        n = (size_t)(nl - l);
        off += n + 1;
        ln++;
        if (!line_valid(l, n)) {
            group_seen++;
            note_bad(r, ln, "bad CRC or not a journal line");
        } else if (starts(l, n, HEADER_KEY)) {
            char want[64];
            snprintf(want, sizeof(want), "%s\"hv-agent\",\"version\":%d,",
                     HEADER_KEY, HV_JOURNAL_VERSION);
            if (ln == 1 && starts(l, n, want))
                r->header_ok = 1;
            else
                note_bad(r, ln, "unexpected or unsupported journal header");
        } else if (starts(l, n, COMMIT_KEY) &&
                   commit_parse(l, n, &seq, &nrec) == 0) {
            if (group_seen < nrec) {
                snprintf(why, sizeof(why), "commit %llu counts %u records, "
                         "%zu found", seq, nrec, group_seen);
                note_bad(r, ln, why);
                r->damaged += nrec - group_seen - 1;
            }
            group_seen = 0;
            r->uncommitted = 0;
            r->commits++;
            r->good_end = off;
            r->next_seq = seq + 1;
        } else {
            /* records after the last commit load too: any of a group's
             * records is a whole VNIC, valid on its own */
            group_seen++;
            why[0] = '\0';
            if (fn(arg, l, n, why, sizeof(why)) == 0) {
                r->records++;
                r->uncommitted++;
            } else
                note_bad(r, ln, why[0] ? why : "record refused");
        }
    }
    r->tail_bytes = len - r->good_end;
    if (ln > 0 && !r->header_ok && r->first_bad_line == 0)
        note_bad(r, 1, "no journal header");
    if (r->tail_bytes > 0 && r->first_bad_line == 0) {
        snprintf(r->first_bad, sizeof(r->first_bad),
                 "%llu bytes after the last commit",
                 (unsigned long long)r->tail_bytes);
        r->first_bad_line = ln + 1;
    }
}

int
hv_journal_damaged(const struct hv_journal_scan *r)
{
    return r->damaged > 0 || r->tail_bytes > 0;
}

/* ---- writing ------------------------------------------------------------ */

const struct hv_journal_io hv_journal_sysio = {write, fdatasync, fsync};

void
hv_journal_init(struct hv_journal *j, const char *path,
                const struct hv_journal_io *io)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->path, sizeof(j->path), "%s", path);
    j->fd = -1;
    j->seq = 1;
    j->io = io != NULL ? io : &hv_journal_sysio;
}

static void
errf(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

int
hv_journal_open(struct hv_journal *j, uint64_t size, uint64_t seq, char *err,
                size_t errlen)
{
    int fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);

    if (fd == -1 || ftruncate(fd, (off_t)size) == -1) {
        int e = errno;
        errf(err, errlen, "open", j->path);
        if (fd != -1)
            close(fd);
        errno = e;
        return -1;
    }
    hv_journal_close(j);
    j->fd = fd;
    j->size = size;
    j->seq = seq;
    j->need_rewrite = 0;
    return 0;
}

void
hv_journal_close(struct hv_journal *j)
{
    if (j->fd != -1)
        close(j->fd);
    j->fd = -1;
}

static int
write_all(const struct hv_journal_io *io, int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = io->write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void
commit_line(struct hv_jbuf *b, uint64_t seq, unsigned nrec)
{
    size_t at = b->len;

    hv_jbuf_printf(b, "{\"commit\":%llu,\"records\":%u",
                   (unsigned long long)seq, nrec);
    hv_jbuf_end(b, at);
}

int
hv_journal_write(struct hv_journal *j, struct hv_jbuf *b, char *err,
                 size_t errlen)
{
    unsigned nrec = b->nrec;
    int e;

    if (j->fd == -1 || j->need_rewrite || j->pending != 0) {
        snprintf(err, errlen, "%s: %s", j->path,
                 j->fd == -1 ? "journal not open" :
                 j->need_rewrite ? "journal must be rewritten first" :
                                   "previous commit not synced");
        errno = EIO;
        return -1;
    }
    commit_line(b, j->seq, nrec);
    if (b->oom) {
        errno = ENOMEM;
        snprintf(err, errlen, "%s: out of memory", j->path);
        return -1;
    }
    if (write_all(j->io, j->fd, b->p, b->len) == -1) {
        e = errno;
        j->st.write_errors++;
        /* Cut the partial group off: the file ends with a commit again. */
        if (ftruncate(j->fd, (off_t)j->size) == -1)
            j->need_rewrite = 1;
        errno = e;
        errf(err, errlen, "write", j->path);
        return -1;
    }
    j->pending = b->len;
    j->pending_nrec = nrec;
    return 0;
}

int
hv_journal_sync(struct hv_journal *j, char *err, size_t errlen)
{
    int e;

    if (j->pending == 0)
        return 0;
    if (j->io->fdatasync(j->fd) == -1) {
        e = errno;
        /* After a failed sync the kernel may have dropped the pages: what
         * the file holds is unknown until it is rewritten. */
        j->st.sync_errors++;
        j->need_rewrite = 1;
        j->pending = 0;
        errno = e;
        errf(err, errlen, "fdatasync", j->path);
        return -1;
    }
    j->size += j->pending;
    j->seq++;
    j->st.commits++;
    j->st.records += j->pending_nrec;
    j->st.bytes += j->pending;
    j->pending = 0;
    return 0;
}

int
hv_journal_append(struct hv_journal *j, struct hv_jbuf *b, char *err,
                  size_t errlen)
{
    if (hv_journal_write(j, b, err, errlen) < 0)
        return -1;
    return hv_journal_sync(j, err, errlen);
}

static int
fsync_dir(const struct hv_journal_io *io, const char *path)
{
    char tmp[PATH_MAX];
    int fd, rc, e;

    snprintf(tmp, sizeof(tmp), "%s", path);
    if ((fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
        return -1;
    rc = io->fsync(fd);
    e = errno;
    close(fd);
    errno = e;
    return rc;
}

int
hv_journal_rewrite(struct hv_journal *j, struct hv_jbuf *b, char *err,
                   size_t errlen)
{
    struct hv_jbuf hc = {0};
    char tmp[PATH_MAX + 8];
    size_t at;
    int fd, e;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", j->path) >=
        sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", j->path);
        errno = ENAMETOOLONG;
        return -1;
    }
    at = hc.len;
    hv_jbuf_printf(&hc, "%s\"hv-agent\",\"version\":%d", HEADER_KEY,
                   HV_JOURNAL_VERSION);
    hv_jbuf_end(&hc, at);
    at = hc.len;
    commit_line(&hc, j->seq, b->nrec);
    if (hc.oom || b->oom) {
        hv_jbuf_free(&hc);
        errno = ENOMEM;
        snprintf(err, errlen, "%s: out of memory", j->path);
        return -1;
    }
    /* hc holds the header, then the commit line from offset hlen */
    size_t hlen = at;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
        -1) {
        e = errno;
        hv_jbuf_free(&hc);
        errno = e;
        errf(err, errlen, "open", tmp);
        return -1;
    }
    if (write_all(j->io, fd, hc.p, hlen) == -1 ||
        write_all(j->io, fd, b->p, b->len) == -1 ||
        write_all(j->io, fd, hc.p + hlen, hc.len - hlen) == -1) {
        e = errno;
        j->st.write_errors++;
        errno = e;
        errf(err, errlen, "write", tmp);
        goto fail;
    }
    if (j->io->fsync(fd) == -1) {
        e = errno;
        j->st.sync_errors++;
        errno = e;
        errf(err, errlen, "fsync", tmp);
        goto fail;
    }
    if (rename(tmp, j->path) == -1) {
        errf(err, errlen, "rename to", j->path);
        goto fail;
    }
    close(fd);
    hv_journal_close(j);
    if ((j->fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
        e = errno;
        j->need_rewrite = 1;
        errno = e;
        errf(err, errlen, "open", j->path);
        hv_jbuf_free(&hc);
        return -1;
    }
    j->size = hc.len + b->len;
    j->seq++;
    j->st.rewrites++;
    hv_jbuf_free(&hc);
    /* The rename is durable only with its directory. */
    if (fsync_dir(j->io, j->path) == -1) {
        e = errno;
        j->st.sync_errors++;
        j->need_rewrite = 1;
        errno = e;
        errf(err, errlen, "fsync of the directory of", j->path);
        return -1;
    }
    j->need_rewrite = 0;
    return 0;

fail:
    e = errno;
    close(fd);
    unlink(tmp);
    hv_jbuf_free(&hc);
    errno = e;
    return -1;
}
