/* hv_state_file.c - a VNIC as a journal record and back, and loading the
 * state file: the journal (hv_journal.h) or, once, the single JSON document
 * earlier versions wrote. Every valid record loads whatever else the file
 * holds; what was wrong is counted for the caller to act on. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv_state.h"

/* ---- a VNIC as a record ------------------------------------------------ */

/* The desired state plus what must survive a restart: the tag (TAG_HINT)
 * and a withdrawal, which is the NVE's decision and stands until the user
 * acts. Returns the record's length. */
static uint32_t
vnic_record(struct hv_jbuf *b, const struct hv_vnic *v)
{
    uint16_t hint = v->tag != 0 ? v->tag : v->tag_hint;
    size_t at = b->len;
    char buf[128];
    int first = 1;

    nvdp_uuid_fmt(&v->uuid, buf);
    hv_jbuf_printf(b, "{\"vnic\":\"%s\"", buf);
    nvdp_vn_fmt(&v->vn, buf, sizeof(buf));
    hv_jbuf_printf(b, ",\"vn\":\"%s\"", buf);
    if (v->vn_name[0] != '\0') {
        hv_jbuf_printf(b, ",\"vn_name\":");
        hv_jbuf_putstr(b, v->vn_name);
    }
    nvdp_mac_fmt(v->mac, buf);
    hv_jbuf_printf(b, ",\"mac\":\"%s\",\"ips\":[", buf);
    for (unsigned i = 0; i < v->naddr; i++) {
        if (v->addr[i].kind == NVDP_ADDR_MAC)
            continue;
        nvdp_addr_fmt_ip(&v->addr[i], buf, sizeof(buf));
        hv_jbuf_printf(b, "%s\"%s\"", first ? "" : ",", buf);
        first = 0;
    }
    hv_jbuf_printf(b, "],\"want\":\"%s\",\"reserve\":%s,\"up\":%s",
                   hv_want_str(v->want), v->reserve ? "true" : "false",
                   v->up ? "true" : "false");
    if (hv_intent_str(v->intent) != NULL)
        hv_jbuf_printf(b, ",\"intent\":\"%s\"", hv_intent_str(v->intent));
    if (v->ifname[0] != '\0') {
        hv_jbuf_printf(b, ",\"ifname\":");
        hv_jbuf_putstr(b, v->ifname);
    }
    if (hint != 0)
        hv_jbuf_printf(b, ",\"tag\":%u", hint);
    if (v->state == HV_VNIC_WITHDRAWN) {
        hv_jbuf_printf(b, ",\"withdrawn\":true");
        if (v->reason[0] != '\0') {
            hv_jbuf_printf(b, ",\"reason\":");
            hv_jbuf_putstr(b, v->reason);
        }
    }
    return (uint32_t)hv_jbuf_end(b, at);
}

void
hv_state_batch(struct hv_state *s, struct hv_jbuf *b)
{
    struct hv_vnic *v;
    char buf[NVDP_UUID_STRLEN];

    /* Removals first: a VNIC removed and added again in one commit ends
     * up present. */
    for (size_t i = 0; i < s->nremoved; i++) {
        size_t at = b->len;
        nvdp_uuid_fmt(&s->removed[i], buf);
        hv_jbuf_printf(b, "{\"vnic\":\"%s\",\"removed\":true", buf);
        hv_jbuf_end(b, at);
    }
    TAILQ_FOREACH(v, &s->unsaved, uentry)
        v->plen = vnic_record(b, v);
}

void
hv_state_dump(struct hv_state *s, struct hv_jbuf *b)
{
    struct hv_vnic *v;

    TAILQ_FOREACH(v, &s->all, entry)
        v->plen = vnic_record(b, v);
}

/* ---- a record as a VNIC ------------------------------------------------ */

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
want_parse(const char *s)
{
    for (unsigned w = HV_WANT_ATTACH; w <= HV_WANT_DETACH; w++)
        if (strcmp(s, hv_want_str(w)) == 0)
            return (int)w;
    return -1;
}

/* A record's fields, checked before anything is changed. */
struct rec {
    struct nvdp_uuid uuid;
    struct nvdp_vn vn;
    uint8_t mac[6];
    int want, reserve, up, withdrawn, removed;
    unsigned intent;
    int64_t tag;
    size_t naddr;
    struct nvdp_addr addrs[NVDP_MAX_ADDRS]; /* last: not cleared */
};

static int
bad(char *why, size_t whylen, const char *what)
{
    snprintf(why, whylen, "%s", what);
    return -1;
}

static int
rec_ips(struct json_object *o, struct rec *r, char *why, size_t whylen)
{
    struct json_object *ips, *x;

    r->naddr = 0;
    if (json_object_object_get_ex(o, "ips", &ips)) {
        if (!json_object_is_type(ips, json_type_array) ||
            json_object_array_length(ips) > NVDP_MAX_ADDRS)
            return bad(why, whylen, "bad \"ips\"");
        for (size_t i = 0; i < json_object_array_length(ips); i++) {
            x = json_object_array_get_idx(ips, i);
            if (!json_object_is_type(x, json_type_string) ||
                nvdp_addr_parse(r->mac, json_object_get_string(x),
                                &r->addrs[r->naddr]) < 0)
                return bad(why, whylen, "bad address in \"ips\"");
            r->naddr++;
        }
    }
    if (r->naddr == 0) {
        if (nvdp_addr_parse(r->mac, NULL, &r->addrs[0]) < 0)
            return bad(why, whylen, "bad \"mac\"");
        r->naddr = 1;
    }
    return 0;
}

static int
rec_parse(struct json_object *o, struct rec *r, char *why, size_t whylen)
{
    struct json_object *x;
    const char *str;

    memset(r, 0, offsetof(struct rec, addrs));
    if (!json_object_is_type(o, json_type_object))
        return bad(why, whylen, "not an object");
    if ((str = jget_str(o, "vnic")) == NULL ||
        nvdp_uuid_parse(str, &r->uuid) < 0)
        return bad(why, whylen, "bad or missing \"vnic\"");
    if ((r->removed = jget_bool(o, "removed", 0)) != 0)
        return r->removed < 0 ? bad(why, whylen, "bad \"removed\"") : 0;
    if ((str = jget_str(o, "vn")) == NULL || nvdp_vn_parse(str, &r->vn) < 0)
        return bad(why, whylen, "bad or missing \"vn\"");
    if ((str = jget_str(o, "mac")) == NULL || nvdp_mac_parse(str, r->mac) < 0)
        return bad(why, whylen, "bad or missing \"mac\"");
    if ((str = jget_str(o, "want")) == NULL ||
        (r->want = want_parse(str)) < 0)
        return bad(why, whylen, "bad or missing \"want\"");
    r->reserve = jget_bool(o, "reserve", 0);
    r->up = jget_bool(o, "up", 1);
    r->withdrawn = jget_bool(o, "withdrawn", 0);
    if (r->reserve < 0 || r->up < 0 || r->withdrawn < 0)
        return bad(why, whylen, "a boolean field is not boolean");
    if ((str = jget_str(o, "intent")) != NULL) {
        if (strcmp(str, "shutdown") == 0)
            r->intent = NVDP_INTENT_SHUTDOWN;
        else if (strcmp(str, "migration") == 0)
            r->intent = NVDP_INTENT_MIGRATION;
        else
            return bad(why, whylen, "bad \"intent\"");
    }
    if (json_object_object_get_ex(o, "tag", &x) &&
        (!json_object_is_type(x, json_type_int) ||
         (r->tag = json_object_get_int64(x)) < NVDP_TAG_MIN ||
         r->tag > NVDP_TAG_MAX))
        return bad(why, whylen, "bad \"tag\"");
    return rec_ips(o, r, why, whylen);
}

/* Applies one record: the VNIC as a restart finds it (a later record of
 * the same VNIC replaces an earlier one in place, keeping its position).
 * Returns the VNIC, or NULL for a removal or an error (why set). */
static struct hv_vnic *
rec_apply(struct hv_state *s, struct json_object *o, char *why,
          size_t whylen, int *err)
{
    struct hv_vnic *v;
    const char *str;
    struct rec r;

    *err = 0;
    if (rec_parse(o, &r, why, whylen) < 0) {
        *err = 1;
        return NULL;
    }
    v = hv_state_find(s, &r.uuid);
    if (r.removed) {
        if (v != NULL)
            hv_state_remove(s, v); /* the queued cancel is dropped at the end */
        return NULL;
    }
    if ((v == NULL && (v = hv_state_add(s, &r.uuid)) == NULL) ||
        hv_state_set_addrs(v, r.addrs, r.naddr) < 0) {
        *err = 1;
        bad(why, whylen, "out of memory");
        return NULL;
    }
    v->vn = r.vn;
    v->vn_name[0] = '\0';
    if ((str = jget_str(o, "vn_name")) != NULL)
        snprintf(v->vn_name, sizeof(v->vn_name), "%s", str);
    memcpy(v->mac, r.mac, 6);
    v->want = (uint8_t)r.want;
    v->reserve = (uint8_t)r.reserve;
    v->up = (uint8_t)r.up;
    v->intent = (uint8_t)r.intent;
    v->tag_hint = (uint16_t)r.tag;
    v->ifname[0] = '\0';
    if ((str = jget_str(o, "ifname")) != NULL)
        snprintf(v->ifname, sizeof(v->ifname), "%s", str);
    /* The NVE may still hold what we had: the resync replays it. */
    v->may_exist = 1;
    v->state = v->want == HV_WANT_DETACH ? HV_VNIC_DETACHING :
                                           HV_VNIC_PENDING;
    v->reason[0] = '\0';
    if (r.withdrawn) {
        v->state = HV_VNIC_WITHDRAWN;
        v->may_exist = 0;
        if ((str = jget_str(o, "reason")) != NULL)
            snprintf(v->reason, sizeof(v->reason), "%s", str);
    }
    return v;
}

/* ---- loading the journal ----------------------------------------------- */

struct load_ctx {
    struct hv_state *s;
    struct json_tokener *tok;
};

static struct json_object *
parse_len(struct json_tokener *tok, const char *p, size_t n)
{
    struct json_object *o;

    json_tokener_reset(tok);
    o = json_tokener_parse_ex(tok, p, (int)n);
    if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                      (size_t)json_tokener_get_parse_end(tok) != n)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

static int
journal_rec(void *arg, const char *line, size_t len, char *why, size_t whylen)
{
    struct load_ctx *c = arg;
    struct json_object *o = parse_len(c->tok, line, len);
    struct hv_vnic *v;
    int err;

    if (o == NULL)
        return bad(why, whylen, "not a JSON object");
    v = rec_apply(c->s, o, why, whylen, &err);
    json_object_put(o);
    if (v != NULL) {
        c->s->live_bytes += len + 1 - v->jlen;
        v->jlen = (uint32_t)(len + 1);
    }
    return err ? -1 : 0;
}

/* ---- loading version 1's single JSON document ---------------------------
 * {"version": 1, "vnics": [ {...}, ... ]}, one VNIC per line as written. A
 * document that does not parse is read line by line, so that one damaged
 * entry costs only that entry. */

static int
legacy_format(const char *p, size_t n)
{
    while (n > 0 && strchr(" \t\r\n", *p) != NULL && *p != '\0') {
        p++;
        n--;
    }
    return n >= 10 && memcmp(p, "{\"version\"", 10) == 0;
}

static void
legacy_entry(struct load_ctx *c, struct json_object *o, unsigned long where,
             struct hv_journal_scan *r)
{
    char why[128], msg[160];
    int err;

    rec_apply(c->s, o, why, sizeof(why), &err);
    if (!err) {
        r->records++;
        return;
    }
    r->damaged++;
    if (r->first_bad_line == 0) {
        r->first_bad_line = where;
        snprintf(msg, sizeof(msg), "entry: %s", why);
        snprintf(r->first_bad, sizeof(r->first_bad), "%s", msg);
    }
}

static void
legacy_note(struct hv_journal_scan *r, unsigned long line, const char *why)
{
    r->damaged++;
    if (r->first_bad_line == 0) {
        r->first_bad_line = line;
        snprintf(r->first_bad, sizeof(r->first_bad), "%s", why);
    }
}

/* 0 if the whole document parsed (entries loaded one by one), -1 if not. */
static int
legacy_whole(struct load_ctx *c, const char *p, size_t n,
             struct hv_journal_scan *r)
{
    struct json_object *root, *arr, *ver;

    if (memchr(p, '\0', n) != NULL)
        return -1;
    json_tokener_reset(c->tok);
    root = json_tokener_parse_ex(c->tok, p, (int)n);
    if (root == NULL || json_tokener_get_error(c->tok) != json_tokener_success)
        goto fail;
    for (size_t i = (size_t)json_tokener_get_parse_end(c->tok); i < n; i++)
        if (strchr(" \t\r\n", p[i]) == NULL)
            goto fail;
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "version", &ver) ||
        json_object_get_int(ver) != 1 ||
        !json_object_object_get_ex(root, "vnics", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        legacy_note(r, 1, "not a version 1 state file");
    } else {
        for (size_t i = 0; i < json_object_array_length(arr); i++)
            legacy_entry(c, json_object_array_get_idx(arr, i),
                         (unsigned long)i + 1, r);
    }
    json_object_put(root);
    return 0;
fail:
    if (root != NULL)
        json_object_put(root);
    return -1;
}

static void
legacy_lines(struct load_ctx *c, const char *p, size_t n,
             struct hv_journal_scan *r)
{
    unsigned long ln = 0;
    int ended = 0;

    for (size_t off = 0; off < n;) {
        const char *l = p + off, *nl = memchr(l, '\n', n - off);
        size_t len = nl != NULL ? (size_t)(nl - l) : n - off;
        struct json_object *o;

        off += len + 1;
        ln++;
        while (len > 0 && strchr(" \t\r", *l) != NULL && *l != '\0') {
            l++;
            len--;
        }
        while (len > 0 && strchr(" \t\r,", l[len - 1]) != NULL &&
               l[len - 1] != '\0')
            len--;
        if (len == 0)
            continue;
        if (ln == 1 && len >= 10 && memcmp(l, "{\"version\"", 10) == 0)
            continue; /* {"version": 1, "vnics": [ */
        if (len == 2 && memcmp(l, "]}", 2) == 0) {
            ended = 1;
            continue;
        }
        if ((o = parse_len(c->tok, l, len)) == NULL) {
            legacy_note(r, ln, "not a JSON object");
            continue;
        }
        legacy_entry(c, o, ln, r);
        json_object_put(o);
    }
    if (!ended)
        legacy_note(r, ln, "truncated: no end of the \"vnics\" array");
    if (r->damaged == 0) /* it did not parse: something is wrong */
        legacy_note(r, 1, "invalid JSON");
}

/* ---- the file ----------------------------------------------------------- */

int
hv_state_load_buf(struct hv_state *s, const char *p, size_t len,
                  struct hv_state_load *r)
{
    struct load_ctx c = {s, json_tokener_new()};

    memset(r, 0, sizeof(*r));
    r->scan.next_seq = 1;
    if (c.tok == NULL)
        return -1;
    if (legacy_format(p, len)) {
        r->legacy = 1;
        if (legacy_whole(&c, p, len, &r->scan) < 0)
            legacy_lines(&c, p, len, &r->scan);
    } else
        hv_journal_scan(p, len, journal_rec, &c, &r->scan);
    json_tokener_free(c.tok);
    s->nremoved = 0; /* removals read back are no changes to commit */
    return 0;
}

int
hv_state_load(struct hv_state *s, const char *path, struct hv_state_load *r,
              char *err, size_t errlen)
{
    struct stat st;
    const char *p;
    int fd, rc;

    memset(r, 0, sizeof(*r));
    r->scan.next_seq = 1;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
        if (errno == ENOENT) {
            r->missing = 1;
            return 0;
        }
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if ((rc = hv_state_load_buf(s, p, (size_t)st.st_size, r)) < 0)
        snprintf(err, errlen, "%s: out of memory", path);
    munmap((void *)p, (size_t)st.st_size);
    return rc;
}
