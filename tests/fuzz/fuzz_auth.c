/* fuzz_auth.c - libFuzzer target for authentication (protocol-spec/nvdp.md
 * section 14) with keys configured: the session's opener on a port that
 * requires authentication, the AUTH TLV and its HMAC, the replay window,
 * and the key file parser. The first byte chooses:
 *   0: the rest is a frame from the golden hypervisor to the golden NVE,
 *      opened with key 1 of the golden frames (and a key 2); what opens is
 *      read to its end, and the same frame again is a replay;
 *   1: the rest is signed here first (key 1, counter from its first 8
 *      bytes): a frame that opens must authenticate;
 *   2: the rest is a key file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nvdp_auth.h"
#include "nvdp_session.h"

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0x01, 0x01};
static const uint8_t NVE_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

static int
no_send(void *arg, unsigned link, const uint8_t dst[6], const uint8_t *buf,
        size_t len)
{
    (void)arg, (void)link, (void)dst, (void)buf, (void)len;
    return 0;
}

/* Opens buf as the NVE would with rp; reads every message. 0 / -1. */
static int
open_frame(struct nvdp_endpoint *ep, const struct nvdp_keyring *kr,
           struct nvdp_replay *rp, const uint8_t *buf, size_t len,
           struct nvdp_msg *m)
{
    struct nvdp_counters c;
    struct nvdp_cnt cnt = {{&c}};
    struct nvdp_in in;

    memset(&c, 0, sizeof(c));
    nvdp_in_init(&in, ep, &cnt, HV_MAC, "p0");
    nvdp_in_auth(&in, NVE_MAC, kr, NVDP_AUTH_REQUIRED, rp);
    if (nvdp_in_open(&in, buf, len) < 0) {
        CHECK(c.auth_ok == 0);
        return -1;
    }
    CHECK(in.authed && c.auth_ok == 1);
    while (nvdp_in_next(&in, m) != NVDP_IN_END)
        ;
    nvdp_replay_accept(rp, in.ctr, in.rd.hdr.epoch);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nvdp_keyring kr;
    static struct nvdp_msg m; /* large: not on the stack */
    static uint8_t frame[NVDP_FRAME_MAX];
    struct nvdp_endpoint ep;
    struct nvdp_replay rp;
    char err[128];

    if (kr.n == 0) { /* the keys, once */
        log_init("fuzz_auth", 0, 0);
        CHECK(nvdp_keyring_parse(&kr,
                                 "1 000102030405060708090a0b0c0d0e0f"
                                 "101112131415161718191a1b1c1d1e1f\n"
                                 "2 202122232425262728292a2b2c2d2e2f"
                                 "303132333435363738393a3b3c3d3e3f\n",
                                 err, sizeof(err)) == 0);
    }
    if (size < 1)
        return 0;
    nvdp_endpoint_init(&ep, NVDP_ROLE_NVE, 0x55667788u, no_send, NULL);
    memset(&rp, 0, sizeof(rp));
    switch (data[0] % 3) {
    case 0:
        if (open_frame(&ep, &kr, &rp, data + 1, size - 1, &m) == 0)
            CHECK(open_frame(&ep, &kr, &rp, data + 1, size - 1, &m) < 0);
        break;
    case 1: {
        struct nvdp_reader rd;
        uint64_t ctr = 0;
        size_t len;

        if (size < 9 || size - 9 > sizeof(frame))
            return 0;
        memcpy(&ctr, data + 1, 8);
        memcpy(frame, data + 9, size - 9);
        if (nvdp_frame_open(&rd, frame, size - 9) < 0 ||
            (rd.hdr.flags & NVDP_HF_AUTH))
            return 0;
        len = nvdp_auth_sign(&kr.key[0], ctr, NVE_MAC, HV_MAC, frame,
                             NVDP_HDR_LEN + rd.hdr.length, sizeof(frame));
        if (len == 0 || nvdp_frame_open(&rd, frame, len) < 0)
            return 0;
        /* a well-framed frame we signed authenticates, once */
        CHECK(open_frame(&ep, &kr, &rp, frame, len, &m) == 0);
        CHECK(open_frame(&ep, &kr, &rp, frame, len, &m) < 0);
        break;
    }
    case 2: {
        struct nvdp_keyring t;
        char *text = malloc(size);

        if (text == NULL)
            return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = 0;
        if (nvdp_keyring_parse(&t, text, err, sizeof(err)) == 0) {
            CHECK(t.n >= 1 && t.n <= NVDP_KEYS_MAX);
            for (unsigned i = 0; i < t.n; i++)
                CHECK(t.key[i].len >= NVDP_KEY_MIN && t.key[i].id != 0);
            nvdp_keyring_free(&t);
        }
        free(text);
        break;
    }
    }
    return 0;
}
