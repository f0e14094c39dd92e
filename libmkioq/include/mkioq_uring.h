/* SPDX-License-Identifier: MIT */
/*
 * libmkioq and io_uring: SQE helpers for an application's own ring, in the
 * style of liburing's io_uring_prep_*() (inline: they need liburing's
 * header only), and a library-owned ring for applications without one,
 * in libmkioq-uring (link -lmkioq-uring -lmkioq -luring, or
 * `pkg-config --libs mkioq-uring`). Include this header only if you use
 * them; <libmkioq.h> and libmkioq alone do not need liburing.
 */
#ifndef MKIOQ_URING_H
#define MKIOQ_URING_H

#include <string.h>
#include <liburing.h>
#include "libmkioq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of command payload in an SQE of @ring: 16, or 80 with SQE128. */
static inline size_t mkioq_sqe_cmd_bytes(const struct io_uring *ring)
{
	return ring->flags & IORING_SETUP_SQE128 ? 80 : 16;
}

static inline void mkioq_prep_cmd(const struct io_uring *ring,
				  struct io_uring_sqe *sqe, int fd,
				  uint32_t cmd_op)
{
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = cmd_op;
	memset(sqe->cmd, 0, mkioq_sqe_cmd_bytes(ring));
}

/* Ring the doorbell of the queue on @fd: services what is published. */
static inline void mkioq_prep_doorbell(const struct io_uring *ring,
				       struct io_uring_sqe *sqe, int fd)
{
	mkioq_prep_cmd(ring, sqe, fd, MKIOQ_URING_CMD_DOORBELL);
}

/*
 * Park until a completion of @slot (or MKIOQ_ANY_SLOT); the CQE's res is
 * the transfer result (bytes or -errno), res2 on CQE32 rings is
 * tag << 32 | slot, and *@out (if not NULL) receives the whole record
 * before the CQE is posted.
 */
static inline void mkioq_prep_wait(const struct io_uring *ring,
				   struct io_uring_sqe *sqe, int fd,
				   uint32_t slot, struct mkioq_cqe *out)
{
	struct mkioq_uring_wait arg = {
		.cqe_addr = (uint64_t)(uintptr_t)out,
		.slot = slot,
	};

	mkioq_prep_cmd(ring, sqe, fd, MKIOQ_URING_CMD_WAIT);
	memcpy(sqe->cmd, &arg, sizeof(arg));
}

/*
 * A ring owned by libmkioq-uring (libmkioq/uring/uring.c), for
 * applications without a loop. It lives until mkioq_queue_free(), whose
 * close() cancels its WAITs before the ring is freed.
 */
int mkioq_uring_init(struct mkioq_queue *q, unsigned int waits);
int mkioq_submit_and_ring(struct mkioq_queue *q, const uint32_t *slots,
			  const struct mkioq_request *reqs, unsigned int n);
int mkioq_wait_completions(struct mkioq_queue *q, struct mkioq_cqe *cqes,
			   unsigned int max, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* MKIOQ_URING_H */
