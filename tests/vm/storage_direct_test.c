// SPDX-License-Identifier: GPL-2.0
/*
 * File handles opened O_DIRECT (protocol.rst "Direct I/O"): a loop block
 * device over a tmpfs file, opened O_DIRECT and registered, is read and
 * written with direct I/O; every READ is checked byte for byte against
 * pread() of a descriptor of the same device without O_DIRECT, every
 * WRITE against pread() of the backing file and a shadow copy of the
 * whole device. Then the alignment rules (registration and requests, a
 * 512 and a 4096 byte block device, tmpfs), misaligned requests that
 * change nothing and the precedence of their EINVAL, a short READ at the
 * end of a device that shrank, O_DIRECT set and cleared by fcntl() after
 * registration, and the userspace engine against the module for the same
 * cases. Every test runs in both service modes; without loop.ko (the
 * debug kernel's lane) every test is skipped, saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_engine.h"
#include "mkioq_test.h"

#define BUF_BYTES	(4u << 20)
#define DEV_BYTES	(2u << 20)
#define FILL		0x5a
#define SEED		41

/* A loop device over a tmpfs file: buffered and O_DIRECT descriptors. */
struct loopdev {
	char bpath[64], dev[32];
	int back, bfd, dfd;
};

static void loop_init(struct loopdev *lo)
{
	lo->back = lo->bfd = lo->dfd = -1;
	lo->bpath[0] = '\0';
}

/*
 * A loop device of @size pattern bytes (seed @seed) with logical blocks
 * of @lbs bytes (0: the default 512). 0, -ENODEV without a loop driver,
 * or another negative errno.
 */
static int loop_new(struct loopdev *lo, const char *name, size_t size,
		    uint32_t seed, unsigned int lbs)
{
	uint8_t *buf = malloc(size);
	int ctl, n, ret = 0;

	loop_init(lo);
	if (!buf)
		return -ENOMEM;
	snprintf(lo->bpath, sizeof(lo->bpath), "/tmp/%s.%d", name, getpid());
	lo->back = open(lo->bpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	pattern_fill(buf, size, seed, 0);
	if (lo->back < 0 || pwrite(lo->back, buf, size, 0) != (ssize_t)size)
		ret = -EIO;
	free(buf);
	if (ret)
		return ret;
	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl < 0)
		return -ENODEV;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -ENODEV;
	snprintf(lo->dev, sizeof(lo->dev), "/dev/loop%d", n);
	lo->bfd = open(lo->dev, O_RDWR);
	if (lo->bfd < 0)
		return -ENODEV;
	if (ioctl(lo->bfd, LOOP_SET_FD, lo->back))
		return -errno;
	if (lbs && ioctl(lo->bfd, LOOP_SET_BLOCK_SIZE, (unsigned long)lbs))
		return -errno;
	lo->dfd = open(lo->dev, O_RDWR | O_DIRECT);
	return lo->dfd < 0 ? -errno : 0;
}

static void loop_free(struct loopdev *lo)
{
	if (lo->dfd >= 0)
		close(lo->dfd);
	if (lo->bfd >= 0) {
		ioctl(lo->bfd, LOOP_CLR_FD, 0);
		close(lo->bfd);
	}
	if (lo->back >= 0)
		close(lo->back);
	if (lo->bpath[0])
		unlink(lo->bpath);
	loop_init(lo);
}

FIXTURE(sd) {
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst;
	uint32_t hsrc, hdst, hdio;
	struct loopdev lo;
	uint8_t *shadow;		/* what the device holds */
};

FIXTURE_VARIANT(sd) {
	unsigned int open_flags;
};

FIXTURE_VARIANT_ADD(sd, doorbell) {
	.open_flags = 0,
};

FIXTURE_VARIANT_ADD(sd, poll) {
	.open_flags = MKIOQ_OPEN_POLL,
};

FIXTURE_SETUP(sd)
{
	int ret;

	self->drm = -1;
	/* The teardown of a skipped test must close nothing it did not open. */
	self->src.fd = self->dst.fd = -1;
	self->src.memfd = self->dst.memfd = -1;
	loop_init(&self->lo);
	ret = loop_new(&self->lo, "sd-loop", DEV_BYTES, SEED, 0);
	if (ret == -ENODEV)
		SKIP(return, "no loop device (loop.ko not loaded)");
	ASSERT_EQ(0, ret) TH_LOG("loop device: %s", strerror(-ret));
	self->shadow = malloc(DEV_BYTES);
	ASSERT_NE(NULL, self->shadow);
	pattern_fill(self->shadow, DEV_BYTES, SEED, 0);
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, variant->open_flags,
				      &self->q));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));
	ASSERT_EQ(0, mkioq_register_file(self->q, self->lo.dfd, 0, DEV_BYTES,
					 MKIOQ_ACCESS_RW, &self->hdio));
}

FIXTURE_TEARDOWN(sd)
{
	if (self->q)
		mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	if (self->drm >= 0)
		close(self->drm);
	loop_free(&self->lo);
	free(self->shadow);
}

/*
 * One request in slot 0 of @q (the module's, or @e's if set): its STATUS,
 * its result (BYTE_COUNT or -TAG) in *@result, the record's in *@rec.
 */
static int run_on(struct mkioq_queue *q, struct mkioq_engine *e, uint32_t op,
		  uint32_t src, uint32_t dst, uint64_t off, uint32_t count,
		  int64_t *result, int32_t *rec)
{
	uint64_t deadline;
	struct mkioq_cqe cqe;
	int st, n;

	st = run_request(q, e, op, src, dst, off, count, result);
	if (st < 0)
		return st;
	/* A storage worker posts the record just after STATUS. */
	*rec = INT32_MIN;
	deadline = now_ns() + 5000000000ULL;
	while (*rec == INT32_MIN && now_ns() < deadline) {
		n = e ? mkioq_engine_read_cqes(e, &cqe, 1, 100) :
			mkioq_read_cqes(q, &cqe, 1, 100);
		if (n == 1 && cqe.slot == 0 && !(cqe.flags & MKIOQ_CQE_F_NOTICE))
			*rec = cqe.result;
	}
	return st;
}

static int run(FIXTURE_DATA(sd) *self, uint32_t op, uint32_t src,
	       uint32_t dst, uint64_t off, uint32_t count, int64_t *result)
{
	int32_t rec;
	int st = run_on(self->q, NULL, op, src, dst, off, count, result,
			&rec);

	/* The record says what the slot says. */
	if (st > 0 && rec != *result)
		return -2;
	return st;
}

/* Does the backing file still hold the shadow, every byte? */
static bool device_is_shadow(FIXTURE_DATA(sd) *self)
{
	return diff_fd(self->lo.back, 0, self->shadow, DEV_BYTES) ==
	       DEV_BYTES;
}

/*
 * 6.1's harness runs a test whose setup skipped: each test skips again
 * itself when the setup found no loop device.
 */
#define NEED_LOOP()							\
	do {								\
		if (self->lo.dfd < 0)					\
			SKIP(return, "no loop device (loop.ko not loaded)"); \
	} while (0)

/* Handle @h's fdinfo line (the queue's file) says @what. */
static bool handle_shows(struct mkioq_queue *q, uint32_t h, const char *what)
{
	char info[16384], head[32], *line, *end;

	if (fdinfo_read(mkioq_queue_fd(q), info, sizeof(info)))
		return false;
	snprintf(head, sizeof(head), "handle:\t%u ", h);
	line = strstr(info, head);
	if (!line)
		return false;
	end = strchr(line, '\n');
	if (end)
		*end = '\0';
	return strstr(line, what);
}

TEST_F(sd, register_rules)
{
	struct loopdev big;
	char path[64];
	int64_t res;
	uint32_t h;
	int fd, ret;

	NEED_LOOP();
	/* 512-byte blocks: the range's start must be a multiple. */
	EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, self->lo.dfd, 100,
					       4096, MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, self->lo.dfd, 4095,
					       4096, MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(0, mkioq_register_file(self->q, self->lo.dfd, 512, 4096,
					 MKIOQ_ACCESS_READ, &h));
	EXPECT_TRUE(handle_shows(self->q, h, " dio-align=512"));
	/* Before ERANGE: the order of the uapi. */
	EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, self->lo.dfd, 100,
					       1ULL << 60, MKIOQ_ACCESS_READ,
					       &h));
	/* The device's size still bounds it. */
	EXPECT_EQ(-ERANGE, mkioq_register_file(self->q, self->lo.dfd, 512,
					       DEV_BYTES, MKIOQ_ACCESS_READ,
					       &h));
	/* Without O_DIRECT no alignment applies. */
	EXPECT_EQ(0, mkioq_register_file(self->q, self->lo.bfd, 100, 4096,
					 MKIOQ_ACCESS_READ, &h));
	EXPECT_TRUE(handle_shows(self->q, h, " dio-align=0"));

	/* A 4096-byte block device: 512 is no longer a multiple. */
	ret = loop_new(&big, "sd-4k", 1 << 20, 43, 4096);
	ASSERT_EQ(0, ret) TH_LOG("4096-byte loop device: %s", strerror(-ret));
	EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, big.dfd, 512, 8192,
					       MKIOQ_ACCESS_READ, &h));
	ASSERT_EQ(0, mkioq_register_file(self->q, big.dfd, 4096, 65536,
					 MKIOQ_ACCESS_READ, &h));
	EXPECT_TRUE(handle_shows(self->q, h, " dio-align=4096"));
	memset(self->dst.map, FILL, 65536);
	EXPECT_EQ(MKIOQ_RESULT_ERROR, run(self, MKIOQ_OP_READ, h, self->hdst,
					  512, 4096, &res));
	EXPECT_EQ(-EINVAL, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, run(self, MKIOQ_OP_READ, h, self->hdst,
					  4096, 512, &res));
	EXPECT_EQ(-EINVAL, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	EXPECT_EQ(FILL, self->dst.map[0]);
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, h, self->hdst,
				       8192, 3 * 4096, &res));
	EXPECT_EQ(3 * 4096, res);
	EXPECT_EQ(3 * 4096, diff_fd(big.bfd, 4096 + 8192, self->dst.map,
				    3 * 4096));
	EXPECT_EQ(3 * 4096, pattern_check(self->dst.map, 3 * 4096, 43,
					  4096 + 8192));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	EXPECT_EQ(0, mkioq_unregister(self->q, h));
	drain_cqes(self->q);
	loop_free(&big);

	/*
	 * tmpfs: 6.1 refuses the O_DIRECT open itself; later kernels open
	 * it but tmpfs reports no STATX_DIOALIGN, so REGISTER refuses it.
	 */
	snprintf(path, sizeof(path), "/tmp/sd-tmpfs.%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (fd < 0) {
		EXPECT_EQ(EINVAL, errno);
		TH_LOG("tmpfs refuses O_DIRECT opens here (EINVAL)");
	} else {
		EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, fd, 0, 4096,
						       MKIOQ_ACCESS_READ,
						       &h));
		close(fd);
	}
	unlink(path);
	drain_cqes(self->q);
}

TEST_F_TIMEOUT(sd, read_every_byte, 300)
{
	static const uint32_t sizes[] = {
		512, 1024, 4096, 65536 + 512, 256 << 10, (256 << 10) + 512,
		(1 << 20) + 4096,
	};
	static const uint64_t offsets[] = { 0, 512, 7 * 512, 65536 };
	unsigned int i, j;
	int64_t res;

	NEED_LOOP();
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (j = 0; j < ARRAY_SIZE(offsets); j++) {
			size_t n = sizes[i];

			memset(self->dst.map, FILL, n + 4096);
			ASSERT_EQ(MKIOQ_RESULT_OK,
				  run(self, MKIOQ_OP_READ, self->hdio,
				      self->hdst, offsets[j], n, &res))
				TH_LOG("size %zu offset %llu", n,
				       (unsigned long long)offsets[j]);
			ASSERT_EQ(n, res);
			/* Against the device read without O_DIRECT. */
			ASSERT_EQ(n, diff_fd(self->lo.bfd, offsets[j],
					     self->dst.map, n));
			ASSERT_EQ(n, pattern_check(self->dst.map, n, SEED,
						   offsets[j]));
			/* Not a byte more. */
			ASSERT_EQ(FILL, self->dst.map[n]);
			ASSERT_EQ(FILL, self->dst.map[n + 4095]);
			ASSERT_EQ(0, mkioq_recycle(self->q, 0));
		}
	}
	drain_cqes(self->q);
}

TEST_F_TIMEOUT(sd, write_every_byte, 300)
{
	static const uint32_t sizes[] = {
		512, 4096, (256 << 10) + 512, (1 << 20) + 7 * 512,
	};
	unsigned int i, j;
	int64_t res;

	NEED_LOOP();
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint32_t n = sizes[i];
		const uint64_t offsets[] = { 0, 3 * 512, 12288,
					     DEV_BYTES - n };

		for (j = 0; j < ARRAY_SIZE(offsets); j++) {
			uint32_t seed = 100 + i * 10 + j;
			uint64_t off = offsets[j];

			pattern_fill(self->src.map, n, seed, 0);
			ASSERT_EQ(MKIOQ_RESULT_OK,
				  run(self, MKIOQ_OP_WRITE, self->hsrc,
				      self->hdio, off, n, &res))
				TH_LOG("size %u offset %llu", n,
				       (unsigned long long)off);
			ASSERT_EQ(n, res);
			memcpy(self->shadow + off, self->src.map, n);
			/* The backing file, without O_DIRECT: every byte. */
			ASSERT_TRUE(device_is_shadow(self));
			/* And the device's own page cache, invalidated. */
			ASSERT_EQ(n, diff_fd(self->lo.bfd, off, self->src.map,
					     n));
			ASSERT_EQ(0, mkioq_recycle(self->q, 0));
		}
	}
	/* Read back with direct I/O: what was written. */
	memset(self->dst.map, FILL, DEV_BYTES);
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, self->hdio,
				       self->hdst, 0, DEV_BYTES, &res));
	EXPECT_EQ(DEV_BYTES, res);
	EXPECT_EQ(0, memcmp(self->dst.map, self->shadow, DEV_BYTES));
	drain_cqes(self->q);
}

/*
 * Misaligned requests fail EINVAL, and change no byte of the dma-buf or
 * the device and no word but TAG and STATUS; every other errno comes
 * first.
 */
TEST_F(sd, misaligned_requests_change_nothing)
{
	uint32_t hro, hwo;
	int64_t res;
	unsigned int i;

	NEED_LOOP();
	ASSERT_EQ(0, mkioq_register_file(self->q, self->lo.dfd, 0, DEV_BYTES,
					 MKIOQ_ACCESS_READ, &hro));
	ASSERT_EQ(0, mkioq_register_file(self->q, self->lo.dfd, 4096, 8192,
					 MKIOQ_ACCESS_WRITE, &hwo));
	struct {
		uint32_t op, src, dst;
		uint64_t off;
		uint32_t count;
		int err;
	} c[] = {
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 1, 512, EINVAL },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 256, 4096, EINVAL },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 0, 1, EINVAL },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 512, 511, EINVAL },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 4096, 4097, EINVAL },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 1, 0, EINVAL },
		{ MKIOQ_OP_WRITE, self->hsrc, self->hdio, 100, 512, EINVAL },
		{ MKIOQ_OP_WRITE, self->hsrc, self->hdio, 0, 1000, EINVAL },
		{ MKIOQ_OP_WRITE, self->hsrc, hwo, 4095, 1, EINVAL },
		/* Every other errno first. */
		{ 7, self->hdio, self->hdst, 1, 1, EOPNOTSUPP },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 1, 1u << 31, EFBIG },
		{ MKIOQ_OP_READ, self->hdio, 999, 1, 1, ENOENT },
		{ MKIOQ_OP_READ, self->hdio, self->hdio, 1, 1, EXDEV },
		{ MKIOQ_OP_READ, hwo, self->hdst, 1, 1, EACCES },
		{ MKIOQ_OP_WRITE, self->hsrc, hro, 1, 1, EACCES },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, ~0ULL, 2, EOVERFLOW },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, DEV_BYTES - 100, 512,
		  ERANGE },
		{ MKIOQ_OP_WRITE, self->hsrc, hwo, 8000, 193, ERANGE },
		{ MKIOQ_OP_READ, self->hdio, self->hdst, 1, BUF_BYTES + 1,
		  ERANGE },
	};

	memset(self->dst.map, FILL, BUF_BYTES);
	pattern_fill(self->src.map, 8192, 77, 0);
	drain_cqes(self->q);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		ASSERT_EQ(MKIOQ_RESULT_ERROR,
			  run(self, c[i].op, c[i].src, c[i].dst, c[i].off,
			      c[i].count, &res)) TH_LOG("case %u", i);
		EXPECT_EQ(-c[i].err, res) TH_LOG("case %u", i);
		/* A rejected request keeps its BYTE_COUNT word. */
		EXPECT_EQ(c[i].count, slot_word(self->q, 0, MKIOQ_WORD_BYTE_COUNT))
			TH_LOG("case %u", i);
		ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	}
	for (i = 0; i < BUF_BYTES && self->dst.map[i] == FILL; i++)
		;
	EXPECT_EQ(BUF_BYTES, i);
	EXPECT_TRUE(device_is_shadow(self));
	/* The same handles, aligned: fine. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, hro, self->hdst,
				       512, 512, &res));
	EXPECT_EQ(512, res);
	EXPECT_EQ(512, pattern_check(self->dst.map, 512, SEED, 512));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_WRITE, self->hsrc, hwo,
				       4096, 4096, &res));
	EXPECT_EQ(4096, res);
	memcpy(self->shadow + 4096 + 4096, self->src.map, 4096);
	EXPECT_TRUE(device_is_shadow(self));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	/* BYTE_COUNT 0 at an aligned offset: OK, nothing moved. */
	memset(self->dst.map, FILL, 4096);
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, self->hdio,
				       self->hdst, 1024, 0, &res));
	EXPECT_EQ(0, res);
	EXPECT_EQ(FILL, self->dst.map[0]);
	drain_cqes(self->q);
}

/*
 * The device shrinks under the handle (the backing file truncated, then
 * LOOP_SET_CAPACITY): a READ that meets the new end is short, as a
 * buffered one, and at the end reads 0 bytes; the bounce buffer's bytes
 * past the end never reach the dma-buf.
 */
TEST_F(sd, end_of_device_short_read)
{
	const uint64_t end = DEV_BYTES - 5120;
	int64_t res;

	NEED_LOOP();
	ASSERT_EQ(0, ftruncate(self->lo.back, end));
	ASSERT_EQ(0, ioctl(self->lo.bfd, LOOP_SET_CAPACITY, 0));
	memset(self->dst.map, FILL, 1 << 20);
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, self->hdio,
				       self->hdst, end - 1024, 4096, &res));
	EXPECT_EQ(1024, res);
	EXPECT_EQ(1024, diff_fd(self->lo.bfd, end - 1024, self->dst.map,
				1024));
	EXPECT_EQ(1024, pattern_check(self->dst.map, 1024, SEED, end - 1024));
	EXPECT_EQ(FILL, self->dst.map[1024]);
	EXPECT_EQ(FILL, self->dst.map[4095]);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* Short in its second bounce buffer's worth. */
	memset(self->dst.map, FILL, 1 << 20);
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, self->hdio,
				       self->hdst, end - (256 << 10) - 512,
				       (256 << 10) + 4096, &res));
	EXPECT_EQ((256 << 10) + 512, res);
	EXPECT_EQ((256 << 10) + 512,
		  pattern_check(self->dst.map, (256 << 10) + 512, SEED,
				end - (256 << 10) - 512));
	EXPECT_EQ(FILL, self->dst.map[(256 << 10) + 512]);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* At the end: 0 bytes, OK. */
	memset(self->dst.map, FILL, 4096);
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, self->hdio,
				       self->hdst, end, 512, &res));
	EXPECT_EQ(0, res);
	EXPECT_EQ(FILL, self->dst.map[0]);
	drain_cqes(self->q);
}

/*
 * The handle serves as registered: a buffered handle whose file is given
 * O_DIRECT by fcntl() fails EINVAL (its kvec would hand the dma-buf's
 * pages to the block layer) and changes nothing; an O_DIRECT handle whose
 * flag is cleared still reads with direct I/O and its alignment.
 */
TEST_F(sd, flag_changed_after_registration)
{
	int fl = fcntl(self->lo.bfd, F_GETFL);
	int64_t res;
	uint32_t hb;

	NEED_LOOP();
	ASSERT_EQ(0, mkioq_register_file(self->q, self->lo.bfd, 0, DEV_BYTES,
					 MKIOQ_ACCESS_READ, &hb));
	ASSERT_EQ(0, fcntl(self->lo.bfd, F_SETFL, fl | O_DIRECT));
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run(self, MKIOQ_OP_READ, hb, self->hdst,
					  0, 4096, &res));
	EXPECT_EQ(-EINVAL, res);
	EXPECT_EQ(FILL, self->dst.map[0]);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(0, fcntl(self->lo.bfd, F_SETFL, fl));
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, hb, self->hdst,
				       13, 4096, &res));
	EXPECT_EQ(4096, res);
	EXPECT_EQ(4096, pattern_check(self->dst.map, 4096, SEED, 13));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	fl = fcntl(self->lo.dfd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->lo.dfd, F_SETFL, fl & ~O_DIRECT));
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run(self, MKIOQ_OP_READ, self->hdio,
					  self->hdst, 13, 4096, &res));
	EXPECT_EQ(-EINVAL, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_OK, run(self, MKIOQ_OP_READ, self->hdio,
				       self->hdst, 8192, 8192, &res));
	EXPECT_EQ(8192, res);
	EXPECT_EQ(8192, diff_fd(self->lo.bfd, 8192, self->dst.map, 8192));
	drain_cqes(self->q);
}

/*
 * The userspace engine against the module: a second loop device with the
 * same bytes, the same vgem buffers' contents, the same registrations in
 * the same order (so the numbers match) with the same failures; then
 * aligned and misaligned READs and WRITEs, precedence, end of device,
 * compared word for word, record for record, byte for byte, and the two
 * devices compared at the end.
 */
TEST_F_TIMEOUT(sd, engine_parity, 300)
{
	struct mkioq_engine_params p = { .size = sizeof(p), .workers = 2 };
	struct test_buf esrc, edst;
	struct mkioq_queue *eq;
	struct mkioq_engine *e;
	struct loopdev le;
	uint32_t hm, he, hs, hd, hf, hro, hwo;
	unsigned int i;
	int ret, rm, re, tfd;
	char path[64];

	NEED_LOOP();
	ret = loop_new(&le, "sd-loop-e", DEV_BYTES, SEED, 0);
	ASSERT_EQ(0, ret) TH_LOG("second loop device: %s", strerror(-ret));
	ASSERT_EQ(0, mkioq_queue_new(64, &eq));
	ASSERT_EQ(0, mkioq_engine_new(eq, &p, &e));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &esrc));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &edst));
	ASSERT_EQ(0, mkioq_engine_register_dmabuf(e, esrc.fd, 0, BUF_BYTES,
						  MKIOQ_ACCESS_READ, &hs));
	ASSERT_EQ(0, mkioq_engine_register_dmabuf(e, edst.fd, 0, BUF_BYTES,
						  MKIOQ_ACCESS_RW, &hd));
	ASSERT_EQ(0, mkioq_engine_register_file(e, le.dfd, 0, DEV_BYTES,
						MKIOQ_ACCESS_RW, &hf));
	ASSERT_EQ(self->hsrc, hs);
	ASSERT_EQ(self->hdst, hd);
	ASSERT_EQ(self->hdio, hf);

	/* Registrations: the same errnos and numbers. */
	struct {
		int mfd, efd;
		uint64_t off, len;
		uint32_t access;
	} regs[] = {
		{ self->lo.dfd, le.dfd, 100, 4096, MKIOQ_ACCESS_READ },
		{ self->lo.dfd, le.dfd, 511, 1ULL << 62, MKIOQ_ACCESS_RW },
		{ self->lo.dfd, le.dfd, 512, DEV_BYTES, MKIOQ_ACCESS_READ },
		{ self->lo.dfd, le.dfd, 0, DEV_BYTES, MKIOQ_ACCESS_READ },
		{ self->lo.dfd, le.dfd, 4096, 8192, MKIOQ_ACCESS_WRITE },
	};
	for (i = 0; i < ARRAY_SIZE(regs); i++) {
		hm = he = 0;
		rm = mkioq_register_file(self->q, regs[i].mfd, regs[i].off,
					 regs[i].len, regs[i].access, &hm);
		re = mkioq_engine_register_file(e, regs[i].efd, regs[i].off,
						regs[i].len, regs[i].access,
						&he);
		EXPECT_EQ(rm, re) TH_LOG("registration %u", i);
		EXPECT_EQ(hm, he) TH_LOG("registration %u", i);
	}
	hro = hf + 1;
	hwo = hf + 2;
	snprintf(path, sizeof(path), "/tmp/sd-tmpfs-e.%d", getpid());
	tfd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (tfd >= 0) {
		rm = mkioq_register_file(self->q, tfd, 0, 4096,
					 MKIOQ_ACCESS_READ, &hm);
		re = mkioq_engine_register_file(e, tfd, 0, 4096,
						MKIOQ_ACCESS_READ, &he);
		EXPECT_EQ(-EINVAL, rm);
		EXPECT_EQ(rm, re);
		close(tfd);
	}
	unlink(path);
	ASSERT_EQ(0, mkioq_engine_start(e));

	pattern_fill(self->src.map, BUF_BYTES, 5, 0);
	pattern_fill(esrc.map, BUF_BYTES, 5, 0);
	struct {
		uint32_t op, src, dst;
		uint64_t off;
		uint32_t count;
	} c[] = {
		{ MKIOQ_OP_READ, hf, hd, 0, 4096 },
		{ MKIOQ_OP_READ, hf, hd, 512, (256 << 10) + 1024 },
		{ MKIOQ_OP_READ, hro, hd, 1536, 65536 },
		{ MKIOQ_OP_READ, hf, hd, DEV_BYTES - 512, 512 },
		{ MKIOQ_OP_READ, hf, hd, 1024, 0 },
		{ MKIOQ_OP_WRITE, hs, hf, 3 * 512, (1 << 20) + 512 },
		{ MKIOQ_OP_WRITE, hs, hwo, 4096, 4096 },
		{ MKIOQ_OP_READ, hf, hd, 0, DEV_BYTES },
		/* Misaligned, and what wins over it. */
		{ MKIOQ_OP_READ, hf, hd, 1, 512 },
		{ MKIOQ_OP_READ, hf, hd, 0, 1 },
		{ MKIOQ_OP_READ, hf, hd, 1, 0 },
		{ MKIOQ_OP_WRITE, hs, hf, 100, 512 },
		{ MKIOQ_OP_WRITE, hs, hwo, 4096, 100 },
		{ 7, hf, hd, 1, 1 },
		{ MKIOQ_OP_READ, hf, hd, 1, 1u << 31 },
		{ MKIOQ_OP_READ, hf, 999, 1, 1 },
		{ MKIOQ_OP_READ, hf, hf, 1, 1 },
		{ MKIOQ_OP_READ, hwo, hd, 1, 1 },
		{ MKIOQ_OP_READ, hf, hd, ~0ULL, 2 },
		{ MKIOQ_OP_READ, hf, hd, DEV_BYTES - 100, 512 },
		{ MKIOQ_OP_WRITE, hs, hwo, 8000, 193 },
	};
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		int64_t resm = 0, rese = 0;
		int32_t recm, rece;
		int stm, ste;

		memset(self->dst.map, FILL, DEV_BYTES);
		memset(edst.map, FILL, DEV_BYTES);
		stm = run_on(self->q, NULL, c[i].op, c[i].src, c[i].dst,
			     c[i].off, c[i].count, &resm, &recm);
		ste = run_on(eq, e, c[i].op, c[i].src, c[i].dst, c[i].off,
			     c[i].count, &rese, &rece);
		EXPECT_EQ(stm, ste) TH_LOG("request %u", i);
		EXPECT_EQ(resm, rese) TH_LOG("request %u: module %lld, "
					     "engine %lld", i,
					     (long long)resm,
					     (long long)rese);
		EXPECT_EQ(recm, rece) TH_LOG("request %u", i);
		EXPECT_EQ(slot_word(self->q, 0, MKIOQ_WORD_BYTE_COUNT),
			  slot_word(eq, 0, MKIOQ_WORD_BYTE_COUNT));
		EXPECT_EQ(slot_word(self->q, 0, MKIOQ_WORD_TAG),
			  slot_word(eq, 0, MKIOQ_WORD_TAG));
		EXPECT_EQ(0, memcmp(self->dst.map, edst.map, DEV_BYTES))
			TH_LOG("request %u: destinations differ", i);
		ASSERT_EQ(0, mkioq_recycle(self->q, 0));
		ASSERT_EQ(0, mkioq_recycle(eq, 0));
	}
	/* The two devices hold the same bytes, read without O_DIRECT. */
	{
		uint8_t *a = malloc(DEV_BYTES), *b = malloc(DEV_BYTES);

		ASSERT_NE(NULL, a);
		ASSERT_NE(NULL, b);
		EXPECT_EQ(DEV_BYTES, pread(self->lo.back, a, DEV_BYTES, 0));
		EXPECT_EQ(DEV_BYTES, pread(le.back, b, DEV_BYTES, 0));
		EXPECT_EQ(0, memcmp(a, b, DEV_BYTES));
		free(a);
		free(b);
	}
	mkioq_engine_free(e);
	mkioq_queue_free(eq);
	test_buf_destroy(&esrc);
	test_buf_destroy(&edst);
	loop_free(&le);
	drain_cqes(self->q);
}

TEST_HARNESS_MAIN
