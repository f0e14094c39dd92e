// SPDX-License-Identifier: GPL-2.0
/*
 * File handles (MKIOQ_REG_F_FILE): registration and its errnos, READs from
 * and WRITEs to files on tmpfs and a loop block device checked byte for
 * byte against pread(), end of file, truncation and unlink while
 * registered, request errnos, a file system's error (ENOSPC), and the
 * worker pool: memory requests and other storage requests complete while
 * a storage request is held up, a FENCE waits for it, and unregister and
 * close with it in flight lose nothing. Every test runs in both service
 * modes.
 *
 * A storage request is held up deterministically by a write(2) to the
 * same tmpfs file from a page that userfaultfd keeps missing: the write
 * holds the file's inode lock while it waits for the page, so a storage
 * WRITE to that file waits for the lock until the test supplies the page.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

#define BUF_BYTES	(4u << 20)
#define FILE_BYTES	((3u << 20) + 4093)
#define FILL		0x5a
#define PAGE		4096u

FIXTURE(st) {
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst;
	uint32_t hsrc, hdst;
	char path[64], held_path[64];
	int fd, held_fd;
	uint32_t hfile, hheld;
};

FIXTURE_VARIANT(st) {
	unsigned int open_flags;
};

FIXTURE_VARIANT_ADD(st, doorbell) {
	.open_flags = 0,
};

FIXTURE_VARIANT_ADD(st, poll) {
	.open_flags = MKIOQ_OPEN_POLL,
};

/* A tmpfs file of @size pattern bytes (seed @seed), open read-write. */
static int make_file(char *path, size_t pathlen, const char *name,
		     size_t size, uint32_t seed)
{
	uint8_t *buf = malloc(size ? size : 1);
	int fd;

	snprintf(path, pathlen, "/tmp/%s.%d", name, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !buf) {
		free(buf);
		return -1;
	}
	pattern_fill(buf, size, seed, 0);
	if (pwrite(fd, buf, size, 0) != (ssize_t)size) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

FIXTURE_SETUP(st)
{
	self->fd = self->held_fd = -1;
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
	self->fd = make_file(self->path, sizeof(self->path), "st-file",
			     FILE_BYTES, 7);
	ASSERT_LE(0, self->fd);
	self->held_fd = make_file(self->held_path, sizeof(self->held_path),
				  "st-held", 0, 0);
	ASSERT_LE(0, self->held_fd);
	ASSERT_EQ(0, mkioq_register_file(self->q, self->fd, 0, 1ULL << 32,
					 MKIOQ_ACCESS_RW, &self->hfile));
	ASSERT_EQ(0, mkioq_register_file(self->q, self->held_fd, 0,
					 1ULL << 32, MKIOQ_ACCESS_WRITE,
					 &self->hheld));
}

FIXTURE_TEARDOWN(st)
{
	mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
	if (self->fd >= 0) {
		close(self->fd);
		unlink(self->path);
	}
	if (self->held_fd >= 0) {
		close(self->held_fd);
		unlink(self->held_path);
	}
}

static int reg_raw(struct mkioq_queue *q, int fd, uint64_t off, uint64_t len,
		   uint32_t access, uint32_t flags)
{
	struct mkioq_handle_reg reg = {
		.fd = fd, .access = access, .offset = off, .length = len,
		.flags = flags,
	};

	return ioctl(mkioq_queue_fd(q), MKIOQ_IOC_REGISTER, &reg) ? -errno : 0;
}

TEST_F(st, info_reports_file_handles)
{
	struct mkioq_info info;

	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_TRUE(info.features & MKIOQ_FEAT_FILE);
	EXPECT_EQ(4, info.handles);
}

TEST_F(st, register_errnos)
{
	int ro, wo, app, pipefd[2], sv[2] = { -1, -1 }, null, dir;
	bool have_sockets;
	uint32_t h;
	char p[64];

	ro = open(self->path, O_RDONLY);
	wo = open(self->path, O_WRONLY);
	app = open(self->path, O_RDWR | O_APPEND);
	null = open("/dev/null", O_RDWR);
	dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, ro);
	ASSERT_LE(0, wo);
	ASSERT_LE(0, app);
	ASSERT_LE(0, null);
	ASSERT_LE(0, dir);
	ASSERT_EQ(0, pipe(pipefd));
	/* The debug lane's kernel has no AF_UNIX: no socket to try there. */
	have_sockets = socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0;
	if (!have_sockets)
		TH_LOG("socketpair(AF_UNIX): %s: the socket case is skipped",
		       strerror(errno));

	/* The flag decides: a file without it is no dma-buf. */
	EXPECT_EQ(-EINVAL, reg_raw(self->q, ro, 0, 4096, MKIOQ_ACCESS_READ, 0));
	EXPECT_EQ(-EINVAL, reg_raw(self->q, ro, 0, 4096, MKIOQ_ACCESS_READ,
				   MKIOQ_REG_F_FILE | 2));
	EXPECT_EQ(-EINVAL, reg_raw(self->q, ro, 0, 0, MKIOQ_ACCESS_READ,
				   MKIOQ_REG_F_FILE));
	EXPECT_EQ(-EINVAL, reg_raw(self->q, ro, 0, 4096, 0, MKIOQ_REG_F_FILE));
	EXPECT_EQ(-EBADF, mkioq_register_file(self->q, 1000, 0, 4096,
					      MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EISDIR, mkioq_register_file(self->q, dir, 0, 4096,
					       MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-ESPIPE, mkioq_register_file(self->q, pipefd[0], 0, 4096,
					       MKIOQ_ACCESS_READ, &h));
	if (have_sockets)
		EXPECT_EQ(-ESPIPE, mkioq_register_file(self->q, sv[0], 0, 4096,
						       MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, null, 0, 4096,
					       MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, self->src.fd, 0, 4096,
					       MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, app, 0, 4096,
					       MKIOQ_ACCESS_WRITE, &h));
	EXPECT_EQ(-EACCES, mkioq_register_file(self->q, ro, 0, 4096,
					       MKIOQ_ACCESS_WRITE, &h));
	EXPECT_EQ(-EACCES, mkioq_register_file(self->q, wo, 0, 4096,
					       MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EOVERFLOW, mkioq_register_file(self->q, ro, ~0ULL, 2,
						  MKIOQ_ACCESS_READ, &h));
	/* Past the largest file tmpfs allows (2^63 - 1). */
	EXPECT_EQ(-ERANGE, mkioq_register_file(self->q, ro, 1ULL << 63, 1,
					       MKIOQ_ACCESS_READ, &h));

	/* What is accepted: read-only READ, write-only WRITE, O_APPEND READ. */
	EXPECT_EQ(0, mkioq_register_file(self->q, ro, 0, 4096,
					 MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(0, mkioq_register_file(self->q, wo, 0, 4096,
					 MKIOQ_ACCESS_WRITE, &h));
	EXPECT_EQ(0, mkioq_register_file(self->q, app, 0, 4096,
					 MKIOQ_ACCESS_READ, &h));
	/* A range past the end of a regular file is fine. */
	EXPECT_EQ(0, mkioq_register_file(self->q, ro, 1ULL << 40, 4096,
					 MKIOQ_ACCESS_READ, &h));
	snprintf(p, sizeof(p), "%s", mkioq_strerror_call("mkioq_register_file",
							  -ESPIPE));
	EXPECT_NE(NULL, strstr(p, "pipe"));

	close(ro);
	close(wo);
	close(app);
	close(null);
	close(dir);
	close(pipefd[0]);
	close(pipefd[1]);
	if (have_sockets) {
		close(sv[0]);
		close(sv[1]);
	}
}

TEST_F_TIMEOUT(st, read_every_byte, 300)
{
	static const uint32_t sizes[] = {
		1, 3, 4095, 4096, 4097, 65537, (1u << 20) + 13,
		(3u << 20) - 69632,
	};
	static const uint64_t offsets[] = { 0, 1, 4093, 65536 + 7 };
	unsigned int i, j;
	int64_t res;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (j = 0; j < ARRAY_SIZE(offsets); j++) {
			size_t n = sizes[i];

			memset(self->dst.map, FILL, BUF_BYTES);
			ASSERT_EQ(MKIOQ_RESULT_OK,
				  run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				      self->hdst, offsets[j], n, &res));
			ASSERT_EQ(n, res);
			ASSERT_EQ(n, diff_fd(self->fd, offsets[j],
					       self->dst.map, n));
			/* Not a byte more. */
			ASSERT_EQ(FILL, self->dst.map[n]);
			ASSERT_EQ(0, mkioq_recycle(self->q, 0));
		}
	}
	drain_cqes(self->q);
}

TEST_F(st, read_at_end_of_file_is_short)
{
	int32_t rec = 0;
	int64_t res;

	memset(self->dst.map, FILL, 65536);
	drain_cqes(self->q);
	/* 4093 bytes are left at FILE_BYTES - 4093. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				       self->hdst, FILE_BYTES - 4093, 65536,
				       &res));
	EXPECT_EQ(4093, res);
	ASSERT_EQ(0, record_result(self->q, 0, &rec));
	EXPECT_EQ(4093, rec);
	EXPECT_EQ(4093, diff_fd(self->fd, FILE_BYTES - 4093, self->dst.map,
				  4093));
	EXPECT_EQ(FILL, self->dst.map[4093]);
	EXPECT_EQ(FILL, self->dst.map[65535]);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* At and past the end: 0 bytes, OK. */
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				       self->hdst, FILE_BYTES, 100, &res));
	EXPECT_EQ(0, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				       self->hdst, 1ULL << 31, 100, &res));
	EXPECT_EQ(0, res);
	EXPECT_EQ(FILL, self->dst.map[0]);
}

TEST_F(st, truncate_and_unlink_while_registered)
{
	int64_t res;

	ASSERT_EQ(0, ftruncate(self->fd, 3000));
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				       self->hdst, 1000, 8192, &res));
	EXPECT_EQ(2000, res);
	EXPECT_EQ(2000, diff_fd(self->fd, 1000, self->dst.map, 2000));
	EXPECT_EQ(FILL, self->dst.map[2000]);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				       self->hdst, 3000, 8192, &res));
	EXPECT_EQ(0, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));

	/* Unlinked and closed: the handle keeps the inode. */
	ASSERT_EQ(0, unlink(self->path));
	close(self->fd);
	self->fd = -1;
	memset(self->dst.map, FILL, 65536);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				       self->hdst, 0, 8192, &res));
	EXPECT_EQ(3000, res);
	EXPECT_EQ(3000, pattern_check(self->dst.map, 3000, 7, 0));
	EXPECT_EQ(FILL, self->dst.map[3000]);
	drain_cqes(self->q);
}

TEST_F(st, write_to_file)
{
	static const uint32_t sizes[] = { 1, 4097, (1u << 20) + 5 };
	static const uint64_t offsets[] = { 0, 13, FILE_BYTES + 100 };
	unsigned int i;
	int64_t res;
	struct stat sb;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		pattern_fill(self->src.map, sizes[i], 100 + i, 0);
		ASSERT_EQ(MKIOQ_RESULT_OK,
			  run_request(self->q, NULL, MKIOQ_OP_WRITE, self->hsrc, self->hfile,
			      offsets[i], sizes[i], &res));
		ASSERT_EQ(sizes[i], res);
		ASSERT_EQ(sizes[i], diff_fd(self->fd, offsets[i],
					      self->src.map, sizes[i]));
		ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	}
	/* The last WRITE extended the file. */
	ASSERT_EQ(0, fstat(self->fd, &sb));
	EXPECT_EQ(FILE_BYTES + 100 + sizes[2], sb.st_size);
	drain_cqes(self->q);
}

TEST_F(st, request_errnos)
{
	uint32_t hro, hwo, hsmall;
	int ro;
	int64_t res;

	ro = open(self->path, O_RDONLY);
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, mkioq_register_file(self->q, ro, 0, 1 << 20,
					 MKIOQ_ACCESS_READ, &hro));
	ASSERT_EQ(0, mkioq_register_file(self->q, self->held_fd, 0, 1 << 20,
					 MKIOQ_ACCESS_WRITE, &hwo));
	ASSERT_EQ(0, mkioq_register_file(self->q, self->fd, 4096, 8192,
					 MKIOQ_ACCESS_READ, &hsmall));
	close(ro);

	struct {
		uint32_t op, src, dst;
		uint64_t off;
		uint32_t count;
		int err;
	} c[] = {
		{ 7, self->hfile, self->hdst, 0, 1, EOPNOTSUPP },
		{ MKIOQ_OP_READ, self->hfile, self->hdst, 0, 1u << 31, EFBIG },
		{ MKIOQ_OP_READ, self->hfile, 999, 0, 1, ENOENT },
		{ MKIOQ_OP_READ, 999, self->hdst, 0, 1, ENOENT },
		/* File to file, and a file on the wrong side. */
		{ MKIOQ_OP_READ, self->hfile, self->hfile, 0, 1, EXDEV },
		{ MKIOQ_OP_WRITE, self->hfile, self->hheld, 0, 1, EXDEV },
		{ MKIOQ_OP_READ, self->hsrc, self->hfile, 0, 1, EXDEV },
		{ MKIOQ_OP_WRITE, self->hfile, self->hdst, 0, 1, EXDEV },
		/* Access, then ranges (the source's first). */
		{ MKIOQ_OP_READ, hwo, self->hdst, 0, 1, EACCES },
		{ MKIOQ_OP_WRITE, self->hsrc, hro, 0, 1, EACCES },
		{ MKIOQ_OP_READ, hsmall, self->hdst, ~0ULL, 2, EOVERFLOW },
		{ MKIOQ_OP_READ, hsmall, self->hdst, 8000, 193, ERANGE },
		{ MKIOQ_OP_READ, self->hfile, self->hdst, 0, BUF_BYTES + 1,
		  ERANGE },
		{ MKIOQ_OP_WRITE, self->hsrc, hwo, 1 << 20, 1, ERANGE },
	};
	unsigned int i;

	memset(self->dst.map, FILL, 8192);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		ASSERT_EQ(MKIOQ_RESULT_ERROR,
			  run_request(self->q, NULL, c[i].op, c[i].src, c[i].dst, c[i].off,
			      c[i].count, &res)) TH_LOG("case %u", i);
		EXPECT_EQ(-c[i].err, res) TH_LOG("case %u", i);
		/* A rejected request keeps its BYTE_COUNT word. */
		EXPECT_EQ(c[i].count, slot_word(self->q, 0, MKIOQ_WORD_BYTE_COUNT));
		ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	}
	EXPECT_EQ(FILL, self->dst.map[0]);
	/* A range's offset counts: hsmall starts at byte 4096 of the file. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, hsmall,
				       self->hdst, 8000, 192, &res));
	EXPECT_EQ(192, res);
	EXPECT_EQ(192, pattern_check(self->dst.map, 192, 7, 4096 + 8000));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	/* BYTE_COUNT 0: OK, nothing moved. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, hsmall,
				       self->hdst, 8192, 0, &res));
	EXPECT_EQ(0, res);
	drain_cqes(self->q);
}

/*
 * Hold a storage WRITE to the held file up: a thread write(2)s to the file
 * from a page userfaultfd keeps missing, so it waits for the page with the
 * inode lock held, until hold_release().
 */
struct hold {
	int uffd, fd;
	uint8_t *page;
	pthread_t thread;
	ssize_t ret;
};

static void *hold_writer(void *arg)
{
	struct hold *h = arg;

	h->ret = pwrite(h->fd, h->page, PAGE, 0);
	return NULL;
}

static int hold_start(struct hold *h, int fd)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffd_msg msg;
	struct pollfd pfd;

	h->fd = fd;
	h->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h->uffd < 0 || ioctl(h->uffd, UFFDIO_API, &api))
		return -errno;
	h->page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->page == MAP_FAILED)
		return -errno;
	reg.range.start = (uintptr_t)h->page;
	reg.range.len = PAGE;
	if (ioctl(h->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	if (pthread_create(&h->thread, NULL, hold_writer, h))
		return -EAGAIN;
	/* The fault arrived: the writer waits, with the inode lock held. */
	pfd = (struct pollfd){ .fd = h->uffd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1 ||
	    read(h->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return -ETIMEDOUT;
	return 0;
}

static int hold_release(struct hold *h)
{
	struct uffdio_zeropage zp = {
		.range = { .start = (uintptr_t)h->page, .len = PAGE },
	};
	int ret = ioctl(h->uffd, UFFDIO_ZEROPAGE, &zp) ? -errno : 0;

	pthread_join(h->thread, NULL);
	close(h->uffd);
	munmap(h->page, PAGE);
	return ret ?: h->ret == PAGE ? 0 : -EIO;
}

/* Still CLAIMED 100 ms later: it is waiting. */
static bool stays_claimed(struct mkioq_queue *q, uint32_t slot)
{
	usleep(100000);
	return slot_word(q, slot, MKIOQ_WORD_STATUS) == MKIOQ_STATE_CLAIMED;
}

/*
 * Slots, in publication order: 0 a memory READ; 5 the held storage WRITE;
 * 2 a FENCE (claimed before slot 5 when one pass claims both, so it
 * learns of 5 from the claim); 6 a FENCE; 8..39 storage READs of another
 * file, each into its own range of dst; 40 a memory READ. All but 5 and
 * the FENCEs complete while 5 is held; the FENCEs only after it.
 */
TEST_F_TIMEOUT(st, memory_and_storage_requests_pass_a_held_one, 120)
{
	uint32_t hd[32];
	struct hold h;
	int32_t rec;
	int i;

	for (i = 0; i < 32; i++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd,
					    65536 * (i + 1), 65536,
					    MKIOQ_ACCESS_WRITE, &hd[i]));
	pattern_fill(self->src.map, 65536, 3, 0);
	memset(self->dst.map, FILL, BUF_BYTES);
	drain_cqes(self->q);
	ASSERT_EQ(0, hold_start(&h, self->held_fd));

	publish_raw(self->q, 0, MKIOQ_OP_READ, self->hsrc, self->hdst, 0, 4096);
	publish_raw(self->q, 5, MKIOQ_OP_WRITE, self->hsrc, self->hheld, 65536,
		PAGE);
	publish_raw(self->q, 2, MKIOQ_OP_FENCE, 1, 0, 0, 0);
	publish_raw(self->q, 6, MKIOQ_OP_FENCE, 1, 0, 0, 0);
	for (i = 0; i < 32; i++)
		publish_raw(self->q, 8 + i, MKIOQ_OP_READ, self->hfile, hd[i],
			i * 65536 + 5, 65536);
	publish_raw(self->q, 40, MKIOQ_OP_READ, self->hsrc, self->hdst, 0, 8192);
	ASSERT_EQ(0, mkioq_doorbell(self->q));

	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 0, 20000));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 40, 20000));
	for (i = 0; i < 32; i++) {
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 8 + i, 20000));
		EXPECT_EQ(65536, slot_word(self->q, 8 + i, MKIOQ_WORD_BYTE_COUNT));
		EXPECT_EQ(65536, diff_fd(self->fd, i * 65536 + 5,
					   self->dst.map + 65536 * (i + 1),
					   65536));
	}
	EXPECT_EQ(8192, pattern_check(self->dst.map, 8192, 3, 0));
	EXPECT_TRUE(stays_claimed(self->q, 5));
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, slot_word(self->q, 2, MKIOQ_WORD_STATUS));
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, slot_word(self->q, 6, MKIOQ_WORD_STATUS));

	ASSERT_EQ(0, hold_release(&h));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 5, 20000));
	EXPECT_EQ(PAGE, slot_word(self->q, 5, MKIOQ_WORD_BYTE_COUNT));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 2, 20000));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 6, 20000));
	EXPECT_EQ(PAGE, diff_fd(self->held_fd, 65536, self->src.map, PAGE));
	rec = -1;
	EXPECT_EQ(0, record_result(self->q, 5, &rec));
	EXPECT_EQ(PAGE, rec);
}

/* A FENCE published after a storage request that completed is not held. */
TEST_F(st, fence_after_completed_storage_request)
{
	int64_t res;

	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, self->hfile,
				       self->hdst, 0, 4096, &res));
	publish_raw(self->q, 1, MKIOQ_OP_FENCE, 1, 0, 0, 0);
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 1, 5000));
	drain_cqes(self->q);
}

TEST_F_TIMEOUT(st, unregister_with_request_in_flight, 60)
{
	struct hold h;

	pattern_fill(self->src.map, PAGE, 11, 0);
	ASSERT_EQ(0, hold_start(&h, self->held_fd));
	publish_raw(self->q, 0, MKIOQ_OP_WRITE, self->hsrc, self->hheld, 8192,
		PAGE);
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	EXPECT_TRUE(stays_claimed(self->q, 0));
	/* Neither waits; the request keeps both handles. */
	EXPECT_EQ(0, mkioq_unregister(self->q, self->hheld));
	EXPECT_EQ(0, mkioq_unregister(self->q, self->hsrc));
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, slot_word(self->q, 0, MKIOQ_WORD_STATUS));
	ASSERT_EQ(0, hold_release(&h));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 0, 20000));
	EXPECT_EQ(PAGE, diff_fd(self->held_fd, 8192, self->src.map, PAGE));
	drain_cqes(self->q);
}

struct closer {
	int fd;
	int ret;
	volatile int done;
};

static void *close_queue(void *arg)
{
	struct closer *c = arg;

	c->ret = close(c->fd);
	c->done = 1;
	return NULL;
}

/*
 * The owner's close waits for the storage request in flight, which
 * completes into the ring (whose mapping outlives the file).
 */
TEST_F_TIMEOUT(st, close_with_request_in_flight, 60)
{
	struct closer c = { .fd = mkioq_queue_fd(self->q) };
	pthread_t t;
	struct hold h;

	ASSERT_EQ(0, hold_start(&h, self->held_fd));
	publish_raw(self->q, 0, MKIOQ_OP_WRITE, self->hsrc, self->hheld, 0, PAGE);
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	EXPECT_TRUE(stays_claimed(self->q, 0));
	ASSERT_EQ(0, pthread_create(&t, NULL, close_queue, &c));
	usleep(200000);
	EXPECT_EQ(0, c.done);
	ASSERT_EQ(0, hold_release(&h));
	pthread_join(t, NULL);
	EXPECT_EQ(0, c.ret);
	EXPECT_EQ(MKIOQ_RESULT_OK, slot_word(self->q, 0, MKIOQ_WORD_STATUS));
	EXPECT_EQ(PAGE, slot_word(self->q, 0, MKIOQ_WORD_BYTE_COUNT));
	/* The library must not close the number again. */
	self->q->fd = -1;
}

/*
 * A file system's error is the request's errno: a WRITE that fills a
 * 64 KiB tmpfs completes ERROR ENOSPC (the bytes before the error may be
 * written), and the file's READs go on.
 */
TEST_F(st, write_error_is_its_errno)
{
	char dir[64], path[80];
	int64_t res;
	uint32_t h;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/st-small.%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0700));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64k")) {
		rmdir(dir);
		SKIP(return, "cannot mount a tmpfs: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mkioq_register_file(self->q, fd, 0, 1 << 20,
					 MKIOQ_ACCESS_RW, &h));
	pattern_fill(self->src.map, 1 << 20, 31, 0);
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run_request(self->q, NULL, MKIOQ_OP_WRITE, self->hsrc,
					  h, 0, 1 << 20, &res));
	EXPECT_EQ(-ENOSPC, res);
	/* A rejected-at-I/O request keeps its BYTE_COUNT word too. */
	EXPECT_EQ(1 << 20, slot_word(self->q, 0, MKIOQ_WORD_BYTE_COUNT));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, h, self->hdst,
				       0, 4096, &res));
	EXPECT_EQ(4096, res);
	EXPECT_EQ(4096, pattern_check(self->dst.map, 4096, 31, 0));
	EXPECT_EQ(0, mkioq_unregister(self->q, h));
	drain_cqes(self->q);
	close(fd);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* A loop device over a tmpfs file, or -1 (no loop driver). */
static int loop_attach(int backing, char *dev, size_t len)
{
	int ctl = open("/dev/loop-control", O_RDWR), n, fd;

	if (ctl < 0)
		return -1;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -1;
	snprintf(dev, len, "/dev/loop%d", n);
	fd = open(dev, O_RDWR);
	if (fd < 0)
		return -1;
	if (ioctl(fd, LOOP_SET_FD, backing)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(st, block_device)
{
	char dev[32], bpath[64];
	int back, bfd, dfd;
	uint32_t h;
	int64_t res;

	back = make_file(bpath, sizeof(bpath), "st-loop", 1 << 20, 21);
	ASSERT_LE(0, back);
	bfd = loop_attach(back, dev, sizeof(dev));
	if (bfd < 0) {
		close(back);
		unlink(bpath);
		SKIP(return, "no loop device (loop.ko not loaded)");
	}
	/* The device's own size, not its node's. */
	EXPECT_EQ(-ERANGE, mkioq_register_file(self->q, bfd, 4096, 1 << 20,
					       MKIOQ_ACCESS_RW, &h));
	/* O_DIRECT: the range's start keeps the logical block size. */
	dfd = open(dev, O_RDONLY | O_DIRECT);
	if (dfd >= 0) {
		EXPECT_EQ(-EINVAL, mkioq_register_file(self->q, dfd, 100, 4096,
						       MKIOQ_ACCESS_READ, &h));
		EXPECT_EQ(0, mkioq_register_file(self->q, dfd, 0, 4096,
						 MKIOQ_ACCESS_READ, &h));
		EXPECT_EQ(0, mkioq_unregister(self->q, h));
		close(dfd);
	}
	ASSERT_EQ(0, mkioq_register_file(self->q, bfd, 4096, (1 << 20) - 4096,
					 MKIOQ_ACCESS_RW, &h));
	memset(self->dst.map, FILL, 1 << 20);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_READ, h, self->hdst,
				       13, 100000, &res));
	EXPECT_EQ(100000, res);
	EXPECT_EQ(100000, diff_fd(bfd, 4096 + 13, self->dst.map, 100000));
	EXPECT_EQ(100000, pattern_check(self->dst.map, 100000, 21, 4096 + 13));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	/* Past the range, which lies inside the device: ERANGE. */
	ASSERT_EQ(MKIOQ_RESULT_ERROR, run_request(self->q, NULL, MKIOQ_OP_READ, h,
					  self->hdst, (1 << 20) - 4096 - 10,
					  100, &res));
	EXPECT_EQ(-ERANGE, res);
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	pattern_fill(self->src.map, 8192, 22, 0);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_request(self->q, NULL, MKIOQ_OP_WRITE, self->hsrc, h,
				       8192, 8192, &res));
	EXPECT_EQ(8192, res);
	EXPECT_EQ(0, fsync(bfd));
	EXPECT_EQ(8192, diff_fd(back, 4096 + 8192, self->src.map, 8192));
	ASSERT_EQ(0, mkioq_unregister(self->q, h));
	drain_cqes(self->q);
	ioctl(bfd, LOOP_CLR_FD, 0);
	close(bfd);
	close(back);
	unlink(bpath);
}

TEST_HARNESS_MAIN
