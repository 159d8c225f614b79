/* hv_vdpnl.h - the 802.1Qbg VDP netlink responder that libvirt talks to in
 * place of lldpad: RTM_SETLINK requests in, RTM_GETLINK status polls out. */
#ifndef HV_VDPNL_H
#define HV_VDPNL_H

#include <json-c/json.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

/* libvirt reads the responder's netlink port (= our pid) from here. */
#define HV_VDPNL_PIDFILE_DEFAULT "/run/lldpad.pid"

/* One association request as libvirt sends it (virnetdevvportprofile.c:
 * ifinfomsg + IFLA_IFNAME, IFLA_VFINFO_LIST/IFLA_VF_INFO/IFLA_VF_MAC and
 * IFLA_VF_VLAN, IFLA_VF_PORTS/IFLA_VF_PORT with IFLA_PORT_VSI_TYPE,
 * IFLA_PORT_INSTANCE_UUID, IFLA_PORT_REQUEST). */
struct hv_vdpnl_req {
    uint8_t op;          /* PORT_REQUEST_* */
    uint8_t uuid[16];    /* instance UUID = VNIC UUID */
    uint8_t mac[6];
    uint8_t has_mac;
    uint16_t vlan;       /* from IFLA_VF_VLAN; 0 = none */
    uint8_t mgr_id;
    uint32_t type_id;    /* 24 bits */
    uint8_t type_version;
    int ifindex;         /* the link libvirt named (macvtap's lower dev) */
    char ifname[IF_NAMESIZE];
};

/* Callbacks into hv-agent. request starts the NVDP operation and returns
 * HV_VDPNL_PENDING (the answer comes later through hv_vdpnl_complete) or a
 * PORT_VDP_RESPONSE_* code to answer at once (e.g. unknown VSI type, or
 * success when the VNIC is already in the requested state). */
#define HV_VDPNL_PENDING (-1)
struct hv_vdpnl_ops {
    int (*request)(void *arg, const struct hv_vdpnl_req *r);
    void *arg;
};

struct hv_vdpnl_counters {
    uint64_t setlink, getlink, malformed, unknown_type, refused;
    uint64_t unauthorised; /* sender neither root nor our user: ignored */
};

struct hv_vdpnl;

/* Binds a NETLINK_ROUTE socket to port getpid() and writes pidfile. Refuses
 * (NULL, err) when pidfile names another live process (lldpad running).
 * keep_ms: how long a finished request's answer stays visible to polls. */
struct hv_vdpnl *hv_vdpnl_open(const char *pidfile,
                               const struct hv_vdpnl_ops *ops,
                               uint32_t keep_ms, char *err, size_t errlen);
/* Removes the pid file if it is still ours and closes the socket. */
void hv_vdpnl_close(struct hv_vdpnl *v);
int hv_vdpnl_fd(const struct hv_vdpnl *v);
/* Reads and answers what the socket holds (non-blocking). now in ms. */
void hv_vdpnl_input(struct hv_vdpnl *v, uint64_t now);
/* The NVE's answer for an instance: PORT_VDP_RESPONSE_*. */
void hv_vdpnl_complete(struct hv_vdpnl *v, const uint8_t uuid[16],
                       uint16_t response, uint64_t now);
/* Whether a request for uuid is waiting for its answer (and its op). */
int hv_vdpnl_pending(const struct hv_vdpnl *v, const uint8_t uuid[16],
                     uint8_t *op);
/* Forgets answers older than keep_ms. */
void hv_vdpnl_expire(struct hv_vdpnl *v, uint64_t now);
const struct hv_vdpnl_counters *hv_vdpnl_counters(const struct hv_vdpnl *v);
struct json_object *hv_vdpnl_json(const struct hv_vdpnl *v);

/* NVDP status (enum nvdp_status) -> PORT_VDP_RESPONSE_*. */
uint16_t hv_vdpnl_status_response(uint16_t nvdp_status);

#endif
