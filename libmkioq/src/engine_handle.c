// SPDX-License-Identifier: MIT
/*
 * The engine's handles: a range of host memory, of a dma-buf that the
 * engine maps, or of a file (pread()/pwrite()), registered under a small integer that the ring's SRC_HANDLE and
 * DST_HANDLE words name. The numbers, checks and errnos are those of the
 * module's MKIOQ_IOC_REGISTER (driver/mkioq_handle.c): 1..4096, the lowest
 * free number first, ENOSPC when full, ENOENT for an unknown one.
 *
 * A worker resolves a request's handles, and references them, while it
 * holds its own lock from the claim's compare-and-swap on; unregister
 * removes the number holding every worker's lock, so a request claimed
 * before it keeps its buffers (the last reference unmaps, never a wait)
 * and one claimed after it fails with ENOENT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include "engine.h"

#ifndef DMA_BUF_MAGIC
#define DMA_BUF_MAGIC	0x444d4142	/* "DMAB", <linux/magic.h> */
#endif

/* The checks of the module's mkioq_handle_check(), in its order. */
static int engine_handle_check(uint32_t access, uint64_t length)
{
	if (!access || access & ~MKIOQ_ACCESS_RW)
		return -EINVAL;
	if (!length)
		return -EINVAL;
	return 0;
}

/*
 * Give @h the lowest free number, as xa_alloc() does. Release: the
 * handle's fields are visible to a worker that loads the pointer; pairs
 * with the acquiring load in engine_handle_get_locked().
 */
static int engine_table_insert(struct mkioq_engine *e,
			       struct engine_handle *h, uint32_t *handle)
{
	uint32_t id;
	int ret = -ENOSPC;

	pthread_mutex_lock(&e->table_lock);
	for (id = 1; id <= MKIOQ_ENGINE_MAX_HANDLES; id++) {
		if (atomic_load_explicit(&e->table[id],
					 memory_order_relaxed))
			continue;
		atomic_store_explicit(&e->table[id], h, memory_order_release);
		atomic_fetch_add_explicit(&e->nhandles, 1,
					  memory_order_relaxed);
		*handle = id;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&e->table_lock);
	return ret;
}

/*
 * A new handle of [@base, @base + @length) with @access, over dma-buf
 * mapping @buf (NULL: host memory), or of a file at @fd (else -1) from
 * @offset, holding the table's reference, and its number in *@handle.
 * Freed again if the table is full (the caller keeps @buf and @fd).
 */
static int engine_handle_add(struct mkioq_engine *e, uint8_t *base,
			     uint64_t length, uint32_t access,
			     struct engine_buf *buf, int fd, uint64_t offset,
			     uint32_t dio_align, uint32_t *handle)
{
	struct engine_handle *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	atomic_init(&h->ref, 1);
	h->base = base;
	h->length = length;
	h->access = access;
	h->buf = buf;
	h->fd = fd;
	h->offset = offset;
	h->dio_align = dio_align;
	ret = engine_table_insert(e, h, handle);
	if (ret)
		free(h);
	return ret;
}

/*
 * The first checks of every registration of a descriptor, the module's
 * first too: the arguments (EINVAL), then the descriptor (EBADF); its
 * status flags in *@fl.
 */
static int engine_reg_fd(struct mkioq_engine *e, int fd, uint32_t access,
			 uint64_t length, const uint32_t *handle, int *fl)
{
	int ret;

	if (!e || !handle)
		return -EINVAL;
	ret = engine_handle_check(access, length);
	if (ret)
		return ret;
	*fl = fcntl(fd, F_GETFL);
	return *fl < 0 ? -errno : 0;
}

int mkioq_engine_register_mem(struct mkioq_engine *e, void *addr,
			      uint64_t length, uint32_t access,
			      uint32_t *handle)
{
	uint64_t end;
	int ret;

	if (!e || !addr || !handle)
		return -EINVAL;
	ret = engine_handle_check(access, length);
	if (ret)
		return ret;
	if (__builtin_add_overflow((uint64_t)(uintptr_t)addr, length, &end) ||
	    end > UINTPTR_MAX)
		return -EOVERFLOW;
	return engine_handle_add(e, addr, length, access, NULL, -1, 0, 0,
				 handle);
}

/* Drop a handle's reference to its dma-buf; the last one unmaps it. */
static void engine_buf_put(struct mkioq_engine *e, struct engine_buf *b)
{
	struct engine_buf **pp;

	pthread_mutex_lock(&e->buf_lock);
	if (--b->refs) {
		pthread_mutex_unlock(&e->buf_lock);
		return;
	}
	for (pp = &e->bufs; *pp != b; pp = &(*pp)->next)
		;
	*pp = b->next;
	pthread_mutex_unlock(&e->buf_lock);
	munmap(b->map, b->size);
	close(b->fd);
	free(b);
}

/*
 * The mapping of dma-buf @fd, @size bytes, with at least @prot: the one
 * an earlier handle of the same buffer made (gaining @prot if it lacks
 * it), or a new one. Its own descriptor keeps the buffer for the
 * DMA_BUF_IOCTL_SYNC calls; the caller's may be closed after the call.
 */
static int engine_buf_get(struct mkioq_engine *e, int fd, size_t size,
			  int prot, struct engine_buf **bp)
{
	struct engine_buf *b = NULL;
	struct stat st;
	int ret = 0;

	if (fstat(fd, &st))
		return -errno;
	pthread_mutex_lock(&e->buf_lock);
	for (b = e->bufs; b; b = b->next)
		if (b->dev == st.st_dev && b->ino == st.st_ino)
			break;
	if (b) {
		/* Every fd of a dma-buf has the file's mode: this works. */
		if ((prot & ~b->prot) &&
		    mprotect(b->map, b->size, b->prot | prot)) {
			ret = -errno;
			goto out;
		}
		b->prot |= prot;
		b->refs++;
		*bp = b;
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	b->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (b->fd < 0) {
		ret = -errno;
		free(b);
		goto out;
	}
	b->map = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
	if (b->map == MAP_FAILED) {
		ret = -errno;
		close(b->fd);
		free(b);
		goto out;
	}
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	b->size = size;
	b->prot = prot;
	b->refs = 1;
	b->next = e->bufs;
	e->bufs = b;
	*bp = b;
out:
	pthread_mutex_unlock(&e->buf_lock);
	return ret;
}

/*
 * The module's mkioq_handle_register(), in its order: the arguments
 * (EINVAL), the descriptor (EBADF; EINVAL if no dma-buf), write access
 * (EACCES), the range (EOVERFLOW, ERANGE), then the mapping and the
 * number (ENOSPC).
 */
int mkioq_engine_register_dmabuf(struct mkioq_engine *e, int dmabuf_fd,
				 uint64_t offset, uint64_t length,
				 uint32_t access, uint32_t *handle)
{
	struct engine_buf *b = NULL;
	struct statfs sfs;
	uint64_t end;
	off_t size;
	int ret, fl;

	ret = engine_reg_fd(e, dmabuf_fd, access, length, handle, &fl);
	if (ret)
		return ret;
	if (fstatfs(dmabuf_fd, &sfs))
		return -errno;
	if (sfs.f_type != DMA_BUF_MAGIC)
		return -EINVAL;
	if ((access & MKIOQ_ACCESS_WRITE) && (fl & O_ACCMODE) == O_RDONLY)
		return -EACCES;
	if (__builtin_add_overflow(offset, length, &end))
		return -EOVERFLOW;
	/* A dma-buf's size, as its llseek reports it. */
	size = lseek(dmabuf_fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	if (end > (uint64_t)size)
		return -ERANGE;

	ret = engine_buf_get(e, dmabuf_fd, (size_t)size,
			     PROT_READ | (access & MKIOQ_ACCESS_WRITE ?
					  PROT_WRITE : 0), &b);
	if (ret)
		return ret;
	ret = engine_handle_add(e, b->map + offset, length, access, b, -1, 0,
				0, handle);
	if (ret)
		engine_buf_put(e, b);
	return ret;
}

/*
 * The direct-I/O alignment of file @fd opened O_DIRECT, or 0 if it cannot
 * be told: the module's mkioq_file_dio_align(). A block device's logical
 * block size (BLKSSZGET is bdev_logical_block_size()), or a regular
 * file's STATX_DIOALIGN offset alignment; none reported, 0, or a memory
 * or offset alignment above a page (the bounce buffer is page-aligned)
 * is 0.
 */
static uint32_t engine_dio_align(int fd, const struct stat *st)
{
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE), align;
	struct statx stx;
	int lbs = 0;

	if (S_ISBLK(st->st_mode)) {
		if (ioctl(fd, BLKSSZGET, &lbs) || lbs <= 0)
			return 0;
		align = (uint32_t)lbs;
	} else {
		memset(&stx, 0, sizeof(stx));
		if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) ||
		    !(stx.stx_mask & STATX_DIOALIGN) ||
		    stx.stx_dio_mem_align > page)
			return 0;
		align = stx.stx_dio_offset_align;
	}
	return align && !(align & (align - 1)) && align <= page ? align : 0;
}

/*
 * The module's MKIOQ_REG_F_FILE registration (driver/mkioq_handle.c), in
 * its order: the arguments (EINVAL), the descriptor (EBADF), its type
 * (EISDIR, ESPIPE, EINVAL), O_DIRECT without an alignment or with an
 * offset off it, and O_APPEND (EINVAL), the open mode (EACCES), the range
 * (EOVERFLOW; ERANGE past a block device's end, or for a regular file
 * past INT64_MAX, where the module has the file system's largest file),
 * then the number (ENOSPC). The handle keeps its own descriptor of the
 * open file, for pread() and pwrite().
 */
int mkioq_engine_register_file(struct mkioq_engine *e, int fd,
			       uint64_t offset, uint64_t length,
			       uint32_t access, uint32_t *handle)
{
	uint64_t end, limit = INT64_MAX;
	uint32_t dio_align = 0;
	struct stat st;
	int ret, fl, own;

	ret = engine_reg_fd(e, fd, access, length, handle, &fl);
	if (ret)
		return ret;
	/* The module's fget() refuses O_PATH descriptors. */
	if (fl & O_PATH)
		return -EBADF;
	if (fstat(fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return -ESPIPE;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	if (fl & O_DIRECT) {
		dio_align = engine_dio_align(fd, &st);
		if (!dio_align || offset % dio_align)
			return -EINVAL;
	}
	if ((access & MKIOQ_ACCESS_WRITE) && (fl & O_APPEND))
		return -EINVAL;
	if (((access & MKIOQ_ACCESS_READ) && (fl & O_ACCMODE) == O_WRONLY) ||
	    ((access & MKIOQ_ACCESS_WRITE) && (fl & O_ACCMODE) == O_RDONLY))
		return -EACCES;
	if (__builtin_add_overflow(offset, length, &end))
		return -EOVERFLOW;
	if (S_ISBLK(st.st_mode)) {
		off_t size = lseek(fd, 0, SEEK_END);

		if (size < 0)
			return -errno;
		limit = (uint64_t)size;
	}
	if (end > limit)
		return -ERANGE;

	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -errno;
	ret = engine_handle_add(e, NULL, length, access, NULL, own, offset,
				dio_align, handle);
	if (ret)
		close(own);
	return ret;
}

/*
 * Returns a reference the caller drops with engine_handle_put(), or NULL.
 * Called with the caller's worker lock held, so that unregister cannot
 * drop the table's reference meanwhile.
 */
struct engine_handle *engine_handle_get_locked(struct mkioq_engine *e,
					       uint32_t id)
{
	struct engine_handle *h;

	if (id == MKIOQ_HANDLE_NONE || id > MKIOQ_ENGINE_MAX_HANDLES)
		return NULL;
	/* Acquire: pairs with the release in engine_table_insert(). */
	h = atomic_load_explicit(&e->table[id], memory_order_acquire);
	if (h)
		atomic_fetch_add_explicit(&h->ref, 1, memory_order_relaxed);
	return h;
}

/*
 * Handle @id for a request of worker @w's pass, with its worker lock
 * held: from the pass's cache (*@own false: the cache's reference serves
 * the request, dropped at the end of the pass), else a reference of the
 * request's own (*@own true) when the cache is full or stale. NULL if no
 * such handle.
 */
struct engine_handle *engine_handle_lookup(struct mkioq_engine *e,
					   struct engine_worker *w,
					   uint32_t id, bool *own)
{
	struct engine_hcache *c = &w->cache;
	/*
	 * Relaxed: unregister moves it with every worker's lock held, and
	 * ours is held here, so the mutex orders the two.
	 */
	unsigned int gen = atomic_load_explicit(&e->table_gen,
						memory_order_relaxed);
	struct engine_handle *h;
	unsigned int i;

	if (!c->n)
		c->gen = gen;
	if (c->gen == gen)
		for (i = 0; i < c->n; i++)
			if (c->id[i] == id) {
				*own = false;
				return c->h[i];
			}
	h = engine_handle_get_locked(e, id);
	*own = true;
	if (h && c->gen == gen && c->n < ENGINE_HCACHE_ENTRIES) {
		c->id[c->n] = id;
		c->h[c->n++] = h;
		*own = false;
	}
	return h;
}

/* The end of a pass: drop the cache's references. */
void engine_hcache_drop(struct mkioq_engine *e, struct engine_worker *w)
{
	struct engine_hcache *c = &w->cache;

	while (c->n)
		engine_handle_put(e, c->h[--c->n]);
}

void engine_handle_put(struct mkioq_engine *e, struct engine_handle *h)
{
	/*
	 * Release: this reference's copies are done before the handle can
	 * be unmapped; acquire: the last one sees every other's.
	 */
	if (atomic_fetch_sub_explicit(&h->ref, 1, memory_order_acq_rel) != 1)
		return;
	if (h->buf)
		engine_buf_put(e, h->buf);
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}

int mkioq_engine_unregister(struct mkioq_engine *e, uint32_t handle)
{
	struct engine_handle *h;
	unsigned int i;

	if (!e)
		return -EINVAL;
	if (handle == MKIOQ_HANDLE_NONE || handle > MKIOQ_ENGINE_MAX_HANDLES)
		return -ENOENT;
	pthread_mutex_lock(&e->table_lock);
	h = atomic_load_explicit(&e->table[handle], memory_order_relaxed);
	if (!h) {
		pthread_mutex_unlock(&e->table_lock);
		return -ENOENT;
	}
	/*
	 * Every worker's lock: a claim in progress finishes its lookups
	 * first (its request keeps the handle), and a claim after this
	 * section finds no handle (the mutexes order it after the store).
	 */
	for (i = 0; i < e->nworkers; i++)
		pthread_mutex_lock(&e->workers[i].lock);
	atomic_store_explicit(&e->table[handle], NULL, memory_order_relaxed);
	/* The workers' caches of this pass may hold it: no more lookups. */
	atomic_fetch_add_explicit(&e->table_gen, 1, memory_order_relaxed);
	for (i = e->nworkers; i--;)
		pthread_mutex_unlock(&e->workers[i].lock);
	atomic_fetch_sub_explicit(&e->nhandles, 1, memory_order_relaxed);
	pthread_mutex_unlock(&e->table_lock);
	engine_handle_put(e, h);
	return 0;
}

/* Drop the table's references: mkioq_engine_free(), workers stopped. */
void engine_handles_release(struct mkioq_engine *e)
{
	struct engine_handle *h;
	uint32_t id;

	pthread_mutex_lock(&e->table_lock);
	for (id = 1; id <= MKIOQ_ENGINE_MAX_HANDLES; id++) {
		h = atomic_exchange_explicit(&e->table[id], NULL,
					     memory_order_relaxed);
		if (h)
			engine_handle_put(e, h);
	}
	atomic_store_explicit(&e->nhandles, 0, memory_order_relaxed);
	pthread_mutex_unlock(&e->table_lock);
}

/* DMA_BUF_IOCTL_SYNC: the module's dma_buf_begin/end_cpu_access(). */
int engine_buf_sync(const struct engine_buf *b, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync) ? -errno : 0;
}
