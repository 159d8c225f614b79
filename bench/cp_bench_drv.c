/* cp_bench_drv.c - the control-plane benchmark's load generator: pipelines
 * N vnic-attach requests (with wait_ms) on hv-agent's control socket, or
 * with -D the N vnic-detach requests of the same VNICs, and prints
 * throughput and per-request latency as key=value figures. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

struct drv {
    const char *sock;
    const char *vn;
    long n, window, offset;
    int wait_ms, timeout_ms, verbose, detach;
    uint64_t *sent_ns; /* per request index */
    double *lat_ms;
    uint64_t *done_ns; /* answer k (in arrival order) came then */
    long nlat, ok, failed;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* VNIC i: a UUID, a locally administered MAC and an IPv4 address, all
 * unique for i < 2^24 and reproducible (the script can detach them). */
static struct json_object *
vnic_req(const struct drv *d, long i)
{
    struct json_object *r = json_object_new_object(),
                       *a = json_object_new_object(),
                       *ips = json_object_new_array();
    long k = i + d->offset;
    char uuid[40], mac[20], ip[20];

    snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012lx", k);
    snprintf(mac, sizeof(mac), "52:54:%02lx:%02lx:%02lx:%02lx",
             (k >> 24) & 255, (k >> 16) & 255, (k >> 8) & 255, k & 255);
    snprintf(ip, sizeof(ip), "10.%ld.%ld.%ld", (k >> 16) & 255,
             (k >> 8) & 255, k & 255);
    json_object_object_add(a, "vnic", json_object_new_string(uuid));
    json_object_object_add(a, "wait_ms", json_object_new_int(d->wait_ms));
    json_object_object_add(r, "id", json_object_new_int64(i));
    if (d->detach) {
        json_object_put(ips);
        json_object_object_add(r, "cmd", json_object_new_string("vnic-detach"));
        json_object_object_add(r, "args", a);
        return r;
    }
    json_object_array_add(ips, json_object_new_string(ip));
    json_object_object_add(a, "vn", json_object_new_string(d->vn));
    json_object_object_add(a, "mac", json_object_new_string(mac));
    json_object_object_add(a, "ips", ips);
    json_object_object_add(r, "cmd", json_object_new_string("vnic-attach"));
    json_object_object_add(r, "args", a);
    return r;
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
    d->done_ns[d->nlat] = now_ns();
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

static void
usage(void)
{
    fprintf(stderr,
            "usage: cp_bench_drv -s SOCKET -n N [-v VN] [-w WINDOW] "
            "[-W WAIT_MS] [-o OFFSET] [-t TIMEOUT_MS] [-D]\n");
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

    while ((c = getopt(argc, argv, "s:n:v:w:W:o:t:VD")) != -1) {
        switch (c) {
        case 's': d.sock = optarg; break;
        case 'n': d.n = atol(optarg); break;
        case 'v': d.vn = optarg; break;
        case 'w': d.window = atol(optarg); break;
        case 'W': d.wait_ms = atoi(optarg); break;
        case 'o': d.offset = atol(optarg); break;
        case 't': d.timeout_ms = atoi(optarg); break;
        case 'V': d.verbose = 1; break;
        case 'D': d.detach = 1; break;
        default: usage();
        }
    }
    if (d.sock == NULL || d.n <= 0 || d.window <= 0)
        usage();
    d.sent_ns = calloc((size_t)d.n, sizeof(*d.sent_ns));
    d.lat_ms = calloc((size_t)d.n, sizeof(*d.lat_ms));
    d.done_ns = calloc((size_t)d.n, sizeof(*d.done_ns));
    if (d.sent_ns == NULL || d.lat_ms == NULL || d.done_ns == NULL) {
        fprintf(stderr, "cp_bench_drv: out of memory\n");
        return 1;
    }
    if ((fd = ctl_client_connect(d.sock)) < 0) {
        fprintf(stderr, "cp_bench_drv: %s: %s\n", d.sock, strerror(errno));
        return 3;
    }
    t0 = now_ns();
    while (d.nlat < d.n) {
        /* Keep the pipe full: the agent batches what is waiting. */
        while (next < d.n && inflight < d.window) {
            struct json_object *r = vnic_req(&d, next);
            d.sent_ns[next] = now_ns();
            if (ctl_client_send(fd, r) < 0) {
                fprintf(stderr, "cp_bench_drv: send: %s\n", strerror(errno));
                return 1;
            }
            json_object_put(r);
            next++;
            inflight++;
        }
        struct json_object *m;
        if (ctl_client_recv(fd, &m, d.timeout_ms) < 0) {
            fprintf(stderr, "cp_bench_drv: %ld of %ld answered: %s\n", d.nlat,
                    d.n, strerror(errno));
            return 4;
        }
        if (take_answer(&d, m) == 0)
            inflight--;
        json_object_put(m);
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
    free(d.done_ns);
    free(d.sent_ns);
    free(d.lat_ms);
    return d.failed ? 1 : 0;
}
