/* test_ev.c - the event loop: timer heap order, timers stopped or re-armed
 * from callbacks, fds removed mid-batch, signals through signalfd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ev.h"

struct rec {
    int n;
    uint64_t last_deadline;
    int out_of_order;
};

static void
record_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct rec *r = arg;

    (void)l;
    if (t->deadline < r->last_deadline)
        r->out_of_order++;
    r->last_deadline = t->deadline;
    r->n++;
}

/* Timers with deadlines already past all run in one iteration, in
 * deadline order; stopped ones never run. */
static void
test_heap_order_and_stop(void **st)
{
    struct ev_loop *l = ev_loop_new();
    enum { N = 1000 };
    struct ev_timer *t = calloc(N, sizeof(*t));
    struct rec *r = calloc(1, sizeof(*r));
    uint64_t base = ev_clock_ms() - 5000;
    int stopped = 0;

    (void)st;
    assert_non_null(l);
    srand(42);
    for (int i = 0; i < N; i++) {
        ev_timer_init(&t[i], record_cb, r);
        ev_timer_at(l, &t[i], base + (uint64_t)(rand() % 4000));
        assert_true(ev_timer_active(&t[i]));
    }
    /* Re-arm some in place (earlier and later), stop others. */
    for (int i = 0; i < N; i += 7)
        ev_timer_at(l, &t[i], base + (uint64_t)(rand() % 4000));
    for (int i = 0; i < N; i += 5) {
        ev_timer_stop(l, &t[i]);
        assert_false(ev_timer_active(&t[i]));
        stopped++;
    }
    ev_timer_stop(l, &t[0]); /* stopping twice is harmless */
    assert_int_equal(ev_run_once(l, 0), 0);
    assert_int_equal(r->n, N - stopped);
    assert_int_equal(r->out_of_order, 0);
    for (int i = 0; i < N; i++)
        assert_false(ev_timer_active(&t[i]));
    ev_loop_free(l);
    free(t);
    free(r);
}

struct pair {
    struct ev_timer a, b;
    int a_ran, b_ran;
    int self_stop;
};

static void
a_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct pair *p = arg;

    p->a_ran++;
    ev_timer_stop(l, &p->b); /* b is due in this same iteration */
    if (p->self_stop) {
        ev_timer_start(l, t, 0);
        ev_timer_stop(l, t); /* re-arm then stop itself: must not run */
    }
}

static void
b_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct pair *p = arg;

    (void)l;
    (void)t;
    p->b_ran++;
}

static void
test_stop_other_and_self_from_callback(void **st)
{
    struct ev_loop *l = ev_loop_new();
    struct pair p = {0};
    uint64_t now = ev_clock_ms();

    (void)st;
    ev_timer_init(&p.a, a_cb, &p);
    ev_timer_init(&p.b, b_cb, &p);
    p.self_stop = 1;
    ev_timer_at(l, &p.a, now - 20);
    ev_timer_at(l, &p.b, now - 10);
    ev_run_once(l, 0);
    ev_run_once(l, 0);
    assert_int_equal(p.a_ran, 1);
    assert_int_equal(p.b_ran, 0);
    assert_false(ev_timer_active(&p.a));
    ev_loop_free(l);
}

struct periodic {
    struct ev_timer t;
    int runs;
    uint64_t first, last;
};

static void
periodic_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    struct periodic *p = arg;

    if (p->runs++ == 0)
        p->first = ev_now(l);
    p->last = ev_now(l);
    if (p->runs < 5)
        ev_timer_start(l, t, 10);
    else
        ev_break(l);
}

/* A real wait through the timerfd; re-arming from the callback. */
static void
test_timer_fires_through_timerfd(void **st)
{
    struct ev_loop *l = ev_loop_new();
    struct periodic p = {0};
    uint64_t t0 = ev_clock_ms();

    (void)st;
    ev_timer_init(&p.t, periodic_cb, &p);
    ev_timer_start(l, &p.t, 20);
    assert_int_equal(ev_run(l), 0);
    assert_int_equal(p.runs, 5);
    assert_true(p.first >= t0 + 20);
    assert_true(p.last - p.first >= 40);
    assert_true(ev_clock_ms() - t0 < 2000);
    ev_loop_free(l);
}

/* A callback re-arming itself with delay 0 must not starve the loop. */
static void
zero_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    int *n = arg;

    (*n)++;
    ev_timer_start(l, t, 0);
}

static void
test_zero_delay_rearm_bounded(void **st)
{
    struct ev_loop *l = ev_loop_new();
    struct ev_timer t;
    int n = 0;

    (void)st;
    ev_timer_init(&t, zero_cb, &n);
    ev_timer_start(l, &t, 0);
    ev_run_once(l, 0);
    assert_int_equal(n, 1);
    ev_run_once(l, 0);
    assert_int_equal(n, 2);
    ev_timer_stop(l, &t);
    ev_loop_free(l);
}

struct fds {
    int p1[2], p2[2];
    int ran1, ran2;
};

static void
fd_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct fds *f = arg;
    int other;

    assert_true(events & EPOLLIN);
    if (fd == f->p1[0]) {
        f->ran1++;
        other = f->p2[0];
    } else {
        f->ran2++;
        other = f->p1[0];
    }
    /* Delete and close the other fd, whose event may be in this batch. */
    ev_io_del(l, other);
    close(other);
}

static void
test_fd_removed_mid_batch(void **st)
{
    struct ev_loop *l = ev_loop_new();
    struct fds f = {0};

    (void)st;
    assert_int_equal(pipe(f.p1), 0);
    assert_int_equal(pipe(f.p2), 0);
    assert_int_equal(ev_io_add(l, f.p1[0], EPOLLIN, fd_cb, &f), 0);
    assert_int_equal(ev_io_add(l, f.p2[0], EPOLLIN, fd_cb, &f), 0);
    assert_int_equal(ev_io_add(l, f.p2[0], EPOLLIN, fd_cb, &f), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(write(f.p1[1], "x", 1), 1);
    assert_int_equal(write(f.p2[1], "x", 1), 1);
    assert_int_equal(ev_run_once(l, 1000), 2); /* both were ready */
    assert_int_equal(f.ran1 + f.ran2, 1);      /* but only one ran */
    close(f.p1[1]);
    close(f.p2[1]);
    close(f.ran1 ? f.p1[0] : f.p2[0]);
    ev_loop_free(l);
}

/* The fd number of a deleted fd reused at once (close + pipe) within the
 * same batch: the stale event must not reach the new registration. */
struct reuse {
    int p1[2], p2[2], np[2];
    int first_ran, new_ran, old_ran;
    int first;
};

static void
new_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct reuse *r = arg;

    (void)l;
    (void)fd;
    (void)events;
    r->new_ran++;
}

static void
reuse_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    struct reuse *r = arg;

    (void)events;
    if (r->first_ran) {
        r->old_ran++; /* the other pipe ran: the one we closed? */
        return;
    }
    r->first_ran = 1;
    r->first = fd;
    int other = fd == r->p1[0] ? r->p2[0] : r->p1[0];
    ev_io_del(l, other);
    close(other);
    assert_int_equal(pipe(r->np), 0);
    assert_int_equal(r->np[0], other); /* the lowest free number: reused */
    assert_int_equal(ev_io_add(l, r->np[0], EPOLLIN, new_cb, r), 0);
}

static void
test_fd_number_reused_mid_batch(void **st)
{
    struct ev_loop *l = ev_loop_new();
    struct reuse r = {0};

    (void)st;
    assert_int_equal(pipe(r.p1), 0);
    assert_int_equal(pipe(r.p2), 0);
    assert_int_equal(ev_io_add(l, r.p1[0], EPOLLIN, reuse_cb, &r), 0);
    assert_int_equal(ev_io_add(l, r.p2[0], EPOLLIN, reuse_cb, &r), 0);
    assert_int_equal(write(r.p1[1], "x", 1), 1);
    assert_int_equal(write(r.p2[1], "x", 1), 1);
    assert_int_equal(ev_run_once(l, 1000), 2);
    assert_int_equal(r.first_ran, 1);
    assert_int_equal(r.old_ran, 0);
    assert_int_equal(r.new_ran, 0); /* the new pipe is empty */
    /* And the new registration works. */
    assert_int_equal(write(r.np[1], "y", 1), 1);
    ev_run_once(l, 1000);
    assert_int_equal(r.new_ran, 1);
    ev_io_del(l, r.first);
    ev_io_del(l, r.np[0]);
    close(r.p1[1]);
    close(r.p2[1]);
    close(r.first);
    close(r.np[0]);
    close(r.np[1]);
    ev_loop_free(l);
}

static void
out_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    int *n = arg;

    (*n)++;
    assert_true(events & EPOLLOUT);
    ev_io_mod(l, fd, EPOLLIN); /* stop asking for writability */
}

static void
test_io_mod(void **st)
{
    struct ev_loop *l = ev_loop_new();
    int p[2], n = 0;

    (void)st;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(ev_io_mod(l, p[1], EPOLLOUT), -1); /* not added */
    assert_int_equal(ev_io_add(l, p[1], 0, out_cb, &n), 0);
    assert_int_equal(ev_run_once(l, 0), 0);
    assert_int_equal(ev_io_mod(l, p[1], EPOLLOUT), 0);
    ev_run_once(l, 100);
    ev_run_once(l, 0);
    assert_int_equal(n, 1);
    ev_io_del(l, p[1]);
    ev_io_del(l, p[1]); /* harmless */
    close(p[0]);
    close(p[1]);
    ev_loop_free(l);
}

/* What a turn's callbacks queue, and what the prepare callback flushed. */
struct prep {
    int queued, flushed, calls;
};

static void
prep_cb(void *arg)
{
    struct prep *p = arg;

    p->calls++;
    p->flushed += p->queued;
    p->queued = 0;
}

static void
prep_timer_cb(struct ev_loop *l, struct ev_timer *t, void *arg)
{
    (void)l;
    (void)t;
    ((struct prep *)arg)->queued++;
}

static void
prep_io_cb(struct ev_loop *l, int fd, uint32_t events, void *arg)
{
    char c;

    (void)l;
    (void)events;
    assert_int_equal(read(fd, &c, 1), 1);
    ((struct prep *)arg)->queued++;
}

/* The prepare callback runs after a turn's timers, and after the previous
 * turn's fd callbacks, before the loop waits: nothing they queued waits
 * through a sleep. */
static void
test_prepare(void **st)
{
    struct ev_loop *l = ev_loop_new();
    struct prep p = {0, 0, 0};
    struct ev_timer t;
    int fds[2];

    (void)st;
    ev_prepare_set(l, prep_cb, &p);
    ev_timer_init(&t, prep_timer_cb, &p);
    ev_timer_start(l, &t, 0);
    ev_run_once(l, 0);
    assert_int_equal(p.flushed, 1); /* the timer's, before the wait */
    assert_int_equal(p.calls, 1);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(ev_io_add(l, fds[0], EPOLLIN, prep_io_cb, &p), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(ev_run_once(l, 100), 1);
    assert_int_equal(p.queued, 1); /* queued by the fd callback */
    ev_run_once(l, 0);
    assert_int_equal(p.queued, 0);
    assert_int_equal(p.flushed, 2); /* before the next wait */
    ev_prepare_set(l, NULL, NULL);
    ev_run_once(l, 0);
    assert_int_equal(p.calls, 3);
    ev_io_del(l, fds[0]);
    close(fds[0]);
    close(fds[1]);
    ev_loop_free(l);
}

static void
sig_cb(struct ev_loop *l, int signo, void *arg)
{
    int *got = arg;

    *got = signo;
    ev_break(l);
}

static void
test_signal(void **st)
{
    struct ev_loop *l = ev_loop_new();
    int got = 0;

    (void)st;
    assert_int_equal(ev_signal_add(l, 0, sig_cb, &got), -1);
    assert_int_equal(ev_signal_add(l, SIGUSR1, sig_cb, &got), 0);
    assert_int_equal(ev_signal_add(l, SIGUSR2, sig_cb, &got), 0);
    kill(getpid(), SIGUSR2);
    assert_int_equal(ev_run(l), 0);
    assert_int_equal(got, SIGUSR2);
    kill(getpid(), SIGUSR1);
    assert_int_equal(ev_run(l), 0);
    assert_int_equal(got, SIGUSR1);
    ev_loop_free(l);
}

int
main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_heap_order_and_stop),
        cmocka_unit_test(test_stop_other_and_self_from_callback),
        cmocka_unit_test(test_timer_fires_through_timerfd),
        cmocka_unit_test(test_zero_delay_rearm_bounded),
        cmocka_unit_test(test_fd_removed_mid_batch),
        cmocka_unit_test(test_fd_number_reused_mid_batch),
        cmocka_unit_test(test_io_mod),
        cmocka_unit_test(test_prepare),
        cmocka_unit_test(test_signal),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
