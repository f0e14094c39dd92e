// SPDX-License-Identifier: MIT
/*
 * The library-owned io_uring: for applications with no event loop of
 * their own. It keeps @waits MKIOQ_URING_CMD_WAITs for any slot parked,
 * each with its own record buffer, re-arms each one as its CQE is reaped,
 * and rings the doorbell with a uring_cmd in the same io_uring_enter() as
 * the re-arms.
 */
#include <errno.h>
#include <stdlib.h>
#include "mkioq_uring.h"

#define UD_DOORBELL	UINT64_MAX	/* user_data of doorbell commands */

struct mkioq_uring {
	struct io_uring ring;
	unsigned int nr_waits;
	struct mkioq_cqe *recs;		/* one per wait, index = user_data */
};

static int arm_wait(struct mkioq_queue *q, unsigned int i)
{
	struct mkioq_uring *u = q->uring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe)
		return -EBUSY;
	mkioq_prep_wait(&u->ring, sqe, q->fd, MKIOQ_SLOT_ANY, &u->recs[i]);
	io_uring_sqe_set_data64(sqe, i);
	return 0;
}

int mkioq_uring_init(struct mkioq_queue *q, unsigned int waits)
{
	struct mkioq_uring *u;
	unsigned int i;
	int ret;

	if (!q || q->uring)
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
	q->uring = u;
	for (i = 0; i < waits; i++)
		arm_wait(q, i);
	ret = io_uring_submit(&u->ring);
	if (ret < 0) {
		mkioq_uring_exit(q);
		return ret;
	}
	return 0;
}

/* Closing the queue file cancels the parked waits; this frees the ring. */
void mkioq_uring_exit(struct mkioq_queue *q)
{
	struct mkioq_uring *u = q ? q->uring : NULL;

	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	free(u->recs);
	free(u);
	q->uring = NULL;
}

/*
 * Publish @n requests and ring the doorbell with one io_uring_enter().
 * Returns the number published (a failed submit stops the batch; the
 * requests before it are published and rung), or a negative errno.
 */
int mkioq_submit_and_ring(struct mkioq_queue *q, const uint32_t *slots,
			  const struct mkioq_request *reqs, unsigned int n)
{
	struct mkioq_uring *u = q ? q->uring : NULL;
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
	if (!sqe)
		return mkioq_doorbell(q) ?: (int)i;
	mkioq_prep_doorbell(&u->ring, sqe, q->fd);
	io_uring_sqe_set_data64(sqe, UD_DOORBELL);
	ret = io_uring_submit(&u->ring);
	return ret < 0 ? ret : (int)i;
}

/*
 * Wait up to @timeout_ms (-1: forever) for completions and return up to
 * @max records; -ETIMEDOUT if none came.
 */
int mkioq_wait_completions(struct mkioq_queue *q, struct mkioq_cqe *cqes,
			   unsigned int max, int timeout_ms)
{
	struct mkioq_uring *u = q ? q->uring : NULL;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000LL,
	};
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0, n = 0;
	int ret;

	if (!u)
		return q ? -ENOTTY : -EINVAL;
	if (!cqes || !max)
		return -EINVAL;
	do {
		ret = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1,
				timeout_ms < 0 ? NULL : &ts, NULL);
	} while (ret == -EINTR);
	if (ret == -ETIME)
		return -ETIMEDOUT;
	if (ret < 0)
		return ret;

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);

		if (ud == UD_DOORBELL) {
			seen++;
			continue;
		}
		/* Leave the rest for the next call once @cqes is full. */
		if (n == max)
			break;
		seen++;
		if (cqe->res == -ECANCELED || ud >= u->nr_waits)
			continue;
		cqes[n++] = u->recs[ud];
		arm_wait(q, (unsigned int)ud);
	}
	io_uring_cq_advance(&u->ring, seen);
	/* The re-arms go in with the next submit or wait. */
	return (int)n;
}
