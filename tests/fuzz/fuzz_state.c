/* fuzz_state.c - libFuzzer target for hv-agent's state file reader
 * (hv_state_file.c, hv_journal.c): any file loads what is valid and
 * reports the rest, and whatever loaded is written and read back whole. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hv_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hv_state s, t;
    struct hv_state_load r, r2;
    struct hv_jbuf b = {0}, b2 = {0};
    size_t head, at;

    hv_state_init(&s);
    if (hv_state_load_buf(&s, (const char *)data, size, &r) < 0)
        __builtin_trap();
    if (r.scan.records < s.count || hv_state_unsaved(&s))
        __builtin_trap();
    /* what loaded, as a rewrite writes it (header, records, commit),
     * loads the same VNICs undamaged, and they write the same records */
    hv_jbuf_printf(&b, "{\"journal\":\"hv-agent\",\"version\":%d",
                   HV_JOURNAL_VERSION);
    head = hv_jbuf_end(&b, 0);
    hv_state_dump(&s, &b);
    at = b.len;
    hv_jbuf_printf(&b, "{\"commit\":1,\"records\":%zu", s.count);
    hv_jbuf_end(&b, at);
    hv_state_init(&t);
    if (b.oom || hv_state_load_buf(&t, b.p, b.len, &r2) < 0 ||
        hv_journal_damaged(&r2.scan) || t.count != s.count)
        __builtin_trap();
    hv_state_dump(&t, &b2);
    if (b2.len != at - head ||
        (b2.len > 0 && memcmp(b2.p, b.p + head, b2.len) != 0))
        __builtin_trap();
    hv_jbuf_free(&b);
    hv_jbuf_free(&b2);
    hv_state_free(&s);
    hv_state_free(&t);
    return 0;
}
