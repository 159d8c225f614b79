/* hv_state.c - the VNIC table (hash by UUID, creation-ordered list, dirty
 * queue for the engine) and its atomic JSON persistence. No I/O but files. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv_state.h"

#define HV_STATE_VERSION 1

static unsigned
uuid_hash(const struct nvdp_uuid *u)
{
    uint32_t h = 2166136261u;

    for (int i = 0; i < 16; i++)
        h = (h ^ u->b[i]) * 16777619u;
    return h % HV_STATE_BUCKETS;
}

void
hv_state_init(struct hv_state *s)
{
    memset(s, 0, sizeof(*s));
    TAILQ_INIT(&s->all);
    TAILQ_INIT(&s->dirty);
}

static void
vnic_free(struct hv_vnic *v)
{
    free(v->addr);
    free(v->acked);
    free(v);
}

void
hv_state_free(struct hv_state *s)
{
    struct hv_vnic *v;

    while ((v = TAILQ_FIRST(&s->all)) != NULL)
        hv_state_remove(s, v);
}

struct hv_vnic *
hv_state_find(const struct hv_state *s, const struct nvdp_uuid *u)
{
    struct hv_vnic *v;

    for (v = s->hash[uuid_hash(u)]; v != NULL; v = v->hnext)
        if (memcmp(v->uuid.b, u->b, 16) == 0)
            return v;
    return NULL;
}

struct hv_vnic *
hv_state_add(struct hv_state *s, const struct nvdp_uuid *u)
{
    struct hv_vnic *v;
    unsigned h = uuid_hash(u);

    if ((v = calloc(1, sizeof(*v))) == NULL)
        return NULL;
    v->uuid = *u;
    v->up = 1;
    v->acked_up = HV_UP_UNKNOWN;
    v->state = HV_VNIC_PENDING;
    v->hnext = s->hash[h];
    s->hash[h] = v;
    TAILQ_INSERT_TAIL(&s->all, v, entry);
    s->count++;
    return v;
}

void
hv_state_remove(struct hv_state *s, struct hv_vnic *v)
{
    struct hv_vnic **pp;

    for (pp = &s->hash[uuid_hash(&v->uuid)]; *pp != NULL;
         pp = &(*pp)->hnext) {
        if (*pp == v) {
            *pp = v->hnext;
            break;
        }
    }
    TAILQ_REMOVE(&s->all, v, entry);
    if (v->queued)
        TAILQ_REMOVE(&s->dirty, v, dirty);
    s->count--;
    vnic_free(v);
}

static int
addrs_copy(struct nvdp_addr **dst, uint16_t *dn, const struct nvdp_addr *a,
           size_t n)
{
    struct nvdp_addr *na = NULL;

    if (n > NVDP_MAX_ADDRS) {
        errno = E2BIG;
        return -1;
    }
    if (n > 0) {
        if ((na = calloc(n, sizeof(*na))) == NULL)
            return -1;
        memcpy(na, a, n * sizeof(*na));
    }
    free(*dst);
    *dst = na;
    *dn = (uint16_t)n;
    return 0;
}

int
hv_state_set_addrs(struct hv_vnic *v, const struct nvdp_addr *a, size_t n)
{
    return addrs_copy(&v->addr, &v->naddr, a, n);
}

int
hv_state_set_acked(struct hv_vnic *v, const struct nvdp_addr *a, size_t n)
{
    return addrs_copy(&v->acked, &v->nacked, a, n);
}

void
hv_state_mark(struct hv_state *s, struct hv_vnic *v)
{
    if (v->queued)
        return;
    v->queued = 1;
    TAILQ_INSERT_TAIL(&s->dirty, v, dirty);
}

struct hv_vnic *
hv_state_next_dirty(struct hv_state *s)
{
    struct hv_vnic *v = TAILQ_FIRST(&s->dirty);

    if (v != NULL) {
        TAILQ_REMOVE(&s->dirty, v, dirty);
        v->queued = 0;
    }
    return v;
}

/* ---- names ----------------------------------------------------------- */

static const char *const state_names[] = {
    [HV_VNIC_PENDING] = "pending",
    [HV_VNIC_ATTACHED] = "attached",
    [HV_VNIC_PREASSOCIATED] = "preassociated",
    [HV_VNIC_FAILED] = "failed",
    [HV_VNIC_WITHDRAWN] = "withdrawn",
    [HV_VNIC_DETACHING] = "detaching",
    [HV_VNIC_DETACHED] = "detached",
};

const char *
hv_vnic_state_str(unsigned state)
{
    if (state < sizeof(state_names) / sizeof(state_names[0]))
        return state_names[state];
    return "unknown";
}

const char *
hv_want_str(unsigned want)
{
    switch (want) {
    case HV_WANT_ATTACH: return "attached";
    case HV_WANT_PREASSOC: return "preassociated";
    case HV_WANT_DETACH: return "detached";
    }
    return "unknown";
}

static int
want_parse(const char *s)
{
    for (unsigned w = HV_WANT_ATTACH; w <= HV_WANT_DETACH; w++)
        if (strcmp(s, hv_want_str(w)) == 0)
            return (int)w;
    return -1;
}

const char *
hv_intent_str(unsigned intent)
{
    switch (intent) {
    case NVDP_INTENT_SHUTDOWN: return "shutdown";
    case NVDP_INTENT_MIGRATION: return "migration";
    }
    return NULL;
}

/* ---- JSON ------------------------------------------------------------ */

static struct json_object *
jstr_or_null(const char *s)
{
    return (s != NULL && *s != '\0') ? json_object_new_string(s) : NULL;
}

static struct json_object *
ips_to_json(const struct hv_vnic *v)
{
    struct json_object *a = json_object_new_array();
    char buf[128];

    for (unsigned i = 0; i < v->naddr; i++) {
        if (v->addr[i].kind == NVDP_ADDR_MAC)
            continue;
        nvdp_addr_fmt_ip(&v->addr[i], buf, sizeof(buf));
        json_object_array_add(a, json_object_new_string(buf));
    }
    return a;
}

struct json_object *
hv_vnic_to_json(const struct hv_vnic *v)
{
    struct json_object *o = json_object_new_object();
    char buf[128];
    int has_tag = v->tag != 0 && (v->state == HV_VNIC_ATTACHED ||
                                  v->state == HV_VNIC_PREASSOCIATED);

    nvdp_uuid_fmt(&v->uuid, buf);
    json_object_object_add(o, "vnic", json_object_new_string(buf));
    nvdp_vn_fmt(&v->vn, buf, sizeof(buf));
    json_object_object_add(o, "vn", json_object_new_string(buf));
    json_object_object_add(o, "vn_name", jstr_or_null(v->vn_name));
    nvdp_mac_fmt(v->mac, buf);
    json_object_object_add(o, "mac", json_object_new_string(buf));
    json_object_object_add(o, "ips", ips_to_json(v));
    json_object_object_add(o, "state",
                           json_object_new_string(hv_vnic_state_str(v->state)));
    json_object_object_add(o, "tag",
                           has_tag ? json_object_new_int(v->tag) : NULL);
    json_object_object_add(o, "status", v->state != HV_VNIC_FAILED ? NULL :
                           json_object_new_string(v->gaveup ? "no-answer" :
                                                  nvdp_status_str(v->status)));
    json_object_object_add(o, "reason", v->state == HV_VNIC_FAILED ||
                           v->state == HV_VNIC_WITHDRAWN ?
                           jstr_or_null(v->reason) : NULL);
    json_object_object_add(o, "intent", jstr_or_null(hv_intent_str(v->intent)));
    json_object_object_add(o, "desired",
                           json_object_new_string(hv_want_str(v->want)));
    json_object_object_add(o, "up", json_object_new_boolean(v->up));
    json_object_object_add(o, "reserve", json_object_new_boolean(v->reserve));
    json_object_object_add(o, "ifname", jstr_or_null(v->ifname));
    json_object_object_add(o, "tag_hint", v->tag_hint ?
                           json_object_new_int(v->tag_hint) : NULL);
    return o;
}

/* A JSON string: our own names and reasons may hold anything. */
static void
put_jstr(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* The state-file entry: the desired state plus what must survive a
 * restart (the tag for TAG_HINT, a withdrawal we must not undo). Written
 * directly, without building json-c objects: saves of 10,000s of VNICs
 * happen while the agent is busy. */
static void
vnic_to_file(FILE *fp, const struct hv_vnic *v)
{
    char buf[128];
    uint16_t hint = v->tag != 0 ? v->tag : v->tag_hint;
    int first = 1;

    nvdp_uuid_fmt(&v->uuid, buf);
    fprintf(fp, "{\"vnic\": \"%s\", ", buf);
    nvdp_vn_fmt(&v->vn, buf, sizeof(buf));
    fprintf(fp, "\"vn\": \"%s\", ", buf);
    if (v->vn_name[0] != '\0') {
        fputs("\"vn_name\": ", fp);
        put_jstr(fp, v->vn_name);
        fputs(", ", fp);
    }
    nvdp_mac_fmt(v->mac, buf);
    fprintf(fp, "\"mac\": \"%s\", \"ips\": [", buf);
    for (unsigned i = 0; i < v->naddr; i++) {
        if (v->addr[i].kind == NVDP_ADDR_MAC)
            continue;
        nvdp_addr_fmt_ip(&v->addr[i], buf, sizeof(buf));
        fprintf(fp, "%s\"%s\"", first ? "" : ", ", buf);
        first = 0;
    }
    fprintf(fp, "], \"want\": \"%s\", \"reserve\": %s, \"up\": %s",
            hv_want_str(v->want), v->reserve ? "true" : "false",
            v->up ? "true" : "false");
    if (hv_intent_str(v->intent) != NULL)
        fprintf(fp, ", \"intent\": \"%s\"", hv_intent_str(v->intent));
    if (v->ifname[0] != '\0') {
        fputs(", \"ifname\": ", fp);
        put_jstr(fp, v->ifname);
    }
    if (hint != 0)
        fprintf(fp, ", \"tag\": %u", hint);
    if (v->state == HV_VNIC_WITHDRAWN) {
        fputs(", \"withdrawn\": true", fp);
        if (v->reason[0] != '\0') {
            fputs(", \"reason\": ", fp);
            put_jstr(fp, v->reason);
        }
    }
    fputc('}', fp);
}

static int
fsync_dir(const char *path)
{
    char tmp[PATH_MAX];
    int fd, rc;

    snprintf(tmp, sizeof(tmp), "%s", path);
    if ((fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY)) == -1)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* One VNIC per line: the file stays readable and diffable, and no tree of
 * every VNIC is built at once (saves of 10,000s of VNICs stay cheap). */
static int
write_state(FILE *fp, const struct hv_state *s)
{
    const struct hv_vnic *v;

    fprintf(fp, "{\"version\": %d, \"vnics\": [", HV_STATE_VERSION);
    TAILQ_FOREACH(v, &s->all, entry) {
        fputs(v == TAILQ_FIRST(&s->all) ? "\n  " : ",\n  ", fp);
        vnic_to_file(fp, v);
    }
    fprintf(fp, "\n]}\n");
    return ferror(fp) ? -1 : 0;
}

int
hv_state_save(const struct hv_state *s, const char *path, char *err,
              size_t errlen)
{
    char tmp[PATH_MAX];
    FILE *fp = NULL;
    int fd, saved;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
        -1)
        goto fail;
    if ((fp = fdopen(fd, "w")) == NULL)
        goto fail_fd;
    if (write_state(fp, s) < 0 || fflush(fp) == EOF || fsync(fd) == -1)
        goto fail_fp;
    fd = -1;
    if (fclose(fp) == EOF)
        goto fail_unlink;
    if (rename(tmp, path) == -1)
        goto fail_unlink;
    if (fsync_dir(path) == -1) {
        snprintf(err, errlen, "%s: fsync of directory: %s", path,
                 strerror(errno));
        return -1;
    }
    return 0;

fail_fp:
    saved = errno;
    fclose(fp);
    errno = saved;
    goto fail_unlink;
fail_fd:
    saved = errno;
    close(fd);
    errno = saved;
fail_unlink:
    saved = errno;
    unlink(tmp);
    errno = saved;
fail:
    snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    return -1;
}

static const char *
jget_str(struct json_object *o, const char *key)
{
    struct json_object *x;

    if (!json_object_object_get_ex(o, key, &x) ||
        !json_object_is_type(x, json_type_string))
        return NULL;
    return json_object_get_string(x);
}

/* -1 on a wrong type, else the boolean (or dflt when absent). */
static int
jget_bool(struct json_object *o, const char *key, int dflt)
{
    struct json_object *x;

    if (!json_object_object_get_ex(o, key, &x))
        return dflt;
    if (!json_object_is_type(x, json_type_boolean))
        return -1;
    return json_object_get_boolean(x);
}

static int
vnic_from_file(struct hv_state *s, struct json_object *o, unsigned idx,
               char *err, size_t errlen)
{
    struct nvdp_addr addrs[NVDP_MAX_ADDRS];
    struct json_object *ips, *x;
    struct nvdp_uuid u;
    struct nvdp_vn vn;
    struct hv_vnic *v;
    const char *str;
    uint8_t mac[6];
    size_t n = 0;
    int want, reserve, up, withdrawn;
    unsigned intent = 0;
    int64_t tag = 0;

    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "vnics[%u]: not an object", idx);
        return -1;
    }
    if ((str = jget_str(o, "vnic")) == NULL || nvdp_uuid_parse(str, &u) < 0) {
        snprintf(err, errlen, "vnics[%u]: bad or missing \"vnic\"", idx);
        return -1;
    }
    if (hv_state_find(s, &u) != NULL) {
        snprintf(err, errlen, "vnics[%u]: duplicate VNIC %s", idx, str);
        return -1;
    }
    if ((str = jget_str(o, "vn")) == NULL || nvdp_vn_parse(str, &vn) < 0) {
        snprintf(err, errlen, "vnics[%u]: bad or missing \"vn\"", idx);
        return -1;
    }
    if ((str = jget_str(o, "mac")) == NULL || nvdp_mac_parse(str, mac) < 0) {
        snprintf(err, errlen, "vnics[%u]: bad or missing \"mac\"", idx);
        return -1;
    }
    if ((str = jget_str(o, "want")) == NULL || (want = want_parse(str)) < 0) {
        snprintf(err, errlen, "vnics[%u]: bad or missing \"want\"", idx);
        return -1;
    }
    reserve = jget_bool(o, "reserve", 0);
    up = jget_bool(o, "up", 1);
    withdrawn = jget_bool(o, "withdrawn", 0);
    if (reserve < 0 || up < 0 || withdrawn < 0) {
        snprintf(err, errlen, "vnics[%u]: a boolean field is not boolean",
                 idx);
        return -1;
    }
    if ((str = jget_str(o, "intent")) != NULL) {
        if (strcmp(str, "shutdown") == 0)
            intent = NVDP_INTENT_SHUTDOWN;
        else if (strcmp(str, "migration") == 0)
            intent = NVDP_INTENT_MIGRATION;
        else {
            snprintf(err, errlen, "vnics[%u]: bad \"intent\"", idx);
            return -1;
        }
    }
    if (json_object_object_get_ex(o, "tag", &x)) {
        if (!json_object_is_type(x, json_type_int) ||
            (tag = json_object_get_int64(x)) < NVDP_TAG_MIN ||
            tag > NVDP_TAG_MAX) {
            snprintf(err, errlen, "vnics[%u]: bad \"tag\"", idx);
            return -1;
        }
    }
    if (json_object_object_get_ex(o, "ips", &ips)) {
        if (!json_object_is_type(ips, json_type_array) ||
            json_object_array_length(ips) > NVDP_MAX_ADDRS) {
            snprintf(err, errlen, "vnics[%u]: bad \"ips\"", idx);
            return -1;
        }
        for (size_t i = 0; i < json_object_array_length(ips); i++) {
            x = json_object_array_get_idx(ips, i);
            if (!json_object_is_type(x, json_type_string) ||
                nvdp_addr_parse(mac, json_object_get_string(x),
                                &addrs[n]) < 0) {
                snprintf(err, errlen, "vnics[%u]: bad address in \"ips\"",
                         idx);
                return -1;
            }
            n++;
        }
    }
    if (n == 0) {
        if (nvdp_addr_parse(mac, NULL, &addrs[0]) < 0) {
            snprintf(err, errlen, "vnics[%u]: bad \"mac\"", idx);
            return -1;
        }
        n = 1;
    }

    if ((v = hv_state_add(s, &u)) == NULL || hv_state_set_addrs(v, addrs, n)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    v->vn = vn;
    if ((str = jget_str(o, "vn_name")) != NULL)
        snprintf(v->vn_name, sizeof(v->vn_name), "%s", str);
    memcpy(v->mac, mac, 6);
    v->want = (uint8_t)want;
    v->reserve = (uint8_t)reserve;
    v->up = (uint8_t)up;
    v->intent = (uint8_t)intent;
    v->tag_hint = (uint16_t)tag;
    if ((str = jget_str(o, "ifname")) != NULL)
        snprintf(v->ifname, sizeof(v->ifname), "%s", str);
    /* The NVE may still hold what we had: the resync replays it. A
     * withdrawal is the NVE's decision and survives our restart. */
    v->may_exist = 1;
    if (withdrawn) {
        v->state = HV_VNIC_WITHDRAWN;
        v->may_exist = 0;
        if ((str = jget_str(o, "reason")) != NULL)
            snprintf(v->reason, sizeof(v->reason), "%s", str);
    } else if (v->want == HV_WANT_DETACH)
        v->state = HV_VNIC_DETACHING;
    return 0;
}

static int
load_text(struct hv_state *s, const char *text, char *err, size_t errlen)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root, *arr, *ver;
    enum json_tokener_error jerr;
    int rc = -1;

    root = json_tokener_parse_ex(tok, text, (int)strlen(text));
    jerr = json_tokener_get_error(tok);
    if (root == NULL || jerr != json_tokener_success) {
        snprintf(err, errlen, "invalid JSON: %s",
                 root == NULL && jerr == json_tokener_continue ?
                 "truncated" : json_tokener_error_desc(jerr));
        goto out;
    }
    /* The tokener stops after the first value: anything but whitespace
     * after it is corruption too. */
    for (const char *p = text + json_tokener_get_parse_end(tok); *p; p++) {
        if (strchr(" \t\r\n", *p) == NULL) {
            snprintf(err, errlen, "invalid JSON: trailing data");
            goto out;
        }
    }
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "version", &ver) ||
        json_object_get_int(ver) != HV_STATE_VERSION) {
        snprintf(err, errlen, "not a version %d state file", HV_STATE_VERSION);
        goto out;
    }
    if (!json_object_object_get_ex(root, "vnics", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        snprintf(err, errlen, "missing \"vnics\" array");
        goto out;
    }
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (vnic_from_file(s, json_object_array_get_idx(arr, i), (unsigned)i,
                           err, errlen) < 0)
            goto out;
    rc = 0;
out:
    if (root != NULL)
        json_object_put(root);
    json_tokener_free(tok);
    return rc;
}

static char *
read_file(const char *path, char *err, size_t errlen, int *missing)
{
    struct stat st;
    char *buf = NULL;
    size_t off = 0;
    int fd;

    *missing = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
        if (errno == ENOENT)
            *missing = 1;
        else
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) == -1 || st.st_size > 256 * 1024 * 1024 ||
        (buf = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "%s: cannot read: %s", path,
                 errno ? strerror(errno) : "too large");
        close(fd);
        return NULL;
    }
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    buf[off] = '\0';
    if (strlen(buf) != off) {
        snprintf(err, errlen, "%s: contains NUL bytes", path);
        free(buf);
        return NULL;
    }
    return buf;
}

int
hv_state_load(struct hv_state *s, const char *path, char *err, size_t errlen)
{
    char aside[PATH_MAX], why[256];
    char *text;
    int missing;

    err[0] = '\0';
    if ((text = read_file(path, why, sizeof(why), &missing)) == NULL) {
        if (missing)
            return 0;
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (load_text(s, text, why, sizeof(why)) == 0) {
        free(text);
        return 0;
    }
    free(text);
    hv_state_free(s);
    hv_state_init(s);
    snprintf(aside, sizeof(aside), "%s.corrupt", path);
    if (rename(path, aside) == -1)
        snprintf(err, errlen, "%s: %s (and could not move it aside: %s)",
                 path, why, strerror(errno));
    else
        snprintf(err, errlen, "%s: %s; kept as %s", path, why, aside);
    return -1;
}
