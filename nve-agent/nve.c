/* nve.c - nve-agent's daemon glue: applies a configuration to the forwarder,
 * containment tree, protocol engine and access-port sockets; reload. */
#include "nve.h"
