/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handles: registered dma-buf and file ranges, named by the ring's SRC_HANDLE and
 * DST_HANDLE words (mkioq_handle.c).
 */
#ifndef _MKIOQ_HANDLE_H
#define _MKIOQ_HANDLE_H

#include <linux/atomic.h>
#include <linux/iosys-map.h>
#include <linux/kref.h>
#include <linux/types.h>
#include <linux/xarray.h>
#include <linux/mkioq.h>

struct device;
struct dma_buf;
struct dma_buf_attachment;
struct file;
struct seq_file;
struct sg_table;

#define MKIOQ_MAX_HANDLES	4096	/* per open file */

/**
 * struct mkioq_handle - a registered dma-buf or file range
 * @ref:	one for the handle table, one per request being serviced
 * @file:	a file handle's own reference to the open file (then
 *		@dmabuf to @sgt are unused), else NULL
 * @dmabuf:	our own reference to the buffer
 * @map:	kernel mapping of the whole buffer, held while registered
 * @attach:	our attachment, when @map is a vmap of its pages
 * @sgt:	the attachment's mapping
 * @offset:	start of the range inside @dmabuf
 * @length:	bytes in the range
 * @access:	MKIOQ_ACCESS_*
 * @dio_align:	a file handle registered O_DIRECT: the alignment (a power
 *		of two) of its file positions and byte counts, whose
 *		requests mkioq_storage.c serves with direct I/O; else 0
 *
 * Constant from registration until the last reference goes.
 */
struct mkioq_handle {
	struct kref ref;
	struct file *file;
	struct dma_buf *dmabuf;
	struct iosys_map map;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	u64 offset;
	u64 length;
	u32 access;
	u32 dio_align;
};

/**
 * struct mkioq_handles - the handle table of one queue
 * @table:	handle number -> struct mkioq_handle; its xa_lock orders
 *		unregister against the service's claims (mkioq_handle.c)
 * @dma_dev:	the device that attaches to dma-bufs without vmap
 * @files:	file handles in @table (atomic; changed before a file
 *		handle enters the table and after it left), so that a
 *		pass of a queue without any looks for none
 */
struct mkioq_handles {
	struct xarray table;
	struct device *dma_dev;
	atomic_t files;
};

void mkioq_handles_init(struct mkioq_handles *handles, struct device *dma_dev);
int mkioq_handle_register(struct mkioq_handles *handles,
			  struct mkioq_handle_reg *reg);
int mkioq_handle_unregister(struct mkioq_handles *handles, u32 id);
struct mkioq_handle *mkioq_handle_get_locked(struct mkioq_handles *handles,
					     u32 id);
struct mkioq_handle *mkioq_handle_find_locked(struct mkioq_handles *handles,
					      u32 id);
struct mkioq_handle *mkioq_handle_hold(struct mkioq_handle *h);
void mkioq_handle_put(struct mkioq_handle *h);
u32 mkioq_handles_count(struct mkioq_handles *handles);
void mkioq_handles_release(struct mkioq_handles *handles);
void mkioq_handles_show(struct mkioq_handles *handles, struct seq_file *m);

#endif /* _MKIOQ_HANDLE_H */
