/* hv_virt.c - libvirt event subscription (VIR_DOMAIN_EVENT_ID_LIFECYCLE) in
 * its own thread; its only output is the marker files nvdp-hook reads. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "hv_virt.h"
#include "log.h"

#ifdef HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#else
/* The values of libvirt's enums (stable ABI), so the classification is
 * the same and tested in builds without libvirt-dev. */
enum {
    VIR_DOMAIN_EVENT_STARTED = 2,
    VIR_DOMAIN_EVENT_SUSPENDED = 3,
    VIR_DOMAIN_EVENT_RESUMED = 4,
    VIR_DOMAIN_EVENT_STOPPED = 5,
    VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED = 1,
    VIR_DOMAIN_EVENT_STOPPED_MIGRATED = 3,
};
#endif

enum hv_virt_mark hv_virt_classify(int event, int detail)
{
    switch (event) {
    case VIR_DOMAIN_EVENT_SUSPENDED:
        /* the source pauses the domain at the end of a migration, before
         * it stops it and runs the stopped/release hooks */
        return detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED ? HV_VIRT_SET
                                                             : HV_VIRT_KEEP;
    case VIR_DOMAIN_EVENT_STOPPED:
        /* emitted after the hooks ran: the marker has served (a STOPPED
         * "migrated" seen without the suspend still comes too late) */
        return HV_VIRT_CLEAR;
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED: /* a failed migration resumes here */
        return HV_VIRT_CLEAR;
    default:
        return HV_VIRT_KEEP;
    }
}

int hv_virt_mark(const char *dir, const char *uuid, enum hv_virt_mark m)
{
    char path[512];
    int fd;

    /* a UUID from libvirt; never let it name another path */
    if (strlen(uuid) != 36 || strspn(uuid, "0123456789abcdefABCDEF-") != 36) {
        errno = EINVAL;
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, uuid);
    switch (m) {
    case HV_VIRT_SET:
        if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
            return -1;
        close(fd);
        return 0;
    case HV_VIRT_CLEAR:
        return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
    default:
        return 0;
    }
}

/* Removes every marker: after a restart we know nothing of migrations. */
static void markers_reset(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strlen(e->d_name) == 36)
            hv_virt_mark(dir, e->d_name, HV_VIRT_CLEAR);
    closedir(d);
}

#ifdef HAVE_LIBVIRT
struct hv_virt {
    pthread_t th;
    pthread_mutex_t mu;
    char uri[256];
    char dir[256];
    unsigned retry_s;
    int stop;
    int connected;
    uint64_t events;
};

static int on_lifecycle(virConnectPtr c, virDomainPtr dom, int event,
                        int detail, void *arg)
{
    struct hv_virt *v = arg;
    char uuid[VIR_UUID_STRING_BUFLEN];
    enum hv_virt_mark m = hv_virt_classify(event, detail);

    (void)c;
    pthread_mutex_lock(&v->mu);
    v->events++;
    pthread_mutex_unlock(&v->mu);
    if (m == HV_VIRT_KEEP || virDomainGetUUIDString(dom, uuid) < 0)
        return 0;
    if (hv_virt_mark(v->dir, uuid, m) < 0)
        log_warn("libvirt: marker for %s", uuid);
    else
        log_debug("libvirt: domain %s %s (event %d/%d)", uuid,
                  m == HV_VIRT_SET ? "leaving by migration" : "settled",
                  event, detail);
    return 0;
}

static void quiet_errors(void *arg, virErrorPtr e) { (void)arg; (void)e; }

static void set_connected(struct hv_virt *v, int up)
{
    pthread_mutex_lock(&v->mu);
    v->connected = up;
    pthread_mutex_unlock(&v->mu);
}

static int stopping(struct hv_virt *v)
{
    pthread_mutex_lock(&v->mu);
    int s = v->stop;
    pthread_mutex_unlock(&v->mu);
    return s;
}

/* One connection's life: subscribe, run the event loop until the
 * connection drops or we are stopped. */
static void run_connected(struct hv_virt *v, virConnectPtr c)
{
    int id = virConnectDomainEventRegisterAny(
        c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
    if (id < 0) {
        log_warnx("libvirt: cannot subscribe to domain events on %s", v->uri);
        return;
    }
    virConnectSetKeepAlive(c, 5, 3);
    set_connected(v, 1);
    log_info("libvirt: watching domain events on %s", v->uri);
    while (!stopping(v) && virConnectIsAlive(c) == 1)
        if (virEventRunDefaultImpl() < 0)
            break;
    set_connected(v, 0);
    virConnectDomainEventDeregisterAny(c, id);
}

static void *virt_thread(void *arg)
{
    struct hv_virt *v = arg;
    int logged = 0;

    while (!stopping(v)) {
        virConnectPtr c = virConnectOpenReadOnly(v->uri);
        if (c) {
            logged = 0;
            run_connected(v, c);
            virConnectClose(c);
            if (!stopping(v))
                log_warnx("libvirt: lost %s; hooks fall back to their "
                          "stop-intent until it is back", v->uri);
        } else if (!logged) {
            logged = 1;
            log_info("libvirt: %s not reachable (retrying every %u s); "
                     "without it a migration source's stop is a shutdown "
                     "for the NVE", v->uri, v->retry_s);
        }
        for (unsigned i = 0; i < v->retry_s * 10 && !stopping(v); i++)
            usleep(100000);
    }
    return NULL;
}

/* The default event loop must be registered once per process, before any
 * connection; a timer keeps virEventRunDefaultImpl() returning so the
 * thread notices a stop request. */
static void tick(int timer, void *arg) { (void)timer; (void)arg; }

struct hv_virt *hv_virt_start(const char *uri, const char *marker_dir,
                              unsigned retry_s, char *err, size_t errlen)
{
    struct hv_virt *v = calloc(1, sizeof(*v));

    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(v->uri, sizeof(v->uri), "%s", uri);
    snprintf(v->dir, sizeof(v->dir), "%s", marker_dir);
    v->retry_s = retry_s ? retry_s : 5;
    pthread_mutex_init(&v->mu, NULL);
    if (mkdir(marker_dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", marker_dir, strerror(errno));
        free(v);
        return NULL;
    }
    markers_reset(marker_dir);
    virSetErrorFunc(NULL, quiet_errors);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0 ||
        virEventAddTimeout(200, tick, NULL, NULL) < 0) {
        snprintf(err, errlen, "libvirt event loop initialisation failed");
        free(v);
        return NULL;
    }
    if (pthread_create(&v->th, NULL, virt_thread, v) != 0) {
        snprintf(err, errlen, "cannot start the libvirt thread");
        free(v);
        return NULL;
    }
    return v;
}

void hv_virt_stop(struct hv_virt *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    v->stop = 1;
    pthread_mutex_unlock(&v->mu);
    pthread_join(v->th, NULL);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

int hv_virt_connected(struct hv_virt *v)
{
    pthread_mutex_lock(&v->mu);
    int c = v->connected;
    pthread_mutex_unlock(&v->mu);
    return c;
}

uint64_t hv_virt_events(struct hv_virt *v)
{
    pthread_mutex_lock(&v->mu);
    uint64_t n = v->events;
    pthread_mutex_unlock(&v->mu);
    return n;
}
#else
struct hv_virt {
    int unused;
};

struct hv_virt *hv_virt_start(const char *uri, const char *marker_dir,
                              unsigned retry_s, char *err, size_t errlen)
{
    (void)uri;
    (void)retry_s;
    markers_reset(marker_dir);
    snprintf(err, errlen, "built without libvirt (libvirt-dev): a migration "
             "source's stop is a shutdown for the NVE");
    return NULL;
}
void hv_virt_stop(struct hv_virt *v) { (void)v; }
int hv_virt_connected(struct hv_virt *v) { (void)v; return 0; }
uint64_t hv_virt_events(struct hv_virt *v) { (void)v; return 0; }
#endif
