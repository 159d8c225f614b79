/* nvdpctl_evpn.c - `nvdpctl evpn`: nve-agent's EVPN view, with the MAC
 * Mobility sequence numbers (RFC 7432 15) that only FRR knows, asked from
 * its vtysh (`show evpn mac vni all json`) when it can be reached. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nvdpctl.h"

extern char **environ;

#define EVPN_VTYSH_MAX (16 << 20) /* 10,000s of MACs fit */

static const char *
jget_str(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v)
                                               : NULL;
}

/* vtysh's output, or NULL with why in err. */
static char *
vtysh_json(const char *rundir, char *err, size_t errlen)
{
    char *argv[] = {"vtysh", "--vty_socket", (char *)rundir, "-c",
                    "show evpn mac vni all json", NULL};
    posix_spawn_file_actions_t fa;
    int p[2], st;
    pid_t pid;
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);

    if (buf == NULL || pipe(p) < 0) {
        free(buf);
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    int rc = posix_spawnp(&pid, "vtysh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        free(buf);
        snprintf(err, errlen, "vtysh: %s", strerror(rc));
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = cap < EVPN_VTYSH_MAX ? realloc(buf, cap *= 2) : NULL;
            if (nb == NULL)
                break;
            buf = nb;
        }
        ssize_t n = read(p[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(p[0]);
    buf[len] = '\0';
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || len == 0) {
        free(buf);
        snprintf(err, errlen, "vtysh --vty_socket %s failed (is FRR "
                 "running there?)", rundir);
        return NULL;
    }
    return buf;
}

/* Adds "seq" to each of a VN's entries: our local sequence number for the
 * MACs we advertise, the remote one for those FRR installed. */
static void
add_seqs(struct json_object *vn, struct json_object *frr)
{
    static const struct {
        const char *list, *key;
    } kinds[] = {{"local", "localSequence"}, {"remote", "remoteSequence"}};
    struct json_object *vni, *fv, *macs, *arr;
    char k[16];

    if (!json_object_object_get_ex(vn, "vni", &vni))
        return;
    snprintf(k, sizeof(k), "%d", json_object_get_int(vni));
    if (!json_object_object_get_ex(frr, k, &fv) ||
        !json_object_object_get_ex(fv, "macs", &macs))
        return;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (!json_object_object_get_ex(vn, kinds[i].list, &arr))
            continue;
        for (size_t j = 0; j < json_object_array_length(arr); j++) {
            struct json_object *e = json_object_array_get_idx(arr, j);
            struct json_object *fm, *seq;
            const char *mac = jget_str(e, "mac");
            if (mac && json_object_object_get_ex(macs, mac, &fm) &&
                json_object_object_get_ex(fm, kinds[i].key, &seq))
                json_object_object_add(e, "seq", json_object_get(seq));
        }
    }
}

void
nvdpctl_evpn_post(struct json_object *result)
{
    const char *rundir = jget_str(result, "frr_rundir");
    struct json_object *vns, *frr;
    char err[256], *text;

    if (rundir == NULL)
        return;
    if ((text = vtysh_json(rundir, err, sizeof(err))) == NULL) {
        json_object_object_add(result, "seq_error",
                               json_object_new_string(err));
        return;
    }
    frr = json_tokener_parse(text);
    free(text);
    if (frr == NULL) {
        json_object_object_add(result, "seq_error",
                               json_object_new_string("vtysh: not JSON"));
        return;
    }
    if (json_object_object_get_ex(result, "vns", &vns))
        for (size_t i = 0; i < json_object_array_length(vns); i++)
            add_seqs(json_object_array_get_idx(vns, i), frr);
    json_object_put(frr);
}

void
nvdpctl_fmt_evpn(FILE *out, struct json_object *result)
{
    static const char *const loc_cols[] = {"mac", "state", "seq", "ports",
                                           "hold_ms", "ips", NULL};
    static const char *const rem_cols[] = {"mac", "vtep", "seq", "moved",
                                           "stale", "moves", "programmed",
                                           NULL};
    struct json_object *frr, *vns, *c;
    const char *err = jget_str(result, "seq_error");

    if (json_object_object_get_ex(result, "frr", &frr)) {
        struct json_object *kept;
        fprintf(out, "FRR: %s (zebra %s, bgpd %s) in %s", jget_str(frr, "state"),
                jget_str(frr, "zebra_pid"), jget_str(frr, "bgpd_pid"),
                jget_str(result, "frr_rundir"));
        if (json_object_object_get_ex(frr, "stale_kept_ms", &kept))
            fprintf(out, ", stale entries kept %s ms more",
                    json_object_get_string(kept));
        fprintf(out, "\nVTEP %s, shadow devices on UDP port %s\n",
                jget_str(result, "vtep"), jget_str(result, "shadow_udp_port"));
    }
    if (err)
        fprintf(out, "(no sequence numbers: %s)\n", err);
    if (json_object_object_get_ex(result, "vns", &vns))
        for (size_t i = 0; i < json_object_array_length(vns); i++) {
            struct json_object *v = json_object_array_get_idx(vns, i), *d, *a;
            fprintf(out, "\nVNI %s: %s", jget_str(v, "vni"),
                    jget_str(v, "state"));
            if (json_object_object_get_ex(v, "devices", &d))
                fprintf(out, " (%s, %s, %s)", jget_str(d, "bridge"),
                        jget_str(d, "vxlan"), jget_str(d, "port"));
            if (jget_str(v, "error"))
                fprintf(out, ": %s", jget_str(v, "error"));
            fprintf(out, "\n");
            if (json_object_object_get_ex(v, "flood", &a)) {
                fprintf(out, "  flood:");
                for (size_t k = 0; k < json_object_array_length(a); k++)
                    fprintf(out, " %s%s",
                            jget_str(json_object_array_get_idx(a, k), "vtep"),
                            json_object_get_boolean(json_object_object_get(
                                json_object_array_get_idx(a, k), "stale"))
                                ? " (stale)" : "");
                fprintf(out, "%s\n", json_object_array_length(a) ? "" : " -");
            }
            if (json_object_object_get_ex(v, "local", &a) &&
                json_object_array_length(a)) {
                fprintf(out, "  local (advertised through FRR):\n");
                nvdpctl_fmt_table(out, a, loc_cols, "    ");
            }
            if (json_object_object_get_ex(v, "remote", &a) &&
                json_object_array_length(a)) {
                /* a clock reading is for scripts (-f json), not for eyes */
                for (size_t k = 0; k < json_object_array_length(a); k++)
                    json_object_object_del(json_object_array_get_idx(a, k),
                                           "changed_ms");
                fprintf(out, "  remote (learned from FRR):\n");
                nvdpctl_fmt_table(out, a, rem_cols, "    ");
            }
            if (json_object_object_get_ex(v, "remote_ips", &a) &&
                json_object_array_length(a)) {
                fprintf(out, "  remote MAC+IP (ARP/ND proxy):\n");
                nvdpctl_fmt_table(out, a, NULL, "    ");
            }
        }
    if (json_object_object_get_ex(result, "counters", &c)) {
        fprintf(out, "\ncounters:\n");
        nvdpctl_fmt_counters(out, c);
    }
}
