/* conf_util.h - libconfuse helpers both daemons use: validators that name
 * file and line, and parsers for MACs, UUIDs, VNIs and tag ranges. */
#ifndef CONF_UTIL_H
#define CONF_UTIL_H

#include <confuse.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* A daemon runs as the file tells it only if no one but root (or the user
 * it runs as) could have written the file: 0 if path belongs to root or to
 * our effective user and is writable by neither its group nor others (or
 * does not exist: the parser says so), -1 with a log line naming the
 * file, its owner and mode otherwise. */
int conf_file_check(const char *path);

/* Error callback that prints "FILE:LINE: message" to stderr / the log. */
void conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap);
/* Single (not CFGF_MULTI) sections exist from cfg_init() on, before the
 * file is known, and their errors would say "<config>": call this before
 * cfg_parse() to give them, at any depth, the file's name. */
void conf_name_sections(cfg_t *cfg, const char *path);

/* Option validators for cfg_set_validate_func(). */
int conf_validate_mac(cfg_t *cfg, cfg_opt_t *opt);
/* "required", "optional" or "off" (nvdp_auth.h) */
int conf_validate_auth(cfg_t *cfg, cfg_opt_t *opt);
int conf_validate_uuid(cfg_t *cfg, cfg_opt_t *opt);
int conf_validate_vni(cfg_t *cfg, cfg_opt_t *opt);
int conf_validate_tagset(cfg_t *cfg, cfg_opt_t *opt);
int conf_validate_ifname(cfg_t *cfg, cfg_opt_t *opt);
int conf_validate_positive(cfg_t *cfg, cfg_opt_t *opt);

/* Integer bounds, one row per option, the table ended by a NULL path.
 * path is what cfg_set_validate_func() takes: "opt", "sec|opt", titled
 * multi-sections included ("vn|vni"). */
struct conf_range {
    const char *path;
    long lo, hi;
};
/* Registers cb as the validator of every option in table; cb is a
 * one-line wrapper calling conf_check_range() with that table (libconfuse
 * gives validators no user pointer). 0, or -1 naming no such option. */
int conf_set_ranges(cfg_t *cfg, const struct conf_range *table,
                    cfg_validate_callback_t cb);
/* Checks opt against its row while parsing, so the error carries the
 * option's line: "FILE:LINE: option 'x': V out of range LO..HI". A row
 * matches on the option's name and its innermost section; options with no
 * row pass. */
int conf_check_range(cfg_t *cfg, cfg_opt_t *opt,
                     const struct conf_range *table);

/* A set of 802.1Q VIDs as a 4096-bit map. "1-99,200,300-399". */
struct tagset {
    uint64_t w[64];
};
int tagset_parse(const char *s, struct tagset *ts); /* 0 / -1 */
void tagset_fmt(const struct tagset *ts, char *out, size_t outlen);
static inline int tagset_has(const struct tagset *ts, unsigned v)
{
    return v < 4096 && (ts->w[v >> 6] >> (v & 63)) & 1;
}
static inline void tagset_add(struct tagset *ts, unsigned v)
{
    if (v < 4096)
        ts->w[v >> 6] |= (uint64_t)1 << (v & 63);
}

#endif
