// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes: the ring unmapped while the service writes it, a process
 * killed with requests in flight and WAITs parked, close racing parked
 * WAITs and submissions from another thread, a queue shared with a forked
 * child that outlives the parent's descriptor, a registered buffer whose
 * every userspace reference is gone, unregister racing the service, and
 * the owner's identity: a close racing SETUP, an owner that exits, and a
 * close with requests in flight, after which every dma-buf reference must
 * be back and every slot final (read from debugfs' dma_buf/bufinfo).
 * Kernel memory leaks are the runner's to find (kmemleak on the debug
 * kernel); here every path must complete, return the documented result
 * and keep data intact.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <xf86drm.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"
#include "mkioq_uring.h"

#define PG		4096u
#define BUF_BYTES	(8u << 20)
#define REQ_BYTES	(128u << 10)	/* 64 of them fill BUF_BYTES */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

FIXTURE(lc) {
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst;
	uint32_t hsrc, hdst;
};

FIXTURE_VARIANT(lc) {
	unsigned int open_flags;
};

FIXTURE_VARIANT_ADD(lc, doorbell) {
	.open_flags = 0,
};

FIXTURE_VARIANT_ADD(lc, poll) {
	.open_flags = MKIOQ_OPEN_POLL,
};

FIXTURE_SETUP(lc)
{
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	pattern_fill(self->src.map, BUF_BYTES, 41, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, variant->open_flags,
				      &self->q));
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));
}

FIXTURE_TEARDOWN(lc)
{
	mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
}

/* READ of @bytes at @off of @src into the start of @dst, in @slot. */
static int submit_read(struct mkioq_queue *q, uint32_t slot, uint32_t src,
		       uint32_t dst, uint64_t off, uint32_t bytes, uint32_t tag)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = src, .dst_handle = dst,
		.byte_count = bytes, .offset = off, .tag = tag,
	};

	return mkioq_submit(q, slot, &req);
}

static void *doorbell_thread(void *q)
{
	mkioq_doorbell(q);
	return NULL;
}

/*
 * (a) The ring unmapped while the service writes completions into it: the
 * module writes through its own reference to the page, so nothing faults,
 * the records still arrive through read(), handles still unregister, and a
 * new mapping shows every result.
 */
TEST_F_TIMEOUT(lc, munmap_during_service, 300)
{
	uint32_t dh[64], s, round, got, n;
	struct mkioq_cqe cqes[64];
	struct mkioq_info info;
	uint8_t seen[64];
	pthread_t th;

	for (s = 0; s < 64; s++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd,
					    s * REQ_BYTES, REQ_BYTES,
					    MKIOQ_ACCESS_WRITE, &dh[s]));
	for (round = 0; round < 6; round++) {
		for (s = 0; s < 64; s++)
			ASSERT_EQ(0, submit_read(self->q, s, self->hsrc, dh[s],
						 (uint64_t)(round * 64 + s) * 97 %
						 (BUF_BYTES - REQ_BYTES),
						 REQ_BYTES, round << 8 | s));
		/* The doorbell from another thread: it services there. */
		ASSERT_EQ(0, pthread_create(&th, NULL, doorbell_thread,
					    self->q));
		usleep(rnd(3000));
		ASSERT_EQ(0, munmap(self->q->words, self->q->map_bytes));
		self->q->words = NULL;
		pthread_join(th, NULL);

		/* Without the mapping: records through read(). */
		memset(seen, 0, sizeof(seen));
		for (got = 0; got < 64; got += n) {
			int r = mkioq_read_cqes(self->q, cqes, 64, 20000);

			ASSERT_GT(r, 0);
			n = r;
			for (s = 0; s < n; s++) {
				ASSERT_LT(cqes[s].slot, 64);
				EXPECT_EQ(MKIOQ_RESULT_OK, cqes[s].status);
				EXPECT_EQ(REQ_BYTES, cqes[s].result);
				EXPECT_EQ(round << 8 | cqes[s].slot, cqes[s].tag);
				seen[cqes[s].slot]++;
			}
		}
		for (s = 0; s < 64; s++)
			EXPECT_EQ(1, seen[s]);

		/* A new mapping is the same page, with every result. */
		self->q->words = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				      MAP_SHARED, mkioq_queue_fd(self->q), 0);
		ASSERT_NE(MAP_FAILED, self->q->words);
		for (s = 0; s < 64; s++) {
			ASSERT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, s));
			ASSERT_EQ(REQ_BYTES,
				  pattern_check(self->dst.map + s * REQ_BYTES,
						REQ_BYTES, 41,
						(uint64_t)(round * 64 + s) * 97 %
						(BUF_BYTES - REQ_BYTES)));
			ASSERT_EQ(0, mkioq_recycle(self->q, s));
		}
	}
	/* Unmapped again: unregistering still works. */
	ASSERT_EQ(0, munmap(self->q->words, PG));
	self->q->words = NULL;
	for (s = 0; s < 64; s++)
		EXPECT_EQ(0, mkioq_unregister(self->q, dh[s]));
	EXPECT_EQ(-ENOENT, mkioq_unregister(self->q, dh[0]));
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(6 * 64, info.completed);
	EXPECT_EQ(2, info.handles);
}

/*
 * (b) A child with requests in flight (a thread ringing, big copies) and
 * WAITs parked is SIGKILLed at a random moment: it dies at once, and the
 * device keeps working.
 */
TEST_F_TIMEOUT(lc, sigkill_with_requests_and_waits, 300)
{
	int round, status;

	for (round = 0; round < 12; round++) {
		int p[2];
		char c;
		pid_t pid;

		ASSERT_EQ(0, pipe(p));
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct mkioq_queue *q;
			struct io_uring ring;
			uint32_t hs, hd, s;
			pthread_t th;
			int i;

			close(p[0]);
			if (mkioq_queue_open(MKIOQ_DEV, 64,
					     round & 1 ? MKIOQ_OPEN_POLL : 0,
					     &q) ||
			    mkioq_register(q, self->src.fd, 0, BUF_BYTES,
					   MKIOQ_ACCESS_READ, &hs) ||
			    mkioq_register(q, self->dst.fd, 0, BUF_BYTES,
					   MKIOQ_ACCESS_WRITE, &hd) ||
			    io_uring_queue_init(256, &ring, 0))
				_exit(2);
			/* More WAITs than completions: some stay parked. */
			for (i = 0; i < 200; i++)
				mkioq_prep_wait(&ring, io_uring_get_sqe(&ring),
						mkioq_queue_fd(q),
						i % 3 ? MKIOQ_ANY_SLOT : i % 64,
						NULL);
			if (io_uring_submit(&ring) != 200)
				_exit(3);
			for (s = 0; s < 64; s++)
				submit_read(q, s, hs, hd, 0, 1 << 20, s);
			pthread_create(&th, NULL, doorbell_thread, q);
			if (write(p[1], "r", 1) != 1)
				_exit(4);
			for (;;) {
				for (s = 0; s < 64; s++) {
					int st = mkioq_slot_status(q, s);

					if (st == MKIOQ_RESULT_OK ||
					    st == MKIOQ_RESULT_ERROR) {
						mkioq_recycle(q, s);
						submit_read(q, s, hs, hd, 0,
							    1 << 20, s);
					}
				}
				mkioq_doorbell(q);
			}
		}
		close(p[1]);
		ASSERT_EQ(1, read(p[0], &c, 1));
		close(p[0]);
		usleep(rnd(20000));
		ASSERT_EQ(0, kill(pid, SIGKILL));
		alarm(30);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		alarm(0);
		ASSERT_TRUE(WIFSIGNALED(status));
		EXPECT_EQ(SIGKILL, WTERMSIG(status));
	}

	/* A new queue works. */
	{
		struct mkioq_queue *q;
		uint32_t hs, hd;

		ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64,
					      variant->open_flags, &q));
		ASSERT_EQ(0, mkioq_register(q, self->src.fd, 0, BUF_BYTES,
					    MKIOQ_ACCESS_READ, &hs));
		ASSERT_EQ(0, mkioq_register(q, self->dst.fd, 0, BUF_BYTES,
					    MKIOQ_ACCESS_WRITE, &hd));
		memset(self->dst.map, 0, 65536);
		ASSERT_EQ(0, submit_read(q, 3, hs, hd, 777, 65536, 3));
		ASSERT_EQ(0, mkioq_doorbell(q));
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(q, 3, 20000));
		EXPECT_EQ(65536, pattern_check(self->dst.map, 65536, 41, 777));
		mkioq_queue_free(q);
	}
}

/*
 * (c) close() while another thread parks WAITs and submits requests and
 * doorbells through io_uring on the same file. Every WAIT completes: with
 * its record, cancelled by the close, or (one that parked after the close
 * had cancelled the others) expired with -ETIME. No command is lost.
 */
struct closer_ctx {
	struct mkioq_queue *q;
	struct io_uring ring;
	int fd;
	uint32_t hs, hd;
	atomic_bool stop;
	unsigned int submitted, completed, records, cancelled, expired,
		     badf, other, bad_res;
	int last_other;
};

static void closer_reap(struct closer_ctx *c, struct io_uring *ring,
			int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;

	while (!(timeout_ms ? io_uring_wait_cqe_timeout(ring, &cqe, &ts) :
			      io_uring_peek_cqe(ring, &cqe))) {
		int res = cqe->res;

		if (io_uring_cqe_get_data64(cqe) == 1) {
			/* A doorbell: done, or the fd was gone. */
			if (res && res != -EBADF && res != -ENXIO)
				c->bad_res++;
		} else {
			c->completed++;
			/*
			 * Every request is a valid 4096-byte READ: a record's
			 * result is 4096, never an errno; -ENOBUFS is the
			 * notice of a record dropped on overflow.
			 */
			if (res == 4096 || res == -ENOBUFS)
				c->records++;
			else if (res == -ECANCELED)
				c->cancelled++;
			else if (res == -ETIME)
				c->expired++;
			else if (res == -EBADF || res == -ENXIO)
				c->badf++;	/* submitted after the close */
			else {
				c->other++;
				c->last_other = res;
			}
		}
		io_uring_cqe_seen(ring, cqe);
	}
}

static void *closer_submitter(void *arg)
{
	struct closer_ctx *c = arg;
	struct io_uring *ring = &c->ring;
	struct io_uring_sqe *sqe;
	uint32_t s = 0;
	uint64_t t0;

	while (!atomic_load(&c->stop)) {
		int i;

		for (i = 0; i < 8; i++) {
			sqe = io_uring_get_sqe(ring);
			mkioq_prep_wait(ring, sqe, c->fd,
					i & 1 ? MKIOQ_ANY_SLOT : s % 64, NULL);
			io_uring_sqe_set_data64(sqe, 2);
			c->submitted++;
		}
		for (i = 0; i < 4; i++, s++) {
			int st = mkioq_slot_status(c->q, s % 64);

			if (st == MKIOQ_RESULT_OK || st == MKIOQ_RESULT_ERROR)
				mkioq_recycle(c->q, s % 64);
			submit_read(c->q, s % 64, c->hs, c->hd, s * 61 % 65536,
				    4096, s);
		}
		sqe = io_uring_get_sqe(ring);
		mkioq_prep_doorbell(ring, sqe, c->fd);
		io_uring_sqe_set_data64(sqe, 1);
		io_uring_submit(ring);
		closer_reap(c, ring, 0);
		/* Keep the number parked bounded. */
		while (c->submitted - c->completed > 96 &&
		       !atomic_load(&c->stop))
			closer_reap(c, ring, 10);
	}
	/* Everything completes: records, cancels, or expiry after 10 s. */
	t0 = now_ns();
	while (c->completed < c->submitted && now_ns() - t0 < 30000000000ULL)
		closer_reap(c, ring, 100);
	return NULL;
}

TEST_F_TIMEOUT(lc, close_races_waits_and_submissions, 600)
{
	unsigned int round, expired = 0, cancelled = 0, records = 0, refused = 0;
	uint64_t t0 = now_ns();

	for (round = 0; round < 40 && now_ns() - t0 < 120000000000ULL;
	     round++) {
		struct closer_ctx c = { 0 };
		struct mkioq_queue *q;
		pthread_t th;

		ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64,
					      round & 1 ? MKIOQ_OPEN_POLL : 0,
					      &q));
		c.q = q;
		c.fd = mkioq_queue_fd(q);
		ASSERT_EQ(0, mkioq_register(q, self->src.fd, 0, BUF_BYTES,
					    MKIOQ_ACCESS_READ, &c.hs));
		ASSERT_EQ(0, mkioq_register(q, self->dst.fd, 0, BUF_BYTES,
					    MKIOQ_ACCESS_WRITE, &c.hd));
		/* Made here: a file the thread opened could take the number. */
		ASSERT_EQ(0, io_uring_queue_init(128, &c.ring, 0));
		ASSERT_EQ(0, pthread_create(&th, NULL, closer_submitter, &c));
		usleep(1000 + rnd(20000));
		/*
		 * Close the file but keep the mapping the thread writes; no
		 * new file may take the number while the thread runs.
		 */
		ASSERT_EQ(0, close(c.fd));
		usleep(rnd(2000));
		atomic_store(&c.stop, true);
		pthread_join(th, NULL);
		io_uring_queue_exit(&c.ring);
		munmap(q->words, q->map_bytes);
		free(q);

		EXPECT_EQ(c.submitted, c.completed)
			TH_LOG("round %u: %u WAITs never completed", round,
			       c.submitted - c.completed);
		EXPECT_EQ(0, c.other) TH_LOG("unexpected WAIT result %d",
					     c.last_other);
		EXPECT_EQ(0, c.bad_res);
		expired += c.expired;
		cancelled += c.cancelled;
		records += c.records;
		refused += c.badf;
	}
	ksft_print_msg("%u rounds: WAITs %u with a record, %u cancelled by close, %u expired (parked after the close), %u refused after it\n",
		       round, records, cancelled, expired, refused);
}

/*
 * (d) A forked child inherits the file and the mapping: both submit and
 * complete through them at once, on their own slots. Then the parent,
 * which set the queue up, closes its descriptor and unmaps. The child's
 * next calls are safe under either lifetime rule the module may have:
 *
 *   shared file: the file lives while any process holds it; the child's
 *   requests go on completing, and a WAIT it parked before the parent's
 *   close is not cancelled by that close (it belongs to the child);
 *
 *   owner shutdown: the queue dies with its owner's last descriptor;
 *   every call but INFO fails with -ENXIO, the child's parked WAIT
 *   completes with -ECANCELED, handles are gone, and the child's mapping
 *   of the ring is still valid memory.
 *
 * The child reports which one it saw; anything else fails.
 */
#define FORK_REQS	400

static int run_requests(struct mkioq_queue *q, uint32_t first, uint32_t n,
			uint32_t hs, const uint32_t *dh, uint8_t *dst,
			uint32_t seed)
{
	uint32_t i, s, bad = 0;

	for (i = 0; i < FORK_REQS; i++) {
		uint64_t off = (uint64_t)(seed + i) * 4099 % (BUF_BYTES - PG);

		s = first + i % n;
		if (submit_read(q, s, hs, dh[s], off, 2048, seed + i))
			return -1;
		if (mkioq_doorbell(q))
			return -2;
		if (wait_slot(q, s, 20000) != MKIOQ_RESULT_OK)
			return -3;
		bad += pattern_check(dst + s * PG, 2048, 41, off) != 2048;
		bad += q->words[s * 8 + MKIOQ_WORD_TAG] != seed + i;
		if (mkioq_recycle(q, s))
			return -4;
	}
	return (int)bad;
}

/* The child's part after the parent let go; returns an exit code. */
static int child_after_owner_closed(struct mkioq_queue *q, uint32_t hs,
				    const uint32_t *dh, uint8_t *dst,
				    struct io_uring *ring,
				    struct mkioq_cqe *rec, char *seen)
{
	struct __kernel_timespec ts = { .tv_sec = 20 };
	struct mkioq_info info;
	struct io_uring_cqe *cqe;
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN | POLLOUT };
	struct mkioq_cqe buf[4];
	uint32_t h;
	int r = mkioq_doorbell(q);

	if (r == 0) {
		*seen = 's';
		r = run_requests(q, 32, 31, hs, dh, dst, 2000000);
		if (r)
			return 30 + (r < 0 ? -r : 5);
		if (submit_read(q, 63, hs, dh[63], 5, 100, 63) ||
		    mkioq_doorbell(q))
			return 36;
		if (io_uring_wait_cqe_timeout(ring, &cqe, &ts))
			return 37;
		if (cqe->res != 100 || rec->slot != 63 || rec->tag != 63)
			return 38;
		return 0;
	}
	if (r != -ENXIO)
		return 40;
	*seen = 'o';
	/* Cancelled with the queue, not left parked. */
	if (io_uring_wait_cqe_timeout(ring, &cqe, &ts))
		return 41;
	if (cqe->res != -ECANCELED)
		return 42;
	io_uring_cqe_seen(ring, cqe);
	if (mkioq_register(q, q->fd, 0, 1, MKIOQ_ACCESS_READ, &h) != -ENXIO)
		return 43;
	if (mkioq_unregister(q, hs) != -ENXIO)
		return 44;
	if (read(q->fd, buf, sizeof(buf)) != -1 || errno != ENXIO)
		return 45;
	if (write(q->fd, "x", 1) != -1 || errno != ENXIO)
		return 46;
	if (mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0) !=
	    MAP_FAILED || errno != ENXIO)
		return 47;
	if (poll(&pfd, 1, 0) != 1 || pfd.revents != POLLERR)
		return 48;
	/* A new WAIT is refused too. */
	mkioq_prep_wait(ring, io_uring_get_sqe(ring), q->fd, MKIOQ_ANY_SLOT,
			NULL);
	if (io_uring_submit(ring) != 1 ||
	    io_uring_wait_cqe_timeout(ring, &cqe, &ts) ||
	    cqe->res != -ENXIO)
		return 49;
	if (mkioq_info(q, &info) || info.handles)
		return 50;
	/* The ring is still memory: a request there stays as written. */
	if (submit_read(q, 40, hs, dh[40], 0, 64, 40))
		return 51;
	usleep(20000);
	if (mkioq_slot_status(q, 40) != MKIOQ_STATE_PUBLISHED)
		return 52;
	return 0;
}

TEST_F_TIMEOUT(lc, fork_shares_the_file, 300)
{
	uint32_t dh[64], s;
	int p2c[2], c2p[2], status, ret;
	char c, seen = '?';
	pid_t pid;

	for (s = 0; s < 64; s++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, s * PG, PG,
					    MKIOQ_ACCESS_WRITE, &dh[s]));
	ASSERT_EQ(0, pipe(p2c));
	ASSERT_EQ(0, pipe(c2p));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct mkioq_cqe rec;
		struct io_uring ring;
		int r;

		if (io_uring_queue_init(8, &ring, 0))
			_exit(10);
		/* A WAIT of the child's own, parked across the parent's close. */
		mkioq_prep_wait(&ring, io_uring_get_sqe(&ring),
				mkioq_queue_fd(self->q), 63, &rec);
		if (io_uring_submit(&ring) != 1)
			_exit(11);
		r = run_requests(self->q, 32, 31, self->hsrc, dh,
				 self->dst.map, 1000000);
		if (r)
			_exit(20 + (r < 0 ? -r : 5));
		if (write(c2p[1], "a", 1) != 1 || read(p2c[0], &c, 1) != 1)
			_exit(12);
		r = child_after_owner_closed(self->q, self->hsrc, dh,
					     self->dst.map, &ring, &rec, &seen);
		if (write(c2p[1], &seen, 1) != 1)
			_exit(13);
		_exit(r);
	}
	close(p2c[0]);
	close(c2p[1]);
	ret = run_requests(self->q, 0, 32, self->hsrc, dh, self->dst.map, 0);
	EXPECT_EQ(0, ret);
	ASSERT_EQ(1, read(c2p[0], &c, 1));
	/* The parent lets go of the queue entirely. */
	mkioq_queue_free(self->q);
	self->q = NULL;
	ASSERT_EQ(1, write(p2c[1], "b", 1));
	alarm(120);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	alarm(0);
	if (read(c2p[0], &seen, 1) != 1)
		seen = '?';
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed at step %d (see the test)",
		       WEXITSTATUS(status));
	ksft_print_msg("after the owner's close the child saw: %s\n",
		       seen == 's' ? "a shared file (requests go on)" :
		       seen == 'o' ? "owner shutdown (-ENXIO, WAIT cancelled)" :
		       "nothing it understood");
	close(p2c[1]);
	close(c2p[0]);
}

/*
 * (f) Unregister racing the service, thousands of times: each request
 * using the handle completes OK with the right bytes or ERROR ENOENT,
 * never anything else, and the buffer is released when the last user
 * lets go.
 */
struct unreg_ctx {
	struct mkioq_queue *q;
	atomic_uint go, done;
	atomic_uint handle;
	unsigned int spins;
};

static void *unregisterer(void *arg)
{
	struct unreg_ctx *u = arg;
	unsigned int seen = 0, n;

	for (;;) {
		while ((n = atomic_load(&u->go)) == seen)
			;
		if (n == UINT32_MAX)
			return NULL;
		seen = n;
		for (volatile unsigned int i = 0; i < u->spins; i++)
			;
		mkioq_unregister(u->q, atomic_load(&u->handle));
		atomic_store(&u->done, n);
	}
}

TEST_F_TIMEOUT(lc, unregister_races_service, 600)
{
	struct unreg_ctx u = { .q = self->q };
	unsigned int it, ok = 0, enoent = 0, bad = 0, iters = 0;
	uint32_t dh[8], s, h;
	uint64_t t0 = now_ns();
	pthread_t th;

	for (s = 0; s < 8; s++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, s * PG, PG,
					    MKIOQ_ACCESS_WRITE, &dh[s]));
	ASSERT_EQ(0, pthread_create(&th, NULL, unregisterer, &u));
	for (it = 1; it <= 3000 && now_ns() - t0 < 90000000000ULL; it++) {
		ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0,
					    BUF_BYTES, MKIOQ_ACCESS_READ, &h));
		atomic_store(&u.handle, h);
		u.spins = rnd(20000);
		for (s = 0; s < 8; s++)
			ASSERT_EQ(0, submit_read(self->q, s, h, dh[s],
						 (it * 8 + s) * 13 % (BUF_BYTES - PG),
						 PG, it));
		atomic_store(&u.go, it);
		ASSERT_EQ(0, mkioq_doorbell(self->q));
		while (atomic_load(&u.done) != it)
			;
		for (s = 0; s < 8; s++) {
			int st = wait_slot(self->q, s, 20000);

			if (st == MKIOQ_RESULT_OK &&
			    pattern_check(self->dst.map + s * PG, PG, 41,
					  (it * 8 + s) * 13 % (BUF_BYTES - PG)) == PG)
				ok++;
			else if (st == MKIOQ_RESULT_ERROR &&
				 self->q->words[s * 8 + MKIOQ_WORD_TAG] == ENOENT)
				enoent++;
			else
				bad++;
			ASSERT_EQ(0, mkioq_recycle(self->q, s));
		}
		if (!(it % 64))
			drain_cqes(self->q);
		iters = it;
	}
	atomic_store(&u.go, UINT32_MAX);
	pthread_join(th, NULL);
	EXPECT_EQ(0, bad);
	ksft_print_msg("%u iterations: %u requests OK, %u ENOENT, %u wrong\n",
		       iters, ok, enoent, bad);
	/* Both outcomes happened, or the race was not exercised. */
	EXPECT_GT(ok, 0);
}

/*
 * (e) A vgem buffer whose every userspace reference (GEM handle, dma-buf
 * fd, CPU mapping) is gone while it is registered: the module's reference
 * keeps it, requests read and write it correctly, and unregistering the
 * last handle frees it (the dma-buf leaves debugfs' bufinfo when it can be
 * seen there).
 */
static int count_dmabufs(void)
{
	char line[512];
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	int n = -1;

	if (!f)
		return -1;
	/* The last line: "Total N objects, M bytes". */
	while (fgets(line, sizeof(line), f))
		sscanf(line, "Total %d objects", &n);
	fclose(f);
	return n;
}

struct orphan {
	uint32_t gem;
	int fd;
	uint8_t *map;
	uint64_t size;
};

static int orphan_create(int drm, size_t size, struct orphan *o)
{
	struct drm_mode_create_dumb create = {
		.width = 4096, .height = size / 4096, .bpp = 8,
	};
	struct drm_mode_map_dumb map = { 0 };

	if (drmIoctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return -errno;
	o->gem = create.handle;
	o->size = create.size;
	if (drmPrimeHandleToFD(drm, o->gem, DRM_CLOEXEC | DRM_RDWR, &o->fd))
		return -errno;
	map.handle = o->gem;
	if (drmIoctl(drm, DRM_IOCTL_MODE_MAP_DUMB, &map))
		return -errno;
	o->map = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, drm,
		      map.offset);
	return o->map == MAP_FAILED ? -errno : 0;
}

static void orphan_drop(int drm, struct orphan *o)
{
	struct drm_mode_destroy_dumb destroy = { .handle = o->gem };

	munmap(o->map, o->size);
	close(o->fd);
	drmIoctl(drm, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
}

TEST_F(lc, orphaned_buffer_stays_until_unregistered)
{
	struct orphan o;
	uint32_t hr, hrw, hd, hd2;
	int before, during, after;
	struct mkioq_request w = {
		.op = MKIOQ_OP_WRITE, .src_handle = self->hsrc,
		.byte_count = 65536, .offset = 4096, .tag = 2,
	};

	before = count_dmabufs();
	ASSERT_EQ(0, orphan_create(self->drm, 1 << 20, &o));
	pattern_fill(o.map, 1 << 20, 43, 0);
	ASSERT_EQ(0, mkioq_register(self->q, o.fd, 0, 1 << 20,
				    MKIOQ_ACCESS_READ, &hr));
	ASSERT_EQ(0, mkioq_register(self->q, o.fd, 512 << 10, 512 << 10,
				    MKIOQ_ACCESS_RW, &hrw));
	w.dst_handle = hrw;
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, 1 << 20,
				    MKIOQ_ACCESS_WRITE, &hd));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 1 << 20, 1 << 20,
				    MKIOQ_ACCESS_WRITE, &hd2));
	/* Every userspace reference goes. */
	orphan_drop(self->drm, &o);
	during = count_dmabufs();

	/* Reads see the bytes written before the references went. */
	ASSERT_EQ(0, submit_read(self->q, 0, hr, hd, 1000, 300000, 1));
	/* A write into it (from the source buffer), then read it back. */
	ASSERT_EQ(0, mkioq_submit(self->q, 1, &w));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 0, 20000));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 1, 20000));
	EXPECT_EQ(300000, pattern_check(self->dst.map, 300000, 43, 1000));
	ASSERT_EQ(0, submit_read(self->q, 2, hrw, hd2, 4096, 65536, 3));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 2, 20000));
	EXPECT_EQ(65536, pattern_check(self->dst.map + (1 << 20), 65536, 41,
				       0));

	EXPECT_EQ(0, mkioq_unregister(self->q, hr));
	/* One handle left: still alive and correct. */
	ASSERT_EQ(0, mkioq_recycle(self->q, 2));
	ASSERT_EQ(0, submit_read(self->q, 2, hrw, hd2, 0, 4096, 4));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 2, 20000));
	EXPECT_EQ(4096, pattern_check(self->dst.map + (1 << 20), 4096, 43,
				      512 << 10));
	EXPECT_EQ(0, mkioq_unregister(self->q, hrw));
	after = count_dmabufs();
	if (before < 0) {
		ksft_print_msg("no /sys/kernel/debug/dma_buf/bufinfo: release not observed\n");
	} else {
		/* Registered: still counted; unregistered: gone. */
		EXPECT_EQ(before + 1, during);
		EXPECT_EQ(before, after);
		ksft_print_msg("dma-bufs: %d before, %d orphaned while registered, %d after unregister\n",
			       before, during, after);
	}
}

/*
 * (g) The owner closes the queue while requests are in flight: big copies
 * being made, a FENCE held (it waits for a producer's reservation that
 * never ends), requests published while the service runs, ingests and
 * slots that are the consumer's. Not only must a reopen work: the close
 * itself must release everything and leave every slot in a final state.
 *
 * Released (read from debugfs' dma_buf/bufinfo, each buffer found by the
 * inode of its dma-buf file): right after close() every buffer's file
 * count is back to what it was before its handles were registered (each
 * handle holds one reference: the count rises by the number of handles
 * first, which shows the check sees references at all), and no
 * attachment of the mkioq device is left. A forked child keeps the file
 * open throughout, so that only the owner's shutdown, not release(), can
 * have dropped them. Then the buffers' own descriptors are closed and
 * each must vanish from bufinfo: nothing else holds them.
 *
 * Final (protocol.rst, "Lifetime" and "FENCE"): the service stops after
 * the pass in hand, held FENCEs complete ERROR ECANCELED, slots never
 * claimed stay PUBLISHED. So every request the module claimed is OK with
 * its whole byte count and the right bytes; every one it did not claim is
 * PUBLISHED with every word and every destination byte untouched; each
 * FENCE is ERROR ECANCELED (the early one, seen held before the close,
 * must be) or, never claimed, PUBLISHED; no slot is left CLAIMED by the
 * module; the reservation, the ingest, the DONE and the EMPTY slots are
 * exactly as written. The child's MKIOQ_IOC_INFO then counts exactly the
 * completions the ring shows (handles 0), and a request published after
 * the close stays PUBLISHED.
 */
#define MIB		(1u << 20)
#define BUFINFO		"/sys/kernel/debug/dma_buf/bufinfo"

/* One dma-buf as bufinfo lists it. */
struct dbuf_state {
	bool listed;
	long count;			/* file_count() of its file */
	unsigned long size;
	unsigned int attached;		/* devices attached */
	unsigned int mkioq_attached;	/* of those, mkioq's */
};

/* Does the running kernel have debugfs at all (CONFIG_DEBUG_FS)? */
static bool kernel_has_debugfs(void)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	if (!f)
		return true;	/* cannot tell: assume it has */
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\tdebugfs\n"))
			found = true;
	fclose(f);
	return found;
}

/*
 * The entry of the dma-buf whose file has inode @ino: 0 (listed or not),
 * or -errno if bufinfo cannot be read. Each buffer is a line "size flags
 * mode count exp_name ino name", then tab-indented lines: fences, then
 * "Attached Devices:" and one line per attachment, then "Total N devices
 * attached".
 */
static int bufinfo_find(unsigned long ino, struct dbuf_state *st)
{
	bool mine = false, in_attach = false;
	char line[512];
	FILE *f;

	memset(st, 0, sizeof(*st));
	f = fopen(BUFINFO, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long size, i;
		unsigned int flags, mode;
		char exp[64];
		long count;

		if (line[0] != '\t') {
			in_attach = false;
			if (sscanf(line, "%lu %x %x %ld %63s %lu", &size, &flags,
				   &mode, &count, exp, &i) != 6)
				continue;
			mine = i == ino;
			if (mine) {
				st->listed = true;
				st->count = count;
				st->size = size;
			}
			continue;
		}
		if (!mine)
			continue;
		if (!strncmp(line, "\tAttached Devices:", 18)) {
			in_attach = true;
		} else if (in_attach) {
			st->attached++;
			if (!strncmp(line + 1, "mkioq", 5))
				st->mkioq_attached++;
		}
	}
	fclose(f);
	return 0;
}

static unsigned long fd_ino(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) ? 0 : (unsigned long)sb.st_ino;
}

/* The slots of one round. */
enum {
	IF_RESERVED,		/* a producer's reservation: CLAIMED, ours */
	IF_INGEST,		/* SRC 0, PUBLISHED: the consumer's */
	IF_DONE,		/* DONE: the consumer's */
	IF_EMPTY,		/* EMPTY with junk in its words */
	IF_AFTER,		/* published only after the close */
	IF_EARLY,		/* IF_NEARLY requests, published first */
	IF_NEARLY = 54,
	IF_FENCE = IF_EARLY + IF_NEARLY,	/* held before the close */
	IF_LATE,		/* IF_NLATE requests, published in flight */
	IF_NLATE = 3,
	IF_LATE_FENCE = IF_LATE + IF_NLATE,
	IF_SLOTS,
	IF_NREQ = IF_NEARLY + IF_NLATE,
};

enum { IFB_S1, IFB_S2, IFB_D1, IFB_D2, IFB_NR };

static const struct {
	size_t size;
	bool writable;
	uint32_t seed;		/* 0: zero-filled */
} ifb_def[IFB_NR] = {
	[IFB_S1] = { 8 * MIB, false, 101 },	/* read-only export */
	[IFB_S2] = { 8 * MIB, true, 102 },
	[IFB_D1] = { 32 * MIB, true, 0 },
	[IFB_D2] = { 32 * MIB, true, 0 },
};

/* Where request k reads and writes: buffers and absolute offsets. */
struct if_req {
	uint32_t slot, op, src, dst;
	uint64_t off;
	int dbuf;
	uint64_t dabs, sabs;
	uint32_t seed;
};

struct if_totals {
	unsigned int rounds, in_flight, ok, unclaimed, cancelled,
		     late_ok, late_unclaimed;
};

static volatile uint32_t *ifw(struct mkioq_queue *q, uint32_t slot,
			      unsigned int i)
{
	return &q->words[slot * MKIOQ_SLOT_WORDS + i];
}

static uint32_t if_status(struct mkioq_queue *q, uint32_t slot)
{
	return __atomic_load_n(ifw(q, slot, MKIOQ_WORD_STATUS),
			       __ATOMIC_ACQUIRE);
}

static void *if_ringer(void *arg)
{
	struct mkioq_queue *q = arg;

	return (void *)(intptr_t)mkioq_doorbell(q);
}

/*
 * The child that holds the file across the owner's close: on "g" it
 * reports MKIOQ_IOC_INFO and the DOORBELL's errno, then exits.
 */
struct if_report {
	int info_ret, doorbell_errno;
	struct mkioq_info info;
};

static void if_child(int fd, int go, int res)
{
	struct if_report r = { 0 };
	char c;

	alarm(120);
	if (read(go, &c, 1) != 1)
		_exit(1);
	r.info.size = sizeof(r.info);
	r.info_ret = ioctl(fd, MKIOQ_IOC_INFO, &r.info) ? errno : 0;
	r.doorbell_errno = ioctl(fd, MKIOQ_IOC_DOORBELL, 0) ? errno : 0;
	_exit(write(res, &r, sizeof(r)) == sizeof(r) ? 0 : 2);
}

static void check_released(struct __test_metadata *_metadata,
			   struct test_buf *b, const unsigned long *ino,
			   const long *base, const char *when)
{
	struct dbuf_state st;
	int i;

	for (i = 0; i < IFB_NR; i++) {
		ASSERT_EQ(0, bufinfo_find(ino[i], &st));
		EXPECT_TRUE(st.listed) TH_LOG("%s: buffer %d not in bufinfo",
					      when, i);
		EXPECT_EQ(base[i], st.count)
			TH_LOG("%s: buffer %d holds %ld file references, %ld before registering: the module kept %ld",
			       when, i, st.count, base[i], st.count - base[i]);
		EXPECT_EQ(0, st.mkioq_attached)
			TH_LOG("%s: buffer %d still has %u mkioq attachment(s)",
			       when, i, st.mkioq_attached);
	}
}

/*
 * One round. @wait_batch: close only once the early batch has completed
 * (only the FENCE held), else while the early requests are CLAIMED.
 */
static void close_in_flight_round(struct __test_metadata *_metadata,
				  int drm, unsigned int open_flags,
				  bool wait_batch, struct if_totals *tot)
{
	uint32_t exp[IF_SLOTS][MKIOQ_SLOT_WORDS], got[MKIOQ_SLOT_WORDS];
	uint32_t hs1, hs1lo, hs1hi, hs2, hd1, hd1b, hd2[32], s, i;
	unsigned long ino[IFB_NR];
	long base[IFB_NR];
	unsigned int nh[IFB_NR] = { 0 }, ok = 0, errors = 0, claimed_seen = 0;
	struct test_buf b[IFB_NR];
	struct if_req rq[IF_NREQ];
	struct dbuf_state st;
	struct if_report rep;
	struct mkioq_queue *q;
	bool ringing = false;
	int go[2], res[2], status, fd, k;
	void *ring_ret = NULL;
	pthread_t ringer;
	uint64_t t0;
	pid_t pid;

	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, IF_SLOTS, open_flags, &q));
	fd = mkioq_queue_fd(q);
	/* Forked before any buffer exists: it holds none of them. */
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[1]);
		close(res[0]);
		if_child(fd, go[0], res[1]);
	}
	close(go[0]);
	close(res[1]);

	for (i = 0; i < IFB_NR; i++) {
		ASSERT_EQ(0, test_buf_create(drm, ifb_def[i].size,
					     ifb_def[i].writable, &b[i]));
		if (ifb_def[i].seed)
			pattern_fill(b[i].map, b[i].size, ifb_def[i].seed, 0);
		ino[i] = fd_ino(b[i].fd);
		ASSERT_NE(0, ino[i]);
		ASSERT_EQ(0, bufinfo_find(ino[i], &st));
		ASSERT_TRUE(st.listed) TH_LOG("buffer %u (inode %lu) not in " BUFINFO,
					      i, ino[i]);
		EXPECT_EQ(b[i].size, st.size);
		base[i] = st.count;
	}

	/* Several handles per buffer, ranges of one buffer among them. */
	ASSERT_EQ(0, mkioq_register(q, b[IFB_S1].fd, 0, 8 * MIB,
				    MKIOQ_ACCESS_READ, &hs1));
	ASSERT_EQ(0, mkioq_register(q, b[IFB_S1].fd, 0, 4 * MIB,
				    MKIOQ_ACCESS_READ, &hs1lo));
	ASSERT_EQ(0, mkioq_register(q, b[IFB_S1].fd, 4 * MIB, 4 * MIB,
				    MKIOQ_ACCESS_READ, &hs1hi));
	nh[IFB_S1] = 3;
	ASSERT_EQ(0, mkioq_register(q, b[IFB_S2].fd, 0, 8 * MIB,
				    MKIOQ_ACCESS_RW, &hs2));
	nh[IFB_S2] = 1;
	ASSERT_EQ(0, mkioq_register(q, b[IFB_D1].fd, 0, 32 * MIB,
				    MKIOQ_ACCESS_WRITE, &hd1));
	ASSERT_EQ(0, mkioq_register(q, b[IFB_D1].fd, 16 * MIB, 16 * MIB,
				    MKIOQ_ACCESS_RW, &hd1b));
	nh[IFB_D1] = 2;
	for (i = 0; i < 32; i++)
		ASSERT_EQ(0, mkioq_register(q, b[IFB_D2].fd, i * MIB, MIB,
					    MKIOQ_ACCESS_WRITE, &hd2[i]));
	nh[IFB_D2] = 32;
	/* Each handle holds a reference of its own: the check sees them. */
	for (i = 0; i < IFB_NR; i++) {
		ASSERT_EQ(0, bufinfo_find(ino[i], &st));
		ASSERT_TRUE(st.listed);
		ASSERT_EQ(base[i] + nh[i], st.count)
			TH_LOG("buffer %u: %u handles registered", i, nh[i]);
	}

	/* 1 MiB each, every one into its own destination MiB. */
	for (k = 0; k < IF_NREQ; k++) {
		struct if_req *r = &rq[k];

		r->slot = k < IF_NEARLY ? IF_EARLY + k : IF_LATE + k - IF_NEARLY;
		if (k < 32) {
			static const uint32_t span[3] = { 7 * MIB, 3 * MIB,
							  3 * MIB };
			uint32_t which = k % 3;

			r->op = MKIOQ_OP_READ;
			r->src = which == 0 ? hs1 : which == 1 ? hs1lo : hs1hi;
			r->off = (uint64_t)k * 53 * 1024 % span[which];
			r->sabs = (which == 2 ? 4 * MIB : 0) + r->off;
			r->seed = ifb_def[IFB_S1].seed;
			r->dst = hd2[k];
			r->dbuf = IFB_D2;
			r->dabs = (uint64_t)k * MIB;
		} else {
			uint32_t j = k - 32;

			r->op = MKIOQ_OP_WRITE;
			r->src = j & 1 ? hs1hi : hs2;
			r->sabs = j & 1 ? 4 * MIB : 0;
			r->seed = ifb_def[j & 1 ? IFB_S1 : IFB_S2].seed;
			r->dst = j < 16 ? hd1 : hd1b;
			r->off = (uint64_t)(j < 16 ? j : j - 16) * MIB;
			r->dbuf = IFB_D1;
			r->dabs = (uint64_t)j * MIB;
		}
	}

	/* The slots that are not the module's, each as a producer has it. */
	{
		uint32_t e = MKIOQ_STATE_EMPTY;

		ASSERT_TRUE(__atomic_compare_exchange_n(
			ifw(q, IF_RESERVED, MKIOQ_WORD_STATUS), &e,
			MKIOQ_STATE_CLAIMED, false, __ATOMIC_ACQ_REL,
			__ATOMIC_ACQUIRE));
		for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
			if (i != MKIOQ_WORD_STATUS)
				*ifw(q, IF_RESERVED, i) = 0x5e5e0000 | i;
	}
	ASSERT_EQ(0, mkioq_publish_slot(q, IF_INGEST, 7, 4096, 0x1a1a));
	for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
		if (i != MKIOQ_WORD_STATUS) {
			*ifw(q, IF_DONE, i) = 0xd0de0000 | i;
			*ifw(q, IF_EMPTY, i) = 0xe3e30000 | i;
		}
	__atomic_store_n(ifw(q, IF_DONE, MKIOQ_WORD_STATUS), MKIOQ_STATE_DONE,
			 __ATOMIC_RELEASE);

	/* The early requests, then the FENCE after them, then the ring. */
	for (k = 0; k < IF_NEARLY; k++) {
		struct mkioq_request req = {
			.op = rq[k].op, .src_handle = rq[k].src,
			.dst_handle = rq[k].dst, .offset = rq[k].off,
			.byte_count = MIB, .tag = 0x7a900000 | rq[k].slot,
		};

		ASSERT_EQ(0, mkioq_submit(q, rq[k].slot, &req));
	}
	ASSERT_EQ(0, mkioq_submit(q, IF_FENCE, &(struct mkioq_request){
		.op = MKIOQ_OP_FENCE, .src_handle = 0xfe11, .dst_handle = 77,
		.offset = 0x1234, .byte_count = 0x4321, .tag = 0xf00d }));
	if (open_flags & MKIOQ_OPEN_POLL) {
		ASSERT_EQ(0, mkioq_doorbell(q));
	} else {
		ASSERT_EQ(0, pthread_create(&ringer, NULL, if_ringer, q));
		ringing = true;
	}

	/*
	 * In flight: every early request claimed (none PUBLISHED), the FENCE
	 * held (CLAIMED), and requests still CLAIMED, or, with @wait_batch,
	 * all of them OK already.
	 */
	t0 = now_ns();
	for (;;) {
		unsigned int pub = 0, cl = 0, done = 0;

		for (k = 0; k < IF_NEARLY; k++) {
			uint32_t v = if_status(q, rq[k].slot);

			pub += v == MKIOQ_STATE_PUBLISHED;
			cl += v == MKIOQ_STATE_CLAIMED;
			done += v == MKIOQ_RESULT_OK;
		}
		if (!pub && if_status(q, IF_FENCE) == MKIOQ_STATE_CLAIMED &&
		    (wait_batch ? done == IF_NEARLY : true)) {
			claimed_seen = cl;
			break;
		}
		ASSERT_LT(now_ns() - t0, 120000000000ULL)
			TH_LOG("the service did not take the early requests: %u published, %u claimed, %u OK, FENCE %#x",
			       pub, cl, done, if_status(q, IF_FENCE));
	}
	/* Published while the service runs: claimed or not, either is final. */
	for (k = IF_NEARLY; k < IF_NREQ; k++) {
		struct mkioq_request req = {
			.op = rq[k].op, .src_handle = rq[k].src,
			.dst_handle = rq[k].dst, .offset = rq[k].off,
			.byte_count = MIB, .tag = 0x7a900000 | rq[k].slot,
		};

		ASSERT_EQ(0, mkioq_submit(q, rq[k].slot, &req));
	}
	ASSERT_EQ(0, mkioq_submit(q, IF_LATE_FENCE, &(struct mkioq_request){
		.op = MKIOQ_OP_FENCE, .src_handle = 3, .dst_handle = 0,
		.offset = 0, .byte_count = 9, .tag = 0xf00e }));
	/* Every word as its producer wrote it. */
	memset(exp, 0, sizeof(exp));
	for (i = 0; i < MKIOQ_SLOT_WORDS; i++) {
		exp[IF_RESERVED][i] = 0x5e5e0000 | i;
		exp[IF_DONE][i] = 0xd0de0000 | i;
		exp[IF_EMPTY][i] = 0xe3e30000 | i;
	}
	exp[IF_RESERVED][MKIOQ_WORD_STATUS] = MKIOQ_STATE_CLAIMED;
	exp[IF_DONE][MKIOQ_WORD_STATUS] = MKIOQ_STATE_DONE;
	exp[IF_EMPTY][MKIOQ_WORD_STATUS] = MKIOQ_STATE_EMPTY;
	memcpy(exp[IF_INGEST], (uint32_t[]){ MKIOQ_OP_READ, MKIOQ_HANDLE_NONE,
		7, 0, 0, 4096, MKIOQ_STATE_PUBLISHED, 0x1a1a }, sizeof(exp[0]));
	memcpy(exp[IF_FENCE], (uint32_t[]){ MKIOQ_OP_FENCE, 0xfe11, 77,
		0x1234, 0, 0x4321, MKIOQ_STATE_PUBLISHED, 0xf00d },
	       sizeof(exp[0]));
	memcpy(exp[IF_LATE_FENCE], (uint32_t[]){ MKIOQ_OP_FENCE, 3, 0, 0, 0, 9,
		MKIOQ_STATE_PUBLISHED, 0xf00e }, sizeof(exp[0]));
	for (k = 0; k < IF_NREQ; k++)
		memcpy(exp[rq[k].slot], (uint32_t[]){ rq[k].op, rq[k].src,
			rq[k].dst, (uint32_t)rq[k].off,
			(uint32_t)(rq[k].off >> 32), MIB,
			MKIOQ_STATE_PUBLISHED, 0x7a900000 | rq[k].slot },
		       sizeof(exp[0]));
	if (!wait_batch && claimed_seen)
		tot->in_flight++;

	/* The owner's last descriptor; the ring stays mapped. */
	ASSERT_EQ(0, close(fd));
	q->fd = -1;

	/* (a) Released by the time close() returns. */
	check_released(_metadata, b, ino, base, "right after close()");

	/* (b) Every slot final. */
	for (s = 0; s < IF_SLOTS; s++) {
		uint32_t want[MKIOQ_SLOT_WORDS];
		int kr = -1;

		for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
			got[i] = *ifw(q, s, i);
		memcpy(want, exp[s], sizeof(want));
		for (k = 0; k < IF_NREQ; k++)
			if (rq[k].slot == s)
				kr = k;
		if (s != IF_RESERVED)
			EXPECT_NE(MKIOQ_STATE_CLAIMED, got[MKIOQ_WORD_STATUS])
				TH_LOG("slot %u left CLAIMED by the module", s);
		if (kr >= 0) {
			struct if_req *r = &rq[kr];
			const uint8_t *d = b[r->dbuf].map + r->dabs;

			if (got[MKIOQ_WORD_STATUS] == MKIOQ_RESULT_OK) {
				want[MKIOQ_WORD_STATUS] = MKIOQ_RESULT_OK;
				want[MKIOQ_WORD_BYTE_COUNT] = MIB;
				EXPECT_EQ(MIB, pattern_check(d, MIB, r->seed,
							     r->sabs))
					TH_LOG("slot %u: OK but wrong bytes", s);
				ok++;
				tot->ok++;
				if (kr >= IF_NEARLY)
					tot->late_ok++;
			} else {
				/* Never claimed: not a byte written. */
				size_t z;

				for (z = 0; z < MIB && !d[z]; z++)
					;
				EXPECT_EQ(MIB, z)
					TH_LOG("slot %u unclaimed, yet byte %zu of its destination changed",
					       s, z);
				tot->unclaimed++;
				if (kr >= IF_NEARLY)
					tot->late_unclaimed++;
				/* The early ones were all seen claimed. */
				EXPECT_GE(kr, IF_NEARLY)
					TH_LOG("slot %u: claimed before the close, now %#x",
					       s, got[MKIOQ_WORD_STATUS]);
			}
		} else if (s == IF_FENCE || s == IF_LATE_FENCE) {
			if (s == IF_FENCE ||
			    got[MKIOQ_WORD_STATUS] != MKIOQ_STATE_PUBLISHED) {
				want[MKIOQ_WORD_STATUS] = MKIOQ_RESULT_ERROR;
				want[MKIOQ_WORD_TAG] = ECANCELED;
				errors++;
				tot->cancelled++;
			}
		}
		EXPECT_EQ(0, memcmp(got, want, sizeof(got)))
			TH_LOG("slot %u: %08x %08x %08x %08x %08x %08x %08x %08x, expected %08x %08x %08x %08x %08x %08x %08x %08x",
			       s, got[0], got[1], got[2], got[3], got[4],
			       got[5], got[6], got[7], want[0], want[1],
			       want[2], want[3], want[4], want[5], want[6],
			       want[7]);
	}

	/* The queue as the child, still holding the file, sees it. */
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(sizeof(rep), read(res[0], &rep, sizeof(rep)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, rep.info_ret);
	EXPECT_EQ(ENXIO, rep.doorbell_errno);
	EXPECT_EQ(0, rep.info.handles);
	EXPECT_EQ(ok + errors, rep.info.completed);
	EXPECT_EQ(errors, rep.info.errors);
	close(go[1]);
	close(res[0]);

	/* The service is gone: a request published now stays as written. */
	memcpy(exp[IF_AFTER], (uint32_t[]){ MKIOQ_OP_READ, hs1, hd1, 0, 0,
		65536, MKIOQ_STATE_PUBLISHED, 0xaf7e }, sizeof(exp[0]));
	ASSERT_EQ(0, mkioq_submit(q, IF_AFTER, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = hs1, .dst_handle = hd1,
		.byte_count = 65536, .tag = 0xaf7e }));
	usleep(100000);
	for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
		EXPECT_EQ(exp[IF_AFTER][i], *ifw(q, IF_AFTER, i));

	if (ringing) {
		ASSERT_EQ(0, pthread_join(ringer, &ring_ret));
		EXPECT_EQ(0, (intptr_t)ring_ret);
	}
	check_released(_metadata, b, ino, base, "after the doorbell returned");
	munmap(q->words, q->map_bytes);
	free(q);

	/* Nothing but our own descriptors held them: each one goes now. */
	for (i = 0; i < IFB_NR; i++) {
		test_buf_destroy(&b[i]);
		ASSERT_EQ(0, bufinfo_find(ino[i], &st));
		EXPECT_FALSE(st.listed)
			TH_LOG("buffer %u still listed after its last descriptor closed (count %ld)",
			       i, st.count);
	}
	tot->rounds++;
}

TEST_F_TIMEOUT(lc, close_in_flight_releases_everything, 600)
{
	struct if_totals tot = { 0 };
	int round;

	if (access(BUFINFO, R_OK)) {
		if (!kernel_has_debugfs())
			SKIP(return, "kernel without debugfs: bufinfo cannot be read");
		ASSERT_EQ(0, access(BUFINFO, R_OK))
			TH_LOG(BUFINFO " unreadable (%s): debugfs is in the kernel, is it mounted (tests/vm/init.sh)?",
			       strerror(errno));
	}
	for (round = 0; round < 4; round++) {
		close_in_flight_round(_metadata, self->drm,
				      variant->open_flags, round == 3, &tot);
		if (!_metadata->passed)
			break;
	}
	ksft_print_msg("%u rounds (%u closed with copies in flight): %u requests OK, %u never claimed (%u+%u of the late ones OK/unclaimed), %u FENCEs cancelled\n",
		       tot.rounds, tot.in_flight, tot.ok, tot.unclaimed,
		       tot.late_ok, tot.late_unclaimed, tot.cancelled);
	/* Or the close never raced the copies it is about. */
	EXPECT_GT(tot.in_flight, 0);
}

static int raw_setup_at(int fd, struct mkioq_setup *s)
{
	return ioctl(fd, MKIOQ_IOC_SETUP, s) ? -errno : 0;
}

struct setup_call {
	int fd;
	struct mkioq_setup *s;
	int ret;
};

static void *setup_thread(void *arg)
{
	struct setup_call *c = arg;

	c->ret = raw_setup_at(c->fd, c->s);
	return NULL;
}

/* 0 if @fd's queue is shut down for a non-owner: DOORBELL says ENXIO. */
static int child_sees_dead(int fd, int go)
{
	char c;

	if (read(go, &c, 1) != 1)
		return 2;
	if (ioctl(fd, MKIOQ_IOC_DOORBELL, 0) != -1 || errno != ENXIO)
		return 3;
	return 0;
}

/*
 * A sibling thread closes the owner's only descriptor while SETUP is in
 * the kernel, held there by a userfaultfd page: ->flush ran before the
 * queue was set up. SETUP still succeeds, and the queue must not outlive
 * its owner's descriptors (whose file table another process could later
 * reuse): it is shut down at once, as if the close came after.
 */
TEST(close_racing_setup_shuts_down)
{
	struct setup_call call = { .ret = 1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_copy copy = { .len = PG };
	struct uffd_msg msg;
	struct mkioq_setup *src;
	int uffd, fd, go[2], status;
	pthread_t t;
	void *page;
	pid_t pid;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0 && errno == ENOSYS)
		SKIP(return, "kernel without userfaultfd");
	ASSERT_GE(uffd, 0);
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	page = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	reg.range.start = (uintptr_t)page;
	reg.range.len = PG;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	src = aligned_alloc(PG, PG);
	ASSERT_NE(NULL, src);
	memset(src, 0, PG);
	src->size = sizeof(*src);
	src->slot_count = 4;

	fd = open(MKIOQ_DEV, O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(child_sees_dead(fd, go[0]));

	call.fd = fd;
	call.s = page;
	ASSERT_EQ(0, pthread_create(&t, NULL, setup_thread, &call));
	/* SETUP faults on the size word: it is in the kernel now. */
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_EQ(0, close(fd));
	copy.dst = (uintptr_t)page;
	copy.src = (uintptr_t)src;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, call.ret);

	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(uffd);
	free(src);
	munmap(page, PG);
}

/* owner_exit_then_reuse's child: returns (and reports on @res) 0 if good. */
static int reuse_child(int fd, int go, int res)
{
	struct mkioq_info info = { .size = sizeof(info) };
	unsigned char bad = 0;
	int i, status;

	bad |= child_sees_dead(fd, go) ? 1 : 0;
	for (i = 0; i < 64; i++) {
		pid_t p = fork();

		if (p == 0) {
			struct mkioq_queue *mine;
			int ok = !mkioq_queue_open(MKIOQ_DEV, 4, 0, &mine);

			ok = ok && !mkioq_doorbell(mine);
			close(fd);
			_exit(ok ? 0 : 1);
		}
		if (p < 0 || waitpid(p, &status, 0) != p ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			bad |= 2;
	}
	if (ioctl(fd, MKIOQ_IOC_DOORBELL, 0) != -1 || errno != ENXIO)
		bad |= 4;
	if (ioctl(fd, MKIOQ_IOC_INFO, &info) || info.slot_count != 8)
		bad |= 8;
	if (write(res, &bad, 1) != 1)
		bad |= 16;
	return bad;
}

/*
 * The owner exits while a forked child holds the file: the queue is shut
 * down for the child. New processes then come and go (their file tables
 * are allocated where the owner's was freed) and close their copies of
 * the file: none of them is taken for the owner, the queue stays shut
 * down, and queues they set up themselves work.
 */
TEST(owner_exit_then_reuse)
{
	int go[2], res[2], status;
	unsigned char bad = 0xff;
	pid_t owner;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(res));
	owner = fork();
	ASSERT_GE(owner, 0);
	if (owner == 0) {
		struct mkioq_queue *q;
		pid_t child;

		if (mkioq_queue_open(MKIOQ_DEV, 8, 0, &q))
			_exit(10);
		child = fork();
		if (child < 0)
			_exit(11);
		if (child == 0)
			_exit(reuse_child(mkioq_queue_fd(q), go[0], res[1]));
		/* The owner exits holding its descriptor. */
		_exit(0);
	}
	ASSERT_EQ(owner, waitpid(owner, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(1, write(go[1], "g", 1));
	/* The child is reparented: it reports through the pipe. */
	close(res[1]);
	ASSERT_EQ(1, read(res[0], &bad, 1));
	EXPECT_EQ(0, bad);
	close(res[0]);
	close(go[0]);
	close(go[1]);
}

/*
 * A child blocked in read() or poll() on the queue it inherited wakes
 * when the owner closes it: read() says ENXIO, poll() EPOLLERR; neither
 * sleeps on until a signal.
 */
TEST(owner_close_wakes_readers)
{
	int i, fd, status, ready[2];
	pid_t pid[2];
	char c;

	fd = open(MKIOQ_DEV, O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, raw_setup_at(fd, &(struct mkioq_setup){
		.size = sizeof(struct mkioq_setup), .slot_count = 4 }));
	ASSERT_EQ(0, pipe(ready));
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (pid[i] == 0) {
			struct mkioq_cqe cqe;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			alarm(20);
			if (write(ready[1], "r", 1) != 1)
				_exit(9);
			if (i == 0)
				_exit(read(fd, &cqe, sizeof(cqe)) == -1 &&
				      errno == ENXIO ? 0 : 1);
			_exit(poll(&pfd, 1, -1) == 1 &&
			      pfd.revents & POLLERR ? 0 : 2);
		}
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(1, read(ready[0], &c, 1));
	/* Let both block in the kernel. */
	usleep(200000);
	ASSERT_EQ(0, close(fd));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status)) TH_LOG("child %d: status %#x",
						      i, status);
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	close(ready[0]);
	close(ready[1]);
}

TEST_HARNESS_MAIN
