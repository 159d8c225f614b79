/* fwd_arp.c - ARP and neighbour discovery parsing and answers for the
 * forwarder's ARP/ND proxy and the snooping of VMs announcing themselves. */
#include <string.h>

#include "fwd_arp.h"
#include "fwd_pkt.h"

#define ETH_P_ARP 0x0806
#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SRC_LL 1
#define ND_OPT_TGT_LL 2

static const uint8_t zero16[16];

static int
arp_parse(const uint8_t *p, size_t len, struct fwd_arp *a)
{
    /* htype Ethernet, ptype IPv4, hlen 6, plen 4, op */
    if (len < 28 || fwd_rd16(p) != 1 || fwd_rd16(p + 2) != FWD_ETH_P_IP ||
        p[4] != 6 || p[5] != 4)
        return FWD_ARP_NONE;
    uint16_t op = fwd_rd16(p + 6);
    const uint8_t *sha = p + 8, *spa = p + 14, *tpa = p + 24;
    if (memcmp(spa, zero16, 4) == 0) /* a probe (RFC 5227): not ours */
        return FWD_ARP_NONE;
    a->family = 4;
    memcpy(a->sender_mac, sha, 6);
    memcpy(a->sender, spa, 4);
    memcpy(a->target, tpa, 4);
    if (memcmp(spa, tpa, 4) == 0 && (op == 1 || op == 2))
        return a->kind = FWD_ARP_ANNOUNCE;
    return a->kind = op == 1 ? FWD_ARP_REQUEST : FWD_ARP_NONE;
}

static int
nd_parse(const uint8_t *eth, const uint8_t *p, size_t len, struct fwd_arp *a)
{
    /* IPv6 header (40), ICMPv6 type, code, checksum, flags, target (24) */
    if (len < 64 || (p[0] >> 4) != 6 || p[6] != 58 || p[7] != 255 ||
        fwd_rd16(p + 4) < 24 || fwd_rd16(p + 4) > len - 40)
        return FWD_ARP_NONE;
    const uint8_t *icmp = p + 40;
    if (icmp[1] != 0)
        return FWD_ARP_NONE;
    a->family = 6;
    memcpy(a->sender_mac, eth + 6, 6);
    memcpy(a->sender, p + 8, 16);
    memcpy(a->target, icmp + 8, 16);
    if (icmp[0] == ND_NS) /* from :: it is duplicate address detection */
        return a->kind = memcmp(a->sender, zero16, 16) ? FWD_ND_SOLICIT
                                                        : FWD_ARP_NONE;
    if (icmp[0] == ND_NA && !(icmp[4] & 0x40)) /* S clear: unsolicited */
        return a->kind = FWD_ND_ANNOUNCE;
    return FWD_ARP_NONE;
}

int
fwd_arp_parse(const uint8_t *eth, const uint8_t *et, size_t len,
              struct fwd_arp *a)
{
    memset(a, 0, sizeof(*a));
    if (len < 2)
        return FWD_ARP_NONE;
    if (fwd_rd16(et) == ETH_P_ARP)
        return arp_parse(et + 2, len - 2, a);
    if (fwd_rd16(et) == FWD_ETH_P_IPV6)
        return nd_parse(eth, et + 2, len - 2, a);
    return FWD_ARP_NONE;
}

static size_t
arp_reply(const struct fwd_arp *a, const uint8_t mac[6], uint8_t *b)
{
    memset(b, 0, 60);
    memcpy(b, a->sender_mac, 6);
    memcpy(b + 6, mac, 6);
    fwd_wr16(b + 12, ETH_P_ARP);
    uint8_t *p = b + 14;
    fwd_wr16(p, 1);
    fwd_wr16(p + 2, FWD_ETH_P_IP);
    p[4] = 6;
    p[5] = 4;
    fwd_wr16(p + 6, 2);
    memcpy(p + 8, mac, 6);
    memcpy(p + 14, a->target, 4);
    memcpy(p + 18, a->sender_mac, 6);
    memcpy(p + 24, a->sender, 4);
    return 60;
}

static size_t
na_reply(const struct fwd_arp *a, const uint8_t mac[6], uint8_t *b)
{
    uint8_t *ip6 = b + 14, *icmp = b + 54;
    uint8_t ph[40];

    memcpy(b, a->sender_mac, 6);
    memcpy(b + 6, mac, 6);
    fwd_wr16(b + 12, FWD_ETH_P_IPV6);
    memset(ip6, 0, 40);
    ip6[0] = 0x60;
    fwd_wr16(ip6 + 4, 32);
    ip6[6] = 58;
    ip6[7] = 255;
    memcpy(ip6 + 8, a->target, 16);
    memcpy(ip6 + 24, a->sender, 16);
    memset(icmp, 0, 32);
    icmp[0] = ND_NA;
    icmp[4] = 0x60; /* solicited, override */
    memcpy(icmp + 8, a->target, 16);
    icmp[24] = ND_OPT_TGT_LL;
    icmp[25] = 1;
    memcpy(icmp + 26, mac, 6);
    /* pseudo-header: source, destination, length 32, next header 58 */
    memcpy(ph, ip6 + 8, 32);
    memset(ph + 32, 0, 8);
    ph[35] = 32;
    ph[39] = 58;
    uint32_t sum = fwd_csum_add(fwd_csum_add(0, ph, 40), icmp, 32);
    fwd_wr16(icmp + 2, (uint16_t)~fwd_csum_fold(sum));
    return 86;
}

size_t
fwd_arp_reply(const struct fwd_arp *a, const uint8_t target_mac[6],
              uint8_t *buf)
{
    if (a->kind == FWD_ARP_REQUEST)
        return arp_reply(a, target_mac, buf);
    if (a->kind == FWD_ND_SOLICIT)
        return na_reply(a, target_mac, buf);
    return 0;
}
