/* tree_rec.h - the address records of a containment-tree entry, packed: a
 * kind byte and only the bytes its kind uses (a MAC 7, an IPv4 host 11, an
 * IPv6 host 23 bytes, where a struct nvdp_addr takes 41). A MAC and one
 * IPv4 address fit in the entry itself; more move to one heap block. */
#ifndef TREE_REC_H
#define TREE_REC_H

#include <stddef.h>
#include <stdint.h>

#include "nvdp.h"

#define TREE_REC_MAX 39    /* the largest record: an IPv6 range */
#define TREE_REC_INLINE 20 /* record bytes an entry holds itself */

/* The records of one entry (their count is the entry's naddr): in b, or,
 * when b[0] is TREE_REC_HEAP (never a record's first byte), in a heap
 * block whose address and length follow in b. */
struct tree_recs {
    uint8_t b[TREE_REC_INLINE];
};

/* Bytes of the record starting with byte k. */
size_t tree_rec_size(uint8_t k);
/* a as a record in out; returns its size. a is valid (nvdp_addr_valid):
 * two valid addresses are nvdp_addr_equal iff their records are equal. */
size_t tree_rec_encode(const struct nvdp_addr *a, uint8_t out[TREE_REC_MAX]);
/* The record at p into *a (zeroed but for what the kind uses); its size. */
size_t tree_rec_decode(const uint8_t *p, struct nvdp_addr *a);
/* 1 if the record at p is the MAC-only record of mac. */
int tree_rec_is_mac(const uint8_t *p, const uint8_t mac[6]);

/* The n records of r: their first byte, their length in *len. */
uint8_t *tree_recs_data(const struct tree_recs *r, unsigned n, size_t *len);
/* Appends record rec (size rl) to the n records of r: 0, -1 if out of
 * memory (r unchanged). */
int tree_recs_append(struct tree_recs *r, unsigned n, const uint8_t *rec,
                     size_t rl);
/* Removes the record at byte off of the n records of r (order kept). */
void tree_recs_remove(struct tree_recs *r, unsigned n, size_t off);
/* Heap bytes behind r (0 when inline), malloc's header not counted. */
size_t tree_recs_heap(const struct tree_recs *r, unsigned n);
void tree_recs_free(struct tree_recs *r, unsigned n);

/* Walking an entry's addresses in order, decoded: the control views. */
struct tree_addr_it {
    const uint8_t *p, *end;
};
void tree_addr_first(const struct tree_recs *r, unsigned n,
                     struct tree_addr_it *it);
/* 1 with the next address in *a, 0 at the end. */
int tree_addr_next(struct tree_addr_it *it, struct nvdp_addr *a);

#endif
