/* nvdpctl.h - the CLI's command table, argument parsing and formatting,
 * kept apart from main() (socket I/O) so they are unit-tested. */
#ifndef NVDPCTL_H
#define NVDPCTL_H

#include <json-c/json.h>
#include <stdio.h>

#include "paths.h"

/* Exit codes scripts rely on (documented in nvdpctl(8)). */
enum nvdpctl_exit {
    NVDPCTL_EX_OK = 0,
    NVDPCTL_EX_FAILED = 1,
    NVDPCTL_EX_USAGE = 2,
    NVDPCTL_EX_UNREACHABLE = 3,
    NVDPCTL_EX_TIMEOUT = 4,
    NVDPCTL_EX_REFUSED = 5,
};

enum nvdpctl_daemon {
    NVDPCTL_D_HV = 1,
    NVDPCTL_D_NVE = 2,
    NVDPCTL_D_EITHER = 3, /* status, peers: whichever socket is there */
};

enum nvdpctl_optkind {
    NVDPCTL_O_FLAG,   /* --migrating */
    NVDPCTL_O_ARG,    /* --vn VN or --vn=VN */
    NVDPCTL_O_OPTARG, /* --wait or --wait=S (never a separate word) */
    NVDPCTL_O_MULTI,  /* --ip IP, repeatable */
};

/* How a value is checked and put into the request's args. */
enum nvdpctl_type {
    NVDPCTL_T_STR,    /* non-empty string */
    NVDPCTL_T_UUID,   /* VNIC UUID, sent canonical (lower case) */
    NVDPCTL_T_MAC,    /* sent as aa:bb:cc:dd:ee:ff */
    NVDPCTL_T_IP,     /* host, prefix or range; sent as given */
    NVDPCTL_T_VN,     /* vni:N, uuid:U, N, U, or a configured name */
    NVDPCTL_T_BOOL,   /* a flag: true when given, false otherwise */
    NVDPCTL_T_WAIT,   /* --wait[=S]: wait_ms, 0 when absent */
    NVDPCTL_T_COUNT,  /* positive integer */
    NVDPCTL_T_UPDOWN, /* "up" / "down": sent as bool */
};

/* An option (name without "--") or a positional argument (name is the
 * placeholder shown in help, kind unused). */
struct nvdpctl_opt {
    const char *name;
    enum nvdpctl_optkind kind;
    enum nvdpctl_type type;
    const char *key; /* JSON key in args; NULL: CLI-side only */
    int required;
};

#define NVDPCTL_MAXOPT 8
#define NVDPCTL_MAXPOS 4
#define NVDPCTL_MAXMULTI 64

/* The words after the verb, split by a command's option spec. */
struct nvdpctl_parsed {
    const char *pos[NVDPCTL_MAXPOS];
    int npos;
    int seen[NVDPCTL_MAXOPT];        /* by index in the spec */
    const char *val[NVDPCTL_MAXOPT]; /* NULL for flags / bare --wait */
    const char *multi[NVDPCTL_MAXMULTI];
    int nmulti;
};

/* What the CLI does with the request beyond sending it. */
struct nvdpctl_call {
    int wait_ms;     /* the daemon may hold the answer this long */
    int stream;      /* watch: keep reading events */
    long count;      /* watch --count: stop after that many (0 = none) */
};

struct nvdpctl_cmd;
/* Fills args from the parsed words (validating them); 0 or -1 + err. */
typedef int (*nvdpctl_build_fn)(const struct nvdpctl_cmd *cmd,
                                const struct nvdpctl_parsed *p,
                                struct json_object *args,
                                struct nvdpctl_call *call, char *err,
                                size_t errlen);
typedef void (*nvdpctl_fmt_fn)(FILE *out, struct json_object *result);

/* One row per verb. */
struct nvdpctl_cmd {
    const char *words;  /* "vnic attach" */
    enum nvdpctl_daemon daemon;
    const char *ctl;    /* control command name: "vnic-attach" */
    const struct nvdpctl_opt *pos;  /* positionals, NULL-name terminated */
    const struct nvdpctl_opt *opts; /* NULL-name terminated, may be NULL */
    nvdpctl_build_fn build;
    nvdpctl_fmt_fn fmt;
    const char *usage;  /* arguments, for help */
    const char *help;   /* one line */
};

extern const struct nvdpctl_cmd nvdpctl_cmds[]; /* ends with {NULL} */

/* Finds the row whose words are a prefix of argv; *nwords = how many
 * words matched. NULL if none. */
const struct nvdpctl_cmd *nvdpctl_lookup(int argc, char **argv, int *nwords);
/* Splits argv by cmd's option spec, checks counts. 0 or -1 + err. */
int nvdpctl_parse(const struct nvdpctl_cmd *cmd, int argc, char **argv,
                  struct nvdpctl_parsed *p, char *err, size_t errlen);
int nvdpctl_build_generic(const struct nvdpctl_cmd *cmd,
                          const struct nvdpctl_parsed *p,
                          struct json_object *args, struct nvdpctl_call *call,
                          char *err, size_t errlen);
/* Parse + build: a fresh request {"cmd":..., "args":{...}} or NULL + err. */
struct json_object *nvdpctl_request(const struct nvdpctl_cmd *cmd, int argc,
                                    char **argv, struct nvdpctl_call *call,
                                    char *err, size_t errlen);
/* --wait / --wait=S: seconds (may be fractional) to ms; -1 if invalid. */
int nvdpctl_parse_seconds(const char *s, int *ms);
#define NVDPCTL_WAIT_DEFAULT_MS 10000

/* Maps a control-socket error code to an exit code. */
int nvdpctl_exit_for_code(int code);

void nvdpctl_cmd_usage(FILE *out, const struct nvdpctl_cmd *cmd);
void nvdpctl_usage(FILE *out);

/* Text output. */
void nvdpctl_fmt_generic(FILE *out, struct json_object *result);
void nvdpctl_fmt_vnic(FILE *out, struct json_object *result);
void nvdpctl_fmt_event(FILE *out, struct json_object *ev);
/* Objects of counters: the non-zero ones only, with a note of how many
 * were left out. */
void nvdpctl_fmt_counters(FILE *out, struct json_object *result);
/* An aligned table of an array of objects: columns first in the order
 * given (NULL-terminated, may be NULL), then other keys as first seen. */
void nvdpctl_fmt_table(FILE *out, struct json_object *arr,
                       const char *const *cols, const char *indent);

/* Adds to the result of a control command what its daemon does not know,
 * before it is shown; nothing for most commands. */
void nvdpctl_post(const char *ctl, struct json_object *result);
/* evpn (nvdpctl_evpn.c): MAC Mobility sequence numbers from FRR's vtysh
 * (or "seq_error"), and the text view. */
void nvdpctl_evpn_post(struct json_object *result);
void nvdpctl_fmt_evpn(FILE *out, struct json_object *result);

#endif
