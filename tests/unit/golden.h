/* golden.h - the golden frames of protocol-spec/frames/ for unit tests:
 * read from their hex files (protocol-spec/nvdp.md section 19). */
#ifndef TEST_GOLDEN_H
#define TEST_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

/* Whole Ethernet frame of protocol-spec/frames/<name>.hex into out (at
 * most cap bytes); its length. A test failure if it cannot be read. */
size_t golden_load(const char *name, uint8_t *out, size_t cap);
/* Names (without ".hex") of the frames in protocol-spec/frames/<sub>, in
 * directory order, each given to fn; their count. */
size_t golden_each(const char *sub, void (*fn)(void *arg, const char *name),
                   void *arg);

#endif
