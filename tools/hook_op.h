/* hook_op.h - what the hook does for each libvirt (driver, operation,
 * sub-operation), and the hv-agent control requests that carry it out. */
#ifndef HOOK_OP_H
#define HOOK_OP_H

#include <json-c/json.h>

#include "hook_seq.h"
#include "hook_xml.h"

enum hook_action {
    HOOK_ACT_NONE = 0,
    HOOK_ACT_PREASSOC, /* migration destination / before start */
    HOOK_ACT_ATTACH,   /* associate (idempotent; re-sent once ifname known) */
    HOOK_ACT_DETACH,   /* disassociate with shutdown or migration intent */
};

struct hook_step {
    enum hook_action action;
    /* 1: a refusal fails the hook (libvirt then fails the operation); 0:
     * report on stderr but exit 0 (libvirt ignores or, for "reconnect",
     * would kill a running domain: we never want that). */
    int fatal;
    /* 1: the XML's host-side interface name is the live one and is sent
     * to hv-agent's data plane. Not before libvirt created it: on a
     * migration destination the XML may still name the source's tap,
     * which here could be another domain's. */
    int ifname;
    /* the start or stop this step belongs to, and its part in it: the
     * steps of one share one time budget (hook_seq.h) */
    enum hook_phase phase;
    enum hook_seq_role role;
};

/* 0 and *s, or -1 if driver/op is not one libvirt documents (the hook
 * then does nothing and exits 0: future libvirt operations must not break
 * domains). */
int hook_op_lookup(const char *driver, const char *op, const char *subop,
                   struct hook_step *s);
const char *hook_action_name(enum hook_action a);

/* The hv-agent control request for one interface (caller puts it). */
struct json_object *hook_op_request(enum hook_action a,
                                    const struct hook_domain *d,
                                    const struct hook_iface *f,
                                    int migrating, int reserve, int with_ifname,
                                    int wait_ms);

/* How one answer is judged. */
enum hook_verdict {
    HOOK_V_OK = 0,   /* done: attached, pre-associated, detach handed over */
    HOOK_V_REFUSED,  /* the NVE said no (or hv-agent refused the request) */
    HOOK_V_PENDING,  /* the NVE has not answered (within wait_ms, or at all:
                      * hv-agent keeps the request and retries) */
    HOOK_V_ERROR,    /* anything else: bad answer, internal error */
};
/* msg gets a one-line explanation for the log and stderr ("tag 12", the
 * refusal's reason...). */
enum hook_verdict hook_op_verdict(enum hook_action a,
                                  struct json_object *resp, char *msg,
                                  size_t msglen);

#endif
