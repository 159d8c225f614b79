/* test_ctl.c - the control socket for real: a server on an event loop in a
 * thread, the client API in the test thread; framing, pipelining, deferred
 * answers out of order, oversize, watch, slow clients, connection limits,
 * idle clients, the socket's mode and group; in-process clients. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "ev.h"
#include "log.h"

/* ---- the test server ----------------------------------------------------- */
struct srv {
    struct ev_loop *l;
    struct ctl_server *s;
    char path[108];
    int stop[2];
    pthread_t thr;
    struct ctl_conn *deferred[16];
    int ndeferred;
    struct ctl_conn *watchers[8];
    int nwatchers;
    int closed_deferred, closed_watchers;
    int in_notify, reentrant; /* on-close run inside our own push loop */
};

/* How long a test waits for what must come: long, since a loaded host with
 * sanitizers can take seconds to produce megabytes of answers; a broken
 * server fails these waits as surely as a short one would. */
#define WAIT_MS 30000

static void
cmd_echo(struct ctl_conn *c, struct json_object *args, void *arg)
{
    (void)arg;
    ctl_reply_ok(c, json_object_get(args));
}

static void
deferred_gone(struct ctl_conn *c, void *arg)
{
    struct srv *v = arg;

    for (int i = 0; i < v->ndeferred; i++)
        if (v->deferred[i] == c) {
            v->deferred[i] = v->deferred[--v->ndeferred];
            v->closed_deferred++;
            return;
        }
}

static void
cmd_defer(struct ctl_conn *c, struct json_object *args, void *arg)
{
    struct srv *v = arg;

    (void)args;
    v->deferred[v->ndeferred++] = c;
    ctl_conn_on_close(c, deferred_gone, v);
}

/* Answers every deferred request, newest first, then itself. */
static void
cmd_flush(struct ctl_conn *c, struct json_object *args, void *arg)
{
    struct srv *v = arg;

    (void)args;
    while (v->ndeferred > 0) {
        struct ctl_conn *d = v->deferred[--v->ndeferred];
        ctl_reply_ok(d, json_object_new_string("late"));
    }
    ctl_reply_ok(c, NULL);
}

static void
watcher_gone(struct ctl_conn *c, void *arg)
{
    struct srv *v = arg;

    if (v->in_notify)
        v->reentrant++;
    for (int i = 0; i < v->nwatchers; i++)
        if (v->watchers[i] == c) {
            v->watchers[i] = v->watchers[--v->nwatchers];
            v->closed_watchers++;
            return;
        }
}

static void
cmd_watch(struct ctl_conn *c, struct json_object *args, void *arg)
{
    struct srv *v = arg;

    (void)args;
    v->watchers[v->nwatchers++] = c;
    ctl_conn_on_close(c, watcher_gone, v);
    ctl_reply_ok(c, NULL);
}

static void
cmd_notify(struct ctl_conn *c, struct json_object *args, void *arg)
{
    struct srv *v = arg;
    struct json_object *ev = json_object_new_object(), *n;
    int sent = 0, times = 1;

    if (json_object_object_get_ex(args, "times", &n))
        times = json_object_get_int(n);
    json_object_object_add(ev, "event", json_object_new_string("vnic"));
    json_object_object_add(ev, "args", json_object_get(args));
    v->in_notify = 1;
    for (int k = 0; k < times; k++)
        for (int i = v->nwatchers - 1; i >= 0; i--)
            if (ctl_conn_send(v->watchers[i], ev) == 0)
                sent++;
    v->in_notify = 0;
    json_object_put(ev);
    ctl_reply_ok(c, json_object_new_int(sent));
}

/* An answer of n KiB. */
static void
cmd_connid(struct ctl_conn *c, struct json_object *args, void *arg)
{
    (void)args;
    (void)arg;
    ctl_reply_ok(c, json_object_new_int64((int64_t)ctl_conn_id(c)));
}

static void
cmd_big(struct ctl_conn *c, struct json_object *args, void *arg)
{
    struct json_object *n;
    size_t kib = 1;
    char *s;

    (void)arg;
    if (json_object_object_get_ex(args, "kib", &n))
        kib = (size_t)json_object_get_int(n);
    s = malloc(kib * 1024 + 1);
    memset(s, 'x', kib * 1024);
    s[kib * 1024] = '\0';
    ctl_reply_ok(c, json_object_new_string(s));
    free(s);
}

static void
cmd_stats(struct ctl_conn *c, struct json_object *args, void *arg)
{
    struct srv *v = arg;
    const struct ctl_stats *st = ctl_server_stats(v->s);
    struct json_object *o = json_object_new_object();

    (void)args;
#define ADD(k, x) json_object_object_add(o, k, json_object_new_int64((int64_t)(x)))
    ADD("oversize", st->oversize);
    ADD("bad_request", st->bad_request);
    ADD("unknown_cmd", st->unknown_cmd);
    ADD("refused", st->refused);
    ADD("idle_closed", st->idle_closed);
    ADD("deferred", st->deferred);
    ADD("events", st->events);
    ADD("outq_overflow", st->outq_overflow);
    ADD("nconns", ctl_server_nconns(v->s));
    ADD("ndeferred", v->ndeferred);
    ADD("nwatchers", v->nwatchers);
    ADD("closed_deferred", v->closed_deferred);
    ADD("closed_watchers", v->closed_watchers);
    ADD("reentrant", v->reentrant);
#undef ADD
    ctl_reply_ok(c, o);
}

static const struct ctl_cmd table[] = {
    {"echo", cmd_echo, "answer the args"},
    {"defer", cmd_defer, "answer when flushed"},
    {"flush", cmd_flush, "answer deferred requests, newest first"},
    {"watch", cmd_watch, "subscribe to events"},
    {"notify", cmd_notify, "push an event to watchers"},
    {"big", cmd_big, "a large answer"},
    {"connid", cmd_connid, "the connection's id"},
    {"stats", cmd_stats, "counters"},
    {NULL, NULL, NULL}};

static void
stop_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    (void)fd;
    (void)events;
    (void)arg;
    ev_break(l);
}

static void *
srv_thread(void *arg)
{
    struct srv *v = arg;

    ev_run(v->l);
    return NULL;
}

static int
srv_start_opts(void **state, const struct ctl_opts *o)
{
    struct srv *v = calloc(1, sizeof(*v));

    snprintf(v->path, sizeof(v->path), "/tmp/test_ctl.%d.sock", (int)getpid());
    unlink(v->path);
    v->l = ev_loop_new();
    v->s = ctl_server_new(v->l, v->path, o, table, v);
    if (v->s == NULL)
        return -1;
    if (pipe(v->stop) < 0)
        return -1;
    ev_io_add(v->l, v->stop[0], EPOLLIN, stop_cb, v);
    pthread_create(&v->thr, NULL, srv_thread, v);
    *state = v;
    return 0;
}

static int
srv_start(void **state)
{
    return srv_start_opts(state, NULL);
}

/* Idle clients closed after IDLE_MS; at most 4 clients. */
#define IDLE_MS 300
static int
srv_start_idle(void **state)
{
    struct ctl_opts o;

    ctl_opts_default(&o);
    o.idle_ms = IDLE_MS;
    o.max_conns = 4;
    return srv_start_opts(state, &o);
}

static int
srv_stop(void **state)
{
    struct srv *v = *state;

    assert_int_equal(write(v->stop[1], "x", 1), 1);
    pthread_join(v->thr, NULL);
    ctl_server_free(v->s);
    /* Freeing the server closes the rest: every live handle was told. */
    assert_int_equal(v->ndeferred, 0);
    assert_int_equal(v->nwatchers, 0);
    ev_io_del(v->l, v->stop[0]);
    close(v->stop[0]);
    close(v->stop[1]);
    ev_loop_free(v->l);
    assert_int_equal(access(v->path, F_OK), -1); /* socket removed */
    free(v);
    return 0;
}

/* ---- client helpers ------------------------------------------------------ */
static struct json_object *
mkreq(const char *cmd, int id)
{
    struct json_object *r = json_object_new_object();

    json_object_object_add(r, "cmd", json_object_new_string(cmd));
    if (id)
        json_object_object_add(r, "id", json_object_new_int(id));
    return r;
}

static struct json_object *
call(int fd, struct json_object *req)
{
    struct json_object *resp = NULL;

    assert_int_equal(ctl_client_call(fd, req, &resp, WAIT_MS), 0);
    json_object_put(req);
    return resp;
}

static int
get_int(struct json_object *o, const char *k)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(o, k, &v));
    return json_object_get_int(v);
}

static int
is_ok(struct json_object *r)
{
    struct json_object *v;

    return json_object_object_get_ex(r, "ok", &v) && json_object_get_boolean(v);
}

/* A counter of the test server, through a fresh connection (retried
 * while the server is still at its connection limit). */
static int
stat_of(struct srv *v, const char *k)
{
    for (int tries = 0; tries < 200; tries++) {
        int fd = ctl_client_connect(v->path);
        struct json_object *r, *res;
        assert_true(fd >= 0);
        r = call(fd, mkreq("stats", 0));
        close(fd);
        if (json_object_object_get_ex(r, "result", &res)) {
            int n = get_int(res, k);
            json_object_put(r);
            return n;
        }
        json_object_put(r);
        usleep(10000);
    }
    fail_msg("no stats from the server");
    return -1;
}

/* ---- pure framing ---------------------------------------------------------- */
static void
test_framing(void **st)
{
    unsigned char h[4];
    size_t len = 0;

    (void)st;
    ctl_frame_hdr(h, 0x01020304);
    assert_int_equal(h[0], 1);
    assert_int_equal(h[3], 4);
    assert_int_equal(ctl_frame_len(h, 0x01020304, &len), 0);
    assert_int_equal(len, 0x01020304);
    len = 7;
    assert_int_equal(ctl_frame_len(h, 0x01020303, &len), -1);
    assert_int_equal(len, 7); /* untouched on error */
    ctl_frame_hdr(h, CTL_REQ_MAX);
    assert_int_equal(ctl_frame_len(h, CTL_REQ_MAX, &len), 0);
    ctl_frame_hdr(h, CTL_REQ_MAX + 1);
    assert_int_equal(ctl_frame_len(h, CTL_REQ_MAX, &len), -1);
    memset(h, 0xff, 4);
    assert_int_equal(ctl_frame_len(h, CTL_RESP_MAX, &len), -1);
    memset(h, 0, 4);
    assert_int_equal(ctl_frame_len(h, CTL_REQ_MAX, &len), 0);
    assert_int_equal(len, 0);
}

static void
test_json_parse_bounds(void **st)
{
    struct json_object *o;
    char deep[200];

    (void)st;
    o = ctl_json_parse("{\"a\":1} \n", 9);
    assert_non_null(o);
    json_object_put(o);
    assert_null(ctl_json_parse("{\"a\":1}{}", 9));   /* two documents */
    assert_null(ctl_json_parse("{\"a\":1} x", 9));   /* trailing garbage */
    assert_null(ctl_json_parse("{\"a\":", 5));       /* truncated */
    assert_null(ctl_json_parse("", 0));
    /* Only len bytes are read: a valid prefix of a longer buffer. */
    o = ctl_json_parse("[1]garbage", 3);
    assert_non_null(o);
    json_object_put(o);
    /* Nesting deeper than the bound is refused. */
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_null(ctl_json_parse(deep, 200));
}

/* ---- server + client ------------------------------------------------------- */
static void
test_roundtrip_and_errors(void **state)
{
    struct srv *v = *state;
    int fd = ctl_client_connect(v->path);
    struct json_object *req, *r, *res, *x;
    struct stat sb;

    assert_true(fd >= 0);
    assert_int_equal(stat(v->path, &sb), 0);
    assert_true(S_ISSOCK(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);

    req = mkreq("echo", 7);
    struct json_object *args = json_object_new_object();
    json_object_object_add(args, "vn", json_object_new_string("vni:100"));
    json_object_object_add(req, "args", args);
    r = call(fd, req);
    assert_true(is_ok(r));
    assert_int_equal(get_int(r, "id"), 7);
    assert_true(json_object_object_get_ex(r, "result", &res));
    assert_true(json_object_object_get_ex(res, "vn", &x));
    assert_string_equal(json_object_get_string(x), "vni:100");
    json_object_put(r);

    /* No args: handlers get an empty object. A string id is echoed too. */
    req = mkreq("echo", 0);
    json_object_object_add(req, "id", json_object_new_string("abc"));
    r = call(fd, req);
    assert_true(is_ok(r));
    assert_true(json_object_object_get_ex(r, "id", &x));
    assert_string_equal(json_object_get_string(x), "abc");
    assert_true(json_object_object_get_ex(r, "result", &res));
    assert_true(json_object_is_type(res, json_type_object));
    json_object_put(r);

    /* help lists the table plus itself. */
    r = call(fd, mkreq("help", 0));
    assert_true(is_ok(r));
    assert_true(json_object_object_get_ex(r, "result", &res));
    assert_int_equal(json_object_array_length(res), 9);
    x = json_object_array_get_idx(res, 0);
    assert_true(json_object_object_get_ex(x, "cmd", &x));
    assert_string_equal(json_object_get_string(x), "echo");
    json_object_put(r);

    /* Unknown command: usage error, connection stays usable. */
    r = call(fd, mkreq("frobnicate", 9));
    assert_false(is_ok(r));
    assert_int_equal(get_int(r, "code"), CTL_E_USAGE);
    assert_int_equal(get_int(r, "id"), 9);
    assert_true(json_object_object_get_ex(r, "error", &x));
    assert_non_null(strstr(json_object_get_string(x), "frobnicate"));
    json_object_put(r);

    /* Not an object, no cmd, args not an object: each a usage error. */
    unsigned char h[4];
    const char *bad[] = {"[1,2]", "{\"id\":3}", "{\"cmd\":5}",
                         "{\"cmd\":\"echo\",\"args\":[1]}", "{nope", NULL};
    for (int i = 0; bad[i]; i++) {
        ctl_frame_hdr(h, strlen(bad[i]));
        assert_int_equal(write(fd, h, 4), 4);
        assert_int_equal(write(fd, bad[i], strlen(bad[i])),
                         (ssize_t)strlen(bad[i]));
        assert_int_equal(ctl_client_recv(fd, &r, WAIT_MS), 0);
        assert_false(is_ok(r));
        assert_int_equal(get_int(r, "code"), CTL_E_USAGE);
        json_object_put(r);
    }
    /* An empty frame too. */
    memset(h, 0, 4);
    assert_int_equal(write(fd, h, 4), 4);
    assert_int_equal(ctl_client_recv(fd, &r, WAIT_MS), 0);
    assert_false(is_ok(r));
    json_object_put(r);
    r = call(fd, mkreq("echo", 1));
    assert_true(is_ok(r));
    json_object_put(r);
    /* Two requests of one connection share its id; another differs. */
    r = call(fd, mkreq("connid", 0));
    int64_t id1 = json_object_get_int64(json_object_object_get(r, "result"));
    json_object_put(r);
    r = call(fd, mkreq("connid", 0));
    assert_int_equal(json_object_get_int64(json_object_object_get(r, "result")),
                     id1);
    json_object_put(r);
    int fd2 = ctl_client_connect(v->path);
    r = call(fd2, mkreq("connid", 0));
    int64_t id2 = json_object_get_int64(json_object_object_get(r, "result"));
    assert_true(id1 > 0 && id2 > 0 && id1 != id2);
    json_object_put(r);
    close(fd2);
    close(fd);
    assert_int_equal(stat_of(v, "bad_request"), 6);
    assert_int_equal(stat_of(v, "unknown_cmd"), 1);
}

/* Pipelined requests: a deferred one does not hold back later ones, and
 * deferred answers come out of order, each with its id. */
static void
test_pipelining_deferred_out_of_order(void **state)
{
    struct srv *v = *state;
    int fd = ctl_client_connect(v->path);
    struct json_object *r, *x;

    assert_true(fd >= 0);
    /* One write holding three requests. */
    char buf[256];
    size_t off = 0;
    for (int id = 1; id <= 3; id++) {
        struct json_object *q = mkreq(id < 3 ? "defer" : "echo", id);
        size_t n;
        const char *js =
            json_object_to_json_string_length(q, JSON_C_TO_STRING_PLAIN, &n);
        ctl_frame_hdr((unsigned char *)buf + off, n);
        memcpy(buf + off + 4, js, n);
        off += 4 + n;
        json_object_put(q);
    }
    assert_int_equal(write(fd, buf, off), (ssize_t)off);
    assert_int_equal(ctl_client_recv(fd, &r, WAIT_MS), 0);
    assert_int_equal(get_int(r, "id"), 3);
    json_object_put(r);
    /* The deferred ones are still pending. */
    assert_int_equal(ctl_client_recv(fd, &r, 100), -1);
    assert_int_equal(errno, ETIMEDOUT);

    struct json_object *q = mkreq("flush", 4);
    assert_int_equal(ctl_client_send(fd, q), 0);
    json_object_put(q);
    int want[] = {2, 1, 4};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ctl_client_recv(fd, &r, WAIT_MS), 0);
        assert_true(is_ok(r));
        assert_int_equal(get_int(r, "id"), want[i]);
        if (want[i] != 4) {
            assert_true(json_object_object_get_ex(r, "result", &x));
            assert_string_equal(json_object_get_string(x), "late");
        }
        json_object_put(r);
    }
    close(fd);
    assert_int_equal(stat_of(v, "deferred"), 2);
    assert_int_equal(stat_of(v, "closed_deferred"), 0);
}

static void
test_call_timeout_then_disconnect(void **state)
{
    struct srv *v = *state;
    int fd = ctl_client_connect(v->path);
    struct json_object *r = NULL, *q = mkreq("defer", 1);

    assert_true(fd >= 0);
    assert_int_equal(ctl_client_call(fd, q, &r, 100), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_null(r);
    json_object_put(q);
    assert_int_equal(stat_of(v, "ndeferred"), 1);
    /* The client leaves before the answer: the owner is told, once. */
    close(fd);
    for (int i = 0; i < 1000 && stat_of(v, "closed_deferred") == 0; i++)
        usleep(10000);
    assert_int_equal(stat_of(v, "closed_deferred"), 1);
    assert_int_equal(stat_of(v, "ndeferred"), 0);
    /* A flush now answers nothing stale. */
    fd = ctl_client_connect(v->path);
    r = call(fd, mkreq("flush", 2));
    assert_true(is_ok(r));
    assert_int_equal(get_int(r, "id"), 2);
    json_object_put(r);
    close(fd);
}

static void
test_oversize_request(void **state)
{
    struct srv *v = *state;
    int fd = ctl_client_connect(v->path);
    unsigned char h[4];
    struct json_object *r, *x;

    assert_true(fd >= 0);
    ctl_frame_hdr(h, CTL_REQ_MAX + 1);
    assert_int_equal(write(fd, h, 4), 4);
    assert_int_equal(ctl_client_recv(fd, &r, WAIT_MS), 0);
    assert_false(is_ok(r));
    assert_int_equal(get_int(r, "code"), CTL_E_USAGE);
    assert_true(json_object_object_get_ex(r, "error", &x));
    assert_non_null(strstr(json_object_get_string(x), "too large"));
    json_object_put(r);
    /* ...then the server closes: the stream cannot be resynchronised. */
    assert_int_equal(ctl_client_recv(fd, &r, 5000), -1);
    assert_int_equal(errno, ECONNRESET);
    close(fd);
    assert_int_equal(stat_of(v, "oversize"), 1);

    /* A request of exactly the maximum is accepted (a padded echo). */
    fd = ctl_client_connect(v->path);
    char *big = malloc(CTL_REQ_MAX + 1);
    int pre = snprintf(big, 64, "{\"cmd\":\"echo\",\"id\":5}");
    memset(big + pre, ' ', CTL_REQ_MAX - (size_t)pre);
    ctl_frame_hdr(h, CTL_REQ_MAX);
    assert_int_equal(write(fd, h, 4), 4);
    assert_int_equal(write(fd, big, CTL_REQ_MAX), CTL_REQ_MAX);
    free(big);
    assert_int_equal(ctl_client_recv(fd, &r, WAIT_MS), 0);
    assert_true(is_ok(r));
    assert_int_equal(get_int(r, "id"), 5);
    json_object_put(r);
    close(fd);
    /* The client side refuses to send an oversize request. */
    fd = ctl_client_connect(v->path);
    struct json_object *q = mkreq("echo", 1);
    char *s = calloc(1, CTL_REQ_MAX + 1);
    memset(s, 'a', CTL_REQ_MAX);
    json_object_object_add(q, "pad", json_object_new_string(s));
    free(s);
    assert_int_equal(ctl_client_call(fd, q, &r, 1000), -1);
    assert_int_equal(errno, EMSGSIZE);
    json_object_put(q);
    close(fd);
}

static void
test_watch_events(void **state)
{
    struct srv *v = *state;
    int w = ctl_client_connect(v->path), c = ctl_client_connect(v->path);
    struct json_object *r, *x;

    assert_true(w >= 0 && c >= 0);
    r = call(w, mkreq("watch", 1));
    assert_true(is_ok(r));
    json_object_put(r);
    r = call(c, mkreq("notify", 2));
    assert_int_equal(get_int(r, "result"), 1);
    json_object_put(r);
    assert_int_equal(ctl_client_recv(w, &r, WAIT_MS), 0);
    assert_true(json_object_object_get_ex(r, "event", &x));
    assert_string_equal(json_object_get_string(x), "vnic");
    json_object_put(r);
    /* A call on the watching connection skips events to find its answer. */
    r = call(c, mkreq("notify", 3));
    json_object_put(r);
    r = call(w, mkreq("echo", 4));
    assert_true(is_ok(r));
    assert_int_equal(get_int(r, "id"), 4);
    json_object_put(r);
    /* The watcher leaves: its owner is told and stops pushing. */
    close(w);
    for (int i = 0; i < 1000 && stat_of(v, "closed_watchers") == 0; i++)
        usleep(10000);
    assert_int_equal(stat_of(v, "closed_watchers"), 1);
    r = call(c, mkreq("notify", 5));
    assert_int_equal(get_int(r, "result"), 0);
    json_object_put(r);
    close(c);
}

/* A client that does not read: the daemon keeps serving others, and the
 * answers all arrive, in order, once the client reads. */
static void
test_slow_client(void **state)
{
    struct srv *v = *state;
    int slow = ctl_client_connect(v->path);
    enum { N = 24 };

    assert_true(slow >= 0);
    for (int i = 1; i <= N; i++) {
        struct json_object *q = mkreq("big", i), *a = json_object_new_object();
        json_object_object_add(a, "kib", json_object_new_int(256));
        json_object_object_add(q, "args", a);
        assert_int_equal(ctl_client_send(slow, q), 0);
        json_object_put(q);
    }
    /* 6 MiB of answers are waiting; another client is served meanwhile. */
    int fast = ctl_client_connect(v->path);
    struct json_object *r = call(fast, mkreq("echo", 99));
    assert_true(is_ok(r));
    json_object_put(r);
    close(fast);
    for (int i = 1; i <= N; i++) {
        struct json_object *x;
        assert_int_equal(ctl_client_recv(slow, &r, WAIT_MS), 0);
        assert_int_equal(get_int(r, "id"), i);
        assert_true(json_object_object_get_ex(r, "result", &x));
        assert_int_equal(json_object_get_string_len(x), 256 * 1024);
        json_object_put(r);
    }
    close(slow);
    assert_int_equal(stat_of(v, "outq_overflow"), 0);

    /* An answer over CTL_RESP_MAX becomes an internal error, same id. */
    int fd = ctl_client_connect(v->path);
    struct json_object *q = mkreq("big", 8), *a = json_object_new_object();
    json_object_object_add(a, "kib", json_object_new_int(CTL_RESP_MAX / 1024 + 1));
    json_object_object_add(q, "args", a);
    r = call(fd, q);
    assert_false(is_ok(r));
    assert_int_equal(get_int(r, "code"), CTL_E_INTERNAL);
    assert_int_equal(get_int(r, "id"), 8);
    json_object_put(r);
    close(fd);
}

/* A watcher that never reads: its queue overflows while the daemon pushes;
 * it is dropped, and its owner is told later, not inside the push loop. */
static void
test_watcher_overflow(void **state)
{
    struct srv *v = *state;
    int w = ctl_client_connect(v->path), c = ctl_client_connect(v->path);
    struct json_object *r, *q, *a;
    char *pad = malloc(60 * 1024 + 1);

    assert_true(w >= 0 && c >= 0);
    r = call(w, mkreq("watch", 1));
    json_object_put(r);
    /* A 60 KiB event pushed 1000 times: 60 MB, past CTL_OUTQ_MAX. */
    memset(pad, 'p', 60 * 1024);
    pad[60 * 1024] = '\0';
    q = mkreq("notify", 2);
    a = json_object_new_object();
    json_object_object_add(a, "pad", json_object_new_string(pad));
    json_object_object_add(a, "times", json_object_new_int(1000));
    json_object_object_add(q, "args", a);
    free(pad);
    r = call(c, q);
    assert_true(is_ok(r));
    /* Fewer than 1000 got queued before the watcher was dropped. */
    assert_true(json_object_get_int(json_object_object_get(r, "result")) < 1000);
    json_object_put(r);
    for (int i = 0; i < 1000 && stat_of(v, "closed_watchers") == 0; i++)
        usleep(10000);
    assert_int_equal(stat_of(v, "closed_watchers"), 1);
    assert_int_equal(stat_of(v, "reentrant"), 0);
    assert_int_equal(stat_of(v, "outq_overflow"), 1);
    /* The watcher finds its connection closed after what was sent. */
    int got = 0;
    while (ctl_client_recv(w, &r, WAIT_MS) == 0) {
        json_object_put(r);
        got++;
    }
    assert_int_equal(errno, ECONNRESET);
    assert_true(got < 1000);
    close(w);
    close(c);
}

static void
test_max_connections(void **state)
{
    struct srv *v = *state;
    int fds[CTL_MAX_CONNS];
    struct json_object *r;

    for (int i = 0; i < CTL_MAX_CONNS; i++) {
        fds[i] = ctl_client_connect(v->path);
        assert_true(fds[i] >= 0);
    }
    /* Make sure the server accepted them all before the extra one. */
    r = call(fds[CTL_MAX_CONNS - 1], mkreq("echo", 1));
    json_object_put(r);
    int extra = ctl_client_connect(v->path);
    assert_true(extra >= 0);
    assert_int_equal(ctl_client_recv(extra, &r, WAIT_MS), 0);
    assert_false(is_ok(r));
    json_object_put(r);
    assert_int_equal(ctl_client_recv(extra, &r, 5000), -1);
    close(extra);
    /* Counted once; asked on a connection that is already open. */
    struct json_object *res;
    r = call(fds[0], mkreq("stats", 0));
    assert_true(json_object_object_get_ex(r, "result", &res));
    assert_int_equal(get_int(res, "refused"), 1);
    assert_int_equal(get_int(res, "nconns"), CTL_MAX_CONNS);
    json_object_put(r);
    for (int i = 0; i < CTL_MAX_CONNS; i++)
        close(fds[i]);
    /* Slots come back when clients leave. */
    for (int i = 0; i < 1000 && stat_of(v, "nconns") > 1; i++)
        usleep(10000);
    assert_int_equal(stat_of(v, "nconns"), 1);
}

/* Garbage from clients (random bytes, random framing, cut mid-frame):
 * the server answers or drops them and keeps serving everyone else. */
static void
test_garbage_clients(void **state)
{
    struct srv *v = *state;
    unsigned seed = 12345;

    for (int round = 0; round < 40; round++) {
        int fd = ctl_client_connect(v->path);
        unsigned char buf[4096];
        size_t len = 1 + (size_t)(rand_r(&seed) % sizeof(buf));
        assert_true(fd >= 0);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rand_r(&seed);
        if (round % 3 == 0) /* a plausible small length, garbage body */
            ctl_frame_hdr(buf, len > 4 ? (len - 4) / 2 : 0);
        if (round % 5 == 0) /* JSON-looking garbage */
            memcpy(buf + 4, "{\"cmd\":\"echo\",\"args\":{\"x\":[", len > 40 ? 28 : 0);
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        (void)w;
        if (round % 2)
            close(fd); /* gone mid-frame */
        else {
            struct json_object *r;
            /* Whatever comes back is well-formed; then close. */
            while (ctl_client_recv(fd, &r, 50) == 0)
                json_object_put(r);
            close(fd);
        }
    }
    /* Still serving. */
    int fd = ctl_client_connect(v->path);
    struct json_object *r = call(fd, mkreq("echo", 77));
    assert_true(is_ok(r));
    assert_int_equal(get_int(r, "id"), 77);
    json_object_put(r);
    close(fd);
}

/* The connection limit is the server's option: the client past it is
 * answered, closed and counted; the others are served. */
static void
test_max_connections_option(void **state)
{
    struct srv *v = *state;
    int fds[4];
    struct json_object *r, *res;

    for (int i = 0; i < 4; i++)
        assert_true((fds[i] = ctl_client_connect(v->path)) >= 0);
    r = call(fds[3], mkreq("echo", 1)); /* all 4 accepted by now */
    json_object_put(r);
    int extra = ctl_client_connect(v->path);
    assert_true(extra >= 0);
    assert_int_equal(ctl_client_recv(extra, &r, WAIT_MS), 0);
    assert_false(is_ok(r));
    assert_non_null(strstr(json_object_get_string(
                               json_object_object_get(r, "error")),
                           "too many connections"));
    json_object_put(r);
    assert_int_equal(ctl_client_recv(extra, &r, 5000), -1);
    close(extra);
    r = call(fds[0], mkreq("stats", 0));
    assert_true(json_object_object_get_ex(r, "result", &res));
    assert_int_equal(get_int(res, "refused"), 1);
    assert_int_equal(get_int(res, "nconns"), 4);
    json_object_put(r);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
}

/* 1 if the server closed fd (EOF within timeout_ms), 0 if it is open. */
static int
closed_within(int fd, int timeout_ms)
{
    struct json_object *r;

    for (;;) {
        if (ctl_client_recv(fd, &r, timeout_ms) == 0) {
            json_object_put(r); /* drain what was sent before */
            continue;
        }
        return errno == ECONNRESET;
    }
}

/* Idle clients are closed, and only they: one that sends nothing, one
 * stuck half-way through a frame, one that does not read its events; not
 * a watcher that keeps up, not one waiting for a deferred answer, not one
 * that keeps talking. */
static void
test_idle_clients(void **state)
{
    struct srv *v = *state;
    int quiet = ctl_client_connect(v->path), half = ctl_client_connect(v->path);
    int w = ctl_client_connect(v->path), d = ctl_client_connect(v->path);
    struct json_object *r, *q;
    unsigned char hdr[4];

    assert_true(quiet >= 0 && half >= 0 && w >= 0 && d >= 0);
    ctl_frame_hdr(hdr, 100);
    assert_int_equal(send(half, hdr, 2, MSG_NOSIGNAL), 2);
    r = call(w, mkreq("watch", 1));
    assert_true(is_ok(r));
    json_object_put(r);
    q = mkreq("defer", 2);
    assert_int_equal(ctl_client_send(d, q), 0);
    json_object_put(q);
    /* Nobody is closed before the idle time. */
    assert_false(closed_within(quiet, IDLE_MS / 2));
    /* Within a few idle times the quiet and the half-sent ones are gone;
     * w talks meanwhile (a client that talks is never idle). */
    for (int i = 0; i < 9; i++) {
        r = call(w, mkreq("echo", 10 + i));
        assert_true(is_ok(r));
        json_object_put(r);
        usleep(IDLE_MS * 1000 / 3);
    }
    assert_true(closed_within(quiet, WAIT_MS));
    assert_true(closed_within(half, WAIT_MS));
    close(quiet);
    close(half);
    /* The deferred request kept d open; so did watching for w, which
     * has not said anything since. */
    usleep(IDLE_MS * 2 * 1000);
    assert_int_equal(stat_of(v, "ndeferred"), 1);
    assert_int_equal(stat_of(v, "nwatchers"), 1);
    assert_int_equal(stat_of(v, "idle_closed"), 2);
    /* Answered, d owes and is owed nothing: idle from now on. */
    int c = ctl_client_connect(v->path);
    r = call(c, mkreq("flush", 3));
    json_object_put(r);
    close(c);
    assert_int_equal(ctl_client_recv(d, &r, WAIT_MS), 0);
    assert_int_equal(get_int(r, "id"), 2);
    json_object_put(r);
    assert_true(closed_within(d, WAIT_MS));
    close(d);
    /* A watcher that stops reading what is pushed to it is closed. */
    char *pad = malloc(60 * 1024 + 1);
    struct json_object *a = json_object_new_object();
    memset(pad, 'p', 60 * 1024);
    pad[60 * 1024] = '\0';
    json_object_object_add(a, "pad", json_object_new_string(pad));
    json_object_object_add(a, "times", json_object_new_int(40));
    free(pad);
    q = mkreq("notify", 4);
    json_object_object_add(q, "args", a);
    c = ctl_client_connect(v->path);
    r = call(c, q); /* 2.4 MB for w: more than the socket holds */
    assert_int_equal(get_int(r, "result"), 40);
    json_object_put(r);
    close(c);
    usleep(IDLE_MS * 3 * 1000);
    assert_true(closed_within(w, WAIT_MS));
    close(w);
    assert_int_equal(stat_of(v, "closed_watchers"), 1);
    assert_int_equal(stat_of(v, "idle_closed"), 4);
    assert_int_equal(stat_of(v, "outq_overflow"), 0);
}

/* With a group, the socket is that group's and mode 0660. */
static void
test_socket_group(void **st)
{
    char path[108];
    struct ev_loop *l = ev_loop_new();
    struct ctl_opts o;
    struct ctl_server *s;
    struct stat sb;
    struct group *g;

    (void)st;
    snprintf(path, sizeof(path), "/tmp/test_ctl_grp.%d.sock", (int)getpid());
    unlink(path);
    ctl_opts_default(&o);
    /* root may give it any group: one that is not ours, to tell */
    o.gid = getegid();
    if (geteuid() == 0 && (g = getgrnam("nogroup")) != NULL)
        o.gid = g->gr_gid;
    s = ctl_server_new(l, path, &o, table, NULL);
    assert_non_null(s);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0660);
    assert_int_equal(sb.st_gid, o.gid);
    ctl_server_free(s);
    assert_int_equal(access(path, F_OK), -1);
    ev_loop_free(l);
}

/* Socket-path handling, without the thread. */
static void
test_stale_socket_and_busy_path(void **st)
{
    char path[108];
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct ev_loop *l = ev_loop_new();
    struct ctl_server *s, *s2;
    int fd;

    (void)st;
    snprintf(path, sizeof(path), "/tmp/test_ctl_stale.%d.sock", (int)getpid());
    unlink(path);
    /* A socket left by a crashed daemon: bound, nobody listening. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    strcpy(sun.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    assert_int_equal(access(path, F_OK), 0);
    s = ctl_server_new(l, path, NULL, table, NULL);
    assert_non_null(s);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* the owner's alone */
    /* A second daemon on the same path is refused; the first keeps it. */
    s2 = ctl_server_new(l, path, NULL, table, NULL);
    assert_null(s2);
    assert_int_equal(errno, EADDRINUSE);
    fd = ctl_client_connect(path);
    assert_true(fd >= 0);
    close(fd);
    ctl_server_free(s);
    assert_int_equal(access(path, F_OK), -1);
    /* A restarted daemon took the path over while the old one was still
     * shutting down: the old one must not delete the new one's socket. */
    s = ctl_server_new(l, path, NULL, table, NULL);
    assert_non_null(s);
    assert_int_equal(unlink(path), 0);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ctl_server_free(s);
    assert_int_equal(access(path, F_OK), 0);
    close(fd);
    unlink(path);
    /* The socket's directory does not exist yet (a fresh /run/splitnve). */
    char dir[64], inner[108];
    snprintf(dir, sizeof(dir), "/tmp/test_ctl_dir.%d", (int)getpid());
    snprintf(inner, sizeof(inner), "%s/d.sock", dir);
    rmdir(dir);
    s = ctl_server_new(l, inner, NULL, table, NULL);
    assert_non_null(s);
    assert_int_equal(access(inner, F_OK), 0);
    ctl_server_free(s);
    assert_int_equal(rmdir(dir), 0);
    /* Too long a path. */
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_null(ctl_server_new(l, longp, NULL, table, NULL));
    assert_int_equal(ctl_client_connect(longp), -1);
    /* Connecting to nothing. */
    assert_int_equal(ctl_client_connect(path), -1);
    ev_loop_free(l);
}

/* ---- in-process clients ----------------------------------------------------- */
/* A server without a socket and a loop that never runs: everything below
 * happens inside ctl_local_write and ctl_local_read. */

/* Writes all of buf (the server takes it all: nothing here pauses it). */
static void
local_put(struct ctl_sconn *c, const void *buf, size_t len)
{
    assert_int_equal(ctl_local_write(c, buf, len), len);
}

/* A framed request. */
static void
local_req(struct ctl_sconn *c, const char *js)
{
    unsigned char h[4];

    ctl_frame_hdr(h, strlen(js));
    local_put(c, h, 4);
    local_put(c, js, strlen(js));
}

/* The next whole message, read max bytes at a time (NULL: none queued). */
static struct json_object *
local_msg(struct ctl_sconn *c, size_t max)
{
    static unsigned char buf[4 * 1024 * 1024];
    static size_t have;
    size_t len;
    struct json_object *o;

    for (;;) {
        if (have >= 4) {
            assert_int_equal(ctl_frame_len(buf, CTL_RESP_MAX, &len), 0);
            if (have - 4 >= len) {
                o = ctl_json_parse((const char *)buf + 4, len);
                assert_non_null(o);
                memmove(buf, buf + 4 + len, have - 4 - len);
                have -= 4 + len;
                return o;
            }
        }
        assert_true(have + max <= sizeof(buf));
        ssize_t n = ctl_local_read(c, buf + have, max);
        if (n <= 0) {
            assert_int_equal(have, 0); /* no frame cut short */
            return NULL;
        }
        have += (size_t)n;
    }
}

static void
test_local_clients(void **st)
{
    struct srv v = {0};
    struct ctl_opts o;
    struct ctl_sconn *a, *b, *c;
    struct json_object *r, *x;
    unsigned char h[4];

    (void)st;
    ctl_opts_default(&o);
    o.max_conns = 2;
    v.l = ev_loop_new();
    v.s = ctl_server_new(v.l, NULL, &o, table, &v);
    assert_non_null(v.s);
    a = ctl_local_open(v.s);
    b = ctl_local_open(v.s);
    assert_non_null(a);
    assert_non_null(b);
    /* the connection limit counts them */
    assert_null(ctl_local_open(v.s));
    assert_int_equal(errno, EMFILE);
    assert_int_equal(ctl_server_stats(v.s)->refused, 1);

    /* a request in pieces: nothing until its last byte */
    const char *echo = "{\"cmd\":\"echo\",\"id\":7,\"args\":{\"k\":1}}";
    ctl_frame_hdr(h, strlen(echo));
    local_put(a, h, 3);
    assert_int_equal(ctl_local_read(a, h, 4), -1);
    assert_int_equal(errno, EAGAIN);
    local_put(a, h + 3, 1);
    local_put(a, echo, 10);
    assert_null(local_msg(a, 64));
    local_put(a, echo + 10, strlen(echo) - 10);
    r = local_msg(a, 5); /* read in small pieces */
    assert_true(is_ok(r));
    assert_int_equal(get_int(r, "id"), 7);
    assert_true(json_object_object_get_ex(r, "result", &x));
    assert_int_equal(get_int(x, "k"), 1);
    json_object_put(r);

    /* a deferred answer waits in the queue; another client releases it */
    local_req(a, "{\"cmd\":\"defer\",\"id\":1}");
    local_req(a, "{\"cmd\":\"echo\",\"id\":2}");
    r = local_msg(a, 4096);
    assert_int_equal(get_int(r, "id"), 2);
    json_object_put(r);
    assert_null(local_msg(a, 4096));
    local_req(b, "{\"cmd\":\"flush\",\"id\":3}");
    r = local_msg(b, 4096);
    assert_int_equal(get_int(r, "id"), 3);
    json_object_put(r);
    r = local_msg(a, 4096);
    assert_int_equal(get_int(r, "id"), 1);
    json_object_put(r);

    /* answers past the pause mark: the requests behind them wait until
     * the client reads, then are dispatched */
    const char *reqs[] = {"{\"cmd\":\"big\",\"args\":{\"kib\":700},\"id\":10}",
                          "{\"cmd\":\"big\",\"args\":{\"kib\":700},\"id\":11}",
                          "{\"cmd\":\"echo\",\"id\":12}"};
    unsigned char burst[256];
    size_t blen = 0;
    for (int i = 0; i < 3; i++) {
        ctl_frame_hdr(burst + blen, strlen(reqs[i]));
        memcpy(burst + blen + 4, reqs[i], strlen(reqs[i]));
        blen += 4 + strlen(reqs[i]);
    }
    local_put(a, burst, blen); /* one write, as a socket's recv */
    assert_int_equal(ctl_local_write(a, h, 4), 0); /* paused */
    for (int id = 10; id <= 12; id++) {
        r = local_msg(a, 65536);
        assert_non_null(r);
        assert_int_equal(get_int(r, "id"), id);
        json_object_put(r);
    }

    /* the client goes: its deferred request's owner is told */
    local_req(b, "{\"cmd\":\"defer\",\"id\":4}");
    assert_int_equal(v.ndeferred, 1);
    ctl_local_close(b);
    assert_int_equal(v.closed_deferred, 1);
    assert_int_equal(ctl_server_nconns(v.s), 1);

    /* oversize: answered, then closed by the server */
    c = ctl_local_open(v.s);
    assert_non_null(c);
    ctl_frame_hdr(h, CTL_REQ_MAX + 1);
    local_put(c, h, 4);
    r = local_msg(c, 4096);
    assert_false(is_ok(r));
    assert_int_equal(get_int(r, "code"), CTL_E_USAGE);
    json_object_put(r);
    assert_int_equal(ctl_local_read(c, h, 4), 0);
    assert_int_equal(ctl_local_write(c, h, 4), 0);
    assert_int_equal(ctl_server_nconns(v.s), 1);
    ctl_local_close(c); /* after the server closed it */

    /* the server goes first: the client's handle stays until it closes */
    local_req(a, "{\"cmd\":\"defer\",\"id\":5}");
    ctl_server_free(v.s);
    assert_int_equal(v.closed_deferred, 2);
    assert_int_equal(ctl_local_read(a, h, 4), 0);
    ctl_local_close(a);
    ev_loop_free(v.l);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_json_parse_bounds),
        cmocka_unit_test(test_stale_socket_and_busy_path),
        cmocka_unit_test(test_socket_group),
        cmocka_unit_test(test_local_clients),
        cmocka_unit_test_setup_teardown(test_roundtrip_and_errors, srv_start,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_pipelining_deferred_out_of_order,
                                        srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_call_timeout_then_disconnect,
                                        srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_oversize_request, srv_start,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_watch_events, srv_start,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_slow_client, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_watcher_overflow, srv_start,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_garbage_clients, srv_start,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_max_connections_option,
                                        srv_start_idle, srv_stop),
        cmocka_unit_test_setup_teardown(test_idle_clients, srv_start_idle,
                                        srv_stop),
        cmocka_unit_test_setup_teardown(test_max_connections, srv_start,
                                        srv_stop),
    };
    log_init("test_ctl", 1, 0);
    return cmocka_run_group_tests(t, NULL, NULL);
}
