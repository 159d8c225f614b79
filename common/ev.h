/* ev.h - the event loop both daemons run: epoll for fds, one timerfd
 * driving a binary heap of timers, signalfd for signals. */
#ifndef EV_H
#define EV_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct ev_timer;

typedef void (*ev_io_cb)(struct ev_loop *l, int fd, uint32_t events,
                         void *arg);
typedef void (*ev_timer_cb)(struct ev_loop *l, struct ev_timer *t, void *arg);
typedef void (*ev_signal_cb)(struct ev_loop *l, int signo, void *arg);

struct ev_timer {
    uint64_t deadline; /* ms, monotonic */
    size_t heap_idx;   /* 0 = not armed */
    ev_timer_cb cb;
    void *arg;
};

/* Monotonic milliseconds (CLOCK_MONOTONIC). */
uint64_t ev_clock_ms(void);

struct ev_loop *ev_loop_new(void);
void ev_loop_free(struct ev_loop *l);
/* events: EPOLLIN / EPOLLOUT. One registration per fd. */
int ev_io_add(struct ev_loop *l, int fd, uint32_t events, ev_io_cb cb,
              void *arg);
int ev_io_mod(struct ev_loop *l, int fd, uint32_t events);
void ev_io_del(struct ev_loop *l, int fd);

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *arg);
void ev_timer_start(struct ev_loop *l, struct ev_timer *t, uint64_t delay_ms);
void ev_timer_at(struct ev_loop *l, struct ev_timer *t, uint64_t deadline);
void ev_timer_stop(struct ev_loop *l, struct ev_timer *t);
int ev_timer_active(const struct ev_timer *t);

/* Blocks signo and delivers it through the loop. */
int ev_signal_add(struct ev_loop *l, int signo, ev_signal_cb cb, void *arg);

/* Time cached at the start of the current loop iteration. */
uint64_t ev_now(struct ev_loop *l);
/* cb runs once per turn, after the turn's timers and callbacks and before
 * the loop waits again: what they queued (batched writes) is done before
 * the loop sleeps. One per loop; NULL removes it. */
void ev_prepare_set(struct ev_loop *l, void (*cb)(void *arg), void *arg);
/* Runs until ev_break(); 0 on break, -1 on a fatal epoll error. */
int ev_run(struct ev_loop *l);
void ev_break(struct ev_loop *l);
/* One iteration (due timers, then fds ready within timeout_ms; -1 waits):
 * for tests and tools driving the loop by hand. Returns the number of fd
 * events handled, -1 on error. */
int ev_run_once(struct ev_loop *l, int timeout_ms);

#endif
