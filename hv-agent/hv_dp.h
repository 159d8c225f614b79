/* hv_dp.h - the hypervisor's tagging data plane: every attached VNIC's
 * frames leave the uplink with its VN's 802.1Q tag; tagged frames reach
 * only the VNICs of that tag, untagged. Backend chosen at run time. */
#ifndef HV_DP_H
#define HV_DP_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

enum hv_dp_backend {
    HV_DP_NONE = 0, /* no data plane (control plane only) */
    HV_DP_BPF,      /* tc-bpf programs + maps (bpf/hv_tag.bpf.c) */
};

/* Whether the running kernel has 802.1Q VLAN devices (8021q). Checked so
 * the log says why the bpf backend is used; /proc/net/vlan exists once
 * 8021q is loaded, and a built-in or loadable module is looked for. */
int hv_dp_kernel_vlan(void);

struct hv_dp;

/* mode: "auto" (bpf when built with it), "bpf", "none". Attaches to the
 * uplink's tc ingress. NULL with err on failure. */
struct hv_dp *hv_dp_open(const char *uplink, const char *mode, char *err,
                         size_t errlen);
void hv_dp_close(struct hv_dp *dp);
enum hv_dp_backend hv_dp_backend(const struct hv_dp *dp);

/* A VNIC behind host interface ifname with MAC mac gets tag (1..4094), or
 * tag 0: blocked (no tag yet, withdrawn, failed). Idempotent. If ifname
 * does not exist yet (a tap created after the hook ran) the VNIC is kept
 * and installed by hv_dp_retry(). 0 / -1 (err logged). */
int hv_dp_vnic_set(struct hv_dp *dp, const char *ifname,
                   const uint8_t mac[6], uint16_t tag);
/* Forgets the VNIC and detaches from its interface. 0 / -1 if unknown. */
int hv_dp_vnic_del(struct hv_dp *dp, const char *ifname);
/* Installs VNICs whose interface appeared since; interfaces that vanished
 * (the VM stopped) are detached. Returns how many are still waiting. */
int hv_dp_retry(struct hv_dp *dp);

/* {"backend":..., "uplink":..., "kernel_vlan":bool, "vnics":[{ifname, mac,
 * tag, installed}], "counters":{...}} */
struct json_object *hv_dp_json(struct hv_dp *dp);

/* Observer adapter for hv.h's struct hv_observer (arg = the hv_dp): an
 * attached VNIC gets its tag, any other state blocks it, detached
 * forgets it. */
struct hv_vnic;
void hv_dp_vnic_changed(void *arg, const struct hv_vnic *v);

#endif
