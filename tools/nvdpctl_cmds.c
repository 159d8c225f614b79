/* nvdpctl_cmds.c - the verb table of nvdpctl and the parsing of a verb's
 * words into a control request; adding a command is one row here. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nvdp.h"
#include "nvdpctl.h"

#define OPT_END {NULL, 0, 0, NULL, 0}

static const struct nvdpctl_opt pos_uuid[] = {
    {"UUID", 0, NVDPCTL_T_UUID, "vnic", 1},
    OPT_END,
};
static const struct nvdpctl_opt pos_state[] = {
    {"UUID", 0, NVDPCTL_T_UUID, "vnic", 1},
    {"up|down", 0, NVDPCTL_T_UPDOWN, "up", 1},
    OPT_END,
};

static const struct nvdpctl_opt opts_attach[] = {
    {"vn", NVDPCTL_O_ARG, NVDPCTL_T_VN, "vn", 1},
    {"mac", NVDPCTL_O_ARG, NVDPCTL_T_MAC, "mac", 1},
    {"ip", NVDPCTL_O_MULTI, NVDPCTL_T_IP, "ips", 0},
    {"ifname", NVDPCTL_O_ARG, NVDPCTL_T_STR, "ifname", 0},
    {"wait", NVDPCTL_O_OPTARG, NVDPCTL_T_WAIT, "wait_ms", 0},
    OPT_END,
};
static const struct nvdpctl_opt opts_detach[] = {
    {"migrating", NVDPCTL_O_FLAG, NVDPCTL_T_BOOL, "migrating", 0},
    {"wait", NVDPCTL_O_OPTARG, NVDPCTL_T_WAIT, "wait_ms", 0},
    OPT_END,
};
static const struct nvdpctl_opt opts_preassoc[] = {
    {"vn", NVDPCTL_O_ARG, NVDPCTL_T_VN, "vn", 1},
    {"mac", NVDPCTL_O_ARG, NVDPCTL_T_MAC, "mac", 1},
    {"ip", NVDPCTL_O_MULTI, NVDPCTL_T_IP, "ips", 0},
    {"reserve", NVDPCTL_O_FLAG, NVDPCTL_T_BOOL, "reserve", 0},
    {"wait", NVDPCTL_O_OPTARG, NVDPCTL_T_WAIT, "wait_ms", 0},
    OPT_END,
};
static const struct nvdpctl_opt opts_wait[] = {
    {"wait", NVDPCTL_O_OPTARG, NVDPCTL_T_WAIT, "wait_ms", 0},
    OPT_END,
};
static const struct nvdpctl_opt opts_watch[] = {
    {"count", NVDPCTL_O_ARG, NVDPCTL_T_COUNT, NULL, 0},
    OPT_END,
};
static const struct nvdpctl_opt opts_tags[] = {
    {"port", NVDPCTL_O_ARG, NVDPCTL_T_STR, "port", 0},
    OPT_END,
};
static const struct nvdpctl_opt opts_vnics[] = {
    {"port", NVDPCTL_O_ARG, NVDPCTL_T_STR, "port", 0},
    {"vn", NVDPCTL_O_ARG, NVDPCTL_T_VN, "vn", 0},
    OPT_END,
};
static const struct nvdpctl_opt opts_disconnect[] = {
    {"port", NVDPCTL_O_ARG, NVDPCTL_T_STR, "port", 1},
    {"vn", NVDPCTL_O_ARG, NVDPCTL_T_VN, "vn", 1},
    {"vnic", NVDPCTL_O_ARG, NVDPCTL_T_UUID, "vnic", 0},
    {"hv", NVDPCTL_O_ARG, NVDPCTL_T_MAC, "hv", 0},
    {"reason", NVDPCTL_O_ARG, NVDPCTL_T_STR, "reason", 0},
    OPT_END,
};

#define HV NVDPCTL_D_HV
#define NVE NVDPCTL_D_NVE
#define ANY NVDPCTL_D_EITHER
#define GEN nvdpctl_build_generic

const struct nvdpctl_cmd nvdpctl_cmds[] = {
    /* hv-agent */
    {"vnic attach", HV, "vnic-attach", pos_uuid, opts_attach, GEN,
     nvdpctl_fmt_vnic,
     "UUID --vn VN --mac MAC [--ip IP]... [--ifname IF] [--wait[=SECONDS]]",
     "associate a VNIC with a VN (connects the VN, gets its tag)"},
    {"vnic detach", HV, "vnic-detach", pos_uuid, opts_detach, GEN,
     nvdpctl_fmt_vnic, "UUID [--migrating] [--wait[=SECONDS]]",
     "disassociate a VNIC (intent shutdown, or migration)"},
    {"vnic preassociate", HV, "vnic-preassociate", pos_uuid, opts_preassoc,
     GEN, nvdpctl_fmt_vnic,
     "UUID --vn VN --mac MAC [--ip IP]... [--reserve] [--wait[=SECONDS]]",
     "pre-associate a VNIC (migration destination); --reserve gets the tag"},
    {"vnic state", HV, "vnic-state", pos_state, opts_wait, GEN,
     nvdpctl_fmt_vnic, "UUID up|down [--wait[=SECONDS]]",
     "VNIC startup/shutdown without disassociation"},
    {"vnic list", HV, "vnic-list", NULL, NULL, GEN, nvdpctl_fmt_vnic, "",
     "the hypervisor's VNICs and their state"},
    {"watch", HV, "watch", NULL, opts_watch, GEN, nvdpctl_fmt_event,
     "[--count N]", "print VNIC events as they happen"},
    /* nve-agent */
    {"ports", NVE, "ports", NULL, NULL, GEN, nvdpctl_fmt_generic, "",
     "access ports"},
    {"vns", NVE, "vns", NULL, NULL, GEN, nvdpctl_fmt_generic, "",
     "configured virtual networks"},
    {"tags", NVE, "tags", NULL, opts_tags, GEN, nvdpctl_fmt_generic,
     "[--port PORT]", "tags handed out per (port, VN)"},
    {"vnics", NVE, "vnics", NULL, opts_vnics, GEN, nvdpctl_fmt_generic,
     "[--port PORT] [--vn VN]", "VNICs known to the NVE (containment tree)"},
    {"fwd", NVE, "fwd", NULL, NULL, GEN, nvdpctl_fmt_generic, "",
     "forwarder tables"},
    {"evpn", NVE, "evpn", NULL, NULL, GEN, nvdpctl_fmt_evpn, "",
     "BGP EVPN through FRR: entries advertised and learned, FRR's state"},
    {"disconnect", NVE, "disconnect", NULL, opts_disconnect, GEN,
     nvdpctl_fmt_generic,
     "--port PORT --vn VN [--vnic UUID] [--hv MAC] [--reason TEXT]",
     "NVE-initiated disconnect (WITHDRAW to the hypervisors)"},
    {"reload", NVE, "reload", NULL, NULL, GEN, nvdpctl_fmt_generic, "",
     "reload the configuration"},
    /* both */
    {"status", ANY, "status", NULL, NULL, GEN, nvdpctl_fmt_generic, "",
     "daemon status"},
    {"peers", ANY, "peers", NULL, NULL, GEN, nvdpctl_fmt_generic, "",
     "NVDP peers heard"},
    {"counters", ANY, "counters", NULL, NULL, GEN, nvdpctl_fmt_counters, "",
     "protocol and forwarder counters"},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/* What the CLI adds to a daemon's answer, by control command. */
static const struct {
    const char *ctl;
    void (*fn)(struct json_object *result);
} posts[] = {
    {"evpn", nvdpctl_evpn_post},
};

void
nvdpctl_post(const char *ctl, struct json_object *result)
{
    for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++)
        if (strcmp(posts[i].ctl, ctl) == 0)
            posts[i].fn(result);
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Number of words of a row's verb, and whether argv starts with them. */
static int
words_match(const char *words, int argc, char **argv)
{
    int n = 0;
    const char *w = words;

    while (*w) {
        size_t len = strcspn(w, " ");
        if (n >= argc || strlen(argv[n]) != len ||
            strncmp(argv[n], w, len) != 0)
            return 0;
        n++;
        w += len;
        while (*w == ' ')
            w++;
    }
    return n;
}

const struct nvdpctl_cmd *
nvdpctl_lookup(int argc, char **argv, int *nwords)
{
    const struct nvdpctl_cmd *c;

    for (c = nvdpctl_cmds; c->words; c++) {
        int n = words_match(c->words, argc, argv);
        if (n > 0) {
            *nwords = n;
            return c;
        }
    }
    return NULL;
}

static int
opt_index(const struct nvdpctl_opt *opts, const char *name, size_t len)
{
    int i;

    for (i = 0; opts && opts[i].name; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return i;
    return -1;
}

static int
npos_of(const struct nvdpctl_cmd *cmd, int *required)
{
    int n = 0;

    *required = 0;
    while (cmd->pos && cmd->pos[n].name) {
        if (cmd->pos[n].required)
            (*required)++;
        n++;
    }
    return n;
}

/* One "--name[=value]" word (and maybe the next as its value). Returns
 * words consumed, or -1. */
static int
parse_opt(const struct nvdpctl_cmd *cmd, int argc, char **argv,
          struct nvdpctl_parsed *p, char *err, size_t errlen)
{
    const char *name = argv[0] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int i = opt_index(cmd->opts, name, len);
    const struct nvdpctl_opt *o;
    const char *val = eq ? eq + 1 : NULL;
    int used = 1;

    if (i < 0)
        return fail(err, errlen, "%s: unknown option --%.*s", cmd->words,
                    (int)len, name);
    o = &cmd->opts[i];
    switch (o->kind) {
    case NVDPCTL_O_FLAG:
        if (val)
            return fail(err, errlen, "%s: --%s takes no value", cmd->words,
                        o->name);
        break;
    case NVDPCTL_O_OPTARG:
        break;
    case NVDPCTL_O_ARG:
    case NVDPCTL_O_MULTI:
        if (!val) {
            if (argc < 2)
                return fail(err, errlen, "%s: --%s needs a value",
                            cmd->words, o->name);
            val = argv[1];
            used = 2;
        }
        break;
    }
    if (o->kind == NVDPCTL_O_MULTI) {
        if (p->nmulti >= NVDPCTL_MAXMULTI)
            return fail(err, errlen, "%s: too many --%s (max %d)", cmd->words,
                        o->name, NVDPCTL_MAXMULTI);
        p->multi[p->nmulti++] = val;
    } else if (p->seen[i]) {
        return fail(err, errlen, "%s: --%s given twice", cmd->words, o->name);
    }
    p->seen[i] = 1;
    p->val[i] = val;
    return used;
}

int
nvdpctl_parse(const struct nvdpctl_cmd *cmd, int argc, char **argv,
              struct nvdpctl_parsed *p, char *err, size_t errlen)
{
    int i = 0, required, maxpos = npos_of(cmd, &required);
    int only_pos = 0;

    memset(p, 0, sizeof(*p));
    while (i < argc) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            i++;
        } else if (!only_pos && a[0] == '-' && a[1] == '-' && a[2]) {
            int n = parse_opt(cmd, argc - i, argv + i, p, err, errlen);
            if (n < 0)
                return -1;
            i += n;
        } else {
            if (p->npos >= maxpos)
                return fail(err, errlen, "%s: unexpected argument '%s'",
                            cmd->words, a);
            p->pos[p->npos++] = a;
            i++;
        }
    }
    if (p->npos < required)
        return fail(err, errlen, "%s: missing %s", cmd->words,
                    cmd->pos[p->npos].name);
    for (i = 0; cmd->opts && cmd->opts[i].name; i++)
        if (cmd->opts[i].required && !p->seen[i])
            return fail(err, errlen, "%s: missing --%s", cmd->words,
                        cmd->opts[i].name);
    return 0;
}

int
nvdpctl_parse_seconds(const char *s, int *ms)
{
    char *end;
    double d;

    if (!s || !*s)
        return -1;
    errno = 0;
    d = strtod(s, &end);
    if (errno || *end || !isfinite(d) || d < 0 || d > 86400)
        return -1;
    *ms = (int)(d * 1000.0 + 0.5);
    return 0;
}

static int
parse_count(const char *s, long *n)
{
    char *end;

    if (!s || !*s)
        return -1;
    errno = 0;
    *n = strtol(s, &end, 10);
    if (errno || *end || *n <= 0)
        return -1;
    return 0;
}

/* Checks one value and adds it under key (or, for CLI-side options, to
 * call). what names it in messages. */
static int
add_value(const struct nvdpctl_cmd *cmd, const struct nvdpctl_opt *o,
          const char *what, const char *val, int given,
          struct json_object *args, struct nvdpctl_call *call, char *err,
          size_t errlen)
{
    struct json_object *v = NULL;
    char buf[64];

    switch (o->type) {
    case NVDPCTL_T_STR:
        if (!given)
            return 0;
        if (!*val)
            return fail(err, errlen, "%s: empty %s", cmd->words, what);
        v = json_object_new_string(val);
        break;
    case NVDPCTL_T_UUID: {
        struct nvdp_uuid u;
        if (!given)
            return 0;
        if (nvdp_uuid_parse(val, &u) < 0)
            return fail(err, errlen,
                        "%s: %s '%s' is not a UUID "
                        "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                        cmd->words, what, val);
        nvdp_uuid_fmt(&u, buf);
        v = json_object_new_string(buf);
        break;
    }
    case NVDPCTL_T_MAC: {
        uint8_t mac[6];
        if (!given)
            return 0;
        if (nvdp_mac_parse(val, mac) < 0)
            return fail(err, errlen,
                        "%s: %s '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)",
                        cmd->words, what, val);
        /* VNICs and hypervisors are stations: unicast, non-zero. */
        if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
            return fail(err, errlen, "%s: %s '%s' is not a unicast MAC address",
                        cmd->words, what, val);
        nvdp_mac_fmt(mac, buf);
        v = json_object_new_string(buf);
        break;
    }
    case NVDPCTL_T_IP: {
        /* Any valid unicast MAC: only the IP part is checked here. */
        static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 1};
        struct nvdp_addr a;
        if (!given)
            return 0;
        if (!*val || nvdp_addr_parse(mac, val, &a) < 0)
            return fail(err, errlen,
                        "%s: %s '%s' is not an IPv4/IPv6 address, "
                        "canonical prefix (A/N) or range (A-B)",
                        cmd->words, what, val);
        v = json_object_new_string(val);
        break;
    }
    case NVDPCTL_T_VN: {
        struct nvdp_vn vn;
        if (!given)
            return 0;
        if (!*val)
            return fail(err, errlen, "%s: empty %s", cmd->words, what);
        /* Names are resolved by the daemon's configuration; only the
         * explicit forms can be checked here. */
        if ((strncmp(val, "vni:", 4) == 0 || strncmp(val, "uuid:", 5) == 0) &&
            nvdp_vn_parse(val, &vn) < 0)
            return fail(err, errlen,
                        "%s: %s '%s' is not a valid VN "
                        "(vni:1-16777215, uuid:UUID or a name)",
                        cmd->words, what, val);
        v = json_object_new_string(val);
        break;
    }
    case NVDPCTL_T_BOOL:
        v = json_object_new_boolean(given);
        break;
    case NVDPCTL_T_WAIT: {
        int ms = 0;
        if (given && !val)
            ms = NVDPCTL_WAIT_DEFAULT_MS;
        else if (given && nvdpctl_parse_seconds(val, &ms) < 0)
            return fail(err, errlen, "%s: --%s=%s: not a number of seconds",
                        cmd->words, o->name, val);
        call->wait_ms = ms;
        v = json_object_new_int(ms);
        break;
    }
    case NVDPCTL_T_COUNT: {
        long n = 0;
        if (!given)
            return 0;
        if (parse_count(val, &n) < 0)
            return fail(err, errlen, "%s: %s '%s' is not a positive number",
                        cmd->words, what, val);
        if (!o->key) {
            call->count = n;
            return 0;
        }
        v = json_object_new_int64(n);
        break;
    }
    case NVDPCTL_T_UPDOWN:
        if (!given)
            return 0;
        if (strcmp(val, "up") != 0 && strcmp(val, "down") != 0)
            return fail(err, errlen, "%s: expected up or down, not '%s'",
                        cmd->words, val);
        v = json_object_new_boolean(strcmp(val, "up") == 0);
        break;
    }
    if (o->key)
        json_object_object_add(args, o->key, v);
    else
        json_object_put(v);
    return 0;
}

int
nvdpctl_build_generic(const struct nvdpctl_cmd *cmd,
                      const struct nvdpctl_parsed *p, struct json_object *args,
                      struct nvdpctl_call *call, char *err, size_t errlen)
{
    int i, j;
    char what[32];

    for (i = 0; cmd->pos && cmd->pos[i].name; i++)
        if (add_value(cmd, &cmd->pos[i], cmd->pos[i].name,
                      i < p->npos ? p->pos[i] : NULL, i < p->npos, args, call,
                      err, errlen) < 0)
            return -1;
    for (i = 0; cmd->opts && cmd->opts[i].name; i++) {
        const struct nvdpctl_opt *o = &cmd->opts[i];
        snprintf(what, sizeof(what), "--%s", o->name);
        if (o->kind != NVDPCTL_O_MULTI) {
            if (add_value(cmd, o, what, p->val[i], p->seen[i], args, call,
                          err, errlen) < 0)
                return -1;
            continue;
        }
        /* Repeatable options are always sent, as an array (maybe empty). */
        struct json_object *arr = json_object_new_array();
        json_object_object_add(args, o->key, arr);
        for (j = 0; j < p->nmulti; j++) {
            struct json_object *one = json_object_new_object();
            struct nvdpctl_opt single = *o;
            single.key = "v";
            if (add_value(cmd, &single, what, p->multi[j], 1, one, call, err,
                          errlen) < 0) {
                json_object_put(one);
                return -1;
            }
            json_object_array_add(arr,
                                  json_object_get(json_object_object_get(one, "v")));
            json_object_put(one);
        }
    }
    if (strcmp(cmd->ctl, "watch") == 0)
        call->stream = 1;
    return 0;
}

struct json_object *
nvdpctl_request(const struct nvdpctl_cmd *cmd, int argc, char **argv,
                struct nvdpctl_call *call, char *err, size_t errlen)
{
    struct nvdpctl_parsed p;
    struct json_object *req, *args;

    memset(call, 0, sizeof(*call));
    if (nvdpctl_parse(cmd, argc, argv, &p, err, errlen) < 0)
        return NULL;
    args = json_object_new_object();
    if (cmd->build(cmd, &p, args, call, err, errlen) < 0) {
        json_object_put(args);
        return NULL;
    }
    req = json_object_new_object();
    json_object_object_add(req, "cmd", json_object_new_string(cmd->ctl));
    json_object_object_add(req, "args", args);
    return req;
}

int
nvdpctl_exit_for_code(int code)
{
    switch (code) {
    case 2: /* CTL_E_USAGE: the daemon found the arguments wrong */
        return NVDPCTL_EX_USAGE;
    case 4: /* CTL_E_TIMEOUT */
        return NVDPCTL_EX_TIMEOUT;
    case 5: /* CTL_E_REFUSED */
        return NVDPCTL_EX_REFUSED;
    default:
        return NVDPCTL_EX_FAILED;
    }
}

static void
opt_usage(FILE *out, const struct nvdpctl_opt *o)
{
    fprintf(out, "    --%s", o->name);
    switch (o->type) {
    case NVDPCTL_T_UUID:
        fprintf(out, " UUID");
        break;
    case NVDPCTL_T_MAC:
        fprintf(out, " MAC");
        break;
    case NVDPCTL_T_IP:
        fprintf(out, " IP (repeatable: host, A/N prefix or A-B range)");
        break;
    case NVDPCTL_T_VN:
        fprintf(out, " VN (vni:N, uuid:UUID or a configured name)");
        break;
    case NVDPCTL_T_WAIT:
        fprintf(out, "[=SECONDS] (wait for the NVE's answer; default %d s)",
                NVDPCTL_WAIT_DEFAULT_MS / 1000);
        break;
    case NVDPCTL_T_COUNT:
        fprintf(out, " N");
        break;
    case NVDPCTL_T_STR:
        /* The placeholder is the option's name in capitals (--port PORT). */
        fputc(' ', out);
        if (strcmp(o->name, "reason") == 0)
            fputs("TEXT", out);
        else
            for (const char *c = o->name; *c; c++)
                fputc(*c >= 'a' && *c <= 'z' ? *c - 32 : *c, out);
        break;
    default:
        break;
    }
    fprintf(out, "%s\n", o->required ? " (required)" : "");
}

void
nvdpctl_cmd_usage(FILE *out, const struct nvdpctl_cmd *cmd)
{
    int i;

    fprintf(out, "usage: nvdpctl [-s socket] [-f text|json] [-t seconds] %s%s%s\n",
            cmd->words, cmd->usage[0] ? " " : "", cmd->usage);
    fprintf(out, "  %s (%s)\n", cmd->help,
            cmd->daemon == NVDPCTL_D_HV    ? "hv-agent"
            : cmd->daemon == NVDPCTL_D_NVE ? "nve-agent"
                                           : "hv-agent or nve-agent");
    for (i = 0; cmd->opts && cmd->opts[i].name; i++)
        opt_usage(out, &cmd->opts[i]);
}

void
nvdpctl_usage(FILE *out)
{
    const struct nvdpctl_cmd *c;

    fprintf(out,
            "usage: nvdpctl [-s socket] [-f text|json] [-t seconds] COMMAND "
            "[ARGS]\n"
            "       nvdpctl help [COMMAND]   (or COMMAND -h)\n"
            "       nvdpctl -V               (version)\n"
            "  -s socket   control socket (default by command: %s/hv-agent.sock"
            " or %s/nve-agent.sock; env NVDPCTL_SOCKET)\n"
            "  -f format   text (default) or json\n"
            "  -t seconds  how long to wait for the daemon (default 10, plus"
            " any --wait)\n"
            "commands:\n",
            RUNDIR, RUNDIR);
    for (c = nvdpctl_cmds; c->words; c++)
        fprintf(out, "  %-18s %s\n", c->words, c->help);
    fprintf(out, "exit codes: 0 ok, 1 failed, 2 usage, 3 daemon unreachable, "
                 "4 timeout, 5 NVE refused\n");
}
