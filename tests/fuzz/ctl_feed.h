/* ctl_feed.h - the fuzz targets' client of a daemon's control server: one
 * input is one client's byte stream (frames and all), handed in process
 * (ctl_local_open) to the code a socket's bytes go to. */
#ifndef CTL_FEED_H
#define CTL_FEED_H

#include <stddef.h>
#include <stdint.h>

struct ctl_server;

/* Opens an in-process connection to s, writes data as the server takes
 * it, reading what comes back, with turn(arg) (the daemon's own work:
 * held answers go out) after each write, then until a turn brings
 * nothing; then the client goes and turn runs once more. Traps (a
 * finding) if the server sends anything but whole frames of JSON objects
 * with "ok" or "event", or stops both reading and answering. */
void ctl_feed(struct ctl_server *s, const uint8_t *data, size_t size,
              void (*turn)(void *), void *arg);

#endif
