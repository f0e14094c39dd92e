// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring: uring_cmd DOORBELL and WAIT with 64- and 128-byte SQEs, one
 * WAIT per slot for a long run, more completions than parked WAITs, close
 * and exit with WAITs parked, the multishot poll path, the library-owned
 * ring, and bad commands. WAITs expire on 6.1; with MKIOQ_FEAT_WAIT_CANCEL
 * (6.7+) a ring's teardown and a task's exec cancel them instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"
#include "mkioq_uring.h"

#define BUF_BYTES	(4u << 20)

FIXTURE(ur) {
	struct mkioq_queue *q;
	struct io_uring ring;
	int drm, fd;
	struct test_buf src, dst;
	uint32_t hsrc, hdst[64];
};

FIXTURE_VARIANT(ur) {
	unsigned int ring_flags;
};

FIXTURE_VARIANT_ADD(ur, sqe64) {
	.ring_flags = 0,
};

FIXTURE_VARIANT_ADD(ur, sqe128_cqe32) {
	.ring_flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
};

FIXTURE_SETUP(ur)
{
	uint32_t s;

	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, 0, &self->q));
	self->fd = mkioq_queue_fd(self->q);
	ASSERT_EQ(0, io_uring_queue_init(256, &self->ring,
					 variant->ring_flags));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, 64 * 4096, true, &self->dst));
	pattern_fill(self->src.map, BUF_BYTES, 21, 0);
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	for (s = 0; s < 64; s++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, s * 4096,
					    4096, MKIOQ_ACCESS_WRITE,
					    &self->hdst[s]));
}

FIXTURE_TEARDOWN(ur)
{
	mkioq_queue_free(self->q);
	io_uring_queue_exit(&self->ring);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
}

/* Does the module say MKIOQ_FEAT_WAIT_CANCEL (6.7+ kernels)? */
static bool wait_cancel(struct mkioq_queue *q)
{
	struct mkioq_info info;

	return !mkioq_info(q, &info) &&
	       (info.features & MKIOQ_FEAT_WAIT_CANCEL);
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

static uint64_t seq_offset(uint32_t seq)
{
	return (uint64_t)seq * 131 % (BUF_BYTES - 4096);
}

static int submit_seq(FIXTURE_DATA(ur) *self, uint32_t slot, uint32_t seq,
		      uint32_t bytes)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
		.dst_handle = self->hdst[slot], .byte_count = bytes,
		.offset = seq_offset(seq), .tag = seq,
	};

	return mkioq_submit(self->q, slot, &req);
}

/* Submit one SQE and return its CQE's res (and user_data, res2). */
static int one_cmd(struct io_uring *ring, struct io_uring_sqe *sqe,
		   uint64_t *res2)
{
	struct io_uring_cqe *cqe;
	int res;

	io_uring_sqe_set_data64(sqe, 0x5157);
	if (io_uring_submit_and_wait(ring, 1) < 0)
		return -9999;
	if (io_uring_wait_cqe(ring, &cqe))
		return -9998;
	res = cqe->res;
	if (res2 && (ring->flags & IORING_SETUP_CQE32))
		*res2 = cqe->big_cqe[0];
	io_uring_cqe_seen(ring, cqe);
	return res;
}

TEST_F(ur, bad_commands)
{
	struct io_uring_sqe *sqe;
	struct mkioq_uring_wait arg = { .slot = 0 };
	int raw;

	sqe = get_sqe(&self->ring);
	mkioq_prep_cmd(&self->ring, sqe, self->fd, 0x77);
	EXPECT_EQ(-ENOTTY, one_cmd(&self->ring, sqe, NULL));

	sqe = get_sqe(&self->ring);
	mkioq_prep_wait(&self->ring, sqe, self->fd, 64, NULL);
	EXPECT_EQ(-EINVAL, one_cmd(&self->ring, sqe, NULL));

	arg.flags = 1;
	sqe = get_sqe(&self->ring);
	mkioq_prep_cmd(&self->ring, sqe, self->fd, MKIOQ_URING_CMD_WAIT);
	memcpy(sqe->cmd, &arg, sizeof(arg));
	EXPECT_EQ(-EINVAL, one_cmd(&self->ring, sqe, NULL));

	/* A doorbell carries no payload. */
	sqe = get_sqe(&self->ring);
	mkioq_prep_doorbell(&self->ring, sqe, self->fd);
	sqe->cmd[3] = 1;
	EXPECT_EQ(-EINVAL, one_cmd(&self->ring, sqe, NULL));

	/* Bytes past the 16-byte payload of a 128-byte SQE must be zero. */
	if (self->ring.flags & IORING_SETUP_SQE128) {
		sqe = get_sqe(&self->ring);
		mkioq_prep_wait(&self->ring, sqe, self->fd, 0, NULL);
		sqe->cmd[40] = 1;
		EXPECT_EQ(-EINVAL, one_cmd(&self->ring, sqe, NULL));
	}

	/* A file that is not set up. */
	raw = open(MKIOQ_DEV, O_RDWR);
	ASSERT_GE(raw, 0);
	sqe = get_sqe(&self->ring);
	mkioq_prep_doorbell(&self->ring, sqe, raw);
	EXPECT_EQ(-EBADFD, one_cmd(&self->ring, sqe, NULL));
	close(raw);

	/* Nothing above changed the ring. */
	for (int s = 0; s < 64; s++)
		EXPECT_EQ(MKIOQ_STATE_EMPTY, mkioq_slot_status(self->q, s));
}

/* A batch of 64 submissions and its doorbell in one io_uring_enter(). */
TEST_F(ur, doorbell_batch)
{
	struct io_uring_sqe *sqe;
	uint32_t s;

	for (s = 0; s < 64; s++)
		ASSERT_EQ(0, submit_seq(self, s, s, 1000 + s));
	sqe = get_sqe(&self->ring);
	mkioq_prep_doorbell(&self->ring, sqe, self->fd);
	ASSERT_EQ(0, one_cmd(&self->ring, sqe, NULL));
	/* DOORBELL mode services before the command completes. */
	for (s = 0; s < 64; s++) {
		ASSERT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, s));
		EXPECT_EQ(1000 + s, pattern_check(self->dst.map + s * 4096,
						  1000 + s, 21,
						  seq_offset(s)));
	}
}

/* One WAIT per slot, like ublk's one fetch per tag; every completion its own CQE. */
TEST_F_TIMEOUT(ur, wait_per_slot_long_run, 600)
{
	const uint32_t total = 20000, bytes = 256;
	struct mkioq_cqe recs[64];
	uint8_t *done = calloc(total, 1);
	uint32_t s, sent = 0, got = 0, bad = 0, twice = 0, lost = 0;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;

	ASSERT_NE(NULL, done);
	for (s = 0; s < 64; s++) {
		sqe = get_sqe(&self->ring);
		mkioq_prep_wait(&self->ring, sqe, self->fd, s, &recs[s]);
		io_uring_sqe_set_data64(sqe, s);
	}
	for (s = 0; s < 64; s++, sent++)
		ASSERT_EQ(0, submit_seq(self, s, sent, bytes));
	sqe = get_sqe(&self->ring);
	mkioq_prep_doorbell(&self->ring, sqe, self->fd);
	io_uring_sqe_set_data64(sqe, UINT64_MAX);

	while (got < total) {
		unsigned int head, n = 0;
		bool ring_it = false;

		ASSERT_LE(0, io_uring_submit_and_wait(&self->ring, 1));
		io_uring_for_each_cqe(&self->ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			uint32_t seq;

			n++;
			if (ud == UINT64_MAX)
				continue;
			s = (uint32_t)ud;
			seq = recs[s].tag;
			/* The CQE of this slot's WAIT carries this slot. */
			if (cqe->res != (int)bytes || recs[s].slot != s ||
			    seq >= total)
				bad++;
			if ((self->ring.flags & IORING_SETUP_CQE32) &&
			    cqe->big_cqe[0] != ((uint64_t)seq << 32 | s))
				bad++;
			if (seq < total) {
				twice += done[seq];
				done[seq] = 1;
			}
			if (pattern_check(self->dst.map + s * 4096, bytes, 21,
					  seq_offset(seq)) != bytes)
				bad++;
			got++;
			ASSERT_EQ(0, mkioq_recycle(self->q, s));
			if (sent < total) {
				ASSERT_EQ(0, submit_seq(self, s, sent++,
							bytes));
				ring_it = true;
			}
			sqe = get_sqe(&self->ring);
			mkioq_prep_wait(&self->ring, sqe, self->fd, s,
					&recs[s]);
			io_uring_sqe_set_data64(sqe, s);
		}
		io_uring_cq_advance(&self->ring, n);
		if (ring_it) {
			sqe = get_sqe(&self->ring);
			mkioq_prep_doorbell(&self->ring, sqe, self->fd);
			io_uring_sqe_set_data64(sqe, UINT64_MAX);
		}
	}
	for (s = 0; s < total; s++)
		lost += !done[s];
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, twice);
	EXPECT_EQ(0, lost);
	ksft_print_msg("%u completions, one CQE each: %u bad, %u twice, %u lost\n",
		       got, bad, twice, lost);
	free(done);
	/* Teardown closes the file with 64 WAITs parked. */
}

/* More completions than parked WAITs: the rest wait in the backlog. */
TEST_F(ur, more_completions_than_waits)
{
	struct mkioq_cqe recs[2], backlog[64];
	uint8_t seen[64] = { 0 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int i, n, total = 0;
	uint32_t s;

	for (i = 0; i < 2; i++) {
		sqe = get_sqe(&self->ring);
		mkioq_prep_wait(&self->ring, sqe, self->fd, MKIOQ_ANY_SLOT,
				&recs[i]);
		io_uring_sqe_set_data64(sqe, i);
	}
	ASSERT_EQ(2, io_uring_submit(&self->ring));
	for (s = 0; s < 64; s++)
		ASSERT_EQ(0, submit_seq(self, s, s, 64));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
		EXPECT_EQ(64, cqe->res);
		s = recs[io_uring_cqe_get_data64(cqe)].tag;
		ASSERT_LT(s, 64);
		seen[s]++;
		io_uring_cqe_seen(&self->ring, cqe);
		total++;
	}
	/* The first two completions went to the WAITs, the rest to read(). */
	while ((n = mkioq_read_cqes(self->q, backlog, 64, 0)) > 0)
		for (i = 0; i < n; i++, total++)
			seen[backlog[i].tag]++;
	EXPECT_EQ(64, total);
	for (s = 0; s < 64; s++)
		EXPECT_EQ(1, seen[s]);

	/* A WAIT for a slot whose record waits completes at once. */
	ASSERT_EQ(0, mkioq_recycle(self->q, 7));
	ASSERT_EQ(0, submit_seq(self, 7, 7, 33));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	sqe = get_sqe(&self->ring);
	mkioq_prep_wait(&self->ring, sqe, self->fd, 7, &recs[0]);
	EXPECT_EQ(33, one_cmd(&self->ring, sqe, NULL));
	EXPECT_EQ(7, recs[0].slot);
	EXPECT_EQ(7, recs[0].tag);
}

/*
 * A WAIT whose cqe_addr cannot be written completes -EFAULT and loses
 * nothing: its record stays queued for the next WAIT or read(), whether
 * the WAIT found the record waiting or was parked when it arrived.
 */
TEST_F(ur, wait_bad_cqe_addr_loses_nothing)
{
	struct mkioq_cqe *ro, rec;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int parked;

	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	for (parked = 0; parked < 2; parked++) {
		uint32_t slot = 9 + parked, tag = 100 + parked;

		sqe = get_sqe(&self->ring);
		mkioq_prep_wait(&self->ring, sqe, self->fd, slot, ro);
		io_uring_sqe_set_data64(sqe, tag);
		if (parked)
			ASSERT_EQ(1, io_uring_submit(&self->ring));
		ASSERT_EQ(0, submit_seq(self, slot, tag, 48));
		ASSERT_EQ(0, mkioq_doorbell(self->q));
		ASSERT_LE(0, io_uring_submit_and_wait(&self->ring, 1));
		ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
		EXPECT_EQ(tag, io_uring_cqe_get_data64(cqe));
		EXPECT_EQ(-EFAULT, cqe->res);
		io_uring_cqe_seen(&self->ring, cqe);
		/* The record went back to the backlog, whole. */
		ASSERT_EQ(1, mkioq_read_cqes(self->q, &rec, 1, 0));
		EXPECT_EQ(slot, rec.slot);
		EXPECT_EQ(tag, rec.tag);
		EXPECT_EQ(48, rec.result);
		EXPECT_EQ(MKIOQ_RESULT_OK, rec.status);
		EXPECT_EQ(0, rec.flags);
		EXPECT_EQ(-ETIMEDOUT, mkioq_read_cqes(self->q, &rec, 1, 0));
		EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, slot));
	}
	munmap(ro, 4096);
}

/* Closing the file completes every parked WAIT: ring exit cannot hang. */
TEST_F(ur, close_with_waits_parked)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int i, cancelled = 0;

	for (i = 0; i < 64; i++) {
		sqe = get_sqe(&self->ring);
		mkioq_prep_wait(&self->ring, sqe, self->fd,
				i % 2 ? MKIOQ_ANY_SLOT : (uint32_t)i, NULL);
		io_uring_sqe_set_data64(sqe, i);
	}
	ASSERT_EQ(64, io_uring_submit(&self->ring));
	mkioq_queue_free(self->q);
	self->q = NULL;
	for (i = 0; i < 64; i++) {
		struct __kernel_timespec ts = { .tv_sec = 10 };

		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&self->ring, &cqe,
						       &ts));
		cancelled += cqe->res == -ECANCELED;
		io_uring_cqe_seen(&self->ring, cqe);
	}
	EXPECT_EQ(64, cancelled);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, 0, &self->q));
}

/*
 * A WAIT parked for MKIOQ_WAIT_TIMEOUT_MS completes with -ETIME and a
 * notice, no completion, so no process can wait on one for ever (6.1
 * cannot cancel it).
 */
TEST_F_TIMEOUT(ur, wait_expires, 60)
{
	struct __kernel_timespec ts = {
		.tv_sec = MKIOQ_WAIT_TIMEOUT_MS / 1000 + 10,
	};
	struct mkioq_cqe rec;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	uint64_t t0 = now_ns();

	/* Where WAITs are cancelable they never expire: wait_never_expires. */
	if (wait_cancel(self->q))
		SKIP(return, "WAITs are cancelable here and do not expire");
	memset(&rec, 0xa5, sizeof(rec));
	sqe = get_sqe(&self->ring);
	mkioq_prep_wait(&self->ring, sqe, self->fd, 5, &rec);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts));
	EXPECT_EQ(-ETIME, cqe->res);
	io_uring_cqe_seen(&self->ring, cqe);
	EXPECT_GE(now_ns() - t0, (MKIOQ_WAIT_TIMEOUT_MS - 1000) * 1000000ULL);
	/* The record is a notice: no completion, the result and slot. */
	EXPECT_EQ(5, rec.slot);
	EXPECT_EQ(0, rec.status);
	EXPECT_EQ(-ETIME, rec.result);
	EXPECT_EQ(MKIOQ_CQE_F_NOTICE, rec.flags);
	EXPECT_EQ(0, rec.dropped);
	EXPECT_EQ(MKIOQ_STATE_EMPTY, mkioq_slot_status(self->q, 5));
}

/* A process that exits with WAITs parked exits. */
TEST_F(ur, exit_with_waits_parked)
{
	pid_t pid = fork();
	int status;

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct io_uring ring;
		struct mkioq_queue *q;
		int i;

		if (mkioq_queue_open(MKIOQ_DEV, 64, MKIOQ_OPEN_POLL, &q) ||
		    io_uring_queue_init(64, &ring, 0))
			_exit(2);
		for (i = 0; i < 64; i++)
			mkioq_prep_wait(&ring, io_uring_get_sqe(&ring),
					mkioq_queue_fd(q), MKIOQ_ANY_SLOT,
					NULL);
		if (io_uring_submit(&ring) != 64)
			_exit(3);
		_exit(0);
	}
	alarm(60);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	alarm(0);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* The simple alternative: a multishot poll, then read(). */
TEST_F(ur, multishot_poll)
{
	struct mkioq_cqe recs[64];
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	uint32_t s, got = 0, wakeups = 0, round;

	sqe = get_sqe(&self->ring);
	io_uring_prep_poll_multishot(sqe, self->fd, POLLIN);
	io_uring_sqe_set_data64(sqe, 1);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	for (round = 0; round < 10; round++) {
		for (s = 0; s < 64; s++) {
			if (round)
				ASSERT_EQ(0, mkioq_recycle(self->q, s));
			ASSERT_EQ(0, submit_seq(self, s, round * 64 + s, 100));
		}
		ASSERT_EQ(0, mkioq_doorbell(self->q));
		while (got < (round + 1) * 64) {
			int n;

			ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
			EXPECT_EQ(1, io_uring_cqe_get_data64(cqe));
			EXPECT_TRUE(cqe->res & POLLIN);
			/* Still armed. */
			EXPECT_TRUE(cqe->flags & IORING_CQE_F_MORE);
			io_uring_cqe_seen(&self->ring, cqe);
			wakeups++;
			while ((n = mkioq_read_cqes(self->q, recs, 64, 0)) > 0)
				got += n;
		}
	}
	EXPECT_EQ(640, got);
	ksft_print_msg("multishot poll: %u records in %u wakeups\n", got,
		       wakeups);
}

/* The library-owned ring: submit-and-ring, wait with a timeout. */
TEST_F(ur, library_ring)
{
	struct mkioq_request reqs[64];
	struct mkioq_cqe cqes[64];
	uint32_t slots[64], s, got = 0;
	uint8_t seen[64] = { 0 };
	int n;

	ASSERT_EQ(0, mkioq_uring_init(self->q, 0));
	EXPECT_EQ(-EINVAL, mkioq_uring_init(self->q, 0));
	EXPECT_EQ(-ETIMEDOUT, mkioq_wait_completions(self->q, cqes, 64, 50));
	for (s = 0; s < 64; s++) {
		slots[s] = s;
		reqs[s] = (struct mkioq_request) {
			.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
			.dst_handle = self->hdst[s], .byte_count = 512,
			.offset = seq_offset(s), .tag = s,
		};
	}
	ASSERT_EQ(64, mkioq_submit_and_ring(self->q, slots, reqs, 64));
	while (got < 64) {
		n = mkioq_wait_completions(self->q, cqes, 64, 10000);
		ASSERT_GT(n, 0);
		for (int i = 0; i < n; i++) {
			ASSERT_LT(cqes[i].tag, 64);
			EXPECT_EQ(512, cqes[i].result);
			EXPECT_EQ(cqes[i].tag, cqes[i].slot);
			seen[cqes[i].tag]++;
		}
		got += n;
	}
	for (s = 0; s < 64; s++)
		EXPECT_EQ(1, seen[s]);
	/* A busy slot stops the batch before it: nothing after is written. */
	EXPECT_EQ(-EBUSY, mkioq_submit_and_ring(self->q, slots, reqs, 2));
}

/*
 * The feature bit is the kernel's: 6.7 and later can cancel a parked
 * uring_cmd, 6.1 cannot.
 */
TEST_F(ur, wait_cancel_feature)
{
	struct mkioq_info info;
	struct utsname u;
	unsigned int major, minor;

	ASSERT_EQ(0, uname(&u));
	ASSERT_EQ(2, sscanf(u.release, "%u.%u", &major, &minor));
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(major > 6 || (major == 6 && minor >= 7),
		  !!(info.features & MKIOQ_FEAT_WAIT_CANCEL));
	EXPECT_EQ(MKIOQ_FEAT_FILE, info.features & ~MKIOQ_FEAT_WAIT_CANCEL);
	EXPECT_EQ(0, info.reserved);
	ksft_print_msg("kernel %s: features %#llx\n", u.release,
		       (unsigned long long)info.features);
}

/* Park a WAIT for @slot with user_data @ud through @ring. */
static int park_wait(struct io_uring *ring, int fd, uint32_t slot,
		     struct mkioq_cqe *rec, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(ring);

	mkioq_prep_wait(ring, sqe, fd, slot, rec);
	io_uring_sqe_set_data64(sqe, ud);
	return io_uring_submit(ring);
}

/*
 * IORING_OP_ASYNC_CANCEL of a parked WAIT by its user_data. io_uring's
 * async cancel looks in io-wq, polls, timeouts (and from 6.7 waitids and
 * futexes), never at a parked uring_cmd: on 6.1 and on 6.12 alike the
 * cancel completes with -ENOENT and the WAIT stays parked (what 6.7+
 * cancels is the WAITs of a ring or task going away:
 * ring_exit_cancels_waits). The WAIT then still takes its record.
 */
TEST_F(ur, wait_async_cancel)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	int wait_res = 1, cancel_res = 1, i;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct mkioq_cqe rec;

	memset(&rec, 0, sizeof(rec));
	ASSERT_EQ(1, park_wait(&self->ring, self->fd, 3, &rec, 0xc0de));
	sqe = get_sqe(&self->ring);
	io_uring_prep_cancel64(sqe, 0xc0de, 0);
	io_uring_sqe_set_data64(sqe, 0xca);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	/* The cancel's CQE, and the WAIT's if the cancel reached it. */
	for (i = 0; i < 2; i++) {
		if (io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts))
			break;
		if (io_uring_cqe_get_data64(cqe) == 0xca)
			cancel_res = cqe->res;
		else if (io_uring_cqe_get_data64(cqe) == 0xc0de)
			wait_res = cqe->res;
		io_uring_cqe_seen(&self->ring, cqe);
		ts.tv_sec = 1;
	}
	ksft_print_msg("async cancel of a parked WAIT: cancel %d, WAIT %d\n",
		       cancel_res, wait_res);
	EXPECT_EQ(-ENOENT, cancel_res);
	EXPECT_EQ(1, wait_res);		/* no CQE: still parked */

	/* Still parked: it takes the next completion of slot 3. */
	ASSERT_EQ(0, submit_seq(self, 3, 77, 99));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ts.tv_sec = 10;
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts));
	EXPECT_EQ(0xc0de, io_uring_cqe_get_data64(cqe));
	EXPECT_EQ(99, cqe->res);
	io_uring_cqe_seen(&self->ring, cqe);
	EXPECT_EQ(77, rec.tag);
	EXPECT_EQ(3, rec.slot);
}

/*
 * With MKIOQ_FEAT_WAIT_CANCEL, tearing an io_uring down cancels its
 * parked WAITs. Seen through the limit on parked WAITs: fill a queue's
 * WAITs from a second ring (until one is refused with -EBUSY), close that
 * ring, and a WAIT parks again. (Records cannot show it: a record that a
 * WAIT of a dying ring takes goes back to the queue. The file stays open
 * here, so closing it cancels nothing: that is close_with_waits_parked.)
 */
TEST_F_TIMEOUT(ur, ring_exit_cancels_waits, 120)
{
	struct __kernel_timespec ts = { .tv_nsec = 100000000 };
	unsigned int parked = 0, busy = 0;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring2;
	int i, res = 1;
	uint64_t t0;

	if (!wait_cancel(self->q))
		SKIP(return, "6.1: nothing cancels a parked uring_cmd (WAITs expire)");
	ASSERT_EQ(0, io_uring_queue_init(256, &ring2, variant->ring_flags));
	while (!busy && parked < 65536) {
		for (i = 0; i < 64; i++) {
			sqe = get_sqe(&ring2);
			mkioq_prep_wait(&ring2, sqe, self->fd,
					i % 2 ? MKIOQ_ANY_SLOT : (uint32_t)i,
					NULL);
		}
		ASSERT_EQ(64, io_uring_submit(&ring2));
		parked += 64;
		while (!io_uring_peek_cqe(&ring2, &cqe)) {
			ASSERT_EQ(-EBUSY, cqe->res);
			busy++;
			parked--;
			io_uring_cqe_seen(&ring2, cqe);
		}
	}
	ASSERT_GT(busy, 0);
	ksft_print_msg("%u WAITs parked, then -EBUSY\n", parked);
	io_uring_queue_exit(&ring2);

	/*
	 * The ring goes in a kernel worker, soon after the close: try again
	 * every 20 ms, for up to 30 s.
	 */
	t0 = now_ns();
	do {
		ASSERT_EQ(1, park_wait(&self->ring, self->fd, MKIOQ_ANY_SLOT,
				       NULL, 0xbeef));
		res = 1;
		if (!io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts)) {
			res = cqe->res;
			io_uring_cqe_seen(&self->ring, cqe);
		}
		if (res == -EBUSY)
			usleep(20000);
	} while (res == -EBUSY && now_ns() - t0 < 30000000000ULL);
	EXPECT_EQ(1, res) TH_LOG("WAIT: %d (-EBUSY: the dead ring's WAITs are still parked)",
				 res);
	ksft_print_msg("a WAIT parked again %llu ms after the close\n",
		       (unsigned long long)((now_ns() - t0) / 1000000));
	/* The WAIT parked: a completion ends it. */
	ASSERT_EQ(0, submit_seq(self, 1, 5, 64));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ts.tv_sec = 10;
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&self->ring, &cqe, &ts));
	EXPECT_EQ(0xbeef, io_uring_cqe_get_data64(cqe));
	EXPECT_EQ(64, cqe->res);
	io_uring_cqe_seen(&self->ring, cqe);
}

/*
 * With MKIOQ_FEAT_WAIT_CANCEL, a process that execs with WAITs parked
 * that no close() of the file cancels (they went in through a registered
 * file after its descriptors were closed) does so at once: exec cancels
 * the task's io_uring requests and waits for them, and cancelling a WAIT
 * completes it. Without the feature that exec would wait for the WAITs
 * to expire.
 */
TEST_F_TIMEOUT(ur, exec_with_fixed_file_waits_parked, 60)
{
	uint64_t t0;
	int status, i;
	pid_t pid;

	if (!wait_cancel(self->q))
		SKIP(return, "6.1: exec would wait MKIOQ_WAIT_TIMEOUT_MS for the WAITs");
	t0 = now_ns();
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct io_uring ring;
		int fd = dup(self->fd);

		if (fd < 0 || io_uring_queue_init(64, &ring, 0) ||
		    io_uring_register_files(&ring, &fd, 1))
			_exit(2);
		/* Our own descriptors of the file go: only the ring holds it. */
		close(fd);
		close(self->fd);
		for (i = 0; i < 16; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			mkioq_prep_wait(&ring, sqe, 0,
					i % 2 ? MKIOQ_ANY_SLOT : (uint32_t)i,
					NULL);
			sqe->flags |= IOSQE_FIXED_FILE;
		}
		if (io_uring_submit(&ring) != 16)
			_exit(3);
		/* Nothing completed: they are parked. */
		if (io_uring_cq_ready(&ring))
			_exit(4);
		execl("/bin/true", "true", (char *)NULL);
		_exit(5);
	}
	alarm(30);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	alarm(0);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* Well before MKIOQ_WAIT_TIMEOUT_MS: not by expiry. */
	EXPECT_LT(now_ns() - t0, (MKIOQ_WAIT_TIMEOUT_MS / 2) * 1000000ULL);
	ksft_print_msg("exec with 16 WAITs parked took %llu ms\n",
		       (unsigned long long)((now_ns() - t0) / 1000000));
}

/*
 * With MKIOQ_FEAT_WAIT_CANCEL a parked WAIT does not expire: after
 * MKIOQ_WAIT_TIMEOUT_MS and more it is still parked, and closing the file
 * cancels it. (Once, not per SQE size: it takes that long.)
 */
TEST(wait_never_expires)
{
	struct __kernel_timespec ts = {
		.tv_sec = MKIOQ_WAIT_TIMEOUT_MS / 1000 + 3,
	};
	struct io_uring_cqe *cqe;
	struct mkioq_queue *q;
	struct io_uring ring;

	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 8, 0, &q));
	if (!wait_cancel(q)) {
		mkioq_queue_free(q);
		SKIP(return, "6.1: WAITs expire (wait_expires)");
	}
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	ASSERT_EQ(1, park_wait(&ring, mkioq_queue_fd(q), 6, NULL, 0x600d));
	EXPECT_EQ(-ETIME, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	mkioq_queue_free(q);
	ts.tv_sec = 10;
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	EXPECT_EQ(0x600d, io_uring_cqe_get_data64(cqe));
	EXPECT_EQ(-ECANCELED, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
}

TEST_HARNESS_MAIN
