/* privdrop.c - the capability drop after start-up, with libcap. Linked
 * with libpsx (-Wl,-wrap,pthread_create), libcap applies each change to
 * every thread of the process, not only the calling one: threads started
 * before the drop (hv-agent's libvirt client) lose what it loses. */
#include "config.h"
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "log.h"

static int
privdrop_in(const cap_value_t *set, size_t n, cap_value_t v)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == v)
            return 1;
    return 0;
}

/* Drops every capability but keep[0..n) from the bounding set. */
static int
privdrop_bound(const cap_value_t *keep, size_t n)
{
    for (cap_value_t v = 0; v < cap_max_bits(); v++) {
        if (privdrop_in(keep, n, v) || CAP_IS_SUPPORTED(v) == 0)
            continue;
        if (cap_drop_bound(v) < 0) {
            char *name = cap_to_name(v);
            log_warn("capabilities: cannot drop %s from the bounding set",
                     name ? name : "?");
            cap_free(name);
            return -1;
        }
    }
    return 0;
}

/* 1 if the thread's status (/proc/self/task/TID/status) shows exactly
 * mask as its permitted and effective sets. */
static int
privdrop_thread_ok(const char *tid, uint64_t mask)
{
    char path[300], line[128]; /* a d_name is up to 255 bytes */
    uint64_t v;
    int seen = 0, ok = 1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
    if ((f = fopen(path, "re")) == NULL)
        return errno == ENOENT; /* the thread ended meanwhile */
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "CapPrm: %" SCNx64, &v) != 1 &&
            sscanf(line, "CapEff: %" SCNx64, &v) != 1)
            continue;
        seen++;
        ok &= v == mask;
    }
    fclose(f);
    return ok && seen == 2;
}

/* Every thread, not only ours, holds mask and nothing more: libpsx did
 * its work (a build that links libcap's stand-in first does not). */
static int
privdrop_verify(uint64_t mask)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        log_warn("capabilities: cannot check the threads' sets");
        return 0;
    }
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && !privdrop_thread_ok(e->d_name, mask)) {
            log_warnx("capabilities: thread %s kept more than asked "
                      "(libpsx not in effect)",
                      e->d_name);
            rc = -1;
        }
    closedir(d);
    return rc;
}

int
privdrop_keep(const cap_value_t *keep, size_t n)
{
    cap_value_t kept[64];
    size_t nk = 0;
    cap_flag_value_t v = CAP_CLEAR, setpcap = CAP_CLEAR;
    cap_t cur = cap_get_proc(), want = cap_init();
    char *text = NULL;
    uint64_t mask = 0;
    int rc = -1;

    if (cur == NULL || want == NULL) {
        log_warn("capabilities: libcap");
        goto out;
    }
    for (size_t i = 0; i < n && nk < sizeof(kept) / sizeof(kept[0]); i++)
        if (cap_get_flag(cur, keep[i], CAP_PERMITTED, &v) == 0 &&
            v == CAP_SET) {
            kept[nk++] = keep[i];
            mask |= (uint64_t)1 << keep[i];
        }
    cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap);
    if (setpcap == CAP_SET && privdrop_bound(kept, nk) < 0)
        goto out;
    if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0) {
        log_warn("capabilities: cannot clear the ambient set");
        goto out;
    }
    if (nk > 0 &&
        (cap_set_flag(want, CAP_PERMITTED, (int)nk, kept, CAP_SET) < 0 ||
         cap_set_flag(want, CAP_EFFECTIVE, (int)nk, kept, CAP_SET) < 0)) {
        log_warn("capabilities: libcap");
        goto out;
    }
    if (cap_set_proc(want) < 0) {
        log_warn("capabilities: cannot drop them");
        goto out;
    }
    if (cap_prctlw(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) < 0) {
        log_warn("capabilities: cannot set no_new_privs");
        goto out;
    }
    if (privdrop_verify(mask) < 0)
        goto out;
    text = nk > 0 ? cap_to_text(want, NULL) : NULL;
    log_info("capabilities: %s kept, every other one dropped%s",
             text ? text : "none",
             setpcap == CAP_SET ? " (bounding set too)" : "");
    rc = 0;
out:
    cap_free(text);
    cap_free(cur);
    cap_free(want);
    return rc;
}
