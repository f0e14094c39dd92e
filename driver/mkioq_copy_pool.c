// SPDX-License-Identifier: GPL-2.0
/*
 * The CPUs that copy beside a servicer (struct mkioq_setup.copy_workers).
 *
 * One unbound, high-priority workqueue serves every queue of the module.
 * Unbound, so that the scheduler puts a helper on whichever CPU is idle
 * near the servicer (6.1's unbound pools are per NUMA node; from 6.5 the
 * default affinity scope is the last-level cache) rather than queueing
 * it behind the servicer on the servicer's own CPU; high
 * priority, because a servicer waits for its helpers and so the
 * producer's requests wait too. A workqueue rather than kthreads per
 * queue: sixteen idle threads for each of hundreds of queues would cost
 * memory and wake-ups for nothing, while the workqueue keeps only as many
 * kworkers as are busy at once.
 *
 * A run queues up to max_helpers work items, runs the job itself, then
 * takes back the items that have not started (cancel_work()) and waits for
 * the ones that have (flush_work()). The job hands its shares out from a
 * shared cursor, so a helper that starts late finds less to do, and the
 * servicer never waits for a helper that never got a CPU: at most for the
 * share each started helper has in hand. Helpers therefore never outlive
 * the run, and stopping a queue needs nothing beyond stopping its service.
 */
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/workqueue.h>

#include "mkioq_copy_pool.h"

static struct workqueue_struct *mkioq_copy_wq;

/* At module init. */
int mkioq_copy_pool_create(void)
{
	/* 0: the default max_active, which exceeds what the CPUs can run. */
	mkioq_copy_wq = alloc_workqueue("mkioq-copy", WQ_UNBOUND | WQ_HIGHPRI,
					0);
	return mkioq_copy_wq ? 0 : -ENOMEM;
}

/* At module exit: every queue, hence every run, has ended. */
void mkioq_copy_pool_destroy(void)
{
	destroy_workqueue(mkioq_copy_wq);
}

static void mkioq_crew_help(struct work_struct *work)
{
	struct mkioq_crew_helper *h =
		container_of(work, struct mkioq_crew_helper, work);

	h->chunks = h->crew->job(h->crew);
}

/* At setup: @workers CPUs in all, the owner's included; 0 means 1. */
void mkioq_crew_init(struct mkioq_crew *crew, unsigned int workers,
		     unsigned int (*job)(struct mkioq_crew *crew))
{
	unsigned int i;

	crew->job = job;
	crew->max_helpers = workers > 1 ? workers - 1 : 0;
	for (i = 0; i < crew->max_helpers; i++) {
		INIT_WORK(&crew->helper[i].work, mkioq_crew_help);
		crew->helper[i].crew = crew;
	}
}

/*
 * Run the crew's job here and on up to @helpers helpers (at most
 * max_helpers); return when every one that started has finished. Returns
 * the shares the helpers took. May sleep.
 */
unsigned int mkioq_crew_run(struct mkioq_crew *crew, unsigned int helpers)
{
	unsigned int i, chunks = 0;

	helpers = min(helpers, crew->max_helpers);
	for (i = 0; i < helpers; i++) {
		crew->helper[i].chunks = 0;
		/*
		 * Publishes the job's state, written before this call, to the
		 * helper: queue_work() orders earlier stores before the work
		 * runs (its documented memory-ordering guarantee).
		 */
		queue_work(mkioq_copy_wq, &crew->helper[i].work);
	}
	crew->job(crew);
	for (i = 0; i < helpers; i++) {
		/*
		 * Not started: taken back, it did nothing. Started:
		 * flush_work() returns once it has finished, and its
		 * completion orders the helper's stores (the bytes it copied,
		 * its @chunks) before our later loads and stores, such as the
		 * caller's end of CPU access and STATUS.
		 */
		if (!cancel_work(&crew->helper[i].work))
			flush_work(&crew->helper[i].work);
		chunks += crew->helper[i].chunks;
	}
	return chunks;
}
