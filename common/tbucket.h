/* tbucket.h - a token bucket (pure, time passed in): how many events a
 * peer may cause per second, with a burst. Both daemons bound what a
 * hostile or broken peer makes them do with it (protocol-spec 15, 16). */
#ifndef TBUCKET_H
#define TBUCKET_H

#include <stdint.h>

/* Tokens are counted in thousandths so that a rate below 1000/s refills
 * in whole milliseconds without rounding the rate away. */
struct tbucket {
    uint32_t rate;   /* tokens per second, 0 = unlimited */
    uint32_t burst;  /* bucket size in tokens (at least 1) */
    uint64_t milli;  /* tokens held, in thousandths */
    uint64_t last;   /* ms of the last refill */
    uint64_t denied; /* events refused since init */
};

/* A full bucket at now. rate 0: every event is allowed. */
void tbucket_init(struct tbucket *b, uint32_t rate, uint32_t burst,
                  uint64_t now);
/* New rate and burst (reload): the tokens held stay, within the burst. */
void tbucket_set(struct tbucket *b, uint32_t rate, uint32_t burst);
/* 1 and one token taken if one is there at now; else 0 (counted). */
int tbucket_take(struct tbucket *b, uint64_t now);

#endif
