// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/mkioq0: setup, mmap rules, the pin test, handle registration and
 * isolation between open files. Every bad input gets its errno and leaves
 * the queue as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

static int raw_setup(int fd, uint32_t slots, uint32_t mode)
{
	struct mkioq_setup s = {
		.size = sizeof(s), .slot_count = slots, .mode = mode,
	};

	return ioctl(fd, MKIOQ_IOC_SETUP, &s) ? -errno : 0;
}

static int raw_register(int fd, int dmabuf, uint64_t off, uint64_t len,
			uint32_t access, uint32_t *handle)
{
	struct mkioq_handle_reg r = {
		.fd = dmabuf, .access = access, .offset = off, .length = len,
	};
	int ret = ioctl(fd, MKIOQ_IOC_REGISTER, &r) ? -errno : 0;

	if (!ret && handle)
		*handle = r.handle;
	return ret;
}

TEST(setup_slot_counts)
{
	static const uint32_t bad[] = { 0, 65, 1000, 0xffffffff };
	static const uint32_t good[] = { 1, 2, 63, 64 };
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = open(MKIOQ_DEV, O_RDWR);
		ASSERT_GE(fd, 0);
		EXPECT_EQ(-EINVAL, raw_setup(fd, bad[i], MKIOQ_MODE_DOORBELL));
		/* A rejected setup leaves the file unset: a good one works. */
		EXPECT_EQ(0, raw_setup(fd, 4, MKIOQ_MODE_DOORBELL));
		close(fd);
	}
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		struct mkioq_info info;

		fd = open(MKIOQ_DEV, O_RDWR);
		ASSERT_GE(fd, 0);
		EXPECT_EQ(0, raw_setup(fd, good[i], MKIOQ_MODE_POLL));
		/* Every byte is written: no kernel memory reaches us. */
		memset(&info, 0xff, sizeof(info));
		info.size = sizeof(info);
		ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_INFO, &info));
		EXPECT_EQ(0, info.reserved);
		EXPECT_EQ(1, info.copy_workers);
		EXPECT_EQ(4096, info.max_handles);
		EXPECT_EQ(MKIOQ_FEAT_FILE,
			  info.features & ~MKIOQ_FEAT_WAIT_CANCEL);
		EXPECT_EQ(0, info.handles);
		EXPECT_EQ(0, info.completed);
		EXPECT_EQ(good[i], info.slot_count);
		EXPECT_EQ(MKIOQ_MODE_POLL, info.mode);
		EXPECT_EQ(MKIOQ_ABI_VERSION, info.version);
		close(fd);
	}
}

/*
 * The size-versioned structs grow as copy_struct_from_user() lets them: a
 * larger struct whose extra bytes are zero is accepted, a non-zero tail
 * is E2BIG, a size below the first version's EINVAL, above a page E2BIG.
 * INFO writes back only the bytes it knows and says how many.
 */
TEST(size_versioned_structs)
{
	size_t big = 256;
	uint8_t *buf = calloc(1, 2 * 4096);
	struct mkioq_setup *s = (void *)buf;
	struct mkioq_info *info = (void *)buf;
	int fd = open(MKIOQ_DEV, O_RDWR);

	ASSERT_NE(NULL, buf);
	ASSERT_GE(fd, 0);
	/* INFO before setup, then SETUP, each: small, non-zero tail, huge. */
	info->size = MKIOQ_INFO_SIZE_VER0 - 1;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_INFO, info));
	EXPECT_EQ(EINVAL, errno);
	info->size = big;
	buf[big - 1] = 1;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_INFO, info));
	EXPECT_EQ(E2BIG, errno);
	buf[big - 1] = 0;
	info->size = 4097;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_INFO, info));
	EXPECT_EQ(E2BIG, errno);
	info->size = big;
	memset(buf + sizeof(*info), 0, big - sizeof(*info));
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_INFO, info));
	EXPECT_EQ(sizeof(*info), info->size);
	EXPECT_EQ(MKIOQ_ABI_VERSION, info->version);
	EXPECT_EQ(0, info->slot_count);

	memset(buf, 0, 2 * 4096);
	s->size = MKIOQ_SETUP_SIZE_VER0 - 4;
	s->slot_count = 8;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, s));
	EXPECT_EQ(EINVAL, errno);
	s->size = 4097;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, s));
	EXPECT_EQ(E2BIG, errno);
	s->size = big;
	buf[sizeof(*s)] = 1;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, s));
	EXPECT_EQ(E2BIG, errno);
	/* E2BIG wins over a bad field: the tail is looked at first. */
	s->slot_count = 0;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, s));
	EXPECT_EQ(E2BIG, errno);
	buf[sizeof(*s)] = 0;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, s));
	EXPECT_EQ(EINVAL, errno);
	/* A larger struct with a zero tail sets up; the tail is untouched. */
	s->slot_count = 8;
	buf[big] = 0x5a;
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_SETUP, s));
	EXPECT_EQ(4096, s->ring_bytes);
	EXPECT_EQ(0x5a, buf[big]);
	EXPECT_EQ(0, buf[big - 1]);

	memset(buf, 0xee, 2 * 4096);
	info->size = MKIOQ_INFO_SIZE_VER0;
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_INFO, info));
	EXPECT_EQ(MKIOQ_INFO_SIZE_VER0, info->size);
	EXPECT_EQ(8, info->slot_count);
	/* The first version's reader gets the first version's bytes only. */
	EXPECT_EQ(0xee, buf[MKIOQ_INFO_SIZE_VER0]);
	close(fd);
	free(buf);
}

TEST(setup_bad_fields)
{
	struct mkioq_setup s;
	int fd = open(MKIOQ_DEV, O_RDWR), i;

	ASSERT_GE(fd, 0);
	memset(&s, 0, sizeof(s));
	s.slot_count = 4;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));	/* size 0 */
	EXPECT_EQ(EINVAL, errno);
	s.size = sizeof(s);
	s.mode = 7;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EINVAL, errno);
	s.mode = MKIOQ_MODE_DOORBELL;
	s.flags = 1;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EINVAL, errno);
	/* The attach flag without POLL mode, attach_fd without it, 0x2. */
	for (i = 0; i < 3; i++) {
		s.flags = (uint32_t[]){ MKIOQ_SETUP_ATTACH_POLL, 0, 0x2 }[i];
		s.attach_fd = i == 1 ? fd : 0;
		EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
		EXPECT_EQ(EINVAL, errno);
	}
	s.flags = 0;
	s.attach_fd = 0;
	s.reserved = 1;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EINVAL, errno);
	s.reserved = 0;
	s.copy_workers = MKIOQ_MAX_COPY_WORKERS + 1;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EINVAL, errno);
	s.copy_workers = UINT32_MAX;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EINVAL, errno);
	s.copy_workers = MKIOQ_MAX_COPY_WORKERS;
	s.poll_period_us = 20000000;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EINVAL, errno);
	s.poll_period_us = 0;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(MKIOQ_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);

	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(4096, s.ring_bytes);
	EXPECT_GE(s.cq_entries, 64);
	/* A second setup is refused and changes nothing. */
	s.slot_count = 8;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EBUSY, errno);
	close(fd);
}

TEST(calls_before_setup)
{
	struct mkioq_handle_unreg u = { .handle = 1 };
	struct mkioq_cqe cqe;
	int fd = open(MKIOQ_DEV, O_RDWR);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-EBADFD, raw_register(fd, 0, 0, 1, MKIOQ_ACCESS_READ, NULL));
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_UNREGISTER, &u));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_DOORBELL));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-1, read(fd, &cqe, sizeof(cqe)));
	EXPECT_EQ(EBADFD, errno);
	close(fd);
}

TEST(mmap_rules)
{
	struct mkioq_queue *q;
	uint32_t *a, *b;
	int fd;

	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, 0, &q));
	fd = mkioq_queue_fd(q);
	/* Wrong size, wrong offset, private, executable. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_EXEC,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno);

	/* The ring is zeroed, and two mappings are one ring. */
	a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, b);
	for (int i = 0; i < 1024; i++)
		ASSERT_EQ(0, a[i]);
	a[7] = 0x1234;
	EXPECT_EQ(0x1234, b[7]);
	EXPECT_EQ(0x1234, q->words[7]);
	a[7] = 0;

	/* A forked child writes through its inherited mapping. */
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		b[13] = 0xfeed;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(0xfeed, a[13]);
	b[13] = 0;

	/* The ring outlives the file while mapped. */
	munmap(b, 4096);
	mkioq_queue_free(q);
	a[0] = 42;
	EXPECT_EQ(42, a[0]);
	munmap(a, 4096);
}

/* Pinning the ring as an io_uring fixed buffer must work (GPU drivers pin). */
TEST(ring_can_be_pinned)
{
	struct mkioq_queue *q;
	struct io_uring ring;
	struct iovec iov;

	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, 0, &q));
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	iov.iov_base = q->words;
	iov.iov_len = q->map_bytes;
	EXPECT_EQ(0, io_uring_register_buffers(&ring, &iov, 1));
	/* Pinned memory is still the ring. */
	EXPECT_EQ(0, mkioq_submit_dma_read(q, 0, 1, 2, 16, 5));
	EXPECT_EQ(0, io_uring_unregister_buffers(&ring));
	io_uring_queue_exit(&ring);
	mkioq_queue_free(q);
}

FIXTURE(handles) {
	struct mkioq_queue *q;
	int drm;
	struct test_buf rw, ro;
};

FIXTURE_SETUP(handles)
{
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 8, 0, &self->q));
	ASSERT_EQ(0, test_buf_create(self->drm, 65536, true, &self->rw));
	ASSERT_EQ(0, test_buf_create(self->drm, 65536, false, &self->ro));
}

FIXTURE_TEARDOWN(handles)
{
	test_buf_destroy(&self->rw);
	test_buf_destroy(&self->ro);
	mkioq_queue_free(self->q);
	close(self->drm);
}

TEST_F(handles, register_good_and_bad)
{
	struct mkioq_handle_reg r;
	struct mkioq_info info;
	uint32_t h1, h2, h;
	int fd = mkioq_queue_fd(self->q);

	ASSERT_EQ(0, mkioq_register(self->q, self->rw.fd, 0, 65536,
				    MKIOQ_ACCESS_RW, &h1));
	EXPECT_NE(MKIOQ_HANDLE_NONE, h1);
	ASSERT_EQ(0, mkioq_register(self->q, self->ro.fd, 4096, 4096,
				    MKIOQ_ACCESS_READ, &h2));
	EXPECT_NE(h1, h2);
	EXPECT_NE(MKIOQ_HANDLE_NONE, h2);

	/* Bad fds, bad access, bad ranges, non-zero reserved fields. */
	EXPECT_EQ(-EBADF, mkioq_register(self->q, -1, 0, 1,
					 MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EBADF, mkioq_register(self->q, 999, 0, 1,
					 MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EINVAL, mkioq_register(self->q, fd, 0, 1,
					  MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EINVAL, mkioq_register(self->q, self->rw.fd, 0, 1, 0, &h));
	EXPECT_EQ(-EINVAL, mkioq_register(self->q, self->rw.fd, 0, 1, 4, &h));
	EXPECT_EQ(-EINVAL, mkioq_register(self->q, self->rw.fd, 0, 0,
					  MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EACCES, mkioq_register(self->q, self->ro.fd, 0, 1,
					  MKIOQ_ACCESS_WRITE, &h));
	EXPECT_EQ(-ERANGE, mkioq_register(self->q, self->rw.fd, 0, 65537,
					  MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-ERANGE, mkioq_register(self->q, self->rw.fd, 65536, 1,
					  MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EOVERFLOW, mkioq_register(self->q, self->rw.fd,
					     UINT64_MAX - 1, 4,
					     MKIOQ_ACCESS_READ, &h));
	memset(&r, 0, sizeof(r));
	r.fd = self->rw.fd;
	r.access = MKIOQ_ACCESS_READ;
	r.length = 1;
	r.reserved = 1;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_REGISTER, &r));
	EXPECT_EQ(EINVAL, errno);
	r.reserved = 0;
	r.flags = 2;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_REGISTER, &r));
	EXPECT_EQ(EINVAL, errno);
	/* A dma-buf is no file handle (storage_test.c has the rest). */
	r.flags = MKIOQ_REG_F_FILE;
	EXPECT_EQ(-1, ioctl(fd, MKIOQ_IOC_REGISTER, &r));
	EXPECT_EQ(EINVAL, errno);

	/* None of the failures registered anything. */
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(2, info.handles);

	EXPECT_EQ(0, mkioq_unregister(self->q, h1));
	EXPECT_EQ(-ENOENT, mkioq_unregister(self->q, h1));
	EXPECT_EQ(-ENOENT, mkioq_unregister(self->q, 0));
	EXPECT_EQ(-ENOENT, mkioq_unregister(self->q, 12345));
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(1, info.handles);
	EXPECT_EQ(0, mkioq_unregister(self->q, h2));
}

/* The module holds its own reference: the fd and GEM may go away. */
TEST_F(handles, caller_may_close_fd)
{
	uint32_t src, dst;
	struct test_buf tmp;

	ASSERT_EQ(0, test_buf_create(self->drm, 8192, true, &tmp));
	pattern_fill(tmp.map, 8192, 77, 0);
	ASSERT_EQ(0, mkioq_register(self->q, tmp.fd, 0, 8192,
				    MKIOQ_ACCESS_READ, &src));
	test_buf_destroy(&tmp);
	ASSERT_EQ(0, mkioq_register(self->q, self->rw.fd, 0, 65536,
				    MKIOQ_ACCESS_RW, &dst));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 0, src, dst, 8192, 1));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 0, 5000));
	EXPECT_EQ(8192, pattern_check(self->rw.map, 8192, 77, 0));
}

TEST_F(handles, invisible_to_other_files)
{
	struct mkioq_queue *other;
	uint32_t src;

	ASSERT_EQ(0, mkioq_register(self->q, self->rw.fd, 0, 65536,
				    MKIOQ_ACCESS_RW, &src));
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 8, 0, &other));
	/* Same number, other file: unknown there. */
	EXPECT_EQ(-ENOENT, mkioq_unregister(other, src));
	ASSERT_EQ(0, mkioq_submit_dma_read(other, 0, src, src, 16, 9));
	ASSERT_EQ(0, mkioq_doorbell(other));
	ASSERT_EQ(MKIOQ_RESULT_ERROR, wait_slot(other, 0, 5000));
	EXPECT_EQ(ENOENT, other->words[MKIOQ_WORD_TAG]);
	/* And each file has its own ring. */
	EXPECT_NE(other->words, self->q->words);
	EXPECT_EQ(MKIOQ_STATE_EMPTY, mkioq_slot_status(self->q, 0));

	mkioq_queue_free(other);
	EXPECT_EQ(0, mkioq_unregister(self->q, src));
}

/*
 * A queue belongs to the process that set it up: once it closes its
 * descriptor, a forked child that inherited the file can no longer use
 * the queue or its handles, though its mapping stays valid memory.
 */
TEST_F(handles, child_after_owner_closed)
{
	int status, to_child[2], to_parent[2];
	uint32_t h;
	char c;
	pid_t pid;

	ASSERT_EQ(0, mkioq_register(self->q, self->rw.fd, 0, 65536,
				    MKIOQ_ACCESS_RW, &h));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int ok = 1;

		/* While the owner holds it, the child may use the queue. */
		ok &= mkioq_doorbell(self->q) == 0;
		ok &= write(to_parent[1], "r", 1) == 1;
		ok &= read(to_child[0], &c, 1) == 1;
		ok &= mkioq_doorbell(self->q) == -ENXIO;
		ok &= mkioq_unregister(self->q, h) == -ENXIO;
		ok &= mkioq_register(self->q, self->rw.fd, 0, 16,
				     MKIOQ_ACCESS_READ, &h) == -ENXIO;
		ok &= mkioq_submit_dma_read(self->q, 0, h, h, 16, 1) == 0;
		ok &= mkioq_read_cqes(self->q, (struct mkioq_cqe[1]){}, 1,
				      0) == -ENXIO;
		/* Nothing services the request: the slot stays PUBLISHED. */
		usleep(100000);
		ok &= mkioq_slot_status(self->q, 0) == MKIOQ_STATE_PUBLISHED;
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* The owner closes: the queue shuts down for everyone. */
	close(mkioq_queue_fd(self->q));
	ASSERT_EQ(1, write(to_child[1], "c", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* Teardown's close of the descriptor then fails harmlessly. */
	self->q->fd = open("/dev/null", O_RDONLY);
}

TEST_HARNESS_MAIN
