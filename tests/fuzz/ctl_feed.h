/* ctl_feed.h - the fuzz targets' client of a daemon's control socket: one
 * input is one client's byte stream (frames and all). */
#ifndef CTL_FEED_H
#define CTL_FEED_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* Connects to the server on path (served by loop l in this thread), sends
 * data, runs the loop (and turn(arg) after each iteration: the daemon's
 * own work) until no more answers come or the server closed, then closes
 * and lets the server clean up. Traps (a finding) if the server sends
 * anything but whole frames of JSON objects with "ok" or "event", or
 * never stops. */
void ctl_feed(struct ev_loop *l, const char *path, const uint8_t *data,
              size_t size, void (*turn)(void *), void *arg);

#endif
