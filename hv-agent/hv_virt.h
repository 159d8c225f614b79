/* hv_virt.h - hv-agent's watch of libvirt's domain lifecycle events: marks
 * domains leaving by migration so the hook disassociates with that intent. */
#ifndef HV_VIRT_H
#define HV_VIRT_H

#include <stdint.h>

/* What an event means for a domain's marker (pure, unit-tested):
 * suspended/stopped for migration -> set; started, resumed, or stopped for
 * any other reason (the hooks already ran) -> clear; else nothing. event
 * and detail are libvirt's virDomainEventType and its detail enum. */
enum hv_virt_mark { HV_VIRT_KEEP = 0, HV_VIRT_SET, HV_VIRT_CLEAR };
enum hv_virt_mark hv_virt_classify(int event, int detail);

/* Applies a classification to marker_dir/<uuid>. 0 / -1 (errno). */
int hv_virt_mark(const char *marker_dir, const char *uuid,
                 enum hv_virt_mark m);

struct hv_virt;
/* Starts a thread that connects (read-only) to uri, re-connects every
 * retry_s seconds when libvirtd is away, and keeps markers in marker_dir
 * (created; stale markers removed). NULL with err when hv-agent was built
 * without libvirt or the thread cannot start; a libvirtd that is not
 * running is not an error (logged, retried). */
struct hv_virt *hv_virt_start(const char *uri, const char *marker_dir,
                              unsigned retry_s, char *err, size_t errlen);
void hv_virt_stop(struct hv_virt *v);
/* 1 while connected to libvirtd and subscribed. */
int hv_virt_connected(struct hv_virt *v);
/* Events handled so far (tests). */
uint64_t hv_virt_events(struct hv_virt *v);

#endif
