/* hv_journal.h - an append-only journal of records, one JSON object per
 * line carrying the CRC-32 of its own text, grouped into commits written
 * with one write() and one fdatasync(). Knows nothing of VNICs: hv_state.c
 * gives it records and gets them back.
 *
 * A record line:  {...the record's fields...,"crc":"1a2b3c4d"}\n
 * The CRC (zlib's crc32) covers every byte before ,"crc". Every file starts
 * with a header line, and a commit ends with a commit line
 *     {"journal":"hv-agent","version":1,"crc":"..."}
 *     {"commit":SEQ,"records":N,"crc":"..."}
 * A reader loads every record whose CRC is right; what follows the last
 * commit line (a write cut short by a crash, or a truncated file) and any
 * line that is not right is reported, for the caller to act on. */
#ifndef HV_JOURNAL_H
#define HV_JOURNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HV_JOURNAL_VERSION 1

/* ---- building records ---------------------------------------------- */
struct hv_jbuf {
    char *p;
    size_t len, cap;
    unsigned nrec; /* records closed with hv_jbuf_end */
    int oom;       /* an allocation failed: the buffer is unusable */
};

void hv_jbuf_reset(struct hv_jbuf *b);
void hv_jbuf_free(struct hv_jbuf *b);
/* Appends to the record being built. */
void hv_jbuf_printf(struct hv_jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string (quotes, escapes): names and reasons may hold anything. */
void hv_jbuf_putstr(struct hv_jbuf *b, const char *s);
/* A record is opened by writing "{" and its fields, without the closing
 * brace; hv_jbuf_end(b, start) closes it with its CRC and a newline, start
 * being b->len before the "{". Returns the record's length in bytes. */
size_t hv_jbuf_end(struct hv_jbuf *b, size_t start);

/* ---- reading ---------------------------------------------------------- */
/* Called for each valid record of a committed group, in order (line is
 * the whole JSON object, len bytes, not NUL-terminated). Returns 0, or -1
 * with why set when the record is valid JSON but not acceptable: it is
 * then counted as damaged. */
typedef int (*hv_journal_rec_fn)(void *arg, const char *line, size_t len,
                                 char *why, size_t whylen);

struct hv_journal_scan {
    uint64_t records;     /* handed to fn and accepted */
    uint64_t uncommitted; /* of those, after the last commit line */
    uint64_t commits;
    uint64_t damaged;     /* lines that failed their CRC or were refused,
                           * records a commit counts but that are missing */
    uint64_t tail_bytes;  /* after the last commit line */
    uint64_t good_end;    /* offset just after the last commit line */
    uint64_t next_seq;    /* for the next commit line */
    int header_ok;        /* the file starts with our header */
    unsigned long first_bad_line; /* 1-based, 0 = none */
    char first_bad[160];  /* what was wrong with it */
};

/* Scans buf (a whole journal), handing every valid record to fn in
 * order: pure, no I/O. */
void hv_journal_scan(const char *buf, size_t len, hv_journal_rec_fn fn,
                     void *arg, struct hv_journal_scan *res);
/* Whether the scan found anything but a clean journal. */
int hv_journal_damaged(const struct hv_journal_scan *res);

/* ---- writing ------------------------------------------------------------ */
/* The system calls, replaceable by tests to inject failures. */
struct hv_journal_io {
    ssize_t (*write)(int fd, const void *buf, size_t len);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
};
extern const struct hv_journal_io hv_journal_sysio;

struct hv_journal_stats {
    uint64_t commits;      /* appended and synced */
    uint64_t records;      /* in those commits */
    uint64_t bytes;        /* appended */
    uint64_t rewrites;     /* the file replaced by a full rewrite */
    uint64_t write_errors; /* write() failed (ENOSPC, EIO): cut back */
    uint64_t sync_errors;  /* fdatasync()/fsync() failed */
};

struct hv_journal {
    char path[PATH_MAX];
    int fd;             /* open for appending, -1 when closed */
    uint64_t size;      /* length of the committed journal */
    uint64_t seq;       /* of the next commit */
    /* A sync failed, or a failed write could not be cut back: what is on
     * disk past size is unknown, so the next commit rewrites the file. */
    int need_rewrite;
    /* Written by hv_journal_write, not yet synced: bytes and records. */
    uint64_t pending;
    unsigned pending_nrec;
    const struct hv_journal_io *io;
    struct hv_journal_stats st;
};

void hv_journal_init(struct hv_journal *j, const char *path,
                     const struct hv_journal_io *io);
/* Opens path for appending after its committed length (anything after it
 * is cut off). 0, or -1 with err. */
int hv_journal_open(struct hv_journal *j, uint64_t size, uint64_t seq,
                    char *err, size_t errlen);
void hv_journal_close(struct hv_journal *j);
/* Appends b's records and a commit line: one write, one fdatasync. On
 * failure the file is cut back to its committed length (or marked for a
 * rewrite when that is not possible), err says why and errno is kept.
 * b gets the commit line (reset it before reuse). 0 / -1. */
int hv_journal_append(struct hv_journal *j, struct hv_jbuf *b, char *err,
                      size_t errlen);
/* hv_journal_append in two halves, so that the caller can work while the
 * disk syncs: write() puts b's records and the commit line at the end of
 * the file (cut back on failure, as append), sync() makes them durable (on
 * failure the file must be rewritten, as append). Nothing else may be
 * written in between. 0 / -1 (err, errno). */
int hv_journal_write(struct hv_journal *j, struct hv_jbuf *b, char *err,
                     size_t errlen);
int hv_journal_sync(struct hv_journal *j, char *err, size_t errlen);
/* Replaces the journal by a header, b's records and a commit line:
 * written to path.tmp, fsynced, renamed over path, directory fsynced. The
 * old file stays in place if anything fails. 0 / -1 (err, errno). */
int hv_journal_rewrite(struct hv_journal *j, struct hv_jbuf *b, char *err,
                       size_t errlen);

#endif
