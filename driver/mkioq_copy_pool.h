/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPUs lent to a servicer for one job: the module's copy workqueue and a
 * queue's crew of helper work items (mkioq_copy_pool.c).
 */
#ifndef _MKIOQ_COPY_POOL_H
#define _MKIOQ_COPY_POOL_H

#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/mkioq.h>

struct mkioq_crew;

/**
 * struct mkioq_crew_helper - one helper's work item
 * @work:	queued on the copy workqueue by mkioq_crew_run()
 * @crew:	the crew it helps, fixed at init
 * @chunks:	what its run of the job returned; 0 if it never ran
 */
struct mkioq_crew_helper {
	struct work_struct work;
	struct mkioq_crew *crew;
	unsigned int chunks;
};

/**
 * struct mkioq_crew - helpers that run a job beside its owner
 * @job:		the job: takes shares of the work until none is left
 *			and returns how many it took; fixed at init
 * @max_helpers:	most helpers a run may queue (copy_workers - 1, or 0)
 * @helper:		their work items, made at init so that a run
 *			allocates nothing
 *
 * Owned by the caller of mkioq_crew_run(), which must not run two jobs of
 * one crew at once (the service: under its lock). A helper touches only
 * its own @chunks, and only between the queue_work() and the wait of one
 * run: no helper outlives the run that queued it.
 */
struct mkioq_crew {
	unsigned int (*job)(struct mkioq_crew *crew);
	unsigned int max_helpers;
	struct mkioq_crew_helper helper[MKIOQ_MAX_COPY_WORKERS - 1];
};

int mkioq_copy_pool_create(void);
void mkioq_copy_pool_destroy(void);
void mkioq_crew_init(struct mkioq_crew *crew, unsigned int workers,
		     unsigned int (*job)(struct mkioq_crew *crew));
unsigned int mkioq_crew_run(struct mkioq_crew *crew, unsigned int helpers);

#endif /* _MKIOQ_COPY_POOL_H */
