/* ctl.h - control socket: a unix stream socket carrying length-prefixed
 * JSON (4-byte big-endian length, then UTF-8 JSON), bounded in size.
 * Server side for the daemons, client side for nvdpctl and the hooks. */
#ifndef CTL_H
#define CTL_H

#include <json-c/json.h>
#include <stddef.h>
#include <sys/types.h>

#define CTL_REQ_MAX (64 * 1024)          /* bytes of one request */
#define CTL_RESP_MAX (32 * 1024 * 1024)  /* bytes of one response */
#define CTL_MAX_CONNS 64

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

typedef void (*ctl_handler)(struct ctl_conn *c, struct json_object *args,
                            void *arg);
struct ctl_cmd {
    const char *name;
    ctl_handler fn;
    const char *help; /* one line */
};

/* Listens on path (unlinks a stale socket first), mode e.g. 0660. The
 * table ends with a {NULL} row; "help" is answered by the server. */
struct ctl_server *ctl_server_new(struct ev_loop *l, const char *path,
                                  mode_t mode, const struct ctl_cmd *table,
                                  void *arg);
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
/* Push an unsolicited event on a connection that subscribed ("watch"). */
int ctl_conn_send(struct ctl_conn *c, struct json_object *msg);

/* ---- client ---------------------------------------------------------- */
int ctl_client_connect(const char *path); /* fd or -1 (errno) */
/* Sends req, waits up to timeout_ms (-1: forever) for one message.
 * 0 and *resp (caller puts it), or -1 (errno: ETIMEDOUT, EPROTO...). */
int ctl_client_call(int fd, struct json_object *req,
                    struct json_object **resp, int timeout_ms);
int ctl_client_recv(int fd, struct json_object **msg, int timeout_ms);

/* Framing, shared by both sides and unit-tested: encode a length prefix;
 * decode one from the first 4 bytes (0 and *len, -1 if over max). */
void ctl_frame_hdr(unsigned char out[4], size_t len);
int ctl_frame_len(const unsigned char in[4], size_t max, size_t *len);

#endif
