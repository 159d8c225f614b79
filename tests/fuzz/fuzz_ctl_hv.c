/* fuzz_ctl_hv.c - libFuzzer target for hv-agent's control server: one input
 * is one client's bytes (frames and all) through common/ctl.c's server into
 * hv_ctl.c's commands, in process (ctl_feed.c), over an agent with no VNIC
 * (its state journal written nowhere, no NVE: answers that wait for one
 * stay pending until the client goes); every answer is checked. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_feed.h"
#include "ev.h"
#include "hv.h"
#include "log.h"

static const uint8_t HV_MAC[6] = {0x02, 0, 0, 0, 0, 0x11};

/* The journal's writes go nowhere: each input starts from an empty file. */
static ssize_t
null_write(int fd, const void *buf, size_t len)
{
    (void)fd;
    (void)buf;
    return (ssize_t)len;
}

static int
null_sync(int fd)
{
    (void)fd;
    return 0;
}

static const struct hv_journal_io null_io = {null_write, null_sync, null_sync};

static int
drop_frame(void *arg, const uint8_t dst[6], const uint8_t *buf, size_t len)
{
    (void)arg;
    (void)dst;
    (void)buf;
    (void)len;
    return 0;
}

static int woken;

static void
wake(struct hv *h)
{
    (void)h;
    woken = 1;
}

/* hv.c's turn: commit what requests changed (held answers go out), then
 * the engine. */
static void
turn(void *arg)
{
    struct hv *h = arg;

    if (!woken)
        return;
    woken = 0;
    hv_state_flush(h);
    hv_proto_run(h, ev_clock_ms());
}

static char state[64];
static struct hv hv; /* large: not on the stack */

/* An agent as hv.c starts one, with no VNIC. */
static void
agent_start(struct hv *h)
{
    char err[512];

    memset(h, 0, sizeof(*h));
    hv_conf_defaults(&h->conf);
    /* a small window: the engine's request slots are set up per agent */
    h->conf.rel.window = 8;
    snprintf(h->conf.state_file, sizeof(h->conf.state_file), "%s", state);
    h->conf.vns = calloc(1, sizeof(*h->conf.vns));
    h->conf.nvns = 1;
    snprintf(h->conf.vns[0].name, sizeof(h->conf.vns[0].name), "blue");
    nvdp_vn_parse("vni:10100", &h->conf.vns[0].vn);
    hv_state_init(&h->state);
    h->loop = ev_loop_new();
    h->wake = wake;
    woken = 0;
    if (hv_persist_open(h, &null_io, err, sizeof(err)) < 0 ||
        hv_proto_init(h, 0x1234, HV_MAC, 1500, drop_frame, NULL, 0,
                      ev_clock_ms()) < 0 ||
        hv_ctl_start(h, NULL) < 0) /* no socket: the client is in process */
        abort(); /* the harness's problem */
}

static void
agent_stop(struct hv *h)
{
    hv_ctl_stop(h);
    hv_proto_free(h);
    hv_persist_close(h);
    hv_state_free(&h->state);
    hv_conf_free(&h->conf);
    ev_loop_free(h->loop);
    unlink(state);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hv *h = &hv;

    if (state[0] == '\0') {
        /* formatted, as in the daemon, but not printed: millions of them */
        log_init_file("fuzz_ctl_hv", "/dev/null", 0);
        snprintf(state, sizeof(state), "/dev/shm/fuzz_ctl_hv.%d.state",
                 (int)getpid());
        agent_start(h);
    }
    ctl_feed(hv_ctl_server(h), data, size, turn, h);
    /* Every input meets an agent with no VNIC: one that created some is
     * replaced (most inputs do not get that far). */
    if (h->state.count > 0) {
        agent_stop(h);
        agent_start(h);
    }
    return 0;
}
