/* test_vdpnl.c - hv-agent's 802.1Qbg netlink responder against a client
 * that sends libvirt's exact RTM_SETLINK / RTM_GETLINK sequence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define VDP_CLIENT_NO_MAIN
#include "../e2e/vdp_client.c"

#include "hv_vdpnl.h"
#include "log.h"
#include "nvdp.h"

struct fixture {
    struct hv_vdpnl *v;
    pthread_t th;
    pthread_mutex_t mu;
    volatile int stop;
    char pidfile[64];
    int nreq;
    struct hv_vdpnl_req last;
    int answer; /* what ops.request returns */
    struct vdpc c;
};

static int on_request(void *arg, const struct hv_vdpnl_req *r)
{
    struct fixture *f = arg;
    f->nreq++;
    f->last = *r;
    return f->answer;
}

/* the responder runs as hv-agent's event loop would: on readable */
static void *serve(void *arg)
{
    struct fixture *f = arg;
    struct pollfd p = {.fd = hv_vdpnl_fd(f->v), .events = POLLIN};
    while (!f->stop) {
        if (poll(&p, 1, 20) == 1) {
            pthread_mutex_lock(&f->mu);
            hv_vdpnl_input(f->v, 1000);
            pthread_mutex_unlock(&f->mu);
        }
    }
    return NULL;
}

static int setup(void **state)
{
    static struct fixture f;
    struct hv_vdpnl_ops ops = {on_request, &f};
    char err[256];

    memset(&f, 0, sizeof(f));
    snprintf(f.pidfile, sizeof(f.pidfile), "/tmp/test_vdpnl.%d.pid", (int)getpid());
    unlink(f.pidfile);
    pthread_mutex_init(&f.mu, NULL);
    f.v = hv_vdpnl_open(f.pidfile, &ops, 60000, err, sizeof(err));
    if (!f.v)
        fail_msg("open: %s", err);
    assert_int_equal(vdpc_open(&f.c, (uint32_t)getpid()), 0);
    pthread_create(&f.th, NULL, serve, &f);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->c.fd);
    hv_vdpnl_close(f->v);
    /* the pid file was ours: removed */
    assert_int_equal(access(f->pidfile, F_OK), -1);
    return 0;
}

static const uint8_t U1[16] = {0x09, 0xb1, 0x1c, 0x53, 0x8b, 0x5c, 0x4e, 0xeb,
                               0x8f, 0x00, 0xd8, 0x4e, 0xaa, 0x0a, 0xaa, 0x4f};
static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x5d, 0xc7, 0x9e};

static int lo(void) { return (int)if_nametoindex("lo"); }

static void complete(struct fixture *f, const uint8_t *u, uint16_t r)
{
    pthread_mutex_lock(&f->mu);
    hv_vdpnl_complete(f->v, u, r, 2000);
    pthread_mutex_unlock(&f->mu);
}

static void t_pidfile(void **state)
{
    struct fixture *f = *state;
    struct hv_vdpnl_ops ops = {on_request, f};
    char buf[32] = "", err[256];
    FILE *p = fopen(f->pidfile, "r");
    assert_non_null(p);
    assert_non_null(fgets(buf, sizeof(buf), p));
    fclose(p);
    assert_int_equal(atoi(buf), getpid());
    /* our netlink port is taken: a second responder cannot bind it */
    assert_null(hv_vdpnl_open("/tmp/test_vdpnl.other.pid", &ops, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "bind"));
    /* a pid file naming a live process (lldpad) is never taken over */
    p = fopen("/tmp/test_vdpnl.live.pid", "w");
    fprintf(p, "%d\n", (int)getppid());
    fclose(p);
    f->stop = 1;
    pthread_join(f->th, NULL);
    hv_vdpnl_close(f->v); /* frees our port for the attempt */
    assert_null(hv_vdpnl_open("/tmp/test_vdpnl.live.pid", &ops, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "running process"));
    unlink("/tmp/test_vdpnl.live.pid");
    /* re-open for teardown */
    f->stop = 0;
    f->v = hv_vdpnl_open(f->pidfile, &ops, 60000, err, sizeof(err));
    assert_non_null(f->v);
    pthread_create(&f->th, NULL, serve, f);
}

static void t_associate(void **state)
{
    struct fixture *f = *state;
    f->answer = HV_VDPNL_PENDING;
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 1193047, 2, 11, U1,
                                  PORT_REQUEST_ASSOCIATE), 0);
    assert_int_equal(f->nreq, 1);
    assert_int_equal(f->last.op, PORT_REQUEST_ASSOCIATE);
    assert_memory_equal(f->last.uuid, U1, 16);
    assert_memory_equal(f->last.mac, MAC, 6);
    assert_int_equal(f->last.type_id, 1193047);
    assert_int_equal(f->last.type_version, 2);
    assert_int_equal(f->last.mgr_id, 11);
    assert_string_equal(f->last.ifname, "lo");
    assert_int_equal(f->last.ifindex, lo());
    /* no answer from the NVE yet: no IFLA_PORT_RESPONSE = in progress */
    assert_int_equal(vdpc_status(&f->c, lo(), U1), VDPC_INPROGRESS);
    uint8_t op;
    assert_true(hv_vdpnl_pending(f->v, U1, &op));
    assert_int_equal(op, PORT_REQUEST_ASSOCIATE);
    complete(f, U1, PORT_VDP_RESPONSE_SUCCESS);
    assert_false(hv_vdpnl_pending(f->v, U1, NULL));
    assert_int_equal(vdpc_wait(&f->c, lo(), U1, 1000), PORT_VDP_RESPONSE_SUCCESS);
    /* a second completion does not overwrite the first */
    complete(f, U1, PORT_VDP_RESPONSE_UNUSED_VTID);
    assert_int_equal(vdpc_status(&f->c, lo(), U1), PORT_VDP_RESPONSE_SUCCESS);
    /* disassociate: no MAC needed, state reset to in progress */
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 1193047, 2, 11, U1,
                                  PORT_REQUEST_DISASSOCIATE), 0);
    assert_int_equal(f->last.op, PORT_REQUEST_DISASSOCIATE);
    assert_int_equal(vdpc_status(&f->c, lo(), U1), VDPC_INPROGRESS);
    complete(f, U1, PORT_VDP_RESPONSE_SUCCESS);
    assert_int_equal(vdpc_status(&f->c, lo(), U1), PORT_VDP_RESPONSE_SUCCESS);
}

static void t_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t u[16];
    memcpy(u, U1, 16);
    u[15] = 0x01;
    f->answer = HV_VDPNL_PENDING;
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 7, 1, 0, u,
                                  PORT_REQUEST_PREASSOCIATE_RR), 0);
    assert_int_equal(f->last.op, PORT_REQUEST_PREASSOCIATE_RR);
    complete(f, u, hv_vdpnl_status_response(NVDP_ST_UNKNOWN_VN));
    assert_int_equal(vdpc_wait(&f->c, lo(), u, 1000), PORT_VDP_RESPONSE_UNUSED_VTID);
    assert_int_equal(hv_vdpnl_counters(f->v)->refused, 1);
    /* immediate answer from hv-agent (e.g. VSI type it has no VN for) */
    u[15] = 0x02;
    f->answer = PORT_VDP_RESPONSE_UNUSED_VTID;
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 42, 1, 0, u,
                                  PORT_REQUEST_ASSOCIATE), 0);
    assert_int_equal(vdpc_status(&f->c, lo(), u), PORT_VDP_RESPONSE_UNUSED_VTID);
    assert_int_equal(hv_vdpnl_counters(f->v)->unknown_type, 1);
    /* immediate success: the VNIC already is in the requested state */
    u[15] = 0x03;
    f->answer = PORT_VDP_RESPONSE_SUCCESS;
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 42, 1, 0, u,
                                  PORT_REQUEST_ASSOCIATE), 0);
    assert_int_equal(vdpc_status(&f->c, lo(), u), PORT_VDP_RESPONSE_SUCCESS);
}

static void t_status_map(void **s)
{
    assert_int_equal(hv_vdpnl_status_response(NVDP_ST_OK), PORT_VDP_RESPONSE_SUCCESS);
    assert_int_equal(hv_vdpnl_status_response(NVDP_ST_NO_TAGS),
                     PORT_VDP_RESPONSE_INSUFFICIENT_RESOURCES);
    assert_int_equal(hv_vdpnl_status_response(NVDP_ST_LIMIT),
                     PORT_VDP_RESPONSE_INSUFFICIENT_RESOURCES);
    assert_int_equal(hv_vdpnl_status_response(NVDP_ST_NOT_AUTHORISED),
                     PORT_VDP_RESPONSE_VTID_VIOLATION);
    assert_int_equal(hv_vdpnl_status_response(NVDP_ST_MALFORMED),
                     PORT_VDP_RESPONSE_INVALID_FORMAT);
    assert_int_equal(hv_vdpnl_status_response(NVDP_ST_INTERNAL),
                     PORT_VDP_RESPONSE_OUT_OF_SYNC);
}

static void t_malformed(void **state)
{
    struct fixture *f = *state;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = lo()};
    uint8_t buf[4096];
    int n = f->nreq;

    /* SETLINK without IFLA_VF_PORTS */
    struct nl_msg *m = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST);
    nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    assert_int_equal(vdpc_talk(&f->c, m, buf, sizeof(buf), 1000), 0);
    nlmsg_free(m);
    assert_int_equal(((struct nlmsghdr *)buf)->nlmsg_type, NLMSG_ERROR);
    assert_int_equal(((struct nlmsgerr *)NLMSG_DATA(buf))->error, -EINVAL);
    /* associate without a MAC */
    m = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST);
    nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    struct nlattr *ps = nla_nest_start(m, IFLA_VF_PORTS), *p = nla_nest_start(m, IFLA_VF_PORT);
    struct ifla_port_vsi vsi = {0};
    uint8_t op = PORT_REQUEST_ASSOCIATE;
    nla_put(m, IFLA_PORT_VSI_TYPE, sizeof(vsi), &vsi);
    nla_put(m, IFLA_PORT_INSTANCE_UUID, 16, U1);
    nla_put(m, IFLA_PORT_REQUEST, 1, &op);
    nla_nest_end(m, p);
    nla_nest_end(m, ps);
    assert_int_equal(vdpc_talk(&f->c, m, buf, sizeof(buf), 1000), 0);
    nlmsg_free(m);
    assert_int_equal(((struct nlmsgerr *)NLMSG_DATA(buf))->error, -EINVAL);
    /* an unknown message type */
    m = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_REQUEST);
    nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    assert_int_equal(vdpc_talk(&f->c, m, buf, sizeof(buf), 1000), 0);
    nlmsg_free(m);
    assert_int_equal(((struct nlmsgerr *)NLMSG_DATA(buf))->error, -EOPNOTSUPP);
    assert_int_equal(f->nreq, n); /* nothing reached hv-agent */
    assert_true(hv_vdpnl_counters(f->v)->malformed >= 3);
    /* an instance nobody asked for is not listed */
    uint8_t other[16] = {1};
    assert_int_equal(vdpc_status(&f->c, lo(), other), -1);
}

static void t_expire(void **state)
{
    struct fixture *f = *state;
    uint8_t u[16];
    memcpy(u, U1, 16);
    u[0] = 0xee;
    f->answer = HV_VDPNL_PENDING;
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 5, 1, 0, u,
                                  PORT_REQUEST_ASSOCIATE), 0);
    complete(f, u, 0);
    pthread_mutex_lock(&f->mu);
    hv_vdpnl_expire(f->v, 2000 + 59999); /* kept 60 s */
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(vdpc_status(&f->c, lo(), u), 0);
    pthread_mutex_lock(&f->mu);
    hv_vdpnl_expire(f->v, 2000 + 60000);
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(vdpc_status(&f->c, lo(), u), -1);
    /* pending requests never expire */
    memcpy(u, U1, 16);
    u[0] = 0xef;
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 5, 1, 0, u,
                                  PORT_REQUEST_ASSOCIATE), 0);
    pthread_mutex_lock(&f->mu);
    hv_vdpnl_expire(f->v, UINT64_MAX / 2);
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(vdpc_status(&f->c, lo(), u), VDPC_INPROGRESS);
}

/* Any local process can unicast to our netlink port: one that is neither
 * root nor our user gets no answer and reaches nothing. */
static void t_unauthorised(void **state)
{
    struct fixture *f = *state;
    int n = f->nreq, st = -1;
    uint64_t before = hv_vdpnl_counters(f->v)->unauthorised;
    if (geteuid() != 0)
        skip(); /* cannot become another user */
    f->answer = HV_VDPNL_PENDING;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct vdpc c;
        /* nobody, but keeping CAP_NET_ADMIN: the kernel lets it unicast
         * to our port (without it, sendto is EPERM), so only the
         * responder's own check stands in the way */
        struct __user_cap_header_struct ch = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct cd[2];
        memset(cd, 0, sizeof(cd));
        cd[0].effective = cd[0].permitted = 1u << CAP_NET_ADMIN;
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgid(65534) < 0 ||
            setuid(65534) < 0 || syscall(SYS_capset, &ch, cd) < 0)
            _exit(2);
        if (vdpc_open(&c, (uint32_t)getppid()) < 0)
            _exit(3);
        /* sent, but no ACK within the timeout: ignored */
        int rc = vdpc_setlink(&c, lo(), "lo", MAC, 5, 1, 0, U1,
                              PORT_REQUEST_ASSOCIATE);
        _exit(rc == -ETIMEDOUT ? 0 : rc == 0 ? 1 : 10 + (-rc & 0x7f));
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    pthread_mutex_lock(&f->mu);
    assert_int_equal(f->nreq, n);
    assert_true(hv_vdpnl_counters(f->v)->unauthorised > before);
    pthread_mutex_unlock(&f->mu);
    /* root (our user) still is */
    assert_int_equal(vdpc_setlink(&f->c, lo(), "lo", MAC, 5, 1, 0, U1,
                                  PORT_REQUEST_ASSOCIATE), 0);
    assert_int_equal(f->nreq, n + 1);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup_teardown(t_pidfile, setup, teardown),
        cmocka_unit_test_setup_teardown(t_associate, setup, teardown),
        cmocka_unit_test_setup_teardown(t_refused, setup, teardown),
        cmocka_unit_test(t_status_map),
        cmocka_unit_test_setup_teardown(t_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(t_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(t_unauthorised, setup, teardown),
    };
    log_init("test_vdpnl", 1, 0);
    /* rtnetlink unicast to another process's port needs CAP_NET_ADMIN,
     * as it does for libvirt and lldpad */
    if (geteuid() != 0) {
        printf("SKIP: needs root (netlink unicast between processes)\n");
        return 77;
    }
    return cmocka_run_group_tests(t, NULL, NULL);
}
