/* ctl_args.h - a control command's arguments, checked against one table per
 * command and copied into the command's struct, the same way in both
 * daemons: an unknown key, a missing required one, a value of the wrong
 * JSON type or one its row refuses is an error naming the argument. */
#ifndef CTL_ARGS_H
#define CTL_ARGS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

enum ctl_arg_type {
    CTL_ARG_STR = 1, /* const char * (valid while the request lives) */
    CTL_ARG_BOOL,    /* int, 0 or 1 */
    CTL_ARG_INT,     /* int64_t within [min, max] */
    CTL_ARG_STRS,    /* struct json_object *: an array of at most max
                      * strings (borrowed from the request) */
    CTL_ARG_UUID,    /* struct nvdp_uuid */
    CTL_ARG_MAC,     /* uint8_t[6] */
};

/* One argument. An absent argument (or JSON null) leaves its field as the
 * caller set it: the caller fills the defaults before parsing. valid, if
 * set, is given the field once filled; it returns NULL, or what the value
 * must be ("at most 255 bytes long") for the error. */
struct ctl_arg {
    const char *name;
    uint8_t type;     /* enum ctl_arg_type */
    uint8_t required;
    size_t off;       /* of the field in the caller's struct */
    int64_t min, max; /* CTL_ARG_INT: range; CTL_ARG_STRS: max elements */
    const char *(*valid)(const void *field);
};
/* A row for st's field; CTL_ARG_RANGE with min, max and valid too
 * (initialisers, which clang-format would lay out as blocks). */
/* clang-format off */
#define CTL_ARGS_END {NULL, 0, 0, 0, 0, 0, NULL}
#define CTL_ARG(st, field, name, type, req) \
    {name, type, req, offsetof(st, field), 0, 0, NULL}
#define CTL_ARG_RANGE(st, field, name, type, req, min, max, valid) \
    {name, type, req, offsetof(st, field), min, max, valid}
/* clang-format on */

/* Checks args (an object, or NULL for none) against tab (ended by
 * CTL_ARGS_END) and fills out. 0, or -1 with err ("unknown argument
 * \"wait\" (known: vnic, vn, ...)", "missing argument \"vnic\"", "argument
 * \"vnic\" must be a UUID, not \"x\"", ...): a usage error (CTL_E_USAGE). */
int ctl_args_parse(const struct ctl_arg *tab, struct json_object *args,
                   void *out, char *err, size_t errlen);

#endif
