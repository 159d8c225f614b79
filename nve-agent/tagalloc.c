/* tagalloc.c - per-port tag allocator: a bitmap of used tags for O(64)
 * lowest-free search, and a VNI -> tag hash so lookups are O(1). */
#include "tagalloc.h"

#include <string.h>

#include "nvdp.h"

static unsigned
tag_hash(uint32_t vni)
{
    return (vni * 2654435761u) & (TAG_HASH_SIZE - 1);
}

static void
tag_bit(uint64_t *w, uint16_t tag, int on)
{
    if (on)
        w[tag >> 6] |= (uint64_t)1 << (tag & 63);
    else
        w[tag >> 6] &= ~((uint64_t)1 << (tag & 63));
}

/* Slot holding vni, or the empty slot where it would go. */
static unsigned
tag_find_slot(const struct tag_alloc *ta, uint32_t vni)
{
    unsigned i = tag_hash(vni);

    while (ta->slot[i] != 0 && ta->vni[ta->slot[i]] != vni)
        i = (i + 1) & (TAG_HASH_SIZE - 1);
    return i;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void
tag_slot_del(struct tag_alloc *ta, unsigned i)
{
    unsigned j = i;

    ta->slot[i] = 0;
    for (;;) {
        j = (j + 1) & (TAG_HASH_SIZE - 1);
        if (ta->slot[j] == 0)
            return;
        unsigned home = tag_hash(ta->vni[ta->slot[j]]);
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        int in_range = (i <= j) ? (home > i && home <= j)
                                : (home > i || home <= j);
        if (!in_range) {
            ta->slot[i] = ta->slot[j];
            ta->slot[j] = 0;
            i = j;
        }
    }
}

void
tag_alloc_init(struct tag_alloc *ta, const struct tagset *allowed)
{
    memset(ta, 0, sizeof(*ta));
    tag_alloc_set_allowed(ta, allowed);
}

void
tag_alloc_set_allowed(struct tag_alloc *ta, const struct tagset *allowed)
{
    ta->allowed = *allowed;
    /* 0 and 4095 are never valid VIDs whatever the config says. */
    ta->allowed.w[0] &= ~(uint64_t)1;
    ta->allowed.w[63] &= ~((uint64_t)1 << 63);
}

uint16_t
tag_lookup(const struct tag_alloc *ta, uint32_t vni)
{
    return ta->slot[tag_find_slot(ta, vni)];
}

static uint16_t
tag_lowest_free(const struct tag_alloc *ta)
{
    for (unsigned i = 0; i < 64; i++) {
        uint64_t f = ta->allowed.w[i] & ~ta->used[i];
        if (f)
            return (uint16_t)(i * 64 + (unsigned)__builtin_ctzll(f));
    }
    return 0;
}

uint16_t
tag_get(struct tag_alloc *ta, uint32_t vni, uint16_t hint, int *created)
{
    unsigned s = tag_find_slot(ta, vni);
    uint16_t tag = ta->slot[s];

    if (created)
        *created = 0;
    if (tag != 0) {
        ta->refs[tag]++;
        return tag;
    }
    if (hint >= NVDP_TAG_MIN && hint <= NVDP_TAG_MAX &&
        tagset_has(&ta->allowed, hint) && !tag_in_use(ta, hint))
        tag = hint;
    else
        tag = tag_lowest_free(ta);
    if (tag == 0)
        return 0;
    tag_bit(ta->used, tag, 1);
    ta->vni[tag] = vni;
    ta->refs[tag] = 1;
    ta->slot[s] = tag;
    ta->nused++;
    if (created)
        *created = 1;
    return tag;
}

uint16_t
tag_put(struct tag_alloc *ta, uint32_t vni)
{
    unsigned s = tag_find_slot(ta, vni);
    uint16_t tag = ta->slot[s];

    if (tag == 0)
        return 0;
    if (--ta->refs[tag] > 0)
        return 0;
    tag_slot_del(ta, s);
    tag_bit(ta->used, tag, 0);
    ta->vni[tag] = 0;
    ta->nused--;
    return tag;
}

uint32_t
tag_refs(const struct tag_alloc *ta, uint16_t tag)
{
    return tag_in_use(ta, tag) ? ta->refs[tag] : 0;
}

uint32_t
tag_vni(const struct tag_alloc *ta, uint16_t tag)
{
    return tag_in_use(ta, tag) ? ta->vni[tag] : 0;
}

unsigned
tag_allowed_count(const struct tag_alloc *ta)
{
    unsigned n = 0;

    for (unsigned i = 0; i < 64; i++)
        n += (unsigned)__builtin_popcountll(ta->allowed.w[i]);
    return n;
}

unsigned
tag_free_count(const struct tag_alloc *ta)
{
    unsigned n = 0;

    for (unsigned i = 0; i < 64; i++)
        n += (unsigned)__builtin_popcountll(ta->allowed.w[i] & ~ta->used[i]);
    return n;
}
