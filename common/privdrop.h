/* privdrop.h - what a daemon gives up once it has started: every Linux
 * capability but the few it still uses at run time (libcap, on every
 * thread through libpsx), and the right to regain them. */
#ifndef PRIVDROP_H
#define PRIVDROP_H

#include <stddef.h>
#include <sys/capability.h>

/* Keeps those of keep[0..n) that the process holds, permitted and
 * effective; clears every other capability from the permitted, effective,
 * inheritable and ambient sets of every thread, from the bounding set too
 * when the process may (CAP_SETPCAP: not under a systemd unit, whose
 * CapabilityBoundingSet already did it), and sets no_new_privs so that no
 * exec (libvirt's ssh transport) regains any. Logs what was kept.
 * 0, or -1 (logged): the daemon must not run on with more than it asked. */
int privdrop_keep(const cap_value_t *keep, size_t n);

#endif
