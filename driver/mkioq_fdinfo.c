// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/fdinfo/FD of a queue file: what an operator needs to see which
 * slot is stuck and why, one "key:\tvalue" per line (the fields are listed
 * in Documentation/operator.rst; tools/mkioq-stat.c reads them). Values are
 * a snapshot taken without stopping the service.
 */
#include <linux/bitops.h>
#include <linux/pid.h>
#include <linux/seq_file.h>

#include "mkioq_ctx.h"
#include "mkioq_cq.h"
#include "mkioq_fdinfo.h"
#include "mkioq_handle.h"
#include "mkioq_poller.h"
#include "mkioq_ring.h"

static const char *const mkioq_state_names[] = {
	[MKIOQ_CTX_NEW] = "new",
	[MKIOQ_CTX_LIVE] = "live",
	[MKIOQ_CTX_DEAD] = "dead",
};

static const char *const mkioq_census_names[MKIOQ_CENSUS_KINDS] = {
	[MKIOQ_CENSUS_EMPTY] = "empty",
	[MKIOQ_CENSUS_PUBLISHED] = "published",
	[MKIOQ_CENSUS_CLAIMED] = "claimed",
	[MKIOQ_CENSUS_DONE] = "done",
	[MKIOQ_CENSUS_OK] = "ok",
	[MKIOQ_CENSUS_ERROR] = "error",
	[MKIOQ_CENSUS_INVALID] = "invalid",
};

static void mkioq_fdinfo_slot(struct seq_file *m, const char *key,
			      const struct mkioq_census_slot *s)
{
	const struct mkioq_slot *w = &s->words;

	if (s->slot < 0) {
		seq_printf(m, "%s:\tnone\n", key);
		return;
	}
	seq_printf(m, "%s:\t%d %ums by=%s op=%u src_handle=%u dst_handle=%u offset=0x%llx byte_count=%u tag=%u\n",
		   key, s->slot, s->age_ms, s->ours ? "module" : "other",
		   w->op, w->src_handle, w->dst_handle,
		   (u64)w->offset_hi << 32 | w->offset_lo, w->byte_count,
		   w->tag);
}

void mkioq_fdinfo_show(struct seq_file *m, struct file *file)
{
	struct mkioq_ctx *ctx = file->private_data;
	enum mkioq_ctx_state state = mkioq_ctx_state(ctx);
	struct mkioq_census census;
	unsigned int i;

	seq_printf(m, "queue:\t%u\n", ctx->id);
	seq_printf(m, "state:\t%s\n", mkioq_state_names[state]);
	if (state == MKIOQ_CTX_NEW)
		return;
	/* In the reader's pid namespace; 0 if it cannot see the owner. */
	seq_printf(m, "owner:\t%d\n", pid_vnr(ctx->owner_tgid));
	seq_printf(m, "mode:\t%s\n",
		   ctx->mode == MKIOQ_MODE_POLL ? "poll" : "doorbell");
	seq_printf(m, "slots:\t%u\n", ctx->ring.slot_count);
	seq_printf(m, "copy-workers:\t%u\n", ctx->service.copy_workers ?: 1);
	seq_printf(m, "shared-passes:\t%lu\n",
		   READ_ONCE(ctx->service.shared_passes));
	seq_printf(m, "helper-chunks:\t%lu\n",
		   READ_ONCE(ctx->service.helper_chunks));
	/* Which path each storage request took (mkioq_storage.c). */
	seq_printf(m, "storage-inline:\t%lu\n",
		   READ_ONCE(ctx->storage.inline_served));
	seq_printf(m, "storage-page-waits:\t%ld\n",
		   atomic_long_read(&ctx->storage.page_waits));
	seq_printf(m, "storage-workers:\t%ld\n",
		   atomic_long_read(&ctx->storage.to_workers));
	seq_printf(m, "storage-reader-retries:\t%ld\n",
		   atomic_long_read(&ctx->storage.reader_retries));
	mkioq_ring_census(&ctx->ring, &census);
	for (i = 0; i < MKIOQ_CENSUS_KINDS; i++)
		seq_printf(m, "%s:\t%u\n", mkioq_census_names[i],
			   census.count[i]);
	seq_printf(m, "claimed-by-module:\t%u\n", census.claimed_ours);
	mkioq_fdinfo_slot(m, "oldest-published", &census.published);
	mkioq_fdinfo_slot(m, "oldest-claimed", &census.claimed);
	seq_printf(m, "fences-held:\t%u\n",
		   (unsigned int)hweight64(READ_ONCE(ctx->service.fences.held)));
	mkioq_poller_show(ctx, m);
	mkioq_handles_show(&ctx->handles, m);
	mkioq_cq_show(ctx, m);
}
