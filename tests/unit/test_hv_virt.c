/* test_hv_virt.c - hv-agent's libvirt event watch: which events mark a
 * domain as leaving by migration, the marker files, and a live
 * subscription against libvirt's in-process test driver. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv_virt.h"
#include "log.h"

#ifdef HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#endif

static char dir[64];
static const char *U = "6695eb01-f6a4-8304-79aa-97f2502e193f";

static int marker(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, U);
    return access(p, F_OK) == 0;
}

static void t_classify(void **s)
{
    /* libvirt's enum values: SUSPENDED=3/MIGRATED=1, STOPPED=5/MIGRATED=3,
     * STARTED=2, RESUMED=4, DEFINED=0, SUSPENDED/PAUSED=0 */
    assert_int_equal(hv_virt_classify(3, 1), HV_VIRT_SET);
    assert_int_equal(hv_virt_classify(3, 0), HV_VIRT_KEEP);
    assert_int_equal(hv_virt_classify(5, 3), HV_VIRT_CLEAR);
    assert_int_equal(hv_virt_classify(5, 0), HV_VIRT_CLEAR);
    assert_int_equal(hv_virt_classify(2, 0), HV_VIRT_CLEAR);
    assert_int_equal(hv_virt_classify(4, 0), HV_VIRT_CLEAR);
    assert_int_equal(hv_virt_classify(0, 0), HV_VIRT_KEEP);
    assert_int_equal(hv_virt_classify(99, 99), HV_VIRT_KEEP);
}

static void t_mark(void **s)
{
    assert_int_equal(hv_virt_mark(dir, U, HV_VIRT_SET), 0);
    assert_true(marker());
    assert_int_equal(hv_virt_mark(dir, U, HV_VIRT_SET), 0); /* idempotent */
    assert_int_equal(hv_virt_mark(dir, U, HV_VIRT_KEEP), 0);
    assert_true(marker());
    assert_int_equal(hv_virt_mark(dir, U, HV_VIRT_CLEAR), 0);
    assert_false(marker());
    assert_int_equal(hv_virt_mark(dir, U, HV_VIRT_CLEAR), 0); /* absent ok */
    /* never a path outside the directory */
    assert_int_equal(hv_virt_mark(dir, "../../../../../../etc/passwd", HV_VIRT_SET), -1);
    assert_int_equal(hv_virt_mark(dir, "6695eb01-f6a4-8304-79aa-97f2502e19/f", HV_VIRT_SET), -1);
}

#ifdef HAVE_LIBVIRT
static int wait_for(int (*cond)(void *), void *arg)
{
    for (int i = 0; i < 100; i++) {
        if (cond(arg))
            return 1;
        usleep(50000);
    }
    return 0;
}
static int is_connected(void *v) { return hv_virt_connected(v); }
static int no_marker(void *v) { (void)v; return !marker(); }

static void t_live(void **s)
{
    char err[256];
    /* test:///default: libvirt's in-process driver, shared by all the
     * connections of a process; its domain "test" runs */
    struct hv_virt *v = hv_virt_start("test:///default", dir, 1, err, sizeof(err));
    if (!v)
        fail_msg("start: %s", err);
    assert_true(wait_for(is_connected, v));
    virConnectPtr c = virConnectOpen("test:///default");
    assert_non_null(c);
    virDomainPtr d = virDomainLookupByName(c, "test");
    assert_non_null(d);
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainGetUUIDString(d, uuid);
    assert_string_equal(uuid, U);
    /* a plain pause keeps a marker; the resume clears it */
    hv_virt_mark(dir, U, HV_VIRT_SET);
    uint64_t n = hv_virt_events(v);
    assert_int_equal(virDomainSuspend(d), 0);
    for (int i = 0; i < 100 && hv_virt_events(v) == n; i++)
        usleep(50000);
    assert_true(hv_virt_events(v) > n);
    assert_true(marker());
    assert_int_equal(virDomainResume(d), 0);
    assert_true(wait_for(no_marker, NULL));
    /* a stop clears it too */
    hv_virt_mark(dir, U, HV_VIRT_SET);
    assert_int_equal(virDomainDestroy(d), 0);
    assert_true(wait_for(no_marker, NULL));
    virDomainFree(d);
    virConnectClose(c);
    hv_virt_stop(v);
}

static void t_unreachable(void **s)
{
    char err[256];
    /* libvirtd absent: not an error, just never connected */
    struct hv_virt *v = hv_virt_start("qemu+unix:///system?socket=/nonexistent/sock",
                                      dir, 1, err, sizeof(err));
    assert_non_null(v);
    usleep(300000);
    assert_false(hv_virt_connected(v));
    hv_virt_stop(v);
}
#endif

static int setup(void **s)
{
    snprintf(dir, sizeof(dir), "/tmp/test_hv_virt.%d", (int)getpid());
    mkdir(dir, 0755);
    return 0;
}

static int teardown(void **s)
{
    hv_virt_mark(dir, U, HV_VIRT_CLEAR);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_classify),
        cmocka_unit_test(t_mark),
#ifdef HAVE_LIBVIRT
        cmocka_unit_test(t_live),
        cmocka_unit_test(t_unreachable),
#endif
    };
    log_init("test_hv_virt", 1, 0);
    return cmocka_run_group_tests(t, setup, teardown);
}
