/* fwd_run.c - bench helper: runs nve-agent's forwarder (fwd/libfwd.a,
 * through fwd.h only) alone, programmed from the command line, for a fixed
 * time; prints its counters as JSON. Lets bench/fwd_bench and debugging
 * drive the packet path without the NVDP control plane. Not installed.
 *
 * fwd_run -u UNDERLAY_IF -l LOCAL_IP [-P UDP_PORT] [-c CPU] [-t SECONDS]
 *         [-x on|off] -p ID:IFNAME ... -b ID:TAG:VNI ... -m VNI:ID:MAC ...
 *         -r VNI:MAC=IP ... -f VNI:IP ...
 * -x: the XDP fast path (default on, as nve-agent.conf's fastpath).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fwd.h"
#include "log.h"
#include "nvdp.h"

static volatile sig_atomic_t stop, dump;

static void
on_sig(int s)
{
    if (s == SIGUSR1)
        dump = 1;
    else
        stop = 1;
}

static void
print_counters(struct fwd *f, int tables)
{
    struct json_object *c = tables ? fwd_dump_json(f) : fwd_counters_json(f);
    printf("%s\n", json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
    fflush(stdout);
    json_object_put(c);
}

/* Without arguments (make check): the error paths need no privilege. */
static int
selftest(void)
{
    struct fwd_params p;
    memset(&p, 0, sizeof(p));
    log_init("fwd_run", 1, 0);
    snprintf(p.local_ip, sizeof(p.local_ip), "192.0.2.1");
    struct fwd *f = fwd_new(&p);
    int bad = f == NULL;
    if (f != NULL) {
        /* no underlay interface: refused, tables still usable */
        bad |= fwd_start(f, -1) != -1;
        snprintf(p.underlay_if, sizeof(p.underlay_if), "nosuchif0");
        fwd_free(f);
        f = fwd_new(&p);
        bad |= f == NULL || fwd_start(f, -1) != -1;
        bad |= fwd_port_add(f, 0, "nosuchif1") != 0;
        bad |= fwd_vn_bind(f, 0, 10, 5000) != 0;
        struct json_object *j = fwd_dump_json(f);
        bad |= j == NULL;
        json_object_put(j);
        fwd_free(f);
    }
    snprintf(p.local_ip, sizeof(p.local_ip), "not-an-address");
    bad |= fwd_new(&p) != NULL;
    printf("fwd_run self-test: %s\n", bad ? "FAIL" : "ok");
    return bad;
}

static int
usage(void)
{
    fprintf(stderr, "usage: fwd_run -u IF -l IP [-P PORT] [-c CPU] [-t S] "
            "[-x on|off] -p ID:IF -b ID:TAG:VNI -m VNI:ID:MAC -r VNI:MAC=IP "
            "-f VNI:IP\n");
    return 2;
}

struct op {
    char kind;
    char arg[128];
};

static int
apply(struct fwd *f, const struct op *o)
{
    unsigned a, b, c;
    char s1[64], s2[64];
    uint8_t mac[6];
    struct nvdp_addr ad;
    switch (o->kind) {
    case 'p':
        if (sscanf(o->arg, "%u:%15s", &a, s1) != 2)
            return -1;
        return fwd_port_add(f, (uint16_t)a, s1);
    case 'b':
        if (sscanf(o->arg, "%u:%u:%u", &a, &b, &c) != 3)
            return -1;
        return fwd_vn_bind(f, (uint16_t)a, (uint16_t)b, c);
    case 'm':
        if (sscanf(o->arg, "%u:%u:%17s", &a, &b, s1) != 3 ||
            nvdp_mac_parse(s1, mac) < 0 || nvdp_addr_parse(mac, "", &ad) < 0)
            return -1;
        return fwd_local_add(f, a, (uint16_t)b, &ad);
    case 'r':
        if (sscanf(o->arg, "%u:%17[^=]=%63s", &a, s1, s2) != 3 ||
            nvdp_mac_parse(s1, mac) < 0)
            return -1;
        return fwd_remote_mac_add(f, a, mac, s2);
    case 'f':
        if (sscanf(o->arg, "%u:%63s", &a, s2) != 2)
            return -1;
        return fwd_flood_add(f, a, s2);
    }
    return -1;
}

int
main(int argc, char **argv)
{
    struct fwd_params p;
    struct op ops[256];
    int nops = 0, cpu = -1, ch;
    double secs = 10;
    if (argc == 1)
        return selftest();
    memset(&p, 0, sizeof(p));
    p.udp_port = 4789;
    p.df = 1;
    p.fastpath = 1;
    while ((ch = getopt(argc, argv, "u:l:P:c:t:x:p:b:m:r:f:")) != -1) {
        switch (ch) {
        case 'u':
            snprintf(p.underlay_if, sizeof(p.underlay_if), "%s", optarg);
            break;
        case 'l':
            snprintf(p.local_ip, sizeof(p.local_ip), "%s", optarg);
            break;
        case 'P':
            p.udp_port = (uint16_t)atoi(optarg);
            break;
        case 'c':
            cpu = atoi(optarg);
            break;
        case 't':
            secs = atof(optarg);
            break;
        case 'x':
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
                return usage();
            p.fastpath = strcmp(optarg, "on") == 0;
            break;
        case 'p': case 'b': case 'm': case 'r': case 'f':
            if (nops == 256)
                return usage();
            ops[nops].kind = (char)ch;
            snprintf(ops[nops].arg, sizeof(ops[nops].arg), "%s", optarg);
            nops++;
            break;
        default:
            return usage();
        }
    }
    log_init("fwd_run", 1, 0);
    struct fwd *f = fwd_new(&p);
    if (f == NULL)
        return 1;
    for (int i = 0; i < nops; i++)
        if (apply(f, &ops[i]) < 0) {
            fprintf(stderr, "fwd_run: -%c %s failed\n", ops[i].kind, ops[i].arg);
            return 1;
        }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGUSR1, on_sig);
    if (fwd_start(f, cpu) < 0)
        return 1;
    printf("started\n");
    fflush(stdout);
    /* SIGUSR1: print the tables, then the counters (one JSON line each) */
    for (double t = 0; (secs <= 0 || t < secs) && !stop; t += 0.05) {
        usleep(50000);
        if (dump) {
            dump = 0;
            print_counters(f, 1);
            print_counters(f, 0);
        }
    }
    fwd_stop(f);
    print_counters(f, 0);
    fwd_free(f);
    return 0;
}
