// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation-failure sweeps with the kernel's fault injection (failslab
 * and fail_page_alloc), for the debug kernel: open, MKIOQ_IOC_SETUP in
 * both modes and mmap(); MKIOQ_IOC_REGISTER of a dma-buf; the service
 * (requests and a doorbell) and a uring_cmd WAIT. For each path the N-th
 * allocation the call makes is failed, for N = 1, 2, ... Every call must
 * succeed or fail cleanly with a documented errno, leave the file usable
 * (the same call without injection then succeeds, and a request through
 * the queue completes with the right bytes), and never splat; the runner
 * scans the kernel log and kmemleak afterwards.
 *
 * Errnos a path may return when an allocation fails:
 *   open                -ENOMEM
 *   MKIOQ_IOC_SETUP     -ENOMEM; -ENOSPC (shmem_file_setup() of the ring
 *                       reports a failed inode allocation as ENOSPC)
 *   mmap                -ENOMEM
 *   MKIOQ_IOC_REGISTER  -ENOMEM
 *   doorbell            never fails; a request may complete with ERROR
 *                       ENOMEM (the module itself allocates nothing there)
 *   URING_CMD WAIT      CQE res -ENOMEM; io_uring_enter() itself -EAGAIN
 *                       or -ENOMEM (io_uring's own request allocation)
 *
 * Two ways to inject, as fixture variants:
 *   nth:       /proc/thread-self/fail-nth = N fails exactly the N-th
 *              allocation of this thread, and reads back 0 once it did;
 *              the sweep ends at the first N the call does not reach, so
 *              it visits every failure point once.
 *   interval:  task-filter=Y, probability=100, interval=N, times=1, and
 *              /proc/thread-self/make-it-fail = 1 only around the call;
 *              times reads back 0 once a failure was injected. The
 *              interval counter is global and cannot be reset, so which
 *              point fails is not exactly the N-th; N runs over 1..64.
 * Both set verbose=0 and space=0, ignore-gfp-wait=N for failslab and
 * fail_page_alloc, and fail_page_alloc/min-order=0 (ignore-gfp-highmem
 * stays as it is). Without /sys/kernel/debug/failslab the tests skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"
#include "mkioq_uring.h"

#define DBG		"/sys/kernel/debug"
#define PG		4096u
#define MAX_NTH		400	/* no path has this many allocations */
#define MAX_INTERVAL	64

/* ---------------------------------------------------- injection */

struct inj {
	bool nth;
	int nth_fd, mif_fd;
	int kmsg_fd;
	unsigned int splats;
};

static const char *const attrs[2] = { "failslab", "fail_page_alloc" };

static int put_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int put_attr(int a, const char *knob, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), DBG "/%s/%s", attrs[a], knob);
	return put_str(path, val);
}

static int pwrite_str(int fd, const char *val)
{
	return pwrite(fd, val, strlen(val), 0) < 0 ? -errno : 0;
}

static long pread_long(int fd)
{
	char buf[32] = { 0 };

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* debugfs attribute files cannot pread/pwrite: open each time. */
static long get_attr(int a, const char *knob)
{
	char path[128];
	long v;
	int fd;

	snprintf(path, sizeof(path), DBG "/%s/%s", attrs[a], knob);
	char buf[32] = { 0 };
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	v = n > 0 ? strtol(buf, NULL, 10) : -1;
	return v;
}

static bool fault_injection_present(void)
{
	return access(DBG "/failslab", F_OK) == 0 &&
	       access(DBG "/fail_page_alloc", F_OK) == 0;
}

static bool kmsg_marker_seen(struct inj *in)
{
	char rec[2048];
	ssize_t len;
	bool seen = false;

	while ((len = read(in->kmsg_fd, rec, sizeof(rec) - 1)) > 0 ||
	       (len < 0 && errno == EPIPE)) {
		if (len <= 0)
			continue;
		rec[len] = 0;
		seen |= strstr(rec, "kmsg-marker") != NULL;
	}
	return seen;
}

static int inj_init(struct inj *in, bool nth)
{
	int a;

	memset(in, 0, sizeof(*in));
	in->nth = nth;
	for (a = 0; a < 2; a++) {
		/* Quiet: a stack dump per injection would dirty the log. */
		if (put_attr(a, "verbose", "0") ||
		    put_attr(a, "task-filter", "Y") ||
		    put_attr(a, "space", "0") ||
		    put_attr(a, "ignore-gfp-wait", "N") ||
		    put_attr(a, "times", "1") ||
		    put_attr(a, "interval", "1") ||
		    put_attr(a, "probability", nth ? "0" : "100"))
			return -1;
	}
	if (put_attr(1, "min-order", "0"))
		return -1;
	in->nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	in->mif_fd = open("/proc/thread-self/make-it-fail", O_RDWR | O_CLOEXEC);
	if (in->mif_fd < 0)
		in->mif_fd = open("/proc/self/make-it-fail", O_RDWR | O_CLOEXEC);
	if ((nth && in->nth_fd < 0) || (!nth && in->mif_fd < 0))
		return -1;
	/*
	 * The runner (tests/vm/init.sh) expects the stack dumps of injected
	 * allocation failures between these two lines, and only there.
	 */
	put_str("/dev/kmsg", "mkioq-fault-injection: start\n");
	in->kmsg_fd = open("/dev/kmsg", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (in->kmsg_fd >= 0) {
		lseek(in->kmsg_fd, 0, SEEK_END);
		/* The scan must see this line, or it sees nothing. */
		if (write(in->kmsg_fd, "faults_test: kmsg-marker\n", 26) < 0 ||
		    !kmsg_marker_seen(in)) {
			ksft_print_msg("/dev/kmsg not readable here: splats go unattributed\n");
			close(in->kmsg_fd);
			in->kmsg_fd = -1;
		}
	}
	return 0;
}

static void inj_exit(struct inj *in)
{
	int a;

	for (a = 0; a < 2; a++)
		put_attr(a, "probability", "0");
	put_str("/dev/kmsg", "mkioq-fault-injection: stop\n");
	close(in->nth_fd);
	close(in->mif_fd);
	if (in->kmsg_fd >= 0)
		close(in->kmsg_fd);
}

/* Fail the @n-th allocation from now on (nth), or arm interval @n. */
static void inj_arm(struct inj *in, unsigned int n)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", n);
	if (in->nth) {
		pwrite_str(in->nth_fd, v);
		return;
	}
	put_attr(0, "interval", v);
	put_attr(1, "interval", v);
	put_attr(0, "times", "1");
	put_attr(1, "times", "1");
	/* Last: from here on this thread's allocations may fail. */
	pwrite_str(in->mif_fd, "1");
}

/* Stop injecting; returns whether a failure was injected. */
static bool inj_disarm(struct inj *in)
{
	if (in->nth) {
		long left = pread_long(in->nth_fd);

		pwrite_str(in->nth_fd, "0");
		return left == 0;
	}
	pwrite_str(in->mif_fd, "0");
	return get_attr(0, "times") == 0 || get_attr(1, "times") == 0;
}

/*
 * New kernel log lines that the runner would call a splat: printed with
 * the path and N that produced them, and counted.
 */
static void kmsg_scan(struct inj *in, const char *path, unsigned int n)
{
	char rec[2048];
	ssize_t len;

	if (in->kmsg_fd < 0)
		return;
	while ((len = read(in->kmsg_fd, rec, sizeof(rec) - 1)) > 0 ||
	       (len < 0 && errno == EPIPE)) {
		char *msg;

		if (len <= 0)
			continue;
		rec[len] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (strstr(msg, "WARNING:") || strstr(msg, "BUG:") ||
		    strstr(msg, "Call Trace") || strstr(msg, "allocation failure") ||
		    strstr(msg, "vmalloc error") || strstr(msg, "Oops") ||
		    strstr(msg, "kmemleak") || strstr(msg, "KASAN")) {
			in->splats++;
			if (in->splats <= 10)
				ksft_print_msg("kernel log after %s, failure %u: %.*s",
					       path, n, 200, msg);
		}
	}
}

/* What a sweep saw. */
struct tally {
	unsigned int points, ok, enomem, other, bad;
	unsigned int kinds;		/* distinct errnos in other_err[] */
	int other_err[8];
};

static void tally_add(struct tally *t, int ret, const int *allowed)
{
	int i;

	t->points++;
	if (!ret) {
		t->ok++;
		return;
	}
	if (ret == -ENOMEM) {
		t->enomem++;
		return;
	}
	for (i = 0; allowed[i]; i++)
		if (ret == allowed[i])
			break;
	if (!allowed[i]) {
		t->bad++;
		return;
	}
	t->other++;
	for (i = 0; i < (int)t->kinds; i++)
		if (t->other_err[i] == ret)
			return;
	if (t->kinds < 8)
		t->other_err[t->kinds++] = ret;
}

static void tally_print(const char *path, const struct inj *in,
			const struct tally *t)
{
	char extra[128] = "";
	unsigned int i;
	int n = 0;

	/* snprintf() returns what it would have written: stop when full. */
	for (i = 0; i < t->kinds && n < (int)sizeof(extra); i++)
		n += snprintf(extra + n, sizeof(extra) - n, " %s",
			      strerror(-t->other_err[i]));
	ksft_print_msg("%-22s %s: %3u failure points hit: %3u failed with ENOMEM, %u other%s%s, %u absorbed (call succeeded), %u wrong\n",
		       path, in->nth ? "fail-nth" : "interval", t->points,
		       t->enomem, t->other, t->other ? ":" : "", extra, t->ok,
		       t->bad);
}

static unsigned int sweep_max(const struct inj *in)
{
	return in->nth ? MAX_NTH : MAX_INTERVAL;
}

/* ------------------------------------------------------ fixture */

FIXTURE(flt) {
	bool skip;
	struct inj in;
	int drm;
	struct test_buf src, dst;
};

FIXTURE_VARIANT(flt) {
	bool nth;
};

FIXTURE_VARIANT_ADD(flt, nth) {
	.nth = true,
};

FIXTURE_VARIANT_ADD(flt, interval) {
	.nth = false,
};

FIXTURE_SETUP(flt)
{
	self->skip = !fault_injection_present();
	if (self->skip)
		return;
	ASSERT_EQ(0, inj_init(&self->in, variant->nth));
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, test_buf_create(self->drm, 1 << 20, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, 1 << 20, true, &self->dst));
	pattern_fill(self->src.map, 1 << 20, 61, 0);
}

FIXTURE_TEARDOWN(flt)
{
	if (self->skip)
		return;
	inj_exit(&self->in);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
}

#define SKIP_WITHOUT_INJECTION() do {					\
	if (self->skip)							\
		SKIP(return, "no " DBG "/failslab: allocation-failure "	\
		     "tests run on the debug kernel");			\
} while (0)

static int setup_fd(int fd, uint32_t mode)
{
	struct mkioq_setup s = {
		.size = sizeof(s), .slot_count = 64, .mode = mode,
	};

	return ioctl(fd, MKIOQ_IOC_SETUP, &s) < 0 ? -errno : 0;
}

/*
 * The queue works: register, one request, the right bytes. @fd is set
 * up; @ring its mapping.
 */
static int queue_works(FIXTURE_DATA(flt) *self, int fd, uint32_t *ring,
		       uint32_t mode, uint32_t tag)
{
	struct mkioq_queue q = {
		.words = ring, .slot_count = 64, .flags = MKIOQ_QUEUE_F_DEVICE,
		.fd = fd, .mode = mode, .map_bytes = PG,
	};
	uint32_t hs, hd, slot = tag % 64;
	uint64_t off = tag * 7919ULL % (1 << 19);
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .byte_count = 4096, .offset = off,
		.tag = tag,
	};
	int ret;

	if ((ret = mkioq_register(&q, self->src.fd, 0, 1 << 20,
				  MKIOQ_ACCESS_READ, &hs)))
		return ret;
	if ((ret = mkioq_register(&q, self->dst.fd, 0, 1 << 20,
				  MKIOQ_ACCESS_WRITE, &hd)))
		return ret;
	req.src_handle = hs;
	req.dst_handle = hd;
	if ((ret = mkioq_submit(&q, slot, &req)))
		return ret;
	if ((ret = mkioq_doorbell(&q)))
		return ret;
	if (wait_slot(&q, slot, 20000) != MKIOQ_RESULT_OK)
		return -EIO;
	if (pattern_check(self->dst.map, 4096, 61, off) != 4096)
		return -EILSEQ;
	mkioq_recycle(&q, slot);
	mkioq_unregister(&q, hs);
	mkioq_unregister(&q, hd);
	return 0;
}

/* -------------------------------------------- (a) open, setup, mmap */

TEST_F_TIMEOUT(flt, open_setup_mmap, 900)
{
	static const int setup_errs[] = { -ENOSPC, 0 };
	static const int none[] = { 0 };
	struct inj *in = &self->in;
	unsigned int n, mode;
	char name[32];

	SKIP_WITHOUT_INJECTION();
	for (mode = 0; mode < 2; mode++) {
		struct tally topen = { 0 }, tsetup = { 0 }, tmmap = { 0 };

		/* open() */
		snprintf(name, sizeof(name), "open (%s)",
			 mode ? "poll" : "doorbell");
		for (n = 1; n <= sweep_max(in); n++) {
			int fd, ret;
			bool hit;

			inj_arm(in, n);
			fd = open(MKIOQ_DEV, O_RDWR | O_CLOEXEC);
			ret = fd < 0 ? -errno : 0;
			hit = inj_disarm(in);
			kmsg_scan(in, name, n);
			if (fd >= 0)
				close(fd);
			if (!hit) {
				EXPECT_EQ(0, ret);
				if (in->nth)
					break;
				continue;
			}
			tally_add(&topen, ret, none);
		}
		tally_print(name, in, &topen);
		EXPECT_EQ(0, topen.bad);

		/* MKIOQ_IOC_SETUP, then the same file set up after all */
		snprintf(name, sizeof(name), "SETUP (%s)",
			 mode ? "poll" : "doorbell");
		for (n = 1; n <= sweep_max(in); n++) {
			int fd = open(MKIOQ_DEV, O_RDWR | O_CLOEXEC), ret;
			uint32_t *ring;
			bool hit;

			ASSERT_GE(fd, 0);
			inj_arm(in, n);
			ret = setup_fd(fd, mode);
			hit = inj_disarm(in);
			kmsg_scan(in, name, n);
			if (!hit) {
				EXPECT_EQ(0, ret);
				close(fd);
				if (in->nth)
					break;
				continue;
			}
			tally_add(&tsetup, ret, setup_errs);
			/* A failed setup leaves a file that sets up. */
			if (ret) {
				ASSERT_EQ(0, setup_fd(fd, mode))
					TH_LOG("setup after failure %u", n);
			} else {
				ASSERT_EQ(-EBUSY, setup_fd(fd, mode));
			}
			ring = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, 0);
			ASSERT_NE(MAP_FAILED, ring);
			EXPECT_EQ(0, queue_works(self, fd, ring, mode, n))
				TH_LOG("%s failure %u", name, n);
			munmap(ring, PG);
			close(fd);
		}
		tally_print(name, in, &tsetup);
		EXPECT_EQ(0, tsetup.bad);

		/* mmap() of a set-up file */
		snprintf(name, sizeof(name), "mmap (%s)",
			 mode ? "poll" : "doorbell");
		for (n = 1; n <= sweep_max(in); n++) {
			int fd = open(MKIOQ_DEV, O_RDWR | O_CLOEXEC), ret;
			uint32_t *ring;
			bool hit;

			ASSERT_GE(fd, 0);
			ASSERT_EQ(0, setup_fd(fd, mode));
			inj_arm(in, n);
			ring = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, 0);
			ret = ring == MAP_FAILED ? -errno : 0;
			hit = inj_disarm(in);
			kmsg_scan(in, name, n);
			if (ring == MAP_FAILED)
				ring = mmap(NULL, PG, PROT_READ | PROT_WRITE,
					    MAP_SHARED, fd, 0);
			ASSERT_NE(MAP_FAILED, ring);
			if (hit) {
				tally_add(&tmmap, ret, none);
				EXPECT_EQ(0, queue_works(self, fd, ring, mode,
							 n))
					TH_LOG("%s failure %u", name, n);
			} else {
				EXPECT_EQ(0, ret);
			}
			munmap(ring, PG);
			close(fd);
			if (!hit && in->nth)
				break;
		}
		tally_print(name, in, &tmmap);
		EXPECT_EQ(0, tmmap.bad);
	}
	if (in->kmsg_fd >= 0)
		ksft_print_msg("kernel log lines a runner would flag: %u\n",
			       in->splats);
}

/* ------------------------------------------------------ (b) REGISTER */

TEST_F_TIMEOUT(flt, register_dmabuf, 600)
{
	static const int none[] = { 0 };
	struct inj *in = &self->in;
	struct mkioq_queue *q;
	struct mkioq_info info;
	struct tally t = { 0 };
	unsigned int n;

	SKIP_WITHOUT_INJECTION();
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, 0, &q));
	for (n = 1; n <= sweep_max(in); n++) {
		struct mkioq_handle_reg reg = {
			.fd = self->src.fd, .access = MKIOQ_ACCESS_READ,
			.offset = 4096, .length = 65536,
		};
		int ret;
		bool hit;

		/* No handle left: each try maps the buffer afresh. */
		inj_arm(in, n);
		ret = ioctl(mkioq_queue_fd(q), MKIOQ_IOC_REGISTER, &reg) < 0 ?
		      -errno : 0;
		hit = inj_disarm(in);
		kmsg_scan(in, "REGISTER", n);
		if (!ret)
			EXPECT_EQ(0, mkioq_unregister(q, reg.handle));
		if (!hit) {
			EXPECT_EQ(0, ret);
			if (in->nth)
				break;
			continue;
		}
		tally_add(&t, ret, none);
		/* Nothing half-registered, and the queue still works. */
		ASSERT_EQ(0, mkioq_info(q, &info));
		EXPECT_EQ(0, info.handles);
		EXPECT_EQ(0, queue_works(self, mkioq_queue_fd(q), q->words, 0,
					 n))
			TH_LOG("REGISTER failure %u", n);
	}
	tally_print("REGISTER", in, &t);
	EXPECT_EQ(0, t.bad);
	mkioq_queue_free(q);
}

/* ------------------------------------------- (c) service and WAIT */

TEST_F_TIMEOUT(flt, service_and_wait, 900)
{
	static const int none[] = { 0 };
	static const int enter_errs[] = { -EAGAIN, 0 };
	struct inj *in = &self->in;
	unsigned int n, mode;
	char name[32];

	SKIP_WITHOUT_INJECTION();
	for (mode = 0; mode < 2; mode++) {
		struct tally tdb = { 0 }, treq = { 0 }, tw = { 0 }, tenter = { 0 };
		struct mkioq_queue *q;
		struct io_uring ring;
		struct io_uring_cqe *cqe;
		struct io_uring_sqe *sqe;
		uint32_t hs, hd, s;
		int i;

		ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64,
					      mode ? MKIOQ_OPEN_POLL : 0, &q));
		ASSERT_EQ(0, mkioq_register(q, self->src.fd, 0, 1 << 20,
					    MKIOQ_ACCESS_READ, &hs));
		ASSERT_EQ(0, mkioq_register(q, self->dst.fd, 0, 1 << 20,
					    MKIOQ_ACCESS_WRITE, &hd));
		ASSERT_EQ(0, io_uring_queue_init(64, &ring, 0));
		/* Warm io_uring's request cache: its allocations are not ours. */
		for (i = 0; i < 32; i++)
			io_uring_prep_nop(io_uring_get_sqe(&ring));
		ASSERT_EQ(32, io_uring_submit_and_wait(&ring, 32));
		io_uring_cq_advance(&ring, 32);

		/* Requests and a doorbell (ioctl or write) under injection. */
		snprintf(name, sizeof(name), "doorbell (%s)",
			 mode ? "poll" : "doorbell");
		for (n = 1; n <= sweep_max(in); n++) {
			int ret;
			bool hit;

			for (s = 0; s < 8; s++)
				ASSERT_EQ(0, mkioq_submit_dma_read(q, s, hs, hd,
								   4096, n));
			inj_arm(in, n);
			if (n & 1)
				ret = mkioq_doorbell(q);
			else
				ret = write(mkioq_queue_fd(q), "", 1) == 1 ? 0 :
				      -errno;
			hit = inj_disarm(in);
			kmsg_scan(in, name, n);
			EXPECT_EQ(0, ret);
			for (s = 0; s < 8; s++) {
				int st = wait_slot(q, s, 20000);
				int err = st == MKIOQ_RESULT_ERROR ?
					  -(int)q->words[s * 8 + MKIOQ_WORD_TAG] :
					  st == MKIOQ_RESULT_OK ? 0 : -ETIMEDOUT;

				if (hit)
					tally_add(&treq, err, none);
				else
					EXPECT_EQ(0, err);
				ASSERT_EQ(0, mkioq_recycle(q, s));
			}
			drain_cqes(q);
			if (hit)
				tally_add(&tdb, ret, none);
			if (!hit && in->nth)
				break;
		}
		tally_print(name, in, &tdb);
		if (treq.points)
			tally_print("  its requests", in, &treq);
		EXPECT_EQ(0, tdb.bad);
		EXPECT_EQ(0, treq.bad);

		/* A uring_cmd WAIT submitted under injection. */
		snprintf(name, sizeof(name), "WAIT (%s)",
			 mode ? "poll" : "doorbell");
		for (n = 1; n <= sweep_max(in); n++) {
			struct __kernel_timespec ts = { .tv_sec = 20 };
			struct mkioq_cqe rec;
			int ret, res;
			bool hit;

			s = n % 64;
			sqe = io_uring_get_sqe(&ring);
			mkioq_prep_wait(&ring, sqe, mkioq_queue_fd(q), s, &rec);
			inj_arm(in, n);
			ret = io_uring_submit(&ring);
			hit = inj_disarm(in);
			kmsg_scan(in, name, n);
			if (ret != 1) {
				/* io_uring's own allocation: not consumed. */
				if (hit)
					tally_add(&tenter, ret, enter_errs);
				else
					EXPECT_EQ(1, ret);
				ASSERT_EQ(1, io_uring_submit(&ring));
			}
			/* Parked, or failed at once: complete its slot. */
			ASSERT_EQ(0, mkioq_submit_dma_read(q, s, hs, hd, 512,
							   n));
			ASSERT_EQ(0, mkioq_doorbell(q));
			ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe,
							       &ts));
			res = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(q, s, 20000));
			ASSERT_EQ(0, mkioq_recycle(q, s));
			if (res >= 0) {
				EXPECT_EQ(512, res);
				EXPECT_EQ(s, rec.slot);
				EXPECT_EQ(n, rec.tag);
			}
			/* A WAIT that failed left the record to read(). */
			drain_cqes(q);
			if (hit && ret == 1)
				tally_add(&tw, res >= 0 ? 0 : res, none);
			else if (!hit)
				EXPECT_EQ(512, res);
			if (!hit && in->nth)
				break;
		}
		tally_print(name, in, &tw);
		if (tenter.points)
			tally_print("  io_uring_enter", in, &tenter);
		EXPECT_EQ(0, tw.bad);
		EXPECT_EQ(0, tenter.bad);

		/* Still a working queue. */
		EXPECT_EQ(0, queue_works(self, mkioq_queue_fd(q), q->words,
					 mode, 77));
		io_uring_queue_exit(&ring);
		mkioq_queue_free(q);
	}
	if (in->kmsg_fd >= 0)
		ksft_print_msg("kernel log lines a runner would flag: %u\n",
			       in->splats);
}

TEST_HARNESS_MAIN
