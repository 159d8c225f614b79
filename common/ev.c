/* ev.c - the event loop: epoll for fds, one timerfd armed at the earliest
 * deadline of a binary min-heap of timers, signalfd for signals. */
#include "config.h"
#include "ev.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* epoll data carries fd plus a generation: a callback may delete (and
 * close, and reopen) an fd whose event is still in the current batch; the
 * generation check makes sure the stale event is dropped. */
struct ev_io {
    ev_io_cb cb;
    void *arg;
    uint32_t events;
    uint32_t gen;
    uint8_t active;
};

struct ev_sig {
    ev_signal_cb cb;
    void *arg;
};

#define EV_NSIG 65
#define EV_BATCH 64
#define EV_TAG_TIMER 0xFFFFFFFEu
#define EV_TAG_SIGNAL 0xFFFFFFFDu

struct ev_loop {
    int epfd, tfd, sfd;
    struct ev_io *io; /* indexed by fd */
    size_t nio;
    uint32_t gen;
    struct ev_timer **heap; /* 1-based */
    size_t nheap, heapcap;
    uint64_t armed; /* deadline the timerfd is armed for, 0 = disarmed */
    uint64_t now;
    int brk;
    sigset_t sigmask;
    struct ev_sig sig[EV_NSIG];
    void (*prep)(void *arg);
    void *prep_arg;
};

uint64_t
ev_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
ev_epoll_add_tag(struct ev_loop *l, int fd, uint32_t tag)
{
    struct epoll_event e = {.events = EPOLLIN};

    e.data.u64 = (uint64_t)tag << 32 | (uint32_t)fd;
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e);
}

struct ev_loop *
ev_loop_new(void)
{
    struct ev_loop *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->tfd = l->sfd = -1;
    sigemptyset(&l->sigmask);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto fail;
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (l->tfd < 0 || ev_epoll_add_tag(l, l->tfd, EV_TAG_TIMER) < 0)
        goto fail;
    l->now = ev_clock_ms();
    return l;
fail:
    log_warn("ev_loop_new");
    ev_loop_free(l);
    return NULL;
}

void
ev_loop_free(struct ev_loop *l)
{
    if (l == NULL)
        return;
    /* Timers still armed belong to their owners: just detach them. */
    for (size_t i = 1; i <= l->nheap; i++)
        l->heap[i]->heap_idx = 0;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->tfd >= 0)
        close(l->tfd);
    if (l->sfd >= 0) {
        close(l->sfd);
        sigprocmask(SIG_UNBLOCK, &l->sigmask, NULL);
    }
    free(l->io);
    free(l->heap);
    free(l);
}

/* ---- fds -------------------------------------------------------------- */
int
ev_io_add(struct ev_loop *l, int fd, uint32_t events, ev_io_cb cb, void *arg)
{
    struct epoll_event e = {.events = events};

    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if ((size_t)fd >= l->nio) {
        size_t n = l->nio ? l->nio : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct ev_io *io = realloc(l->io, n * sizeof(*io));
        if (io == NULL)
            return -1;
        memset(io + l->nio, 0, (n - l->nio) * sizeof(*io));
        l->io = io;
        l->nio = n;
    }
    if (l->io[fd].active) {
        errno = EEXIST;
        return -1;
    }
    l->gen++;
    if (l->gen >= EV_TAG_SIGNAL)
        l->gen = 1;
    e.data.u64 = (uint64_t)l->gen << 32 | (uint32_t)fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
        return -1;
    l->io[fd] = (struct ev_io){cb, arg, events, l->gen, 1};
    return 0;
}

int
ev_io_mod(struct ev_loop *l, int fd, uint32_t events)
{
    struct epoll_event e = {.events = events};

    if (fd < 0 || (size_t)fd >= l->nio || !l->io[fd].active) {
        errno = ENOENT;
        return -1;
    }
    if (l->io[fd].events == events)
        return 0;
    e.data.u64 = (uint64_t)l->io[fd].gen << 32 | (uint32_t)fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &e) < 0)
        return -1;
    l->io[fd].events = events;
    return 0;
}

void
ev_io_del(struct ev_loop *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->nio || !l->io[fd].active)
        return;
    /* May fail if the fd was already closed: the kernel dropped it then. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->io[fd].active = 0;
    l->io[fd].cb = NULL;
}

/* ---- timers: binary min-heap on deadline ------------------------------ */
static void
ev_heap_set(struct ev_loop *l, size_t i, struct ev_timer *t)
{
    l->heap[i] = t;
    t->heap_idx = i;
}

static void
ev_heap_up(struct ev_loop *l, size_t i)
{
    struct ev_timer *t = l->heap[i];

    while (i > 1 && l->heap[i / 2]->deadline > t->deadline) {
        ev_heap_set(l, i, l->heap[i / 2]);
        i /= 2;
    }
    ev_heap_set(l, i, t);
}

static void
ev_heap_down(struct ev_loop *l, size_t i)
{
    struct ev_timer *t = l->heap[i];

    for (;;) {
        size_t c = 2 * i;
        if (c > l->nheap)
            break;
        if (c + 1 <= l->nheap && l->heap[c + 1]->deadline < l->heap[c]->deadline)
            c++;
        if (l->heap[c]->deadline >= t->deadline)
            break;
        ev_heap_set(l, i, l->heap[c]);
        i = c;
    }
    ev_heap_set(l, i, t);
}

void
ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *arg)
{
    t->deadline = 0;
    t->heap_idx = 0;
    t->cb = cb;
    t->arg = arg;
}

int
ev_timer_active(const struct ev_timer *t)
{
    return t->heap_idx != 0;
}

void
ev_timer_stop(struct ev_loop *l, struct ev_timer *t)
{
    size_t i = t->heap_idx;

    if (i == 0 || i > l->nheap || l->heap[i] != t)
        return;
    t->heap_idx = 0;
    struct ev_timer *last = l->heap[l->nheap--];
    if (last == t)
        return;
    ev_heap_set(l, i, last);
    ev_heap_up(l, i);
    ev_heap_down(l, last->heap_idx);
}

void
ev_timer_at(struct ev_loop *l, struct ev_timer *t, uint64_t deadline)
{
    if (t->heap_idx) {
        /* Re-arm in place. */
        uint64_t old = t->deadline;
        t->deadline = deadline;
        if (deadline < old)
            ev_heap_up(l, t->heap_idx);
        else
            ev_heap_down(l, t->heap_idx);
        return;
    }
    if (l->nheap + 1 >= l->heapcap) {
        size_t n = l->heapcap ? l->heapcap * 2 : 64;
        struct ev_timer **h = realloc(l->heap, n * sizeof(*h));
        if (h == NULL)
            fatal("ev_timer_at"); /* out of memory: our problem, not a peer's */
        l->heap = h;
        l->heapcap = n;
    }
    t->deadline = deadline;
    l->heap[++l->nheap] = t;
    t->heap_idx = l->nheap;
    ev_heap_up(l, l->nheap);
}

void
ev_timer_start(struct ev_loop *l, struct ev_timer *t, uint64_t delay_ms)
{
    /* Fresh clock rather than the cached one: a long callback must not make
     * new timers fire early. */
    ev_timer_at(l, t, ev_clock_ms() + delay_ms);
}

/* Arms the timerfd at the heap's earliest deadline if that changed. */
static void
ev_timer_rearm(struct ev_loop *l)
{
    uint64_t want = l->nheap ? l->heap[1]->deadline : 0;
    struct itimerspec its = {0};

    if (want == l->armed)
        return;
    if (want) {
        /* A zero it_value disarms: a deadline of 0 ms still means "now". */
        its.it_value.tv_sec = want / 1000;
        its.it_value.tv_nsec = (long)(want % 1000) * 1000000;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    if (timerfd_settime(l->tfd, want ? TFD_TIMER_ABSTIME : 0, &its, NULL) < 0)
        fatal("timerfd_settime");
    l->armed = want;
}

static void
ev_timers_run(struct ev_loop *l)
{
    /* Bounded so a callback re-arming itself with delay 0 cannot starve fds;
     * it runs again on the next iteration. */
    size_t budget = l->nheap;

    while (budget-- > 0 && l->nheap && l->heap[1]->deadline <= l->now &&
           !l->brk) {
        struct ev_timer *t = l->heap[1];
        ev_timer_stop(l, t);
        t->cb(l, t, t->arg);
    }
}

/* ---- signals ---------------------------------------------------------- */
int
ev_signal_add(struct ev_loop *l, int signo, ev_signal_cb cb, void *arg)
{
    sigset_t one;

    if (signo <= 0 || signo >= EV_NSIG) {
        errno = EINVAL;
        return -1;
    }
    sigemptyset(&one);
    sigaddset(&one, signo);
    if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
        return -1;
    sigaddset(&l->sigmask, signo);
    int fd = signalfd(l->sfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (l->sfd < 0) {
        l->sfd = fd;
        if (ev_epoll_add_tag(l, fd, EV_TAG_SIGNAL) < 0)
            return -1;
    }
    l->sig[signo] = (struct ev_sig){cb, arg};
    return 0;
}

static void
ev_signals_read(struct ev_loop *l)
{
    struct signalfd_siginfo si;

    while (read(l->sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo < EV_NSIG && l->sig[si.ssi_signo].cb)
            l->sig[si.ssi_signo].cb(l, (int)si.ssi_signo,
                                    l->sig[si.ssi_signo].arg);
    }
}

/* ---- the loop --------------------------------------------------------- */
uint64_t
ev_now(struct ev_loop *l)
{
    return l->now;
}

void
ev_prepare_set(struct ev_loop *l, void (*cb)(void *arg), void *arg)
{
    l->prep = cb;
    l->prep_arg = arg;
}

void
ev_break(struct ev_loop *l)
{
    l->brk = 1;
}

static void
ev_dispatch(struct ev_loop *l, const struct epoll_event *e)
{
    uint32_t tag = (uint32_t)(e->data.u64 >> 32);
    int fd = (int)(uint32_t)e->data.u64;

    if (tag == EV_TAG_TIMER) {
        uint64_t n;
        while (read(l->tfd, &n, sizeof(n)) > 0)
            ;
        l->armed = 0; /* fired: force a re-arm even for the same deadline */
        return;
    }
    if (tag == EV_TAG_SIGNAL) {
        ev_signals_read(l);
        return;
    }
    if ((size_t)fd >= l->nio || !l->io[fd].active || l->io[fd].gen != tag)
        return; /* deleted by an earlier callback of this batch */
    l->io[fd].cb(l, fd, e->events, l->io[fd].arg);
}

/* One iteration: due timers, then wait up to timeout_ms for fds. */
static int
ev_iterate(struct ev_loop *l, int timeout_ms)
{
    struct epoll_event evs[EV_BATCH];

    l->now = ev_clock_ms();
    ev_timers_run(l);
    if (l->brk)
        return 0;
    if (l->prep != NULL)
        l->prep(l->prep_arg);
    ev_timer_rearm(l);
    int n = epoll_wait(l->epfd, evs, EV_BATCH, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        log_warn("epoll_wait");
        return -1;
    }
    l->now = ev_clock_ms();
    for (int i = 0; i < n && !l->brk; i++)
        ev_dispatch(l, &evs[i]);
    return n;
}

int
ev_run_once(struct ev_loop *l, int timeout_ms)
{
    int n = ev_iterate(l, timeout_ms);

    l->brk = 0;
    return n;
}

int
ev_run(struct ev_loop *l)
{
    l->brk = 0;
    while (!l->brk)
        if (ev_iterate(l, -1) < 0)
            return -1;
    l->brk = 0;
    return 0;
}
