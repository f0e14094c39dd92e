/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The service: claims PUBLISHED slots and completes them, in the doorbell
 * caller's context or in a poller's thread (mkioq_service.c).
 */
#ifndef _MKIOQ_SERVICE_H
#define _MKIOQ_SERVICE_H

#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include "mkioq_fence.h"

struct mkioq_ctx;
struct mkioq_pass;

/* Most passes one doorbell services before returning to its caller. */
#define MKIOQ_DOORBELL_PASSES	64

/* How often a DOORBELL queue looks at FENCEs waiting for other engines. */
#define MKIOQ_FENCE_RECHECK_MS	1

/* Bits of mkioq_service.flags. */
enum {
	MKIOQ_RESCAN,		/* DOORBELL: it rang since the last scan */
};

/**
 * struct mkioq_service - who services the ring, and its state
 * @lock:		held by whoever scans and services the ring
 * @flags:		MKIOQ_RESCAN (atomic bitops, no lock)
 * @stopped:		set for good when the service stops: WRITE_ONCE, then
 *			@lock taken, so holders of @lock see it
 * @fences:		FENCEs held (@lock)
 * @pass:		scratch of the pass being serviced (@lock)
 * @fence_recheck:	DOORBELL mode: looks at held FENCEs while nobody
 *			rings, every MKIOQ_FENCE_RECHECK_MS
 * @copy_workers:	CPUs that may copy a pass (SETUP's), fixed at setup
 * @shared_passes:	passes whose copies were shared (WRITE_ONCE under
 *			@lock; fdinfo reads it with READ_ONCE)
 * @helper_chunks:	shares of those that helpers copied (as above)
 *
 * POLL mode's thread is the poller's (mkioq_poller.c): it calls
 * mkioq_service_poll() for each pass.
 */
struct mkioq_service {
	struct mutex lock;	/* one servicer at a time */
	unsigned long flags;
	bool stopped;
	struct mkioq_fences fences;
	struct mkioq_pass *pass;
	struct delayed_work fence_recheck;
	u32 copy_workers;
	unsigned long shared_passes;
	unsigned long helper_chunks;
};

void mkioq_service_init(struct mkioq_ctx *ctx);
int mkioq_service_start(struct mkioq_ctx *ctx, u32 copy_workers);
void mkioq_service_kick(struct mkioq_ctx *ctx);
unsigned int mkioq_service_poll(struct mkioq_ctx *ctx);
void mkioq_service_stop(struct mkioq_ctx *ctx);
void mkioq_service_free(struct mkioq_ctx *ctx);

#endif /* _MKIOQ_SERVICE_H */
