/* nvdp_auth.h - NVDP authentication (protocol-spec/nvdp.md section 14):
 * keys and key files, the AUTH TLV's HMAC-SHA256 (OpenSSL libcrypto) over
 * the Ethernet addresses and the whole NVDP frame, and the per-peer replay
 * window bound to the sender's epoch. Pure but for reading a key file. */
#ifndef NVDP_AUTH_H
#define NVDP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "nvdp.h"

#define NVDP_KEYS_MAX 4 /* keys in one key file: rollover needs two */
#define NVDP_KEY_MIN 32 /* bytes: HMAC-SHA256's output size (RFC 2104) */
#define NVDP_KEY_MAX 64 /* bytes: SHA-256's block; longer is hashed */
#define NVDP_HMAC_LEN 32
#define NVDP_AUTH_TLV_LEN (NVDP_TLV_HLEN + NVDP_AUTH_LEN) /* 48 */
#define NVDP_REPLAY_WINDOW 64 /* counters behind the highest still accepted */

enum nvdp_auth_policy {
    NVDP_AUTH_OFF = 0,  /* AUTH flag: dropped (auth_unsupported) */
    NVDP_AUTH_OPTIONAL, /* both accepted, each kind counted */
    NVDP_AUTH_REQUIRED, /* an unauthenticated frame is dropped (auth_fail) */
};
/* A first AUTH counter above every earlier run's: CLOCK_REALTIME in
 * microseconds (a sender signs far fewer frames per microsecond). */
uint64_t nvdp_auth_counter_start(void);
/* "off", "optional", "required" <-> the policy; parse gives -1 else. */
int nvdp_auth_policy_parse(const char *s);
const char *nvdp_auth_policy_name(int policy);

struct nvdp_mac_ctx; /* a key's HMAC state, set up once (OpenSSL EVP_MAC) */

struct nvdp_key {
    uint16_t id;
    uint8_t len;
    uint8_t k[NVDP_KEY_MAX];
    struct nvdp_mac_ctx *mac;
};

/* A key file's keys; key[0] is the one we send with, every one is
 * accepted. */
struct nvdp_keyring {
    unsigned n;
    struct nvdp_key key[NVDP_KEYS_MAX];
};

/* Key file text: lines "ID HEX" (ID 1..65535, HEX 32..64 bytes), '#'
 * comments; the first key is the send key. 0, or -1 with err filled. */
int nvdp_keyring_parse(struct nvdp_keyring *kr, const char *text, char *err,
                       size_t errlen);
/* Reads path, which must be a regular file owned by root or by us and
 * neither readable nor writable by group or others (refused with the
 * reason in err). 0 / -1. */
int nvdp_keyring_load(struct nvdp_keyring *kr, const char *path, char *err,
                      size_t errlen);
void nvdp_keyring_free(struct nvdp_keyring *kr);
const struct nvdp_key *nvdp_keyring_find(const struct nvdp_keyring *kr,
                                         uint16_t id);

/* HMAC-SHA256(key, dst || src || frame) with the last NVDP_HMAC_LEN bytes
 * of frame (the AUTH TLV's hmac field) taken as zero. 0 / -1. */
int nvdp_auth_hmac(const struct nvdp_key *k, const uint8_t dst[6],
                   const uint8_t src[6], const uint8_t *frame, size_t len,
                   uint8_t out[NVDP_HMAC_LEN]);
/* Appends the AUTH TLV (k, ctr) to the finished frame buf/len (cap bytes
 * of room) from src to dst: flag, header length and HMAC. The new length,
 * or 0 when it does not fit or the HMAC fails. */
size_t nvdp_auth_sign(const struct nvdp_key *k, uint64_t ctr,
                      const uint8_t dst[6], const uint8_t src[6], uint8_t *buf,
                      size_t len, size_t cap);

enum {
    NVDP_AUTH_GOOD = 0,
    NVDP_AUTH_NOKEY = -1, /* key_id not configured */
    NVDP_AUTH_BADMAC = -2,
};
/* Checks the AUTH TLV of frame buf, opened into rd with the flag (rd->auth
 * set), against kr: NVDP_AUTH_GOOD with *key_id and *ctr, or the failure
 * (*key_id set). The comparison is constant-time (CRYPTO_memcmp). */
int nvdp_auth_verify(const struct nvdp_keyring *kr, const uint8_t dst[6],
                     const uint8_t src[6], const uint8_t *buf,
                     const struct nvdp_reader *rd, uint16_t *key_id,
                     uint64_t *ctr);

/* The counters a receiver accepted from one peer: the highest and a bitmap
 * of the NVDP_REPLAY_WINDOW below it, for the sender's epoch. */
struct nvdp_replay {
    uint64_t top;
    uint64_t seen; /* bit i: top - i accepted */
    uint32_t epoch;
    uint8_t valid;
};
enum {
    NVDP_REPLAY_NEW = 0,
    NVDP_REPLAY_DUP = -1,   /* accepted before */
    NVDP_REPLAY_OLD = -2,   /* behind the window */
    NVDP_REPLAY_EPOCH = -3, /* another epoch, not ahead of the highest */
};
/* Whether (ctr, epoch) may be accepted: new within or ahead of the window
 * in the peer's epoch; a changed epoch (a restart) only ahead of every
 * counter accepted. r unchanged. */
int nvdp_replay_check(const struct nvdp_replay *r, uint64_t ctr,
                      uint32_t epoch);
/* Records (ctr, epoch) after nvdp_replay_check said new and the frame
 * authenticated. */
void nvdp_replay_accept(struct nvdp_replay *r, uint64_t ctr, uint32_t epoch);

#endif
