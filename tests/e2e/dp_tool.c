/* dp_tool.c - drives hv-agent's data plane module (hv_dp) from stdin for
 * the dp_*.sh tests: "set IF MAC TAG", "del IF", "retry", "json", "quit".
 * Without arguments (as run by "make check") it is a self-test: the bpf
 * object loads, verifies and attaches in a private network namespace. */
#include "config.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hv_dp.h"
#include "log.h"
#include "nvdp.h"

static int check(int cond, const char *what)
{
    printf("%s %s\n", cond ? "ok" : "FAIL", what);
    return cond ? 0 : 1;
}

static int selftest(void)
{
    char err[256];
    const uint8_t mac[6] = {0x52, 0x54, 0, 0, 0, 1};
    struct hv_dp *dp;
    struct json_object *o, *a, *c;
    int bad = 0;

    log_init("dp_tool", 1, 1);
    if (geteuid() != 0) {
        printf("SKIP: needs root (bpf load, network namespace)\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        perror("unshare(CLONE_NEWNET)");
        return 77;
    }
    bad += check(hv_dp_open("lo", "bogus", err, sizeof(err)) == NULL,
                 "unknown mode refused");
    bad += check(hv_dp_open("nonexistent0", "bpf", err, sizeof(err)) == NULL,
                 "missing uplink refused");
#ifndef HAVE_BPF
    printf("SKIP: built without the tc-bpf data plane\n");
    return bad ? 1 : 77;
#else
    dp = hv_dp_open("lo", "bpf", err, sizeof(err));
    bad += check(dp && hv_dp_backend(dp) == HV_DP_BPF, "bpf object loads, verifies, attaches");
    if (!dp) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* lo exists: installed; vnetX does not: kept waiting */
    bad += check(hv_dp_vnic_set(dp, "lo", mac, 100) == 0, "set lo tag 100");
    bad += check(hv_dp_vnic_set(dp, "vnet-missing", mac, 5) == 0, "set missing if");
    bad += check(hv_dp_retry(dp) == 1, "one VNIC waits for its interface");
    bad += check(hv_dp_vnic_set(dp, "lo", mac, 4095) == -1, "tag 4095 refused");
    o = hv_dp_json(dp);
    a = json_object_object_get(o, "vnics");
    c = json_object_object_get(o, "counters");
    bad += check(a && json_object_array_length(a) == 2, "json lists 2 VNICs");
    bad += check(c && json_object_object_get(c, "drop_spoof") != NULL, "json has counters");
    bad += check(json_object_get_boolean(json_object_object_get(
                     json_object_array_get_idx(a, 0), "installed")), "lo installed");
    json_object_put(o);
    bad += check(hv_dp_vnic_del(dp, "lo") == 0, "del lo");
    bad += check(hv_dp_vnic_del(dp, "lo") == -1, "del unknown refused");
    hv_dp_close(dp);
    return bad ? 1 : 0;
#endif
}

int main(int argc, char **argv)
{
    if (argc == 1)
        return selftest();

    char line[256], err[256], ifname[64], mac_s[64];
    unsigned tag;
    uint8_t mac[6];
    struct hv_dp *dp;

    if (argc != 3) {
        fprintf(stderr, "usage: dp_tool UPLINK auto|bpf|none\n");
        return 2;
    }
    log_init("dp_tool", 1, 1);
    if (!(dp = hv_dp_open(argv[1], argv[2], err, sizeof(err)))) {
        fprintf(stderr, "dp_tool: %s\n", err);
        return 1;
    }
    printf("ready %s\n", hv_dp_backend(dp) == HV_DP_BPF ? "bpf" : "none");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        int rc = -1;
        if (sscanf(line, "set %63s %63s %u", ifname, mac_s, &tag) == 3 &&
            sscanf(mac_s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
                   &mac[2], &mac[3], &mac[4], &mac[5]) == 6)
            rc = hv_dp_vnic_set(dp, ifname, mac, (uint16_t)tag);
        else if (sscanf(line, "del %63s", ifname) == 1)
            rc = hv_dp_vnic_del(dp, ifname);
        else if (!strncmp(line, "retry", 5))
            rc = hv_dp_retry(dp);
        else if (!strncmp(line, "json", 4)) {
            struct json_object *o = hv_dp_json(dp);
            printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
            fflush(stdout);
            continue; /* the JSON line is the answer */
        } else if (!strncmp(line, "quit", 4))
            break;
        printf("%s %d\n", rc < 0 ? "err" : "ok", rc);
        fflush(stdout);
    }
    hv_dp_close(dp);
    return 0;
}
