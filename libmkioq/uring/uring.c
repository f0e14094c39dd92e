// SPDX-License-Identifier: MIT
/*
 * libmkioq-uring: the library-owned io_uring, for applications with no
 * event loop of their own. It keeps @waits MKIOQ_URING_CMD_WAITs for any
 * slot parked, each with its own record buffer, re-arms each one as its
 * CQE is reaped, and rings the doorbell with a uring_cmd in the same
 * io_uring_enter() as the re-arms.
 *
 * This file makes the ring and frees it. It attaches the ring to its
 * queue (struct mkioq_queue's helper and helper_release), so that
 * libmkioq's mkioq_queue_free() frees it through uring_release() after
 * closing the queue's file: the kernel writes a parked WAIT's record
 * until that close cancels the WAIT, so the records must outlive it.
 * libmkioq itself knows nothing of io_uring and does not link liburing.
 */
#include <errno.h>
#include <stdlib.h>
#include "mkioq_uring.h"
#include "util.h"	/* libmkioq/src/util.h: header-only */

#define UD_DOORBELL	UINT64_MAX	/* user_data of doorbell commands */

struct mkioq_uring {
	struct io_uring ring;
	unsigned int nr_waits;
	struct mkioq_cqe *recs;		/* one per wait, index = user_data */
};

static void uring_release(struct mkioq_queue *q);

/* The ring this file attached to @q, or NULL. */
static struct mkioq_uring *uring_of(const struct mkioq_queue *q)
{
	return q && q->helper_release == uring_release ? q->helper : NULL;
}

static int arm_wait(struct mkioq_queue *q, unsigned int i)
{
	struct mkioq_uring *u = uring_of(q);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe)
		return -EBUSY;
	/*
	 * The kernel writes the record before posting the CQE; a WAIT that
	 * failed as a command writes nothing and leaves this mark.
	 */
	u->recs[i].status = MKIOQ_STATE_EMPTY;
	u->recs[i].flags = 0;
	mkioq_prep_wait(&u->ring, sqe, q->fd, MKIOQ_ANY_SLOT, &u->recs[i]);
	io_uring_sqe_set_data64(sqe, i);
	return 0;
}

int mkioq_uring_init(struct mkioq_queue *q, unsigned int waits)
{
	struct mkioq_uring *u;
	unsigned int i;
	int ret;

	/* One helper per queue: this ring, or whatever another attached. */
	if (!q || q->helper || q->helper_release)
		return -EINVAL;
	if (!(q->flags & MKIOQ_QUEUE_F_DEVICE))
		return -ENOTTY;
	if (!waits)
		waits = q->slot_count;
	if (waits > 4096)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->recs = calloc(waits, sizeof(*u->recs));
	if (!u->recs) {
		free(u);
		return -ENOMEM;
	}
	/* Room for every wait plus a doorbell. */
	ret = io_uring_queue_init(waits + 1, &u->ring, 0);
	if (ret) {
		free(u->recs);
		free(u);
		return ret;
	}
	u->nr_waits = waits;
	q->helper = u;
	q->helper_release = uring_release;
	for (i = 0; i < waits; i++)
		arm_wait(q, i);
	ret = io_uring_submit(&u->ring);
	if (ret < 0) {
		/* Nothing was parked: the ring can go. */
		uring_release(q);
		return ret;
	}
	return 0;
}

/*
 * Free the ring of @q: mkioq_queue_free() calls it once it has closed the
 * queue file, which cancelled the parked waits.
 */
static void uring_release(struct mkioq_queue *q)
{
	struct mkioq_uring *u = uring_of(q);

	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	free(u->recs);
	free(u);
	q->helper = NULL;
	q->helper_release = NULL;
}

/*
 * Publish @n requests and ring the doorbell with one io_uring_enter().
 * Returns the number published (a failed submit stops the batch; the
 * requests before it are published and rung), or a negative errno.
 */
int mkioq_submit_and_ring(struct mkioq_queue *q, const uint32_t *slots,
			  const struct mkioq_request *reqs, unsigned int n)
{
	struct mkioq_uring *u = uring_of(q);
	struct io_uring_sqe *sqe;
	unsigned int i;
	int ret = 0;

	if (!u)
		return q ? -ENOTTY : -EINVAL;
	if (!slots || !reqs)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		ret = mkioq_submit(q, slots[i], &reqs[i]);
		if (ret)
			break;
	}
	if (!i)
		return ret;
	sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (sqe) {
		mkioq_prep_doorbell(&u->ring, sqe, q->fd);
		io_uring_sqe_set_data64(sqe, UD_DOORBELL);
		if (io_uring_submit(&u->ring) >= 0)
			return (int)i;
	}
	/* The requests are published: they must not go unrung. */
	ret = mkioq_doorbell(q);
	return ret ? ret : (int)i;
}

/* Reap what the ring holds into @cqes; returns the number of records. */
static unsigned int reap(struct mkioq_queue *q, struct mkioq_cqe *cqes,
			 unsigned int max)
{
	struct mkioq_uring *u = uring_of(q);
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0, n = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		const struct mkioq_cqe *rec;

		if (ud >= u->nr_waits) {	/* a doorbell */
			seen++;
			continue;
		}
		/* Leave the rest for the next call once @cqes is full. */
		if (n == max)
			break;
		seen++;
		rec = &u->recs[ud];
		/*
		 * No completion: expired (re-arm), or cancelled or failed as
		 * a command (do not). A command that failed before the
		 * module took it leaves the record as this library zeroed
		 * it; an overflow notice is passed on.
		 */
		if ((rec->flags & MKIOQ_CQE_F_NOTICE ||
		     rec->status == MKIOQ_STATE_EMPTY) &&
		    !(rec->flags & MKIOQ_CQE_F_OVERFLOW)) {
			if (cqe->res == -ETIME)
				arm_wait(q, (unsigned int)ud);
			continue;
		}
		cqes[n++] = *rec;
		arm_wait(q, (unsigned int)ud);
	}
	io_uring_cq_advance(&u->ring, seen);
	return n;
}

/*
 * Wait up to @timeout_ms (-1: forever) for completions and return up to
 * @max records; -ETIMEDOUT if none came. Re-armed WAITs go in with the
 * wait itself.
 */
int mkioq_wait_completions(struct mkioq_queue *q, struct mkioq_cqe *cqes,
			   unsigned int max, int timeout_ms)
{
	struct mkioq_uring *u = uring_of(q);
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	unsigned int n;
	int ret;

	if (!u)
		return q ? -ENOTTY : -EINVAL;
	if (!cqes || !max)
		return -EINVAL;
	for (;;) {
		uint64_t left = 0, now = mono_ms();

		if (now < deadline)
			left = deadline - now;
		ts.tv_sec = (long long)(left / 1000);
		ts.tv_nsec = (long long)(left % 1000) * 1000000;
		ret = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1,
				timeout_ms < 0 ? NULL : &ts, NULL);
		if (ret < 0 && ret != -EINTR && ret != -ETIME)
			return ret;
		n = reap(q, cqes, max);
		if (n)
			return (int)n;
		/* Only doorbells or cancellations came: wait on. */
		if (timeout_ms >= 0 && mono_ms() >= deadline)
			return -ETIMEDOUT;
	}
}
