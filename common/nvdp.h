/* nvdp.h - NVDP wire format: constants, decoded message structs, codec API.
 * The normative definition is protocol-spec/nvdp.md; this header mirrors it. */
#ifndef NVDP_H
#define NVDP_H

#include <stddef.h>
#include <stdint.h>

/* ---- Ethernet framing ------------------------------------------------ */
#define NVDP_ETHERTYPE_DEFAULT 0x88B5 /* IEEE 802 local experimental 1 */
/* Locally administered group address: 03:4E:56:44:50:00 ("NVDP"). Linux
 * bridges and 802.1Q bridges forward it (it is not in 01:80:C2:00:00:0x),
 * so a station reaches the NVE through a bridged access network. */
#define NVDP_GROUP_MAC_DEFAULT {0x03, 0x4e, 0x56, 0x44, 0x50, 0x00}
/* The same as text, for configuration defaults (test_util checks both). */
#define NVDP_GROUP_MAC_DEFAULT_STR "03:4e:56:44:50:00"
#define NVDP_ETH_HLEN 14

/* ---- Fixed header (12 bytes after the EtherType) ---------------------- */
#define NVDP_VERSION 1
#define NVDP_HDR_LEN 12
#define NVDP_HF_AUTH 0x01 /* frame ends with an AUTH TLV */
#define NVDP_HF_MASK 0x01 /* flags a sender may set; others sent as 0 */

struct nvdp_hdr {
    uint8_t version;
    uint8_t flags;
    uint16_t length;     /* bytes of TLV area after the header */
    uint32_t epoch;      /* sender's boot epoch, never 0 */
    uint32_t peer_epoch; /* receiver's epoch as last heard by sender, 0 = none */
};

/* ---- TLVs ------------------------------------------------------------ */
#define NVDP_TLV_HLEN 4
#define NVDP_TLV_M 0x8000 /* mandatory: unknown => reject, else skip */

/* Top-level message TLVs. Every request's value starts with a u32 txid. */
enum nvdp_msg_type {
    NVDP_MSG_HELLO = 0x8001,
    NVDP_MSG_RESPONSE = 0x8002,
    NVDP_MSG_VN_CONNECT = 0x8003,
    NVDP_MSG_VN_DISCONNECT = 0x8004,
    NVDP_MSG_ASSOC = 0x8005,
    NVDP_MSG_DISASSOC = 0x8006,
    NVDP_MSG_VNIC_DISASSOC = 0x8007,
    NVDP_MSG_PREASSOC = 0x8008,
    NVDP_MSG_WITHDRAW = 0x8009, /* NVE -> hypervisor */
    NVDP_MSG_RESYNC = 0x800A,
    NVDP_MSG_VNIC_STATE = 0x800B,
    NVDP_MSG_AUTH = 0x80FF, /* reserved; see spec section "Authentication" */
};

/* Sub-TLVs inside a message's value, after its fixed fields. */
enum nvdp_sub_type {
    NVDP_SUB_VNIC = 0x8101,      /* 16: VNIC UUID */
    NVDP_SUB_VN_UUID = 0x8102,   /* 16: VN Name UUID */
    NVDP_SUB_VNI = 0x8103,       /* 4: 24-bit VN ID, top byte 0 */
    NVDP_SUB_TAG = 0x8104,       /* 2: 802.1Q VID 1..4094 */
    NVDP_SUB_TAG_HINT = 0x8105,  /* 2: VID the sender had before */
    NVDP_SUB_INTENT = 0x8106,    /* 1: enum nvdp_intent */
    NVDP_SUB_FLAGS = 0x8107,     /* 4: NVDP_RF_* */
    NVDP_SUB_REASON = 0x8108,    /* 1..255: UTF-8 text */
    NVDP_SUB_NAME = 0x8109,      /* 1..64: system name (HELLO) */
    NVDP_SUB_STATE = 0x810A,     /* 1: enum nvdp_vnic_state */
    NVDP_SUB_PHASE = 0x810B,     /* 1: enum nvdp_resync_phase */
    NVDP_SUB_ADDR_MAC = 0x8110,  /* 6 */
    NVDP_SUB_ADDR_IP4 = 0x8111,  /* 6 + 4 */
    NVDP_SUB_ADDR_IP6 = 0x8112,  /* 6 + 16 */
    NVDP_SUB_ADDR_PFX4 = 0x8113, /* 6 + 4 + 1 */
    NVDP_SUB_ADDR_PFX6 = 0x8114, /* 6 + 16 + 1 */
    NVDP_SUB_ADDR_RNG4 = 0x8115, /* 6 + 4 + 4 */
    NVDP_SUB_ADDR_RNG6 = 0x8116, /* 6 + 16 + 16 */
};

enum nvdp_status {
    NVDP_ST_OK = 0,
    NVDP_ST_UNKNOWN_VN = 1,
    NVDP_ST_NOT_AUTHORISED = 2,
    NVDP_ST_NO_TAGS = 3,
    NVDP_ST_LIMIT = 4,
    NVDP_ST_MALFORMED = 5,
    NVDP_ST_UNSUPPORTED = 6,
    NVDP_ST_NOT_CONNECTED = 7,
    NVDP_ST_CONFLICT = 8,
    NVDP_ST_UNKNOWN_VNIC = 9,
    NVDP_ST_INTERNAL = 10,
    NVDP_ST_MAX = 10,
};

enum nvdp_role { NVDP_ROLE_HV = 1, NVDP_ROLE_NVE = 2 };
enum nvdp_intent { NVDP_INTENT_SHUTDOWN = 1, NVDP_INTENT_MIGRATION = 2 };
enum nvdp_vnic_state { NVDP_VNIC_DOWN = 1, NVDP_VNIC_UP = 2 };
enum nvdp_resync_phase { NVDP_RESYNC_BEGIN = 1, NVDP_RESYNC_END = 2 };
#define NVDP_RF_RR 0x00000001 /* PREASSOC: reserve resources (allocate tag) */
/* AUTH value: key_id(2) reserved(2) replay_counter(8) hmac_sha256(32) */
#define NVDP_AUTH_LEN 44

/* Limits */
#define NVDP_MAX_ADDRS 64   /* addresses in one message */
#define NVDP_MAX_REASON 255
#define NVDP_MAX_NAME 64
#define NVDP_TAG_MIN 1
#define NVDP_TAG_MAX 4094
#define NVDP_VNI_MAX 0xFFFFFF
#define NVDP_MTU_DEFAULT 1500 /* Ethernet payload; TLV area <= MTU - 12 */
#define NVDP_FRAME_MAX 9216   /* largest frame buffer we ever handle */

/* ---- Decoded forms --------------------------------------------------- */
struct nvdp_uuid {
    uint8_t b[16];
};

enum nvdp_vn_kind { NVDP_VN_NONE = 0, NVDP_VN_UUID = 1, NVDP_VN_VNI = 2 };
struct nvdp_vn {
    uint8_t kind; /* enum nvdp_vn_kind */
    uint32_t vni;
    struct nvdp_uuid uuid;
};

enum nvdp_addr_kind {
    NVDP_ADDR_MAC = 0, /* MAC only */
    NVDP_ADDR_HOST,    /* MAC + one IP */
    NVDP_ADDR_PREFIX,  /* MAC + IP prefix */
    NVDP_ADDR_RANGE,   /* MAC + first..last IP */
};
struct nvdp_addr {
    uint8_t mac[6];
    uint8_t kind;   /* enum nvdp_addr_kind */
    uint8_t family; /* 0 (MAC only), 4 or 6 */
    uint8_t plen;   /* PREFIX only */
    uint8_t ip[16]; /* IPv4 in the first 4 bytes */
    uint8_t ip_hi[16]; /* RANGE only: last address */
};

struct nvdp_hello {
    uint8_t role; /* enum nvdp_role */
    uint8_t flags;
    uint16_t hold_time;      /* seconds the receiver keeps our soft state */
    uint16_t hello_interval; /* milliseconds between our hellos */
    uint16_t window;         /* requests we accept outstanding */
    char name[NVDP_MAX_NAME + 1];
};

/* One message (any top-level TLV but AUTH). Fields not carried are zero;
 * has_* says which optional sub-TLVs were present. */
struct nvdp_msg {
    uint16_t type; /* enum nvdp_msg_type */
    uint32_t txid; /* requests and RESPONSE */
    /* RESPONSE */
    uint16_t status;   /* enum nvdp_status */
    uint16_t req_type; /* message type the RESPONSE answers */
    /* HELLO */
    struct nvdp_hello hello;
    /* requests */
    uint8_t has_vnic, has_tag, has_tag_hint, has_intent, has_flags,
        has_state, has_phase;
    struct nvdp_uuid vnic;
    struct nvdp_vn vn;
    uint16_t tag;
    uint16_t tag_hint;
    uint8_t intent;
    uint8_t state;
    uint8_t phase;
    uint32_t rflags;
    char reason[NVDP_MAX_REASON + 1];
    uint16_t naddr;
    struct nvdp_addr addr[NVDP_MAX_ADDRS];
};

/* ---- Codec errors (negative returns) --------------------------------- */
enum nvdp_err {
    NVDP_OK = 0,
    NVDP_E_SHORT = -1,       /* truncated frame / TLV / field */
    NVDP_E_VERSION = -2,     /* unsupported version */
    NVDP_E_LENGTH = -3,      /* length field inconsistent or out of bounds */
    NVDP_E_UNKNOWN = -4,     /* unknown mandatory TLV */
    NVDP_E_VALUE = -5,       /* a field's value is out of range */
    NVDP_E_DUP = -6,         /* sub-TLV repeated where only one is allowed */
    NVDP_E_MISSING = -7,     /* required sub-TLV absent */
    NVDP_E_TOOMANY = -8,     /* more than NVDP_MAX_ADDRS addresses */
    NVDP_E_NOSPACE = -9,     /* encoder: output buffer too small */
    NVDP_E_AUTH = -10,       /* AUTH TLV misplaced or flag mismatch */
};
const char *nvdp_strerror(int err);
const char *nvdp_status_str(uint16_t status);  /* "ok", "unknown-vn", ... */
const char *nvdp_msg_name(uint16_t type);     /* "vn-connect", ... */
/* Which decode error maps to which status in a RESPONSE. */
uint16_t nvdp_err_status(int err);

/* ---- Decoding -------------------------------------------------------- */
/* Iterator over one frame's messages. buf starts at the NVDP header (after
 * the EtherType); len is what the socket delivered (may include Ethernet
 * padding, which the header's length field lets us ignore). */
struct nvdp_reader {
    const uint8_t *p;
    size_t left;
    struct nvdp_hdr hdr;
    uint32_t skipped; /* unknown non-mandatory TLVs skipped so far */
    /* With NVDP_HF_AUTH: the AUTH TLV's value (NVDP_AUTH_LEN bytes, last in
     * the frame, already cut off the message area), else NULL. */
    const uint8_t *auth;
};
/* Parses and validates the fixed header; 0 or a negative nvdp_err. */
int nvdp_frame_open(struct nvdp_reader *r, const uint8_t *buf, size_t len);
/* Next message: 1 = msg filled, 0 = end of frame, <0 = error. On an error
 * inside a message, msg->type is valid and msg->txid too if it could be read
 * (0 = none: do not answer); this includes unknown mandatory message types
 * (NVDP_E_UNKNOWN), which are requests by definition. The caller answers a
 * request with nvdp_err_status(err); the reader has already skipped that
 * message and the next call continues. An error in framing (bad TLV length)
 * ends the frame: later calls return 0. Unknown optional TLVs are skipped
 * and counted in r->skipped. */
int nvdp_frame_next(struct nvdp_reader *r, struct nvdp_msg *msg);

/* ---- Encoding -------------------------------------------------------- */
/* Builds one frame into a caller's buffer: header, then messages appended
 * while they fit. buf starts at the NVDP header. */
struct nvdp_writer {
    uint8_t *buf;
    size_t cap; /* NVDP header + TLVs: normally MTU */
    size_t len;
    uint16_t nmsg;
};
void nvdp_writer_init(struct nvdp_writer *w, uint8_t *buf, size_t cap,
                      uint32_t epoch, uint32_t peer_epoch);
/* Appends msg; returns 0, or NVDP_E_NOSPACE leaving the frame unchanged
 * (the caller sends what it has and starts a new frame). Sub-TLVs go out in
 * the canonical order of the spec; required ones always, optional ones when
 * their has_* flag is set (VN: vn.kind, NAME/REASON: non-empty, addresses:
 * naddr). A message the decoder would refuse is refused with the same
 * error (E_VALUE, E_MISSING, E_TOOMANY; E_UNKNOWN for an unknown type or
 * AUTH), the frame unchanged. */
int nvdp_writer_add(struct nvdp_writer *w, const struct nvdp_msg *msg);
/* Size msg would take in a frame (TLV header included). */
size_t nvdp_msg_size(const struct nvdp_msg *msg);
/* Fixes up the header length; returns the frame length from the header. */
size_t nvdp_writer_finish(struct nvdp_writer *w);

/* ---- Helpers shared by the daemons and the CLI ----------------------- */
/* Text buffers for the formatters: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
 * and "aa:bb:cc:dd:ee:ff", with their NUL. */
#define NVDP_UUID_STRLEN 37
#define NVDP_MAC_STRLEN 18
int nvdp_uuid_parse(const char *s, struct nvdp_uuid *u);  /* 0 / -1 */
void nvdp_uuid_fmt(const struct nvdp_uuid *u, char out[NVDP_UUID_STRLEN]);
int nvdp_mac_parse(const char *s, uint8_t mac[6]);        /* 0 / -1 */
void nvdp_mac_fmt(const uint8_t mac[6], char out[NVDP_MAC_STRLEN]);
/* "10.0.0.1", "2001:db8::1", "10.0.0.0/24", "10.0.0.1-10.0.0.9" with a MAC
 * given separately; "" or NULL means MAC only. 0 / -1. */
int nvdp_addr_parse(const uint8_t mac[6], const char *ip, struct nvdp_addr *a);
/* Formats the IP part ("" for MAC only) into out (>= 96 bytes). */
void nvdp_addr_fmt_ip(const struct nvdp_addr *a, char *out, size_t outlen);
/* "vni:10100", "uuid:<uuid>", a bare number (VNI) or a bare UUID. */
int nvdp_vn_parse(const char *s, struct nvdp_vn *vn);
void nvdp_vn_fmt(const struct nvdp_vn *vn, char *out, size_t outlen);
int nvdp_vn_equal(const struct nvdp_vn *a, const struct nvdp_vn *b);
int nvdp_addr_equal(const struct nvdp_addr *a, const struct nvdp_addr *b);
/* A new boot epoch for the header: never 0, differs across restarts. */
uint32_t nvdp_epoch_new(void);
/* 1 if a is what the wire allows: unicast non-zero MAC, family matching the
 * kind, prefix length in range with host bits zero, range first <= last. */
int nvdp_addr_valid(const struct nvdp_addr *a);
/* Text from a peer (NAME, REASON) made safe to log or print, in place:
 * control characters (C0, DEL, C1 as UTF-8) become '?'. */
void nvdp_text_sanitise(char *s);
/* Zeroes *m but for its address list (naddr is 0) and sets its type: how
 * every message we build starts (the list is large and filled by naddr). */
void nvdp_msg_init(struct nvdp_msg *m, uint16_t type);
/* Fills *m with a HELLO (name truncated to NVDP_MAX_NAME). addr[] is left
 * as it is: naddr is 0. */
void nvdp_hello_msg(struct nvdp_msg *m, uint8_t role, uint16_t hold_time,
                    uint16_t hello_interval, uint16_t window,
                    const char *name);

#endif
