# test_g_tags.py - conformance: tag allocation rules (protocol-spec/nvdp.md
# "VN_CONNECT"): one tag per (port, VN) shared by hypervisors, TAG_HINT.
import nvdp as N
from nvdptest import (test, check, IF_BR1, IF_BR2, IF_DIRECT, P1_TAGS,
                      P2_TAGS, P2_RESERVED, new_vnic, vm_mac, expect_ok,
                      expect_status, tag_of)


def usable_p2(t):
    return (P2_TAGS[0] <= t <= P2_TAGS[1]
            and not P2_RESERVED[0] <= t <= P2_RESERVED[1])


def lowest_rule(r, low, hint):
    """The tag given instead of an unusable hint is the lowest free one. A
    tag the earlier tests' hypervisors held may expire between our look at
    the table and the request, so lower than what we saw is the rule kept,
    never higher, never the hint, never outside the range or reserved."""
    check(r.tag != hint, "unusable hint %d given" % hint)
    check(usable_p2(r.tag), "tag %d outside p2's range or reserved" % r.tag)
    check(r.tag <= low, "got %d, lowest free was %d" % (r.tag, low))


def lowest_free_p2(ctx):
    used = {t.get("tag") for t in ctx.ctl.tags(port="p2")
            if t.get("port") in (None, "p2")}
    for t in range(P2_TAGS[0], P2_TAGS[1] + 1):
        if P2_RESERVED[0] <= t <= P2_RESERVED[1] or t in used:
            continue
        return t
    return None


@test
def tag_shared_by_two_hypervisors_on_bridged_port(ctx):
    """Two hypervisor MACs behind one bridged port, same VN: one tag; it is
    freed only when the last VNIC of that VN on the port leaves."""
    a = ctx.hv(IF_BR1)
    b = ctx.hv(IF_BR2)
    name, vni, u = ctx.fresh_vn()
    va, vb = new_vnic(), new_vnic()
    ra = expect_ok(a.call(N.ASSOC, vnic=va, vn=vni,
                          addrs=[(vm_mac(), "10.50.0.1")]), "hv A ASSOC")
    rb = expect_ok(b.call(N.ASSOC, vnic=vb, vn=u,
                          addrs=[(vm_mac(), "10.50.0.2")]), "hv B ASSOC")
    check(ra.tag == rb.tag, "hv A tag %d, hv B tag %d on one port and VN"
          % (ra.tag, rb.tag))
    check(P1_TAGS[0] <= ra.tag <= P1_TAGS[1], "tag %d outside p1's range"
          % ra.tag)
    expect_status(a.call(N.VNIC_DISASSOC, vnic=va, intent=N.INTENT_SHUTDOWN),
                  N.ST_OK, "hv A leaves")
    check(tag_of(ctx.ctl.tags(port="p1"), "p1", vni) == ra.tag,
          "tag freed while hv B still uses it")
    # hv A comes back: still the same tag.
    r = expect_ok(a.call(N.VN_CONNECT, vnic=va, vn=vni), "hv A again")
    check(r.tag == ra.tag, "tag changed to %d" % r.tag)
    a.call(N.VNIC_DISASSOC, vnic=va, intent=N.INTENT_SHUTDOWN)
    expect_status(b.call(N.VNIC_DISASSOC, vnic=vb, intent=N.INTENT_SHUTDOWN),
                  N.ST_OK, "hv B leaves")
    check(tag_of(ctx.ctl.tags(port="p1"), "p1", vni) is None,
          "tag kept after the last VNIC left the port")


@test
def tag_hint_honoured_when_free(ctx):
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    check(tag_of(ctx.ctl.tags(port="p2"), "p2", vni) is None, "VN not fresh")
    hint = 333
    check(hint != lowest_free_p2(ctx), "test needs a hint != lowest free")
    r = expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni,
                          tag_hint=hint), "VN_CONNECT with TAG_HINT")
    check(r.tag == hint, "free TAG_HINT %d not honoured: got %d"
          % (hint, r.tag))


@test
def tag_hint_taken_gives_lowest_free(ctx):
    hv = ctx.hv(IF_DIRECT)
    (_, vni1, _), (_, vni2, _) = ctx.fresh_vn(), ctx.fresh_vn()
    hint = 334
    expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni1, tag_hint=hint),
              "first VN takes the hint")
    low = lowest_free_p2(ctx)
    r = expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni2,
                          tag_hint=hint), "second VN, same hint")
    lowest_rule(r, low, hint)


@test
def tag_hint_outside_range_or_reserved(ctx):
    hv = ctx.hv(IF_DIRECT)
    for hint in (P2_RESERVED[0] + 1, P2_TAGS[1] + 100, 4094):
        name, vni, u = ctx.fresh_vn()
        low = lowest_free_p2(ctx)
        r = expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni,
                              tag_hint=hint), "hint %d" % hint)
        lowest_rule(r, low, hint)


@test
def tag_hint_ignored_when_vn_has_a_tag(ctx):
    """The tag of (port, VN) is shared: a hint cannot move it."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    a = expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni), "first")
    b = expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni,
                          tag_hint=a.tag + 1 if a.tag < P2_TAGS[1]
                          else a.tag - 1), "second with another hint")
    check(a.tag == b.tag, "hint moved the shared tag %d -> %d"
          % (a.tag, b.tag))


@test
def tags_are_per_port(ctx):
    """The same VN on two ports gets each port's own tag (locally
    significant), from each port's range."""
    d = ctx.hv(IF_DIRECT)
    br = ctx.hv(IF_BR1)
    name, vni, u = ctx.fresh_vn()
    a = expect_ok(d.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni), "p2")
    b = expect_ok(br.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni), "p1")
    check(P2_TAGS[0] <= a.tag <= P2_TAGS[1], "p2 tag %d" % a.tag)
    check(P1_TAGS[0] <= b.tag <= P1_TAGS[1], "p1 tag %d" % b.tag)


@test
def resync_and_expiry_scoped_to_one_hypervisor(ctx):
    """Behind one bridged port, hypervisor A's RESYNC END (nothing replayed)
    and later expiry remove only A's VNICs: B's VNIC and the shared tag
    stay (sections 9.9, 11.2)."""
    from nvdptest import vnic_entries, wait_until
    a = ctx.hv(IF_BR1, hold=2)
    b = ctx.hv(IF_BR2)
    name, vni, u = ctx.fresh_vn()
    va1, va2, vb = new_vnic(), new_vnic(), new_vnic()
    ra = expect_ok(a.call(N.ASSOC, vnic=va1, vn=vni,
                          addrs=[(vm_mac(), "10.60.0.1")]), "A ASSOC")
    expect_ok(b.call(N.ASSOC, vnic=vb, vn=vni,
                     addrs=[(vm_mac(), "10.60.0.2")]), "B ASSOC")
    a.resync()          # BEGIN + END, nothing replayed: A's VNIC goes
    vn_list = ctx.ctl.vnics(port="p1", vn=vni)
    check(not vnic_entries(vn_list, va1), "A's unreplayed VNIC survived")
    check(vnic_entries(vn_list, vb), "A's RESYNC END removed B's VNIC")
    check(tag_of(ctx.ctl.tags(port="p1"), "p1", vni) == ra.tag,
          "shared tag released while B uses it")
    expect_ok(a.call(N.ASSOC, vnic=va2, vn=vni,
                     addrs=[(vm_mac(), "10.60.0.3")]), "A ASSOC again")
    a.link.close()
    ctx.links.remove(a.link)

    def a_gone():
        b.poll(0.1)     # keeps B alive
        return not vnic_entries(ctx.ctl.vnics(port="p1"), va2)
    wait_until(a_gone, 5.0, "expiry of hypervisor A")
    check(vnic_entries(ctx.ctl.vnics(port="p1"), vb),
          "A's expiry removed B's VNIC")
    check(tag_of(ctx.ctl.tags(port="p1"), "p1", vni) == ra.tag,
          "A's expiry released the tag B uses")
