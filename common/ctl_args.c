/* ctl_args.c - table-driven checking of control-command arguments (ctl.h's
 * "args" object) into a command's struct; pure, no socket. */
#include <stdio.h>
#include <string.h>

#include "ctl_args.h"
#include "nvdp.h"

static const struct ctl_arg *
row_of(const struct ctl_arg *tab, const char *key)
{
    for (; tab->name != NULL; tab++)
        if (strcmp(tab->name, key) == 0)
            return tab;
    return NULL;
}

/* "unknown argument "x" (known: a, b)": the caller sees what was meant. */
static int
unknown(const struct ctl_arg *tab, const char *key, char *err, size_t errlen)
{
    char known[256] = "";
    size_t n = 0;

    for (const struct ctl_arg *a = tab; a->name != NULL; a++) {
        int w = snprintf(known + n, sizeof(known) - n, "%s%s",
                         n > 0 ? ", " : "", a->name);
        if (w < 0 || (size_t)w >= sizeof(known) - n) {
            known[n] = '\0'; /* whole names only */
            break;
        }
        n += (size_t)w;
    }
    if (n == 0)
        snprintf(err, errlen, "unknown argument \"%.64s\" (takes none)", key);
    else
        snprintf(err, errlen, "unknown argument \"%.64s\" (known: %s)", key,
                 known);
    return -1;
}

/* What a row's value must be, for its error. */
static const char *
type_what(const struct ctl_arg *a, char *buf, size_t len)
{
    switch (a->type) {
    case CTL_ARG_STR:
        return "a string";
    case CTL_ARG_BOOL:
        return "true or false";
    case CTL_ARG_INT:
        snprintf(buf, len, "an integer from %lld to %lld",
                 (long long)a->min, (long long)a->max);
        return buf;
    case CTL_ARG_STRS:
        snprintf(buf, len, "an array of at most %lld strings",
                 (long long)a->max);
        return buf;
    case CTL_ARG_UUID:
        return "a UUID";
    case CTL_ARG_MAC:
        return "a MAC address";
    }
    return "?";
}

static int
bad(const struct ctl_arg *a, const char *what, struct json_object *v,
    char *err, size_t errlen)
{
    if (json_object_is_type(v, json_type_string))
        snprintf(err, errlen, "argument \"%s\" must be %s, not \"%.64s\"",
                 a->name, what, json_object_get_string(v));
    else
        snprintf(err, errlen, "argument \"%s\" must be %s", a->name, what);
    return -1;
}

static int
strs_ok(const struct ctl_arg *a, struct json_object *v)
{
    size_t n;

    if (!json_object_is_type(v, json_type_array))
        return 0;
    n = json_object_array_length(v);
    if ((int64_t)n > a->max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(v, i),
                                 json_type_string))
            return 0;
    return 1;
}

/* Copies v into field as a's type says; 0 / -1 (wrong type or value). */
static int
fill(const struct ctl_arg *a, struct json_object *v, void *field)
{
    int64_t i;

    switch (a->type) {
    case CTL_ARG_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return -1;
        *(int *)field = json_object_get_boolean(v) ? 1 : 0;
        return 0;
    case CTL_ARG_INT:
        if (!json_object_is_type(v, json_type_int))
            return -1;
        i = json_object_get_int64(v);
        if (i < a->min || i > a->max)
            return -1;
        *(int64_t *)field = i;
        return 0;
    case CTL_ARG_STRS:
        if (!strs_ok(a, v))
            return -1;
        *(struct json_object **)field = v;
        return 0;
    }
    /* the rest are strings, as they are or parsed */
    if (!json_object_is_type(v, json_type_string))
        return -1;
    switch (a->type) {
    case CTL_ARG_STR:
        *(const char **)field = json_object_get_string(v);
        return 0;
    case CTL_ARG_UUID:
        return nvdp_uuid_parse(json_object_get_string(v), field);
    case CTL_ARG_MAC:
        return nvdp_mac_parse(json_object_get_string(v), field);
    }
    return -1;
}

int
ctl_args_parse(const struct ctl_arg *tab, struct json_object *args,
               void *out, char *err, size_t errlen)
{
    char buf[64];

    if (args != NULL && !json_object_is_type(args, json_type_object)) {
        snprintf(err, errlen, "args must be an object");
        return -1;
    }
    if (args != NULL) {
        json_object_object_foreach(args, key, val) {
            (void)val;
            if (row_of(tab, key) == NULL)
                return unknown(tab, key, err, errlen);
        }
    }
    for (const struct ctl_arg *a = tab; a->name != NULL; a++) {
        struct json_object *v = NULL;
        void *field = (char *)out + a->off;
        const char *what;

        if (args == NULL || !json_object_object_get_ex(args, a->name, &v) ||
            json_object_is_type(v, json_type_null)) {
            if (a->required) {
                snprintf(err, errlen, "missing argument \"%s\"", a->name);
                return -1;
            }
            continue;
        }
        if (fill(a, v, field) < 0)
            return bad(a, type_what(a, buf, sizeof(buf)), v, err, errlen);
        if (a->valid != NULL && (what = a->valid(field)) != NULL)
            return bad(a, what, v, err, errlen);
    }
    return 0;
}
