/* nve_fixture.h - the nve-agent that test_nve_ctl.c and fuzz_ctl_nve.c put
 * behind its control commands: configuration, engine and forwarder built as
 * nve.c builds them, with no access socket. */
#ifndef NVE_FIXTURE_H
#define NVE_FIXTURE_H

#include <stdint.h>

#include "nve.h"

/* The one hypervisor that talks to it (p1 admits only this one). */
extern const uint8_t NVE_FIXTURE_HV[6];

/* An NVE "tor-ctl" with ports p0 (acc0: tags 2-4000, 3 reserved, any
 * hypervisor and VN) and p1 (acc1: tags 10-11, NVE_FIXTURE_HV and VN blue
 * alone, 5 VNICs at most), VNs blue (VNI 100, a UUID, flood and remote MAC
 * to 192.0.2.9) and red (VNI 200); the engine's frames go to send(arg).
 * On loop l (NULL: none) its protocol timer runs as nve.c's does.
 * NULL on failure. */
struct nve *nve_fixture_new(struct ev_loop *l, nve_send_fn send, void *arg);
void nve_fixture_free(struct nve *n);

/* An ASSOC (pre: a PREASSOC without RR) from NVE_FIXTURE_HV on port of
 * VNIC cc000000-...-0000000000<vnic> in vni, with MAC 52:00:00:00:00:<vnic>
 * and IPv4 10.0.0.<vnic>. 0, or -1 if it could not be encoded. */
int nve_fixture_attach(struct nve *n, uint16_t port, unsigned vnic,
                       uint32_t vni, int pre);

#endif
