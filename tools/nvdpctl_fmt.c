/* nvdpctl_fmt.c - text output of nvdpctl: aligned tables for lists and
 * "key: value" lines for objects, whatever JSON a daemon answers with. */
#include <stdlib.h>
#include <string.h>

#include "nvdp.h"
#include "nvdpctl.h"

#define FMT_MAXCOLS 32
#define FMT_CELL 256

static const char *const vnic_cols[] = {"vnic", "vn", "mac", "ips", "state",
                                        "tag", "status", "reason", "intent",
                                        NULL};

/* Strings come from peers too (an NVE's REASON, a HELLO's NAME): control
 * characters become '?', so they neither drive the terminal nor split a
 * line of output. */
static void
text(const char *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s", s);
    nvdp_text_sanitise(buf);
}

/* A scalar (or small nested value) as one table cell / value. */
static void
cell(struct json_object *v, char *buf, size_t len)
{
    size_t i, n, off;

    switch (json_object_get_type(v)) {
    case json_type_null:
        snprintf(buf, len, "-");
        break;
    case json_type_string:
        text(json_object_get_string(v), buf, len);
        break;
    case json_type_boolean:
        snprintf(buf, len, "%s", json_object_get_boolean(v) ? "yes" : "no");
        break;
    case json_type_array:
        n = json_object_array_length(v);
        if (n == 0) {
            snprintf(buf, len, "-");
            break;
        }
        buf[0] = '\0';
        for (i = 0, off = 0; i < n && off < len; i++) {
            char one[FMT_CELL];
            cell(json_object_array_get_idx(v, i), one, sizeof(one));
            off += snprintf(buf + off, len - off, "%s%s", i ? "," : "", one);
        }
        break;
    default:
        snprintf(buf, len, "%s",
                 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        break;
    }
}

static int
is_array_of_objects(struct json_object *v)
{
    size_t i, n;

    if (!json_object_is_type(v, json_type_array))
        return 0;
    n = json_object_array_length(v);
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(v, i),
                                 json_type_object))
            return 0;
    return 1;
}

static int
col_index(const char **cols, int ncols, const char *k)
{
    int i;

    for (i = 0; i < ncols; i++)
        if (strcmp(cols[i], k) == 0)
            return i;
    return -1;
}

static void
upcase(const char *s, char *out, size_t len)
{
    size_t i;

    for (i = 0; s[i] && i + 1 < len; i++)
        out[i] = (s[i] >= 'a' && s[i] <= 'z') ? s[i] - 32
                 : s[i] == '_'                ? ' '
                                              : s[i];
    out[i] = '\0';
}

/* The last column is not padded, so lines carry no trailing blanks. */
static void
put_cell(FILE *out, const char *s, size_t width, int last)
{
    if (last)
        fprintf(out, "%s\n", s);
    else
        fprintf(out, "%-*s  ", (int)width, s);
}

void
nvdpctl_fmt_table(FILE *out, struct json_object *arr,
                  const char *const *pref, const char *indent)
{
    const char *cols[FMT_MAXCOLS];
    size_t width[FMT_MAXCOLS];
    int ncols = 0, c;
    size_t i, n = json_object_array_length(arr);
    char buf[FMT_CELL];

    /* Preferred columns that appear in some row, then the rest. */
    for (c = 0; pref && pref[c] && ncols < FMT_MAXCOLS; c++)
        for (i = 0; i < n; i++)
            if (json_object_object_get_ex(json_object_array_get_idx(arr, i),
                                          pref[c], NULL)) {
                cols[ncols++] = pref[c];
                break;
            }
    for (i = 0; i < n; i++) {
        json_object_object_foreach(json_object_array_get_idx(arr, i), k, v) {
            (void)v;
            if (ncols < FMT_MAXCOLS && col_index(cols, ncols, k) < 0)
                cols[ncols++] = k;
        }
    }
    for (c = 0; c < ncols; c++)
        width[c] = strlen(cols[c]);
    for (i = 0; i < n; i++)
        for (c = 0; c < ncols; c++) {
            struct json_object *v = NULL;
            if (!json_object_object_get_ex(json_object_array_get_idx(arr, i),
                                           cols[c], &v))
                continue;
            cell(v, buf, sizeof(buf));
            if (strlen(buf) > width[c])
                width[c] = strlen(buf);
        }
    fputs(indent, out);
    for (c = 0; c < ncols; c++) {
        upcase(cols[c], buf, sizeof(buf));
        put_cell(out, buf, width[c], c + 1 == ncols);
    }
    for (i = 0; i < n; i++) {
        fputs(indent, out);
        for (c = 0; c < ncols; c++) {
            struct json_object *v = NULL;
            if (json_object_object_get_ex(json_object_array_get_idx(arr, i),
                                          cols[c], &v))
                cell(v, buf, sizeof(buf));
            else
                snprintf(buf, sizeof(buf), "-");
            put_cell(out, buf, width[c], c + 1 == ncols);
        }
    }
}

/* key: value lines, nested objects flattened as a.b, lists of objects as
 * indented tables after the scalars. */
struct kv {
    char key[128];
    struct json_object *v;
};

static void
collect(struct json_object *o, const char *prefix, struct kv *kv, size_t *nkv,
        size_t max, struct kv *tables, size_t *ntables,
        const char *const *order)
{
    size_t i;
    char key[128];

    /* Keys named in order first, so a VNIC always reads the same way. */
    for (i = 0; order && order[i]; i++) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, order[i], &v) || *nkv >= max || !v ||
            is_array_of_objects(v) || json_object_is_type(v, json_type_object))
            continue;
        snprintf(kv[*nkv].key, sizeof(kv[*nkv].key), "%s%s", prefix, order[i]);
        kv[(*nkv)++].v = v;
    }
    json_object_object_foreach(o, k, v) {
        int ordered = 0;
        for (i = 0; order && order[i]; i++)
            if (strcmp(order[i], k) == 0)
                ordered = !is_array_of_objects(v) &&
                          !json_object_is_type(v, json_type_object);
        /* An absent value (null) is not worth a line for people. */
        if (ordered || !v)
            continue;
        snprintf(key, sizeof(key), "%s%s", prefix, k);
        if (json_object_is_type(v, json_type_object)) {
            char sub[130];
            snprintf(sub, sizeof(sub), "%s.", key);
            collect(v, sub, kv, nkv, max, tables, ntables, NULL);
        } else if (is_array_of_objects(v)) {
            if (*ntables < max) {
                snprintf(tables[*ntables].key, sizeof(tables[0].key), "%s", key);
                tables[(*ntables)++].v = v;
            }
        } else if (*nkv < max) {
            snprintf(kv[*nkv].key, sizeof(kv[*nkv].key), "%s", key);
            kv[(*nkv)++].v = v;
        }
    }
}

static int
is_zero(struct json_object *v)
{
    return (json_object_is_type(v, json_type_int) &&
            json_object_get_int64(v) == 0) ||
           (json_object_is_type(v, json_type_double) &&
            json_object_get_double(v) == 0.0);
}

static void
fmt_object_ext(FILE *out, struct json_object *o, const char *const *order,
               int skip_zero);

static void
fmt_object(FILE *out, struct json_object *o, const char *const *order)
{
    fmt_object_ext(out, o, order, 0);
}

/* Counters are mostly zero: people want the ones that moved. */
void
nvdpctl_fmt_counters(FILE *out, struct json_object *result)
{
    if (json_object_is_type(result, json_type_object))
        fmt_object_ext(out, result, NULL, 1);
    else
        nvdpctl_fmt_generic(out, result);
}

/* Zero counters are left out of `counters`, and of any "counters" object
 * a status embeds. */
static int
hidden(const struct kv *kv, int skip_zero)
{
    return is_zero(kv->v) &&
           (skip_zero || strncmp(kv->key, "counters.", 9) == 0 ||
            strstr(kv->key, ".counters.") != NULL);
}

static void
fmt_object_ext(FILE *out, struct json_object *o, const char *const *order,
               int skip_zero)
{
    enum { MAXKV = 512 };
    struct kv *kv = calloc(MAXKV, sizeof(*kv));
    struct kv *tables = calloc(MAXKV, sizeof(*tables));
    size_t nkv = 0, ntables = 0, i, w = 0, zeros = 0;
    char buf[FMT_CELL];

    if (!kv || !tables) {
        free(kv);
        free(tables);
        return;
    }
    collect(o, "", kv, &nkv, MAXKV, tables, &ntables, order);
    for (i = 0; i < nkv; i++)
        if (strlen(kv[i].key) > w && !hidden(&kv[i], skip_zero))
            w = strlen(kv[i].key);
    for (i = 0; i < nkv; i++) {
        if (hidden(&kv[i], skip_zero)) {
            zeros++;
            continue;
        }
        cell(kv[i].v, buf, sizeof(buf));
        fprintf(out, "%s:%*s %s\n", kv[i].key, (int)(w - strlen(kv[i].key)),
                "", buf);
    }
    if (zeros)
        fprintf(out, "(%zu counter%s at zero not shown; -f json shows all)\n",
                zeros, zeros == 1 ? "" : "s");
    for (i = 0; i < ntables; i++) {
        fprintf(out, "%s%s:\n", nkv || i ? "\n" : "", tables[i].key);
        nvdpctl_fmt_table(out, tables[i].v,
                          strstr(tables[i].key, "vnic") ? vnic_cols : NULL,
                          "  ");
    }
    free(kv);
    free(tables);
}

static void
fmt_any(FILE *out, struct json_object *r, const char *const *order)
{
    char buf[FMT_CELL];
    size_t i, n;

    if (!r)
        return;
    switch (json_object_get_type(r)) {
    case json_type_object:
        fmt_object(out, r, order);
        break;
    case json_type_array:
        n = json_object_array_length(r);
        if (n == 0)
            fprintf(out, "(none)\n");
        else if (is_array_of_objects(r))
            nvdpctl_fmt_table(out, r, order, "");
        else
            for (i = 0; i < n; i++) {
                cell(json_object_array_get_idx(r, i), buf, sizeof(buf));
                fprintf(out, "%s\n", buf);
            }
        break;
    default:
        cell(r, buf, sizeof(buf));
        fprintf(out, "%s\n", buf);
        break;
    }
}

void
nvdpctl_fmt_generic(FILE *out, struct json_object *result)
{
    static const char *const order[] = {"name", "port", "vn", "vni", "tag",
                                        "vnic", "mac", "state", NULL};
    fmt_any(out, result, order);
}

void
nvdpctl_fmt_vnic(FILE *out, struct json_object *result)
{
    fmt_any(out, result, vnic_cols);
}

/* key=value, the value quoted when it has blanks (a reason), so a line
 * still splits into fields. */
static void
put_kv(FILE *out, const char *k, const char *v)
{
    if (strpbrk(v, " \t\"") == NULL)
        fprintf(out, " %s=%s", k, v);
    else
        fprintf(out, " %s=\"%s\"", k, v);
}

/* One line per pushed event, so `watch` output can be followed by eye
 * and by grep: "vnic <uuid> state=attached tag=5 ...". */
void
nvdpctl_fmt_event(FILE *out, struct json_object *ev)
{
    struct json_object *v;
    char buf[FMT_CELL];
    size_t i;

    if (!json_object_is_type(ev, json_type_object)) {
        fmt_any(out, ev, NULL);
        return;
    }
    text(json_object_object_get_ex(ev, "event", &v) ? json_object_get_string(v)
                                                    : "event",
         buf, sizeof(buf));
    fprintf(out, "%s", buf);
    if (json_object_object_get_ex(ev, "vnic", &v)) {
        cell(v, buf, sizeof(buf));
        fprintf(out, " %s", buf);
    }
    for (i = 0; vnic_cols[i]; i++) {
        if (strcmp(vnic_cols[i], "vnic") == 0 ||
            !json_object_object_get_ex(ev, vnic_cols[i], &v) ||
            json_object_is_type(v, json_type_null))
            continue;
        cell(v, buf, sizeof(buf));
        put_kv(out, vnic_cols[i], buf);
    }
    json_object_object_foreach(ev, k, val) {
        int known = strcmp(k, "event") == 0;
        for (i = 0; vnic_cols[i]; i++)
            known |= strcmp(k, vnic_cols[i]) == 0;
        if (known || json_object_is_type(val, json_type_null))
            continue;
        cell(val, buf, sizeof(buf));
        put_kv(out, k, buf);
    }
    fputc('\n', out);
}
