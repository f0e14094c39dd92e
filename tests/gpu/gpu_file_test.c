// SPDX-License-Identifier: GPL-2.0
/*
 * A GPU reads a file through libmkioq's userspace engine (the GPU host
 * loads no modules, so the engine stands in for /dev/mkioq0 there): a
 * temporary file holds a hole of 4 GiB and more, then FILE_DATA bytes of
 * a known pattern, so that every READ's OFFSET needs its high word. The
 * file is a file handle of the engine (mkioq_engine_register_file(),
 * served with pread()); the destinations are pinned, mapped host memory
 * (cudaHostAlloc), one host-memory handle per warp. The GPU submits READs
 * with <mkioq_cuda.cuh>, waits, and checks every byte it got (random
 * sizes and offsets), or the host checks them (the whole data, in 1 MiB
 * READs); then end of file (a short READ, then 0 bytes, as the GPU sees
 * them), bad ranges (ERANGE, EOVERFLOW, and more, as the GPU sees them),
 * and, where the file system of the directory takes O_DIRECT and reports
 * its alignment, the same through the engine's direct I/O.
 *
 * Environment: MKIOQ_GPU_FILE_DIR (default $TMPDIR, else /tmp),
 * MKIOQ_GPU_FILE_REQUESTS (default 20000), MKIOQ_GPU_WORKERS (engine
 * threads, default 4).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cuda_runtime_api.h>

#include "kselftest_harness.h"
#include "libmkioq.h"
#include "mkioq_engine.h"
#include "gpu_kernels.h"

#define SLOTS		64
#define RING_BYTES	4096
#define WARPS		32
#define WARPS_PER_BLOCK	8
#define DST_STRIDE	(1ull << 20)
#define FILE_AT		((4ull << 30) + 3 * 4096 + 17)	/* data start */
#define FILE_DATA	((24ull << 20) + 1234)		/* data bytes */
#define FILE_END	(FILE_AT + FILE_DATA)
#define RANGE_BYTES	(FILE_END + (1ull << 20))	/* past the end */
#define SEED		3
#define SEC		1000000000ull

static uint64_t env_num(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static const char *file_dir(void)
{
	const char *d = getenv("MKIOQ_GPU_FILE_DIR");

	if (!d || !*d)
		d = getenv("TMPDIR");
	return d && *d ? d : "/tmp";
}

/*
 * Write the pattern of bytes [@at, @at + @n) of the file at @fd: byte i
 * of the file is gk_pattern(SEED, i). 0 or a negative errno.
 */
static int write_pattern(int fd, uint64_t at, uint64_t n)
{
	uint8_t *buf = malloc(1 << 20);
	uint64_t done, i, c;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (done = 0; done < n && !ret; done += c) {
		c = n - done < (1 << 20) ? n - done : (1 << 20);
		for (i = 0; i < c; i++)
			buf[i] = gk_pattern(SEED, at + done + i);
		if (pwrite(fd, buf, c, at + done) != (ssize_t)c)
			ret = errno ? -errno : -EIO;
	}
	free(buf);
	return ret;
}

/* A new unlinked file in file_dir(), opened with @flags, or -errno. */
static int temp_file(int flags, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/mkioq-gpu-file.%d.%ld", file_dir(), getpid(),
		 (long)random());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | flags, 0600);
	return fd < 0 ? -errno : fd;
}

FIXTURE(gf) {
	void *ring_mem;
	struct mkioq_queue *gq, *eq;
	struct mkioq_engine *e;
	struct gk_ring *ring;
	uint8_t *dst, *dst_dev;
	uint32_t hfile, hdst0;
	int fd;
};

FIXTURE_SETUP(gf)
{
	struct mkioq_engine_params p = { .size = sizeof(p) };
	const char *hint = "";
	char path[256];
	int ndev = 0, ret;
	uint32_t w, h;

	self->fd = -1;
	if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0)
		SKIP(return, "no CUDA device");
	ASSERT_EQ(cudaSuccess, cudaHostAlloc(&self->ring_mem, RING_BYTES,
					     cudaHostAllocMapped));
	memset(self->ring_mem, 0, RING_BYTES);
	/* One ring, two views: the GPU's and the engine's. */
	ASSERT_EQ(0, mkioq_queue_wrap(self->ring_mem, RING_BYTES, SLOTS,
				      &self->gq));
	ASSERT_EQ(0, mkioq_queue_wrap(self->ring_mem, RING_BYTES, SLOTS,
				      &self->eq));
	ASSERT_EQ(0, gk_ring_map(self->gq, &self->ring, &hint))
		TH_LOG("mapping the ring: %s", hint);
	p.workers = env_num("MKIOQ_GPU_WORKERS", 4);
	ASSERT_EQ(0, mkioq_engine_new(self->eq, &p, &self->e));

	self->fd = temp_file(0, path, sizeof(path));
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", path, strerror(-self->fd));
	unlink(path);
	ret = write_pattern(self->fd, FILE_AT, FILE_DATA);
	ASSERT_EQ(0, ret) TH_LOG("writing %llu bytes at %llu of a file in %s "
				 "(it needs sparse files past 4 GiB): %s",
				 (unsigned long long)FILE_DATA,
				 (unsigned long long)FILE_AT, file_dir(),
				 strerror(-ret));
	ASSERT_EQ(0, mkioq_engine_register_file(self->e, self->fd, 0,
						RANGE_BYTES,
						MKIOQ_ACCESS_READ,
						&self->hfile));
	ASSERT_EQ(cudaSuccess, cudaHostAlloc((void **)&self->dst,
					     WARPS * DST_STRIDE,
					     cudaHostAllocMapped));
	ASSERT_EQ(cudaSuccess, cudaHostGetDevicePointer(
				       (void **)&self->dst_dev, self->dst, 0));
	for (w = 0; w < WARPS; w++) {
		ASSERT_EQ(0, mkioq_engine_register_mem(self->e,
						       self->dst + w * DST_STRIDE,
						       DST_STRIDE,
						       MKIOQ_ACCESS_WRITE, &h));
		if (w == 0)
			self->hdst0 = h;
		ASSERT_EQ(self->hdst0 + w, h);
	}
	ASSERT_EQ(0, mkioq_engine_start(self->e));
}

FIXTURE_TEARDOWN(gf)
{
	if (self->e)
		mkioq_engine_free(self->e);
	gk_ring_unmap(self->ring);
	mkioq_queue_free(self->gq);
	mkioq_queue_free(self->eq);
	if (self->dst)
		cudaFreeHost(self->dst);
	if (self->ring_mem)
		cudaFreeHost(self->ring_mem);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * A SKIP in the setup does not stop the harness from running the test
 * (6.1's kselftest_harness.h): each test skips again without a ring.
 */
#define NEED_GPU() do { \
		if (!self->ring) \
			SKIP(return, "no CUDA device"); \
	} while (0)

/* The first of @n bytes at @p that is not the file's from @at, or n. */
static uint64_t check_host(const uint8_t *p, uint64_t n, uint64_t at)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (p[i] != gk_pattern(SEED, at + i))
			break;
	return i;
}

/*
 * 32 warps share the 64 slots and READ random sizes (1 B to 1 MiB,
 * log-uniform) at random offsets of the data, all past 4 GiB; the GPU
 * checks every byte, the tag and the byte count.
 */
TEST_F_TIMEOUT(gf, random_reads_past_4gib, 600)
{
	uint64_t want = env_num("MKIOQ_GPU_FILE_REQUESTS", 20000);
	uint32_t per_warp = (uint32_t)((want + WARPS - 1) / WARPS);
	struct gk_stress_stats st;
	struct timespec t0, t1;
	double s;

	NEED_GPU();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, gk_stress_at(self->ring, WARPS, WARPS_PER_BLOCK,
				  per_warp, self->hfile, FILE_AT, FILE_DATA,
				  SEED, self->hdst0, self->dst_dev, DST_STRIDE,
				  1u << 20, 20 * SEC, &st));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	TH_LOG("%" PRIu64 " file READs, %.2f GiB verified on the GPU in "
	       "%.2f s (%.2f GiB/s)", st.ok, st.bytes / 1073741824.0, s,
	       st.bytes / 1073741824.0 / s);
	EXPECT_EQ((uint64_t)per_warp * WARPS, st.ok);
	EXPECT_EQ(0, st.errors);
	EXPECT_EQ(0, st.bad_bytes);
	EXPECT_EQ(0, st.bad_tags);
	EXPECT_EQ(0, st.bad_counts);
	EXPECT_EQ(0, st.timeouts);
}

/* The whole data in 1 MiB READs from the GPU, every byte checked here. */
TEST_F_TIMEOUT(gf, whole_file_every_byte, 300)
{
	uint64_t off, n;
	uint32_t tag = 0, i = 0;
	int32_t res;

	NEED_GPU();

	for (off = 0; off < FILE_DATA; off += n, i++) {
		struct gk_req req = { MKIOQ_OP_READ, self->hfile, self->hdst0,
				      0, 100 + i, FILE_AT + off };

		n = FILE_DATA - off < DST_STRIDE ? FILE_DATA - off :
						   DST_STRIDE;
		req.byte_count = (uint32_t)n;
		memset(self->dst, 0, DST_STRIDE);
		ASSERT_EQ(0, gk_one(self->ring, &req, 20 * SEC, &res, &tag));
		ASSERT_EQ((int32_t)n, res) TH_LOG("READ at %llu",
						  (unsigned long long)off);
		ASSERT_EQ(req.tag, tag);
		ASSERT_EQ(n, check_host(self->dst, n, FILE_AT + off))
			TH_LOG("READ at %llu", (unsigned long long)off);
	}
	/* The hole before the data reads as zeros, at a 64-bit offset too. */
	{
		struct gk_req req = { MKIOQ_OP_READ, self->hfile, self->hdst0,
				      4096, 1, (1ull << 32) + 5 };

		memset(self->dst, 0xee, 4096);
		ASSERT_EQ(0, gk_one(self->ring, &req, 20 * SEC, &res, &tag));
		EXPECT_EQ(4096, res);
		for (i = 0; i < 4096 && !self->dst[i]; i++)
			;
		EXPECT_EQ(4096, i);
	}
}

/* A READ that meets the end of the file is short, as the GPU sees it. */
TEST_F(gf, end_of_file_is_short)
{
	struct {
		uint64_t off;
		uint32_t n;
		int32_t res;
	} c[] = {
		{ FILE_END - 100, 4096, 100 },
		{ FILE_END - 1, 1, 1 },
		{ FILE_END, 4096, 0 },
		{ FILE_END + 4096, 65536, 0 },
		{ FILE_END - (512 << 10) - 3, 1 << 20, (512 << 10) + 3 },
	};
	unsigned int i;
	uint32_t tag;
	int32_t res;

	NEED_GPU();

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		struct gk_req req = { MKIOQ_OP_READ, self->hfile, self->hdst0,
				      c[i].n, 200 + i, c[i].off };

		memset(self->dst, 0xee, DST_STRIDE);
		ASSERT_EQ(0, gk_one(self->ring, &req, 20 * SEC, &res, &tag));
		EXPECT_EQ(c[i].res, res) TH_LOG("case %u", i);
		EXPECT_EQ(req.tag, tag);
		EXPECT_EQ((uint64_t)c[i].res,
			  check_host(self->dst, c[i].res, c[i].off));
		/* Not a byte more. */
		EXPECT_EQ(0xee, self->dst[c[i].res]);
	}
}

/* Bad requests on the file handle come back ERROR, as the GPU sees it. */
TEST_F(gf, bad_ranges)
{
	struct {
		const char *what;
		struct gk_req req;
		int32_t res;
	} c[] = {
		{ "range past the handle's end", { MKIOQ_OP_READ, self->hfile,
		  self->hdst0, 100, 1, RANGE_BYTES - 10 }, -ERANGE },
		{ "offset + count overflows", { MKIOQ_OP_READ, self->hfile,
		  self->hdst0, 2, 2, ~0ull }, -EOVERFLOW },
		{ "more than the destination holds", { MKIOQ_OP_READ,
		  self->hfile, self->hdst0, DST_STRIDE + 1, 3, FILE_AT },
		  -ERANGE },
		{ "file to file", { MKIOQ_OP_READ, self->hfile, self->hfile,
		  64, 4, FILE_AT }, -EXDEV },
		{ "WRITE to a file registered for READ", { MKIOQ_OP_WRITE,
		  self->hdst0, self->hfile, 64, 5, FILE_AT }, -EACCES },
		{ "unknown handle", { MKIOQ_OP_READ, 999, self->hdst0, 64, 6,
		  FILE_AT }, -ENOENT },
	};
	unsigned int i;
	uint32_t tag;
	int32_t res;

	NEED_GPU();

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		memset(self->dst, 0xee, 4096);
		ASSERT_EQ(0, gk_one(self->ring, &c[i].req, 10 * SEC, &res,
				    &tag));
		EXPECT_EQ(c[i].res, res) TH_LOG("%s", c[i].what);
		EXPECT_EQ(c[i].req.tag, tag);
		/* Nothing moved. */
		EXPECT_EQ(0xee, self->dst[0]) TH_LOG("%s", c[i].what);
	}
}

/*
 * The same through the engine's direct I/O, where the directory's file
 * system takes O_DIRECT and reports its alignment (STATX_DIOALIGN): an
 * aligned READ past 4 GiB checked by the GPU, a misaligned one EINVAL,
 * a short one at the end.
 */
TEST_F_TIMEOUT(gf, o_direct, 300)
{
	const uint64_t at = 4ull << 30, n = 8ull << 20;
	struct gk_stress_stats st;
	uint32_t h, tag, align;
	char path[256];
	int dfd, fd, ret;
	int32_t res;

	NEED_GPU();

	dfd = temp_file(O_DIRECT, path, sizeof(path));
	if (dfd == -EINVAL)
		SKIP(return, "%s takes no O_DIRECT files", file_dir());
	ASSERT_LE(0, dfd) TH_LOG("%s: %s", path, strerror(-dfd));
	fd = open(path, O_RDWR);
	unlink(path);
	ASSERT_LE(0, fd);
	ret = write_pattern(fd, at, n);
	ASSERT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
	ASSERT_EQ(0, fsync(fd));
	close(fd);
	ret = mkioq_engine_register_file(self->e, dfd, 0, at + n + DST_STRIDE,
					 MKIOQ_ACCESS_READ, &h);
	if (ret == -EINVAL) {
		close(dfd);
		SKIP(return, "%s reports no direct-I/O alignment "
		     "(STATX_DIOALIGN)", file_dir());
	}
	ASSERT_EQ(0, ret);
	/* Every alignment divides 4096; 4096-multiples keep any. */
	align = 4096;

	ASSERT_EQ(0, gk_stress_at(self->ring, WARPS, WARPS_PER_BLOCK, 4, h,
				  at, n, SEED, self->hdst0, self->dst_dev,
				  DST_STRIDE, 1u << 20, 20 * SEC, &st));
	/* Random sizes: the aligned ones are read, the others EINVAL. */
	EXPECT_EQ(0, st.bad_bytes);
	EXPECT_EQ(0, st.bad_counts);
	EXPECT_EQ(0, st.timeouts);
	EXPECT_EQ(4 * WARPS, st.ok + st.errors);
	memset(self->dst, 0xee, DST_STRIDE);
	{
		struct gk_req ok = { MKIOQ_OP_READ, h, self->hdst0,
				     64 * align, 300, at + 16 * align };
		struct gk_req bad = { MKIOQ_OP_READ, h, self->hdst0,
				      64 * align, 301, at + 16 * align + 1 };
		struct gk_req end = { MKIOQ_OP_READ, h, self->hdst0,
				      64 * align, 302, at + n - 4 * align };

		ASSERT_EQ(0, gk_one(self->ring, &ok, 20 * SEC, &res, &tag));
		EXPECT_EQ(64 * align, res);
		EXPECT_EQ(64 * align, check_host(self->dst, 64 * align,
						 at + 16 * align));
		memset(self->dst, 0xee, DST_STRIDE);
		ASSERT_EQ(0, gk_one(self->ring, &bad, 20 * SEC, &res, &tag));
		EXPECT_EQ(-EINVAL, res);
		EXPECT_EQ(0xee, self->dst[0]);
		ASSERT_EQ(0, gk_one(self->ring, &end, 20 * SEC, &res, &tag));
		EXPECT_EQ(4 * align, res);
		EXPECT_EQ(4 * align, check_host(self->dst, 4 * align,
						at + n - 4 * align));
	}
	close(dfd);
}

TEST_HARNESS_MAIN
