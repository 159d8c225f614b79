/* nve_fixture.c - the control commands' nve-agent (nve_fixture.h). */
#include "nve_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const uint8_t NVE_FIXTURE_HV[6] = {0x02, 0, 0, 0, 0, 0x01};

static const char *CONF =
    "name = \"tor-ctl\"\n"
    "port \"p0\" {\n interface = \"acc0\"\n tags = \"2-4000\"\n"
    " reserved-tags = \"3\"\n}\n"
    "port \"p1\" {\n interface = \"acc1\"\n tags = \"10-11\"\n"
    " hypervisors = {\"02:00:00:00:00:01\"}\n vns = {\"blue\"}\n"
    " max-vnics = 5\n}\n"
    "vn \"blue\" {\n uuid = \"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n"
    " vni = 100\n flood = {\"192.0.2.9\"}\n"
    " remote-mac \"02:00:00:aa:00:01\" { vtep = \"192.0.2.9\" }\n}\n"
    "vn \"red\" {\n vni = 200\n}\n";

/* nve.c's protocol timer (static there) */
static void
nve_fixture_timer(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    (void)l;
    (void)t;
    nve_kick(arg);
}

static struct nve_conf *
nve_fixture_conf(void)
{
    char path[] = "/tmp/nve_fixture.XXXXXX";
    int fd = mkstemp(path);
    ssize_t len = (ssize_t)strlen(CONF);
    struct nve_conf *c = NULL;

    if (fd < 0)
        return NULL;
    if (write(fd, CONF, (size_t)len) == len)
        c = nve_conf_load(path);
    close(fd);
    unlink(path);
    return c;
}

struct nve *
nve_fixture_new(struct ev_loop *l, nve_send_fn send, void *arg)
{
    struct nve *n = calloc(1, sizeof(*n)); /* large: not on the stack */
    struct tree_sink sink;
    struct tree_limits lim = {.max_addrs = 64, .preassoc_ms = 120000};

    if (n == NULL || (n->conf = nve_fixture_conf()) == NULL)
        goto fail;
    snprintf(n->conf_path, sizeof(n->conf_path), "/nonexistent/nve.conf");
    n->loop = l;
    ev_timer_init(&n->timer, nve_fixture_timer, n);
    n->epoch = 0xabcdef01;
    n->started = ev_clock_ms();
    if ((n->fwd = fwd_new(&n->conf->fwd)) == NULL)
        goto fail;
    nve_sink(&sink, n);
    if (tree_init(&n->tree, &sink, &lim) < 0)
        goto fail;
    if ((n->proto = nve_proto_new(n->conf, &n->tree, n->epoch, send, arg)) ==
        NULL)
        goto fail;
    for (unsigned i = 0; i < n->conf->nports; i++) {
        const struct nve_port *p = &n->conf->ports[i];
        nve_conf_tree_port(p, &n->tree);
        fwd_port_add(n->fwd, p->id, p->ifname);
        nve_proto_port_up(n->proto, p->id, p->name, NULL, 1500, ev_clock_ms());
    }
    for (unsigned i = 0; i < n->conf->nvns; i++)
        for (unsigned k = 0; k < n->conf->vns[i].nflood; k++)
            fwd_flood_add(n->fwd, n->conf->vns[i].vni,
                          n->conf->vns[i].flood[k]);
    return n;
fail:
    if (n != NULL)
        nve_fixture_free(n);
    return NULL;
}

void
nve_fixture_free(struct nve *n)
{
    if (n->loop != NULL)
        ev_timer_stop(n->loop, &n->timer);
    if (n->proto != NULL)
        nve_proto_free(n->proto);
    tree_free(&n->tree); /* a zeroed one too */
    if (n->fwd != NULL)
        fwd_free(n->fwd);
    nve_conf_free(n->conf);
    free(n);
}

int
nve_fixture_attach(struct nve *n, uint16_t port, unsigned vnic, uint32_t vni,
                   int pre)
{
    static struct nvdp_msg m;              /* large: not on the stack */
    static uint8_t buf[NVDP_FRAME_MAX];
    static uint32_t txid = 1;
    struct nvdp_writer w;

    memset(&m, 0, sizeof(m));
    m.type = pre ? NVDP_MSG_PREASSOC : NVDP_MSG_ASSOC;
    m.txid = txid++;
    m.has_vnic = 1;
    m.vnic.b[0] = 0xcc;
    m.vnic.b[15] = (uint8_t)vnic;
    m.vn.kind = NVDP_VN_VNI;
    m.vn.vni = vni;
    m.naddr = 1;
    m.addr[0].mac[0] = 0x52;
    m.addr[0].mac[5] = (uint8_t)vnic;
    m.addr[0].kind = NVDP_ADDR_HOST;
    m.addr[0].family = 4;
    m.addr[0].ip[0] = 10;
    m.addr[0].ip[3] = (uint8_t)vnic;
    nvdp_writer_init(&w, buf, sizeof(buf), 0x5555, 0);
    if (nvdp_writer_add(&w, &m) < 0)
        return -1;
    nve_proto_input(n->proto, port, NVE_FIXTURE_HV, NULL, buf,
                    nvdp_writer_finish(&w), ev_clock_ms());
    return 0;
}
