/* ctl_feed.c - one fuzz input as one in-process client (ctl_feed.h): the
 * server side of common/ctl.c (framing, limits, dispatch, output queue)
 * and the daemon's command table behind it, with what comes back checked.
 * No socket and no loop turn: the socket transport itself is tested by
 * tests/unit/test_ctl.c. */
#include "ctl_feed.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Turns one input may take: a server that keeps answering is a finding. */
#define CTL_FEED_MAX_TURNS 100000

struct ctl_feed_rx {
    unsigned char *buf;
    size_t len, cap;
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

/* Reads what is queued: the bytes read (-1 once the server closed). */
static long
ctl_feed_read(struct ctl_sconn *c, struct ctl_feed_rx *rx)
{
    long got = 0;

    for (;;) {
        if (rx->cap - rx->len < 65536) {
            rx->cap = rx->cap * 2 + 65536;
            if ((rx->buf = realloc(rx->buf, rx->cap)) == NULL)
                abort();
        }
        ssize_t n = ctl_local_read(c, rx->buf + rx->len, rx->cap - rx->len);
        if (n > 0) {
            rx->len += (size_t)n;
            got += n;
            ctl_feed_frames(rx);
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return got;
        return -1;
    }
}

void
ctl_feed(struct ctl_server *s, const uint8_t *data, size_t size,
         void (*turn)(void *), void *arg)
{
    static struct ctl_feed_rx rx; /* kept: no 64 KB allocation per input */
    struct ctl_sconn *c = ctl_local_open(s);
    size_t sent = 0, n;
    long got = 0;
    int turns = 0;

    if (c == NULL)
        abort(); /* the harness's problem, not a finding */
    rx.len = 0;
    /* the input, as fast as the server takes it */
    while (got >= 0 && sent < size) {
        sent += n = ctl_local_write(c, data + sent, size - sent);
        if (turn != NULL)
            turn(arg);
        got = ctl_feed_read(c, &rx);
        if (n == 0 && got == 0)
            __builtin_trap(); /* the server stopped reading */
    }
    /* the answers the daemon's work releases, until a turn brings none
     * (deferred ones may never come) */
    while (got >= 0) {
        if (turn != NULL)
            turn(arg);
        if ((got = ctl_feed_read(c, &rx)) == 0)
            break;
        if (++turns > CTL_FEED_MAX_TURNS)
            __builtin_trap(); /* answers without end */
    }
    if (rx.len != 0)
        __builtin_trap(); /* a frame cut short */
    /* the client goes: what it left pending is dropped by its owners */
    ctl_local_close(c);
    if (turn != NULL)
        turn(arg);
}
