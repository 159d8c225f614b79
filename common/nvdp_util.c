/* nvdp_util.c - text forms of NVDP identifiers: UUID, MAC, addresses, VN.
 * Shared by both daemons, the CLI and the config parsers; strict (no silent fix-ups). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/random.h>

#include "nvdp.h"

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
nvdp_uuid_parse(const char *s, struct nvdp_uuid *u)
{
    struct nvdp_uuid t;
    size_t i, n = 0;

    if (!s || strlen(s) != 36)
        return -1;
    for (i = 0; i < 36;) {
        int hi, lo;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i++] != '-')
                return -1;
            continue;
        }
        if ((hi = hexval(s[i])) < 0 || (lo = hexval(s[i + 1])) < 0)
            return -1;
        t.b[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    *u = t;
    return 0;
}

void
nvdp_uuid_fmt(const struct nvdp_uuid *u, char out[NVDP_UUID_STRLEN])
{
    /* by hand, not snprintf with 16 conversions: every log line, answer
     * and journal record about a VNIC formats its UUID (7% of hv-agent's
     * CPU in a burst of attaches) */
    static const char hex[] = "0123456789abcdef";
    char *o = out;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[u->b[i] >> 4];
        *o++ = hex[u->b[i] & 15];
    }
    *o = '\0';
}

int
nvdp_mac_parse(const char *s, uint8_t mac[6])
{
    uint8_t t[6];
    size_t i;

    /* Exactly "xx:xx:xx:xx:xx:xx" (or '-' separators, used consistently). */
    if (!s || strlen(s) != 17)
        return -1;
    for (i = 0; i < 6; i++) {
        int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        if (i < 5 && (s[i * 3 + 2] != s[2] || (s[2] != ':' && s[2] != '-')))
            return -1;
        t[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(mac, t, 6);
    return 0;
}

void
nvdp_mac_fmt(const uint8_t mac[6], char out[NVDP_MAC_STRLEN])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 6; i++) {
        out[3 * i] = hex[mac[i] >> 4];
        out[3 * i + 1] = hex[mac[i] & 15];
        out[3 * i + 2] = i < 5 ? ':' : '\0';
    }
}

int
nvdp_addr_valid(const struct nvdp_addr *a)
{
    static const uint8_t zero[6];
    size_t alen = a->family == 4 ? 4 : 16;
    size_t i;

    /* A VNIC address is a unicast station address. */
    if ((a->mac[0] & 0x01) || memcmp(a->mac, zero, 6) == 0)
        return 0;
    switch (a->kind) {
    case NVDP_ADDR_MAC:
        return a->family == 0;
    case NVDP_ADDR_HOST:
        return a->family == 4 || a->family == 6;
    case NVDP_ADDR_PREFIX:
        if ((a->family != 4 && a->family != 6) || a->plen > alen * 8)
            return 0;
        /* Canonical prefixes only, so equal prefixes compare equal. */
        for (i = 0; i < alen; i++) {
            unsigned bits = a->plen > i * 8 ? a->plen - i * 8 : 0;
            uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
            if (a->ip[i] & (uint8_t)~mask)
                return 0;
        }
        return 1;
    case NVDP_ADDR_RANGE:
        if (a->family != 4 && a->family != 6)
            return 0;
        return memcmp(a->ip, a->ip_hi, alen) <= 0;
    }
    return 0;
}

/* One IP literal of either family; returns 4, 6 or -1. */
static int
ip_parse(const char *s, size_t n, uint8_t out[16])
{
    char buf[INET6_ADDRSTRLEN];

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(out, 0, 16);
    if (inet_pton(AF_INET, buf, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, buf, out) == 1)
        return 6;
    return -1;
}

int
nvdp_addr_parse(const uint8_t mac[6], const char *ip, struct nvdp_addr *a)
{
    struct nvdp_addr t;
    const char *sep;
    int fam;

    memset(&t, 0, sizeof(t));
    memcpy(t.mac, mac, 6);
    if (!ip || !*ip) {
        t.kind = NVDP_ADDR_MAC;
    } else if ((sep = strchr(ip, '/')) != NULL) {
        char *end;
        long plen;

        if ((fam = ip_parse(ip, (size_t)(sep - ip), t.ip)) < 0)
            return -1;
        if (sep[1] < '0' || sep[1] > '9')
            return -1;
        errno = 0;
        plen = strtol(sep + 1, &end, 10);
        if (errno || *end || plen > (fam == 4 ? 32 : 128))
            return -1;
        t.kind = NVDP_ADDR_PREFIX;
        t.family = (uint8_t)fam;
        t.plen = (uint8_t)plen;
    } else if ((sep = strchr(ip, '-')) != NULL) {
        if ((fam = ip_parse(ip, (size_t)(sep - ip), t.ip)) < 0 ||
            ip_parse(sep + 1, strlen(sep + 1), t.ip_hi) != fam)
            return -1;
        t.kind = NVDP_ADDR_RANGE;
        t.family = (uint8_t)fam;
    } else {
        if ((fam = ip_parse(ip, strlen(ip), t.ip)) < 0)
            return -1;
        t.kind = NVDP_ADDR_HOST;
        t.family = (uint8_t)fam;
    }
    if (!nvdp_addr_valid(&t))
        return -1;
    *a = t;
    return 0;
}

void
nvdp_addr_fmt_ip(const struct nvdp_addr *a, char *out, size_t outlen)
{
    char lo[INET6_ADDRSTRLEN] = "", hi[INET6_ADDRSTRLEN] = "";
    int af = a->family == 6 ? AF_INET6 : AF_INET;

    if (outlen == 0)
        return;
    if (a->kind == NVDP_ADDR_MAC || (a->family != 4 && a->family != 6)) {
        out[0] = '\0';
        return;
    }
    inet_ntop(af, a->ip, lo, sizeof(lo));
    switch (a->kind) {
    case NVDP_ADDR_PREFIX:
        snprintf(out, outlen, "%s/%u", lo, a->plen);
        break;
    case NVDP_ADDR_RANGE:
        inet_ntop(af, a->ip_hi, hi, sizeof(hi));
        snprintf(out, outlen, "%s-%s", lo, hi);
        break;
    default:
        snprintf(out, outlen, "%s", lo);
        break;
    }
}

static int
vni_parse(const char *s, struct nvdp_vn *vn)
{
    char *end;
    unsigned long v;

    /* Digits only: strtoul would accept signs and blanks. */
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > NVDP_VNI_MAX)
        return -1;
    memset(vn, 0, sizeof(*vn));
    vn->kind = NVDP_VN_VNI;
    vn->vni = (uint32_t)v;
    return 0;
}

static int
vn_uuid_parse(const char *s, struct nvdp_vn *vn)
{
    struct nvdp_uuid u;

    if (nvdp_uuid_parse(s, &u))
        return -1;
    memset(vn, 0, sizeof(*vn));
    vn->kind = NVDP_VN_UUID;
    vn->uuid = u;
    return 0;
}

int
nvdp_vn_parse(const char *s, struct nvdp_vn *vn)
{
    if (!s)
        return -1;
    if (strncmp(s, "vni:", 4) == 0)
        return vni_parse(s + 4, vn);
    if (strncmp(s, "uuid:", 5) == 0)
        return vn_uuid_parse(s + 5, vn);
    if (strlen(s) == 36)
        return vn_uuid_parse(s, vn);
    return vni_parse(s, vn);
}

void
nvdp_vn_fmt(const struct nvdp_vn *vn, char *out, size_t outlen)
{
    char u[NVDP_UUID_STRLEN];

    switch (vn->kind) {
    case NVDP_VN_VNI:
        snprintf(out, outlen, "vni:%u", vn->vni);
        break;
    case NVDP_VN_UUID:
        nvdp_uuid_fmt(&vn->uuid, u);
        snprintf(out, outlen, "uuid:%s", u);
        break;
    default:
        snprintf(out, outlen, "none");
        break;
    }
}

int
nvdp_vn_equal(const struct nvdp_vn *a, const struct nvdp_vn *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case NVDP_VN_VNI:
        return a->vni == b->vni;
    case NVDP_VN_UUID:
        return memcmp(a->uuid.b, b->uuid.b, 16) == 0;
    }
    return 1;
}

int
nvdp_addr_equal(const struct nvdp_addr *a, const struct nvdp_addr *b)
{
    size_t alen = a->family == 4 ? 4 : 16;

    if (memcmp(a->mac, b->mac, 6) != 0 || a->kind != b->kind ||
        a->family != b->family)
        return 0;
    if (a->kind == NVDP_ADDR_MAC)
        return 1;
    if (memcmp(a->ip, b->ip, alen) != 0)
        return 0;
    if (a->kind == NVDP_ADDR_PREFIX)
        return a->plen == b->plen;
    if (a->kind == NVDP_ADDR_RANGE)
        return memcmp(a->ip_hi, b->ip_hi, alen) == 0;
    return 1;
}

void
nvdp_text_sanitise(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            p[0] = p[1] = '?';
    }
}

/* A boot epoch (spec: never 0, different across quick restarts): seconds
 * keep epochs readable and ordered for humans, the random part makes two
 * starts within one second differ. */
uint32_t
nvdp_epoch_new(void)
{
    struct timespec ts;
    uint32_t r = 0, e;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)getpid();
    e = (uint32_t)ts.tv_sec ^ r;
    return e ? e : 1;
}

void
nvdp_msg_init(struct nvdp_msg *m, uint16_t type)
{
    memset(m, 0, offsetof(struct nvdp_msg, addr));
    m->type = type;
}

void
nvdp_hello_msg(struct nvdp_msg *m, uint8_t role, uint16_t hold_time,
               uint16_t hello_interval, uint16_t window, const char *name)
{
    nvdp_msg_init(m, NVDP_MSG_HELLO);
    m->hello.role = role;
    m->hello.hold_time = hold_time;
    m->hello.hello_interval = hello_interval;
    m->hello.window = window;
    snprintf(m->hello.name, sizeof(m->hello.name), "%s", name);
}
