/* ctlprio.h - the scheduling of a daemon's control loop (the
 * control-priority option): ahead of the packet work it shares the CPUs
 * with (softirq, NAPI threads, a saturated forwarder, VMs), so that an
 * attach is answered as fast under full load as idle. Only the calling
 * thread (the control loop) is changed; every thread or process created
 * after it (nve-agent's forwarding threads, hooks) starts at the normal
 * policy again (SCHED_RESET_ON_FORK). */
#ifndef CTLPRIO_H
#define CTLPRIO_H

#include <stddef.h>

enum ctlprio_policy {
    CTLPRIO_NONE = 0, /* as started (a unit's Nice=, CPUSchedulingPolicy=) */
    CTLPRIO_RR,       /* SCHED_RR, value = real-time priority 1..99 */
    CTLPRIO_NICE,     /* SCHED_OTHER, value = nice -20..19 */
};

struct ctlprio {
    int policy; /* enum ctlprio_policy */
    int value;
};

/* The default: the lowest real-time priority. Every other real-time
 * thread (kernel IRQ threads at 50, watchdogs) stays ahead of it; every
 * normal one (ksoftirqd, NAPI threads, a forwarder, VMs) behind it. */
#define CTLPRIO_DEFAULT "rr 1"
#define CTLPRIO_STRLEN 16

/* "rr N" (1..99), "nice N" (-20..19) or "none". 0, or -1 with err set. */
int ctlprio_parse(const char *s, struct ctlprio *p, char *err, size_t errlen);
/* The same text back ("rr 1"). */
void ctlprio_fmt(const struct ctlprio *p, char *out, size_t outlen);
/* Applies p to the calling thread, with SCHED_RESET_ON_FORK. Needs
 * CAP_SYS_NICE but for "none" and a nice value not below the current
 * one. 0, or -1 with a warning naming the policy and why: the daemon runs
 * on at the normal priority (an unprivileged container, a unit with
 * RestrictRealtime=yes). */
int ctlprio_apply(const struct ctlprio *p);

#endif
