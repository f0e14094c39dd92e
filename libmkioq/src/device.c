// SPDX-License-Identifier: MIT
/*
 * Device-backed queues: /dev/mkioqN set up and its ring mapped (and
 * unmapped and closed again), dma-buf handles, the doorbell and
 * completion records.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ring.h"
#include "util.h"

static int device_ioctl(struct mkioq_queue *q, unsigned long req, void *arg)
{
	if (!q)
		return -EINVAL;
	if (!(q->flags & MKIOQ_QUEUE_F_DEVICE))
		return -ENOTTY;
	return ioctl(q->fd, req, arg) < 0 ? -errno : 0;
}

int mkioq_queue_open_setup(const char *path, struct mkioq_setup *setup,
			   struct mkioq_queue **qp)
{
	struct mkioq_queue *q;
	void *map;
	int fd, ret;

	if (!path || !setup || !qp)
		return -EINVAL;
	/*
	 * The one field the library can judge alone (a uapi constant): a bad
	 * count is -EINVAL before open() can say -ENOENT or -EACCES. The
	 * other fields are the module's to judge.
	 */
	if (!ring_slot_count_valid(setup->slot_count))
		return -EINVAL;
	/* Non-blocking, so mkioq_read_cqes() never sleeps in read(). */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	setup->size = sizeof(*setup);
	if (ioctl(fd, MKIOQ_IOC_SETUP, setup) < 0) {
		ret = -errno;
		goto err_close;
	}
	map = mmap(NULL, setup->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	q = queue_alloc();
	if (!q) {
		ret = -ENOMEM;
		munmap(map, setup->ring_bytes);
		goto err_close;
	}
	q->words = map;
	q->map_bytes = setup->ring_bytes;
	q->slot_count = setup->slot_count;
	q->flags = MKIOQ_QUEUE_F_DEVICE;
	q->mode = setup->mode;
	q->fd = fd;
	*qp = q;
	return 0;

err_close:
	close(fd);
	return ret;
}

void device_release(struct mkioq_queue *q)
{
	munmap(q->words, q->map_bytes);
	/*
	 * The file last: closing it cancels the WAITs parked on it, the
	 * ones of a helper's ring included (freed after this).
	 */
	close(q->fd);
	q->words = NULL;
	q->fd = -1;
}

int mkioq_queue_open(const char *path, uint32_t slot_count, unsigned int flags,
		     struct mkioq_queue **qp)
{
	struct mkioq_setup setup = {
		.slot_count = slot_count,
		.mode = flags & MKIOQ_OPEN_POLL ? MKIOQ_MODE_POLL :
						  MKIOQ_MODE_DOORBELL,
	};

	/* Every argument is checked before anything is opened. */
	if (flags & ~MKIOQ_OPEN_POLL)
		return -EINVAL;
	if (!ring_slot_count_valid(slot_count))
		return -EINVAL;
	return mkioq_queue_open_setup(path, &setup, qp);
}

/* MKIOQ_IOC_REGISTER, of a dma-buf or (MKIOQ_REG_F_FILE) a file. */
static int device_register(struct mkioq_queue *q, int fd, uint64_t offset,
			   uint64_t length, uint32_t access, uint32_t flags,
			   uint32_t *handle)
{
	struct mkioq_handle_reg reg = {
		.fd = fd,
		.access = access,
		.offset = offset,
		.length = length,
		.flags = flags,
	};
	int ret;

	if (!handle)
		return -EINVAL;
	ret = device_ioctl(q, MKIOQ_IOC_REGISTER, &reg);
	if (!ret)
		*handle = reg.handle;
	return ret;
}

int mkioq_register(struct mkioq_queue *q, int dmabuf_fd, uint64_t offset,
		   uint64_t length, uint32_t access, uint32_t *handle)
{
	return device_register(q, dmabuf_fd, offset, length, access, 0, handle);
}

int mkioq_register_file(struct mkioq_queue *q, int fd, uint64_t offset,
			uint64_t length, uint32_t access, uint32_t *handle)
{
	return device_register(q, fd, offset, length, access,
			       MKIOQ_REG_F_FILE, handle);
}

int mkioq_unregister(struct mkioq_queue *q, uint32_t handle)
{
	struct mkioq_handle_unreg unreg = { .handle = handle };

	return device_ioctl(q, MKIOQ_IOC_UNREGISTER, &unreg);
}

int mkioq_doorbell(struct mkioq_queue *q)
{
	return device_ioctl(q, MKIOQ_IOC_DOORBELL, NULL);
}

int mkioq_info(struct mkioq_queue *q, struct mkioq_info *info)
{
	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return device_ioctl(q, MKIOQ_IOC_INFO, info);
}

/*
 * Read up to @max completion records. Waits up to @timeout_ms for the
 * first (-1: forever, 0: not at all); returns the number read, or
 * -ETIMEDOUT when none arrived in time.
 */
int mkioq_read_cqes(struct mkioq_queue *q, struct mkioq_cqe *cqes,
		    unsigned int max, int timeout_ms)
{
	int64_t deadline = (int64_t)mono_ms() + timeout_ms;
	struct pollfd pfd;
	ssize_t n;
	int ret, wait = timeout_ms;

	if (!q || !cqes || !max)
		return -EINVAL;
	if (!(q->flags & MKIOQ_QUEUE_F_DEVICE))
		return -ENOTTY;
	pfd.fd = q->fd;
	pfd.events = POLLIN;
	for (;;) {
		/* The fd is non-blocking: read first, sleep in poll(). */
		n = read(q->fd, cqes, (size_t)max * sizeof(*cqes));
		if (n >= 0)
			return (int)(n / (ssize_t)sizeof(*cqes));
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (timeout_ms >= 0) {
			wait = (int)(deadline - (int64_t)mono_ms());
			if (wait <= 0)
				return -ETIMEDOUT;
		}
		ret = poll(&pfd, 1, wait);
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}
