/* paths.h - where the daemons and tools find each other by default. The
 * build defines SYSCONFDIR, RUNDIR and STATEDIR (configure); these are the
 * fallbacks. Names two sides must agree on (a daemon's socket and its
 * clients, hv-agent's migration markers and the hook) are made here once. */
#ifndef PATHS_H
#define PATHS_H

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef RUNDIR
#define RUNDIR "/run/splitnve"
#endif
#ifndef STATEDIR
#define STATEDIR "/var/lib/splitnve"
#endif

#define PATHS_HV_SOCKET RUNDIR "/hv-agent.sock"
#define PATHS_NVE_SOCKET RUNDIR "/nve-agent.sock"
#define PATHS_MARKER_DIR RUNDIR "/migrating" /* hv_virt.c, nvdp-hook */

#endif
