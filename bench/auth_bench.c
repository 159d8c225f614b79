/* auth_bench.c - the per-frame cost of NVDP authentication (spec 14): a
 * frame opened by the session's opener unsigned with auth off (today's
 * path: the anchor), signed and checked with auth required (HMAC, replay
 * window), and signed by the writer's flush; for a small frame (one HELLO)
 * and a full one (a batch of ASSOCs near 1500 bytes). Prints figures, never
 * pass/fail. Usage: bench/auth_bench [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvdp_auth.h"
#include "nvdp_session.h"

#define NFRAMES 256

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0x01, 0x01};
static const uint8_t NVE_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

struct frames {
    uint8_t buf[NFRAMES][1500];
    size_t len[NFRAMES];
    int n;
};

static int
keep(void *arg, unsigned link, const uint8_t dst[6], const uint8_t *buf,
     size_t len)
{
    struct frames *f = arg;

    (void)link, (void)dst;
    if (f->n < NFRAMES) {
        memcpy(f->buf[f->n], buf, len);
        f->len[f->n++] = len;
    }
    return 0;
}

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* NFRAMES frames of nmsg messages each, signed with key (NULL: not). */
static void
make(struct frames *f, const struct nvdp_key *key, int assocs)
{
    static struct nvdp_out o;
    static struct nvdp_msg m;
    struct nvdp_endpoint ep;
    struct nvdp_cnt cnt = {{NULL}};

    f->n = 0;
    nvdp_endpoint_init(&ep, NVDP_ROLE_HV, 0x11223344u, keep, f);
    nvdp_endpoint_hello(&ep, 10, 1000, 256, "hv1");
    nvdp_endpoint_auth_counter(&ep, 1000);
    for (int i = 0; i < NFRAMES; i++) {
        nvdp_out_init(&o, &ep, NULL, &cnt, 0, NVE_MAC, 1500);
        if (key != NULL)
            nvdp_out_sign(&o, key, HV_MAC);
        if (!assocs) {
            nvdp_out_hello(&o);
        } else {
            for (uint32_t t = 1; t <= 25; t++) {
                nvdp_msg_init(&m, NVDP_MSG_ASSOC);
                m.txid = t;
                m.has_vnic = 1;
                m.vnic.b[15] = (uint8_t)t;
                m.vn.kind = NVDP_VN_VNI;
                m.vn.vni = 100;
                m.naddr = 1;
                memset(&m.addr[0], 0, sizeof(m.addr[0]));
                m.addr[0].kind = NVDP_ADDR_HOST;
                m.addr[0].family = 4;
                m.addr[0].mac[0] = 0x52;
                m.addr[0].mac[5] = (uint8_t)t;
                m.addr[0].ip[0] = 10;
                m.addr[0].ip[3] = (uint8_t)t;
                if (nvdp_out_add(&o, &m) < 0)
                    abort();
            }
        }
        nvdp_out_flush(&o);
    }
}

/* ns per frame to open (and read) every frame of f, rounds times. */
static double
bench_open(const struct frames *f, const struct nvdp_keyring *kr, int policy,
           int rounds)
{
    static struct nvdp_msg m;
    struct nvdp_endpoint ep;
    struct nvdp_counters c;
    struct nvdp_cnt cnt = {{&c}};
    struct nvdp_replay rp;
    struct nvdp_in in;
    double t0;
    long ok = 0;

    nvdp_endpoint_init(&ep, NVDP_ROLE_NVE, 0x55667788u, keep, NULL);
    t0 = now_ns();
    for (int r = 0; r < rounds; r++) {
        memset(&rp, 0, sizeof(rp)); /* the counters are new again */
        for (int i = 0; i < f->n; i++) {
            nvdp_in_init(&in, &ep, &cnt, HV_MAC, "p0");
            if (policy != NVDP_AUTH_OFF)
                nvdp_in_auth(&in, NVE_MAC, kr, policy, &rp);
            if (nvdp_in_open(&in, f->buf[i], f->len[i]) < 0)
                continue;
            if (in.authed)
                nvdp_replay_accept(&rp, in.ctr, in.rd.hdr.epoch);
            while (nvdp_in_next(&in, &m) != NVDP_IN_END)
                ;
            ok++;
        }
    }
    if (ok != (long)rounds * f->n)
        fprintf(stderr, "auth_bench: %ld of %ld frames opened\n", ok,
                (long)rounds * f->n);
    return (now_ns() - t0) / ((double)rounds * f->n);
}

/* ns per frame to build and sign f's frames (make() again). */
static double
bench_sign(struct frames *f, const struct nvdp_key *key, int assocs, int rounds)
{
    double t0 = now_ns();

    for (int r = 0; r < rounds; r++)
        make(f, key, assocs);
    return (now_ns() - t0) / ((double)rounds * f->n);
}

int
main(int argc, char **argv)
{
    static struct frames plain, signed_f;
    struct nvdp_keyring kr;
    char err[128];
    int rounds = argc > 1 ? atoi(argv[1]) : 200;

    log_init("auth_bench", 1, 0);
    if (nvdp_keyring_parse(&kr,
                           "1 000102030405060708090a0b0c0d0e0f"
                           "101112131415161718191a1b1c1d1e1f\n",
                           err, sizeof(err)) < 0)
        return 1;
    printf("%-34s %10s %10s %10s %8s\n", "frame (bytes unsigned/signed)",
           "open off", "open req", "overhead", "ratio");
    for (int assocs = 0; assocs <= 1; assocs++) {
        make(&plain, NULL, assocs);
        make(&signed_f, &kr.key[0], assocs);
        /* warm up, then alternate so drift hits both alike */
        bench_open(&plain, NULL, NVDP_AUTH_OFF, rounds / 10 + 1);
        double off = 0, req = 0;
        for (int k = 0; k < 3; k++) {
            off += bench_open(&plain, NULL, NVDP_AUTH_OFF, rounds);
            req += bench_open(&signed_f, &kr, NVDP_AUTH_REQUIRED, rounds);
        }
        off /= 3, req /= 3;
        char what[64];
        snprintf(what, sizeof(what), "%s (%zu/%zu)",
                 assocs ? "25 ASSOCs" : "HELLO", plain.len[0], signed_f.len[0]);
        printf("%-34s %8.0f ns %8.0f ns %8.0f ns %7.1fx\n", what, off, req,
               req - off, req / off);
        double s0 = bench_sign(&plain, NULL, assocs, rounds / 4 + 1);
        double s1 = bench_sign(&signed_f, &kr.key[0], assocs, rounds / 4 + 1);
        printf("%-34s %8.0f ns %8.0f ns %8.0f ns %7.1fx   (build + flush)\n",
               "  sending it", s0, s1, s1 - s0, s1 / s0);
    }
    nvdp_keyring_free(&kr);
    return 0;
}
