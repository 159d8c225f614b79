/* hook_seq.h - one time budget for a whole domain start (migrate, prepare,
 * start, started) and one for a whole stop (stopped, release). libvirt runs
 * each step as its own hook process; the steps of one sequence share the
 * budget, and the stop's intent, through a small file per domain. */
#ifndef HOOK_SEQ_H
#define HOOK_SEQ_H

#include <stdint.h>

enum hook_phase {
    HOOK_PH_NONE = 0, /* a step of its own (reconnect, attach) */
    HOOK_PH_START,
    HOOK_PH_STOP,
};

/* How a step takes part in its sequence. */
enum hook_seq_role {
    HOOK_SEQ_OWN = 0, /* its own full budget, no file */
    HOOK_SEQ_OPEN,    /* first step: a full budget (migrate, stopped) */
    HOOK_SEQ_JOIN,    /* joins a sequence opened within the last budget
                       * (prepare after migrate), else opens one */
    HOOK_SEQ_CONT,    /* continues the sequence (opens one if none) */
    HOOK_SEQ_CLOSE,   /* continues, then ends it (started, release) */
};

/* What the file holds. intent: -1 not decided, else 1 migration, 0
 * shutdown (decided by the stop's first step, kept by the next). */
struct hook_seq_rec {
    int left_ms;
    int intent;
};

/* The budget of this step: from rec (NULL when there is no file; age_ms
 * since it was written) and the configured bound. Pure. */
struct hook_seq_rec hook_seq_begin(enum hook_seq_role role,
                                   const struct hook_seq_rec *rec,
                                   uint64_t age_ms, int bound_ms);

/* The file of a domain's sequence: dir/<uuid>.start or .stop. */
struct hook_seq {
    char path[512];
    enum hook_seq_role role;
    struct hook_seq_rec rec; /* this step's budget and intent */
};

/* Loads (or starts) the sequence; creates dir if missing. -1 (errno) if
 * the file cannot be used: the step then has a full budget of its own. */
int hook_seq_load(struct hook_seq *s, const char *dir, const char *uuid,
                  enum hook_phase phase, enum hook_seq_role role,
                  int bound_ms);
/* After the step: leaves what is left for the next step (used_ms spent
 * here), or removes the file when the step closes the sequence. */
int hook_seq_save(const struct hook_seq *s, uint64_t used_ms);
/* Removes the file of the other phase's sequence too: a stop ends a start
 * that never reached "started". */
void hook_seq_discard(const char *dir, const char *uuid, enum hook_phase phase);

#endif
