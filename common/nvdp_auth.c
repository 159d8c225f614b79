/* nvdp_auth.c - NVDP authentication (spec section 14): key files, the AUTH
 * TLV's HMAC-SHA256 from OpenSSL (no crypto of our own), the replay
 * window. */
#include "config.h"
#include "nvdp_auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

uint64_t
nvdp_auth_counter_start(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- policy -------------------------------------------------------------- */

static const char *const policy_names[] = {"off", "optional", "required"};

int
nvdp_auth_policy_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, policy_names[i]) == 0)
            return i;
    return -1;
}

const char *
nvdp_auth_policy_name(int policy)
{
    return policy >= 0 && policy < 3 ? policy_names[policy] : "?";
}

/* ---- keys ---------------------------------------------------------------- */

/* The key's HMAC context is keyed once; each frame re-initialises it with
 * the same key (EVP_MAC_init without a key), so no key schedule per frame. */
static int
key_setup(struct nvdp_key *k)
{
    OSSL_PARAM params[2];
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
        return -1;
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (ctx == NULL)
        return -1;
    if (!EVP_MAC_init(ctx, k->k, k->len, params)) {
        EVP_MAC_CTX_free(ctx);
        return -1;
    }
    k->mac = (struct nvdp_mac_ctx *)ctx;
    return 0;
}

void
nvdp_keyring_free(struct nvdp_keyring *kr)
{
    for (unsigned i = 0; i < kr->n; i++) {
        EVP_MAC_CTX_free((EVP_MAC_CTX *)kr->key[i].mac);
        OPENSSL_cleanse(kr->key[i].k, sizeof(kr->key[i].k));
    }
    memset(kr, 0, sizeof(*kr));
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One line "ID HEX" into k. 0 / -1 with err. */
static int
parse_line(struct nvdp_key *k, const char *p, char *err, size_t errlen)
{
    unsigned long id;
    char *end;
    size_t n = 0;

    errno = 0;
    id = strtoul(p, &end, 10); /* the key follows: *end is a space */
    if (end == p || errno || id < 1 || id > 65535 ||
        !isspace((unsigned char)*end)) {
        snprintf(err, errlen, "key id must be 1..65535");
        return -1;
    }
    k->id = (uint16_t)id;
    for (p = end; isspace((unsigned char)*p); p++)
        ;
    for (; *p && !isspace((unsigned char)*p); p += 2) {
        int hi = hexval((unsigned char)p[0]);
        int lo = p[1] ? hexval((unsigned char)p[1]) : -1;
        if (hi < 0 || lo < 0 || n == NVDP_KEY_MAX) {
            snprintf(err, errlen, "key %u: %d to %d bytes in hex", k->id,
                     NVDP_KEY_MIN, NVDP_KEY_MAX);
            return -1;
        }
        k->k[n++] = (uint8_t)(hi << 4 | lo);
    }
    while (isspace((unsigned char)*p))
        p++;
    if (n < NVDP_KEY_MIN || *p) {
        snprintf(err, errlen, "key %u: %d to %d bytes in hex", k->id,
                 NVDP_KEY_MIN, NVDP_KEY_MAX);
        return -1;
    }
    k->len = (uint8_t)n;
    return 0;
}

int
nvdp_keyring_parse(struct nvdp_keyring *kr, const char *text, char *err,
                   size_t errlen)
{
    char line[512], lerr[128];
    unsigned lineno = 0;

    memset(kr, 0, sizeof(*kr));
    while (*text) {
        size_t n = strcspn(text, "\n");
        char *p = line;
        lineno++;
        if (n >= sizeof(line)) {
            snprintf(err, errlen, "line %u: too long", lineno);
            goto fail;
        }
        memcpy(line, text, n);
        line[n] = 0;
        text += n + (text[n] == '\n');
        line[strcspn(line, "#")] = 0;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == 0)
            continue;
        if (kr->n == NVDP_KEYS_MAX) {
            snprintf(err, errlen, "line %u: at most %d keys", lineno,
                     NVDP_KEYS_MAX);
            goto fail;
        }
        if (parse_line(&kr->key[kr->n], p, lerr, sizeof(lerr)) < 0) {
            snprintf(err, errlen, "line %u: %s", lineno, lerr);
            goto fail;
        }
        if (nvdp_keyring_find(kr, kr->key[kr->n].id) != NULL) {
            snprintf(err, errlen, "line %u: key %u twice", lineno,
                     kr->key[kr->n].id);
            goto fail;
        }
        if (key_setup(&kr->key[kr->n]) < 0) {
            snprintf(err, errlen, "HMAC-SHA256 not available from libcrypto");
            goto fail;
        }
        kr->n++;
    }
    OPENSSL_cleanse(line, sizeof(line));
    if (kr->n == 0) {
        snprintf(err, errlen, "no key");
        return -1;
    }
    return 0;
fail:
    OPENSSL_cleanse(line, sizeof(line));
    nvdp_keyring_free(kr);
    return -1;
}

int
nvdp_keyring_load(struct nvdp_keyring *kr, const char *path, char *err,
                  size_t errlen)
{
    char text[4096], perr[160];
    struct stat st;
    ssize_t n;
    int fd, rc;

    memset(kr, 0, sizeof(*kr));
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* fstat on what we opened: no window between check and read */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        /* its owner could change it: the same rule as the configuration
         * file's (conf_file_check) */
        snprintf(err, errlen, "%s: owned by uid %u, not by root or us", path,
                 (unsigned)st.st_uid);
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen,
                 "%s: mode %03o: a key file must not be accessible by group "
                 "or others (chmod 600)",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0 || (size_t)n == sizeof(text) - 1) {
        snprintf(err, errlen, "%s: %s", path,
                 n < 0 ? strerror(errno) : "too large");
        OPENSSL_cleanse(text, sizeof(text));
        return -1;
    }
    text[n] = 0;
    rc = nvdp_keyring_parse(kr, text, perr, sizeof(perr));
    OPENSSL_cleanse(text, sizeof(text));
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, perr);
    return rc;
}

const struct nvdp_key *
nvdp_keyring_find(const struct nvdp_keyring *kr, uint16_t id)
{
    for (unsigned i = 0; i < kr->n; i++)
        if (kr->key[i].id == id)
            return &kr->key[i];
    return NULL;
}

/* ---- the AUTH TLV --------------------------------------------------------- */

int
nvdp_auth_hmac(const struct nvdp_key *k, const uint8_t dst[6],
               const uint8_t src[6], const uint8_t *frame, size_t len,
               uint8_t out[NVDP_HMAC_LEN])
{
    static const uint8_t zero[NVDP_HMAC_LEN];
    EVP_MAC_CTX *ctx = (EVP_MAC_CTX *)k->mac;
    size_t olen = 0;

    if (ctx == NULL || len < NVDP_HMAC_LEN || !EVP_MAC_init(ctx, NULL, 0, NULL))
        return -1;
    if (!EVP_MAC_update(ctx, dst, 6) || !EVP_MAC_update(ctx, src, 6) ||
        !EVP_MAC_update(ctx, frame, len - NVDP_HMAC_LEN) ||
        !EVP_MAC_update(ctx, zero, NVDP_HMAC_LEN) ||
        !EVP_MAC_final(ctx, out, &olen, NVDP_HMAC_LEN) || olen != NVDP_HMAC_LEN)
        return -1;
    return 0;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

size_t
nvdp_auth_sign(const struct nvdp_key *k, uint64_t ctr, const uint8_t dst[6],
               const uint8_t src[6], uint8_t *buf, size_t len, size_t cap)
{
    uint8_t *t = buf + len;
    size_t tlv;

    if (len < NVDP_HDR_LEN || cap < len + NVDP_AUTH_TLV_LEN)
        return 0;
    tlv = len + NVDP_AUTH_TLV_LEN - NVDP_HDR_LEN;
    if (tlv > NVDP_FRAME_MAX - NVDP_HDR_LEN)
        return 0;
    buf[1] |= NVDP_HF_AUTH;
    put_be(buf + 2, tlv, 2);
    put_be(t, NVDP_MSG_AUTH, 2);
    put_be(t + 2, NVDP_AUTH_LEN, 2);
    put_be(t + 4, k->id, 2);
    put_be(t + 6, 0, 2); /* reserved */
    put_be(t + 8, ctr, 8);
    len += NVDP_AUTH_TLV_LEN;
    if (nvdp_auth_hmac(k, dst, src, buf, len, buf + len - NVDP_HMAC_LEN) < 0)
        return 0;
    return len;
}

int
nvdp_auth_verify(const struct nvdp_keyring *kr, const uint8_t dst[6],
                 const uint8_t src[6], const uint8_t *buf,
                 const struct nvdp_reader *rd, uint16_t *key_id, uint64_t *ctr)
{
    const struct nvdp_key *k;
    uint8_t want[NVDP_HMAC_LEN];
    int bad;

    *key_id = (uint16_t)get_be(rd->auth, 2);
    *ctr = get_be(rd->auth + 4, 8);
    if (kr == NULL || (k = nvdp_keyring_find(kr, *key_id)) == NULL)
        return NVDP_AUTH_NOKEY;
    if (nvdp_auth_hmac(k, dst, src, buf, NVDP_HDR_LEN + rd->hdr.length, want) <
        0)
        return NVDP_AUTH_BADMAC;
    bad = CRYPTO_memcmp(want, rd->auth + 12, NVDP_HMAC_LEN);
    return bad ? NVDP_AUTH_BADMAC : NVDP_AUTH_GOOD;
}

/* ---- the replay window ------------------------------------------------------ */

int
nvdp_replay_check(const struct nvdp_replay *r, uint64_t ctr, uint32_t epoch)
{
    if (!r->valid || ctr > r->top)
        return NVDP_REPLAY_NEW;
    /* A restart moves the counter forward (the sender's counter never
     * repeats across its restarts): an earlier incarnation's frame is not
     * ahead of what the current one sent. */
    if (epoch != r->epoch)
        return NVDP_REPLAY_EPOCH;
    if (r->top - ctr >= NVDP_REPLAY_WINDOW)
        return NVDP_REPLAY_OLD;
    if (r->seen & (1ULL << (r->top - ctr)))
        return NVDP_REPLAY_DUP;
    return NVDP_REPLAY_NEW;
}

void
nvdp_replay_accept(struct nvdp_replay *r, uint64_t ctr, uint32_t epoch)
{
    if (!r->valid || epoch != r->epoch) {
        r->valid = 1;
        r->epoch = epoch;
        r->top = ctr;
        r->seen = 1;
    } else if (ctr > r->top) {
        uint64_t shift = ctr - r->top;
        r->seen = shift >= NVDP_REPLAY_WINDOW ? 1 : r->seen << shift | 1;
        r->top = ctr;
    } else {
        r->seen |= 1ULL << (r->top - ctr);
    }
}
