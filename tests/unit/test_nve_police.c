/* test_nve_police.c - the NVDP socket filter (bpf/nvdp_police.bpf.c through
 * nve-agent/nve_police.c), run by BPF_PROG_TEST_RUN on the loopback device:
 * the classic filter's rules, a known peer's frames pass within its own
 * bucket while a flood from made-up MACs is held to the port's shared
 * one, a known peer's own flood is bounded, a demoted peer is held to the
 * demoted rate and restored to its own bucket, a port's listed
 * hypervisors are known before they speak, a forgotten peer is a
 * stranger again, the drops are counted. Needs root (BPF): skips without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nve.h"

#define ETYPE 0x88B5
#define RATE 100   /* a peer's requests per second: strangers' frames */
#define BURST 8    /* known peers: twice both */
#define DEMOTED 4  /* a demoted peer's frames per second, and burst */

static const uint8_t GROUP[6] = {0x03, 0x4e, 0x56, 0x44, 0x50, 0x00};
static const uint8_t US[6]; /* the loopback's address: PACKET_HOST */
static const uint8_t PEER[6] = {2, 0, 0, 0, 0, 0x0a};

struct env {
    struct nve_police *x;
    struct l2sock s;
};

static int
setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    e->x = nve_police_new();
    e->s.fd = -1;
    e->s.ifindex = 1; /* BPF_PROG_TEST_RUN's device: lo */
    e->s.ethertype = ETYPE;
    memcpy(e->s.group, GROUP, 6);
    if (e->x != NULL)
        assert_int_equal(nve_police_port(e->x, &e->s, RATE, BURST, DEMOTED, 0),
                         0);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;

    nve_police_free(e->x);
    free(e);
    return 0;
}

#define SKIP_WITHOUT_BPF(e) do { \
        if ((e)->x == NULL) { \
            print_message("no BPF here (needs root): skipped\n"); \
            skip(); \
        } \
    } while (0)

/* 1 if the filter passes a frame from src to dst with EtherType et. */
static int
pass(struct env *e, const uint8_t dst[6], const uint8_t src[6], uint16_t et)
{
    uint8_t f[60] = {0};
    DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
                        .data_size_in = sizeof(f), .repeat = 1);

    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = (uint8_t)(et >> 8);
    f[13] = (uint8_t)et;
    f[14] = 1; /* NVDP version */
    assert_int_equal(bpf_prog_test_run_opts(nve_police_prog_fd(e->x), &o), 0);
    return o.retval != 0;
}

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
stranger(uint8_t mac[6], unsigned i)
{
    mac[0] = 0x0a;
    mac[1] = 0x42;
    mac[2] = (uint8_t)(i >> 24);
    mac[3] = (uint8_t)(i >> 16);
    mac[4] = (uint8_t)(i >> 8);
    mac[5] = (uint8_t)i;
}

/* The classic filter's rules: our EtherType, to us or to our group. */
static void
test_rules(void **state)
{
    struct env *e = *state;
    static const uint8_t other_group[6] = {0x03, 0x4e, 0x56, 0x44, 0x50, 1};
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

    SKIP_WITHOUT_BPF(e);
    nve_police_peer(e->x, &e->s, PEER, NVE_PEER_KNOWN);
    assert_true(pass(e, US, PEER, ETYPE));
    assert_true(pass(e, GROUP, PEER, ETYPE));
    assert_false(pass(e, US, PEER, 0x0800));
    assert_false(pass(e, other_group, PEER, ETYPE));
    assert_false(pass(e, bcast, PEER, ETYPE));
    /* a port without an entry (its attach failed) passes nothing */
    nve_police_port_del(e->x, &e->s);
    assert_false(pass(e, US, PEER, ETYPE));
}

/* 5000 frames from 5000 made-up MACs: the shared bucket's burst and its
 * refill pass, the rest is dropped and counted; the known peer, during
 * the flood, gets its whole burst; then its own flood is bounded too, and
 * forgotten, it is a stranger (the strangers' bucket is empty). */
static void
test_flood(void **state)
{
    struct env *e = *state;
    uint8_t mac[6];
    unsigned passed = 0, n = 5000, mine = 0;
    struct nve_policed d = {0};
    double t0 = now_s(), el;

    SKIP_WITHOUT_BPF(e);
    nve_police_peer(e->x, &e->s, PEER, NVE_PEER_KNOWN);
    for (unsigned i = 0; i < n; i++) {
        stranger(mac, i);
        passed += (unsigned)pass(e, i & 1 ? US : GROUP, mac, ETYPE);
    }
    el = now_s() - t0;
    print_message("strangers: %u of %u passed in %.3f s\n", passed, n, el);
    assert_true(passed >= BURST);
    assert_true(passed <= BURST + (unsigned)(RATE * el) + 1);
    assert_int_equal(nve_police_dropped(e->x, &e->s, &d), 0);
    assert_int_equal(d.newsrc, n - passed);
    assert_int_equal(d.peer, 0);
    /* the known peer, strangers over their rate: its burst passes whole */
    for (unsigned i = 0; i < 2 * BURST; i++)
        assert_true(pass(e, US, PEER, ETYPE));
    /* its own flood: within twice the rate */
    t0 = now_s();
    for (unsigned i = 0; i < 1000; i++)
        mine += (unsigned)pass(e, US, PEER, ETYPE);
    el = now_s() - t0;
    assert_true(mine <= (unsigned)(2 * RATE * el) + 1);
    assert_int_equal(nve_police_dropped(e->x, &e->s, &d), 0);
    assert_int_equal(d.peer, 1000 - mine);
    /* forgotten: back among the strangers, whose bucket the flood emptied */
    nve_police_peer(e->x, &e->s, PEER, NVE_PEER_GONE);
    unsigned back = 0;
    for (unsigned i = 0; i < 100; i++)
        back += (unsigned)pass(e, US, PEER, ETYPE);
    assert_true(back < 2 * BURST);
}

/* A port's listed hypervisors are known before the engine hears them
 * (spec 15): during a strangers' flood that emptied the shared bucket, a
 * listed MAC never seen gets its whole burst; an unlisted one does not. */
static void
test_listed(void **state)
{
    struct env *e = *state;
    static const uint8_t list[2][6] = {{2, 0, 0, 0, 0, 0x0b},
                                       {2, 0, 0, 0, 0, 0x0c}};
    uint8_t mac[6];
    unsigned other = 0;

    SKIP_WITHOUT_BPF(e);
    nve_police_listed(e->x, &e->s, list, 2);
    for (unsigned i = 0; i < 5000; i++) {
        stranger(mac, i);
        (void)pass(e, US, mac, ETYPE);
    }
    for (unsigned k = 0; k < 2; k++)
        for (unsigned i = 0; i < 2 * BURST; i++)
            assert_true(pass(e, US, list[k], ETYPE));
    for (unsigned i = 0; i < 100; i++)
        other += (unsigned)pass(e, US, PEER, ETYPE); /* not listed */
    assert_true(other < 2 * BURST);
}

/* A demoted peer (spec 15): its frames within the demoted rate, its drops
 * counted apart; restored, its own bucket again, full; a demoted peer
 * beside it does not hold back a known one. */
static void
test_demoted(void **state)
{
    struct env *e = *state;
    static const uint8_t other[6] = {2, 0, 0, 0, 0, 0x0b};
    struct nve_policed d = {0};
    unsigned passed = 0;
    double t0 = now_s(), el;

    SKIP_WITHOUT_BPF(e);
    nve_police_peer(e->x, &e->s, PEER, NVE_PEER_KNOWN);
    nve_police_peer(e->x, &e->s, other, NVE_PEER_KNOWN);
    nve_police_peer(e->x, &e->s, PEER, NVE_PEER_DEMOTED);
    for (unsigned i = 0; i < 1000; i++)
        passed += (unsigned)pass(e, US, PEER, ETYPE);
    el = now_s() - t0;
    print_message("demoted: %u of 1000 passed in %.3f s\n", passed, el);
    assert_true(passed >= DEMOTED);
    assert_true(passed <= DEMOTED + (unsigned)(DEMOTED * el) + 1);
    assert_int_equal(nve_police_dropped(e->x, &e->s, &d), 0);
    assert_int_equal(d.demoted, 1000 - passed);
    assert_int_equal(d.peer, 0);
    /* the other known peer: its whole burst */
    for (unsigned i = 0; i < 2 * BURST; i++)
        assert_true(pass(e, US, other, ETYPE));
    /* restored: a full bucket of its own */
    nve_police_peer(e->x, &e->s, PEER, NVE_PEER_KNOWN);
    for (unsigned i = 0; i < 2 * BURST; i++)
        assert_true(pass(e, US, PEER, ETYPE));
    assert_int_equal(nve_police_dropped(e->x, &e->s, &d), 0);
    assert_int_equal(d.demoted, 1000 - passed);
}

/* Rate 0 (no limit in nve-agent.conf): the filter polices nothing. */
static void
test_unlimited(void **state)
{
    struct env *e = *state;
    uint8_t mac[6];

    SKIP_WITHOUT_BPF(e);
    assert_int_equal(nve_police_port(e->x, &e->s, 0, BURST, 0, 0), 0);
    for (unsigned i = 0; i < 1000; i++) {
        stranger(mac, i);
        assert_true(pass(e, US, mac, ETYPE));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demoted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlimited, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
