/* test_nve.c - configuration application and reload (nve.c) with fake
 * access-port links: ports added and removed with stable ids, VNs removed,
 * authorisation narrowed (WITHDRAW sent), bad configurations refused; a
 * link that refuses frames for now (ENOBUFS): answers kept in order and
 * sent from the loop's timer while the loop goes on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/epoll.h>

#include "ev.h"
#include "nve.h"

static const uint8_t HV1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t HV2[6] = {0x02, 0, 0, 0, 0, 0x02};

struct fx {
    struct nve n;
    char path[64];
    uint8_t up[TREE_MAX_PORTS];
    char ifname[TREE_MAX_PORTS][16];
    const char *fail_if; /* open() of this interface fails */
    int nwithdraw;
    uint8_t withdraw_dst[8][6];
    struct nvdp_msg last_withdraw;
    int refuse;           /* send() refuses with ENOBUFS */
    unsigned tries;       /* send() calls */
    unsigned nresp;       /* RESPONSEs the link took */
    uint32_t resp_txid[16];
};

static int
l_open(void *arg, uint16_t id, const char *ifname, unsigned *mtu)
{
    struct fx *x = arg;
    if (x->fail_if && strcmp(ifname, x->fail_if) == 0)
        return -1;
    assert_false(x->up[id]);
    x->up[id] = 1;
    snprintf(x->ifname[id], sizeof(x->ifname[id]), "%s", ifname);
    *mtu = 1500;
    return 0;
}

static void
l_close(void *arg, uint16_t id)
{
    struct fx *x = arg;
    assert_true(x->up[id]);
    x->up[id] = 0;
}

static int
l_send(void *arg, uint16_t id, const uint8_t dst[6], const uint8_t *f,
       size_t len)
{
    struct fx *x = arg;
    struct nvdp_reader r;
    struct nvdp_msg *m;

    assert_true(x->up[id]);
    x->tries++;
    if (x->refuse) {
        errno = ENOBUFS;
        return -1;
    }
    m = calloc(1, sizeof(*m));
    assert_int_equal(nvdp_frame_open(&r, f, len), 0);
    while (nvdp_frame_next(&r, m) == 1)
        if (m->type == NVDP_MSG_RESPONSE) {
            if (x->nresp < 16)
                x->resp_txid[x->nresp] = m->txid;
            x->nresp++;
        } else if (m->type == NVDP_MSG_WITHDRAW) {
            if (x->nwithdraw < 8)
                memcpy(x->withdraw_dst[x->nwithdraw], dst, 6);
            x->nwithdraw++;
            x->last_withdraw = *m;
        }
    free(m);
    return 0;
}

static struct nve_link_ops ops = {l_open, l_close, l_send, NULL};

static void
write_conf(struct fx *x, const char *text)
{
    FILE *f = fopen(x->path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *CONF1 =
    "port \"p0\" {\n interface = \"acc0\"\n}\n"
    "port \"p1\" {\n interface = \"acc1\"\n}\n"
    "vn \"blue\" {\n uuid = \"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n"
    " vni = 100\n flood = {\"192.0.2.1\"}\n}\n"
    "vn \"red\" {\n vni = 200\n}\n";

static int
setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    struct nve_conf *c;
    int fd;

    log_init("test", 1, 0);
    snprintf(x->path, sizeof(x->path), "/tmp/test_nve.XXXXXX");
    fd = mkstemp(x->path);
    close(fd);
    ops.arg = x;
    x->n.link_ops = &ops;
    x->n.loop = ev_loop_new();
    x->n.epoch = 0x1234;
    snprintf(x->n.conf_path, sizeof(x->n.conf_path), "%s", x->path);
    write_conf(x, CONF1);
    c = nve_conf_load(x->path);
    assert_non_null(c);
    assert_int_equal(nve_apply_conf(&x->n, c), 0);
    *state = x;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *x = *state;
    nve_shutdown(&x->n);
    ev_loop_free(x->n.loop);
    unlink(x->path);
    free(x);
    return 0;
}

/* HV's request to attach a VNIC on port: its txid. */
static uint32_t
attach(struct fx *x, uint16_t port, const uint8_t *hv, unsigned vnic,
       uint32_t vni)
{
    static struct nvdp_msg m;
    static uint8_t buf[NVDP_FRAME_MAX];
    static uint32_t txid = 1;
    struct nvdp_writer w;

    memset(&m, 0, sizeof(m));
    m.type = NVDP_MSG_ASSOC;
    m.txid = txid++;
    m.has_vnic = 1;
    m.vnic.b[0] = 0xdd;
    m.vnic.b[15] = (uint8_t)vnic;
    m.vn.kind = NVDP_VN_VNI;
    m.vn.vni = vni;
    m.naddr = 1;
    m.addr[0].mac[0] = 0x52;
    m.addr[0].mac[5] = (uint8_t)vnic;
    m.addr[0].kind = NVDP_ADDR_MAC;
    nvdp_writer_init(&w, buf, sizeof(buf), 0x7777, 0);
    assert_int_equal(nvdp_writer_add(&w, &m), 0);
    nve_proto_input(x->n.proto, port, hv, NULL, buf, nvdp_writer_finish(&w),
                    ev_now(x->n.loop));
    return m.txid;
}

static uint16_t
id_of(struct fx *x, const char *name)
{
    const struct nve_port *p = nve_conf_port_by_name(x->n.conf, name);
    assert_non_null(p);
    return p->id;
}

static void
test_first_start(void **state)
{
    struct fx *x = *state;

    assert_true(x->up[0]);
    assert_true(x->up[1]);
    assert_string_equal(x->ifname[1], "acc1");
    assert_int_equal(id_of(x, "p0"), 0);
    assert_int_equal(id_of(x, "p1"), 1);
    attach(x, 0, HV1, 1, 100);
    attach(x, 1, HV2, 2, 200);
    assert_int_equal(x->n.tree.nvnic, 2);
    /* the forwarder got the VN's flood list */
    struct json_object *d = fwd_dump_json(x->n.fwd);
    assert_non_null(strstr(json_object_to_json_string(d), "192.0.2.1"));
    json_object_put(d);
}

static void
test_reload_ports_and_vns(void **state)
{
    struct fx *x = *state;

    attach(x, 0, HV1, 1, 100);
    attach(x, 0, HV1, 3, 200);
    attach(x, 1, HV2, 2, 100);
    uint16_t blue_tag = tag_lookup(tree_port_tags(&x->n.tree, 0), 100);
    assert_true(blue_tag != 0);
    /* p1 goes, p2 comes, red is removed */
    write_conf(x, "port \"p0\" {\n interface = \"acc0\"\n}\n"
                  "port \"p2\" {\n interface = \"acc2\"\n}\n"
                  "vn \"blue\" {\n uuid = "
                  "\"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n vni = 100\n}\n");
    assert_int_equal(nve_reload(&x->n), 0);
    assert_int_equal(id_of(x, "p0"), 0);
    assert_int_equal(id_of(x, "p2"), 2); /* p1's id not reused at once */
    assert_true(x->up[0]);
    assert_false(x->up[1]);
    assert_true(x->up[2]);
    /* red's VNIC withdrawn (WITHDRAW to HV1), p1's VNIC released */
    assert_int_equal(x->nwithdraw, 1);
    assert_memory_equal(x->withdraw_dst[0], HV1, 6);
    assert_int_equal(x->last_withdraw.vn.kind, NVDP_VN_VNI);
    assert_int_equal(x->last_withdraw.vn.vni, 200);
    assert_non_null(strstr(x->last_withdraw.reason, "removed"));
    assert_int_equal(x->n.tree.nvnic, 1);
    /* blue keeps its tag on the port that stayed */
    assert_int_equal(tag_lookup(tree_port_tags(&x->n.tree, 0), 100),
                     blue_tag);
    assert_null(tree_port_tags(&x->n.tree, 1));
    assert_int_equal(nve_proto_npeers(x->n.proto), 1);
    /* the flood entry of blue is gone from the forwarder */
    struct json_object *d = fwd_dump_json(x->n.fwd);
    assert_null(strstr(json_object_to_json_string(d), "192.0.2.1"));
    json_object_put(d);
}

static void
test_reload_authorisation(void **state)
{
    struct fx *x = *state;

    attach(x, 0, HV1, 1, 100);
    attach(x, 0, HV2, 2, 100);
    attach(x, 1, HV1, 3, 200);
    attach(x, 1, HV1, 4, 100);
    /* p0: only HV2 now; p1: only blue */
    write_conf(x, "port \"p0\" {\n interface = \"acc0\"\n"
                  " hypervisors = {\"02:00:00:00:00:02\"}\n}\n"
                  "port \"p1\" {\n interface = \"acc1\"\n vns = {\"blue\"}\n}\n"
                  "vn \"blue\" {\n uuid = "
                  "\"6a1f4c2e-0b7d-4e59-9c33-2f8e1d0a5b01\"\n vni = 100\n}\n"
                  "vn \"red\" {\n vni = 200\n}\n");
    assert_int_equal(nve_reload(&x->n), 0);
    assert_int_equal(x->nwithdraw, 2);
    assert_int_equal(x->n.tree.nvnic, 2);
    struct nvdp_uuid u;
    memset(&u, 0, sizeof(u));
    u.b[0] = 0xdd;
    u.b[15] = 2;
    assert_non_null(tree_find(&x->n.tree, &u, 0, HV2));
    u.b[15] = 4;
    assert_non_null(tree_find(&x->n.tree, &u, 1, HV1));
    /* HV1 is forgotten on p0, still known on p1 */
    assert_int_equal(nve_proto_npeers(x->n.proto), 2);
}

static void
test_reload_refused(void **state)
{
    struct fx *x = *state;
    struct nve_conf *before = x->n.conf;

    attach(x, 0, HV1, 1, 100);
    write_conf(x, "port \"p0\" {\n interface = \"acc0\"\n}\nbogus = 1\n");
    assert_int_equal(nve_reload(&x->n), -1);
    assert_ptr_equal(x->n.conf, before);
    /* a new port that cannot be opened refuses the whole file */
    x->fail_if = "acc9";
    write_conf(x, "port \"p0\" {\n interface = \"acc0\"\n}\n"
                  "port \"p9\" {\n interface = \"acc9\"\n}\n"
                  "vn \"blue\" {\n vni = 100\n}\n");
    assert_int_equal(nve_reload(&x->n), -1);
    assert_ptr_equal(x->n.conf, before);
    assert_true(x->up[1]); /* p1 untouched */
    /* changing the EtherType needs a restart */
    write_conf(x, "ethertype = 0x88b6\n"
                  "port \"p0\" {\n interface = \"acc0\"\n}\n");
    assert_int_equal(nve_reload(&x->n), -1);
    assert_ptr_equal(x->n.conf, before);
    assert_int_equal(x->n.reload_failures, 3);
    assert_int_equal(x->n.tree.nvnic, 1);
    assert_int_equal(x->nwithdraw, 0);
    for (unsigned i = 2; i < TREE_MAX_PORTS; i++)
        assert_false(x->up[i]);
}

static void
pipe_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    char c;

    (void)l;
    (void)events;
    assert_int_equal(read(fd, &c, 1), 1);
    (*(int *)arg)++;
}

static void
test_refused_answers_wait_in_order(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *pc = nve_proto_port_counters(x->n.proto, 0);
    uint32_t t1, t2;
    int fds[2], woke = 0;
    unsigned tries;

    /* the port's queue is full of data: both answers are kept, the send
     * returning at once (one try, the first answer's; the second waits
     * behind it, tried after it, never before) */
    x->refuse = 1;
    x->tries = 0;
    t1 = attach(x, 0, HV1, 1, 100);
    assert_int_equal(x->tries, 1);
    t2 = attach(x, 0, HV1, 2, 100);
    assert_int_equal(x->tries, 2);
    assert_int_equal(x->nresp, 0);
    assert_int_equal(txq_len(&x->n.link[0].txq), 2);
    assert_int_equal(pc->tx_deferred, 2);
    assert_int_equal(nve_proto_counters(x->n.proto)->tx_deferred, 2);
    /* the loop goes on meanwhile: another fd's event is handled, and the
     * retry timer tries again (still refused: still kept) */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(ev_io_add(x->n.loop, fds[0], EPOLLIN, pipe_cb, &woke), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    tries = x->tries;
    for (int i = 0; i < 50 && (woke == 0 || x->tries == tries); i++)
        ev_run_once(x->n.loop, 1);
    assert_int_equal(woke, 1);
    assert_true(x->tries > tries);
    assert_int_equal(x->nresp, 0);
    assert_int_equal(txq_len(&x->n.link[0].txq), 2);
    /* the link takes frames again: the timer sends both, in order, once */
    x->refuse = 0;
    for (int i = 0; i < 50 && txq_len(&x->n.link[0].txq) > 0; i++)
        ev_run_once(x->n.loop, 1);
    assert_int_equal(txq_len(&x->n.link[0].txq), 0);
    assert_int_equal(x->nresp, 2);
    assert_int_equal(x->resp_txid[0], t1);
    assert_int_equal(x->resp_txid[1], t2);
    assert_int_equal(pc->tx_retry_dropped, 0);
    assert_int_equal(x->n.tree.nvnic, 2);
    ev_io_del(x->n.loop, fds[0]);
    close(fds[0]);
    close(fds[1]);
}

static void
test_refused_too_long_dropped(void **state)
{
    struct fx *x = *state;
    const struct nvdp_counters *pc = nve_proto_port_counters(x->n.proto, 0);
    uint64_t t0 = ev_clock_ms();

    x->refuse = 1;
    attach(x, 0, HV1, 1, 100);
    assert_int_equal(txq_len(&x->n.link[0].txq), 1);
    while (txq_len(&x->n.link[0].txq) > 0 &&
           ev_clock_ms() - t0 < 20 * TXQ_HOLD_MS)
        ev_run_once(x->n.loop, 1);
    /* left to the hypervisor's retransmission, counted */
    assert_int_equal(txq_len(&x->n.link[0].txq), 0);
    assert_int_equal(pc->tx_retry_dropped, 1);
    assert_true(ev_clock_ms() - t0 > TXQ_HOLD_MS);
    x->refuse = 0;
    ev_run_once(x->n.loop, 1);
    assert_int_equal(x->nresp, 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_first_start),
        T(test_reload_ports_and_vns),
        T(test_reload_authorisation),
        T(test_reload_refused),
        T(test_refused_answers_wait_in_order),
        T(test_refused_too_long_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
