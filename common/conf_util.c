/* conf_util.c - libconfuse glue both daemons share: an error callback
 * naming file and line, option validators, and 802.1Q tag sets. */
#include "config.h"
#include "conf_util.h"

#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "nvdp.h"
#include "nvdp_auth.h"

int
conf_file_check(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return 0;
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        log_warnx("%s: owned by uid %u, not by root: refusing to use it "
                  "(chown root %s)", path, (unsigned)st.st_uid, path);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        log_warnx("%s: mode %04o lets %s write it: refusing to use it "
                  "(chmod go-w %s)", path, (unsigned)(st.st_mode & 07777),
                  (st.st_mode & S_IWOTH) ? "anyone" : "its group", path);
        return -1;
    }
    return 0;
}

void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (cfg && cfg->line > 0)
        log_warnx("%s:%d: %s", cfg->filename ? cfg->filename : "<config>",
                  cfg->line, msg);
    else
        log_warnx("%s: %s",
                  cfg && cfg->filename ? cfg->filename : "<config>", msg);
}

void
conf_name_sections(cfg_t *cfg, const char *path)
{
    for (cfg_opt_t *o = cfg->opts; o->name; o++) {
        if (o->type != CFGT_SEC || (o->flags & CFGF_MULTI))
            continue;
        cfg_t *sec = cfg_getsec(cfg, o->name);
        if (sec == NULL)
            continue;
        if (sec->filename == NULL)
            sec->filename = strdup(path);
        conf_name_sections(sec, path);
    }
}

/* Applies check to every value of a string option (lists included). */
static int
conf_each_str(cfg_t *cfg, cfg_opt_t *opt, int (*check)(const char *),
              const char *what)
{
    unsigned n = cfg_opt_size(opt);

    for (unsigned i = 0; i < n; i++) {
        const char *v = cfg_opt_getnstr(opt, i);
        if (v == NULL || check(v) < 0) {
            cfg_error(cfg, "option '%s': invalid %s '%s'", cfg_opt_name(opt),
                      what, v ? v : "");
            return -1;
        }
    }
    return 0;
}

/* The same parsers the daemons use afterwards: what a validator lets
 * through always parses. */
static int
conf_check_mac(const char *s)
{
    uint8_t mac[6];

    return nvdp_mac_parse(s, mac);
}

static int
conf_check_uuid(const char *s)
{
    struct nvdp_uuid u;

    return nvdp_uuid_parse(s, &u);
}

static int
conf_check_tagset(const char *s)
{
    struct tagset ts;

    return tagset_parse(s, &ts);
}

static int
conf_check_ifname(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 ||
        strcmp(s, "..") == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) ||
            !isprint((unsigned char)s[i]))
            return -1;
    return 0;
}

static int
conf_check_auth(const char *s)
{
    return nvdp_auth_policy_parse(s) < 0 ? -1 : 0;
}

int
conf_validate_auth(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_each_str(cfg, opt, conf_check_auth,
                         "authentication policy (required, optional, off)");
}

int
conf_validate_mac(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_each_str(cfg, opt, conf_check_mac, "MAC address");
}

int
conf_validate_uuid(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_each_str(cfg, opt, conf_check_uuid, "UUID");
}

int
conf_validate_tagset(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_each_str(cfg, opt, conf_check_tagset,
                         "tag set (VIDs 1-4094, e.g. \"100-199,300\")");
}

int
conf_validate_ifname(cfg_t *cfg, cfg_opt_t *opt)
{
    return conf_each_str(cfg, opt, conf_check_ifname, "interface name");
}

/* Integer options only (an int option carries a number, a string one a
 * decimal VNI). */
int
conf_validate_vni(cfg_t *cfg, cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);

    for (unsigned i = 0; i < n; i++) {
        long v;
        if (opt->type == CFGT_INT) {
            v = cfg_opt_getnint(opt, i);
        } else if (opt->type == CFGT_STR) {
            const char *s = cfg_opt_getnstr(opt, i);
            char *end;
            errno = 0;
            v = s && *s ? strtol(s, &end, 10) : -1;
            if (errno || (s && *s && *end))
                v = -1;
        } else {
            v = -1;
        }
        if (v < 1 || v > 0xFFFFFF) {
            cfg_error(cfg, "option '%s': VNI %ld out of range 1-16777215",
                      cfg_opt_name(opt), v);
            return -1;
        }
    }
    return 0;
}

int
conf_validate_positive(cfg_t *cfg, cfg_opt_t *opt)
{
    unsigned n = cfg_opt_size(opt);

    for (unsigned i = 0; i < n; i++) {
        long v = opt->type == CFGT_INT ? cfg_opt_getnint(opt, i) : -1;
        if (v <= 0) {
            cfg_error(cfg, "option '%s': must be a positive integer, got %ld",
                      cfg_opt_name(opt), v);
            return -1;
        }
    }
    return 0;
}

/* ---- integer bounds ---------------------------------------------------- */
int
conf_set_ranges(cfg_t *cfg, const struct conf_range *table,
                cfg_validate_callback_t cb)
{
    for (const struct conf_range *r = table; r->path; r++) {
        cfg_set_validate_func(cfg, r->path, cb);
        /* the second call returns the first's cb unless path is unknown */
        if (cfg_set_validate_func(cfg, r->path, cb) != cb)
            return -1;
    }
    return 0;
}

/* Does "a|b|opt" name opt in the section cfg is parsing? Validators see
 * only the innermost section, so that is what is compared. */
static int
conf_range_match(const char *path, const cfg_t *cfg, const char *name)
{
    const char *leaf = strrchr(path, '|');
    const char *sec;

    if (leaf == NULL)
        return strcmp(path, name) == 0 && strcmp(cfg->name, "root") == 0;
    if (strcmp(leaf + 1, name) != 0)
        return 0;
    for (sec = leaf; sec > path && sec[-1] != '|'; sec--)
        ;
    return strlen(cfg->name) == (size_t)(leaf - sec) &&
           strncmp(cfg->name, sec, (size_t)(leaf - sec)) == 0;
}

int
conf_check_range(cfg_t *cfg, cfg_opt_t *opt, const struct conf_range *table)
{
    const char *name = cfg_opt_name(opt);

    for (const struct conf_range *r = table; r->path; r++) {
        if (!conf_range_match(r->path, cfg, name))
            continue;
        for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
            long v = cfg_opt_getnint(opt, i);
            if (v < r->lo || v > r->hi) {
                cfg_error(cfg, "option '%s': %ld out of range %ld..%ld",
                          name, v, r->lo, r->hi);
                return -1;
            }
        }
        return 0;
    }
    return 0;
}

/* ---- tag sets --------------------------------------------------------- */
static const char *
tagset_num(const char *p, unsigned *out)
{
    unsigned long v = 0;
    int digits = 0;

    while (isspace((unsigned char)*p))
        p++;
    while (isdigit((unsigned char)*p) && digits < 6) {
        v = v * 10 + (unsigned long)(*p++ - '0');
        digits++;
    }
    if (digits == 0 || isdigit((unsigned char)*p))
        return NULL;
    while (isspace((unsigned char)*p))
        p++;
    *out = (unsigned)v;
    return p;
}

int
tagset_parse(const char *s, struct tagset *ts)
{
    struct tagset r;
    const char *p = s;

    memset(&r, 0, sizeof(r));
    if (s == NULL)
        return -1;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0') { /* an empty set is legal: e.g. "reserved = ''" */
        *ts = r;
        return 0;
    }
    for (;;) {
        unsigned lo, hi;
        p = tagset_num(p, &lo);
        if (p == NULL)
            return -1;
        hi = lo;
        if (*p == '-') {
            p = tagset_num(p + 1, &hi);
            if (p == NULL)
                return -1;
        }
        /* VIDs 0 and 4095 are reserved by 802.1Q. */
        if (lo < 1 || hi > 4094 || lo > hi)
            return -1;
        for (unsigned v = lo; v <= hi; v++)
            tagset_add(&r, v);
        if (*p == '\0')
            break;
        if (*p != ',')
            return -1;
        p++;
    }
    *ts = r;
    return 0;
}

/* "1-99,200,300-399"; truncated with "..." if outlen is too small. */
void
tagset_fmt(const struct tagset *ts, char *out, size_t outlen)
{
    size_t len = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (unsigned v = 0; v < 4096; v++) {
        if (!tagset_has(ts, v))
            continue;
        unsigned hi = v;
        while (hi + 1 < 4096 && tagset_has(ts, hi + 1))
            hi++;
        char item[16];
        int n = hi == v ? snprintf(item, sizeof(item), "%s%u",
                                   len ? "," : "", v)
                        : snprintf(item, sizeof(item), "%s%u-%u",
                                   len ? "," : "", v, hi);
        if (len + (size_t)n + 1 > outlen) {
            if (outlen >= 4)
                memcpy(out + (len + 4 <= outlen ? len : outlen - 4), "...",
                       4);
            return;
        }
        memcpy(out + len, item, (size_t)n + 1);
        len += (size_t)n;
        v = hi;
    }
}
