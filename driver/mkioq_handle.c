// SPDX-License-Identifier: GPL-2.0
/*
 * Handles: a range of a dma-buf, or of a regular file or block device
 * (MKIOQ_REG_F_FILE), registered under a small integer that the ring's
 * SRC_HANDLE and DST_HANDLE words name. A file handle holds a reference
 * to the open file only; mkioq_storage.c serves its requests.
 *
 * A handle holds its own dma-buf reference and a kernel mapping of the
 * buffer for as long as it is registered, so the service never maps per
 * request: the exporter's vmap, or for exporters without one a vmap of
 * the pages of an attachment's scatterlist. The service resolves a
 * request's handles, and references them, in the same xa_lock section
 * that claims the request; unregistering removes the number under that
 * lock, so a request claimed before it keeps its buffers (deferred
 * release, never a wait) and one claimed after it fails with -ENOENT.
 */
#include <linux/blkdev.h>
#include <linux/dma-buf.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "mkioq_handle.h"
#include "mkioq_compat.h"

/*
 * Exporters without a vmap operation (udmabuf in 6.1) still hand out
 * page-backed scatterlists: attach, map, and vmap the pages ourselves.
 */
static int mkioq_handle_map_pages(struct mkioq_handle *h,
				  struct device *dma_dev)
{
	struct dma_buf_attachment *attach;
	size_t npages = h->dmabuf->size >> PAGE_SHIFT, i = 0;
	struct sg_page_iter piter;
	struct sg_table *sgt;
	struct page **pages;
	void *vaddr = NULL;
	int ret;

	attach = dma_buf_attach(h->dmabuf, dma_dev);
	if (IS_ERR(attach))
		return PTR_ERR(attach);
	sgt = dma_buf_map_attachment_unlocked(attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto err_detach;
	}
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		ret = -ENOMEM;
		goto err_unmap;
	}
	for_each_sgtable_page(sgt, &piter, 0) {
		if (i == npages)
			break;
		pages[i++] = sg_page_iter_page(&piter);
	}
	if (i == npages)
		vaddr = vmap(pages, npages, VM_MAP, PAGE_KERNEL);
	kvfree(pages);
	if (!vaddr) {
		ret = i == npages ? -ENOMEM : -EINVAL;
		goto err_unmap;
	}
	iosys_map_set_vaddr(&h->map, vaddr);
	h->attach = attach;
	h->sgt = sgt;
	return 0;

err_unmap:
	dma_buf_unmap_attachment_unlocked(attach, sgt, DMA_BIDIRECTIONAL);
err_detach:
	dma_buf_detach(h->dmabuf, attach);
	return ret;
}

/* A kernel mapping of the whole buffer, held while registered. */
static int mkioq_handle_map(struct mkioq_handle *h, struct device *dma_dev)
{
	/* Only an exporter without vmap says -EINVAL for a valid buffer. */
	if (!h->dmabuf->ops->vmap)
		return mkioq_handle_map_pages(h, dma_dev);
	return mkioq_dma_buf_vmap(h->dmabuf, &h->map);
}

static void mkioq_handle_unmap(struct mkioq_handle *h)
{
	if (!h->attach) {
		mkioq_dma_buf_vunmap(h->dmabuf, &h->map);
		return;
	}
	vunmap(h->map.vaddr);
	dma_buf_unmap_attachment_unlocked(h->attach, h->sgt,
					  DMA_BIDIRECTIONAL);
	dma_buf_detach(h->dmabuf, h->attach);
}

static void mkioq_handle_release(struct kref *ref)
{
	struct mkioq_handle *h = container_of(ref, struct mkioq_handle, ref);

	if (h->file) {
		fput(h->file);
	} else {
		mkioq_handle_unmap(h);
		dma_buf_put(h->dmabuf);
	}
	kfree(h);
}

void mkioq_handle_put(struct mkioq_handle *h)
{
	kref_put(&h->ref, mkioq_handle_release);
}

/*
 * Returns a reference the caller drops with mkioq_handle_put(). Under the
 * xarray lock, which the caller holds, so that unregister cannot drop the
 * last reference meanwhile, and so that an unregister which follows the
 * caller's critical section follows its lookups too.
 */
struct mkioq_handle *mkioq_handle_get_locked(struct mkioq_handles *handles,
					     u32 id)
{
	struct mkioq_handle *h;

	lockdep_assert_held(&handles->table.xa_lock);
	h = xa_load(&handles->table, id);
	if (h)
		kref_get(&h->ref);
	return h;
}

/*
 * Without a reference: valid while the caller holds the xarray lock (the
 * table's own reference cannot be dropped meanwhile); mkioq_handle_hold()
 * takes one under it.
 */
struct mkioq_handle *mkioq_handle_find_locked(struct mkioq_handles *handles,
					      u32 id)
{
	lockdep_assert_held(&handles->table.xa_lock);
	return xa_load(&handles->table, id);
}

struct mkioq_handle *mkioq_handle_hold(struct mkioq_handle *h)
{
	kref_get(&h->ref);
	return h;
}

static int mkioq_handle_check(const struct mkioq_handle_reg *reg)
{
	if (reg->flags & ~MKIOQ_REG_F_FILE || reg->reserved)
		return -EINVAL;
	if (!reg->access || reg->access & ~MKIOQ_ACCESS_RW)
		return -EINVAL;
	if (!reg->length)
		return -EINVAL;
	return 0;
}

void mkioq_handles_init(struct mkioq_handles *handles, struct device *dma_dev)
{
	xa_init_flags(&handles->table, XA_FLAGS_ALLOC1);
	handles->dma_dev = dma_dev;
	atomic_set(&handles->files, 0);
}

/* Does the range fit below @limit? EOVERFLOW, ERANGE or 0. */
static int mkioq_reg_range(const struct mkioq_handle_reg *reg, u64 limit)
{
	u64 end;

	if (check_add_overflow(reg->offset, reg->length, &end))
		return -EOVERFLOW;
	return end > limit ? -ERANGE : 0;
}

/* A handle of @reg's range, holding the table's reference. */
static struct mkioq_handle *mkioq_handle_alloc(const struct mkioq_handle_reg *reg)
{
	struct mkioq_handle *h = kzalloc(sizeof(*h), GFP_KERNEL);

	if (!h)
		return NULL;
	kref_init(&h->ref);
	h->offset = reg->offset;
	h->length = reg->length;
	h->access = reg->access;
	return h;
}

/*
 * The direct-I/O alignment of a file opened O_DIRECT, which its file
 * positions and byte counts must keep, or 0 if it cannot be told. A block
 * device's is its logical block size (what blkdev_direct_IO() checks
 * positions and lengths against); a regular file's is what its file
 * system reports for STATX_DIOALIGN (ext4, f2fs and xfs do since 6.1).
 * A file system that does not report it (tmpfs takes O_DIRECT opens since
 * 6.6 without saying), reports 0 (no direct I/O for this file), or asks
 * more than a page (the bounce buffer is of single pages, and a
 * segment must hold whole blocks) gives 0: refused at registration, as
 * guessing could only fail the requests later.
 */
static u32 mkioq_file_dio_align(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct kstat st = {};
	u32 align;

	/* A kernel without CONFIG_BLOCK has no block device to open. */
	if (IS_ENABLED(CONFIG_BLOCK) && S_ISBLK(inode->i_mode)) {
		align = bdev_logical_block_size(I_BDEV(file->f_mapping->host));
	} else {
		if (vfs_getattr(&file->f_path, &st, STATX_DIOALIGN,
				AT_STATX_SYNC_AS_STAT) ||
		    !(st.result_mask & STATX_DIOALIGN) ||
		    st.dio_mem_align > PAGE_SIZE)
			return 0;
		align = st.dio_offset_align;
	}
	return is_power_of_2(align) && align <= PAGE_SIZE ? align : 0;
}

/*
 * What a file must be to become a handle: something with offsets and a
 * page cache that kernel_read()/kernel_write() at a position reach, or,
 * opened O_DIRECT, a direct-I/O alignment that @offset keeps (in
 * *@dio_align, else 0).
 */
static int mkioq_file_check(struct file *file, u32 access, u64 offset,
			    u32 *dio_align)
{
	umode_t mode = file_inode(file)->i_mode;

	*dio_align = 0;
	if (S_ISDIR(mode))
		return -EISDIR;
	if (S_ISFIFO(mode) || S_ISSOCK(mode))
		return -ESPIPE;
	if (!S_ISREG(mode) && !S_ISBLK(mode))
		return -EINVAL;
	/* Files whose operations kernel_read()/kernel_write() cannot use. */
	if (((access & MKIOQ_ACCESS_READ) &&
	     (file->f_mode & (FMODE_READ | FMODE_CAN_READ)) == FMODE_READ) ||
	    ((access & MKIOQ_ACCESS_WRITE) &&
	     (file->f_mode & (FMODE_WRITE | FMODE_CAN_WRITE)) == FMODE_WRITE))
		return -EINVAL;
	if (file->f_flags & O_DIRECT) {
		*dio_align = mkioq_file_dio_align(file);
		if (!*dio_align || !IS_ALIGNED(offset, *dio_align))
			return -EINVAL;
	}
	if ((access & MKIOQ_ACCESS_WRITE) && (file->f_flags & O_APPEND))
		return -EINVAL;
	if (((access & MKIOQ_ACCESS_READ) && !(file->f_mode & FMODE_READ)) ||
	    ((access & MKIOQ_ACCESS_WRITE) && !(file->f_mode & FMODE_WRITE)))
		return -EACCES;
	return 0;
}

/*
 * The largest byte a file handle's range may reach: a block device's
 * size (its own inode's, at f_mapping->host, not the device node's), or
 * the largest file the file system allows.
 */
static u64 mkioq_file_limit(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (S_ISBLK(inode->i_mode))
		return i_size_read(file->f_mapping->host);
	return inode->i_sb->s_maxbytes;
}

/* A file handle: checks in the order the uapi lists them. */
static struct mkioq_handle *mkioq_handle_new_file(struct mkioq_handle_reg *reg)
{
	struct mkioq_handle *h;
	struct file *file;
	u32 dio_align;
	int ret;

	file = fget(reg->fd);
	if (!file)
		return ERR_PTR(-EBADF);
	ret = mkioq_file_check(file, reg->access, reg->offset, &dio_align);
	if (!ret)
		ret = mkioq_reg_range(reg, mkioq_file_limit(file));
	if (ret)
		goto err_put;
	h = mkioq_handle_alloc(reg);
	if (!h) {
		ret = -ENOMEM;
		goto err_put;
	}
	h->file = file;
	h->dio_align = dio_align;
	return h;

err_put:
	fput(file);
	return ERR_PTR(ret);
}

static int mkioq_handle_insert(struct mkioq_handles *handles,
			       struct mkioq_handle *h, u32 *id)
{
	int ret;

	/*
	 * Before the handle enters the table: a pass that finds it there,
	 * under the table's lock that xa_alloc() takes after this, sees the
	 * count too (the lock's release and acquire order them).
	 */
	if (h->file)
		atomic_inc(&handles->files);
	ret = xa_alloc(&handles->table, id, h,
		       XA_LIMIT(1, MKIOQ_MAX_HANDLES), GFP_KERNEL);
	if (ret && h->file)
		atomic_dec(&handles->files);
	/* -EBUSY from xa_alloc means the table is full. */
	return ret == -EBUSY ? -ENOSPC : ret;
}

/* A handle left the table: the pass may stop looking for file handles. */
static void mkioq_handle_removed(struct mkioq_handles *handles,
				 struct mkioq_handle *h)
{
	if (h->file)
		atomic_dec(&handles->files);
	mkioq_handle_put(h);
}

static int mkioq_handle_register_file(struct mkioq_handles *handles,
				      struct mkioq_handle_reg *reg)
{
	struct mkioq_handle *h;
	u32 id;
	int ret;

	h = mkioq_handle_new_file(reg);
	if (IS_ERR(h))
		return PTR_ERR(h);
	ret = mkioq_handle_insert(handles, h, &id);
	if (ret) {
		mkioq_handle_put(h);
		return ret;
	}
	reg->handle = id;
	return 0;
}

int mkioq_handle_register(struct mkioq_handles *handles,
			  struct mkioq_handle_reg *reg)
{
	struct mkioq_handle *h;
	struct dma_buf *dmabuf;
	u32 id;
	int ret;

	ret = mkioq_handle_check(reg);
	if (ret)
		return ret;
	if (reg->flags & MKIOQ_REG_F_FILE)
		return mkioq_handle_register_file(handles, reg);

	dmabuf = dma_buf_get(reg->fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);

	/* Every fd of a dma-buf shares its one file and that file's mode. */
	if ((reg->access & MKIOQ_ACCESS_WRITE) &&
	    !(dmabuf->file->f_mode & FMODE_WRITE)) {
		ret = -EACCES;
		goto err_put;
	}
	ret = mkioq_reg_range(reg, dmabuf->size);
	if (ret)
		goto err_put;

	h = mkioq_handle_alloc(reg);
	if (!h) {
		ret = -ENOMEM;
		goto err_put;
	}
	h->dmabuf = dmabuf;

	ret = mkioq_handle_map(h, handles->dma_dev);
	if (ret)
		goto err_free;

	ret = mkioq_handle_insert(handles, h, &id);
	if (ret)
		goto err_vunmap;
	reg->handle = id;
	return 0;

err_vunmap:
	mkioq_handle_unmap(h);
err_free:
	kfree(h);
err_put:
	dma_buf_put(dmabuf);
	return ret;
}

int mkioq_handle_unregister(struct mkioq_handles *handles, u32 id)
{
	struct mkioq_handle *h;

	h = xa_erase(&handles->table, id);
	if (!h)
		return -ENOENT;
	mkioq_handle_removed(handles, h);
	return 0;
}

/* For MKIOQ_IOC_INFO: a snapshot, racing registrations may change it. */
u32 mkioq_handles_count(struct mkioq_handles *handles)
{
	struct mkioq_handle *h;
	unsigned long id;
	u32 n = 0;

	xa_for_each(&handles->table, id, h)
		n++;
	return n;
}

/* fdinfo lists at most this many handles, then how many it left out. */
#define MKIOQ_FDINFO_HANDLES	64

static const char *const mkioq_access_names[] = {
	[MKIOQ_ACCESS_READ] = "r",
	[MKIOQ_ACCESS_WRITE] = "w",
	[MKIOQ_ACCESS_RW] = "rw",
};

static void mkioq_handle_show(struct seq_file *m, unsigned long id,
			      const struct mkioq_handle *h)
{
	struct inode *inode;

	seq_printf(m, "handle:\t%lu access=%s offset=0x%llx length=%llu ",
		   id, mkioq_access_names[h->access], h->offset, h->length);
	if (!h->file) {
		seq_printf(m, "dmabuf-size=%zu exporter=%s\n",
			   h->dmabuf->size, h->dmabuf->exp_name);
		return;
	}
	inode = file_inode(h->file);
	/* dio-align: the direct I/O alignment, 0 through the page cache. */
	seq_printf(m, "file-dev=%u:%u file-ino=%lu dio-align=%u\n",
		   MAJOR(inode->i_sb->s_dev), MINOR(inode->i_sb->s_dev),
		   inode->i_ino, h->dio_align);
}

/*
 * For fdinfo: under the table's lock, so that no handle is freed while it
 * is printed (unregister erases under it before it drops its reference).
 */
void mkioq_handles_show(struct mkioq_handles *handles, struct seq_file *m)
{
	unsigned int shown = 0, total = 0;
	struct mkioq_handle *h;
	unsigned long id;

	xa_lock(&handles->table);
	xa_for_each(&handles->table, id, h) {
		if (shown++ < MKIOQ_FDINFO_HANDLES)
			mkioq_handle_show(m, id, h);
		total++;
	}
	xa_unlock(&handles->table);
	seq_printf(m, "handles:\t%u\n", total);
	if (total > MKIOQ_FDINFO_HANDLES)
		seq_printf(m, "handles-not-listed:\t%u\n",
			   total - MKIOQ_FDINFO_HANDLES);
}

/* At shutdown: every handle and its dma-buf reference is dropped. */
void mkioq_handles_release(struct mkioq_handles *handles)
{
	struct mkioq_handle *h;
	unsigned long id;

	xa_for_each(&handles->table, id, h) {
		/* A racing unregister may have taken it: put only ours. */
		if (xa_erase(&handles->table, id) == h)
			mkioq_handle_removed(handles, h);
	}
}
