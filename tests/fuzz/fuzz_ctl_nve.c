/* fuzz_ctl_nve.c - libFuzzer target for nve-agent's control server: one
 * input is one client's bytes (frames and all) through common/ctl.c's
 * server into nve_ctl.c's commands, in process (ctl_feed.c), over the NVE
 * of test_nve_ctl.c (nve_fixture.h) with VNICs on both ports; every answer
 * is checked. What an input withdraws ("disconnect") is put back before
 * the next one, so each input meets the same NVE. */
#include <stdint.h>
#include <stdlib.h>

#include "ctl.h"
#include "ctl_feed.h"
#include "ev.h"
#include "log.h"
#include "nve.h"
#include "nve_fixture.h"

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

/* The VNICs every input starts with: two on p0, one on p1. */
static void
populate(struct nve *n)
{
    if (nve_fixture_attach(n, 0, 1, 100, 0) < 0 ||
        nve_fixture_attach(n, 0, 2, 200, 0) < 0 ||
        nve_fixture_attach(n, 1, 3, 100, 0) < 0)
        abort();
}

/* The NVE and its control server, with no socket: the clients are in
 * process. */
static struct nve *
fixture(void)
{
    struct ev_loop *l;
    struct nve *n;

    /* formatted, as in the daemon, but not printed: millions of them */
    log_init_file("fuzz_ctl_nve", "/dev/null", 0);
    if ((l = ev_loop_new()) == NULL ||
        (n = nve_fixture_new(l, drop_frame, NULL)) == NULL)
        abort(); /* the harness's problem */
    if ((n->ctl = ctl_server_new(l, NULL, NULL, nve_ctl_table(), n)) == NULL)
        abort();
    populate(n);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct nve *n;

    if (n == NULL)
        n = fixture();
    ctl_feed(n->ctl, data, size, NULL, NULL);
    if (n->tree.nvnic != 3)
        populate(n); /* a disconnect withdrew some: the same start again */
    return 0;
}
