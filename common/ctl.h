/* ctl.h - control socket: a unix stream socket carrying length-prefixed
 * JSON (4-byte big-endian length, then UTF-8 JSON), bounded in size.
 * Server side for the daemons, client side for nvdpctl and the hooks. */
#ifndef CTL_H
#define CTL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_REQ_MAX (64 * 1024)          /* bytes of one request */
#define CTL_RESP_MAX (32 * 1024 * 1024)  /* bytes of one response */
#define CTL_MAX_CONNS 64                 /* default of ctl_opts.max_conns */
#define CTL_MAX_CONNS_LIMIT 1024         /* each holds a CTL_REQ_MAX buffer */
#define CTL_IDLE_MS (60 * 1000)          /* default of ctl_opts.idle_ms */
/* Output queued for one client: past PAUSE its requests are not read, past
 * MAX it is disconnected (a client that never reads must not grow us). */
#define CTL_OUTQ_PAUSE (1024 * 1024)
#define CTL_OUTQ_MAX (CTL_RESP_MAX + 8 * 1024 * 1024)

/* Request:  {"cmd": "vnic-attach", "args": {...}}
 * Response: {"ok": true, "result": <any>}
 *       or  {"ok": false, "code": <ctl_code>, "error": "text"} */
enum ctl_code {
    CTL_E_FAILED = 1,   /* the operation failed (e.g. NVE refused) */
    CTL_E_USAGE = 2,    /* bad command or arguments */
    CTL_E_NOTFOUND = 3, /* unknown VNIC / port / VN */
    CTL_E_TIMEOUT = 4,  /* --wait ran out */
    CTL_E_REFUSED = 5,  /* the NVE answered with an error status */
    CTL_E_INTERNAL = 6,
};

struct ev_loop;
struct ctl_server;
struct ctl_conn;

/* Who may connect and how many: the daemons' control-* options
 * (ctl_conf.h). */
struct ctl_opts {
    /* (gid_t)-1: the socket is mode 0600, its owner's (root's) alone;
     * otherwise it belongs to group gid, mode 0660. */
    gid_t gid;
    /* Connections open at once; one more is answered "too many
     * connections", closed and counted (refused). */
    int max_conns;
    /* A client that owes us nothing and is owed nothing (no request
     * waiting for its answer, no "watch"), or that does not read what is
     * queued for it, is closed after this long without traffic (counted:
     * idle_closed). A watcher that reads is never idle. 0: never. */
    uint32_t idle_ms;
};
void ctl_opts_default(struct ctl_opts *o);

typedef void (*ctl_handler)(struct ctl_conn *c, struct json_object *args,
                            void *arg);
struct ctl_cmd {
    const char *name;
    ctl_handler fn;
    const char *help; /* one line */
};

/* Listens on path (unlinks a stale socket first; fails with EADDRINUSE if
 * a daemon answers there) as o says (NULL: ctl_opts_default); the socket
 * never exists with a wider mode than o's. path NULL: no socket, only
 * in-process clients (ctl_local_open). The table ends with a {NULL}
 * row; "help" is answered by the server.
 *
 * Requests on one connection are dispatched in order, each to its handler
 * with its own handle (struct ctl_conn *): answers may go out of order
 * (deferred ones), each carrying its request's "id". Handle lifetime:
 * - answered inside the handler, no on-close callback: freed on return;
 * - not answered in the handler (deferred): valid until answered with
 *   ctl_reply_*, which frees it, or until the client goes away, when its
 *   on-close callback runs and it is freed (drop your pointer there);
 * - answered inside the handler WITH an on-close callback registered: a
 *   subscription ("watch"); push with ctl_conn_send until on-close runs. */
struct ctl_server *ctl_server_new(struct ev_loop *l, const char *path,
                                  const struct ctl_opts *o,
                                  const struct ctl_cmd *table, void *arg);
void ctl_server_free(struct ctl_server *s);

/* Answer the current request; takes ownership of result (may be NULL).
 * A handler that returns without answering keeps the request pending (for
 * --wait): answer later with these, or the connection is closed. */
void ctl_reply_ok(struct ctl_conn *c, struct json_object *result);
void ctl_reply_err(struct ctl_conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Called if the client goes away before a deferred answer. */
void ctl_conn_on_close(struct ctl_conn *c, void (*cb)(struct ctl_conn *, void *),
                       void *arg);
/* Push an unsolicited event on a connection that subscribed ("watch").
 * Does not take ownership of msg (one event goes to many watchers).
 * 0, or -1 if the connection is gone or its output queue overflowed (it
 * is then closed and on-close runs). */
int ctl_conn_send(struct ctl_conn *c, struct json_object *msg);

/* The connection a handle's request came on, as a number unique for the
 * server's life (0 once it is gone): handles are per request, so two
 * requests of one client (two "watch") are told apart from two clients
 * by comparing ids, not handle pointers. */
uint64_t ctl_conn_id(const struct ctl_conn *c);

/* Counters (the daemons show them in "status"/"counters"). */
struct ctl_stats {
    uint64_t accepted;      /* connections accepted */
    uint64_t refused;       /* connections refused: max_conns open */
    uint64_t idle_closed;   /* connections closed for being idle */
    uint64_t closed;
    uint64_t requests;      /* frames received */
    uint64_t bad_request;   /* not JSON, no "cmd", bad "args" */
    uint64_t unknown_cmd;
    uint64_t oversize;      /* over CTL_REQ_MAX: answered, then closed */
    uint64_t deferred;      /* handlers that answered later */
    uint64_t replies;
    uint64_t events;        /* ctl_conn_send */
    uint64_t outq_overflow; /* clients dropped for not reading */
};
const struct ctl_stats *ctl_server_stats(const struct ctl_server *s);
int ctl_server_nconns(const struct ctl_server *s);
/* The counters and the open connections as a JSON object, for the
 * daemons' "counters" answers. */
struct json_object *ctl_server_stats_json(const struct ctl_server *s);

/* ---- in-process clients ------------------------------------------------ */
/* A client of the server without a socket (the control fuzzers: no system
 * call nor loop turn per input). Its bytes go through what a socket's go
 * through (framing, limits, dispatch, the output queue, the pause and
 * close rules); only the transport differs. Deferred answers and events
 * queue until read. Counted as a connection (max_conns; NULL, errno
 * EMFILE, past it). */
struct ctl_sconn;
struct ctl_sconn *ctl_local_open(struct ctl_server *s);
/* Hands over what the server would read now of buf (0 once it is closing,
 * or while the client leaves a full queue unread); every whole request in
 * it is dispatched before the return. The count taken. */
size_t ctl_local_write(struct ctl_sconn *sc, const void *buf, size_t len);
/* Like recv(2) without waiting on the client's end of a socket: up to max
 * queued bytes, 0 once the server closed the connection, -1 (EAGAIN) if
 * nothing is queued. */
ssize_t ctl_local_read(struct ctl_sconn *sc, void *buf, size_t max);
/* The client goes, as if its socket closed (on-close callbacks run);
 * frees sc, whether or not the server closed it first. */
void ctl_local_close(struct ctl_sconn *sc);

/* A member whose name is a string literal (the "" around it refuse anything
 * else at compile time): json-c keeps the pointer instead of a copy. A
 * VNIC's view has 15 members and is built for every answer and event. */
#define ctl_jadd(o, lit, v)                        \
    json_object_object_add_ex((o), "" lit "", (v), \
                              JSON_C_OBJECT_ADD_CONSTANT_KEY)

/* The views' members: an integer, a string (NULL as ""). */
static inline void
ctl_jint(struct json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}
static inline void
ctl_jstr(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* ---- client ---------------------------------------------------------- */
int ctl_client_connect(const char *path); /* fd or -1 (errno) */
/* Sends req, waits up to timeout_ms (-1: forever) for one message.
 * 0 and *resp (caller puts it), or -1 (errno: ETIMEDOUT, EPROTO...). */
int ctl_client_call(int fd, struct json_object *req,
                    struct json_object **resp, int timeout_ms);
/* ctl_client_call skips pushed events (messages without "ok") while it
 * waits; ctl_client_recv returns the next message, whatever it is. */
int ctl_client_recv(int fd, struct json_object **msg, int timeout_ms);
/* Sends one request without waiting (pipelining); pair with recv. */
int ctl_client_send(int fd, struct json_object *req);
/* Parses exactly len bytes as one JSON document (depth-bounded); NULL if
 * malformed. Shared by both sides. */
struct json_object *ctl_json_parse(const char *buf, size_t len);

/* Framing, shared by both sides and unit-tested: encode a length prefix;
 * decode one from the first 4 bytes (0 and *len, -1 if over max). */
void ctl_frame_hdr(unsigned char out[4], size_t len);
int ctl_frame_len(const unsigned char in[4], size_t max, size_t *len);

#endif
