/* test_l2sock.c - the AF_PACKET module for real, over a veth pair in a
 * private network namespace (needs root; skipped otherwise): filtering of
 * EtherType, tags, hosts and groups, batching, padding, MTU. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "l2sock.h"
#include "log.h"
#include "nvdp.h"

#define ET 0x88B5
static const uint8_t group[6] = NVDP_GROUP_MAC_DEFAULT;
static int have_netns;

struct pair {
    struct l2sock a, b;
    struct l2sock_rx *rx; /* 64 frames */
    int raw;              /* plain packet socket on infra-a for crafting */
};

static int
setup(void **state)
{
    struct pair *p;

    if (!have_netns)
        return 0;
    p = calloc(1, sizeof(*p));
    p->rx = calloc(64, sizeof(*p->rx));
    if (l2sock_open(&p->a, "infra-a", ET, group) < 0 ||
        l2sock_open(&p->b, "infra-b", ET, group) < 0)
        return -1;
    p->raw = socket(AF_PACKET, SOCK_RAW, 0);
    *state = p;
    return 0;
}

static int
teardown(void **state)
{
    struct pair *p = *state;

    if (p == NULL)
        return 0;
    l2sock_close(&p->a);
    l2sock_close(&p->b);
    close(p->raw);
    free(p->rx);
    free(p);
    return 0;
}

/* Everything pending on s after a short settle. */
static int
recv_all(struct l2sock *s, struct l2sock_rx *rx, int n)
{
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};

    poll(&pfd, 1, 200);
    return l2sock_recv(s, rx, n);
}

static void
raw_send(struct pair *p, const uint8_t *frame, size_t len)
{
    struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                              .sll_ifindex = p->a.ifindex,
                              .sll_halen = 6};

    memcpy(sll.sll_addr, frame, 6);
    assert_int_equal(sendto(p->raw, frame, len, 0, (struct sockaddr *)&sll,
                            sizeof(sll)),
                     (ssize_t)len);
}

static void
test_open_reads_interface(void **state)
{
    struct pair *p = *state;
    struct l2sock s;

    if (!have_netns)
        skip();
    assert_int_equal(p->a.mtu, 1500);
    assert_int_not_equal(p->a.ifindex, 0);
    assert_memory_not_equal(p->a.mac, p->b.mac, 6);
    /* A missing interface fails cleanly. */
    assert_int_equal(l2sock_open(&s, "infra-nope", ET, group), -1);
    assert_int_equal(s.fd, -1);
    assert_int_equal(l2sock_open(&s, "infra-0123456789abcdef", ET, group), -1);
}

static void
test_group_and_unicast(void **state)
{
    struct pair *p = *state;
    const uint8_t msg[] = "hello nvdp, this is longer than the minimum frame";
    const uint8_t other_host[6] = {0x02, 0, 0, 0, 0, 0x99};

    if (!have_netns)
        skip();
    assert_int_equal(l2sock_send(&p->a, group, msg, sizeof(msg)), 0);
    assert_int_equal(l2sock_send(&p->a, p->b.mac, msg, sizeof(msg)), 0);
    assert_int_equal(l2sock_send(&p->a, other_host, msg, sizeof(msg)), 0);
    int n = recv_all(&p->b, p->rx, 64);
    assert_int_equal(n, 2); /* not the one for another host */
    assert_memory_equal(p->rx[0].dst, group, 6);
    assert_memory_equal(p->rx[0].src, p->a.mac, 6);
    assert_int_equal(p->rx[0].paylen, sizeof(msg));
    assert_memory_equal(p->rx[0].payload, msg, sizeof(msg));
    assert_memory_equal(p->rx[1].dst, p->b.mac, 6);
    /* The sender does not hear itself. */
    assert_int_equal(recv_all(&p->a, p->rx, 64), 0);
    assert_int_equal(p->a.tx_frames, 3);
    assert_int_equal(p->b.rx_frames, 2);
}

/* A hypervisor's uplink is often a bridge port: the bridge takes every frame
 * before protocol handlers see it, and NVDP must still be heard there. */
static void
test_bridge_port(void **state)
{
    struct pair *p = *state;
    const uint8_t msg[] = "nvdp through an uplink enslaved to a bridge....";

    if (!have_netns)
        skip();
    assert_int_equal(system("ip link add infra-br type bridge && "
                            "ip link set infra-b master infra-br && "
                            "ip link set infra-br up"), 0);
    assert_int_equal(l2sock_send(&p->a, group, msg, sizeof(msg)), 0);
    assert_int_equal(l2sock_send(&p->a, p->b.mac, msg, sizeof(msg)), 0);
    int n = recv_all(&p->b, p->rx, 64);
    assert_int_equal(system("ip link del infra-br"), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(p->rx[0].payload, msg, sizeof(msg));
}

static void
test_short_frame_padded(void **state)
{
    struct pair *p = *state;
    const uint8_t msg[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

    if (!have_netns)
        skip();
    assert_int_equal(l2sock_send(&p->a, p->b.mac, msg, sizeof(msg)), 0);
    assert_int_equal(recv_all(&p->b, p->rx, 64), 1);
    assert_int_equal(p->rx[0].len, 60);
    assert_int_equal(p->rx[0].paylen, 46);
    assert_memory_equal(p->rx[0].payload, msg, sizeof(msg));
    assert_int_equal(p->rx[0].payload[10], 0);
}

/* Frames the kernel filter (or the aux-data check) must keep out, sent
 * interleaved with good ones: only the good ones come through, in order. */
static void
test_filtering(void **state)
{
    struct pair *p = *state;
    uint8_t f[64];
    int n;

    if (!have_netns)
        skip();
    memset(f, 0, sizeof(f));
    memcpy(f, p->b.mac, 6);
    memcpy(f + 6, p->a.mac, 6);

    f[12] = 0x88, f[13] = 0xB6, f[14] = 0xEE; /* another EtherType */
    raw_send(p, f, 60);
    f[12] = 0x88, f[13] = 0xB5, f[14] = 1;    /* good #1 */
    raw_send(p, f, 60);
    /* 802.1Q tag VID 100 around our EtherType. */
    f[12] = 0x81, f[13] = 0x00, f[14] = 0x00, f[15] = 100;
    f[16] = 0x88, f[17] = 0xB5, f[18] = 0xEE;
    raw_send(p, f, 64);
    /* 802.1ad outer tag. */
    f[12] = 0x88, f[13] = 0xA8;
    raw_send(p, f, 64);
    /* Another multicast group, our EtherType. */
    uint8_t g2[6] = {0x03, 0x4e, 0x56, 0x44, 0x50, 0x01};
    memcpy(f, g2, 6);
    f[12] = 0x88, f[13] = 0xB5, f[14] = 0xEE;
    raw_send(p, f, 60);
    /* Broadcast. */
    memset(f, 0xff, 6);
    raw_send(p, f, 60);
    /* good #2, to the group */
    memcpy(f, group, 6);
    f[14] = 2;
    raw_send(p, f, 60);

    n = recv_all(&p->b, p->rx, 64);
    assert_int_equal(n, 2);
    assert_int_equal(p->rx[0].payload[0], 1);
    assert_int_equal(p->rx[1].payload[0], 2);
    assert_int_equal(recv_all(&p->b, p->rx, 64), 0);
    /* All five were dropped by the kernel filter, none reached us. */
    assert_int_equal(p->b.rx_filtered, 0);
    assert_int_equal(p->b.rx_errors, 0);
}

static void
test_batching(void **state)
{
    struct pair *p = *state;
    uint8_t msg[100];
    int total = 0, calls = 0, n;

    if (!have_netns)
        skip();
    for (int i = 0; i < 100; i++) {
        memset(msg, i, sizeof(msg));
        assert_int_equal(l2sock_send(&p->a, p->b.mac, msg, sizeof(msg)), 0);
    }
    while ((n = recv_all(&p->b, p->rx + 0, 32)) > 0) {
        assert_true(n <= 32);
        for (int i = 0; i < n; i++)
            assert_int_equal(p->rx[i].payload[0], total + i); /* in order */
        total += n;
        calls++;
    }
    assert_int_equal(n, 0);
    assert_int_equal(total, 100);
    assert_int_equal(calls, 4); /* 32 + 32 + 32 + 4 */
    assert_int_equal(l2sock_kernel_drops(&p->b), 0);
    /* A burst of 3000 (a resync) fits the enlarged receive queue. */
    for (int i = 0; i < 3000; i++)
        assert_int_equal(l2sock_send(&p->a, p->b.mac, msg, sizeof(msg)), 0);
    total = 0;
    while ((n = recv_all(&p->b, p->rx, 64)) > 0)
        total += n;
    assert_int_equal(total, 3000);
    assert_int_equal(l2sock_kernel_drops(&p->b), 0);
}

static void
test_mtu(void **state)
{
    struct pair *p = *state;
    static uint8_t big[9000];

    if (!have_netns)
        skip();
    assert_int_equal(l2sock_send(&p->a, p->b.mac, big, 1501), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(p->a.tx_errors, 1);
    assert_int_equal(l2sock_send(&p->a, p->b.mac, big, 1500), 0);
    assert_int_equal(recv_all(&p->b, p->rx, 64), 1);
    assert_int_equal(p->rx[0].paylen, 1500);
    assert_int_equal(system("ip link set infra-a mtu 9000 && "
                            "ip link set infra-b mtu 9000"),
                     0);
    assert_int_equal(l2sock_mtu(&p->a), 9000);
    assert_int_equal(l2sock_mtu(&p->b), 9000);
    big[8999] = 0x5a;
    assert_int_equal(l2sock_send(&p->a, p->b.mac, big, 9000), 0);
    assert_int_equal(recv_all(&p->b, p->rx, 64), 1);
    assert_int_equal(p->rx[0].paylen, 9000);
    assert_int_equal(p->rx[0].payload[8999], 0x5a);
    assert_int_equal(system("ip link set infra-a mtu 1500 && "
                            "ip link set infra-b mtu 1500"),
                     0);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup_teardown(test_open_reads_interface, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_group_and_unicast, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bridge_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_frame_padded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_filtering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtu, setup, teardown),
    };

    log_init("test_l2sock", 1, 0);
    /* A private network namespace: it vanishes with this process. */
    if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0 &&
        system("ip link add infra-a type veth peer name infra-b && "
               "ip link set infra-a up && ip link set infra-b up") == 0)
        have_netns = 1;
    else {
        /* 77: automake's SKIP, so a non-root run is not counted a pass. */
        fprintf(stderr, "test_l2sock: SKIP: needs root for a private "
                        "network namespace and a veth pair\n");
        return 77;
    }
    return cmocka_run_group_tests(t, NULL, NULL);
}
