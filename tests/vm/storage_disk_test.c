// SPDX-License-Identifier: GPL-2.0
/*
 * File handles (MKIOQ_REG_F_FILE) over a real block stack, in both service
 * modes:
 *
 *  - ext4 on the virtio-blk disk that run-vm.sh --disk-image attaches and
 *    init.sh mounts at $MKIOQ_DISK (tests/vm/make-disk.sh made the image
 *    on the host, with seed.bin in it): READs checked byte for byte against
 *    pread(), with the file's pages dropped from the page cache first so
 *    that they come from the disk; end of file; files written here, read
 *    back through the disk and written through mkioq; truncate and unlink
 *    while registered; many storage READs of cold pages in flight beside
 *    memory READs. Without $MKIOQ_DISK (a lane that attaches no disk, as
 *    the debug kernel's) these SKIP; init.sh fails a run whose disk did
 *    not mount, so a lane that asked for one cannot skip them silently.
 *
 *  - Injected I/O errors: a device-mapper device made here through the DM
 *    ioctls (no dmsetup), over a loop device, whose table maps 256 KiB
 *    linearly, 256 KiB to the "error" target, and 512 KiB linearly again.
 *    A READ of the error range completes ERROR with EIO, the errno pread()
 *    gets for it, and changes nothing else; the linear ranges read as
 *    ever; the userspace engine's pread() path gives the same errno.
 *    Without loop or dm_mod (the debug kernel) these SKIP.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_engine.h"
#include "mkioq_test.h"

#define BUF_BYTES	(4u << 20)
#define SEED_BYTES	((8u << 20) + 4093)	/* tests/vm/make-disk.sh */
#define FILL		0x5a
#define NSLOTS		64
#define REGION		(BUF_BYTES / NSLOTS)

/* The first byte of @n at @p that is not FILL, or n. */
static size_t fill_check(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && p[i] == FILL; i++)
		;
	return i;
}

/*
 * Drop @fd's pages from the page cache (written back first), so that the
 * next reads of them go to the disk.
 */
static int drop_cache(int fd)
{
	if (fdatasync(fd))
		return -errno;
	return -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* ------------------------------------------------------------------ */
/* ext4 on the virtio-blk disk                                         */
/* ------------------------------------------------------------------ */

FIXTURE(disk) {
	const char *skip;
	const char *dir;
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst;
	uint32_t hsrc, hdst;
	int seed;
	uint32_t hseed;
	char path[192];		/* a file of the test's own, or "" */
};

FIXTURE_VARIANT(disk) {
	unsigned int open_flags;
};

FIXTURE_VARIANT_ADD(disk, doorbell) {
	.open_flags = 0,
};

FIXTURE_VARIANT_ADD(disk, poll) {
	.open_flags = MKIOQ_OPEN_POLL,
};

FIXTURE_SETUP(disk)
{
	struct statfs sfs;
	struct stat sb;
	char p[192];

	self->seed = -1;
	self->path[0] = 0;
	self->dir = getenv("MKIOQ_DISK");
	if (!self->dir || !*self->dir) {
		self->skip = "no disk (run-vm.sh --disk-image attaches one; this lane does not)";
		return;
	}
	/* init.sh mounted it: it must be the ext4 of make-disk.sh. */
	ASSERT_EQ(0, statfs(self->dir, &sfs));
	ASSERT_EQ(EXT4_SUPER_MAGIC, sfs.f_type);
	snprintf(p, sizeof(p), "%s/seed.bin", self->dir);
	self->seed = open(p, O_RDONLY);
	ASSERT_LE(0, self->seed) TH_LOG("%s: %s", p, strerror(errno));
	ASSERT_EQ(0, fstat(self->seed, &sb));
	ASSERT_EQ(SEED_BYTES, sb.st_size);

	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, NSLOTS, variant->open_flags,
				      &self->q));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));
	ASSERT_EQ(0, mkioq_register_file(self->q, self->seed, 0, 1ULL << 32,
					 MKIOQ_ACCESS_READ, &self->hseed));
}

FIXTURE_TEARDOWN(disk)
{
	if (self->skip)
		return;
	mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
	if (self->seed >= 0)
		close(self->seed);
	if (self->path[0])
		unlink(self->path);
}

/*
 * @n handles of the destination dma-buf, one per REGION, for the READs
 * of slot s into region s: 0 or the first failure's -errno.
 */
static int register_regions(FIXTURE_DATA(disk) *self, uint32_t *hd,
			    unsigned int n)
{
	unsigned int s;
	int ret = 0;

	for (s = 0; s < n && !ret; s++)
		ret = mkioq_register(self->q, self->dst.fd,
				     (uint64_t)s * REGION, REGION,
				     MKIOQ_ACCESS_WRITE, &hd[s]);
	return ret;
}

/* A file of @size pattern bytes (@seed) on the disk, open read-write. */
static int disk_file(FIXTURE_DATA(disk) *self, const char *name,
		     size_t size, uint32_t seed)
{
	uint8_t *buf = malloc(size ? size : 1);
	int fd;

	snprintf(self->path, sizeof(self->path), "%s/%s.%d", self->dir, name,
		 getpid());
	fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !buf) {
		free(buf);
		return -1;
	}
	pattern_fill(buf, size, seed, 0);
	if (pwrite(fd, buf, size, 0) != (ssize_t)size || drop_cache(fd)) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

TEST_F_TIMEOUT(disk, read_every_byte, 300)
{
	static const uint32_t sizes[] = {
		1, 3, 4095, 4096, 4097, 65537, (1u << 20) + 13,
		(3u << 20) + 5,
	};
	static const uint64_t offsets[] = { 0, 1, 4093, (5u << 20) + 7 };
	unsigned int i, j;
	int64_t res;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		/* Each size's first READs miss the page cache. */
		ASSERT_EQ(0, drop_cache(self->seed));
		for (j = 0; j < ARRAY_SIZE(offsets); j++) {
			size_t n = sizes[i];

			memset(self->dst.map, FILL, BUF_BYTES);
			ASSERT_EQ(MKIOQ_RESULT_OK,
				  run_request(self->q, NULL, MKIOQ_OP_READ, self->hseed,
				      self->hdst, offsets[j], n, &res));
			ASSERT_EQ(n, res);
			ASSERT_EQ(n, diff_fd(self->seed, offsets[j],
					       self->dst.map, n))
				TH_LOG("size %zu at %llu", n,
				       (unsigned long long)offsets[j]);
			/* Not a byte more. */
			ASSERT_EQ(FILL, self->dst.map[n]);
			ASSERT_EQ(0, mkioq_recycle(self->q, 0));
		}
	}
	drain_cqes(self->q);
}

TEST_F(disk, read_at_end_of_file_is_short)
{
	int32_t rec = 0;
	int64_t res;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_EQ(0, drop_cache(self->seed));
	memset(self->dst.map, FILL, 65536);
	drain_cqes(self->q);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hseed,
				       self->hdst, SEED_BYTES - 4093, 65536,
				       &res));
	EXPECT_EQ(4093, res);
	ASSERT_EQ(0, record_result(self->q, 0, &rec));
	EXPECT_EQ(4093, rec);
	EXPECT_EQ(4093, diff_fd(self->seed, SEED_BYTES - 4093,
				  self->dst.map, 4093));
	EXPECT_EQ(65536 - 4093, fill_check(self->dst.map + 4093,
					   65536 - 4093));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* At and past the end: 0 bytes, OK. */
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hseed,
				       self->hdst, SEED_BYTES, 100, &res));
	EXPECT_EQ(0, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hseed,
				       self->hdst, 1ULL << 31, 100, &res));
	EXPECT_EQ(0, res);
	EXPECT_EQ(FILL, self->dst.map[0]);
	drain_cqes(self->q);
}

/*
 * A file written here and dropped from the page cache: the READ brings its
 * blocks back from the disk. Then a WRITE through mkioq, dropped again and
 * checked with pread(), which reads it back from the disk too.
 */
TEST_F(disk, written_file_through_the_disk)
{
	const size_t size = (2u << 20) + 123;
	uint32_t h;
	int64_t res;
	struct stat sb;
	int fd;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fd = disk_file(self, "sd-written", size, 41);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mkioq_register_file(self->q, fd, 0, 1ULL << 32,
					 MKIOQ_ACCESS_RW, &h));
	memset(self->dst.map, FILL, BUF_BYTES);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, h, self->hdst,
				       0, BUF_BYTES, &res));
	EXPECT_EQ(size, res);
	EXPECT_EQ(size, pattern_check(self->dst.map, size, 41, 0));
	EXPECT_EQ(FILL, self->dst.map[size]);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* Over the middle and past the end, into a hole. */
	pattern_fill(self->src.map, 1 << 20, 42, 0);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_WRITE, self->hsrc, h,
				       (1u << 20) + 17, 1 << 20, &res));
	EXPECT_EQ(1 << 20, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_WRITE, self->hsrc, h,
				       8u << 20, 65536, &res));
	EXPECT_EQ(65536, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ((8u << 20) + 65536, sb.st_size);
	ASSERT_EQ(0, drop_cache(fd));
	EXPECT_EQ(1 << 20, diff_fd(fd, (1u << 20) + 17, self->src.map,
				     1 << 20));
	EXPECT_EQ(65536, diff_fd(fd, 8u << 20, self->src.map, 65536));
	/* The bytes around the first WRITE are the file's own. */
	memset(self->dst.map, FILL, 64);
	ASSERT_EQ(8, pread(fd, self->dst.map, 8, (1u << 20) + 9));
	EXPECT_EQ(8, pattern_check(self->dst.map, 8, 41, (1u << 20) + 9));
	ASSERT_EQ(0, mkioq_unregister(self->q, h));
	close(fd);
	drain_cqes(self->q);
}

TEST_F(disk, truncate_and_unlink_while_registered)
{
	uint32_t h;
	int64_t res;
	int fd;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fd = disk_file(self, "sd-trunc", 3u << 20, 43);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mkioq_register_file(self->q, fd, 0, 1ULL << 32,
					 MKIOQ_ACCESS_READ, &h));
	ASSERT_EQ(0, ftruncate(fd, 3000));
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, h, self->hdst,
				       1000, 8192, &res));
	EXPECT_EQ(2000, res);
	EXPECT_EQ(2000, pattern_check(self->dst.map, 2000, 43, 1000));
	EXPECT_EQ(FILL, self->dst.map[2000]);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, h, self->hdst,
				       (2u << 20), 8192, &res));
	EXPECT_EQ(0, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* Unlinked and closed, its pages dropped: the handle keeps it. */
	ASSERT_EQ(0, drop_cache(fd));
	ASSERT_EQ(0, unlink(self->path));
	self->path[0] = 0;
	close(fd);
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, h, self->hdst,
				       0, 8192, &res));
	EXPECT_EQ(3000, res);
	EXPECT_EQ(3000, pattern_check(self->dst.map, 3000, 43, 0));
	EXPECT_EQ(FILL, self->dst.map[3000]);
	ASSERT_EQ(0, mkioq_unregister(self->q, h));
	drain_cqes(self->q);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Every slot at once, the page cache dropped: 48 storage READs of 64 KiB
 * at scattered offsets (some unaligned) of seed.bin, each into its own
 * region of dst, and 16 memory READs between them. All complete, every
 * byte right; nothing lands outside its region.
 */
TEST_F_TIMEOUT(disk, many_storage_reads_in_flight, 120)
{
	uint32_t hd[NSLOTS];
	uint64_t off[NSLOTS], rnd = 0x9e3779b97f4a7c15ULL;
	unsigned int s;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_EQ(0, register_regions(self, hd, NSLOTS));
	pattern_fill(self->src.map, BUF_BYTES, 44, 0);
	memset(self->dst.map, FILL, BUF_BYTES);
	drain_cqes(self->q);
	ASSERT_EQ(0, drop_cache(self->seed));
	for (s = 0; s < NSLOTS; s++) {
		uint64_t o = xorshift(&rnd) % (SEED_BYTES - REGION);

		if (s % 4 == 1)
			o %= BUF_BYTES - REGION;
		off[s] = s % 3 ? o & ~4095ULL : o;
		if (s % 4 == 1)
			publish_raw(self->q, s, MKIOQ_OP_READ, self->hsrc, hd[s],
				off[s], REGION);
		else
			publish_raw(self->q, s, MKIOQ_OP_READ, self->hseed, hd[s],
				off[s], REGION);
	}
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	for (s = 0; s < NSLOTS; s++) {
		const uint8_t *got = self->dst.map + (size_t)s * REGION;

		ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, s, 30000))
			TH_LOG("slot %u", s);
		EXPECT_EQ(REGION, slot_word(self->q, s, MKIOQ_WORD_BYTE_COUNT));
		if (s % 4 == 1) {
			EXPECT_EQ(REGION, pattern_check(got, REGION, 44,
							off[s]))
				TH_LOG("memory READ, slot %u", s);
		} else {
			EXPECT_EQ(REGION, diff_fd(self->seed, off[s], got,
						    REGION))
				TH_LOG("storage READ, slot %u at %llu", s,
				       (unsigned long long)off[s]);
		}
	}
	drain_cqes(self->q);
}

/*
 * Which path a READ takes (fdinfo's storage-inline, storage-page-waits
 * and storage-workers): small READs of pages in the page cache are served
 * in the pass, all of them; a READ of a page the cache lacks waits on the
 * page with no thread behind it; a large one goes to a worker, cached or
 * not. Every byte is right whichever path served it.
 */
TEST_F(disk, page_cache_hits_are_served_in_the_pass)
{
	long inl, wrk, waits, hits;
	uint8_t warm[256 << 10];
	uint32_t hd[16];
	int64_t res;
	unsigned int s;
	int fd;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fd = mkioq_queue_fd(self->q);
	ASSERT_EQ(0, register_regions(self, hd, 16));
	ASSERT_EQ(0, drop_cache(self->seed));
	ASSERT_EQ(sizeof(warm), pread(self->seed, warm, sizeof(warm), 0));
	inl = fdinfo_number(fd, "storage-inline");
	wrk = fdinfo_number(fd, "storage-workers");
	ASSERT_LE(0, inl);
	ASSERT_LE(0, wrk);

	/* Sixteen 4 KiB READs of pages just read: hits. */
	memset(self->dst.map, FILL, BUF_BYTES);
	for (s = 0; s < 16; s++)
		publish_raw(self->q, s, MKIOQ_OP_READ, self->hseed, hd[s],
			    (uint64_t)s * 16384, 4096);
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	for (s = 0; s < 16; s++) {
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, s, 20000));
		EXPECT_EQ(4096, slot_word(self->q, s, MKIOQ_WORD_BYTE_COUNT));
		EXPECT_EQ(0, memcmp(self->dst.map + (size_t)s * REGION,
				    warm + (size_t)s * 16384, 4096))
			TH_LOG("slot %u", s);
		mkioq_recycle(self->q, s);
	}
	hits = fdinfo_number(fd, "storage-inline") - inl;
	EXPECT_EQ(16, hits);
	EXPECT_EQ(wrk, fdinfo_number(fd, "storage-workers"));

	/*
	 * A page the cache lacks: the pass starts its read and leaves a
	 * wait entry on the page (ext4 reads can wait so, IOCB_WAITQ); the
	 * page's unlock retries it, with no worker. Only if the disk
	 * answered before the pass looked at the page again would the pass
	 * serve it: logged.
	 */
	inl += hits;
	waits = fdinfo_number(fd, "storage-page-waits");
	ASSERT_EQ(0, drop_cache(self->seed));
	ASSERT_EQ(MKIOQ_RESULT_OK,
		  run_request(self->q, NULL, MKIOQ_OP_READ, self->hseed,
			      self->hdst, 8192, 4096, &res));
	EXPECT_EQ(4096, res);
	EXPECT_EQ(4096, diff_fd(self->seed, 8192, self->dst.map, 4096));
	EXPECT_EQ(wrk, fdinfo_number(fd, "storage-workers"));
	EXPECT_EQ(1, fdinfo_number(fd, "storage-inline") - inl +
		     !!(fdinfo_number(fd, "storage-page-waits") - waits));
	TH_LOG("cold 4 KiB READ: %ld page waits, %ld in the pass",
	       fdinfo_number(fd, "storage-page-waits") - waits,
	       fdinfo_number(fd, "storage-inline") - inl);
	inl = fdinfo_number(fd, "storage-inline");
	mkioq_recycle(self->q, 0);

	/* 1 MiB, cached: a worker's all the same (too large for the pass). */
	ASSERT_EQ(sizeof(warm), pread(self->seed, warm, sizeof(warm), 0));
	ASSERT_EQ(MKIOQ_RESULT_OK,
		  run_request(self->q, NULL, MKIOQ_OP_READ, self->hseed,
			      self->hdst, 0, 1 << 20, &res));
	EXPECT_EQ(1 << 20, res);
	EXPECT_EQ(1 << 20, diff_fd(self->seed, 0, self->dst.map, 1 << 20));
	EXPECT_EQ(inl, fdinfo_number(fd, "storage-inline"));
	EXPECT_EQ(wrk + 1, fdinfo_number(fd, "storage-workers"));
	mkioq_recycle(self->q, 0);
	drain_cqes(self->q);
}

/*
 * Cold 4 KiB READs of NSLOTS pages apart, published into every slot: the
 * file's offsets, for diff_fd().
 */
static void publish_cold_reads(FIXTURE_DATA(disk) *self, const uint32_t *hd,
			       unsigned int n, uint64_t *off)
{
	unsigned int s;

	for (s = 0; s < n; s++) {
		off[s] = (uint64_t)s * 29 * 4096 % (SEED_BYTES - 4096);
		off[s] &= ~4095ULL;
		publish_raw(self->q, s, MKIOQ_OP_READ, self->hseed, hd[s],
			    off[s], 4096);
	}
}

/* As diff_fd(): the 4 KiB READ of slot @s, at @off of the file. */
static size_t cold_read_diff(FIXTURE_DATA(disk) *self, unsigned int s,
			     uint64_t off)
{
	return diff_fd(self->seed, off, self->dst.map + (size_t)s * REGION,
		       4096);
}

/* A doorbell rung from another thread once @tid sleeps. */
struct ring_when_asleep {
	struct mkioq_queue *q;
	pid_t tid;
	int ret;
};

/* Whether thread @tid of this process is asleep (state S in its stat). */
static bool thread_asleep(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* The state follows the name, which may hold ')' itself. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

static void *ring_when_asleep(void *arg)
{
	struct ring_when_asleep *r = arg;
	unsigned int i;

	for (i = 0; i < 10000 && !thread_asleep(r->tid); i++)
		usleep(500);
	r->ret = mkioq_doorbell(r->q);
	return NULL;
}

/*
 * A client asleep in mkioq_read_cqes() (poll(), then read()) when its
 * READs' pages come in is woken by them and goes on with them itself, in
 * read(), with no retry kworker between (fdinfo's
 * storage-reader-retries): every record comes back once, every byte is
 * the file's. Only a client that took more than two ticks from its wake-up
 * to its read() would leave them all to the retry work.
 */
TEST_F_TIMEOUT(disk, woken_reader_goes_on_with_cold_reads, 120)
{
	struct ring_when_asleep ring;
	struct mkioq_cqe cqe[NSLOTS];
	uint64_t off[NSLOTS];
	pthread_t ringer;
	uint32_t hd[NSLOTS];
	bool seen[NSLOTS] = { false };
	long retries, waits;
	unsigned int s, got = 0;
	int fd, n, i;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fd = mkioq_queue_fd(self->q);
	ASSERT_EQ(0, register_regions(self, hd, NSLOTS));
	drain_cqes(self->q);
	memset(self->dst.map, FILL, BUF_BYTES);
	retries = fdinfo_number(fd, "storage-reader-retries");
	waits = fdinfo_number(fd, "storage-page-waits");
	ASSERT_LE(0, retries);
	ASSERT_EQ(0, drop_cache(self->seed));
	publish_cold_reads(self, hd, NSLOTS, off);
	/*
	 * Rung once we sleep in poll(): the pass's reads then complete
	 * while we sleep, so at least the first page's unlock finds us.
	 */
	ring.q = self->q;
	ring.tid = gettid();
	ring.ret = -EINPROGRESS;
	ASSERT_EQ(0, pthread_create(&ringer, NULL, ring_when_asleep, &ring));
	while (got < NSLOTS) {
		n = mkioq_read_cqes(self->q, cqe, NSLOTS, 20000);
		ASSERT_LT(0, n) TH_LOG("%u of %u records: %s", got, NSLOTS,
				       strerror(-n));
		for (i = 0; i < n; i++) {
			s = cqe[i].slot;
			ASSERT_GT(NSLOTS, s);
			EXPECT_FALSE(seen[s]) TH_LOG("slot %u twice", s);
			seen[s] = true;
			EXPECT_EQ(4096, cqe[i].result) TH_LOG("slot %u", s);
			got++;
		}
	}
	ASSERT_EQ(0, pthread_join(ringer, NULL));
	ASSERT_EQ(0, ring.ret);
	for (s = 0; s < NSLOTS; s++) {
		EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, s));
		EXPECT_EQ(4096, cold_read_diff(self, s, off[s]))
			TH_LOG("slot %u at %llu", s,
			       (unsigned long long)off[s]);
		mkioq_recycle(self->q, s);
	}
	TH_LOG("%u cold READs: %ld page waits, %ld gone on with in read()",
	       NSLOTS, fdinfo_number(fd, "storage-page-waits") - waits,
	       fdinfo_number(fd, "storage-reader-retries") - retries);
	EXPECT_LT(retries, fdinfo_number(fd, "storage-reader-retries"));
}

/*
 * A sleeper that never reads (the queue's fd in an epoll set nobody waits
 * on, the client watching STATUS): the READs whose pages came in are not
 * left to it for ever; the retry work goes on with them after the grace,
 * and every byte is the file's.
 */
TEST_F_TIMEOUT(disk, unread_sleeper_delays_no_cold_read, 120)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t off[16];
	uint32_t hd[16];
	long retries;
	unsigned int s;
	int ep, fd;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	fd = mkioq_queue_fd(self->q);
	ASSERT_EQ(0, register_regions(self, hd, 16));
	drain_cqes(self->q);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	memset(self->dst.map, FILL, BUF_BYTES);
	retries = fdinfo_number(fd, "storage-reader-retries");
	ASSERT_EQ(0, drop_cache(self->seed));
	publish_cold_reads(self, hd, 16, off);
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	for (s = 0; s < 16; s++) {
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, s, 20000))
			TH_LOG("slot %u", s);
		EXPECT_EQ(4096, slot_word(self->q, s, MKIOQ_WORD_BYTE_COUNT));
		EXPECT_EQ(4096, cold_read_diff(self, s, off[s]))
			TH_LOG("slot %u at %llu", s,
			       (unsigned long long)off[s]);
		mkioq_recycle(self->q, s);
	}
	EXPECT_EQ(retries, fdinfo_number(fd, "storage-reader-retries"));
	EXPECT_EQ(16, drain_cqes(self->q));
	close(ep);
}

/* ------------------------------------------------------------------ */
/* Injected I/O errors: device-mapper's "error" target                 */
/* ------------------------------------------------------------------ */

#define DM_BYTES	(1u << 20)
#define ERR_START	(256u << 10)	/* the error range: 256 KiB .. 512 KiB */
#define ERR_END		(512u << 10)
#define DM_SEED		51

/* Room for the header and a small table; 8-byte aligned, as dm wants. */
struct dm_buf {
	struct dm_ioctl io;
	char data[1024];
} __attribute__((aligned(8)));

static void dm_init(struct dm_buf *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	/*
	 * Major 4 and minor 0: any 4.x kernel takes it (the module checks
	 * that the major matches and the minor is not newer than its own).
	 */
	b->io.version[0] = DM_VERSION_MAJOR;
	b->io.data_size = sizeof(*b);
	b->io.data_start = sizeof(struct dm_ioctl);
	snprintf(b->io.name, sizeof(b->io.name), "%s", name);
}

/*
 * Append a target to @b's table: @sectors 512-byte sectors of @type with
 * @params. Each spec's "next" is the distance to the next one, 8-byte
 * aligned, as the kernel's next_target() (drivers/md/dm-ioctl.c) walks
 * them from data_start.
 */
static int dm_add_target(struct dm_buf *b, uint32_t *pos, uint64_t start,
			 uint64_t sectors, const char *type,
			 const char *params)
{
	struct dm_target_spec *spec = (void *)((char *)b + *pos);
	size_t plen = strlen(params) + 1;
	uint32_t next = (sizeof(*spec) + plen + 7) & ~7u;

	if (*pos + next > sizeof(*b))
		return -ENOSPC;
	spec->sector_start = start;
	spec->length = sectors;
	spec->next = next;
	snprintf(spec->target_type, sizeof(spec->target_type), "%s", type);
	memcpy(spec + 1, params, plen);
	*pos += next;
	b->io.target_count++;
	return 0;
}

FIXTURE(dm) {
	const char *skip;
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst;
	uint32_t hsrc, hdst, hdm;
	int ctl, back, loop, dmfd;
	bool created;
	char name[32], back_path[64], node[64];
};

FIXTURE_VARIANT(dm) {
	unsigned int open_flags;
};

FIXTURE_VARIANT_ADD(dm, doorbell) {
	.open_flags = 0,
};

FIXTURE_VARIANT_ADD(dm, poll) {
	.open_flags = MKIOQ_OPEN_POLL,
};

/* A loop device over @backing: its fd, or -1 (no loop driver). */
static int loop_attach(int backing)
{
	int ctl = open("/dev/loop-control", O_RDWR), n, fd;
	char dev[32];

	if (ctl < 0)
		return -1;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -1;
	snprintf(dev, sizeof(dev), "/dev/loop%d", n);
	fd = open(dev, O_RDWR);
	if (fd < 0)
		return -1;
	if (ioctl(fd, LOOP_SET_FD, backing)) {
		close(fd);
		return -1;
	}
	return fd;
}

FIXTURE_SETUP(dm)
{
	uint8_t *pat = malloc(DM_BYTES);
	char params[64];
	struct dm_buf b;
	struct stat sb;
	uint32_t pos;

	self->ctl = self->back = self->loop = self->dmfd = -1;
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, NSLOTS, variant->open_flags,
				      &self->q));
	ASSERT_EQ(0, test_buf_create(self->drm, DM_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, DM_BYTES, true, &self->dst));
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, DM_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, DM_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));

	/* The backing store: a tmpfs file of pattern bytes on a loop device. */
	ASSERT_NE(NULL, pat);
	pattern_fill(pat, DM_BYTES, DM_SEED, 0);
	snprintf(self->back_path, sizeof(self->back_path), "/tmp/sd-dm.%d",
		 getpid());
	self->back = open(self->back_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, self->back);
	ASSERT_EQ(DM_BYTES, pwrite(self->back, pat, DM_BYTES, 0));
	free(pat);
	self->loop = loop_attach(self->back);
	if (self->loop < 0) {
		self->skip = "no loop device (loop.ko not loaded or not built)";
		return;
	}
	self->ctl = open("/dev/mapper/control", O_RDWR);
	if (self->ctl < 0) {
		self->skip = "no /dev/mapper/control (dm_mod not loaded or not built)";
		return;
	}
	ASSERT_EQ(0, fstat(self->loop, &sb));

	snprintf(self->name, sizeof(self->name), "mkioq-err-%d", getpid());
	dm_init(&b, self->name);
	ASSERT_EQ(0, ioctl(self->ctl, DM_DEV_CREATE, &b))
		TH_LOG("DM_DEV_CREATE: %s", strerror(errno));
	self->created = true;
	snprintf(self->node, sizeof(self->node), "/tmp/sd-dm-node.%d",
		 getpid());
	ASSERT_EQ(0, mknod(self->node, S_IFBLK | 0600,
			   makedev(major(b.io.dev), minor(b.io.dev))));

	/* Linear, error, linear: each linear range at its own offset. */
	dm_init(&b, self->name);
	pos = b.io.data_start;
	snprintf(params, sizeof(params), "%u:%u 0", major(sb.st_rdev),
		 minor(sb.st_rdev));
	ASSERT_EQ(0, dm_add_target(&b, &pos, 0, ERR_START / 512, "linear",
				   params));
	ASSERT_EQ(0, dm_add_target(&b, &pos, ERR_START / 512,
				   (ERR_END - ERR_START) / 512, "error", ""));
	snprintf(params, sizeof(params), "%u:%u %u", major(sb.st_rdev),
		 minor(sb.st_rdev), ERR_END / 512);
	ASSERT_EQ(0, dm_add_target(&b, &pos, ERR_END / 512,
				   (DM_BYTES - ERR_END) / 512, "linear",
				   params));
	ASSERT_EQ(0, ioctl(self->ctl, DM_TABLE_LOAD, &b))
		TH_LOG("DM_TABLE_LOAD: %s", strerror(errno));
	/* DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the table is live. */
	dm_init(&b, self->name);
	ASSERT_EQ(0, ioctl(self->ctl, DM_DEV_SUSPEND, &b))
		TH_LOG("resume: %s", strerror(errno));

	self->dmfd = open(self->node, O_RDONLY);
	ASSERT_LE(0, self->dmfd);
	ASSERT_EQ(0, mkioq_register_file(self->q, self->dmfd, 0, DM_BYTES,
					 MKIOQ_ACCESS_READ, &self->hdm));
}

FIXTURE_TEARDOWN(dm)
{
	struct dm_buf b;

	if (self->q)
		mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	if (self->drm >= 0)
		close(self->drm);
	if (self->dmfd >= 0)
		close(self->dmfd);
	if (self->created) {
		/* Deferred: gone once the last opener has let go. */
		dm_init(&b, self->name);
		b.io.flags = DM_DEFERRED_REMOVE;
		if (ioctl(self->ctl, DM_DEV_REMOVE, &b))
			TH_LOG("DM_DEV_REMOVE: %s", strerror(errno));
		unlink(self->node);
	}
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->loop >= 0) {
		ioctl(self->loop, LOOP_CLR_FD, 0);
		close(self->loop);
	}
	if (self->back >= 0) {
		close(self->back);
		unlink(self->back_path);
	}
}

/* pread()'s errno for @n bytes at @off of the dm device, 0 if it read. */
static int pread_errno(int fd, uint64_t off, size_t n)
{
	uint8_t *buf = malloc(n);
	ssize_t r = pread(fd, buf, n, off);
	int err = r < 0 ? errno : 0;

	free(buf);
	return err;
}

TEST_F(dm, error_range_completes_eio)
{
	int64_t res;
	int32_t rec = 0;
	int err;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	/* What the kernel returns for the range, to a plain reader. */
	err = pread_errno(self->dmfd, ERR_START, 4096);
	EXPECT_EQ(EIO, err);

	memset(self->dst.map, FILL, DM_BYTES);
	drain_cqes(self->q);
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run_request(self->q, NULL, MKIOQ_OP_READ, self->hdm,
					  self->hdst, ERR_START, 4096, &res));
	EXPECT_EQ(-EIO, res);
	EXPECT_EQ(-err, res);
	EXPECT_EQ(0, record_result(self->q, 0, &rec));
	EXPECT_EQ(-EIO, rec);
	/* The request kept its BYTE_COUNT, and nothing reached dst. */
	EXPECT_EQ(4096, slot_word(self->q, 0, MKIOQ_WORD_BYTE_COUNT));
	EXPECT_EQ(DM_BYTES, fill_check(self->dst.map, DM_BYTES));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* The whole error range, and its last byte alone. */
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run_request(self->q, NULL, MKIOQ_OP_READ, self->hdm,
					  self->hdst, ERR_START,
					  ERR_END - ERR_START, &res));
	EXPECT_EQ(-EIO, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run_request(self->q, NULL, MKIOQ_OP_READ, self->hdm,
					  self->hdst, ERR_END - 1, 1, &res));
	EXPECT_EQ(-EIO, res);
	EXPECT_EQ(DM_BYTES, fill_check(self->dst.map, DM_BYTES));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* The linear ranges on either side read as ever. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hdm,
				       self->hdst, 0, ERR_START, &res));
	EXPECT_EQ(ERR_START, res);
	EXPECT_EQ(ERR_START, pattern_check(self->dst.map, ERR_START, DM_SEED,
					   0));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hdm,
				       self->hdst, ERR_END, DM_BYTES - ERR_END,
				       &res));
	EXPECT_EQ(DM_BYTES - ERR_END, res);
	EXPECT_EQ(DM_BYTES - ERR_END,
		  pattern_check(self->dst.map, DM_BYTES - ERR_END, DM_SEED,
				ERR_END));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	drain_cqes(self->q);
}

/*
 * A READ that starts in the linear range and runs into the error range:
 * pread() returns the bytes before the error, short, and the next pread()
 * the error; the module keeps reading as pread()'s caller would, so the
 * request completes ERROR EIO. It may have written the bytes before the
 * error (uapi: "may have changed bytes of its destination"), not one past
 * its BYTE_COUNT.
 */
TEST_F(dm, read_into_the_error_range)
{
	const uint32_t at = ERR_START - 65536 - 100, count = 200000;
	uint8_t *buf = malloc(count);
	int64_t res;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_NE(NULL, buf);
	EXPECT_EQ(ERR_START - at, pread(self->dmfd, buf, count, at));
	EXPECT_EQ(ERR_START - at, pattern_check(buf, ERR_START - at, DM_SEED,
						at));
	EXPECT_EQ(EIO, pread_errno(self->dmfd, ERR_START,
				       count - (ERR_START - at)));
	free(buf);
	memset(self->dst.map, FILL, DM_BYTES);
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run_request(self->q, NULL, MKIOQ_OP_READ, self->hdm,
					  self->hdst, at, count, &res));
	EXPECT_EQ(-EIO, res);
	EXPECT_EQ(DM_BYTES - count, fill_check(self->dst.map + count,
					       DM_BYTES - count));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	drain_cqes(self->q);
}

/*
 * Failing requests beside others in one doorbell: a READ of the error
 * range, READs of both linear ranges and a memory READ, each into its own
 * part of dst. Only the failing one fails; the others' bytes are right,
 * and the failing one's part of dst is untouched.
 */
TEST_F(dm, error_beside_other_requests)
{
	uint32_t part[4];
	int32_t rec = 0;
	unsigned int i;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd,
					    i * (DM_BYTES / 4), DM_BYTES / 4,
					    MKIOQ_ACCESS_WRITE, &part[i]));
	pattern_fill(self->src.map, DM_BYTES, 52, 0);
	memset(self->dst.map, FILL, DM_BYTES);
	drain_cqes(self->q);
	publish_raw(self->q, 3, MKIOQ_OP_READ, self->hdm, part[0], 4096, 65536);
	publish_raw(self->q, 7, MKIOQ_OP_READ, self->hdm, part[1], ERR_START + 8192,
		65536);
	publish_raw(self->q, 8, MKIOQ_OP_READ, self->hsrc, part[2], 0, 65536);
	publish_raw(self->q, 9, MKIOQ_OP_READ, self->hdm, part[3], ERR_END + 4096,
		65536);
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 3, 20000));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, wait_slot(self->q, 7, 20000));
	EXPECT_EQ(EIO, slot_word(self->q, 7, MKIOQ_WORD_TAG));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 8, 20000));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 9, 20000));
	EXPECT_EQ(0, record_result(self->q, 7, &rec));
	EXPECT_EQ(-EIO, rec);
	EXPECT_EQ(65536, pattern_check(self->dst.map, 65536, DM_SEED, 4096));
	EXPECT_EQ(DM_BYTES / 4, fill_check(self->dst.map + DM_BYTES / 4,
					   DM_BYTES / 4));
	EXPECT_EQ(65536, pattern_check(self->dst.map + DM_BYTES / 2, 65536,
				       52, 0));
	EXPECT_EQ(65536, pattern_check(self->dst.map + 3 * (DM_BYTES / 4),
				       65536, DM_SEED, ERR_END + 4096));
	/* Beyond each request's bytes, its part is untouched. */
	for (i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		EXPECT_EQ(DM_BYTES / 4 - 65536,
			  fill_check(self->dst.map + i * (DM_BYTES / 4) + 65536,
				     DM_BYTES / 4 - 65536))
			TH_LOG("part %u", i);
	}
	/* Slots nobody published stay EMPTY. */
	EXPECT_EQ(MKIOQ_STATE_EMPTY, slot_word(self->q, 0, MKIOQ_WORD_STATUS));
	EXPECT_EQ(MKIOQ_STATE_EMPTY, slot_word(self->q, 10, MKIOQ_WORD_STATUS));
	drain_cqes(self->q);
}

/*
 * The userspace engine on a host ring, the same dm device and dst
 * registered with it: its pread() path completes the error range ERROR
 * with the module's errno, and the linear range OK.
 */
TEST_F(dm, engine_gives_the_same_errno)
{
	struct mkioq_engine_params p = { .size = sizeof(p), .workers = 1 };
	struct mkioq_queue *eq;
	struct mkioq_engine *e;
	uint32_t hd, hf;
	int64_t res, mres;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run_request(self->q, NULL, MKIOQ_OP_READ, self->hdm,
					  self->hdst, ERR_START, 8192, &mres));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	ASSERT_EQ(0, mkioq_queue_new(NSLOTS, &eq));
	ASSERT_EQ(0, mkioq_engine_new(eq, &p, &e));
	ASSERT_EQ(0, mkioq_engine_register_dmabuf(e, self->dst.fd, 0,
						  DM_BYTES, MKIOQ_ACCESS_RW,
						  &hd));
	ASSERT_EQ(0, mkioq_engine_register_file(e, self->dmfd, 0, DM_BYTES,
						MKIOQ_ACCESS_READ, &hf));
	ASSERT_EQ(0, mkioq_engine_start(e));
	memset(self->dst.map, FILL, DM_BYTES);
	EXPECT_EQ(MKIOQ_RESULT_ERROR, run_request(eq, e, MKIOQ_OP_READ, hf, hd,
					     ERR_START, 8192, &res));
	EXPECT_EQ(mres, res);
	EXPECT_EQ(-EIO, res);
	EXPECT_EQ(DM_BYTES, fill_check(self->dst.map, DM_BYTES));
	ASSERT_EQ(0, mkioq_recycle(eq, 0));
	EXPECT_EQ(MKIOQ_RESULT_OK, run_request(eq, e, MKIOQ_OP_READ, hf, hd,
					  ERR_END, 65536, &res));
	EXPECT_EQ(65536, res);
	EXPECT_EQ(65536, pattern_check(self->dst.map, 65536, DM_SEED,
				       ERR_END));
	EXPECT_EQ(0, mkioq_engine_stop(e));
	mkioq_engine_free(e);
	mkioq_queue_free(eq);
}

TEST_HARNESS_MAIN
