/* fuzz_ctl_nve.c - libFuzzer target for nve-agent's control socket: one
 * input is one client's bytes (frames and all) through common/ctl.c's server
 * into nve_ctl.c's commands, over an NVE with two ports, two VNs and VNICs
 * on both ports; every answer is checked (ctl_feed.c). What an input
 * withdraws ("disconnect") is put back before the next one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_feed.h"
#include "ev.h"
#include "log.h"
#include "nve.h"

static const uint8_t HV1[6] = {0x02, 0, 0, 0, 0, 0x01};

static const char *CONF =
    "name = \"tor-fuzz\"\n"
    "port \"p0\" {\n interface = \"acc0\"\n tags = \"2-4000\"\n"
    " reserved-tags = \"3\"\n}\n"
    "port \"p1\" {\n interface = \"acc1\"\n tags = \"10-11\"\n"
    " hypervisors = {\"02:00:00:00:00:01\"}\n vns = {\"blue\"}\n"
    " max-vnics = 5\n}\n"
    "vn \"blue\" {\n uuid = \"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n"
    " vni = 100\n flood = {\"192.0.2.9\"}\n"
    " remote-mac \"02:00:00:aa:00:01\" { vtep = \"192.0.2.9\" }\n}\n"
    "vn \"red\" {\n vni = 200\n}\n";

static void
drop_frame(void *arg, uint16_t port, const uint8_t dst[6], const uint8_t *frame,
           size_t len)
{
    (void)arg;
    (void)port;
    (void)dst;
    (void)frame;
    (void)len;
}

/* An ASSOC of VNIC cc..vnic in vni from HV1 on port. */
static void
attach(struct nve *n, uint16_t port, unsigned vnic, uint32_t vni)
{
    static uint32_t txid = 1;
    struct nvdp_msg *m = calloc(1, sizeof(*m));
    uint8_t buf[NVDP_FRAME_MAX];
    struct nvdp_writer w;

    m->type = NVDP_MSG_ASSOC;
    m->txid = txid++;
    m->has_vnic = 1;
    m->vnic.b[0] = 0xcc;
    m->vnic.b[15] = (uint8_t)vnic;
    m->vn.kind = NVDP_VN_VNI;
    m->vn.vni = vni;
    m->naddr = 1;
    m->addr[0].mac[0] = 0x52;
    m->addr[0].mac[5] = (uint8_t)vnic;
    m->addr[0].kind = NVDP_ADDR_HOST;
    m->addr[0].family = 4;
    m->addr[0].ip[0] = 10;
    m->addr[0].ip[3] = (uint8_t)vnic;
    nvdp_writer_init(&w, buf, sizeof(buf), 0x5555, 0);
    if (nvdp_writer_add(&w, m) < 0)
        abort();
    nve_proto_input(n->proto, port, HV1, NULL, buf, nvdp_writer_finish(&w),
                    ev_clock_ms());
    free(m);
}

/* nve.c's protocol timer (its own is static there) */
static void
timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    (void)l;
    (void)t;
    nve_kick(arg);
}

static struct nve *
nve_fuzz_new(struct ev_loop *l)
{
    static struct nve n; /* large: not on the stack */
    char path[] = "/tmp/fuzz_ctl_nve.XXXXXX";
    int fd = mkstemp(path);
    struct tree_sink sink;
    struct tree_limits lim = {.max_addrs = 64, .preassoc_ms = 120000};

    if (fd < 0 || write(fd, CONF, strlen(CONF)) != (ssize_t)strlen(CONF))
        abort();
    close(fd);
    n.conf = nve_conf_load(path);
    unlink(path);
    if (n.conf == NULL)
        abort();
    snprintf(n.conf_path, sizeof(n.conf_path), "/nonexistent/nve.conf");
    snprintf(n.ctl_path, sizeof(n.ctl_path), "/tmp/fuzz_ctl_nve.%d.sock",
             (int)getpid());
    n.loop = l;
    ev_timer_init(&n.timer, timer_cb, &n);
    n.epoch = 0xabcdef01;
    n.started = ev_clock_ms();
    if ((n.fwd = fwd_new(&n.conf->fwd)) == NULL)
        abort();
    nve_sink(&sink, &n);
    if (tree_init(&n.tree, &sink, &lim) < 0)
        abort();
    n.proto = nve_proto_new(n.conf, &n.tree, n.epoch, drop_frame, NULL);
    for (unsigned i = 0; i < n.conf->nports; i++) {
        const struct nve_port *p = &n.conf->ports[i];
        tree_port_set(&n.tree, p->id, &p->tags, p->max_vnics);
        fwd_port_add(n.fwd, p->id, p->ifname);
        nve_proto_port_up(n.proto, p->id, p->name, NULL, 1500, ev_clock_ms());
    }
    if ((n.ctl = ctl_server_new(l, n.ctl_path, NULL, nve_ctl_table(), &n)) ==
        NULL)
        abort();
    return &n;
}

/* The VNICs every input starts with: two on p0, one on p1. */
static void
populate(struct nve *n)
{
    attach(n, 0, 1, 100);
    attach(n, 0, 2, 200);
    attach(n, 1, 3, 100);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ev_loop *l;
    static struct nve *n;

    if (l == NULL) {
        /* formatted, as in the daemon, but not printed: millions of them */
        log_init_file("fuzz_ctl_nve", "/dev/null", 0);
        l = ev_loop_new();
        n = nve_fuzz_new(l);
        populate(n);
    }
    ctl_feed(l, n->ctl_path, data, size, NULL, NULL);
    if (n->tree.nvnic != 3)
        populate(n); /* a disconnect withdrew some: the same start again */
    return 0;
}
