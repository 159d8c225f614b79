/* ctlprio.c - the control loop's scheduling policy (control-priority).
 * Measured in bench/fwd_bench: with the forwarder saturating both CPUs,
 * each wake-up of a normal-priority daemon (the request from nvdpctl, the
 * journal's fdatasync, the NVE's answer) waited for the next scheduler
 * tick behind the busy threads, up to 4 ms each at HZ=250, several per
 * attach; at SCHED_RR 1 each runs at once. */
#include "config.h"
#include "ctlprio.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

static const struct {
    const char *name;
    int policy, lo, hi;
} ctlprio_kinds[] = {
    {"none", CTLPRIO_NONE, 0, 0},
    {"rr", CTLPRIO_RR, 1, 99},
    {"nice", CTLPRIO_NICE, -20, 19},
};

int
ctlprio_parse(const char *s, struct ctlprio *p, char *err, size_t errlen)
{
    char *end;
    size_t n = strcspn(s, " \t");
    long v = 0;

    for (size_t i = 0; i < sizeof(ctlprio_kinds) / sizeof(ctlprio_kinds[0]);
         i++) {
        if (n != strlen(ctlprio_kinds[i].name) ||
            strncmp(s, ctlprio_kinds[i].name, n) != 0)
            continue;
        s += n;
        s += strspn(s, " \t");
        if (ctlprio_kinds[i].policy == CTLPRIO_NONE) {
            if (*s != '\0')
                break;
        } else {
            errno = 0;
            v = strtol(s, &end, 10);
            if (*s == '\0' || end == s || *end != '\0' || errno != 0 ||
                v < ctlprio_kinds[i].lo || v > ctlprio_kinds[i].hi) {
                snprintf(err, errlen, "'%s' wants a number %d..%d",
                         ctlprio_kinds[i].name, ctlprio_kinds[i].lo,
                         ctlprio_kinds[i].hi);
                return -1;
            }
        }
        p->policy = ctlprio_kinds[i].policy;
        p->value = (int)v;
        return 0;
    }
    snprintf(err, errlen, "\"rr N\", \"nice N\" or \"none\" expected");
    return -1;
}

void
ctlprio_fmt(const struct ctlprio *p, char *out, size_t outlen)
{
    for (size_t i = 0; i < sizeof(ctlprio_kinds) / sizeof(ctlprio_kinds[0]);
         i++)
        if (ctlprio_kinds[i].policy == p->policy) {
            if (p->policy == CTLPRIO_NONE)
                snprintf(out, outlen, "%s", ctlprio_kinds[i].name);
            else
                snprintf(out, outlen, "%s %d", ctlprio_kinds[i].name,
                         p->value);
            return;
        }
    snprintf(out, outlen, "?");
}

int
ctlprio_apply(const struct ctlprio *p)
{
    struct sched_param sp = {0};
    char what[CTLPRIO_STRLEN];
    int rc = 0;

    ctlprio_fmt(p, what, sizeof(what));
    switch (p->policy) {
    case CTLPRIO_NONE:
        return 0;
    case CTLPRIO_RR:
        sp.sched_priority = p->value;
        /* pid 0: this thread only (Linux), not the process */
        rc = sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp);
        break;
    case CTLPRIO_NICE:
        rc = sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp);
        /* PRIO_PROCESS with a thread id: this thread only (Linux) */
        if (rc == 0)
            rc = setpriority(PRIO_PROCESS, (id_t)gettid(), p->value);
        break;
    }
    if (rc < 0) {
        log_warn("control-priority %s not applied, the control loop runs at "
                 "the normal priority",
                 what);
        return -1;
    }
    log_info("control loop at %s, every other thread at the normal priority",
             what);
    return 0;
}
