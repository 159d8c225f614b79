/* tree_rec.c - packed address records of a containment-tree entry: the
 * codec of one record, and an entry's records in place or on the heap. */
#include "tree_rec.h"

#include <stdlib.h>
#include <string.h>

/* A record's first byte: the kind, and whether the address is IPv6. */
#define REC_KIND 0x03
#define REC_V6 0x04
#define TREE_REC_HEAP 0xFF
/* where a heap block's address and length are kept in tree_recs.b */
#define REC_PTR 4
#define REC_LEN 12

size_t
tree_rec_size(uint8_t k)
{
    size_t ip = (k & REC_V6) ? 16 : 4;

    switch (k & REC_KIND) {
    case NVDP_ADDR_MAC:
        return 7;
    case NVDP_ADDR_HOST:
        return 7 + ip;
    case NVDP_ADDR_PREFIX:
        return 8 + ip;
    default: /* NVDP_ADDR_RANGE */
        return 7 + 2 * ip;
    }
}

size_t
tree_rec_encode(const struct nvdp_addr *a, uint8_t out[TREE_REC_MAX])
{
    size_t ip = a->family == 6 ? 16 : 4, n = 7;

    out[0] = (uint8_t)((a->kind & REC_KIND) | (a->family == 6 ? REC_V6 : 0));
    memcpy(out + 1, a->mac, 6);
    switch (a->kind) {
    case NVDP_ADDR_MAC:
        return n;
    case NVDP_ADDR_PREFIX:
        out[n++] = a->plen;
        break;
    }
    memcpy(out + n, a->ip, ip);
    n += ip;
    if (a->kind == NVDP_ADDR_RANGE) {
        memcpy(out + n, a->ip_hi, ip);
        n += ip;
    }
    return n;
}

size_t
tree_rec_decode(const uint8_t *p, struct nvdp_addr *a)
{
    size_t ip = (p[0] & REC_V6) ? 16 : 4, n = 7;

    memset(a, 0, sizeof(*a));
    a->kind = p[0] & REC_KIND;
    memcpy(a->mac, p + 1, 6);
    if (a->kind == NVDP_ADDR_MAC)
        return n;
    a->family = ip == 16 ? 6 : 4;
    if (a->kind == NVDP_ADDR_PREFIX)
        a->plen = p[n++];
    memcpy(a->ip, p + n, ip);
    n += ip;
    if (a->kind == NVDP_ADDR_RANGE) {
        memcpy(a->ip_hi, p + n, ip);
        n += ip;
    }
    return n;
}

int
tree_rec_is_mac(const uint8_t *p, const uint8_t mac[6])
{
    return p[0] == NVDP_ADDR_MAC && memcmp(p + 1, mac, 6) == 0;
}

/* ---- an entry's records ------------------------------------------------- */

static int
is_heap(const struct tree_recs *r, unsigned n)
{
    return n > 0 && r->b[0] == TREE_REC_HEAP;
}

static void
heap_get(const struct tree_recs *r, uint8_t **p, uint32_t *len)
{
    memcpy(p, r->b + REC_PTR, sizeof(*p));
    memcpy(len, r->b + REC_LEN, sizeof(*len));
}

static void
heap_set(struct tree_recs *r, uint8_t *p, uint32_t len)
{
    r->b[0] = TREE_REC_HEAP;
    memcpy(r->b + REC_PTR, &p, sizeof(p));
    memcpy(r->b + REC_LEN, &len, sizeof(len));
}

uint8_t *
tree_recs_data(const struct tree_recs *r, unsigned n, size_t *len)
{
    uint8_t *p;
    uint32_t l;
    size_t off = 0;

    if (is_heap(r, n)) {
        heap_get(r, &p, &l);
        *len = l;
        return p;
    }
    for (unsigned i = 0; i < n; i++)
        off += tree_rec_size(r->b[off]);
    *len = off;
    return (uint8_t *)r->b;
}

int
tree_recs_append(struct tree_recs *r, unsigned n, const uint8_t *rec,
                 size_t rl)
{
    size_t len;
    uint8_t *d = tree_recs_data(r, n, &len), *p;

    if (len + rl > UINT32_MAX)
        return -1;
    if (!is_heap(r, n) && len + rl <= TREE_REC_INLINE) {
        memcpy(r->b + len, rec, rl);
        return 0;
    }
    if (is_heap(r, n)) {
        if ((p = realloc(d, len + rl)) == NULL)
            return -1;
    } else {
        if ((p = malloc(len + rl)) == NULL)
            return -1;
        memcpy(p, d, len);
    }
    memcpy(p + len, rec, rl);
    heap_set(r, p, (uint32_t)(len + rl));
    return 0;
}

void
tree_recs_remove(struct tree_recs *r, unsigned n, size_t off)
{
    size_t len;
    uint8_t *d = tree_recs_data(r, n, &len), *p;
    size_t rl = tree_rec_size(d[off]);

    memmove(d + off, d + off + rl, len - off - rl);
    len -= rl;
    if (!is_heap(r, n))
        return;
    if (len <= TREE_REC_INLINE) {
        /* back in the entry: a heap block is only ever for what does not
         * fit, so the memory accounting is a function of the records */
        memcpy(r->b, d, len);
        free(d);
        if (len == 0)
            r->b[0] = 0;
        return;
    }
    if ((p = realloc(d, len)) != NULL)
        d = p;
    heap_set(r, d, (uint32_t)len);
}

size_t
tree_recs_heap(const struct tree_recs *r, unsigned n)
{
    size_t len;

    if (!is_heap(r, n))
        return 0;
    tree_recs_data(r, n, &len);
    return len;
}

void
tree_recs_free(struct tree_recs *r, unsigned n)
{
    size_t len;

    if (is_heap(r, n))
        free(tree_recs_data(r, n, &len));
    memset(r->b, 0, sizeof(r->b));
}

void
tree_addr_first(const struct tree_recs *r, unsigned n,
                struct tree_addr_it *it)
{
    size_t len;

    it->p = tree_recs_data(r, n, &len);
    it->end = it->p + len;
}

int
tree_addr_next(struct tree_addr_it *it, struct nvdp_addr *a)
{
    if (it->p >= it->end)
        return 0;
    it->p += tree_rec_decode(it->p, a);
    return 1;
}
