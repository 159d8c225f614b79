/* fuzz_decode.c - libFuzzer target for the NVDP decoders: frames (decode every
 * message, re-encode, decode again: equal) and the text parsers of nvdp_util.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nvdp.h"

/* Crash (so libFuzzer reports it) rather than assert, which NDEBUG removes. */
#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void
roundtrip(const struct nvdp_hdr *h, const struct nvdp_msg *m,
          struct nvdp_msg *again)
{
    uint8_t out[NVDP_FRAME_MAX];
    struct nvdp_writer w;
    struct nvdp_reader r;
    size_t n;

    nvdp_writer_init(&w, out, sizeof(out), h->epoch, h->peer_epoch);
    /* What the decoder accepted, the encoder must accept and fit. */
    CHECK(nvdp_writer_add(&w, m) == 0);
    n = nvdp_writer_finish(&w);
    CHECK(n == NVDP_HDR_LEN + nvdp_msg_size(m));
    CHECK(nvdp_frame_open(&r, out, n) == 0);
    CHECK(nvdp_frame_next(&r, again) == 1);
    CHECK(memcmp(m, again, sizeof(*m)) == 0);
    CHECK(nvdp_frame_next(&r, again) == 0);
    CHECK(r.skipped == 0);
}

/* Text forms: whatever parses must format and parse back to the same value. */
static void
text(const char *s)
{
    struct nvdp_uuid u, u2;
    struct nvdp_vn vn, vn2;
    struct nvdp_addr a, a2;
    uint8_t mac[6], mac2[6];
    char buf[128];

    if (nvdp_uuid_parse(s, &u) == 0) {
        nvdp_uuid_fmt(&u, buf);
        CHECK(nvdp_uuid_parse(buf, &u2) == 0 && memcmp(&u, &u2, sizeof(u)) == 0);
    }
    if (nvdp_mac_parse(s, mac) == 0) {
        nvdp_mac_fmt(mac, buf);
        CHECK(nvdp_mac_parse(buf, mac2) == 0 && memcmp(mac, mac2, 6) == 0);
    }
    if (nvdp_vn_parse(s, &vn) == 0) {
        nvdp_vn_fmt(&vn, buf, sizeof(buf));
        CHECK(nvdp_vn_parse(buf, &vn2) == 0 && nvdp_vn_equal(&vn, &vn2));
    }
    static const uint8_t m0[6] = {0x52, 0x54, 0, 0, 0, 1};
    if (nvdp_addr_parse(m0, s, &a) == 0) {
        CHECK(nvdp_addr_valid(&a));
        nvdp_addr_fmt_ip(&a, buf, sizeof(buf));
        CHECK(nvdp_addr_parse(m0, buf, &a2) == 0 && nvdp_addr_equal(&a, &a2));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nvdp_msg m, again; /* too big for a fuzzer's stack frame */
    struct nvdp_reader r;
    int rc, guard = 0;

    /* 'T' is never a valid version byte: such inputs exercise the text
     * parsers instead (as a C string). */
    if (size > 0 && data[0] == 'T') {
        char s[256];
        size_t n = size - 1 < sizeof(s) - 1 ? size - 1 : sizeof(s) - 1;
        memcpy(s, data + 1, n);
        s[n] = '\0';
        text(s);
        return 0;
    }
    if (nvdp_frame_open(&r, data, size) != 0)
        return 0;
    CHECK(r.hdr.epoch != 0 && r.hdr.length <= size - NVDP_HDR_LEN);
    while ((rc = nvdp_frame_next(&r, &m)) != 0) {
        /* Each call consumes at least one TLV header: bounded loop. */
        CHECK(++guard <= NVDP_FRAME_MAX / NVDP_TLV_HLEN + 1);
        if (rc < 0) {
            CHECK(rc >= NVDP_E_AUTH);
            CHECK(nvdp_err_status(rc) <= NVDP_ST_MAX);
            continue;
        }
        CHECK(rc == 1 && m.naddr <= NVDP_MAX_ADDRS);
        CHECK(strlen(m.reason) <= NVDP_MAX_REASON);
        roundtrip(&r.hdr, &m, &again);
    }
    return 0;
}
