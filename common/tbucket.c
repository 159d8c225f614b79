/* tbucket.c - the token bucket of tbucket.h: refilled from the time that
 * passed, never above its burst. */
#include "tbucket.h"

static void
refill(struct tbucket *b, uint64_t now)
{
    uint64_t cap = (uint64_t)b->burst * 1000;

    if (now > b->last) {
        uint64_t dt = now - b->last;
        /* rate >= 1: an idle time of cap ms fills the bucket whatever the
         * rate; below it the product stays far from overflow (rates and
         * bursts are bounded by the configurations) */
        b->milli = dt >= cap ? cap : b->milli + dt * b->rate;
        if (b->milli > cap)
            b->milli = cap;
    }
    /* a clock that steps back must not freeze the bucket */
    b->last = now;
}

void
tbucket_init(struct tbucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
    b->rate = rate;
    b->burst = burst ? burst : 1;
    b->milli = (uint64_t)b->burst * 1000;
    b->last = now;
    b->denied = 0;
}

void
tbucket_set(struct tbucket *b, uint32_t rate, uint32_t burst)
{
    b->rate = rate;
    b->burst = burst ? burst : 1;
    if (b->milli > (uint64_t)b->burst * 1000)
        b->milli = (uint64_t)b->burst * 1000;
}

int
tbucket_take(struct tbucket *b, uint64_t now)
{
    if (b->rate == 0)
        return 1;
    refill(b, now);
    if (b->milli < 1000) {
        b->denied++;
        return 0;
    }
    b->milli -= 1000;
    return 1;
}
