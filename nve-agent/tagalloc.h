/* tagalloc.h - per-access-port 802.1Q tag allocator: one tag per (port, VN)
 * shared by every VNIC of that VN behind the port, reference counted. */
#ifndef TAGALLOC_H
#define TAGALLOC_H

#include <stdint.h>
#include "conf_util.h"

/* VNs are keyed by their 24-bit VNI, which the config keeps unique, so
 * the key survives a reload that reorders VNs. */
#define TAG_HASH_SIZE 8192 /* > 2 x 4094: linear probing stays short */

struct tag_alloc {
    struct tagset allowed;      /* range minus reserved tags */
    uint64_t used[64];          /* bitmap of tags in use */
    uint32_t vni[4096];         /* tag -> VNI while used */
    uint32_t refs[4096];        /* tag -> VNICs holding it */
    uint16_t slot[TAG_HASH_SIZE]; /* VNI hash -> tag, 0 = empty */
    uint16_t nused;
};

void tag_alloc_init(struct tag_alloc *ta, const struct tagset *allowed);
/* New allowed set (reload): tags in use outside it stay until released. */
void tag_alloc_set_allowed(struct tag_alloc *ta, const struct tagset *allowed);
/* Tag of vni on this port, 0 if none. */
uint16_t tag_lookup(const struct tag_alloc *ta, uint32_t vni);
/* Takes a reference on vni's tag, allocating one if needed: the hint if it
 * is allowed and free, else the lowest free tag. Returns the tag, or 0 when
 * none is left. *created (if not NULL) says a new tag was allocated. */
uint16_t tag_get(struct tag_alloc *ta, uint32_t vni, uint16_t hint,
                 int *created);
/* Drops one reference; returns the tag if it was freed by this call, 0
 * otherwise (still referenced, or vni had no tag). */
uint16_t tag_put(struct tag_alloc *ta, uint32_t vni);
uint32_t tag_refs(const struct tag_alloc *ta, uint16_t tag);
uint32_t tag_vni(const struct tag_alloc *ta, uint16_t tag);
static inline int tag_in_use(const struct tag_alloc *ta, uint16_t tag)
{
    return tag < 4096 && (ta->used[tag >> 6] >> (tag & 63)) & 1;
}
/* Allowed tags not in use. */
unsigned tag_free_count(const struct tag_alloc *ta);
unsigned tag_allowed_count(const struct tag_alloc *ta);

#endif
