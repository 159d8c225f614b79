/* ctl.c - the control socket: a unix stream server on the event loop with
 * bounded, pipelined, length-prefixed JSON requests, and the client side. */
#include "config.h"
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"

#define CTL_JSON_DEPTH 32

/* One client connection. Requests are handled by ctl_conn handles (below);
 * several may be pending at once (deferred answers). */
struct ctl_sconn {
    struct ctl_server *s;
    uint64_t id; /* serial number, for ctl_conn_id */
    int fd;
    /* An in-process client's (ctl_local_open): no socket, no I/O watcher;
     * its client reads the output queue and frees it (ctl_local_close). */
    int local;
    uint32_t events;
    /* When traffic last moved (read, written, or output queued): the idle
     * clock (ctl_idle_cb) runs from here. */
    uint64_t active;
    unsigned char *in; /* 4 + CTL_REQ_MAX bytes */
    size_t inlen;
    unsigned char *out; /* output queue: out[outoff..outlen) unsent */
    size_t outlen, outoff, outcap;
    int closing;  /* flush the queue, then close; read nothing more */
    int blocked;  /* the socket took less than we had: wait for EPOLLOUT */
    int broken;   /* write failed or queue overflowed: the reaper closes it */
    int dead;     /* closed while dispatching: free when it unwinds */
    int dispatching;
    struct ctl_conn *handles;
    struct ctl_sconn *next, *prev;
};

/* What handlers see: one request, or after an answer given inside the
 * handler with an on-close callback registered, a subscription. */
struct ctl_conn {
    struct ctl_sconn *sc;
    struct json_object *id; /* echoed in the answer */
    int answered;
    int in_handler;
    void (*on_close)(struct ctl_conn *, void *);
    void *on_close_arg;
    struct ctl_conn *next, *prev;
};

struct ctl_server {
    struct ev_loop *l;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const struct ctl_cmd *table;
    void *arg;
    struct ctl_sconn *conns;
    int nconns;
    struct ctl_opts o;
    struct ctl_stats st;
    struct log_rl rl;
    struct ev_timer idle; /* armed while clients are connected */
    /* Connections that break while the daemon is pushing or replying are
     * closed from this timer, never synchronously: their on-close
     * callbacks must not run inside the daemon's own loop over watchers. */
    struct ev_timer reaper;
    /* Answers queued during a loop iteration are sent by this timer, at
     * the start of the next one: one send per client for all of them
     * (a burst of pipelined requests gets its answers in a few writes,
     * not one system call and one wake-up of the client per answer). */
    struct ev_timer flusher;
    /* The socket file we created: a restarted instance may already have
     * replaced it by the time we shut down, and that one is not ours. */
    dev_t sock_dev;
    ino_t sock_ino;
};

/* ---- framing ----------------------------------------------------------- */
void
ctl_frame_hdr(unsigned char out[4], size_t len)
{
    out[0] = (unsigned char)(len >> 24);
    out[1] = (unsigned char)(len >> 16);
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
}

int
ctl_frame_len(const unsigned char in[4], size_t max, size_t *len)
{
    size_t n = (size_t)in[0] << 24 | (size_t)in[1] << 16 |
               (size_t)in[2] << 8 | in[3];

    if (n > max)
        return -1;
    *len = n;
    return 0;
}

/* Parses exactly len bytes of JSON (trailing whitespace allowed), depth
 * bounded. NULL if malformed. */
struct json_object *
ctl_json_parse(const char *buf, size_t len)
{
    struct json_tokener *tok;
    struct json_object *o;

    if (len == 0 || len > CTL_RESP_MAX)
        return NULL;
    tok = json_tokener_new_ex(CTL_JSON_DEPTH);
    if (tok == NULL)
        return NULL;
    o = json_tokener_parse_ex(tok, buf, (int)len);
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    } else {
        size_t off = json_tokener_get_parse_end(tok);
        for (; off < len; off++)
            if (buf[off] != ' ' && buf[off] != '\n' && buf[off] != '\t' &&
                buf[off] != '\r')
                break;
        if (off != len) { /* two documents in one frame, or garbage */
            json_object_put(o);
            o = NULL;
        }
    }
    json_tokener_free(tok);
    return o;
}

/* ---- server: output queue ------------------------------------------------ */
static void ctl_sconn_close(struct ctl_sconn *sc);

/* 1 while sc takes requests: not closing, and its client reads what is
 * queued for it. */
static int
ctl_sconn_reading(const struct ctl_sconn *sc)
{
    return !sc->dead && !sc->closing &&
           sc->outlen - sc->outoff < CTL_OUTQ_PAUSE;
}

static void
ctl_sconn_update_events(struct ctl_sconn *sc)
{
    uint32_t ev = 0;

    if (sc->dead || sc->local)
        return;
    if (ctl_sconn_reading(sc))
        ev |= EPOLLIN;
    if (sc->blocked)
        ev |= EPOLLOUT;
    if (ev != sc->events) {
        ev_io_mod(sc->s->l, sc->fd, ev);
        sc->events = ev;
    }
}

/* Writes what the socket takes now. -1 if the connection broke. */
static int
ctl_sconn_flush(struct ctl_sconn *sc)
{
    while (sc->outoff < sc->outlen) {
        ssize_t n = send(sc->fd, sc->out + sc->outoff, sc->outlen - sc->outoff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                sc->blocked = 1;
                return 0;
            }
            return -1;
        }
        sc->outoff += (size_t)n;
        /* the clock, not the iteration's cached time: the answer may
         * leave long after the iteration began (a slow request) */
        sc->active = ev_clock_ms();
    }
    sc->blocked = 0;
    sc->outoff = sc->outlen = 0;
    return 0;
}

/* Marks sc for closing by the reaper; nothing more is sent or read. */
static void
ctl_sconn_fail(struct ctl_sconn *sc)
{
    if (sc->dead || sc->broken)
        return;
    sc->broken = 1;
    sc->closing = 1;
    sc->blocked = 0;
    sc->outoff = sc->outlen = 0;
    ctl_sconn_update_events(sc);
    ev_timer_start(sc->s->l, &sc->s->reaper, 0);
}

static void
ctl_reaper_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct ctl_server *s = arg;
    struct ctl_sconn *sc, *next;

    (void)l;
    (void)t;
    for (sc = s->conns; sc != NULL; sc = next) {
        next = sc->next;
        if (sc->broken)
            ctl_sconn_close(sc);
    }
}

/* Queues one framed message; the flusher sends it (ctl_flush_cb), or
 * EPOLLOUT if the socket is full. */
static int
ctl_sconn_queue(struct ctl_sconn *sc, const char *js, size_t len)
{
    size_t need;

    if (sc->dead || sc->closing)
        return -1;
    if (len > CTL_RESP_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    if (sc->outlen - sc->outoff + len + 4 > CTL_OUTQ_MAX) {
        /* The client does not read: drop it rather than grow forever. */
        sc->s->st.outq_overflow++;
        log_warnx_rl(&sc->s->rl, "control: client not reading, %zu bytes "
                                 "queued: closing it",
                     sc->outlen - sc->outoff);
        ctl_sconn_fail(sc);
        errno = ENOBUFS;
        return -1;
    }
    if (sc->outlen == sc->outoff) /* the client has something to read now */
        sc->active = ev_clock_ms();
    if (sc->outoff > 0 && sc->outoff >= sc->outlen / 2) {
        memmove(sc->out, sc->out + sc->outoff, sc->outlen - sc->outoff);
        sc->outlen -= sc->outoff;
        sc->outoff = 0;
    }
    need = sc->outlen + 4 + len;
    if (need > sc->outcap) {
        size_t cap = sc->outcap ? sc->outcap : 4096;
        while (cap < need)
            cap *= 2;
        unsigned char *o = realloc(sc->out, cap);
        if (o == NULL)
            return -1;
        sc->out = o;
        sc->outcap = cap;
    }
    ctl_frame_hdr(sc->out + sc->outlen, len);
    memcpy(sc->out + sc->outlen + 4, js, len);
    sc->outlen += 4 + len;
    /* the loop's time, not the clock's: due in this iteration's timer
     * pass, or at once in the next (an in-process client reads the queue
     * itself) */
    if (!sc->local && !sc->blocked && !ev_timer_active(&sc->s->flusher))
        ev_timer_at(sc->s->l, &sc->s->flusher, ev_now(sc->s->l));
    ctl_sconn_update_events(sc);
    return 0;
}

static int
ctl_sconn_send_json(struct ctl_sconn *sc, struct json_object *o)
{
    size_t len;
    const char *js =
        json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);

    if (js == NULL)
        return -1;
    return ctl_sconn_queue(sc, js, len);
}

/* ---- server: request handles -------------------------------------------- */
static struct ctl_conn *
ctl_handle_new(struct ctl_sconn *sc, struct json_object *id)
{
    struct ctl_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->sc = sc;
    c->id = id ? json_object_get(id) : NULL;
    c->next = sc->handles;
    if (sc->handles)
        sc->handles->prev = c;
    sc->handles = c;
    return c;
}

static void
ctl_handle_free(struct ctl_conn *c)
{
    struct ctl_sconn *sc = c->sc;

    if (sc) {
        if (c->prev)
            c->prev->next = c->next;
        else
            sc->handles = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    json_object_put(c->id);
    free(c);
}

/* Sends {"ok":..., "id":...} for c. */
static void
ctl_answer(struct ctl_conn *c, struct json_object *resp)
{
    if (c->answered) {
        /* Our callers' bug; keep the first answer. */
        log_warnx("control: request answered twice");
        json_object_put(resp);
        return;
    }
    c->answered = 1;
    if (c->id)
        ctl_jadd(resp, "id", json_object_get(c->id));
    if (c->sc && !c->sc->dead) {
        c->sc->s->st.replies++;
        if (ctl_sconn_send_json(c->sc, resp) < 0 && errno == EMSGSIZE) {
            struct json_object *e = json_object_new_object();
            ctl_jadd(e, "ok", json_object_new_boolean(0));
            ctl_jadd(e, "code", json_object_new_int(CTL_E_INTERNAL));
            ctl_jadd(e, "error", json_object_new_string("answer too large"));
            if (c->id)
                ctl_jadd(e, "id", json_object_get(c->id));
            ctl_sconn_send_json(c->sc, e);
            json_object_put(e);
        }
    }
    json_object_put(resp);
    /* A deferred answer ends the handle. One given inside the handler
     * is settled when the handler returns (ctl_dispatch). */
    if (!c->in_handler)
        ctl_handle_free(c);
}

void
ctl_reply_ok(struct ctl_conn *c, struct json_object *result)
{
    struct json_object *r = json_object_new_object();

    ctl_jadd(r, "ok", json_object_new_boolean(1));
    ctl_jadd(r, "result", result);
    ctl_answer(c, r);
}

static void
ctl_reply_verr(struct ctl_conn *c, int code, const char *fmt, va_list ap)
{
    struct json_object *r = json_object_new_object();
    char msg[1024];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    ctl_jadd(r, "ok", json_object_new_boolean(0));
    ctl_jadd(r, "code", json_object_new_int(code));
    ctl_jadd(r, "error", json_object_new_string(msg));
    ctl_answer(c, r);
}

void
ctl_reply_err(struct ctl_conn *c, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ctl_reply_verr(c, code, fmt, ap);
    va_end(ap);
}

void
ctl_conn_on_close(struct ctl_conn *c, void (*cb)(struct ctl_conn *, void *),
                  void *arg)
{
    c->on_close = cb;
    c->on_close_arg = arg;
}

uint64_t
ctl_conn_id(const struct ctl_conn *c)
{
    return c->sc && !c->sc->dead ? c->sc->id : 0;
}

int
ctl_conn_send(struct ctl_conn *c, struct json_object *msg)
{
    if (c->sc == NULL || c->sc->dead || c->sc->closing) {
        errno = ENOTCONN;
        return -1;
    }
    c->sc->s->st.events++;
    return ctl_sconn_send_json(c->sc, msg);
}

/* ---- server: connections -------------------------------------------------- */
static void
ctl_sconn_free(struct ctl_sconn *sc)
{
    free(sc->in);
    free(sc->out);
    free(sc);
}

/* Frees a closed connection unless something still holds it: a dispatch
 * loop (it frees it when it unwinds) or an in-process client
 * (ctl_local_close frees it). */
static void
ctl_sconn_release(struct ctl_sconn *sc)
{
    if (!sc->dispatching && !sc->local)
        ctl_sconn_free(sc);
}

/* Closes the socket and tells every live handle's owner. Safe to call from
 * inside a handler or callback: the memory goes when dispatch unwinds. */
static void
ctl_sconn_close(struct ctl_sconn *sc)
{
    struct ctl_server *s = sc->s;

    if (sc->dead)
        return;
    sc->dead = 1;
    if (!sc->local) {
        ev_io_del(s->l, sc->fd);
        close(sc->fd);
        sc->fd = -1;
    }
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    s->nconns--;
    s->st.closed++;
    while (sc->handles) {
        struct ctl_conn *c = sc->handles;
        sc->handles = c->next;
        c->sc = NULL;
        c->next = c->prev = NULL;
        if (c->on_close && !c->in_handler)
            c->on_close(c, c->on_close_arg);
        if (c->in_handler)
            continue; /* ctl_dispatch frees it when the handler returns */
        ctl_handle_free(c);
    }
    ctl_sconn_release(sc);
}

static void
ctl_err_nohandle(struct ctl_sconn *sc, struct json_object *id, int code,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* An error answer for a request that never reached a handler. */
static void
ctl_err_nohandle(struct ctl_sconn *sc, struct json_object *id, int code,
                 const char *fmt, ...)
{
    struct ctl_conn *c = ctl_handle_new(sc, id);
    va_list ap;

    if (c == NULL)
        return;
    va_start(ap, fmt);
    ctl_reply_verr(c, code, fmt, ap);
    va_end(ap);
}

static void
ctl_help(struct ctl_conn *c, struct ctl_server *s)
{
    struct json_object *a = json_object_new_array();

    for (const struct ctl_cmd *t = s->table; t && t->name; t++) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string(t->name));
        json_object_object_add(o, "help",
                               json_object_new_string(t->help ? t->help : ""));
        json_object_array_add(a, o);
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string("help"));
    json_object_object_add(o, "help",
                           json_object_new_string("list the commands"));
    json_object_array_add(a, o);
    ctl_reply_ok(c, a);
}

/* One complete request frame. */
static void
ctl_dispatch(struct ctl_sconn *sc, const char *buf, size_t len)
{
    struct ctl_server *s = sc->s;
    struct json_object *req = ctl_json_parse(buf, len), *o, *id = NULL,
                       *args = NULL;
    const struct ctl_cmd *t;
    const char *name;
    struct ctl_conn *c;

    s->st.requests++;
    if (req == NULL || !json_object_is_type(req, json_type_object)) {
        s->st.bad_request++;
        ctl_err_nohandle(sc, NULL, CTL_E_USAGE,
                         "malformed request: not a JSON object");
        json_object_put(req);
        return;
    }
    json_object_object_get_ex(req, "id", &id);
    if (!json_object_object_get_ex(req, "cmd", &o) ||
        !json_object_is_type(o, json_type_string)) {
        s->st.bad_request++;
        ctl_err_nohandle(sc, id, CTL_E_USAGE,
                         "malformed request: no \"cmd\" string");
        json_object_put(req);
        return;
    }
    name = json_object_get_string(o);
    if (json_object_object_get_ex(req, "args", &args) && args &&
        !json_object_is_type(args, json_type_object)) {
        s->st.bad_request++;
        ctl_err_nohandle(sc, id, CTL_E_USAGE,
                         "malformed request: \"args\" must be an object");
        json_object_put(req);
        return;
    }
    for (t = s->table; t && t->name; t++)
        if (strcmp(t->name, name) == 0)
            break;
    c = ctl_handle_new(sc, id);
    if (c == NULL) {
        json_object_put(req);
        return;
    }
    if (strcmp(name, "help") == 0) {
        ctl_help(c, s);
        json_object_put(req);
        return;
    }
    if (t == NULL || t->name == NULL) {
        s->st.unknown_cmd++;
        ctl_reply_err(c, CTL_E_USAGE, "unknown command '%.64s' (try 'help')",
                      name);
        json_object_put(req);
        return;
    }
    if (args == NULL) {
        args = json_object_new_object();
        json_object_object_add(req, "args", args);
    }
    c->in_handler = 1;
    t->fn(c, args, s->arg);
    c->in_handler = 0;
    json_object_put(req);
    if (c->sc == NULL) {
        /* The connection closed under the handler. */
        if (c->on_close && !c->answered)
            c->on_close(c, c->on_close_arg);
        ctl_handle_free(c);
        return;
    }
    if (!c->answered) {
        s->st.deferred++;
        return; /* answered later, or on_close when the client goes */
    }
    if (c->on_close == NULL)
        ctl_handle_free(c);
    /* else: a subscription (watch), kept until the client closes */
}

/* Handles every complete frame in the input buffer. */
static void
ctl_sconn_process(struct ctl_sconn *sc)
{
    size_t off = 0;

    sc->dispatching++;
    while (!sc->dead && !sc->closing && sc->inlen - off >= 4 &&
           sc->outlen - sc->outoff < CTL_OUTQ_PAUSE) {
        size_t len;
        if (ctl_frame_len(sc->in + off, CTL_REQ_MAX, &len) < 0) {
            sc->s->st.oversize++;
            log_warnx_rl(&sc->s->rl,
                         "control: request over %d bytes: closing connection",
                         CTL_REQ_MAX);
            ctl_err_nohandle(sc, NULL, CTL_E_USAGE,
                             "request too large (max %d bytes)", CTL_REQ_MAX);
            /* The stream cannot be resynchronised: answer, then close. */
            sc->closing = 1;
            off = sc->inlen;
            break;
        }
        if (sc->inlen - off - 4 < len)
            break;
        ctl_dispatch(sc, (const char *)sc->in + off + 4, len);
        off += 4 + len;
    }
    sc->dispatching--;
    if (sc->dead) {
        ctl_sconn_release(sc);
        return;
    }
    if (off) {
        memmove(sc->in, sc->in + off, sc->inlen - off);
        sc->inlen -= off;
    }
    if (sc->closing && sc->outlen == sc->outoff) {
        ctl_sconn_close(sc);
        return;
    }
    ctl_sconn_update_events(sc);
}

/* n bytes arrived at sc->in + sc->inlen, from the socket or an in-process
 * client: every whole request among them is dispatched. */
static void
ctl_sconn_received(struct ctl_sconn *sc, size_t n)
{
    sc->active = ev_now(sc->s->l);
    sc->inlen += n;
    ctl_sconn_process(sc);
}

/* The client took output: a closing connection is closed once drained;
 * requests left in the buffer while the queue was over the pause mark are
 * dispatched. */
static void
ctl_sconn_taken(struct ctl_sconn *sc)
{
    if (sc->closing && sc->outlen == sc->outoff) {
        ctl_sconn_close(sc);
        return;
    }
    if (sc->inlen >= 4)
        ctl_sconn_process(sc);
    else
        ctl_sconn_update_events(sc);
}

/* Sends what is queued, then as ctl_sconn_taken. */
static void
ctl_sconn_drain(struct ctl_sconn *sc)
{
    if (ctl_sconn_flush(sc) < 0) {
        ctl_sconn_close(sc);
        return;
    }
    ctl_sconn_taken(sc);
}

static void
ctl_flush_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct ctl_server *s = arg;
    struct ctl_sconn *sc, *next;

    (void)l;
    (void)t;
    for (sc = s->conns; sc != NULL; sc = next) {
        next = sc->next;
        if (sc->outlen > sc->outoff && !sc->blocked && !sc->broken &&
            !sc->local)
            ctl_sconn_drain(sc);
    }
}

static void
ctl_sconn_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct ctl_sconn *sc = arg;

    (void)l;
    (void)fd;
    if (events & EPOLLOUT) {
        ctl_sconn_drain(sc);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || sc->closing)
        return;
    size_t room = 4 + CTL_REQ_MAX - sc->inlen;
    if (room == 0)
        return; /* a full frame waits for the output queue to drain */
    ssize_t n = recv(sc->fd, sc->in + sc->inlen, room, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        ctl_sconn_close(sc); /* EOF or error: deferred handles learn it */
        return;
    }
    ctl_sconn_received(sc, (size_t)n);
}

/* A new connection on fd, or with fd -1 an in-process client's; NULL if
 * out of memory. */
static struct ctl_sconn *
ctl_sconn_new(struct ctl_server *s, int fd)
{
    struct ctl_sconn *sc = calloc(1, sizeof(*sc));

    if (sc == NULL || (sc->in = malloc(4 + CTL_REQ_MAX)) == NULL) {
        free(sc);
        return NULL;
    }
    sc->s = s;
    sc->id = s->st.accepted + 1;
    sc->fd = fd;
    sc->local = fd < 0;
    sc->events = EPOLLIN;
    sc->active = ev_now(s->l);
    if (!sc->local && ev_io_add(s->l, fd, EPOLLIN, ctl_sconn_cb, sc) < 0) {
        log_warn("control: ev_io_add");
        ctl_sconn_free(sc);
        return NULL;
    }
    sc->next = s->conns;
    if (s->conns)
        s->conns->prev = sc;
    s->conns = sc;
    s->nconns++;
    s->st.accepted++;
    if (s->o.idle_ms > 0 && !ev_timer_active(&s->idle))
        ev_timer_start(s->l, &s->idle, s->o.idle_ms);
    return sc;
}

static void
ctl_accept_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct ctl_server *s = arg;
    int cfd;

    (void)l;
    (void)events;
    cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
        if (errno != EAGAIN && errno != EINTR)
            log_warn("control: accept");
        return;
    }
    if (s->nconns >= s->o.max_conns) {
        static const char msg[] =
            "{\"ok\":false,\"code\":6,\"error\":\"too many connections\"}";
        unsigned char hdr[4];
        s->st.refused++;
        log_warnx_rl(&s->rl, "control: %d connections open: refusing one",
                     s->nconns);
        ctl_frame_hdr(hdr, sizeof(msg) - 1);
        if (send(cfd, hdr, 4, MSG_NOSIGNAL | MSG_DONTWAIT) == 4)
            (void)!send(cfd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(cfd);
        return;
    }
    if (ctl_sconn_new(s, cfd) == NULL)
        close(cfd);
}

/* 1 if the idle clock runs for sc: it does not read what we queued, or
 * nothing is pending either way (no deferred request, no subscription).
 * A watcher that keeps up, or a client waiting for a deferred answer
 * (bounded by its own wait), is not idle however quiet. */
static int
ctl_sconn_idle_clock(const struct ctl_sconn *sc)
{
    return sc->outlen > sc->outoff || sc->handles == NULL;
}

/* Closes the clients whose idle clock ran out, and runs again at the
 * next one's deadline (or after a whole idle period: a client whose clock
 * starts later starts it from now, so it cannot run out sooner). */
static void
ctl_idle_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct ctl_server *s = arg;
    struct ctl_sconn *sc, *next;
    uint64_t now = ev_clock_ms(), at = now + s->o.idle_ms;

    (void)t;
    for (sc = s->conns; sc != NULL; sc = next) {
        next = sc->next;
        if (sc->dead || sc->broken || !ctl_sconn_idle_clock(sc))
            continue;
        if (now - sc->active >= s->o.idle_ms) {
            s->st.idle_closed++;
            log_warnx_rl(&s->rl, "control: closing a client idle for %llu "
                         "ms (%s)", (unsigned long long)(now - sc->active),
                         sc->outlen > sc->outoff ? "not reading its answers"
                                                 : "nothing pending");
            ctl_sconn_close(sc);
        } else if (sc->active + s->o.idle_ms < at)
            at = sc->active + s->o.idle_ms;
    }
    if (s->nconns > 0)
        ev_timer_at(l, &s->idle, at);
}

/* 1 if a daemon answers on path, 0 if not (stale or absent). */
static int
ctl_path_alive(const char *path)
{
    int fd = ctl_client_connect(path);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* The socket's directory (e.g. /run/splitnve) may not exist yet: one level
 * is created, as daemons do for their run directory. */
static void
ctl_mkparent(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
        return;
    *slash = '\0';
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        log_warn("control: mkdir %s", dir);
}

void
ctl_opts_default(struct ctl_opts *o)
{
    o->gid = (gid_t)-1;
    o->max_conns = CTL_MAX_CONNS;
    o->idle_ms = CTL_IDLE_MS;
}

/* A server with no socket yet (fd -1). */
static struct ctl_server *
ctl_server_alloc(struct ev_loop *l, const struct ctl_opts *o,
                 const struct ctl_cmd *table, void *arg)
{
    struct ctl_server *s = calloc(1, sizeof(*s));
    struct ctl_opts dflt;

    if (s == NULL)
        return NULL;
    if (o == NULL) {
        ctl_opts_default(&dflt);
        o = &dflt;
    }
    s->l = l;
    s->fd = -1;
    s->table = table;
    s->arg = arg;
    s->o = *o;
    if (s->o.max_conns < 1)
        s->o.max_conns = 1;
    ev_timer_init(&s->reaper, ctl_reaper_cb, s);
    ev_timer_init(&s->flusher, ctl_flush_cb, s);
    ev_timer_init(&s->idle, ctl_idle_cb, s);
    log_rl_init(&s->rl, LOG_RL_BURST, LOG_RL_INTERVAL_MS);
    return s;
}

struct ctl_server *
ctl_server_new(struct ev_loop *l, const char *path, const struct ctl_opts *o,
               const struct ctl_cmd *table, void *arg)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct ctl_server *s;
    mode_t old, mode;

    if (path == NULL)
        return ctl_server_alloc(l, o, table, arg);
    if (strlen(path) >= sizeof(sun.sun_path)) {
        log_warnx("control: socket path too long: %s", path);
        errno = ENAMETOOLONG;
        return NULL;
    }
    ctl_mkparent(path);
    if (ctl_path_alive(path)) {
        /* Never steal the socket of a running daemon. */
        log_warnx("control: %s: another daemon is listening there", path);
        errno = EADDRINUSE;
        return NULL;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        log_warn("control: unlink %s", path);
        return NULL;
    }
    if ((s = ctl_server_alloc(l, o, table, arg)) == NULL)
        return NULL;
    mode = s->o.gid == (gid_t)-1 ? 0600 : 0660;
    snprintf(s->path, sizeof(s->path), "%s", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        log_warn("control: socket");
        free(s);
        return NULL;
    }
    /* The umask makes the socket appear as 0600: no window in which it is
     * more open than asked. The group's members get in only once it is
     * the group's (needs CAP_CHOWN unless we are a member). */
    old = umask(0177);
    int bound = bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    umask(old);
    if (!bound ||
        (s->o.gid != (gid_t)-1 && chown(path, (uid_t)-1, s->o.gid) < 0) ||
        chmod(path, mode) < 0 || listen(s->fd, 16) < 0 ||
        ev_io_add(l, s->fd, EPOLLIN, ctl_accept_cb, s) < 0) {
        int e = errno;
        log_warn("control: %s", path);
        close(s->fd);
        if (bound)
            unlink(path);
        free(s);
        errno = e;
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        s->sock_dev = st.st_dev;
        s->sock_ino = st.st_ino;
    }
    return s;
}

void
ctl_server_free(struct ctl_server *s)
{
    if (s == NULL)
        return;
    /* what the last iteration answered (a daemon's final commit) */
    for (struct ctl_sconn *sc = s->conns; sc != NULL; sc = sc->next)
        if (!sc->broken && !sc->local)
            (void)ctl_sconn_flush(sc);
    while (s->conns)
        ctl_sconn_close(s->conns);
    ev_timer_stop(s->l, &s->reaper);
    ev_timer_stop(s->l, &s->flusher);
    ev_timer_stop(s->l, &s->idle);
    if (s->fd >= 0) {
        struct stat st;
        ev_io_del(s->l, s->fd);
        close(s->fd);
        if (stat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
            st.st_ino == s->sock_ino)
            unlink(s->path);
    }
    free(s);
}

const struct ctl_stats *
ctl_server_stats(const struct ctl_server *s)
{
    return &s->st;
}

int
ctl_server_nconns(const struct ctl_server *s)
{
    return s->nconns;
}

struct json_object *
ctl_server_stats_json(const struct ctl_server *s)
{
    struct json_object *o = json_object_new_object();

    ctl_jint(o, "connections", s->nconns);
    ctl_jint(o, "max_connections", s->o.max_conns);
    ctl_jint(o, "accepted", s->st.accepted);
    ctl_jint(o, "refused", s->st.refused);
    ctl_jint(o, "idle_closed", s->st.idle_closed);
    ctl_jint(o, "requests", s->st.requests);
    ctl_jint(o, "bad_request", s->st.bad_request);
    ctl_jint(o, "unknown_cmd", s->st.unknown_cmd);
    ctl_jint(o, "oversize", s->st.oversize);
    ctl_jint(o, "outq_overflow", s->st.outq_overflow);
    return o;
}

/* ---- in-process clients ------------------------------------------------ */
struct ctl_sconn *
ctl_local_open(struct ctl_server *s)
{
    struct ctl_sconn *sc;

    if (s->nconns >= s->o.max_conns) {
        s->st.refused++;
        errno = EMFILE;
        return NULL;
    }
    if ((sc = ctl_sconn_new(s, -1)) == NULL)
        errno = ENOMEM;
    return sc;
}

size_t
ctl_local_write(struct ctl_sconn *sc, const void *buf, size_t len)
{
    size_t n = 4 + CTL_REQ_MAX - sc->inlen;

    /* what ctl_sconn_cb's recv would take */
    if (!ctl_sconn_reading(sc))
        return 0;
    if (n > len)
        n = len;
    if (n > 0) {
        memcpy(sc->in + sc->inlen, buf, n);
        ctl_sconn_received(sc, n);
    }
    return n;
}

ssize_t
ctl_local_read(struct ctl_sconn *sc, void *buf, size_t max)
{
    size_t n = sc->outlen - sc->outoff;

    /* a broken connection's queue was dropped: its socket would be shut */
    if (sc->dead || sc->broken)
        return 0;
    if (n == 0 || max == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (n > max)
        n = max;
    memcpy(buf, sc->out + sc->outoff, n);
    sc->outoff += n;
    sc->active = ev_clock_ms();
    if (sc->outoff == sc->outlen)
        sc->outoff = sc->outlen = 0;
    ctl_sconn_taken(sc);
    return (ssize_t)n;
}

void
ctl_local_close(struct ctl_sconn *sc)
{
    ctl_sconn_close(sc); /* nothing if the server closed it first */
    ctl_sconn_free(sc);
}

/* ---- client ------------------------------------------------------------- */
int
ctl_client_connect(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static uint64_t
ctl_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd has ev or the deadline (0 = none) passes. */
static int
ctl_wait(int fd, short ev, uint64_t deadline)
{
    for (;;) {
        int t = -1;
        if (deadline) {
            uint64_t now = ctl_mono_ms();
            if (now >= deadline) {
                errno = ETIMEDOUT;
                return -1;
            }
            t = (int)(deadline - now);
        }
        struct pollfd p = {.fd = fd, .events = ev};
        int n = poll(&p, 1, t);
        if (n > 0)
            return 0;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

static int
ctl_write_all(int fd, const void *buf, size_t len, uint64_t deadline)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (ctl_wait(fd, POLLOUT, deadline) < 0)
                    return -1;
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
ctl_read_all(int fd, void *buf, size_t len, uint64_t deadline)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
        if (n == 0) {
            errno = ECONNRESET; /* the daemon went away */
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (ctl_wait(fd, POLLIN, deadline) < 0)
                    return -1;
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static uint64_t
ctl_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? 0 : ctl_mono_ms() + (uint64_t)timeout_ms + 1;
}

int
ctl_client_send(int fd, struct json_object *req)
{
    size_t len;
    const char *js =
        json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
    unsigned char *frame;
    int rc;

    if (js == NULL) {
        errno = ENOMEM;
        return -1;
    }
    if (len > CTL_REQ_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    /* header and body in one write: one system call, and the daemon is
     * not woken for a header alone */
    if ((frame = malloc(4 + len)) == NULL)
        return -1;
    ctl_frame_hdr(frame, len);
    memcpy(frame + 4, js, len);
    rc = ctl_write_all(fd, frame, 4 + len, 0);
    free(frame);
    return rc;
}

static int
ctl_client_recv_until(int fd, struct json_object **msg, uint64_t deadline)
{
    unsigned char hdr[4];
    size_t len;
    char *buf;

    *msg = NULL;
    if (ctl_read_all(fd, hdr, 4, deadline) < 0)
        return -1;
    if (ctl_frame_len(hdr, CTL_RESP_MAX, &len) < 0) {
        errno = EMSGSIZE;
        return -1;
    }
    buf = malloc(len ? len : 1);
    if (buf == NULL)
        return -1;
    if (ctl_read_all(fd, buf, len, deadline) < 0) {
        int e = errno;
        free(buf);
        errno = e;
        return -1;
    }
    *msg = ctl_json_parse(buf, len);
    free(buf);
    if (*msg == NULL) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

int
ctl_client_recv(int fd, struct json_object **msg, int timeout_ms)
{
    return ctl_client_recv_until(fd, msg, ctl_deadline(timeout_ms));
}

int
ctl_client_call(int fd, struct json_object *req, struct json_object **resp,
                int timeout_ms)
{
    uint64_t deadline = ctl_deadline(timeout_ms);

    *resp = NULL;
    if (ctl_client_send(fd, req) < 0)
        return -1;
    for (;;) {
        struct json_object *m, *ok;
        if (ctl_client_recv_until(fd, &m, deadline) < 0)
            return -1;
        /* Pushed events (no "ok") may precede the answer on a watching
         * connection: skip them. */
        if (json_object_is_type(m, json_type_object) &&
            json_object_object_get_ex(m, "ok", &ok)) {
            *resp = m;
            return 0;
        }
        json_object_put(m);
    }
}
