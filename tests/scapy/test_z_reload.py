# test_z_reload.py - conformance: configuration reload withdraws what is no
# longer allowed (section 13); a bad configuration is refused. Runs last:
# it rewrites the daemon's configuration (and restores it).
import os
import time

import nvdp as N
from nvdptest import (test, check, IF_DIRECT, IF_BR1, nve_conf, new_vnic,
                      vm_mac, expect_ok, expect_status, vnic_entries, tag_of,
                      wait_until, TestFailure)


def _write(text):
    path = os.environ["NVE_CONF"]
    tmp = path + ".new"
    with open(tmp, "w") as fp:
        fp.write(text)
    os.rename(tmp, path)


def _restore(ctx):
    _write(nve_conf(ctx.ctl.sock))
    ctx.ctl.run("reload")


@test
def reload_removing_vn_withdraws(ctx):
    """A VN removed from the configuration: its VNICs are withdrawn
    (WITHDRAW to their hypervisors), their tags freed; other VNs stay."""
    hv = ctx.hv(IF_DIRECT)
    (gone_name, gone_vni, gone_u), (kept_name, kept_vni, _) = \
        ctx.fresh_vn(), ctx.fresh_vn()
    vg, vk = new_vnic(), new_vnic()
    expect_ok(hv.call(N.ASSOC, vnic=vg, vn=gone_vni,
                      addrs=[(vm_mac(), "10.70.0.1")]), "ASSOC (VN to go)")
    k = expect_ok(hv.call(N.ASSOC, vnic=vk, vn=kept_vni,
                          addrs=[(vm_mac(), "10.70.0.2")]), "ASSOC (kept)")
    _write(nve_conf(ctx.ctl.sock, drop_vns=(gone_name,)))
    try:
        ctx.ctl.run("reload")
        end = time.monotonic() + 2.0
        while time.monotonic() < end and not hv.withdraws:
            hv.poll(0.05)
        check(hv.withdraws, "no WITHDRAW after the VN left the config")
        m = hv.withdraws[0][1]
        s, su = m.sub(N.S_VNI), m.sub(N.S_VN_UUID)
        check((s is not None and s.vni == gone_vni) or
              (su is not None and str(su.uuid) == gone_u),
              "WITHDRAW for %r, expected VN %s" % (m.subs, gone_name))
        check(m.sub(N.S_REASON) is not None, "WITHDRAW without REASON")
        check(not vnic_entries(ctx.ctl.vnics(port="p2"), vg),
              "VNIC of the removed VN still listed")
        check(vnic_entries(ctx.ctl.vnics(port="p2"), vk),
              "VNIC of a kept VN removed by the reload")
        check(tag_of(ctx.ctl.tags(port="p2"), "p2", kept_vni) == k.tag,
              "tag of a kept VN changed by the reload")
        r = hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=gone_vni)
        expect_status(r, N.ST_UNKNOWN_VN, "VN_CONNECT to the removed VN")
    finally:
        _restore(ctx)
    r = hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=gone_vni)
    expect_ok(r, "VN_CONNECT after the VN came back")


@test
def reload_deauthorising_hypervisor_withdraws(ctx):
    """A hypervisor MAC removed from a port's allow list: its VNICs there
    are withdrawn and its further requests refused NOT_AUTHORISED."""
    hv = ctx.hv(IF_BR1)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    expect_ok(hv.call(N.ASSOC, vnic=v, vn=vni,
                      addrs=[(vm_mac(), "10.71.0.1")]), "ASSOC")
    _write(nve_conf(ctx.ctl.sock, drop_hvs=(hv.mac,)))
    try:
        ctx.ctl.run("reload")
        wait_until(lambda: not vnic_entries(ctx.ctl.vnics(port="p1"), v),
                   2.0, "the de-authorised hypervisor's VNIC to go")
        r = hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni)
        expect_status(r, N.ST_NOT_AUTHORISED, "request after de-authorisation")
        check(tag_of(ctx.ctl.tags(port="p1"), "p1", vni) is None,
              "tag of the de-authorised hypervisor's VN not freed")
    finally:
        _restore(ctx)


@test
def reload_with_bad_config_refused(ctx):
    """A broken configuration is refused: reload fails, the old one keeps
    running with its state."""
    hv = ctx.hv(IF_DIRECT)
    name, vni, u = ctx.fresh_vn()
    v = new_vnic()
    a = expect_ok(hv.call(N.VN_CONNECT, vnic=v, vn=vni), "VN_CONNECT")
    _write(nve_conf(ctx.ctl.sock) + "port \"broken\" { tags = \"5000-1\" }\n")
    try:
        try:
            ctx.ctl.run("reload")
            raise TestFailure("reload of a broken configuration succeeded")
        except TestFailure as e:
            if "succeeded" in str(e):
                raise
        check(vnic_entries(ctx.ctl.vnics(port="p2"), v),
              "state lost by a refused reload")
        b = expect_ok(hv.call(N.VN_CONNECT, vnic=new_vnic(), vn=vni),
                      "request after a refused reload")
        check(b.tag == a.tag, "tag changed by a refused reload")
    finally:
        _restore(ctx)
