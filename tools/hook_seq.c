/* hook_seq.c - the time budget shared by the hook calls of one domain start
 * or stop: a two-number text file per domain and phase, replaced atomically. */
#include "hook_seq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct hook_seq_rec hook_seq_begin(enum hook_seq_role role,
                                   const struct hook_seq_rec *rec,
                                   uint64_t age_ms, int bound_ms)
{
    struct hook_seq_rec fresh = {bound_ms, -1};

    switch (role) {
    case HOOK_SEQ_OWN:
    case HOOK_SEQ_OPEN:
        return fresh;
    case HOOK_SEQ_JOIN:
        /* prepare right after migrate (same API call); an older file is
         * what a crashed start left behind */
        return rec && age_ms < (uint64_t)bound_ms ? *rec : fresh;
    case HOOK_SEQ_CONT:
    case HOOK_SEQ_CLOSE:
        /* any age: a migration's data transfer lies between prepare and
         * started, and it is libvirt's time, not ours */
        return rec ? *rec : fresh;
    }
    return fresh;
}

static const char *phase_ext(enum hook_phase p)
{
    return p == HOOK_PH_STOP ? "stop" : "start";
}

static int seq_path(char *out, size_t len, const char *dir, const char *uuid,
                    enum hook_phase phase)
{
    /* uuid is the normalised domain UUID of the XML: no '/' in it */
    if ((size_t)snprintf(out, len, "%s/%s.%s", dir, uuid, phase_ext(phase)) >=
        len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int read_rec(const char *path, struct hook_seq_rec *rec,
                    uint64_t *age_ms)
{
    struct stat st;
    struct timespec now;
    FILE *f = fopen(path, "re");
    int ok;

    if (!f)
        return -1;
    ok = fstat(fileno(f), &st) == 0 &&
         fscanf(f, "%d %d", &rec->left_ms, &rec->intent) == 2 &&
         rec->left_ms >= 0 && rec->intent >= -1 && rec->intent <= 1;
    fclose(f);
    if (!ok) {
        errno = EINVAL;
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age = ((int64_t)now.tv_sec - st.st_mtim.tv_sec) * 1000 +
                  (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    *age_ms = age > 0 ? (uint64_t)age : 0;
    return 0;
}

int hook_seq_load(struct hook_seq *s, const char *dir, const char *uuid,
                  enum hook_phase phase, enum hook_seq_role role,
                  int bound_ms)
{
    struct hook_seq_rec rec;
    uint64_t age = 0;
    int have;

    s->role = role;
    s->path[0] = 0;
    s->rec = hook_seq_begin(HOOK_SEQ_OWN, NULL, 0, bound_ms);
    if (role == HOOK_SEQ_OWN || phase == HOOK_PH_NONE)
        return 0;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    if (seq_path(s->path, sizeof(s->path), dir, uuid, phase) < 0) {
        s->path[0] = 0;
        return -1;
    }
    have = read_rec(s->path, &rec, &age) == 0;
    s->rec = hook_seq_begin(role, have ? &rec : NULL, age, bound_ms);
    return 0;
}

int hook_seq_save(const struct hook_seq *s, uint64_t used_ms)
{
    char tmp[sizeof(s->path) + 8];
    FILE *f;

    if (!s->path[0])
        return 0;
    if (s->role == HOOK_SEQ_CLOSE)
        return unlink(s->path) < 0 && errno != ENOENT ? -1 : 0;
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
    if (!(f = fopen(tmp, "we")))
        return -1;
    int left = used_ms >= (uint64_t)s->rec.left_ms
                   ? 0 : s->rec.left_ms - (int)used_ms;
    int ok = fprintf(f, "%d %d\n", left, s->rec.intent) > 0;
    if (fclose(f) != 0 || !ok || rename(tmp, s->path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

void hook_seq_discard(const char *dir, const char *uuid, enum hook_phase phase)
{
    char path[512];

    if (seq_path(path, sizeof(path), dir, uuid, phase) == 0)
        unlink(path);
}
