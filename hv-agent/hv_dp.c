/* hv_dp.c - loads bpf/hv_tag.bpf.c (embedded at build time) with libbpf,
 * attaches it to the uplink and to each VNIC, and keeps its maps in step. */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hv_dp.h"
#include "hv_state.h"
#include "log.h"
#include "nvdp.h"

#ifdef HAVE_BPF
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../bpf/hv_tag.h"
/* generated from bpf/hv_tag.bpf.o by xxd -i (Makefile.am) */
extern const unsigned char hv_tag_bpf_o[];
extern const unsigned int hv_tag_bpf_o_len;
#define HV_DP_TC_HANDLE 0x5e7e /* our filter's handle and priority: a */
#define HV_DP_TC_PRIO 0x5e7e   /* restart replaces it, never stacks */
#endif

struct hv_dp_vnic {
    char ifname[IF_NAMESIZE];
    unsigned ifindex; /* 0 = interface not there (yet) */
    uint8_t mac[6];
    uint16_t tag;
    uint8_t installed;
};

struct hv_dp {
    enum hv_dp_backend backend;
    char uplink[IF_NAMESIZE];
    unsigned uplink_ifindex;
    int kernel_vlan;
    struct hv_dp_vnic *v;
    size_t nv, cap;
#ifdef HAVE_BPF
    struct bpf_object *obj;
    int fd_vnic_prog, fd_uplink_prog;
    int fd_vnics, fd_fdb, fd_members, fd_cfg, fd_stats;
#endif
};

int hv_dp_kernel_vlan(void)
{
    struct utsname u;
    char p[512];
    struct stat st;

    if (stat("/proc/net/vlan", &st) == 0)
        return 1;
    if (uname(&u) < 0)
        return 0;
    snprintf(p, sizeof(p), "/lib/modules/%s/kernel/net/8021q", u.release);
    return stat(p, &st) == 0;
}

enum hv_dp_backend hv_dp_backend(const struct hv_dp *dp)
{
    return dp ? dp->backend : HV_DP_NONE;
}

static struct hv_dp_vnic *find(struct hv_dp *dp, const char *ifname)
{
    for (size_t i = 0; i < dp->nv; i++)
        if (!strcmp(dp->v[i].ifname, ifname))
            return &dp->v[i];
    return NULL;
}

#ifdef HAVE_BPF
static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt,
                        va_list ap)
{
    /* libbpf warns about the clsact qdisc we find already there (EEXIST,
     * expected on every VNIC after the first attach): only at -vv */
    if (lvl == LIBBPF_WARN && log_getverbose() > 1)
        return vfprintf(stderr, fmt, ap);
    return 0;
}

static int tc_attach(unsigned ifindex, int prog_fd)
{
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
                        .attach_point = BPF_TC_INGRESS);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = HV_DP_TC_HANDLE,
                        .priority = HV_DP_TC_PRIO, .prog_fd = prog_fd,
                        .flags = BPF_TC_F_REPLACE);
    int rc = bpf_tc_hook_create(&hook);

    if (rc && rc != -EEXIST)
        return rc;
    return bpf_tc_attach(&hook, &opts);
}

static void tc_detach(unsigned ifindex)
{
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
                        .attach_point = BPF_TC_INGRESS);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = HV_DP_TC_HANDLE,
                        .priority = HV_DP_TC_PRIO);
    bpf_tc_detach(&hook, &opts); /* gone with its interface is fine */
}

static int bpf_open(struct hv_dp *dp, char *err, size_t errlen)
{
    DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "hv_tag");
    struct hv_tag_cfg c = {.uplink = dp->uplink_ifindex};
    __u32 zero = 0;
    int rc;

    libbpf_set_print(libbpf_quiet);
    dp->obj = bpf_object__open_mem(hv_tag_bpf_o, hv_tag_bpf_o_len, &oo);
    if (!dp->obj) {
        snprintf(err, errlen, "bpf: open: %s", strerror(errno));
        return -1;
    }
    if ((rc = bpf_object__load(dp->obj))) {
        snprintf(err, errlen, "bpf: load (needs root/CAP_BPF): %s",
                 strerror(-rc));
        return -1;
    }
    dp->fd_vnic_prog = bpf_program__fd(
        bpf_object__find_program_by_name(dp->obj, "hv_tag_vnic_in"));
    dp->fd_uplink_prog = bpf_program__fd(
        bpf_object__find_program_by_name(dp->obj, "hv_tag_uplink_in"));
    dp->fd_vnics = bpf_object__find_map_fd_by_name(dp->obj, "vnics");
    dp->fd_fdb = bpf_object__find_map_fd_by_name(dp->obj, "fdb");
    dp->fd_members = bpf_object__find_map_fd_by_name(dp->obj, "members");
    dp->fd_cfg = bpf_object__find_map_fd_by_name(dp->obj, "cfg");
    dp->fd_stats = bpf_object__find_map_fd_by_name(dp->obj, "stats");
    if (dp->fd_vnic_prog < 0 || dp->fd_uplink_prog < 0 || dp->fd_vnics < 0 ||
        dp->fd_fdb < 0 || dp->fd_members < 0 || dp->fd_cfg < 0 ||
        dp->fd_stats < 0) {
        snprintf(err, errlen, "bpf: object lacks a program or map");
        return -1;
    }
    if (bpf_map_update_elem(dp->fd_cfg, &zero, &c, BPF_ANY) ||
        (rc = tc_attach(dp->uplink_ifindex, dp->fd_uplink_prog))) {
        snprintf(err, errlen, "bpf: attach to %s: %s", dp->uplink,
                 strerror(rc ? -rc : errno));
        return -1;
    }
    return 0;
}

/* Rewrites the flood list of tag from the table (small: a few VNICs). */
static void members_sync(struct hv_dp *dp, uint16_t tag)
{
    struct hv_tag_members m = {0};
    __u32 key = tag;

    if (!tag)
        return;
    for (size_t i = 0; i < dp->nv; i++) {
        const struct hv_dp_vnic *x = &dp->v[i];
        if (!x->installed || x->tag != tag)
            continue;
        if (m.n == HV_TAG_MAX_MEMBERS) {
            /* unicast still works; broadcast misses the extra VNICs */
            log_warnx("dataplane: more than %d VNICs with tag %u: %s gets "
                      "no local floods", HV_TAG_MAX_MEMBERS, tag, x->ifname);
            continue;
        }
        m.ifindex[m.n++] = x->ifindex;
    }
    if (m.n)
        bpf_map_update_elem(dp->fd_members, &key, &m, BPF_ANY);
    else
        bpf_map_delete_elem(dp->fd_members, &key);
}

static void fdb_set(struct hv_dp *dp, const struct hv_dp_vnic *x, int add)
{
    struct hv_tag_fdb_key k = {.tag = x->tag};
    __u32 ifi = x->ifindex;
    if (!x->tag)
        return;
    memcpy(k.mac, x->mac, 6);
    if (add) {
        if (bpf_map_update_elem(dp->fd_fdb, &k, &ifi, BPF_ANY) < 0)
            log_warn("dataplane: fdb entry for %s", x->ifname);
        return;
    }
    /* Another VNIC may own (tag, MAC) now (a VM moved between taps):
     * remove the entry only if it still points at x. */
    __u32 cur;
    if (bpf_map_lookup_elem(dp->fd_fdb, &k, &cur) == 0 && cur == ifi)
        bpf_map_delete_elem(dp->fd_fdb, &k);
}

/* Removes x's entries from the maps (keeps the tc filter). */
static void bpf_unprogram(struct hv_dp *dp, struct hv_dp_vnic *x)
{
    __u32 ifi = x->ifindex;
    if (!x->installed)
        return;
    fdb_set(dp, x, 0);
    bpf_map_delete_elem(dp->fd_vnics, &ifi);
    x->installed = 0;
    members_sync(dp, x->tag);
}

/* Installs x as it is now (ifindex resolved). Order matters: the VNIC's
 * own entry (which gates its ingress) is written last, so a VM never
 * sends before its replies can be delivered. */
static int bpf_program_vnic(struct hv_dp *dp, struct hv_dp_vnic *x)
{
    struct hv_tag_vnic val = {.tag = x->tag};
    __u32 ifi = x->ifindex;
    int rc;

    memcpy(val.mac, x->mac, 6);
    if ((rc = tc_attach(x->ifindex, dp->fd_vnic_prog))) {
        log_warnx("dataplane: attach to %s: %s", x->ifname, strerror(-rc));
        return -1;
    }
    x->installed = 1;
    fdb_set(dp, x, 1);
    members_sync(dp, x->tag);
    if (bpf_map_update_elem(dp->fd_vnics, &ifi, &val, BPF_ANY)) {
        log_warn("dataplane: vnics map for %s", x->ifname);
        return -1;
    }
    return 0;
}
#endif

struct hv_dp *hv_dp_open(const char *uplink, const char *mode, char *err,
                         size_t errlen)
{
    struct hv_dp *dp = calloc(1, sizeof(*dp));

    if (!dp) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(dp->uplink, sizeof(dp->uplink), "%s", uplink);
    dp->kernel_vlan = hv_dp_kernel_vlan();
    if (!strcmp(mode, "none"))
        return dp;
    if (strcmp(mode, "auto") && strcmp(mode, "bpf")) {
        snprintf(err, errlen, "unknown data plane '%s' (auto, bpf, none)",
                 mode);
        free(dp);
        return NULL;
    }
#ifdef HAVE_BPF
    if (!(dp->uplink_ifindex = if_nametoindex(uplink))) {
        snprintf(err, errlen, "uplink %s: %s", uplink, strerror(errno));
        free(dp);
        return NULL;
    }
    if (bpf_open(dp, err, errlen) < 0) {
        if (dp->obj)
            bpf_object__close(dp->obj);
        free(dp);
        return NULL;
    }
    dp->backend = HV_DP_BPF;
    /* Kernel VLAN devices would need a bridge per VN and cannot express
     * "no tag yet = no traffic" per VNIC as directly; bpf is used on any
     * kernel with tc-bpf, and the log says what the kernel offers. */
    log_info("dataplane: tc-bpf tagging on %s (kernel 802.1Q devices %s)",
             uplink, dp->kernel_vlan ? "available, not needed" : "absent");
    return dp;
#else
    if (!strcmp(mode, "bpf")) {
        snprintf(err, errlen, "built without the tc-bpf data plane "
                 "(needs libbpf-dev, clang, xxd at build time)");
        free(dp);
        return NULL;
    }
    log_warnx("dataplane: built without tc-bpf: VNIC traffic is not tagged");
    return dp;
#endif
}

void hv_dp_close(struct hv_dp *dp)
{
    if (!dp)
        return;
#ifdef HAVE_BPF
    if (dp->backend == HV_DP_BPF) {
        for (size_t i = 0; i < dp->nv; i++)
            if (dp->v[i].installed)
                tc_detach(dp->v[i].ifindex);
        tc_detach(dp->uplink_ifindex);
        bpf_object__close(dp->obj);
    }
#endif
    free(dp->v);
    free(dp);
}

int hv_dp_vnic_set(struct hv_dp *dp, const char *ifname,
                   const uint8_t mac[6], uint16_t tag)
{
    struct hv_dp_vnic *x;

    if (!dp || !ifname || !ifname[0] || tag > NVDP_TAG_MAX)
        return -1;
    if (!(x = find(dp, ifname))) {
        if (dp->nv == dp->cap) {
            size_t nc = dp->cap ? dp->cap * 2 : 16;
            void *n = realloc(dp->v, nc * sizeof(*dp->v));
            if (!n)
                return -1;
            dp->v = n;
            dp->cap = nc;
        }
        x = &dp->v[dp->nv++];
        memset(x, 0, sizeof(*x));
        snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
    } else if (x->tag == tag && !memcmp(x->mac, mac, 6) && x->installed) {
        return 0;
    }
    log_debug("dataplane: %s tag %u -> %u", ifname, x->tag, tag);
#ifdef HAVE_BPF
    if (dp->backend == HV_DP_BPF) {
        bpf_unprogram(dp, x);
        memcpy(x->mac, mac, 6);
        x->tag = tag;
        x->ifindex = if_nametoindex(ifname);
        if (!x->ifindex)
            return 0; /* hv_dp_retry() installs it */
        return bpf_program_vnic(dp, x);
    }
#endif
    memcpy(x->mac, mac, 6);
    x->tag = tag;
    return 0;
}

int hv_dp_vnic_del(struct hv_dp *dp, const char *ifname)
{
    struct hv_dp_vnic *x;

    if (!dp || !ifname || !(x = find(dp, ifname)))
        return -1;
#ifdef HAVE_BPF
    if (dp->backend == HV_DP_BPF && x->installed) {
        bpf_unprogram(dp, x);
        tc_detach(x->ifindex);
    }
#endif
    *x = dp->v[--dp->nv];
    return 0;
}

int hv_dp_retry(struct hv_dp *dp)
{
    int waiting = 0;

    if (!dp)
        return 0;
#ifdef HAVE_BPF
    for (size_t i = 0; dp->backend == HV_DP_BPF && i < dp->nv; i++) {
        struct hv_dp_vnic *x = &dp->v[i];
        unsigned ifi = if_nametoindex(x->ifname);
        if (x->installed && ifi == x->ifindex)
            continue;
        if (x->installed) /* gone, or recreated with a new index */
            bpf_unprogram(dp, x);
        x->ifindex = ifi;
        if (!ifi || bpf_program_vnic(dp, x) < 0)
            waiting++;
    }
#endif
    return waiting;
}

struct json_object *hv_dp_json(struct hv_dp *dp)
{
    struct json_object *o = json_object_new_object(), *a;
    char mac[NVDP_MAC_STRLEN];

    json_object_object_add(o, "backend", json_object_new_string(
        dp && dp->backend == HV_DP_BPF ? "bpf" : "none"));
    if (!dp)
        return o;
    json_object_object_add(o, "uplink", json_object_new_string(dp->uplink));
    json_object_object_add(o, "kernel_vlan",
                           json_object_new_boolean(dp->kernel_vlan));
    a = json_object_new_array();
    for (size_t i = 0; i < dp->nv; i++) {
        struct json_object *e = json_object_new_object();
        const struct hv_dp_vnic *x = &dp->v[i];
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
                 x->mac[0], x->mac[1], x->mac[2], x->mac[3], x->mac[4],
                 x->mac[5]);
        json_object_object_add(e, "ifname", json_object_new_string(x->ifname));
        json_object_object_add(e, "mac", json_object_new_string(mac));
        json_object_object_add(e, "tag", json_object_new_int(x->tag));
        json_object_object_add(e, "installed",
                               json_object_new_boolean(x->installed));
        json_object_array_add(a, e);
    }
    json_object_object_add(o, "vnics", a);
#ifdef HAVE_BPF
    if (dp->backend == HV_DP_BPF) {
        static const char *names[HV_TAG_ST_MAX] = {
            "tx", "tx_local", "rx", "drop_notag", "drop_spoof",
            "drop_unknown", "drop_error"};
        int ncpu = libbpf_num_possible_cpus();
        struct json_object *c = json_object_new_object();
        __u64 *vals = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*vals)) : NULL;
        for (__u32 k = 0; vals && k < HV_TAG_ST_MAX; k++) {
            uint64_t sum = 0;
            if (bpf_map_lookup_elem(dp->fd_stats, &k, vals) == 0)
                for (int i = 0; i < ncpu; i++)
                    sum += vals[i];
            json_object_object_add(c, names[k], json_object_new_int64((int64_t)sum));
        }
        free(vals);
        json_object_object_add(o, "counters", c);
    }
#endif
    return o;
}

void hv_dp_vnic_changed(void *arg, const struct hv_vnic *v)
{
    struct hv_dp *dp = arg;

    struct hv_dp_vnic *x;

    if (!v->ifname[0])
        return;
    if (v->state == HV_VNIC_DETACHED) {
        /* the name may already belong to a newer VNIC (a reused tap name):
         * only the VNIC that owns the entry removes it */
        if ((x = find(dp, v->ifname)) && !memcmp(x->mac, v->mac, 6))
            hv_dp_vnic_del(dp, v->ifname);
        return;
    }
    /* only an attached VNIC passes traffic; everything else is blocked,
     * including a pre-associated one whose tag is reserved */
    hv_dp_vnic_set(dp, v->ifname, v->mac,
                   v->state == HV_VNIC_ATTACHED ? v->tag : 0);
}
