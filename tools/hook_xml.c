/* hook_xml.c - parses a libvirt domain XML (libxml2) into the list of VNICs
 * the hook attaches, and derives stable VNIC UUIDs (UUIDv5, from libuuid). */
#include "hook_xml.h"
#include "nvdp.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* ---- small parsers: libnvdp's, in the forms the hook needs ---------- */
/* Normalises a UUID to lower case with dashes; -1 if not a UUID. out may
 * be s. */
static int uuid_norm(const char *s, char out[NVDP_UUID_STRLEN])
{
    struct nvdp_uuid u;
    if (nvdp_uuid_parse(s, &u) < 0)
        return -1;
    nvdp_uuid_fmt(&u, out);
    return 0;
}

/* Normalises "52:54:00:AB:cd:01" to lower case with colons; -1 if not a MAC. */
static int mac_norm(const char *s, char out[NVDP_MAC_STRLEN])
{
    uint8_t m[6];
    if (nvdp_mac_parse(s, m) < 0)
        return -1;
    nvdp_mac_fmt(m, out);
    return 0;
}

int hook_vnic_uuid(const char *dom_uuid, const char *mac,
                   char out[NVDP_UUID_STRLEN])
{
    struct nvdp_uuid ns, v5;
    char dnorm[NVDP_UUID_STRLEN], mnorm[NVDP_MAC_STRLEN], name[64];

    if (nvdp_uuid_parse(HOOK_UUID_NS, &ns) < 0 ||
        uuid_norm(dom_uuid, dnorm) < 0 || mac_norm(mac, mnorm) < 0)
        return -1;
    snprintf(name, sizeof(name), "%s/%s", dnorm, mnorm);
    /* UUIDv5 (RFC 4122 4.3): SHA-1 over namespace + name, version and
     * variant set. libuuid (util-linux), not libcrypto: loading libcrypto
     * cost every hook call milliseconds of CPU before any work. */
    uuid_generate_sha1(v5.b, ns.b, name, strlen(name));
    nvdp_uuid_fmt(&v5, out);
    return 0;
}

/* ---- XML walking ------------------------------------------------------ */
static int is_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static int is_ours(const xmlNode *n, const char *name)
{
    return is_el(n, name) && n->ns && n->ns->href &&
           !strcmp((const char *)n->ns->href, HOOK_NS_URI);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is_el(c, name))
            return c;
    return NULL;
}

/* Copies attribute name of n into out (empty if absent); 1 if present. */
static int attr(const xmlNode *n, const char *name, char *out, size_t outlen)
{
    xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
    if (outlen)
        out[0] = 0;
    if (!v)
        return 0;
    snprintf(out, outlen, "%s", (const char *)v);
    xmlFree(v);
    return 1;
}

static void text_of(const xmlNode *n, char *out, size_t outlen)
{
    xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
    out[0] = 0;
    if (!v)
        return;
    /* trim: libvirt pretty-prints <uuid> on its own line sometimes */
    const char *s = (const char *)v;
    while (isspace((unsigned char)*s))
        s++;
    snprintf(out, outlen, "%s", s);
    for (size_t l = strlen(out); l && isspace((unsigned char)out[l - 1]); l--)
        out[l - 1] = 0;
    xmlFree(v);
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void add_ip(struct hook_iface *f, const char *ip)
{
    if (!ip[0] || f->nips == HOOK_MAX_IPS)
        return;
    for (int i = 0; i < f->nips; i++)
        if (!strcmp(f->ips[i], ip))
            return;
    snprintf(f->ips[f->nips++], sizeof(f->ips[0]), "%s", ip);
}

/* Our metadata element: per-MAC VNs and an optional default. */
static int apply_metadata(const xmlNode *vnics, struct hook_domain *d,
                          char *err, size_t errlen)
{
    for (const xmlNode *c = vnics->children; c; c = c->next) {
        char mac[64], nmac[NVDP_MAC_STRLEN], vn[HOOK_STR], vnic[64];
        char nvnic[NVDP_UUID_STRLEN] = "";
        char ip[64];

        if (!is_ours(c, "vn"))
            continue;
        if (!attr(c, "name", vn, sizeof(vn)) || !vn[0]) {
            seterr(err, errlen, "metadata: <nvdp:vn> without name");
            return -1;
        }
        attr(c, "vnic", vnic, sizeof(vnic));
        if (vnic[0] && uuid_norm(vnic, nvnic) < 0) {
            seterr(err, errlen, "metadata: bad vnic UUID '%s'", vnic);
            return -1;
        }
        if (!attr(c, "mac", mac, sizeof(mac))) {
            /* default VN: interfaces not named by MAC */
            for (int i = 0; i < d->niface; i++)
                if (d->iface[i].vn_src != HOOK_VN_METADATA) {
                    snprintf(d->iface[i].vn, HOOK_STR, "%s", vn);
                    d->iface[i].vn_src = HOOK_VN_DEFAULT;
                }
            continue;
        }
        if (mac_norm(mac, nmac) < 0) {
            seterr(err, errlen, "metadata: bad mac '%s'", mac);
            return -1;
        }
        int found = 0;
        for (int i = 0; i < d->niface; i++) {
            struct hook_iface *f = &d->iface[i];
            if (strcmp(f->mac, nmac))
                continue;
            found = 1;
            snprintf(f->vn, HOOK_STR, "%s", vn);
            f->vn_src = HOOK_VN_METADATA;
            if (nvnic[0])
                memcpy(f->vnic, nvnic, sizeof(f->vnic));
            for (const xmlNode *p = c->children; p; p = p->next)
                if (is_ours(p, "ip") && attr(p, "address", ip, sizeof(ip)))
                    add_ip(f, ip);
        }
        if (!found) {
            seterr(err, errlen, "metadata names mac %s but the domain has no "
                   "interface with that mac", nmac);
            return -1;
        }
    }
    return 0;
}

static int parse_iface(const xmlNode *n, struct hook_iface *f,
                       const struct hook_maps *maps, int idx, char *err,
                       size_t errlen)
{
    const xmlNode *c;
    char buf[HOOK_STR], net[HOOK_STR];

    memset(f, 0, sizeof(*f));
    attr(n, "type", f->type, sizeof(f->type));
    if (!attr(child(n, "mac"), "address", buf, sizeof(buf))) {
        /* libvirt always fills in a MAC in the XML it hands to hooks */
        seterr(err, errlen, "interface %d has no <mac address>", idx);
        return -1;
    }
    if (mac_norm(buf, f->mac) < 0) {
        seterr(err, errlen, "interface %d: bad mac '%s'", idx, buf);
        return -1;
    }
    /* host-side name: <target dev> (qemu; lxc at "started"), or lxc's
     * <guest actual> at "start" before <target> is filled in */
    if (!attr(child(n, "target"), "dev", f->ifname, sizeof(f->ifname)))
        attr(child(n, "guest"), "actual", f->ifname, sizeof(f->ifname));
    for (c = n->children; c; c = c->next)
        if (is_el(c, "ip") && attr(c, "address", buf, sizeof(buf)))
            add_ip(f, buf);

    c = child(n, "source");
    attr(c, "network", net, sizeof(net));
    if (attr(c, "portgroup", buf, sizeof(buf)) && buf[0] &&
        snprintf(f->portgroup, sizeof(f->portgroup), "%s/%s", net, buf) >=
            (int)sizeof(f->portgroup)) {
        /* a truncated name could match another portgroup's map entry */
        seterr(err, errlen, "interface %s: network/portgroup name too long",
               f->mac);
        return -1;
    }

    c = child(n, "virtualport");
    if (c && attr(c, "type", buf, sizeof(buf)) && !strcmp(buf, "802.1Qbg")) {
        const xmlNode *p = child(c, "parameters");
        char *end;
        f->has_qbg = 1;
        if (attr(p, "typeid", buf, sizeof(buf))) {
            unsigned long v = strtoul(buf, &end, 0);
            if (!buf[0] || *end || v > 0xFFFFFF) {
                seterr(err, errlen, "interface %s: bad 802.1Qbg typeid '%s'",
                       f->mac, buf);
                return -1;
            }
            f->qbg_typeid = (uint32_t)v;
        }
        if (attr(p, "instanceid", buf, sizeof(buf))) {
            if (uuid_norm(buf, f->vnic) < 0) {
                seterr(err, errlen, "interface %s: bad 802.1Qbg instanceid "
                       "'%s'", f->mac, buf);
                return -1;
            }
            f->vnic_from_qbg = 1;
        }
    }

    const char *vn = NULL;
    if (f->has_qbg && maps && maps->by_typeid &&
        (vn = maps->by_typeid(f->qbg_typeid, maps->arg)))
        f->vn_src = HOOK_VN_QBG;
    else if (f->portgroup[0] && maps && maps->by_portgroup) {
        char *pg = strchr(f->portgroup, '/');
        *pg = 0;
        vn = maps->by_portgroup(f->portgroup, pg + 1, maps->arg);
        *pg = '/';
        if (vn)
            f->vn_src = HOOK_VN_PORTGROUP;
    }
    if (vn)
        snprintf(f->vn, sizeof(f->vn), "%s", vn);
    return 0;
}

/* After all sources are applied: UUIDs, and passthrough refusals. */
static int finish_iface(const struct hook_domain *d, struct hook_iface *f,
                        char *err, size_t errlen)
{
    if (f->vn_src == HOOK_VN_NONE)
        return 0;
    if (!f->vnic[0] && hook_vnic_uuid(d->uuid, f->mac, f->vnic) < 0) {
        seterr(err, errlen, "cannot derive a VNIC UUID for %s", f->mac);
        return -1;
    }
    /* The VF's frames never cross a host interface we can tag, so an
     * explicit VN on it is a configuration error, not something to
     * silently leave untagged. */
    if (!strcmp(f->type, "hostdev") || !strcmp(f->type, "vdpa")) {
        f->refused = 1;
        snprintf(f->reason, sizeof(f->reason),
                 "interface %s is type '%s' (passthrough): the hypervisor "
                 "cannot tag its traffic", f->mac, f->type);
    }
    return 0;
}

int hook_xml_parse(const char *buf, size_t len, const struct hook_maps *maps,
                   struct hook_domain *d, char *err, size_t errlen)
{
    xmlDoc *doc;
    const xmlNode *root, *devs, *md, *n;
    int rc = -1;

    memset(d, 0, sizeof(*d));
    if (len > INT32_MAX) {
        seterr(err, errlen, "domain XML too large");
        return -1;
    }
    doc = xmlReadMemory(buf, (int)len, "domain.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        seterr(err, errlen, "malformed domain XML: %s (line %d)",
               e && e->message ? e->message : "parse error", e ? e->line : 0);
        if (e) /* libxml2's message ends with a newline */
            err[strcspn(err, "\n")] = 0;
        return -1;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !is_el(root, "domain")) {
        seterr(err, errlen, "not a libvirt domain XML (root <%s>)",
               root ? (const char *)root->name : "none");
        goto out;
    }
    text_of(child(root, "name"), d->name, sizeof(d->name));
    text_of(child(root, "uuid"), d->uuid, sizeof(d->uuid));
    if (uuid_norm(d->uuid, d->uuid) < 0) {
        seterr(err, errlen, "domain has no valid <uuid> ('%s')", d->uuid);
        goto out;
    }

    devs = child(root, "devices");
    for (n = devs ? devs->children : NULL; n; n = n->next) {
        if (!is_el(n, "interface"))
            continue;
        if (d->niface == HOOK_MAX_IFACES) {
            seterr(err, errlen, "more than %d interfaces", HOOK_MAX_IFACES);
            goto out;
        }
        if (parse_iface(n, &d->iface[d->niface], maps, d->niface, err,
                        errlen) < 0)
            goto out;
        d->niface++;
    }
    md = child(root, "metadata");
    for (n = md ? md->children : NULL; n; n = n->next)
        if (is_ours(n, "vnics") && apply_metadata(n, d, err, errlen) < 0)
            goto out;
    for (int i = 0; i < d->niface; i++)
        if (finish_iface(d, &d->iface[i], err, errlen) < 0)
            goto out;
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}
