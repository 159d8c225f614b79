/* fuzz_decode.c - libFuzzer target for the NVDP decoder: decode every message
 * of arbitrary input, re-encode what decoded, decode again: must be equal. */
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nvdp_msg m, again; /* too big for a fuzzer's stack frame */
    struct nvdp_reader r;
    int rc, guard = 0;

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
