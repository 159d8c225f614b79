/* nvdp_codec.c - NVDP frame decoder and encoder (pure: no sockets, no I/O).
 * Table-driven: one table of sub-TLVs, one of messages; protocol-spec/nvdp.md is normative. */
#include <string.h>

#include "nvdp.h"

/* ---- Bounded cursors: every read and write is checked -------------------- */
struct rcur {
    const uint8_t *p;
    size_t left;
};

static int
get_u8(struct rcur *c, uint8_t *v)
{
    if (c->left < 1)
        return NVDP_E_SHORT;
    *v = c->p[0];
    c->p++, c->left--;
    return 0;
}

static int
get_u16(struct rcur *c, uint16_t *v)
{
    if (c->left < 2)
        return NVDP_E_SHORT;
    *v = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2, c->left -= 2;
    return 0;
}

static int
get_u32(struct rcur *c, uint32_t *v)
{
    if (c->left < 4)
        return NVDP_E_SHORT;
    *v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
         (uint32_t)c->p[2] << 8 | c->p[3];
    c->p += 4, c->left -= 4;
    return 0;
}

static int
get_bytes(struct rcur *c, void *out, size_t n)
{
    if (c->left < n)
        return NVDP_E_SHORT;
    memcpy(out, c->p, n);
    c->p += n, c->left -= n;
    return 0;
}

struct wcur {
    uint8_t *p;
    size_t left;
    int err; /* sticky: set once a put did not fit */
};

static void
put_u8(struct wcur *c, uint8_t v)
{
    if (c->err || c->left < 1) {
        c->err = NVDP_E_NOSPACE;
        return;
    }
    *c->p++ = v;
    c->left--;
}

static void
put_u16(struct wcur *c, uint16_t v)
{
    put_u8(c, (uint8_t)(v >> 8));
    put_u8(c, (uint8_t)v);
}

static void
put_u32(struct wcur *c, uint32_t v)
{
    put_u16(c, (uint16_t)(v >> 16));
    put_u16(c, (uint16_t)v);
}

static void
put_bytes(struct wcur *c, const void *b, size_t n)
{
    if (c->err || c->left < n) {
        c->err = NVDP_E_NOSPACE;
        return;
    }
    memcpy(c->p, b, n);
    c->p += n, c->left -= n;
}

static void
put_tlv_hdr(struct wcur *c, uint16_t type, size_t len)
{
    put_u16(c, type);
    put_u16(c, (uint16_t)len);
}

/* ---- Sub-TLV presence bits (VN_UUID and VNI share one: one VN only) ------- */
enum {
    SB_VNIC = 1 << 0,
    SB_VN = 1 << 1,
    SB_TAG = 1 << 2,
    SB_TAG_HINT = 1 << 3,
    SB_INTENT = 1 << 4,
    SB_FLAGS = 1 << 5,
    SB_STATE = 1 << 6,
    SB_PHASE = 1 << 7,
    SB_ADDR = 1 << 8, /* may repeat */
    SB_NAME = 1 << 9,
    SB_REASON = 1 << 10,
};

/* ---- Value checks shared by decoder and encoder ------------------------ */
static int
tag_ok(uint16_t t)
{
    return t >= NVDP_TAG_MIN && t <= NVDP_TAG_MAX;
}

static int
enum2_ok(uint8_t v)
{
    return v == 1 || v == 2;
}

static int
text_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n >= 1 && n <= max;
}

/* ---- Sub-TLV decoders: cursor holds exactly the value ------------------- */
static int
dec_vnic(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    m->has_vnic = 1;
    return get_bytes(c, m->vnic.b, 16);
}

static int
dec_vn_uuid(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    m->vn.kind = NVDP_VN_UUID;
    return get_bytes(c, m->vn.uuid.b, 16);
}

static int
dec_vni(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    uint32_t v = 0;
    int rc = get_u32(c, &v);

    if (rc)
        return rc;
    if (v > NVDP_VNI_MAX)
        return NVDP_E_VALUE;
    m->vn.kind = NVDP_VN_VNI;
    m->vn.vni = v;
    return 0;
}

static int
dec_tag(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    uint16_t v = 0;
    int rc = get_u16(c, &v);

    if (rc)
        return rc;
    if (!tag_ok(v))
        return NVDP_E_VALUE;
    if (type == NVDP_SUB_TAG)
        m->has_tag = 1, m->tag = v;
    else
        m->has_tag_hint = 1, m->tag_hint = v;
    return 0;
}

static int
dec_u8enum(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    uint8_t v = 0;
    int rc = get_u8(c, &v);

    if (rc)
        return rc;
    if (!enum2_ok(v))
        return NVDP_E_VALUE;
    switch (type) {
    case NVDP_SUB_INTENT:
        m->has_intent = 1, m->intent = v;
        break;
    case NVDP_SUB_STATE:
        m->has_state = 1, m->state = v;
        break;
    default:
        m->has_phase = 1, m->phase = v;
        break;
    }
    return 0;
}

static int
dec_flags(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    uint32_t v = 0;
    int rc = get_u32(c, &v);

    if (rc)
        return rc;
    /* Unknown bits are reserved: ignored so that new flags stay compatible. */
    m->has_flags = 1;
    m->rflags = v & NVDP_RF_RR;
    return 0;
}

static int
dec_text(struct rcur *c, char *out, size_t len)
{
    if (get_bytes(c, out, len))
        return NVDP_E_SHORT;
    out[len] = '\0';
    /* Embedded NUL would silently truncate the text: refuse it. */
    if (strlen(out) != len)
        return NVDP_E_VALUE;
    return 0;
}

static int
dec_reason(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    return dec_text(c, m->reason, c->left);
}

static int
dec_name(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    return dec_text(c, m->hello.name, c->left);
}

static int
dec_addr(struct rcur *c, uint16_t type, struct nvdp_msg *m)
{
    struct nvdp_addr a;
    size_t alen;

    if (m->naddr >= NVDP_MAX_ADDRS)
        return NVDP_E_TOOMANY;
    memset(&a, 0, sizeof(a));
    if (get_bytes(c, a.mac, 6))
        return NVDP_E_SHORT;
    switch (type) {
    case NVDP_SUB_ADDR_MAC:
        a.kind = NVDP_ADDR_MAC;
        break;
    case NVDP_SUB_ADDR_IP4:
    case NVDP_SUB_ADDR_IP6:
        a.kind = NVDP_ADDR_HOST;
        break;
    case NVDP_SUB_ADDR_PFX4:
    case NVDP_SUB_ADDR_PFX6:
        a.kind = NVDP_ADDR_PREFIX;
        break;
    default:
        a.kind = NVDP_ADDR_RANGE;
        break;
    }
    if (a.kind != NVDP_ADDR_MAC) {
        int v6 = type == NVDP_SUB_ADDR_IP6 || type == NVDP_SUB_ADDR_PFX6 ||
                 type == NVDP_SUB_ADDR_RNG6;
        a.family = v6 ? 6 : 4;
        alen = v6 ? 16 : 4;
        if (get_bytes(c, a.ip, alen))
            return NVDP_E_SHORT;
        if (a.kind == NVDP_ADDR_PREFIX && get_u8(c, &a.plen))
            return NVDP_E_SHORT;
        if (a.kind == NVDP_ADDR_RANGE && get_bytes(c, a.ip_hi, alen))
            return NVDP_E_SHORT;
    }
    if (!nvdp_addr_valid(&a))
        return NVDP_E_VALUE;
    m->addr[m->naddr++] = a;
    return 0;
}

typedef int (*sub_dec_fn)(struct rcur *, uint16_t, struct nvdp_msg *);

static const struct sub_def {
    uint16_t type;
    const char *name;
    uint16_t min, max; /* value length bounds */
    uint16_t bit;
    sub_dec_fn dec;
} sub_defs[] = {
    {NVDP_SUB_VNIC, "vnic", 16, 16, SB_VNIC, dec_vnic},
    {NVDP_SUB_VN_UUID, "vn-uuid", 16, 16, SB_VN, dec_vn_uuid},
    {NVDP_SUB_VNI, "vni", 4, 4, SB_VN, dec_vni},
    {NVDP_SUB_TAG, "tag", 2, 2, SB_TAG, dec_tag},
    {NVDP_SUB_TAG_HINT, "tag-hint", 2, 2, SB_TAG_HINT, dec_tag},
    {NVDP_SUB_INTENT, "intent", 1, 1, SB_INTENT, dec_u8enum},
    {NVDP_SUB_FLAGS, "flags", 4, 4, SB_FLAGS, dec_flags},
    {NVDP_SUB_REASON, "reason", 1, NVDP_MAX_REASON, SB_REASON, dec_reason},
    {NVDP_SUB_NAME, "name", 1, NVDP_MAX_NAME, SB_NAME, dec_name},
    {NVDP_SUB_STATE, "state", 1, 1, SB_STATE, dec_u8enum},
    {NVDP_SUB_PHASE, "phase", 1, 1, SB_PHASE, dec_u8enum},
    {NVDP_SUB_ADDR_MAC, "addr-mac", 6, 6, SB_ADDR, dec_addr},
    {NVDP_SUB_ADDR_IP4, "addr-ip4", 10, 10, SB_ADDR, dec_addr},
    {NVDP_SUB_ADDR_IP6, "addr-ip6", 22, 22, SB_ADDR, dec_addr},
    {NVDP_SUB_ADDR_PFX4, "addr-pfx4", 11, 11, SB_ADDR, dec_addr},
    {NVDP_SUB_ADDR_PFX6, "addr-pfx6", 23, 23, SB_ADDR, dec_addr},
    {NVDP_SUB_ADDR_RNG4, "addr-rng4", 14, 14, SB_ADDR, dec_addr},
    {NVDP_SUB_ADDR_RNG6, "addr-rng6", 38, 38, SB_ADDR, dec_addr},
};

static const struct sub_def *
sub_lookup(uint16_t type)
{
    size_t i;

    for (i = 0; i < sizeof(sub_defs) / sizeof(sub_defs[0]); i++)
        if (sub_defs[i].type == type)
            return &sub_defs[i];
    return NULL;
}

/* ---- Message table --------------------------------------------------- */
enum { FX_TXID, FX_HELLO, FX_RESPONSE };

static const struct msg_def {
    uint16_t type;
    const char *name;
    uint8_t fixed; /* FX_*: layout of the fixed part */
    uint16_t fixed_len;
    uint16_t allowed; /* SB_* bits that may appear */
    uint16_t required; /* SB_* bits that must appear (SB_ADDR: at least one) */
} msg_defs[] = {
    {NVDP_MSG_HELLO, "hello", FX_HELLO, 8, SB_NAME, 0},
    {NVDP_MSG_RESPONSE, "response", FX_RESPONSE, 8, SB_TAG | SB_REASON, 0},
    {NVDP_MSG_VN_CONNECT, "vn-connect", FX_TXID, 4,
     SB_VNIC | SB_VN | SB_TAG_HINT, SB_VNIC | SB_VN},
    {NVDP_MSG_VN_DISCONNECT, "vn-disconnect", FX_TXID, 4, SB_VNIC | SB_VN,
     SB_VNIC | SB_VN},
    {NVDP_MSG_ASSOC, "assoc", FX_TXID, 4,
     SB_VNIC | SB_VN | SB_TAG_HINT | SB_ADDR, SB_VNIC | SB_VN},
    {NVDP_MSG_DISASSOC, "disassoc", FX_TXID, 4, SB_VNIC | SB_VN | SB_ADDR,
     SB_VNIC | SB_VN | SB_ADDR},
    {NVDP_MSG_VNIC_DISASSOC, "vnic-disassoc", FX_TXID, 4,
     SB_VNIC | SB_INTENT, SB_VNIC | SB_INTENT},
    {NVDP_MSG_PREASSOC, "preassoc", FX_TXID, 4,
     SB_VNIC | SB_VN | SB_TAG_HINT | SB_FLAGS | SB_ADDR, SB_VNIC | SB_VN},
    {NVDP_MSG_WITHDRAW, "withdraw", FX_TXID, 4,
     SB_VNIC | SB_VN | SB_TAG | SB_REASON, SB_VN | SB_REASON},
    {NVDP_MSG_RESYNC, "resync", FX_TXID, 4, SB_PHASE, SB_PHASE},
    {NVDP_MSG_VNIC_STATE, "vnic-state", FX_TXID, 4, SB_VNIC | SB_STATE,
     SB_VNIC | SB_STATE},
};

static const struct msg_def *
msg_lookup(uint16_t type)
{
    size_t i;

    for (i = 0; i < sizeof(msg_defs) / sizeof(msg_defs[0]); i++)
        if (msg_defs[i].type == type)
            return &msg_defs[i];
    return NULL;
}

/* ---- Strings and error mapping -------------------------------------- */
const char *
nvdp_strerror(int err)
{
    switch (err) {
    case NVDP_OK: return "ok";
    case NVDP_E_SHORT: return "truncated";
    case NVDP_E_VERSION: return "unsupported version";
    case NVDP_E_LENGTH: return "bad length";
    case NVDP_E_UNKNOWN: return "unknown mandatory TLV";
    case NVDP_E_VALUE: return "value out of range";
    case NVDP_E_DUP: return "duplicate TLV";
    case NVDP_E_MISSING: return "required TLV missing";
    case NVDP_E_TOOMANY: return "too many addresses";
    case NVDP_E_NOSPACE: return "no space in frame";
    case NVDP_E_AUTH: return "bad authentication TLV";
    }
    return "unknown error";
}

const char *
nvdp_status_str(uint16_t status)
{
    static const char *const names[] = {
        "ok", "unknown-vn", "not-authorised", "no-tags", "limit",
        "malformed", "unsupported", "not-connected", "conflict",
        "unknown-vnic", "internal",
    };
    if (status < sizeof(names) / sizeof(names[0]))
        return names[status];
    return "unknown-status";
}

const char *
nvdp_msg_name(uint16_t type)
{
    const struct msg_def *d = msg_lookup(type);

    if (d)
        return d->name;
    if (type == NVDP_MSG_AUTH)
        return "auth";
    return "unknown";
}

uint16_t
nvdp_err_status(int err)
{
    switch (err) {
    case NVDP_OK: return NVDP_ST_OK;
    case NVDP_E_UNKNOWN:
    case NVDP_E_VERSION: return NVDP_ST_UNSUPPORTED;
    case NVDP_E_TOOMANY: return NVDP_ST_LIMIT;
    case NVDP_E_NOSPACE: return NVDP_ST_INTERNAL;
    }
    return NVDP_ST_MALFORMED;
}

/* ---- Decoding ------------------------------------------------------- */

/* Walks the TLV headers to check that the frame ends with exactly one AUTH
 * TLV; the HMAC itself is verified by the caller (later issue). */
static int
auth_locate(struct nvdp_reader *r)
{
    struct rcur c = {r->p, r->left};
    uint16_t type, len;

    while (c.left > 0) {
        const uint8_t *start = c.p;
        if (get_u16(&c, &type) || get_u16(&c, &len) || c.left < len)
            return NVDP_E_AUTH;
        c.p += len, c.left -= len;
        if (type == NVDP_MSG_AUTH) {
            if (c.left != 0 || len != NVDP_AUTH_LEN)
                return NVDP_E_AUTH;
            r->auth = start + NVDP_TLV_HLEN;
            r->left = (size_t)(start - r->p);
            return 0;
        }
    }
    return NVDP_E_AUTH;
}

int
nvdp_frame_open(struct nvdp_reader *r, const uint8_t *buf, size_t len)
{
    struct rcur c = {buf, len};
    struct nvdp_hdr *h = &r->hdr;

    memset(r, 0, sizeof(*r));
    if (get_u8(&c, &h->version))
        return NVDP_E_SHORT;
    if (h->version != NVDP_VERSION)
        return NVDP_E_VERSION;
    if (get_u8(&c, &h->flags) || get_u16(&c, &h->length) ||
        get_u32(&c, &h->epoch) || get_u32(&c, &h->peer_epoch))
        return NVDP_E_SHORT;
    if (h->length > NVDP_FRAME_MAX - NVDP_HDR_LEN)
        return NVDP_E_LENGTH;
    if (h->length > c.left)
        return NVDP_E_SHORT;
    if (h->epoch == 0)
        return NVDP_E_VALUE;
    /* Bytes past the header's length are Ethernet padding. */
    r->p = c.p;
    r->left = h->length;
    if (h->flags & NVDP_HF_AUTH)
        return auth_locate(r);
    return 0;
}

/* Decodes the sub-TLVs of one message value (cursor after the fixed part). */
static int
dec_subs(struct nvdp_reader *r, const struct msg_def *d, struct rcur *c,
         struct nvdp_msg *m)
{
    uint16_t seen = 0;
    int rc;

    while (c->left > 0) {
        uint16_t type, len;
        const struct sub_def *s;
        struct rcur v;

        if (get_u16(c, &type) || get_u16(c, &len))
            return NVDP_E_SHORT;
        if (len > c->left)
            return NVDP_E_LENGTH;
        v.p = c->p, v.left = len;
        c->p += len, c->left -= len;
        s = sub_lookup(type);
        /* A known sub-TLV outside its message is handled like an unknown one. */
        if (!s || !(d->allowed & s->bit)) {
            if (type & NVDP_TLV_M)
                return NVDP_E_UNKNOWN;
            r->skipped++;
            continue;
        }
        if (len < s->min || len > s->max)
            return NVDP_E_LENGTH;
        if ((seen & s->bit) && s->bit != SB_ADDR)
            return NVDP_E_DUP;
        seen |= s->bit;
        if ((rc = s->dec(&v, type, m)) != 0)
            return rc;
    }
    if ((seen & d->required) != d->required)
        return NVDP_E_MISSING;
    return 0;
}

static int
dec_fixed(const struct msg_def *d, struct rcur *c, struct nvdp_msg *m)
{
    struct nvdp_hello *h = &m->hello;

    switch (d->fixed) {
    case FX_HELLO:
        if (get_u8(c, &h->role) || get_u8(c, &h->flags) ||
            get_u16(c, &h->hold_time) || get_u16(c, &h->hello_interval) ||
            get_u16(c, &h->window))
            return NVDP_E_SHORT;
        if (!enum2_ok(h->role) || h->hold_time == 0 ||
            h->hello_interval == 0 || h->window == 0)
            return NVDP_E_VALUE;
        return 0;
    case FX_RESPONSE:
        if (get_u32(c, &m->txid) || get_u16(c, &m->status) ||
            get_u16(c, &m->req_type))
            return NVDP_E_SHORT;
        return m->txid == 0 ? NVDP_E_VALUE : 0;
    default:
        if (get_u32(c, &m->txid))
            return NVDP_E_SHORT;
        return m->txid == 0 ? NVDP_E_VALUE : 0;
    }
}

int
nvdp_frame_next(struct nvdp_reader *r, struct nvdp_msg *msg)
{
    struct rcur c = {r->p, r->left};

    for (;;) {
        uint16_t type, len;
        const struct msg_def *d;
        struct rcur v;
        int rc;

        memset(msg, 0, sizeof(*msg));
        if (c.left == 0)
            return 0;
        if (get_u16(&c, &type) || get_u16(&c, &len)) {
            /* Framing is lost: nothing after this point can be trusted. */
            r->p = c.p + c.left, r->left = 0;
            return NVDP_E_SHORT;
        }
        if (len > c.left) {
            r->p = c.p + c.left, r->left = 0;
            return NVDP_E_LENGTH;
        }
        v.p = c.p, v.left = len;
        c.p += len, c.left -= len;
        r->p = c.p, r->left = c.left;
        msg->type = type;

        if (type == NVDP_MSG_AUTH) {
            /* Only reached when the header flag is missing (else auth_locate
             * cut it off): an AUTH TLV must be announced and be last. */
            r->p = c.p + c.left, r->left = 0;
            return NVDP_E_AUTH;
        }
        d = msg_lookup(type);
        if (!d) {
            if (!(type & NVDP_TLV_M)) {
                r->skipped++;
                continue;
            }
            /* Every message but HELLO and RESPONSE is a request starting
             * with a txid: give it back so the caller can say UNSUPPORTED. */
            if (v.left >= 4)
                get_u32(&v, &msg->txid);
            return NVDP_E_UNKNOWN;
        }
        if ((rc = dec_fixed(d, &v, msg)) != 0)
            return rc;
        if ((rc = dec_subs(r, d, &v, msg)) != 0)
            return rc;
        return 1;
    }
}

/* ---- Encoding ------------------------------------------------------- */
typedef int (*sub_has_fn)(const struct msg_def *, const struct nvdp_msg *);
typedef void (*sub_put_fn)(struct wcur *, const struct nvdp_msg *);
typedef size_t (*sub_size_fn)(const struct nvdp_msg *);

/* Required sub-TLVs are always written; optional ones when flagged. */
static int
want(const struct msg_def *d, uint16_t bit, int flagged)
{
    if (!(d->allowed & bit))
        return 0;
    return (d->required & bit) || flagged;
}

static int has_vnic(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_VNIC, m->has_vnic); }
static int has_vn(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_VN, m->vn.kind != NVDP_VN_NONE); }
static int has_tag(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_TAG, m->has_tag); }
static int has_hint(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_TAG_HINT, m->has_tag_hint); }
static int has_intent(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_INTENT, m->has_intent); }
static int has_flags(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_FLAGS, m->has_flags); }
static int has_state(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_STATE, m->has_state); }
static int has_phase(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_PHASE, m->has_phase); }
static int has_addrs(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_ADDR, m->naddr > 0); }
static int has_name(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_NAME, m->hello.name[0] != '\0'); }
static int has_reason(const struct msg_def *d, const struct nvdp_msg *m)
{ return want(d, SB_REASON, m->reason[0] != '\0'); }

static uint16_t
addr_type(const struct nvdp_addr *a)
{
    int v6 = a->family == 6;

    switch (a->kind) {
    case NVDP_ADDR_HOST: return v6 ? NVDP_SUB_ADDR_IP6 : NVDP_SUB_ADDR_IP4;
    case NVDP_ADDR_PREFIX: return v6 ? NVDP_SUB_ADDR_PFX6 : NVDP_SUB_ADDR_PFX4;
    case NVDP_ADDR_RANGE: return v6 ? NVDP_SUB_ADDR_RNG6 : NVDP_SUB_ADDR_RNG4;
    }
    return NVDP_SUB_ADDR_MAC;
}

static size_t
addr_vlen(const struct nvdp_addr *a)
{
    return sub_lookup(addr_type(a))->min;
}

static size_t sz16(const struct nvdp_msg *m) { return 16; }
static size_t sz4(const struct nvdp_msg *m) { return 4; }
static size_t sz2(const struct nvdp_msg *m) { return 2; }
static size_t sz1(const struct nvdp_msg *m) { return 1; }
static size_t sz_vn(const struct nvdp_msg *m)
{ return m->vn.kind == NVDP_VN_UUID ? 16 : 4; }
static size_t sz_name(const struct nvdp_msg *m)
{ return strnlen(m->hello.name, NVDP_MAX_NAME); }
static size_t sz_reason(const struct nvdp_msg *m)
{ return strnlen(m->reason, NVDP_MAX_REASON); }

static size_t
sz_addrs(const struct nvdp_msg *m)
{
    size_t i, n = 0, cnt = m->naddr > NVDP_MAX_ADDRS ? NVDP_MAX_ADDRS : m->naddr;

    /* Sub-TLV headers of all but the first are counted here; the caller
     * adds one TLV header per row. */
    for (i = 0; i < cnt; i++)
        n += addr_vlen(&m->addr[i]) + (i ? NVDP_TLV_HLEN : 0);
    return n;
}

static void put_vnic(struct wcur *c, const struct nvdp_msg *m)
{ put_tlv_hdr(c, NVDP_SUB_VNIC, 16); put_bytes(c, m->vnic.b, 16); }

static void
put_vn(struct wcur *c, const struct nvdp_msg *m)
{
    if (m->vn.kind == NVDP_VN_UUID) {
        put_tlv_hdr(c, NVDP_SUB_VN_UUID, 16);
        put_bytes(c, m->vn.uuid.b, 16);
    } else {
        put_tlv_hdr(c, NVDP_SUB_VNI, 4);
        put_u32(c, m->vn.vni);
    }
}

static void put_tag(struct wcur *c, const struct nvdp_msg *m)
{ put_tlv_hdr(c, NVDP_SUB_TAG, 2); put_u16(c, m->tag); }
static void put_hint(struct wcur *c, const struct nvdp_msg *m)
{ put_tlv_hdr(c, NVDP_SUB_TAG_HINT, 2); put_u16(c, m->tag_hint); }
static void put_intent(struct wcur *c, const struct nvdp_msg *m)
{ put_tlv_hdr(c, NVDP_SUB_INTENT, 1); put_u8(c, m->intent); }
static void put_flags(struct wcur *c, const struct nvdp_msg *m)
{ put_tlv_hdr(c, NVDP_SUB_FLAGS, 4); put_u32(c, m->rflags); }
static void put_state(struct wcur *c, const struct nvdp_msg *m)
{ put_tlv_hdr(c, NVDP_SUB_STATE, 1); put_u8(c, m->state); }
static void put_phase(struct wcur *c, const struct nvdp_msg *m)
{ put_tlv_hdr(c, NVDP_SUB_PHASE, 1); put_u8(c, m->phase); }

static void
put_name(struct wcur *c, const struct nvdp_msg *m)
{
    size_t n = sz_name(m);
    put_tlv_hdr(c, NVDP_SUB_NAME, n);
    put_bytes(c, m->hello.name, n);
}

static void
put_reason(struct wcur *c, const struct nvdp_msg *m)
{
    size_t n = sz_reason(m);
    put_tlv_hdr(c, NVDP_SUB_REASON, n);
    put_bytes(c, m->reason, n);
}

static void
put_addrs(struct wcur *c, const struct nvdp_msg *m)
{
    uint16_t i;

    for (i = 0; i < m->naddr; i++) {
        const struct nvdp_addr *a = &m->addr[i];
        size_t alen = a->family == 6 ? 16 : 4;

        put_tlv_hdr(c, addr_type(a), addr_vlen(a));
        put_bytes(c, a->mac, 6);
        if (a->kind == NVDP_ADDR_MAC)
            continue;
        put_bytes(c, a->ip, alen);
        if (a->kind == NVDP_ADDR_PREFIX)
            put_u8(c, a->plen);
        else if (a->kind == NVDP_ADDR_RANGE)
            put_bytes(c, a->ip_hi, alen);
    }
}

/* Canonical encoding order (protocol-spec/nvdp.md, "Canonical order"). */
static const struct sub_enc {
    sub_has_fn has;
    sub_size_fn size; /* value length (for SB_ADDR: see sz_addrs) */
    sub_put_fn put;
} sub_encs[] = {
    {has_vnic, sz16, put_vnic},
    {has_vn, sz_vn, put_vn},
    {has_tag, sz2, put_tag},
    {has_hint, sz2, put_hint},
    {has_intent, sz1, put_intent},
    {has_flags, sz4, put_flags},
    {has_state, sz1, put_state},
    {has_phase, sz1, put_phase},
    {has_addrs, sz_addrs, put_addrs},
    {has_name, sz_name, put_name},
    {has_reason, sz_reason, put_reason},
};
#define N_SUB_ENCS (sizeof(sub_encs) / sizeof(sub_encs[0]))

/* The encoder refuses what the decoder would refuse, so a bug in a daemon
 * shows up at the sender rather than as a MALFORMED from the peer. */
static int
msg_check(const struct msg_def *d, const struct nvdp_msg *m)
{
    uint16_t i;

    if (d->fixed == FX_HELLO) {
        const struct nvdp_hello *h = &m->hello;
        if (!enum2_ok(h->role) || !h->hold_time || !h->hello_interval ||
            !h->window)
            return NVDP_E_VALUE;
    } else if (m->txid == 0) {
        return NVDP_E_VALUE;
    }
    if ((d->required & SB_VN) && m->vn.kind == NVDP_VN_NONE)
        return NVDP_E_MISSING;
    if (has_vn(d, m) && m->vn.kind != NVDP_VN_UUID &&
        (m->vn.kind != NVDP_VN_VNI || m->vn.vni > NVDP_VNI_MAX))
        return NVDP_E_VALUE;
    if ((has_tag(d, m) && !tag_ok(m->tag)) ||
        (has_hint(d, m) && !tag_ok(m->tag_hint)) ||
        (has_intent(d, m) && !enum2_ok(m->intent)) ||
        (has_state(d, m) && !enum2_ok(m->state)) ||
        (has_phase(d, m) && !enum2_ok(m->phase)))
        return NVDP_E_VALUE;
    if (has_flags(d, m) && (m->rflags & ~NVDP_RF_RR))
        return NVDP_E_VALUE;
    if ((d->required & SB_NAME) && !text_ok(m->hello.name, NVDP_MAX_NAME))
        return NVDP_E_MISSING;
    if ((d->required & SB_REASON) && !text_ok(m->reason, NVDP_MAX_REASON))
        return NVDP_E_MISSING;
    if (has_name(d, m) && !memchr(m->hello.name, 0, NVDP_MAX_NAME + 1))
        return NVDP_E_VALUE;
    if (has_reason(d, m) && !memchr(m->reason, 0, NVDP_MAX_REASON + 1))
        return NVDP_E_VALUE;
    if (m->naddr > NVDP_MAX_ADDRS)
        return NVDP_E_TOOMANY;
    if ((d->required & SB_ADDR) && m->naddr == 0)
        return NVDP_E_MISSING;
    for (i = 0; has_addrs(d, m) && i < m->naddr; i++)
        if (!nvdp_addr_valid(&m->addr[i]))
            return NVDP_E_VALUE;
    return 0;
}

size_t
nvdp_msg_size(const struct nvdp_msg *msg)
{
    const struct msg_def *d = msg_lookup(msg->type);
    size_t i, n;

    if (!d)
        return 0;
    n = NVDP_TLV_HLEN + d->fixed_len;
    for (i = 0; i < N_SUB_ENCS; i++)
        if (sub_encs[i].has(d, msg))
            n += NVDP_TLV_HLEN + sub_encs[i].size(msg);
    return n;
}

void
nvdp_writer_init(struct nvdp_writer *w, uint8_t *buf, size_t cap,
                 uint32_t epoch, uint32_t peer_epoch)
{
    struct wcur c = {buf, cap, 0};

    if (cap > NVDP_FRAME_MAX)
        cap = NVDP_FRAME_MAX;
    w->buf = buf;
    w->cap = cap;
    w->len = NVDP_HDR_LEN;
    w->nmsg = 0;
    put_u8(&c, NVDP_VERSION);
    put_u8(&c, 0);
    put_u16(&c, 0);
    put_u32(&c, epoch);
    put_u32(&c, peer_epoch);
    if (c.err) /* a buffer that cannot hold a header holds no message */
        w->len = w->cap;
}

int
nvdp_writer_add(struct nvdp_writer *w, const struct nvdp_msg *msg)
{
    const struct msg_def *d = msg_lookup(msg->type);
    struct wcur c;
    size_t need, i;
    int rc;

    if (!d)
        return NVDP_E_UNKNOWN;
    if ((rc = msg_check(d, msg)) != 0)
        return rc;
    need = nvdp_msg_size(msg);
    if (need - NVDP_TLV_HLEN > 0xffff || w->len > w->cap ||
        need > w->cap - w->len)
        return NVDP_E_NOSPACE;

    c.p = w->buf + w->len, c.left = need, c.err = 0;
    put_tlv_hdr(&c, msg->type, need - NVDP_TLV_HLEN);
    switch (d->fixed) {
    case FX_HELLO:
        put_u8(&c, msg->hello.role);
        put_u8(&c, msg->hello.flags); /* none defined yet: callers leave 0 */
        put_u16(&c, msg->hello.hold_time);
        put_u16(&c, msg->hello.hello_interval);
        put_u16(&c, msg->hello.window);
        break;
    case FX_RESPONSE:
        put_u32(&c, msg->txid);
        put_u16(&c, msg->status);
        put_u16(&c, msg->req_type);
        break;
    default:
        put_u32(&c, msg->txid);
        break;
    }
    for (i = 0; i < N_SUB_ENCS; i++)
        if (sub_encs[i].has(d, msg))
            sub_encs[i].put(&c, msg);
    if (c.err || c.left != 0)
        return NVDP_E_NOSPACE; /* size/put mismatch: a codec bug */
    w->len += need;
    w->nmsg++;
    return 0;
}

size_t
nvdp_writer_finish(struct nvdp_writer *w)
{
    size_t tlv;

    if (w->len < NVDP_HDR_LEN || w->cap < NVDP_HDR_LEN)
        return 0;
    tlv = w->len - NVDP_HDR_LEN;
    w->buf[2] = (uint8_t)(tlv >> 8);
    w->buf[3] = (uint8_t)tlv;
    return w->len;
}
