/* test_nve_police.c - the NVDP socket filter (bpf/nvdp_police.bpf.c through
 * nve-agent/nve_police.c), run by BPF_PROG_TEST_RUN on the loopback device:
 * the classic filter's rules, a known peer's frames pass within its own
 * bucket while a flood from made-up MACs is held to the port's shared
 * one, a known peer's own flood is bounded, a demoted peer is held to the
 * demoted rate and restored to its own bucket, a port's listed
 * hypervisors are known before they speak, one taken off the list on a
 * reload is a stranger again unless the engine knows it, a forgotten peer
 * is a stranger again, on a port that requires authentication unsigned
 * frames are dropped before any bucket, the drops are counted. Needs root
 * (BPF): skips without it. */
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

static const struct nve_police_conf PORT = {
    .rate = RATE, .burst = BURST, .demoted = DEMOTED,
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
        assert_int_equal(nve_police_port(e->x, &e->s, &PORT, 0), 0);
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

/* 1 if the filter passes the len bytes of frame f. */
static int
run(struct env *e, uint8_t *f, size_t len)
{
    DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
                        .data_size_in = (uint32_t)len, .repeat = 1);

    assert_int_equal(bpf_prog_test_run_opts(nve_police_prog_fd(e->x), &o), 0);
    return o.retval != 0;
}

/* 1 if the filter passes an unsigned frame from src to dst with EtherType
 * et. */
static int
pass(struct env *e, const uint8_t dst[6], const uint8_t src[6], uint16_t et)
{
    uint8_t f[60] = {0};

    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = (uint8_t)(et >> 8);
    f[13] = (uint8_t)et;
    f[14] = 1; /* NVDP version */
    return run(e, f, sizeof(f));
}

/* A frame from src to us that ends with an AUTH TLV (spec 14.1) of key id
 * (the filter does not check the HMAC: zeros), its header length tlvs
 * bytes (48: the TLV alone), len bytes sent. */
#define SIGNED_LEN (14 + 12 + 48)
static size_t
signed_frame(uint8_t *f, const uint8_t src[6], uint16_t id, unsigned tlvs)
{
    memset(f, 0, SIGNED_LEN + 8);
    memcpy(f + 6, src, 6);
    f[12] = ETYPE >> 8;
    f[13] = ETYPE & 0xff;
    f[14] = 1;    /* version */
    f[15] = 0x01; /* AUTH */
    f[16] = (uint8_t)(tlvs >> 8);
    f[17] = (uint8_t)tlvs;
    f[18] = 1; /* epoch 1<<24 */
    f[26] = 0x80; /* AUTH, length 44 */
    f[27] = 0xff;
    f[29] = 44;
    f[30] = (uint8_t)(id >> 8);
    f[31] = (uint8_t)id;
    return 14 + 12 + tlvs;
}

static int
pass_signed(struct env *e, const uint8_t src[6], uint16_t id)
{
    uint8_t f[SIGNED_LEN + 8];

    return run(e, f, signed_frame(f, src, id, 48));
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
    nve_police_listed(e->x, &e->s, list, 2, NULL, 0, NULL, NULL);
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

/* "the engine knows" list2[k] for k in *arg's bits */
static int
known_bits(void *arg, const uint8_t mac[6])
{
    return (*(unsigned *)arg >> (mac[5] - 0x0b)) & 1;
}

/* A reload takes 0b and 0d off the list (spec 15): 0b is a stranger again
 * at once; 0d, which the engine still knows, keeps its bucket (the engine
 * forgets it in its time); 0c, still listed, keeps its own. */
static void
test_relisted(void **state)
{
    struct env *e = *state;
    static const uint8_t list[3][6] = {{2, 0, 0, 0, 0, 0x0b},
                                       {2, 0, 0, 0, 0, 0x0c},
                                       {2, 0, 0, 0, 0, 0x0d}};
    unsigned knows = 1u << 2; /* 0d */
    unsigned got[3] = {0};
    uint8_t mac[6];

    SKIP_WITHOUT_BPF(e);
    nve_police_listed(e->x, &e->s, list, 3, NULL, 0, NULL, NULL);
    nve_police_listed(e->x, &e->s, list + 1, 1, list, 3, known_bits, &knows);
    for (unsigned i = 0; i < 5000; i++) {
        stranger(mac, i);
        (void)pass(e, US, mac, ETYPE);
    }
    for (unsigned k = 0; k < 3; k++)
        for (unsigned i = 0; i < 2 * BURST; i++)
            got[k] += (unsigned)pass(e, US, list[k], ETYPE);
    print_message("after the reload: 0b %u, 0c %u, 0d %u of %u\n", got[0],
                  got[1], got[2], 2 * BURST);
    assert_true(got[0] < 2 * BURST);
    assert_int_equal(got[1], 2 * BURST);
    assert_int_equal(got[2], 2 * BURST);
    /* 0c demoted by the engine, then a reload that lists it again: still
     * demoted (its bucket and standing are the engine's, not the list's) */
    nve_police_peer(e->x, &e->s, list[1], NVE_PEER_DEMOTED);
    nve_police_listed(e->x, &e->s, list + 1, 1, list + 1, 1, NULL, NULL);
    got[1] = 0;
    for (unsigned i = 0; i < 2 * BURST; i++)
        got[1] += (unsigned)pass(e, US, list[1], ETYPE);
    print_message("0c demoted, listed again: %u of %u\n", got[1], 2 * BURST);
    assert_true(got[1] <= DEMOTED + 1);
}

/* auth = required (spec 14.2): a flood of unsigned frames from made-up
 * MACs is dropped whole and counted, and takes nothing from the shared
 * bucket, whose burst a keyed newcomer's signed frames then get; a frame
 * whose AUTH TLV is not in its place, or has a key id the port does not
 * accept, is dropped as unsigned; a known peer's MAC does not carry
 * unsigned frames past it either. */
static void
test_auth_required(void **state)
{
    struct env *e = *state;
    struct nve_police_conf pc = PORT;
    struct nve_policed d = {0};
    static const uint8_t other[6] = {2, 0, 0, 0, 0, 0x0b};
    uint8_t mac[6], f[SIGNED_LEN + 8];
    unsigned n = 5000, passed = 0, drops = 0;

    SKIP_WITHOUT_BPF(e);
    pc.auth_required = 1;
    pc.nkey_ids = 2;
    pc.key_id[0] = 7;
    pc.key_id[1] = 1;
    assert_int_equal(nve_police_port(e->x, &e->s, &pc, 0), 0);
    nve_police_peer(e->x, &e->s, PEER, NVE_PEER_KNOWN);
    for (unsigned i = 0; i < n; i++) {
        stranger(mac, i);
        passed += (unsigned)pass(e, i & 1 ? US : GROUP, mac, ETYPE);
    }
    assert_int_equal(passed, 0);
    assert_false(pass(e, US, PEER, ETYPE));
    assert_int_equal(nve_police_dropped(e->x, &e->s, &d), 0);
    assert_int_equal(d.unauth, n + 1);
    assert_int_equal(d.newsrc, 0);
    assert_int_equal(d.peer, 0);
    /* the shared bucket is whole: a keyed newcomer's frames, each key */
    for (unsigned i = 0; i < BURST; i++) {
        stranger(mac, n + i);
        assert_true(pass_signed(e, mac, i & 1 ? 7 : 1));
    }
    /* each not in its place, or not a key id of the port */
    stranger(mac, 2 * n);
    drops += !pass_signed(e, mac, 2);              /* key id not accepted */
    signed_frame(f, mac, 1, 48);
    drops += !run(e, f, SIGNED_LEN - 1);           /* truncated */
    drops += !run(e, f, signed_frame(f, mac, 1, 52)); /* not last */
    signed_frame(f, mac, 1, 48);
    f[15] = 0;
    drops += !run(e, f, SIGNED_LEN);               /* no AUTH flag */
    signed_frame(f, mac, 1, 48);
    f[14] = 2;
    drops += !run(e, f, SIGNED_LEN);               /* another version */
    signed_frame(f, mac, 1, 48);
    f[29] = 40;
    drops += !run(e, f, SIGNED_LEN);               /* another length */
    assert_int_equal(drops, 6);
    assert_int_equal(nve_police_dropped(e->x, &e->s, &d), 0);
    assert_int_equal(d.unauth, n + 1 + 6);
    /* the known peer's signed frames: its own bucket */
    for (unsigned i = 0; i < 2 * BURST; i++)
        assert_true(pass_signed(e, PEER, 1));
    /* more key ids than the port entry lists: any id, the place checked */
    pc.nkey_ids = NVE_POLICE_KEY_IDS + 1;
    assert_int_equal(nve_police_port(e->x, &e->s, &pc, 0), 0);
    nve_police_peer(e->x, &e->s, other, NVE_PEER_KNOWN);
    assert_true(pass_signed(e, other, 2));
    assert_false(pass(e, US, other, ETYPE));
}

/* auth = optional (and off): unsigned frames policed by source as before,
 * none counted as unsigned. */
static void
test_auth_optional(void **state)
{
    struct env *e = *state;
    struct nve_policed d = {0};
    uint8_t mac[6];
    unsigned n = 1000, passed = 0;

    SKIP_WITHOUT_BPF(e);
    for (unsigned i = 0; i < n; i++) {
        stranger(mac, i);
        passed += (unsigned)pass(e, US, mac, ETYPE);
    }
    assert_true(passed >= BURST);
    assert_int_equal(nve_police_dropped(e->x, &e->s, &d), 0);
    assert_int_equal(d.unauth, 0);
    assert_int_equal(d.newsrc, n - passed);
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
    struct nve_police_conf pc = {.rate = 0, .burst = BURST};
    uint8_t mac[6];

    SKIP_WITHOUT_BPF(e);
    assert_int_equal(nve_police_port(e->x, &e->s, &pc, 0), 0);
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
        cmocka_unit_test_setup_teardown(test_relisted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_optional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demoted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlimited, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
