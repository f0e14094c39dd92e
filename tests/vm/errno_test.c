// SPDX-License-Identifier: GPL-2.0
/*
 * The errno tables of uapi/linux/mkioq.h and Documentation/protocol.rst:
 * every errno there that no other VM test produces deterministically, and
 * which one wins when two apply. Each call gets inputs that are wrong in
 * two ways at once, and the errno of the check the module makes first must
 * come back. The coverage table in protocol.rst names the test of each
 * errno ("errno_test.c:<name>" for the ones here).
 */
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
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"
#include "mkioq_uring.h"

#define PG		4096u
#define BUF_BYTES	65536u
#define NO_HANDLE	9999u		/* never registered */

/* vgem's fence ioctls (include/uapi/drm/vgem_drm.h; not in libdrm). */
struct vgem_fence_attach {
	__u32 handle;
	__u32 flags;
	__u32 out_fence;
	__u32 pad;
};

struct vgem_fence_signal {
	__u32 fence;
	__u32 flags;
};

#define VGEM_FENCE_WRITE	0x1
#define VGEM_IOCTL_FENCE_ATTACH	DRM_IOWR(DRM_COMMAND_BASE + 0x1, \
					 struct vgem_fence_attach)
#define VGEM_IOCTL_FENCE_SIGNAL	DRM_IOW(DRM_COMMAND_BASE + 0x2, \
					struct vgem_fence_signal)

/* A system call's result, or -errno. */
static long sys_ret(long r)
{
	return r < 0 ? -errno : r;
}

static int raw_open(int flags)
{
	return open(MKIOQ_DEV, flags | O_CLOEXEC);
}

static long raw_setup(int fd, uint32_t slots, uint32_t mode)
{
	struct mkioq_setup s = {
		.size = sizeof(s), .slot_count = slots, .mode = mode,
	};

	return sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, &s));
}

/* The errno mmap() of the ring gives, or 0 (then unmapped again). */
static long map_ring(int fd, size_t len, int prot, int flags, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	return 0;
}

/* Two pages, the second PROT_NONE: user memory that ends in a fault. */
static uint8_t *guard_pages(void)
{
	uint8_t *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + PG, PG, PROT_NONE)) {
		munmap(p, 2 * PG);
		return NULL;
	}
	memset(p, 0, PG);
	return p;
}

/* A read-only page holding @len bytes of @data. */
static void *ro_copy(const void *data, size_t len)
{
	void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, data, len);
	if (mprotect(p, PG, PROT_READ)) {
		munmap(p, PG);
		return NULL;
	}
	return p;
}

static uint32_t word(const struct mkioq_queue *q, uint32_t slot,
		     unsigned int w)
{
	return __atomic_load_n(&q->words[slot * MKIOQ_SLOT_WORDS + w],
			       __ATOMIC_ACQUIRE);
}

/* Submit one SQE and return its CQE's res. */
static int one_cmd(struct io_uring *ring, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe;
	int res;

	io_uring_sqe_set_data64(sqe, 0x5157);
	if (io_uring_submit_and_wait(ring, 1) < 0)
		return -9999;
	if (io_uring_wait_cqe(ring, &cqe))
		return -9998;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* A uring_cmd with @cmd_op and a zero payload, on @fd; its CQE's res. */
static int uring_op(struct io_uring *ring, int fd, uint32_t cmd_op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	mkioq_prep_cmd(ring, sqe, fd, cmd_op);
	return one_cmd(ring, sqe);
}

static void on_signal(int sig)
{
	(void)sig;
}

/* Catch SIGUSR1 without SA_RESTART, so an interrupted call says EINTR. */
static void catch_sigusr1(struct sigaction *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, old);
}

/* Signal @th every 10 ms until *@done, for at most @ms; true if done. */
static bool interrupt_until(pthread_t th, atomic_int *done, int ms)
{
	int i;

	for (i = 0; i < ms / 10 && !atomic_load(done); i++) {
		pthread_kill(th, SIGUSR1);
		usleep(10000);
	}
	return atomic_load(done);
}

/* ------------------------------------------------------------------ */
/* SETUP and INFO, on files of their own                               */
/* ------------------------------------------------------------------ */

/*
 * SETUP: the size word, then the struct (copy_struct_from_user: a fault
 * in the tail is EFAULT, a non-zero byte before it E2BIG), then the
 * fields (EINVAL) before the once-only rule (EBUSY); a result that cannot
 * be written back is EFAULT with the queue set up and usable.
 */
TEST(setup_errnos)
{
	struct mkioq_info info = { .size = sizeof(info) };
	struct mkioq_setup s = { .size = sizeof(s), .slot_count = 5 };
	struct mkioq_setup *t, *ro;
	uint8_t *g = guard_pages();
	int fd = raw_open(O_RDWR);

	ASSERT_NE(NULL, g);
	ASSERT_GE(fd, 0);

	/* The size word itself unreadable. */
	EXPECT_EQ(-EFAULT, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, g + PG)));
	/* POLL periods above their limits (1 s idle, 10 s period). */
	s.mode = MKIOQ_MODE_POLL;
	s.poll_idle_us = 1000001;
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, &s)));
	s.poll_idle_us = 1000000;
	s.poll_period_us = 10000001;
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, &s)));
	s.poll_period_us = 0;
	s.mode = MKIOQ_MODE_DOORBELL;

	/* A page-sized struct whose tail runs into an unmapped page. */
	t = (void *)(g + PG - sizeof(*t));
	*t = s;
	t->size = PG;
	EXPECT_EQ(-EFAULT, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, t)));
	/* A non-zero tail byte before the fault is found first: E2BIG. */
	t = (void *)(g + PG - 64);
	*t = s;
	t->size = PG;
	((uint8_t *)t)[sizeof(*t) + 4] = 1;
	EXPECT_EQ(-E2BIG, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, t)));
	/* None of that set the file up. */
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_INFO, &info));
	EXPECT_EQ(0, info.slot_count);

	/* Set up, but the result cannot be written back: EFAULT, and live. */
	ro = ro_copy(&s, sizeof(s));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, ro)));
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_INFO, &info));
	EXPECT_EQ(5, info.slot_count);
	EXPECT_EQ(PG, info.ring_bytes);
	EXPECT_EQ(0, map_ring(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(0, ioctl(fd, MKIOQ_IOC_DOORBELL, 0));

	/* Fields are checked before the once-only rule: EINVAL, then EBUSY. */
	s.slot_count = 0;
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, &s)));
	s.slot_count = 4;
	EXPECT_EQ(-EBUSY, sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, &s)));
	/* The SETUP number with another size encoded is another ioctl. */
	EXPECT_EQ(-ENOTTY, sys_ret(ioctl(fd, _IOWR(MKIOQ_IOC_MAGIC, 0x00,
						   struct mkioq_info), &s)));
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_INFO, &info));
	EXPECT_EQ(5, info.slot_count);

	close(fd);
	munmap(ro, PG);
	munmap(g, 2 * PG);
}

/*
 * INFO works in every state and faults like SETUP: the size word, the
 * tail, then the write-back.
 */
TEST(info_errnos)
{
	struct mkioq_info *in, good;
	uint8_t *g = guard_pages();
	void *ro;
	int fd = raw_open(O_RDWR);

	ASSERT_NE(NULL, g);
	ASSERT_GE(fd, 0);
	/* Before setup: the version and limits, zeros for the queue. */
	memset(&good, 0xff, sizeof(good));
	good.size = sizeof(good);
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_INFO, &good));
	EXPECT_EQ(MKIOQ_INFO_SIZE_VER0, good.size);
	EXPECT_EQ(MKIOQ_ABI_VERSION, good.version);
	EXPECT_EQ(4096, good.max_handles);
	EXPECT_EQ(0, good.slot_count);
	EXPECT_EQ(0, good.ring_bytes);
	EXPECT_EQ(0, good.cq_entries);
	EXPECT_EQ(0, good.handles);
	EXPECT_EQ(0, good.reserved);

	EXPECT_EQ(-EFAULT, sys_ret(ioctl(fd, MKIOQ_IOC_INFO, NULL)));
	in = (void *)(g + PG - sizeof(*in));
	memset(in, 0, sizeof(*in));
	in->size = PG;
	EXPECT_EQ(-EFAULT, sys_ret(ioctl(fd, MKIOQ_IOC_INFO, in)));
	good.size = sizeof(good);
	ro = ro_copy(&good, sizeof(good));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, sys_ret(ioctl(fd, MKIOQ_IOC_INFO, ro)));
	close(fd);
	munmap(ro, PG);
	munmap(g, 2 * PG);
}

/*
 * Before setup the state is checked first (EBADFD), whatever else is
 * wrong; unknown ioctl numbers are ENOTTY in every state; after setup the
 * argument checks apply. (The VFS checks of read(), write() and mmap()
 * still come before ours: see access_modes.)
 */
TEST(state_before_arguments)
{
	struct pollfd pfd = {
		.events = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
	};
	struct mkioq_uring_wait bad = { .flags = 1, .slot = 1000 };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	char buf[64];
	int fd = raw_open(O_RDWR);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	EXPECT_EQ(-EBADFD, sys_ret(ioctl(fd, MKIOQ_IOC_DOORBELL, 1)));
	EXPECT_EQ(-EBADFD, sys_ret(read(fd, buf, 1)));
	EXPECT_EQ(-EBADFD, map_ring(fd, 2 * PG, PROT_READ, MAP_PRIVATE, PG));
	EXPECT_EQ(-ENOTTY, sys_ret(ioctl(fd, _IO(MKIOQ_IOC_MAGIC, 0x05))));
	EXPECT_EQ(-ENOTTY, sys_ret(ioctl(fd, _IO('x', 0x03))));
	/* poll(): only EPOLLERR, whatever was asked for. */
	pfd.fd = fd;
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLERR, pfd.revents);
	/* uring_cmd: the state before the opcode and the payload. */
	EXPECT_EQ(-EBADFD, uring_op(&ring, fd, 0x77));
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_cmd(&ring, sqe, fd, MKIOQ_URING_CMD_WAIT);
	memcpy(sqe->cmd, &bad, sizeof(bad));
	EXPECT_EQ(-EBADFD, one_cmd(&ring, sqe));

	ASSERT_EQ(0, raw_setup(fd, 4, MKIOQ_MODE_DOORBELL));
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(fd, MKIOQ_IOC_DOORBELL, 1)));
	EXPECT_EQ(0, sys_ret(ioctl(fd, MKIOQ_IOC_DOORBELL, 0)));
	EXPECT_EQ(-ENOTTY, sys_ret(ioctl(fd, _IO(MKIOQ_IOC_MAGIC, 0x05))));
	EXPECT_EQ(-EINVAL, sys_ret(read(fd, buf,
					 sizeof(struct mkioq_cqe) - 1)));
	EXPECT_EQ(-EINVAL, map_ring(fd, 2 * PG, PROT_READ, MAP_SHARED, 0));
	/* EINVAL (private) is checked before EPERM (executable). */
	EXPECT_EQ(-EINVAL, map_ring(fd, PG, PROT_READ | PROT_EXEC,
				    MAP_PRIVATE, 0));
	/* The opcode before the payload: ENOTTY, then EINVAL. */
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_cmd(&ring, sqe, fd, 0x77);
	memcpy(sqe->cmd, &bad, sizeof(bad));
	EXPECT_EQ(-ENOTTY, one_cmd(&ring, sqe));
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_cmd(&ring, sqe, fd, MKIOQ_URING_CMD_WAIT);
	memcpy(sqe->cmd, &bad, sizeof(bad));
	EXPECT_EQ(-EINVAL, one_cmd(&ring, sqe));
	/* WAIT for a slot past slot_count (4 here). */
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_wait(&ring, sqe, fd, 4, NULL);
	EXPECT_EQ(-EINVAL, one_cmd(&ring, sqe));
	/* Set up, no record: always writable, never readable. */
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
	io_uring_queue_exit(&ring);
	close(fd);
}

/*
 * The uring_cmd opcodes are ioctl numbers with the payload's size: the
 * same number with another size, and the unencoded v1 numbers, are
 * unknown commands.
 */
TEST(uring_opcodes_encoded)
{
	struct big_wait {
		__u64 cqe_addr;
		__u32 slot;
		__u32 flags;
		__u64 more;
	};
	struct io_uring ring;
	int fd = raw_open(O_RDWR);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, raw_setup(fd, 4, MKIOQ_MODE_DOORBELL));
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	EXPECT_EQ(-ENOTTY, uring_op(&ring, fd, _IOWR(MKIOQ_IOC_MAGIC, 0x21,
						     struct big_wait)));
	EXPECT_EQ(-ENOTTY, uring_op(&ring, fd, _IOW(MKIOQ_IOC_MAGIC, 0x21,
						    struct mkioq_uring_wait)));
	EXPECT_EQ(-ENOTTY, uring_op(&ring, fd, _IOW(MKIOQ_IOC_MAGIC, 0x20,
						    __u64)));
	EXPECT_EQ(-ENOTTY, uring_op(&ring, fd, 0));
	EXPECT_EQ(-ENOTTY, uring_op(&ring, fd, 1));
	EXPECT_EQ(-ENOTTY, uring_op(&ring, fd, 0x21));
	EXPECT_EQ(0, uring_op(&ring, fd, MKIOQ_URING_CMD_DOORBELL));
	io_uring_queue_exit(&ring);
	close(fd);
}

/*
 * read(), write() and mmap() check the file's open mode in the VFS before
 * the module sees the call: EBADF and EACCES win over everything here.
 */
TEST(access_modes)
{
	char buf[64];
	int ro = raw_open(O_RDONLY), wo = raw_open(O_WRONLY);

	ASSERT_GE(ro, 0);
	ASSERT_GE(wo, 0);
	/* Even before setup: EBADF, not EBADFD. */
	EXPECT_EQ(-EBADF, sys_ret(write(ro, "x", 1)));
	EXPECT_EQ(-EBADF, sys_ret(read(wo, buf, sizeof(buf))));
	EXPECT_EQ(-EACCES, map_ring(wo, PG, PROT_READ, MAP_SHARED, 0));
	EXPECT_EQ(-EACCES, map_ring(ro, PG, PROT_READ | PROT_WRITE,
				    MAP_SHARED, 0));
	ASSERT_EQ(0, raw_setup(ro, 4, MKIOQ_MODE_DOORBELL));
	ASSERT_EQ(0, raw_setup(wo, 4, MKIOQ_MODE_DOORBELL));
	EXPECT_EQ(-EBADF, sys_ret(write(ro, "x", 1)));
	EXPECT_EQ(-EBADF, sys_ret(read(wo, buf, sizeof(buf))));
	EXPECT_EQ(-EACCES, map_ring(ro, PG, PROT_READ | PROT_WRITE,
				    MAP_SHARED, 0));
	EXPECT_EQ(-EACCES, map_ring(wo, PG, PROT_WRITE, MAP_SHARED, 0));
	/* A read-only shared mapping of a read-only file is fine. */
	EXPECT_EQ(0, map_ring(ro, PG, PROT_READ, MAP_SHARED, 0));
	/* A kernel address is refused before the module sees the call. */
	EXPECT_EQ(-EFAULT, sys_ret(write(wo, (void *)0xffff888000000000UL,
					 1)));
	EXPECT_EQ(-EFAULT, sys_ret(read(ro, (void *)0xffff888000000000UL,
					sizeof(struct mkioq_cqe))));
	/* Any length rings, 0 included. */
	EXPECT_EQ(0, sys_ret(write(wo, "", 0)));
	EXPECT_EQ(3, sys_ret(write(wo, "abc", 3)));
	close(ro);
	close(wo);
}

/*
 * A FENCE held when the owner closes the queue completes with ERROR
 * ECANCELED in the ring, which stays mapped; the slot it waited for is
 * not touched.
 */
TEST(fence_cancelled_by_owner_close)
{
	struct mkioq_request fence = {
		.op = MKIOQ_OP_FENCE, .src_handle = 1, .tag = 31,
	};
	uint32_t *ring, *w3;
	int fd = raw_open(O_RDWR);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, raw_setup(fd, 8, MKIOQ_MODE_DOORBELL));
	ring = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, ring);
	/* Slot 3: a producer's reservation, never published. */
	w3 = &ring[3 * MKIOQ_SLOT_WORDS];
	__atomic_store_n(&w3[MKIOQ_WORD_STATUS], MKIOQ_STATE_CLAIMED,
			 __ATOMIC_RELEASE);
	publish_words(ring, 0, &fence);
	ASSERT_EQ(0, ioctl(fd, MKIOQ_IOC_DOORBELL, 0));
	/* Claimed and held: slot 3 read CLAIMED when it was claimed. */
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, __atomic_load_n(&ring[MKIOQ_WORD_STATUS],
						      __ATOMIC_ACQUIRE));
	close(fd);
	EXPECT_EQ(MKIOQ_RESULT_ERROR, __atomic_load_n(&ring[MKIOQ_WORD_STATUS],
						    __ATOMIC_ACQUIRE));
	EXPECT_EQ(ECANCELED, ring[MKIOQ_WORD_TAG]);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, w3[MKIOQ_WORD_STATUS]);
	munmap(ring, PG);
}

/* ------------------------------------------------------------------ */
/* A queue with buffers                                                */
/* ------------------------------------------------------------------ */

FIXTURE(eq) {
	struct mkioq_queue *q;
	int drm, fd;
	struct test_buf src, dst, ro;
	/* READ on src, RW and WRITE-only on dst, READ on a read-only fd. */
	uint32_t hsrc, hdst, hwo, hro;
};

FIXTURE_SETUP(eq)
{
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, 0, &self->q));
	self->fd = mkioq_queue_fd(self->q);
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, false, &self->ro));
	pattern_fill(self->src.map, BUF_BYTES, 7, 0);
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_WRITE, &self->hwo));
	ASSERT_EQ(0, mkioq_register(self->q, self->ro.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hro));
}

FIXTURE_TEARDOWN(eq)
{
	mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	test_buf_destroy(&self->ro);
	close(self->drm);
}

/*
 * REGISTER checks its fields, then the fd (dma_buf_get(): EBADF, EINVAL
 * for a file that is no dma-buf), then access (EACCES), then the range
 * (EOVERFLOW, ERANGE); a handle that cannot be written back is dropped
 * again and the call fails EFAULT.
 */
TEST_F(eq, register_errnos)
{
	struct mkioq_handle_reg r, *ro;
	struct mkioq_info info;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-EFAULT, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, NULL)));
	/* Fields before the fd: EINVAL with a closed fd. */
	r = (struct mkioq_handle_reg){ .fd = -1, .access = MKIOQ_ACCESS_READ,
				       .length = 1, .flags = 2 };
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	/* MKIOQ_REG_F_FILE: the fd as a file (storage_test.c has the rest). */
	r.flags = MKIOQ_REG_F_FILE;
	EXPECT_EQ(-EBADF, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	r.fd = p[0];
	EXPECT_EQ(-ESPIPE, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	r.fd = -1;
	r.flags = 0;
	r.access = 0;
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	r.access = MKIOQ_ACCESS_READ;
	r.length = 0;
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	/* The fd before access and range. */
	r = (struct mkioq_handle_reg){ .fd = -1, .access = MKIOQ_ACCESS_WRITE,
				       .offset = UINT64_MAX, .length = 2 };
	EXPECT_EQ(-EBADF, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	r.fd = p[1];
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	/* Access before range: a read-only dma-buf asked for WRITE. */
	r.fd = self->ro.fd;
	r.access = MKIOQ_ACCESS_RW;
	EXPECT_EQ(-EACCES, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, &r)));
	/* Overflow before size. */
	r.access = MKIOQ_ACCESS_READ;
	EXPECT_EQ(-EOVERFLOW, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER,
					    &r)));

	/* Registered, but the handle cannot be stored: EFAULT, none kept. */
	r = (struct mkioq_handle_reg){ .fd = self->src.fd,
				       .access = MKIOQ_ACCESS_READ,
				       .length = 16 };
	ro = ro_copy(&r, sizeof(r));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-EFAULT, sys_ret(ioctl(self->fd, MKIOQ_IOC_REGISTER, ro)));
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(4, info.handles);
	munmap(ro, PG);
	close(p[0]);
	close(p[1]);
}

/* INFO.max_handles handles per file; the next REGISTER is ENOSPC. */
TEST_F_TIMEOUT(eq, handle_table_full, 300)
{
	struct mkioq_info info;
	uint32_t h, last = 0, n = 0;
	int ret;

	ASSERT_EQ(0, mkioq_info(self->q, &info));
	ASSERT_EQ(4096, info.max_handles);
	while ((ret = mkioq_register(self->q, self->src.fd, n % BUF_BYTES, 1,
				     MKIOQ_ACCESS_READ, &h)) == 0) {
		last = h;
		if (++n > info.max_handles)
			break;
	}
	EXPECT_EQ(-ENOSPC, ret);
	EXPECT_EQ(info.max_handles - 4, n);
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(info.max_handles, info.handles);
	/* Every other check comes before the table's: ERANGE, EACCES. */
	EXPECT_EQ(-ERANGE, mkioq_register(self->q, self->src.fd,
					  self->src.size, 1,
					  MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EACCES, mkioq_register(self->q, self->ro.fd, 0, 1,
					  MKIOQ_ACCESS_WRITE, &h));
	/* One freed, one fits again. */
	ASSERT_EQ(0, mkioq_unregister(self->q, last));
	EXPECT_EQ(0, mkioq_register(self->q, self->src.fd, 0, 1,
				    MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-ENOSPC, mkioq_register(self->q, self->src.fd, 0, 1,
					  MKIOQ_ACCESS_READ, &h));
}

/* UNREGISTER: the struct, then flags (EINVAL), then the handle. */
TEST_F(eq, unregister_errnos)
{
	struct mkioq_handle_unreg u = { .handle = NO_HANDLE, .flags = 1 };

	EXPECT_EQ(-EFAULT, sys_ret(ioctl(self->fd, MKIOQ_IOC_UNREGISTER,
					 NULL)));
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(self->fd, MKIOQ_IOC_UNREGISTER, &u)));
	u.handle = self->hsrc;
	EXPECT_EQ(-EINVAL, sys_ret(ioctl(self->fd, MKIOQ_IOC_UNREGISTER, &u)));
	u.flags = 0;
	EXPECT_EQ(0, sys_ret(ioctl(self->fd, MKIOQ_IOC_UNREGISTER, &u)));
	EXPECT_EQ(-ENOENT, sys_ret(ioctl(self->fd, MKIOQ_IOC_UNREGISTER, &u)));
}

struct req_case {
	const char *what;
	struct mkioq_request req;
	int err;		/* 0: completes OK */
};

/* Publish @n cases from slot @first, ring once, check each. */
static void run_cases(struct __test_metadata *_metadata,
		      FIXTURE_DATA(eq) *self, const struct req_case *c,
		      unsigned int n, uint32_t first)
{
	struct mkioq_cqe cqes[64];
	unsigned int i, got = 0;
	int k;

	for (i = 0; i < n; i++) {
		struct mkioq_request req = c[i].req;

		req.tag = 500 + i;
		publish_words(self->q->words, first + i, &req);
	}
	/* DOORBELL mode: serviced, FENCEs included, before it returns. */
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	for (i = 0; i < n; i++) {
		uint32_t s = first + i;

		if (c[i].err) {
			EXPECT_EQ(MKIOQ_RESULT_ERROR,
				  word(self->q, s, MKIOQ_WORD_STATUS))
				TH_LOG("%s", c[i].what);
			EXPECT_EQ(c[i].err, word(self->q, s, MKIOQ_WORD_TAG))
				TH_LOG("%s", c[i].what);
			/* BYTE_COUNT stays as submitted. */
			EXPECT_EQ(c[i].req.byte_count,
				  word(self->q, s, MKIOQ_WORD_BYTE_COUNT));
		} else {
			EXPECT_EQ(MKIOQ_RESULT_OK,
				  word(self->q, s, MKIOQ_WORD_STATUS))
				TH_LOG("%s: TAG %u", c[i].what,
				       word(self->q, s, MKIOQ_WORD_TAG));
			EXPECT_EQ(c[i].req.op == MKIOQ_OP_FENCE ? 0 :
				  c[i].req.byte_count,
				  word(self->q, s, MKIOQ_WORD_BYTE_COUNT));
		}
	}
	while (got < n) {
		k = mkioq_read_cqes(self->q, cqes + got, 64 - got, 1000);
		ASSERT_GT(k, 0);
		got += k;
	}
	ASSERT_EQ(n, got);
	for (i = 0; i < got; i++) {
		const struct req_case *rc;

		ASSERT_LT(cqes[i].slot - first, n);
		rc = &c[cqes[i].slot - first];
		EXPECT_EQ(500 + cqes[i].slot - first, cqes[i].tag);
		EXPECT_EQ(rc->err ? MKIOQ_RESULT_ERROR : MKIOQ_RESULT_OK,
			  cqes[i].status);
		EXPECT_EQ(rc->err ? -rc->err :
			  rc->req.op == MKIOQ_OP_FENCE ? 0 :
			  (int)rc->req.byte_count, cqes[i].result)
			TH_LOG("%s", rc->what);
		EXPECT_EQ(0, cqes[i].flags);
	}
}

/*
 * A request is checked in this order: OP (EOPNOTSUPP), BYTE_COUNT
 * (EFBIG), both handles (ENOENT), their access (EACCES), the source's
 * range, then the destination's (EOVERFLOW, ERANGE). Each case below is
 * wrong in two or more ways; the first check's errno is the one written.
 */
TEST_F(eq, request_precedence)
{
	const uint32_t S = self->hsrc, D = self->hdst, W = self->hwo,
		       R = self->hro, X = NO_HANDLE;
	const struct req_case cases[] = {
		{ "bad op, huge, no handles",
		  { 0x7, X, X, 0x80000000u, 0, 0 }, EOPNOTSUPP },
		{ "op 0, bad range",
		  { 0, S, D, 16, UINT64_MAX, 0 }, EOPNOTSUPP },
		{ "huge, no handles",
		  { MKIOQ_OP_READ, X, X, 0x80000000u, 0, 0 }, EFBIG },
		{ "huge WRITE, read-only dst",
		  { MKIOQ_OP_WRITE, S, R, 0xffffffffu, 0, 0 }, EFBIG },
		{ "no src, read-only dst",
		  { MKIOQ_OP_READ, X, R, 16, 0, 0 }, ENOENT },
		{ "write-only src, no dst",
		  { MKIOQ_OP_READ, W, X, 16, 0, 0 }, ENOENT },
		{ "write-only src, bad range",
		  { MKIOQ_OP_READ, W, D, 16, 1ULL << 40, 0 }, EACCES },
		{ "read-only dst, overflow",
		  { MKIOQ_OP_READ, S, R, 16, UINT64_MAX, 0 }, EACCES },
		{ "src overflow, dst too small",
		  { MKIOQ_OP_READ, S, D, BUF_BYTES + 1, UINT64_MAX - 4, 0 },
		  EOVERFLOW },
		{ "WRITE: dst overflow",
		  { MKIOQ_OP_WRITE, S, D, 16, UINT64_MAX - 4, 0 }, EOVERFLOW },
		{ "src past end, dst too small",
		  { MKIOQ_OP_READ, S, D, BUF_BYTES + 1, 0, 0 }, ERANGE },
		{ "largest count is not EFBIG",
		  { MKIOQ_OP_READ, S, D, 0x7fffffffu, 0, 0 }, ERANGE },
		{ "src without READ",
		  { MKIOQ_OP_WRITE, W, D, 16, 0, 0 }, EACCES },
		{ "valid, for contrast",
		  { MKIOQ_OP_READ, S, W, 256, 100, 0 }, 0 },
		/* A FENCE's other words are never looked at. */
		{ "FENCE with junk words",
		  { MKIOQ_OP_FENCE, X, X, 0xffffffffu, UINT64_MAX, 0 }, 0 },
	};

	memset(self->dst.map, 0, BUF_BYTES);
	run_cases(_metadata, self, cases, ARRAY_SIZE(cases), 0);
	EXPECT_EQ(256, pattern_check(self->dst.map, 256, 7, 100));
	/* None of the failures wrote a byte. */
	for (uint32_t i = 256; i < BUF_BYTES; i++)
		ASSERT_EQ(0, self->dst.map[i]);
}

/*
 * BYTE_COUNT 0 is validated like any other request and then completes
 * OK with BYTE_COUNT 0, moving nothing; its offset may equal the range's
 * length.
 */
TEST_F(eq, zero_byte_requests)
{
	const uint32_t S = self->hsrc, D = self->hdst, R = self->hro,
		       X = NO_HANDLE;
	const struct req_case cases[] = {
		{ "READ 0", { MKIOQ_OP_READ, S, D, 0, 0, 0 }, 0 },
		{ "READ 0 at the end", { MKIOQ_OP_READ, S, D, 0, BUF_BYTES, 0 },
		  0 },
		{ "WRITE 0 at the end",
		  { MKIOQ_OP_WRITE, S, D, 0, BUF_BYTES, 0 }, 0 },
		{ "READ 0 past the end",
		  { MKIOQ_OP_READ, S, D, 0, BUF_BYTES + 1, 0 }, ERANGE },
		{ "READ 0 overflow",
		  { MKIOQ_OP_READ, S, D, 0, UINT64_MAX, 0 }, ERANGE },
		{ "READ 0, no dst", { MKIOQ_OP_READ, S, X, 0, 0, 0 }, ENOENT },
		{ "READ 0, read-only dst", { MKIOQ_OP_READ, S, R, 0, 0, 0 },
		  EACCES },
		{ "op 9, 0 bytes", { 0x9, S, D, 0, 0, 0 }, EOPNOTSUPP },
	};

	pattern_fill(self->dst.map, BUF_BYTES, 3, 0);
	run_cases(_metadata, self, cases, ARRAY_SIZE(cases), 10);
	EXPECT_EQ(BUF_BYTES, pattern_check(self->dst.map, BUF_BYTES, 3, 0));
}

struct ringer {
	struct mkioq_queue *q;
	int ret;
	atomic_int done;
};

static void *ring_doorbell(void *arg)
{
	struct ringer *r = arg;

	r->ret = mkioq_doorbell(r->q);
	atomic_store(&r->done, 1);
	return NULL;
}

/*
 * dma_buf_begin_cpu_access() waits for the buffer's fences, and a signal
 * interrupts that wait in the ringing thread (DOORBELL mode): every
 * request of the pass that uses the buffer completes ERROR EINTR, the
 * others of the pass complete, and the doorbell itself succeeds.
 */
TEST_F(eq, interrupted_cpu_access_is_eintr)
{
	struct vgem_fence_attach fa = { .flags = VGEM_FENCE_WRITE };
	struct vgem_fence_signal fs = { 0 };
	struct ringer rg = { .q = self->q };
	struct mkioq_cqe cqes[4];
	struct sigaction old;
	struct test_buf d2;
	uint32_t hd2;
	pthread_t th;
	bool done;
	int n, i;

	if (self->dst.kind != TEST_BUF_VGEM)
		SKIP(return, "needs vgem buffers (MKIOQ_EXPORTER=%s)",
		     test_exporter());
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &d2));
	ASSERT_EQ(TEST_BUF_VGEM, d2.kind);
	ASSERT_EQ(0, mkioq_register(self->q, d2.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_WRITE, &hd2));
	/* An unsignalled fence on dst: CPU access to it waits. */
	fa.handle = self->dst.gem_handle;
	ASSERT_EQ(0, drmIoctl(self->drm, VGEM_IOCTL_FENCE_ATTACH, &fa));
	fs.fence = fa.out_fence;

	publish_words(self->q->words, 0, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
		.dst_handle = self->hdst, .byte_count = 64, .tag = 40 });
	publish_words(self->q->words, 1, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
		.dst_handle = self->hwo, .byte_count = 32, .tag = 41 });
	publish_words(self->q->words, 2, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
		.dst_handle = hd2, .byte_count = 16, .tag = 42 });
	catch_sigusr1(&old);
	ASSERT_EQ(0, pthread_create(&th, NULL, ring_doorbell, &rg));
	/* All three are claimed in one pass before any CPU access begins. */
	while (word(self->q, 2, MKIOQ_WORD_STATUS) != MKIOQ_STATE_CLAIMED &&
	       !atomic_load(&rg.done))
		usleep(1000);
	EXPECT_FALSE(atomic_load(&rg.done));
	done = interrupt_until(th, &rg.done, 5000);
	/* Not interrupted: let it go, and fail. */
	drmIoctl(self->drm, VGEM_IOCTL_FENCE_SIGNAL, &fs);
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	ASSERT_TRUE(done);
	EXPECT_EQ(0, rg.ret);

	EXPECT_EQ(MKIOQ_RESULT_ERROR, word(self->q, 0, MKIOQ_WORD_STATUS));
	EXPECT_EQ(EINTR, word(self->q, 0, MKIOQ_WORD_TAG));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, word(self->q, 1, MKIOQ_WORD_STATUS));
	EXPECT_EQ(EINTR, word(self->q, 1, MKIOQ_WORD_TAG));
	EXPECT_EQ(MKIOQ_RESULT_OK, word(self->q, 2, MKIOQ_WORD_STATUS));
	EXPECT_EQ(16, pattern_check(d2.map, 16, 7, 0));
	n = mkioq_read_cqes(self->q, cqes, 4, 1000);
	ASSERT_EQ(3, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(40 + cqes[i].slot, cqes[i].tag);
		EXPECT_EQ(cqes[i].slot == 2 ? 16 : -EINTR, cqes[i].result);
	}
	/* Signalled: the same request now completes. */
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 0, self->hsrc, self->hdst,
					   64, 43));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	EXPECT_EQ(MKIOQ_RESULT_OK, word(self->q, 0, MKIOQ_WORD_STATUS));
	EXPECT_EQ(64, pattern_check(self->dst.map, 64, 7, 0));
	drain_cqes(self->q);
	test_buf_destroy(&d2);
}

struct reader {
	int fd;
	long ret;
	atomic_int done;
};

static void *blocking_read(void *arg)
{
	struct reader *r = arg;
	struct mkioq_cqe cqe;

	r->ret = sys_ret(read(r->fd, &cqe, sizeof(cqe)));
	atomic_store(&r->done, 1);
	return NULL;
}

/*
 * read(): count below one record is EINVAL; a buffer that faults is
 * EFAULT if no record was stored, else the bytes stored, and records not
 * stored stay queued in order; an empty queue is EAGAIN, or EINTR for a
 * blocking reader that a signal interrupts. poll(): EPOLLOUT always,
 * EPOLLIN while records wait.
 */
TEST_F(eq, read_and_poll)
{
	struct pollfd pfd = {
		.fd = self->fd,
		.events = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
	};
	struct reader rd = { .fd = self->fd };
	uint8_t *g = guard_pages();
	struct mkioq_cqe cqes[64], *part;
	struct sigaction old;
	pthread_t th;
	uint32_t s;
	int fl;

	ASSERT_NE(NULL, g);
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT | POLLWRNORM, pfd.revents);
	for (s = 0; s < 64; s++)
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, s, self->hsrc,
						   self->hdst, 8, s));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM, pfd.revents);

	EXPECT_EQ(-EINVAL, sys_ret(read(self->fd, cqes, sizeof(cqes[0]) - 1)));
	/* Faults at once: EFAULT, nothing lost. */
	EXPECT_EQ(-EFAULT, sys_ret(read(self->fd, g + PG, sizeof(cqes))));
	/*
	 * Faults after 16 records (records are stored 16 at a time): the
	 * 16 are returned, the 4 taken after them are put back.
	 */
	part = (void *)(g + PG - 16 * sizeof(*part));
	ASSERT_EQ(16 * sizeof(*part),
		  sys_ret(read(self->fd, part, 20 * sizeof(*part))));
	for (s = 0; s < 16; s++)
		EXPECT_EQ(s, part[s].slot);
	ASSERT_EQ(48 * sizeof(cqes[0]),
		  sys_ret(read(self->fd, cqes, sizeof(cqes))));
	for (s = 0; s < 48; s++) {
		EXPECT_EQ(16 + s, cqes[s].slot);
		EXPECT_EQ(16 + s, cqes[s].tag);
		EXPECT_EQ(8, cqes[s].result);
	}
	EXPECT_EQ(-EAGAIN, sys_ret(read(self->fd, cqes, sizeof(cqes))));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT | POLLWRNORM, pfd.revents);

	/* A blocking reader, interrupted by a signal. */
	fl = fcntl(self->fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl & ~O_NONBLOCK));
	catch_sigusr1(&old);
	ASSERT_EQ(0, pthread_create(&th, NULL, blocking_read, &rd));
	if (!interrupt_until(th, &rd.done, 5000)) {
		/* Not interrupted: give it a record so it returns. */
		ASSERT_EQ(0, mkioq_recycle(self->q, 0));
		mkioq_submit_dma_read(self->q, 0, self->hsrc, self->hdst, 8, 0);
		mkioq_doorbell(self->q);
	}
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	fcntl(self->fd, F_SETFL, fl);
	EXPECT_EQ(-EINTR, rd.ret);
	munmap(g, 2 * PG);
}

/*
 * Overflow: with cq_entries records queued and nobody reading, the next
 * completions are dropped and counted. The count rides on the next record
 * delivered (the oldest queued one, which completed before the dropped
 * ones) with MKIOQ_CQE_F_OVERFLOW; a WAIT for a slot that lost a record
 * gets an -ENOBUFS notice (OVERFLOW | NOTICE, status 0) once.
 */
TEST_F_TIMEOUT(eq, overflow_record_and_notice, 300)
{
	struct mkioq_cqe *cqes, rec;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct mkioq_info info;
	uint32_t r, s, rounds, total, flagged = 0;
	int n, got = 0;

	ASSERT_EQ(0, mkioq_info(self->q, &info));
	ASSERT_EQ(0, info.cq_entries % 64);
	rounds = info.cq_entries / 64 + 1;
	total = rounds * 64;
	cqes = calloc(total, sizeof(*cqes));
	ASSERT_NE(NULL, cqes);
	for (r = 0; r < rounds; r++) {
		for (s = 0; s < 64; s++)
			ASSERT_EQ(0, mkioq_submit_dma_read(self->q, s,
				self->hsrc, self->hdst, 8, r * 64 + s));
		ASSERT_EQ(0, mkioq_doorbell(self->q));
		for (s = 0; s < 64; s++) {
			ASSERT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, s));
			ASSERT_EQ(0, mkioq_recycle(self->q, s));
		}
	}
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(total, info.completed);
	EXPECT_EQ(total - info.cq_entries, info.cq_overflow);

	while ((n = mkioq_read_cqes(self->q, cqes + got, total - got, 0)) > 0)
		got += n;
	ASSERT_EQ(info.cq_entries, got);
	/* The oldest record carries the count of the newest ones dropped. */
	EXPECT_EQ(MKIOQ_CQE_F_OVERFLOW, cqes[0].flags);
	EXPECT_EQ(total - info.cq_entries, cqes[0].dropped);
	EXPECT_EQ(0, cqes[0].slot);
	EXPECT_EQ(0, cqes[0].tag);
	EXPECT_EQ(MKIOQ_RESULT_OK, cqes[0].status);
	EXPECT_EQ(8, cqes[0].result);
	for (n = 0; n < got; n++)
		flagged += cqes[n].flags != 0;
	EXPECT_EQ(1, flagged);
	/* The count was delivered: no notice of its own follows. */
	EXPECT_EQ(-EAGAIN, sys_ret(read(self->fd, &rec, sizeof(rec))));

	/* Slot 5 lost its last record: its next WAIT says so, once. */
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	memset(&rec, 0xa5, sizeof(rec));
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_wait(&ring, sqe, self->fd, 5, &rec);
	EXPECT_EQ(-ENOBUFS, one_cmd(&ring, sqe));
	EXPECT_EQ(5, rec.slot);
	EXPECT_EQ(0, rec.status);
	EXPECT_EQ(-ENOBUFS, rec.result);
	EXPECT_EQ(MKIOQ_CQE_F_OVERFLOW | MKIOQ_CQE_F_NOTICE, rec.flags);
	EXPECT_EQ(0, rec.dropped);
	/* The next WAIT for slot 5 parks and gets the next completion. */
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_wait(&ring, sqe, self->fd, 5, &rec);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 5, self->hsrc, self->hdst,
					   24, 77));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ(24, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	EXPECT_EQ(77, rec.tag);
	EXPECT_EQ(0, rec.flags);
	io_uring_queue_exit(&ring);
	free(cqes);
}

/*
 * A WAIT's CQE carries a failed request's negative errno, with the
 * record (status ERROR, the original tag) at cqe_addr.
 */
TEST_F(eq, wait_gets_request_errno)
{
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	struct mkioq_cqe rec;

	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	mkioq_prep_wait(&ring, io_uring_get_sqe(&ring), self->fd, 3, &rec);
	ASSERT_EQ(1, io_uring_submit(&ring));
	publish_words(self->q->words, 3, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
		.dst_handle = NO_HANDLE, .byte_count = 16, .tag = 77 });
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ(-ENOENT, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	EXPECT_EQ(3, rec.slot);
	EXPECT_EQ(MKIOQ_RESULT_ERROR, rec.status);
	EXPECT_EQ(-ENOENT, rec.result);
	EXPECT_EQ(77, rec.tag);
	EXPECT_EQ(0, rec.flags);
	EXPECT_EQ(ENOENT, word(self->q, 3, MKIOQ_WORD_TAG));
	io_uring_queue_exit(&ring);
}

#define MAX_WAITS	4096	/* parked WAITs per file (the module's) */

/*
 * At most MAX_WAITS WAITs park on a file: the next is EBUSY, unless a
 * record is waiting for it. Closing the file cancels every parked one.
 */
TEST_F_TIMEOUT(eq, wait_table_full, 300)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE, .cq_entries = 2 * MAX_WAITS,
	};
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct mkioq_cqe rec;
	unsigned int i, cancelled = 0, other = 0;

	ASSERT_EQ(0, io_uring_queue_init_params(MAX_WAITS, &ring, &p));
	for (i = 0; i < MAX_WAITS; i++) {
		sqe = io_uring_get_sqe(&ring);
		ASSERT_NE(NULL, sqe);
		mkioq_prep_wait(&ring, sqe, self->fd, 1, NULL);
		io_uring_sqe_set_data64(sqe, i);
	}
	ASSERT_EQ(MAX_WAITS, io_uring_submit(&ring));
	/* All parked: no CQE yet. */
	EXPECT_EQ(-EAGAIN, io_uring_peek_cqe(&ring, &cqe));

	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_wait(&ring, sqe, self->fd, 2, NULL);
	EXPECT_EQ(-EBUSY, one_cmd(&ring, sqe));
	/* A record waiting for it: taken at once, never refused. */
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 0, self->hsrc, self->hdst,
					   40, 9));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_wait(&ring, sqe, self->fd, 0, &rec);
	EXPECT_EQ(40, one_cmd(&ring, sqe));
	EXPECT_EQ(9, rec.tag);

	/* The owner's close cancels all of them. */
	mkioq_queue_free(self->q);
	self->q = NULL;
	for (i = 0; i < MAX_WAITS; i++) {
		struct __kernel_timespec ts = { .tv_sec = 20 };

		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
		if (cqe->res == -ECANCELED)
			cancelled++;
		else
			other++;
		io_uring_cqe_seen(&ring, cqe);
	}
	EXPECT_EQ(MAX_WAITS, cancelled);
	EXPECT_EQ(0, other);
	io_uring_queue_exit(&ring);
}

/*
 * DONE belongs to the consumer: the module never claims it or posts a
 * record for it, and libmkioq's recycle takes it to EMPTY.
 */
TEST_F(eq, done_is_left_alone)
{
	uint32_t before[MKIOQ_SLOT_WORDS], *w = &self->q->words[4 * 8];
	struct mkioq_cqe rec;

	publish_words(self->q->words, 4, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
		.dst_handle = self->hdst, .byte_count = 16, .tag = 4 });
	__atomic_store_n(&w[MKIOQ_WORD_STATUS], MKIOQ_STATE_DONE,
			 __ATOMIC_RELEASE);
	memcpy(before, w, sizeof(before));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	EXPECT_EQ(0, memcmp(before, w, sizeof(before)));
	EXPECT_EQ(-EAGAIN, sys_ret(read(self->fd, &rec, sizeof(rec))));
	EXPECT_EQ(-EAGAIN, mkioq_claim(self->q, 4));
	EXPECT_EQ(0, mkioq_recycle(self->q, 4));
	EXPECT_EQ(MKIOQ_STATE_EMPTY, mkioq_slot_status(self->q, 4));
}

/* The checks of a forked child after the owner closed; 0 or the step. */
static int after_owner_closed(int fd, uint32_t *ring_words, uint32_t h)
{
	struct mkioq_setup s = { .size = sizeof(s), .slot_count = 4 };
	struct mkioq_handle_unreg u = { .handle = h, .flags = 1 };
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };
	struct mkioq_uring_wait bad = { .flags = 1 };
	struct io_uring_sqe *sqe;
	struct mkioq_info info;
	struct io_uring ring;
	char buf[64];

	/* SETUP is not a call on the queue: EBUSY (or EINVAL), not ENXIO. */
	if (sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, &s)) != -EBUSY)
		return 1;
	s.slot_count = 0;
	if (sys_ret(ioctl(fd, MKIOQ_IOC_SETUP, &s)) != -EINVAL)
		return 2;
	/* The state before the argument. */
	if (sys_ret(ioctl(fd, MKIOQ_IOC_DOORBELL, 1)) != -ENXIO)
		return 3;
	if (sys_ret(ioctl(fd, MKIOQ_IOC_UNREGISTER, &u)) != -ENXIO)
		return 4;
	if (sys_ret(ioctl(fd, MKIOQ_IOC_REGISTER, NULL)) != -ENXIO)
		return 5;
	if (sys_ret(ioctl(fd, _IO(MKIOQ_IOC_MAGIC, 0x05))) != -ENOTTY)
		return 6;
	if (sys_ret(read(fd, buf, 1)) != -ENXIO)
		return 7;
	if (sys_ret(write(fd, "x", 1)) != -ENXIO)
		return 8;
	if (map_ring(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0) != -ENXIO)
		return 9;
	if (poll(&pfd, 1, 0) != 1 || pfd.revents != POLLERR)
		return 10;
	/* INFO still answers: the shape stays, the handles are gone. */
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (ioctl(fd, MKIOQ_IOC_INFO, &info) || info.slot_count != 64 ||
	    info.handles != 0 || info.version != MKIOQ_ABI_VERSION)
		return 11;
	if (io_uring_queue_init(8, &ring, 0))
		return 12;
	if (uring_op(&ring, fd, MKIOQ_URING_CMD_DOORBELL) != -ENXIO)
		return 13;
	if (uring_op(&ring, fd, 0x77) != -ENXIO)
		return 14;
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_cmd(&ring, sqe, fd, MKIOQ_URING_CMD_WAIT);
	memcpy(sqe->cmd, &bad, sizeof(bad));
	if (one_cmd(&ring, sqe) != -ENXIO)
		return 15;
	io_uring_queue_exit(&ring);
	/* The inherited mapping is still memory. */
	ring_words[63 * 8 + MKIOQ_WORD_TAG] = 0x600d;
	if (__atomic_load_n(&ring_words[63 * 8 + MKIOQ_WORD_TAG],
			    __ATOMIC_ACQUIRE) != 0x600d)
		return 16;
	return 0;
}

/*
 * A forked child that inherits the file uses the same queue; its close
 * does not shut the queue down. After the owner's close every call but
 * INFO is ENXIO (SETUP: EBUSY), the state checked before the arguments.
 */
TEST_F(eq, child_before_and_after_owner_close)
{
	int status, go[2];
	pid_t pid;
	char c;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int ok = mkioq_doorbell(self->q) == 0 &&
			 mkioq_submit_dma_read(self->q, 7, self->hsrc,
					       self->hdst, 8, 7) == 0 &&
			 mkioq_doorbell(self->q) == 0 &&
			 mkioq_slot_status(self->q, 7) == MKIOQ_RESULT_OK;

		close(self->fd);
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The child's close left the queue alone; its record is ours too. */
	EXPECT_EQ(1, drain_cqes(self->q));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 8, self->hsrc, self->hdst,
					   8, 8));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, 8));

	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(100);
		_exit(after_owner_closed(self->fd, self->q->words,
					 self->hsrc));
	}
	close(go[0]);
	/* The owner closes its only descriptor: the queue shuts down. */
	close(self->fd);
	ASSERT_EQ(1, write(go[1], "c", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child failed at step %d", WEXITSTATUS(status));
	close(go[1]);
	/* Teardown's close of the descriptor must hit nothing else. */
	self->q->fd = open("/dev/null", O_RDONLY);
}

TEST_HARNESS_MAIN
