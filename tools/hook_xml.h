/* hook_xml.h - libvirt domain XML -> the VNICs splitnve must attach: MAC,
 * VN (our metadata, 802.1Qbg typeid map, portgroup map), VNIC UUID, ifname. */
#ifndef HOOK_XML_H
#define HOOK_XML_H

#include <stddef.h>
#include <stdint.h>

#include "nvdp.h"

/* Namespace of our element inside <metadata>. Documented in nvdp-hook(8):
 *   <nvdp:vnics xmlns:nvdp="urn:splitnve:nvdp:1">
 *     <nvdp:vn mac="52:54:00:00:00:01" name="vni:100"
 *              [vnic="UUID"]> [<nvdp:ip address="10.0.0.1"/>...] </nvdp:vn>
 *     <nvdp:vn name="web"/>     (no mac: default for the other interfaces)
 *   </nvdp:vnics> */
#define HOOK_NS_URI "urn:splitnve:nvdp:1"

/* Namespace of VNIC UUIDs derived (UUIDv5, RFC 9562 section 5.5) from
 * "<domain uuid>/<mac>" (both lower case) when no instanceid is given. */
#define HOOK_UUID_NS "6b1c3f0e-4f6a-5c2e-9d1a-73706c69746e"

#define HOOK_MAX_IFACES 64
#define HOOK_MAX_IPS 16
#define HOOK_STR 256

/* Where an interface's VN came from. */
enum hook_vn_src {
    HOOK_VN_NONE = 0,      /* not ours: left alone */
    HOOK_VN_METADATA,      /* <nvdp:vn mac=...> */
    HOOK_VN_DEFAULT,       /* <nvdp:vn> without mac */
    HOOK_VN_QBG,           /* 802.1Qbg typeid through the map */
    HOOK_VN_PORTGROUP,     /* portgroup through the map */
};

struct hook_iface {
    char type[32];                /* libvirt type: bridge, network... */
    char mac[NVDP_MAC_STRLEN];    /* lower case aa:bb:... */
    char vn[HOOK_STR];            /* for hv-agent ("vni:N", a name...) */
    uint8_t vn_src;               /* enum hook_vn_src */
    char vnic[NVDP_UUID_STRLEN];  /* VNIC UUID */
    uint8_t vnic_from_qbg;        /* 1: instanceid, 0: derived or metadata */
    char ifname[64];              /* host side (target dev / guest actual) */
    char portgroup[HOOK_STR];     /* "network/portgroup" or "" */
    uint32_t qbg_typeid;          /* 802.1Qbg typeid, when has_qbg */
    uint8_t has_qbg;
    uint8_t refused;              /* ours but cannot be served: see reason */
    char reason[HOOK_STR];
    int nips;
    char ips[HOOK_MAX_IPS][64];
};

struct hook_domain {
    char name[HOOK_STR];
    char uuid[NVDP_UUID_STRLEN];
    int niface;
    struct hook_iface iface[HOOK_MAX_IFACES];
};

/* VN lookups for interfaces without metadata; either may be NULL.
 * Return the VN string or NULL. */
struct hook_maps {
    const char *(*by_typeid)(uint32_t typeid, void *arg);
    const char *(*by_portgroup)(const char *network, const char *portgroup,
                                void *arg);
    void *arg;
};

/* Parses the domain XML in buf. 0, or -1 with a message in err. Interfaces
 * without a VN are listed with vn_src HOOK_VN_NONE; interfaces that have a
 * VN but cannot be tagged here (hostdev passthrough) get refused=1. */
int hook_xml_parse(const char *buf, size_t len, const struct hook_maps *maps,
                   struct hook_domain *d, char *err, size_t errlen);

/* UUIDv5 of "<domain-uuid>/<mac>" in HOOK_UUID_NS. 0 / -1 on bad input. */
int hook_vnic_uuid(const char *dom_uuid, const char *mac,
                   char out[NVDP_UUID_STRLEN]);

#endif
