/* ctl_feed.c - one fuzz input through a real control socket (ctl_feed.h):
 * the server side of common/ctl.c (framing, limits, dispatch) and the
 * daemon's command table behind it, with what comes back checked. */
#include "ctl_feed.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "ev.h"

/* Loop iterations one input may take: a stuck server is a finding. */
#define CTL_FEED_MAX_TURNS 100000

struct ctl_feed_rx {
    unsigned char *buf;
    size_t len, cap;
    size_t total; /* bytes received */
};

/* Checks and drops every whole frame received so far. */
static void
ctl_feed_frames(struct ctl_feed_rx *rx)
{
    size_t off = 0, len;

    while (rx->len - off >= 4) {
        struct json_object *o, *x;
        if (ctl_frame_len(rx->buf + off, CTL_RESP_MAX, &len) < 0)
            __builtin_trap(); /* an answer over the limit */
        if (rx->len - off - 4 < len)
            break;
        o = ctl_json_parse((const char *)rx->buf + off + 4, len);
        if (o == NULL || !json_object_is_type(o, json_type_object) ||
            !((json_object_object_get_ex(o, "ok", &x) &&
               json_object_is_type(x, json_type_boolean)) ||
              json_object_object_get_ex(o, "event", &x)))
            __builtin_trap(); /* not an answer nor an event */
        json_object_put(o);
        off += 4 + len;
    }
    memmove(rx->buf, rx->buf + off, rx->len - off);
    rx->len -= off;
}

/* Reads what is there; 1 once the server closed. */
static int
ctl_feed_read(int fd, struct ctl_feed_rx *rx)
{
    for (;;) {
        if (rx->cap - rx->len < 65536) {
            rx->cap = rx->cap * 2 + 65536;
            if ((rx->buf = realloc(rx->buf, rx->cap)) == NULL)
                abort();
        }
        ssize_t n =
            recv(fd, rx->buf + rx->len, rx->cap - rx->len, MSG_DONTWAIT);
        if (n > 0) {
            rx->len += (size_t)n;
            rx->total += (size_t)n;
            ctl_feed_frames(rx);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        return 1; /* EOF, or reset by a server that closed first */
    }
}

/* One loop turn, the daemon's own work, then what came back. */
static int
ctl_feed_turn(struct ev_loop *l, int fd, struct ctl_feed_rx *rx,
              void (*turn)(void *), void *arg)
{
    ev_run_once(l, 0);
    if (turn != NULL)
        turn(arg);
    return ctl_feed_read(fd, rx);
}

void
ctl_feed(struct ev_loop *l, const char *path, const uint8_t *data, size_t size,
         void (*turn)(void *), void *arg)
{
    struct ctl_feed_rx rx = {0};
    int fd = ctl_client_connect(path), closed = 0, turns = 0, quiet = 0;
    size_t sent = 0, got = 0;

    if (fd < 0)
        abort(); /* the harness's problem, not a finding */
    /* the input, as fast as the server reads it */
    while (!closed && sent < size) {
        ssize_t n =
            send(fd, data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            break; /* the server closed on us (oversize) */
        closed = ctl_feed_turn(l, fd, &rx, turn, arg);
        if (++turns > CTL_FEED_MAX_TURNS)
            __builtin_trap(); /* the server stopped reading */
    }
    /* the answers, until nothing more comes (deferred ones may never) */
    while (!closed && quiet < 3) {
        got = rx.total;
        closed = ctl_feed_turn(l, fd, &rx, turn, arg);
        quiet = rx.total == got ? quiet + 1 : 0;
        if (++turns > CTL_FEED_MAX_TURNS)
            __builtin_trap(); /* answers without end */
    }
    if (rx.len != 0)
        __builtin_trap(); /* a frame cut short */
    /* the client goes: what it left pending is dropped by its owners */
    close(fd);
    for (int i = 0; i < 3; i++) {
        ev_run_once(l, 0);
        if (turn != NULL)
            turn(arg);
    }
    free(rx.buf);
}
