/* cp_bench_drv.c - the control-plane benchmark's load generator: pipelines
 * N vnic-attach requests (with wait_ms) on hv-agent's control socket, or
 * with -D the N vnic-detach requests of the same VNICs, and prints
 * throughput and per-request latency as key=value figures. It stands for
 * many clients each with a request outstanding, and its CPU is counted in
 * the scale bench's figures: the requests that fit the window leave in one
 * write, answers are read in as large reads as the socket gives, and each
 * answer is parsed whole (json-c, one tokener) and checked by its id.
 * With -p US (and window 1) each request leaves US microseconds after the
 * previous answer: the daemons idle in between, as between a hook's
 * calls (bench/attach_latency.sh); with -S the requests are `status`
 * instead (answered from hv-agent's memory: the anchor of an attach). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

struct drv {
    const char *sock;
    const char *vn;
    const char *gate; /* -g: a FIFO opened before the first request */
    long n, window, offset;
    int wait_ms, timeout_ms, verbose, detach;
    long pause_us; /* -p: idle time before each request after the first */
    int status;    /* -S: status requests, not attaches */
    uint64_t *sent_ns; /* per request index */
    double *lat_ms;
    uint64_t *done_ns; /* answer k (in arrival order) came then */
    uint64_t now_ns;   /* when the answers being read came */
    long nlat, ok, failed;
    char vn_json[400];   /* the VN as a JSON string (64 characters, escaped) */
    unsigned char *out;  /* framed requests not written yet */
    size_t outlen, outcap;
    unsigned char *in;   /* answers read, in[0..inlen) */
    size_t inlen, incap;
    struct json_tokener *tok;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* VNIC i: a UUID, a locally administered MAC and an IPv4 address, all
 * unique for i < 2^24 and reproducible (the script can detach them). Its
 * request, framed, is appended to d->out: formatted in place rather than
 * built of json-c objects, since the driver's CPU is counted in the
 * figures (the same members as a json-c request; the VN, the one string
 * from outside, was escaped once by json-c, d->vn_json). */
static int
vnic_req(struct drv *d, long i)
{
    long k = i + d->offset;
    unsigned char *p;
    int len;

    if (d->outlen + 4 + 1024 > d->outcap) {
        size_t cap = d->outcap ? d->outcap * 2 : 65536;
        unsigned char *o = realloc(d->out, cap);
        if (o == NULL)
            return -1;
        d->out = o;
        d->outcap = cap;
    }
    p = d->out + d->outlen + 4;
    if (d->status)
        len = snprintf((char *)p, 1024,
                       "{\"id\":%ld,\"cmd\":\"status\",\"args\":{}}", i);
    else if (d->detach)
        len = snprintf((char *)p, 1024,
                       "{\"id\":%ld,\"cmd\":\"vnic-detach\",\"args\":{"
                       "\"vnic\":\"00000000-0000-4000-8000-%012lx\","
                       "\"wait_ms\":%d}}",
                       i, k, d->wait_ms);
    else
        len = snprintf((char *)p, 1024,
                       "{\"id\":%ld,\"cmd\":\"vnic-attach\",\"args\":{"
                       "\"vnic\":\"00000000-0000-4000-8000-%012lx\","
                       "\"wait_ms\":%d,\"vn\":%s,"
                       "\"mac\":\"52:54:%02lx:%02lx:%02lx:%02lx\","
                       "\"ips\":[\"10.%ld.%ld.%ld\"]}}",
                       i, k, d->wait_ms, d->vn_json, (k >> 24) & 255,
                       (k >> 16) & 255, (k >> 8) & 255, k & 255,
                       (k >> 16) & 255, (k >> 8) & 255, k & 255);
    if (len < 0 || len >= 1024)
        return -1;
    ctl_frame_hdr(d->out + d->outlen, (size_t)len);
    d->outlen += 4 + (size_t)len;
    return 0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
pct(const double *v, long n, double p)
{
    long i;

    if (n == 0)
        return 0;
    i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i];
}

/* One answer: match by id, record its latency. */
static int
take_answer(struct drv *d, struct json_object *m)
{
    struct json_object *id, *ok;
    long i;

    if (!json_object_object_get_ex(m, "id", &id) ||
        !json_object_object_get_ex(m, "ok", &ok))
        return -1;
    i = (long)json_object_get_int64(id);
    if (i < 0 || i >= d->n || d->sent_ns[i] == 0)
        return -1;
    d->done_ns[d->nlat] = d->now_ns;
    d->lat_ms[d->nlat] = (double)(d->done_ns[d->nlat] - d->sent_ns[i]) / 1e6;
    d->nlat++;
    d->sent_ns[i] = 0;
    if (json_object_get_boolean(ok)) {
        d->ok++;
    } else {
        struct json_object *e;
        d->failed++;
        if (d->verbose || d->failed <= 3)
            fprintf(stderr, "cp_bench_drv: request %ld failed: %s\n", i,
                    json_object_object_get_ex(m, "error", &e)
                        ? json_object_get_string(e)
                        : "?");
    }
    return 0;
}

/* Writes all of buf, waiting for room at most timeout_ms at a time. */
static int
write_all(int fd, const unsigned char *buf, size_t len, int timeout_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, timeout_ms) == 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            continue;
        }
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Parses the n bytes of one answer frame (exactly one JSON document) and
 * takes it if it answers one of ours. -1 if it is not JSON. */
static int
parse_answer(struct drv *d, const char *buf, size_t n)
{
    struct json_object *m;
    size_t end;
    int rc;

    json_tokener_reset(d->tok);
    m = json_tokener_parse_ex(d->tok, buf, (int)n);
    if (m == NULL || json_tokener_get_error(d->tok) != json_tokener_success) {
        json_object_put(m);
        return -1;
    }
    for (end = json_tokener_get_parse_end(d->tok); end < n; end++)
        if (buf[end] != ' ' && buf[end] != '\n')
            break;
    rc = end == n ? 0 : -1;
    if (rc == 0)
        (void)take_answer(d, m); /* not ours (no id of ours): skipped */
    json_object_put(m);
    return rc;
}

/* Waits for answers, reads what the socket has and takes every complete
 * one. The number of requests answered, or -1 (errno). */
static long
read_answers(struct drv *d, int fd)
{
    size_t off = 0, len;
    long before = d->nlat;
    ssize_t n;

    if (d->incap - d->inlen < 65536) {
        size_t cap = d->incap ? d->incap * 2 : 262144;
        unsigned char *p = realloc(d->in, cap);
        if (p == NULL)
            return -1;
        d->in = p;
        d->incap = cap;
    }
    for (;;) {
        n = recv(fd, d->in + d->inlen, d->incap - d->inlen, MSG_DONTWAIT);
        if (n > 0)
            break;
        if (n == 0) {
            errno = ECONNRESET; /* the daemon went away */
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, d->timeout_ms);
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (r < 0 && errno != EINTR)
            return -1;
    }
    d->inlen += (size_t)n;
    d->now_ns = now_ns();
    while (d->inlen - off >= 4) {
        if (ctl_frame_len(d->in + off, CTL_RESP_MAX, &len) < 0) {
            errno = EMSGSIZE;
            return -1;
        }
        if (d->inlen - off - 4 < len) {
            if (4 + len > d->incap) { /* one answer larger than the buffer */
                unsigned char *p = realloc(d->in, 4 + len + 65536);
                if (p == NULL)
                    return -1;
                d->in = p;
                d->incap = 4 + len + 65536;
            }
            break;
        }
        if (parse_answer(d, (const char *)d->in + off + 4, len) < 0) {
            errno = EPROTO;
            return -1;
        }
        off += 4 + len;
    }
    memmove(d->in, d->in + off, d->inlen - off);
    d->inlen -= off;
    return d->nlat - before;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: cp_bench_drv -s SOCKET -n N [-v VN] [-w WINDOW] "
            "[-W WAIT_MS] [-o OFFSET] [-t TIMEOUT_MS] [-g FIFO] [-p US] "
            "[-D | -S]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    struct drv d = {.vn = "vni:100", .n = 1000, .window = 512,
                    .wait_ms = 60000, .timeout_ms = 120000};
    long next = 0, inflight = 0;
    uint64_t t0, t1;
    struct rusage ru;
    int c, fd;

    while ((c = getopt(argc, argv, "s:n:v:w:W:o:t:g:p:VDS")) != -1) {
        switch (c) {
        case 's': d.sock = optarg; break;
        case 'n': d.n = atol(optarg); break;
        case 'v': d.vn = optarg; break;
        case 'w': d.window = atol(optarg); break;
        case 'W': d.wait_ms = atoi(optarg); break;
        case 'o': d.offset = atol(optarg); break;
        case 't': d.timeout_ms = atoi(optarg); break;
        case 'g': d.gate = optarg; break;
        case 'p': d.pause_us = atol(optarg); break;
        case 'V': d.verbose = 1; break;
        case 'D': d.detach = 1; break;
        case 'S': d.status = 1; break;
        default: usage();
        }
    }
    if (d.sock == NULL || d.n <= 0 || d.window <= 0 || d.pause_us < 0 ||
        (d.pause_us > 0 && d.window != 1))
        usage();
    d.sent_ns = calloc((size_t)d.n, sizeof(*d.sent_ns));
    d.lat_ms = calloc((size_t)d.n, sizeof(*d.lat_ms));
    d.done_ns = calloc((size_t)d.n, sizeof(*d.done_ns));
    if (d.sent_ns == NULL || d.lat_ms == NULL || d.done_ns == NULL) {
        fprintf(stderr, "cp_bench_drv: out of memory\n");
        return 1;
    }
    if (strlen(d.vn) > 64) {
        fprintf(stderr, "cp_bench_drv: -v: VN name too long\n");
        return 2;
    }
    {
        struct json_object *v = json_object_new_string(d.vn);
        snprintf(d.vn_json, sizeof(d.vn_json), "%s",
                 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        json_object_put(v);
    }
    if ((d.tok = json_tokener_new_ex(32)) == NULL) {
        fprintf(stderr, "cp_bench_drv: out of memory\n");
        return 1;
    }
    if ((fd = ctl_client_connect(d.sock)) < 0) {
        fprintf(stderr, "cp_bench_drv: %s: %s\n", d.sock, strerror(errno));
        return 3;
    }
    /* connected: wait at the gate (its open returns when the script opens
     * the FIFO for writing), so that many drivers start together */
    if (d.gate != NULL) {
        int g = open(d.gate, O_RDONLY);
        if (g < 0) {
            fprintf(stderr, "cp_bench_drv: %s: %s\n", d.gate, strerror(errno));
            return 3;
        }
        close(g);
    }
    t0 = now_ns();
    while (d.nlat < d.n) {
        /* Keep the pipe full: the agent batches what is waiting. */
        if (next < d.n && inflight < d.window) {
            if (d.pause_us > 0 && next > 0) {
                struct timespec p = {d.pause_us / 1000000,
                                     d.pause_us % 1000000 * 1000};
                while (nanosleep(&p, &p) == -1 && errno == EINTR)
                    ;
            }
            uint64_t t = now_ns();
            while (next < d.n && inflight < d.window) {
                if (vnic_req(&d, next) < 0) {
                    fprintf(stderr, "cp_bench_drv: out of memory\n");
                    return 1;
                }
                d.sent_ns[next] = t;
                next++;
                inflight++;
            }
            if (write_all(fd, d.out, d.outlen, d.timeout_ms) < 0) {
                fprintf(stderr, "cp_bench_drv: send: %s\n", strerror(errno));
                return 1;
            }
            d.outlen = 0;
        }
        long got = read_answers(&d, fd);
        if (got < 0) {
            fprintf(stderr, "cp_bench_drv: %ld of %ld answered: %s\n", d.nlat,
                    d.n, strerror(errno));
            return 4;
        }
        inflight -= got;
    }
    t1 = now_ns();
    close(fd);
    qsort(d.lat_ms, (size_t)d.nlat, sizeof(double), cmp_double);
    double secs = (double)(t1 - t0) / 1e9;
    printf("n=%ld ok=%ld failed=%ld window=%ld elapsed_ms=%.1f "
           "attaches_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f",
           d.n, d.ok, d.failed, d.window, secs * 1e3,
           (double)d.ok / secs, pct(d.lat_ms, d.nlat, 50),
           pct(d.lat_ms, d.nlat, 99), d.lat_ms[d.nlat - 1]);
    /* the driver's own CPU (user + system): it shares the machine with
     * the daemons it measures, so the scale bench counts it apart */
    getrusage(RUSAGE_SELF, &ru);
    printf(" cpu_ms=%.1f",
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
    /* when 10/50/90/100 % were answered (CLOCK_MONOTONIC ms): the EVPN
     * bench's timeline lines them up with FRR's */
    printf(" answered_mono_ms=%.3f,%.3f,%.3f,%.3f\n",
           (double)d.done_ns[(d.nlat - 1) / 10] / 1e6,
           (double)d.done_ns[(d.nlat - 1) / 2] / 1e6,
           (double)d.done_ns[(d.nlat - 1) * 9 / 10] / 1e6,
           (double)d.done_ns[d.nlat - 1] / 1e6);
    json_tokener_free(d.tok);
    free(d.in);
    free(d.out);
    free(d.done_ns);
    free(d.sent_ns);
    free(d.lat_ms);
    return d.failed ? 1 : 0;
}
