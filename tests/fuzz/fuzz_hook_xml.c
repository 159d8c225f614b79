/* fuzz_hook_xml.c - libFuzzer target for the libvirt hook's domain XML
 * parser (tools/hook_xml.c): any input parses or fails cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <libxml/parser.h>

#include "hook_op.h"
#include "hook_xml.h"

static const char *by_typeid(uint32_t t, void *arg)
{
    (void)arg;
    return t % 2 ? "vni:100" : NULL;
}

static const char *by_pg(const char *net, const char *pg, void *arg)
{
    (void)arg;
    return net[0] && pg[0] ? "blue" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hook_domain d;
    static const struct hook_maps maps = {by_typeid, by_pg, NULL};
    char err[256];

    if (hook_xml_parse((const char *)data, size, &maps, &d, err,
                       sizeof(err)) == 0) {
        /* what the hook sends must be buildable for every VNIC found */
        for (int i = 0; i < d.niface; i++) {
            if (d.iface[i].vn_src == HOOK_VN_NONE)
                continue;
            struct json_object *r = hook_op_request(HOOK_ACT_ATTACH, &d,
                                                    &d.iface[i], 0, 1, 1, 100);
            if (!r || strlen(d.iface[i].vnic) != 36)
                __builtin_trap();
            json_object_put(r);
        }
    }
    xmlResetLastError();
    return 0;
}
