/* test_nvdp_auth.c - NVDP authentication (protocol-spec/nvdp.md section
 * 14): key files, frames signed by the session's writer and opened by its
 * reader under each policy (good, bad HMAC, unknown key id, replay,
 * reordering within and beyond the window, counter wrap, epoch change, a
 * frame cut after its AUTH TLV, AUTH not last, both keys of a rollover),
 * nve-agent's engine on a port that requires authentication, and hv-agent's
 * with a key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "golden.h"
#include "nvdp_auth.h"
#include "hv.h"
#include "nvdp_session.h"
#include "nve.h"

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0x01, 0x01};
static const uint8_t NVE_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t EVE_MAC[6] = {0x02, 0, 0, 0, 0x0e, 0x0e};
#define HV_EPOCH 0x11223344u
#define NVE_EPOCH 0x55667788u

/* key 1 and key 2 (32 bytes each); the golden frames use key 1 */
#define KEY1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2 "2021222324252627282930313233343536373839404142434445464748494a4b"

/* ---- a sender and a receiver ------------------------------------------- */
struct frame {
    uint8_t buf[NVDP_FRAME_MAX];
    size_t len;
    uint8_t dst[6];
};

static int
grab(void *arg, unsigned link, const uint8_t dst[6], const uint8_t *buf,
     size_t len)
{
    struct frame *f = arg;

    (void)link;
    memcpy(f->buf, buf, len);
    memcpy(f->dst, dst, 6);
    f->len = len;
    return 0;
}

static void
keyring(struct nvdp_keyring *kr, const char *text)
{
    char err[128];

    assert_int_equal(nvdp_keyring_parse(kr, text, err, sizeof(err)), 0);
}

/* One frame of message m (NULL: the role's HELLO) from src with epoch to
 * dst, signed with k at counter ctr (k NULL: unsigned). */
static void
build(struct frame *f, uint8_t role, uint32_t epoch, const uint8_t src[6],
      const uint8_t dst[6], const struct nvdp_key *k, uint64_t ctr,
      const struct nvdp_msg *m)
{
    struct nvdp_endpoint ep;
    struct nvdp_out *o = malloc(sizeof(*o));
    struct nvdp_cnt cnt = {{NULL}};

    assert_non_null(o);
    nvdp_endpoint_init(&ep, role, epoch, grab, f);
    nvdp_endpoint_hello(&ep, 10, 1000, 16,
                        role == NVDP_ROLE_HV ? "hv1" : "tor");
    nvdp_endpoint_auth_counter(&ep, ctr);
    nvdp_out_init(o, &ep, NULL, &cnt, 0, dst, 1500);
    if (k != NULL)
        nvdp_out_sign(o, k, src);
    if (m == NULL)
        nvdp_out_hello(o);
    else
        assert_int_equal(nvdp_out_add(o, m), 0);
    f->len = 0;
    nvdp_out_flush(o);
    assert_true(f->len > 0);
    if (k != NULL)
        assert_int_equal(ep.auth_ctr, ctr + 1);
    free(o);
}

/* One HELLO from HV_MAC (epoch) to NVE_MAC. */
static void
hv_frame(struct frame *f, const struct nvdp_key *k, uint64_t ctr,
         uint32_t epoch)
{
    build(f, NVDP_ROLE_HV, epoch, HV_MAC, NVE_MAC, k, ctr, NULL);
}

struct rx {
    struct nvdp_endpoint ep;
    struct nvdp_keyring kr;
    struct nvdp_replay rp;
    struct nvdp_counters c;
    int policy;
};

/* The NVE opens f from src; accepted frames go into the window. */
static int
rx_open(struct rx *r, const struct frame *f, const uint8_t src[6])
{
    struct nvdp_cnt cnt = {{&r->c}};
    struct nvdp_in in;

    nvdp_in_init(&in, &r->ep, &cnt, src, "p0");
    nvdp_in_auth(&in, f->dst, r->kr.n ? &r->kr : NULL, r->policy, &r->rp);
    if (nvdp_in_open(&in, f->buf, f->len) < 0)
        return -1;
    if (in.authed)
        nvdp_replay_accept(&r->rp, in.ctr, in.rd.hdr.epoch);
    return in.authed;
}

static struct rx *
rx_new(int policy, const char *keys)
{
    struct rx *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    nvdp_endpoint_init(&r->ep, NVDP_ROLE_NVE, NVE_EPOCH, grab, NULL);
    if (keys != NULL)
        keyring(&r->kr, keys);
    r->policy = policy;
    return r;
}

static void
rx_free(struct rx *r)
{
    nvdp_keyring_free(&r->kr);
    free(r);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_key_files(void **state)
{
    char dir[] = "/tmp/test_nvdp_auth.XXXXXX", path[64], err[256];
    struct nvdp_keyring kr;
    FILE *f;

    (void)state;
    /* parse: ids, lengths, comments, the first key sends */
    keyring(&kr, "# rollover\n2 " KEY2 "\n  1 " KEY1 "  # old\n\n");
    assert_int_equal(kr.n, 2);
    assert_int_equal(kr.key[0].id, 2);
    assert_non_null(nvdp_keyring_find(&kr, 1));
    assert_null(nvdp_keyring_find(&kr, 3));
    nvdp_keyring_free(&kr);
    assert_int_equal(nvdp_keyring_parse(&kr, "1 0011\n", err, sizeof(err)),
                     -1); /* too short */
    assert_non_null(strstr(err, "32 to 64 bytes"));
    assert_int_equal(nvdp_keyring_parse(&kr, "0 " KEY1, err, sizeof(err)), -1);
    assert_int_equal(
        nvdp_keyring_parse(&kr, "1 " KEY1 "\n1 " KEY2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(nvdp_keyring_parse(&kr, "1 " KEY1 "zz", err, sizeof(err)),
                     -1);
    assert_int_equal(nvdp_keyring_parse(&kr, "# none\n", err, sizeof(err)), -1);
    assert_int_equal(kr.n, 0);

    /* load: a file group or others may read is refused */
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/k", dir);
    assert_non_null(f = fopen(path, "w"));
    fputs("7 " KEY1 "\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(nvdp_keyring_load(&kr, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "must not be accessible by group or others"));
    assert_int_equal(chmod(path, 0602), 0);
    assert_int_equal(nvdp_keyring_load(&kr, path, err, sizeof(err)), -1);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(nvdp_keyring_load(&kr, path, err, sizeof(err)), 0);
    assert_int_equal(kr.key[0].id, 7);
    nvdp_keyring_free(&kr);
    unlink(path);
    assert_int_equal(nvdp_keyring_load(&kr, path, err, sizeof(err)), -1);
    rmdir(dir);
}

static void
test_good_and_bad(void **state)
{
    struct rx *r = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1);
    struct nvdp_keyring other;
    struct frame f;

    (void)state;
    /* good */
    hv_frame(&f, &r->kr.key[0], 100, HV_EPOCH);
    assert_int_equal(f.buf[1] & NVDP_HF_AUTH, NVDP_HF_AUTH);
    assert_int_equal(rx_open(r, &f, HV_MAC), 1);
    assert_int_equal(r->c.auth_ok, 1);

    /* one bit anywhere in the covered bytes: header, TLVs, the counter */
    size_t where[] = {4, 13, f.len - 40, f.len - 1};
    for (unsigned i = 0; i < 4; i++) {
        hv_frame(&f, &r->kr.key[0], 200 + i, HV_EPOCH);
        f.buf[where[i]] ^= 0x01;
        assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    }
    assert_int_equal(r->c.auth_fail, 4);
    /* the source and destination MAC are covered */
    hv_frame(&f, &r->kr.key[0], 300, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, EVE_MAC), -1);
    f.dst[5] ^= 1;
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    assert_int_equal(r->c.auth_fail, 6);

    /* a key id the receiver does not have; the right id, another key */
    keyring(&other, "2 " KEY2 "\n1 " KEY2);
    hv_frame(&f, &other.key[0], 400, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    hv_frame(&f, &other.key[1], 401, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    assert_int_equal(r->c.auth_fail, 8);
    assert_int_equal(r->c.auth_ok, 1); /* nothing else got through */
    nvdp_keyring_free(&other);
    rx_free(r);
}

static void
test_policies(void **state)
{
    struct rx *req = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1),
              *opt = rx_new(NVDP_AUTH_OPTIONAL, "1 " KEY1),
              *off = rx_new(NVDP_AUTH_OFF, NULL);
    struct frame plain, signed_f;

    (void)state;
    hv_frame(&plain, NULL, 0, HV_EPOCH);
    hv_frame(&signed_f, &req->kr.key[0], 10, HV_EPOCH);
    assert_int_equal(rx_open(req, &plain, HV_MAC), -1);
    assert_int_equal(req->c.auth_fail, 1);
    assert_int_equal(rx_open(opt, &plain, HV_MAC), 0);
    assert_int_equal(rx_open(opt, &signed_f, HV_MAC), 1);
    assert_int_equal(opt->c.unauth_accepted, 1);
    assert_int_equal(opt->c.auth_ok, 1);
    assert_int_equal(rx_open(off, &plain, HV_MAC), 0);
    assert_int_equal(rx_open(off, &signed_f, HV_MAC), -1);
    assert_int_equal(off->c.auth_unsupported, 1);
    /* optional mode still checks what is signed */
    signed_f.buf[signed_f.len - 1] ^= 1;
    assert_int_equal(rx_open(opt, &signed_f, HV_MAC), -1);
    assert_int_equal(opt->c.auth_fail, 1);
    rx_free(req);
    rx_free(opt);
    rx_free(off);
}

static void
test_replay_window(void **state)
{
    struct rx *r = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1);
    struct frame f[4];

    (void)state;
    hv_frame(&f[0], &r->kr.key[0], 1000, HV_EPOCH);
    assert_int_equal(rx_open(r, &f[0], HV_MAC), 1);
    assert_int_equal(rx_open(r, &f[0], HV_MAC), -1); /* replayed */
    assert_int_equal(r->c.replay, 1);

    /* reordered within the window: 1010 before 1005; each once */
    hv_frame(&f[1], &r->kr.key[0], 1010, HV_EPOCH);
    hv_frame(&f[2], &r->kr.key[0], 1005, HV_EPOCH);
    assert_int_equal(rx_open(r, &f[1], HV_MAC), 1);
    assert_int_equal(rx_open(r, &f[2], HV_MAC), 1);
    assert_int_equal(rx_open(r, &f[2], HV_MAC), -1);
    assert_int_equal(rx_open(r, &f[1], HV_MAC), -1);
    assert_int_equal(r->c.replay, 3);

    /* the window's edge: top - 63 is in, top - 64 is out */
    hv_frame(&f[0], &r->kr.key[0], 1010 + NVDP_REPLAY_WINDOW, HV_EPOCH);
    assert_int_equal(rx_open(r, &f[0], HV_MAC), 1);
    hv_frame(&f[1], &r->kr.key[0], 1011, HV_EPOCH);
    hv_frame(&f[2], &r->kr.key[0], 1009, HV_EPOCH);
    assert_int_equal(rx_open(r, &f[1], HV_MAC), 1);
    assert_int_equal(rx_open(r, &f[2], HV_MAC), -1);
    assert_int_equal(r->c.replay, 4);
    assert_int_equal(r->c.auth_ok, 5);
    rx_free(r);
}

static void
test_counter_wrap(void **state)
{
    struct rx *r = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1);
    struct nvdp_endpoint ep;
    struct nvdp_counters c = {0};
    struct nvdp_cnt cnt = {{&c}};
    struct nvdp_out *o = malloc(sizeof(*o));
    struct frame f;

    (void)state;
    /* the receiver: the highest counter, then a wrapped one */
    hv_frame(&f, &r->kr.key[0], UINT64_MAX - 1, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), 1);
    hv_frame(&f, &r->kr.key[0], 0, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    hv_frame(&f, &r->kr.key[0], 1, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    assert_int_equal(r->c.replay, 2);

    /* the sender: UINT64_MAX - 1 is its last counter, it never wraps */
    nvdp_endpoint_init(&ep, NVDP_ROLE_HV, HV_EPOCH, grab, &f);
    nvdp_endpoint_hello(&ep, 10, 1000, 16, "hv1");
    nvdp_endpoint_auth_counter(&ep, UINT64_MAX - 1);
    for (int i = 0; i < 2; i++) {
        nvdp_out_init(o, &ep, NULL, &cnt, 0, NVE_MAC, 1500);
        nvdp_out_sign(o, &r->kr.key[0], HV_MAC);
        nvdp_out_hello(o);
        f.len = 0;
        nvdp_out_flush(o);
    }
    assert_int_equal(c.tx_frames, 1);
    assert_int_equal(c.tx_errors, 1);
    assert_int_equal(f.len, 0); /* the second was not sent */
    free(o);
    rx_free(r);
}

static void
test_epoch_change(void **state)
{
    struct rx *r = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1);
    struct frame old1, old2, new1;

    (void)state;
    hv_frame(&old1, &r->kr.key[0], 500, HV_EPOCH);
    hv_frame(&old2, &r->kr.key[0], 501, HV_EPOCH);
    hv_frame(&new1, &r->kr.key[0], 900, HV_EPOCH + 1); /* restarted */
    assert_int_equal(rx_open(r, &old1, HV_MAC), 1);
    assert_int_equal(rx_open(r, &new1, HV_MAC), 1);
    assert_int_equal(r->rp.epoch, HV_EPOCH + 1);
    /* the earlier incarnation's frames, even one never seen, are replays:
     * they would make us take the peer as restarted again */
    assert_int_equal(rx_open(r, &old2, HV_MAC), -1);
    assert_int_equal(rx_open(r, &old1, HV_MAC), -1);
    assert_int_equal(r->c.replay, 2);
    /* a restart must move the counter forward */
    hv_frame(&old2, &r->kr.key[0], 899, HV_EPOCH + 2);
    assert_int_equal(rx_open(r, &old2, HV_MAC), -1);
    assert_int_equal(r->c.replay, 3);
    rx_free(r);
}

/* A hypervisor without a window for its NVE (it restarted) drops a frame
 * whose peer_epoch names an earlier epoch of its own. */
static void
test_hv_restarted(void **state)
{
    struct nvdp_endpoint ep;
    struct nvdp_keyring kr;
    struct nvdp_counters c = {0};
    struct nvdp_cnt cnt = {{&c}};
    struct nvdp_out *o = malloc(sizeof(*o));
    struct nvdp_session s;
    struct frame f;
    struct nvdp_in in;

    (void)state;
    keyring(&kr, "1 " KEY1);
    /* the NVE's frame to the hypervisor's previous epoch */
    nvdp_endpoint_init(&ep, NVDP_ROLE_NVE, NVE_EPOCH, grab, &f);
    nvdp_endpoint_hello(&ep, 10, 1000, 16, "tor");
    assert_int_equal(nvdp_sess_init(&s, &ep, HV_MAC, HV_EPOCH, 8), 0);
    s.open = 1; /* peer_epoch: HV_EPOCH */
    nvdp_out_init(o, &ep, &s, NULL, 0, HV_MAC, 1500);
    nvdp_out_sign(o, &kr.key[0], NVE_MAC);
    nvdp_out_hello(o);
    nvdp_out_flush(o);
    nvdp_sess_free(&s);

    nvdp_endpoint_init(&ep, NVDP_ROLE_HV, HV_EPOCH + 1, grab, NULL);
    nvdp_in_init(&in, &ep, &cnt, NVE_MAC, NULL);
    nvdp_in_auth(&in, HV_MAC, &kr, NVDP_AUTH_REQUIRED, NULL);
    assert_int_equal(nvdp_in_open(&in, f.buf, f.len), -1);
    assert_int_equal(c.replay, 1);
    /* as the hypervisor it was sent to, it is good */
    nvdp_endpoint_init(&ep, NVDP_ROLE_HV, HV_EPOCH, grab, NULL);
    nvdp_in_init(&in, &ep, &cnt, NVE_MAC, NULL);
    nvdp_in_auth(&in, HV_MAC, &kr, NVDP_AUTH_REQUIRED, NULL);
    assert_int_equal(nvdp_in_open(&in, f.buf, f.len), 0);
    assert_int_equal(c.auth_ok, 1);
    free(o);
    nvdp_keyring_free(&kr);
}

static void
test_malformed_auth(void **state)
{
    struct rx *r = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1);
    struct frame f, g;
    size_t tlv;

    (void)state;
    /* cut after the AUTH TLV: the header's length says more */
    hv_frame(&f, &r->kr.key[0], 10, HV_EPOCH);
    tlv = f.len - NVDP_HDR_LEN + 4;
    f.buf[2] = (uint8_t)(tlv >> 8);
    f.buf[3] = (uint8_t)tlv;
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    /* cut inside it */
    hv_frame(&f, &r->kr.key[0], 11, HV_EPOCH);
    f.len -= 10;
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    /* AUTH not last: a HELLO appended after it, length fixed up */
    hv_frame(&f, &r->kr.key[0], 12, HV_EPOCH);
    hv_frame(&g, NULL, 0, HV_EPOCH);
    memcpy(f.buf + f.len, g.buf + NVDP_HDR_LEN, g.len - NVDP_HDR_LEN);
    f.len += g.len - NVDP_HDR_LEN;
    tlv = f.len - NVDP_HDR_LEN;
    f.buf[2] = (uint8_t)(tlv >> 8);
    f.buf[3] = (uint8_t)tlv;
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    assert_int_equal(r->c.rx_malformed, 3);
    assert_int_equal(r->c.decode_err[-NVDP_E_SHORT], 2);
    assert_int_equal(r->c.decode_err[-NVDP_E_AUTH], 1);
    assert_int_equal(r->c.auth_ok, 0);
    /* none of them moved the window: counter 12 is still new */
    hv_frame(&f, &r->kr.key[0], 12, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), 1);
    rx_free(r);
}

static void
test_rollover(void **state)
{
    struct rx *r = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1);
    struct nvdp_keyring both, next;
    struct frame f;

    (void)state;
    keyring(&both, "1 " KEY1 "\n2 " KEY2); /* step 1: key 2 accepted */
    keyring(&next, "2 " KEY2 "\n1 " KEY1); /* step 2: key 2 sends */
    hv_frame(&f, &both.key[0], 1, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), 1);
    nvdp_keyring_free(&r->kr);
    keyring(&r->kr, "1 " KEY1 "\n2 " KEY2);
    hv_frame(&f, &both.key[0], 2, HV_EPOCH); /* old key, new receiver */
    assert_int_equal(rx_open(r, &f, HV_MAC), 1);
    hv_frame(&f, &next.key[0], 3, HV_EPOCH); /* new key */
    assert_int_equal(f.buf[f.len - 44 + 1], 2);
    assert_int_equal(rx_open(r, &f, HV_MAC), 1);
    nvdp_keyring_free(&r->kr);
    keyring(&r->kr, "2 " KEY2); /* step 3: key 1 gone */
    hv_frame(&f, &next.key[0], 4, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), 1);
    hv_frame(&f, &both.key[0], 5, HV_EPOCH);
    assert_int_equal(rx_open(r, &f, HV_MAC), -1);
    assert_int_equal(r->c.auth_ok, 4);
    assert_int_equal(r->c.auth_fail, 1);
    nvdp_keyring_free(&both);
    nvdp_keyring_free(&next);
    rx_free(r);
}

/* The signed golden frames (spec 19): key 1 verifies them, our signer
 * makes the same bytes, and auth-assoc is accepted once. */
static void
test_golden(void **state)
{
    struct rx *r = rx_new(NVDP_AUTH_REQUIRED, "1 " KEY1);
    uint8_t buf[NVDP_FRAME_MAX + 14], again[NVDP_FRAME_MAX];
    struct frame f;
    size_t n, len;

    (void)state;
    n = golden_load("auth-hello", buf, sizeof(buf));
    memcpy(f.dst, buf, 6);
    memcpy(f.buf, buf + 14, n - 14);
    f.len = n - 14;
    assert_int_equal(rx_open(r, &f, buf + 6), 1);
    assert_int_equal(r->rp.top, 0x0005F1E2D3C4B5A6ULL);
    /* unsigned again, then signed here: the same bytes */
    len = f.len - NVDP_AUTH_TLV_LEN;
    memcpy(again, f.buf, len);
    again[1] &= (uint8_t)~NVDP_HF_AUTH;
    again[2] = (uint8_t)((len - NVDP_HDR_LEN) >> 8);
    again[3] = (uint8_t)(len - NVDP_HDR_LEN);
    assert_int_equal(nvdp_auth_sign(&r->kr.key[0], 0x0005F1E2D3C4B5A6ULL, buf,
                                    buf + 6, again, len, sizeof(again)),
                     f.len);
    assert_memory_equal(again, f.buf, f.len);

    n = golden_load("auth-assoc", buf, sizeof(buf));
    memcpy(f.buf, buf + 14, n - 14);
    f.len = n - 14;
    assert_int_equal(rx_open(r, &f, buf + 6), 1);
    assert_int_equal(rx_open(r, &f, buf + 6), -1);
    assert_int_equal(r->c.replay, 1);
    rx_free(r);
}

/* ---- nve-agent's engine on a port that requires authentication ---------- */
struct nve_fx {
    char dir[64];
    struct nve_conf *conf;
    struct tree tree;
    struct nve_proto *p;
    struct frame out;
    int nout;
};

static void
nve_grab(void *arg, uint16_t port, const uint8_t dst[6], const uint8_t *buf,
         size_t len)
{
    struct nve_fx *x = arg;

    (void)port;
    grab(&x->out, 0, dst, buf, len);
    x->nout++;
}

static struct nve_fx *
nve_fx_new(void)
{
    struct nve_fx *x = calloc(1, sizeof(*x));
    char path[96];
    FILE *f;

    assert_non_null(x);
    snprintf(x->dir, sizeof(x->dir), "/tmp/test_nvdp_auth.XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(path, sizeof(path), "%s/hv1.key", x->dir);
    assert_non_null(f = fopen(path, "w"));
    fputs("1 " KEY1 "\n", f);
    fclose(f);
    chmod(path, 0600);
    snprintf(path, sizeof(path), "%s/nve.conf", x->dir);
    assert_non_null(f = fopen(path, "w"));
    fprintf(f,
            "name = \"tor\"\n"
            "port \"p0\" { interface = \"acc0\"\n tags = \"100-101\"\n"
            " auth = required }\n"
            "hypervisor \"hv1\" { mac = \"02:00:00:00:01:01\"\n"
            " key-file = \"%s/hv1.key\" }\n"
            "vn \"blue\" { vni = 100 }\n",
            x->dir);
    fclose(f);
    x->conf = nve_conf_load(path);
    assert_non_null(x->conf);
    assert_int_equal(x->conf->ports[0].auth, NVDP_AUTH_REQUIRED);
    assert_int_equal(tree_init(&x->tree, NULL,
                               &(struct tree_limits){.max_addrs = 64,
                                                     .preassoc_ms = 1000}),
                     0);
    tree_port_set(&x->tree, 0, &x->conf->ports[0].tags, 0);
    x->p = nve_proto_new(x->conf, &x->tree, NVE_EPOCH, nve_grab, x);
    nve_proto_port_up(x->p, 0, "p0", NVE_MAC, 1500, 1000);
    return x;
}

static void
nve_fx_free(struct nve_fx *x)
{
    char path[96];

    nve_proto_free(x->p);
    tree_free(&x->tree);
    nve_conf_free(x->conf);
    snprintf(path, sizeof(path), "%s/hv1.key", x->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/nve.conf", x->dir);
    unlink(path);
    rmdir(x->dir);
    free(x);
}

/* An ASSOC of VNIC 1 on "blue" from src with its epoch, signed with k at
 * ctr (k NULL: unsigned). */
static void
assoc_frame(struct frame *f, const uint8_t src[6], const struct nvdp_key *k,
            uint64_t ctr, uint32_t txid)
{
    struct nvdp_msg *m = malloc(sizeof(*m));

    assert_non_null(m);
    nvdp_msg_init(m, NVDP_MSG_ASSOC);
    m->txid = txid;
    m->has_vnic = 1;
    m->vnic.b[15] = 1;
    m->vn.kind = NVDP_VN_VNI;
    m->vn.vni = 100;
    m->naddr = 1;
    memset(&m->addr[0], 0, sizeof(m->addr[0]));
    m->addr[0].kind = NVDP_ADDR_MAC;
    memcpy(m->addr[0].mac, (uint8_t[6]){0x52, 0x54, 0, 0, 0, 1}, 6);
    build(f, NVDP_ROLE_HV, HV_EPOCH, src, NVE_MAC, k, ctr, m);
    free(m);
}

/* RESYNC BEGIN from HV_MAC, signed with k at ctr. */
static void
resync_frame(struct frame *f, const struct nvdp_key *k, uint64_t ctr,
             uint32_t txid)
{
    struct nvdp_msg *m = malloc(sizeof(*m));

    assert_non_null(m);
    nvdp_msg_init(m, NVDP_MSG_RESYNC);
    m->txid = txid;
    m->has_phase = 1;
    m->phase = NVDP_RESYNC_BEGIN;
    build(f, NVDP_ROLE_HV, HV_EPOCH, HV_MAC, NVE_MAC, k, ctr, m);
    free(m);
}

static void
test_nve_required_port(void **state)
{
    struct nve_fx *x = nve_fx_new();
    const struct nvdp_counters *c = nve_proto_counters(x->p);
    struct nvdp_keyring eve;
    struct frame f;
    struct nvdp_reader r;

    (void)state;
    /* unsigned, and signed with a key the NVE does not have for this MAC */
    assoc_frame(&f, HV_MAC, NULL, 0, 1);
    nve_proto_input(x->p, 0, HV_MAC, NVE_MAC, f.buf, f.len, 1000);
    keyring(&eve, "1 " KEY2);
    assoc_frame(&f, HV_MAC, &eve.key[0], 5, 1);
    nve_proto_input(x->p, 0, HV_MAC, NVE_MAC, f.buf, f.len, 1000);
    assert_int_equal(c->auth_fail, 2);
    assert_int_equal(nve_proto_npeers(x->p), 0);
    assert_int_equal(x->nout, 0);
    assert_int_equal(c->rx_msgs, 0); /* nothing inside was read */

    /* the hypervisor's own: applied, answered signed */
    assoc_frame(&f, HV_MAC, &x->conf->hv_keys[0].keys.key[0], 10, 1);
    nve_proto_input(x->p, 0, HV_MAC, NVE_MAC, f.buf, f.len, 1000);
    assert_int_equal(c->auth_ok, 1);
    assert_int_equal(nve_proto_npeers(x->p), 1);
    assert_int_equal(c->status[NVDP_ST_OK], 1);
    assert_true(x->nout > 0);
    assert_int_equal(x->out.buf[1] & NVDP_HF_AUTH, NVDP_HF_AUTH);
    assert_int_equal(nvdp_frame_open(&r, x->out.buf, x->out.len), 0);
    uint16_t id;
    uint64_t ctr;
    assert_int_equal(nvdp_auth_verify(&x->conf->hv_keys[0].keys, HV_MAC,
                                      NVE_MAC, x->out.buf, &r, &id, &ctr),
                     NVDP_AUTH_GOOD);

    /* the same frame again: a replay, not a duplicate answered from cache */
    x->nout = 0;
    nve_proto_input(x->p, 0, HV_MAC, NVE_MAC, f.buf, f.len, 1000);
    assert_int_equal(c->replay, 1);
    assert_int_equal(c->rx_dup, 0);
    assert_int_equal(x->nout, 0);

    /* in session, the hypervisor still gets our periodic HELLO unicast
     * and signed: it ignores the group one (spec 14.2) */
    resync_frame(&f, &x->conf->hv_keys[0].keys.key[0], 11, 2);
    nve_proto_input(x->p, 0, HV_MAC, NVE_MAC, f.buf, f.len, 1000);
    assert_int_equal(c->auth_ok, 2);
    x->nout = 0;
    memset(x->out.dst, 0, 6);
    nve_proto_timers(x->p, 1000 + 2 * x->conf->hello_ms);
    assert_true(x->nout >= 2); /* the group HELLO and ours */
    assert_memory_equal(x->out.dst, HV_MAC, 6);
    assert_int_equal(nvdp_frame_open(&r, x->out.buf, x->out.len), 0);
    assert_int_equal(r.hdr.peer_epoch, HV_EPOCH); /* in session */
    assert_int_equal(nvdp_auth_verify(&x->conf->hv_keys[0].keys, HV_MAC,
                                      NVE_MAC, x->out.buf, &r, &id, &ctr),
                     NVDP_AUTH_GOOD);
    nvdp_keyring_free(&eve);
    nve_fx_free(x);
}

/* ---- hv-agent with a key: only its NVE's signed frames count ---------- */
static int
hv_grab(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    return grab(arg, 0, dst, buf, len);
}

/* The NVE's HELLO to dst (peer_epoch 0), signed with k (NULL: not). */
static void
nve_hello(struct frame *f, const uint8_t dst[6], const struct nvdp_key *k,
          uint64_t ctr)
{
    build(f, NVDP_ROLE_NVE, NVE_EPOCH, NVE_MAC, dst, k, ctr, NULL);
}

static void
test_hv_with_key(void **state)
{
    static const uint8_t group[6] = NVDP_GROUP_MAC_DEFAULT;
    struct hv *h = calloc(1, sizeof(*h));
    struct frame f, out;
    struct nvdp_reader r;
    const struct nvdp_counters *c;
    uint16_t id;
    uint64_t ctr;

    (void)state;
    assert_non_null(h);
    hv_conf_defaults(&h->conf);
    keyring(&h->conf.keys, "1 " KEY1);
    hv_state_init(&h->state);
    assert_int_equal(
        hv_proto_init(h, HV_EPOCH, HV_MAC, 1500, hv_grab, &out, 0, 1000), 0);
    c = &h->proto.nve.c;
    /* the NVE's group HELLO: ignored, not an authentication failure */
    nve_hello(&f, group, NULL, 0);
    hv_proto_input(h, NVE_MAC, group, f.buf, f.len, 1000);
    assert_int_equal(c->rx_group_unsigned, 1);
    assert_int_equal(c->auth_fail, 0);
    assert_false(hv_proto_nve_up(h));
    /* unsigned unicast, or signed with another key: refused */
    nve_hello(&f, HV_MAC, NULL, 0);
    hv_proto_input(h, NVE_MAC, HV_MAC, f.buf, f.len, 1000);
    struct nvdp_keyring other;
    keyring(&other, "1 " KEY2);
    nve_hello(&f, HV_MAC, &other.key[0], 50);
    hv_proto_input(h, NVE_MAC, HV_MAC, f.buf, f.len, 1000);
    assert_int_equal(c->auth_fail, 2);
    assert_false(hv_proto_nve_up(h));
    /* signed with our key: the NVE is heard */
    nve_hello(&f, HV_MAC, &h->conf.keys.key[0], 60);
    hv_proto_input(h, NVE_MAC, HV_MAC, f.buf, f.len, 1000);
    assert_int_equal(c->auth_ok, 1);
    assert_true(hv_proto_nve_up(h));
    /* and the same frame again is a replay */
    hv_proto_input(h, NVE_MAC, HV_MAC, f.buf, f.len, 1001);
    assert_int_equal(c->replay, 1);
    /* what we send is signed with key 1, for the NVE's MAC */
    out.len = 0;
    hv_proto_run(h, 2000);
    assert_true(out.len > 0);
    assert_memory_equal(out.dst, NVE_MAC, 6);
    assert_int_equal(nvdp_frame_open(&r, out.buf, out.len), 0);
    assert_int_equal(nvdp_auth_verify(&h->conf.keys, NVE_MAC, HV_MAC, out.buf,
                                      &r, &id, &ctr),
                     NVDP_AUTH_GOOD);
    nvdp_keyring_free(&other);
    hv_proto_free(h);
    hv_state_free(&h->state);
    hv_conf_free(&h->conf);
    free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_good_and_bad),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_counter_wrap),
        cmocka_unit_test(test_epoch_change),
        cmocka_unit_test(test_hv_restarted),
        cmocka_unit_test(test_malformed_auth),
        cmocka_unit_test(test_rollover),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_nve_required_port),
        cmocka_unit_test(test_hv_with_key),
    };

    log_init("test_nvdp_auth", 1, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
