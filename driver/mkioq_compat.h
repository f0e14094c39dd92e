/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel APIs that differ between the kernels mkioq is built for
 * (Debian's 6.1 and 6.12). driver/Kbuild asks the headers which API is
 * there and defines MKIOQ_HAVE_*; each wrapper says in which release the
 * API changed, so that the old branch can go once that release is the
 * oldest one supported. Nothing here changes what the driver does, except
 * MKIOQ_HAVE_URING_CANCEL: see mkioq_uring.c.
 */
#ifndef _MKIOQ_COMPAT_H
#define _MKIOQ_COMPAT_H

#include <linux/dma-buf.h>
#include <linux/fs.h>
#include <linux/mm.h>

/* 6.7 moved the uring_cmd API out of <linux/io_uring.h>. */
#ifdef MKIOQ_HAVE_IO_URING_CMD_H
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

/*
 * 6.3 made vma->vm_flags read-only; writers go through vm_flags_mod(),
 * which also takes the VMA's write lock where there is one.
 */
static inline void mkioq_vm_flags_mod(struct vm_area_struct *vma,
				      vm_flags_t set, vm_flags_t clear)
{
#ifdef MKIOQ_HAVE_VM_FLAGS_MOD
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/*
 * 6.2 made dma_buf_vmap() expect the caller to hold the buffer's
 * reservation lock; the _unlocked variants take it, as 6.1's
 * dma_buf_vmap() did itself.
 */
static inline int mkioq_dma_buf_vmap(struct dma_buf *dmabuf,
				     struct iosys_map *map)
{
#ifdef MKIOQ_HAVE_DMA_BUF_VMAP_UNLOCKED
	return dma_buf_vmap_unlocked(dmabuf, map);
#else
	return dma_buf_vmap(dmabuf, map);
#endif
}

static inline void mkioq_dma_buf_vunmap(struct dma_buf *dmabuf,
					struct iosys_map *map)
{
#ifdef MKIOQ_HAVE_DMA_BUF_VMAP_UNLOCKED
	dma_buf_vunmap_unlocked(dmabuf, map);
#else
	dma_buf_vunmap(dmabuf, map);
#endif
}

/*
 * 6.5 replaced io_uring_cmd.cmd (the payload) by io_uring_cmd.sqe (the
 * whole SQE, payload at io_uring_sqe_cmd()).
 */
static inline const void *mkioq_uring_payload(const struct io_uring_cmd *cmd)
{
#ifdef MKIOQ_HAVE_IO_URING_SQE_CMD
	return io_uring_sqe_cmd(cmd->sqe);
#else
	return cmd->cmd;
#endif
}

/*
 * io_uring_cmd_done() gained an issue_flags argument in 6.3. Vanilla
 * 6.1.0 has 3 arguments, the 6.1 stable kernels that took the backport
 * (Debian's) 4: driver/Kbuild reads the headers and defines
 * MKIOQ_IO_URING_CMD_DONE_4ARGS for those with 4.
 */
#ifdef MKIOQ_IO_URING_CMD_DONE_4ARGS
#define mkioq_cmd_done(cmd, ret, res2, flags) \
	io_uring_cmd_done(cmd, ret, res2, flags)
#else
#define mkioq_cmd_done(cmd, ret, res2, flags) \
	io_uring_cmd_done(cmd, ret, res2)
#endif

/*
 * 6.7 lets io_uring cancel a parked uring_cmd when its ring or its task
 * goes away: a command marked with io_uring_cmd_mark_cancelable() is
 * issued again with IO_URING_F_CANCEL. Before 6.7 nothing cancels it, so
 * mkioq's WAITs expire instead.
 */
#ifdef MKIOQ_HAVE_URING_CANCEL_API
#define MKIOQ_HAVE_URING_CANCEL	1
#define MKIOQ_URING_F_CANCEL	IO_URING_F_CANCEL
#define mkioq_cmd_mark_cancelable(cmd, flags) \
	io_uring_cmd_mark_cancelable(cmd, flags)
#else
#define MKIOQ_HAVE_URING_CANCEL	0
#define MKIOQ_URING_F_CANCEL	0
#define mkioq_cmd_mark_cancelable(cmd, flags) do { } while (0)
#endif

/*
 * 6.12 says, with IO_URING_F_TASK_DEAD, that a uring_cmd's task work runs
 * in a task that is exiting or in a kernel thread: no user memory to
 * write. Before, the write simply fails (the record is given back).
 */
#ifdef MKIOQ_HAVE_URING_F_TASK_DEAD
#define MKIOQ_URING_F_TASK_DEAD	IO_URING_F_TASK_DEAD
#else
#define MKIOQ_URING_F_TASK_DEAD	0
#endif

/*
 * 6.7 moved the write access to the file's superblock (its freeze
 * protection) into vfs_iocb_iter_write(), in the series that added
 * file_write_started(); before, the caller takes it, as 6.1's loop driver
 * does around vfs_iter_write() (lo_write_bvec()).
 */
static inline ssize_t mkioq_iocb_iter_write(struct file *file,
					    struct kiocb *iocb,
					    struct iov_iter *iter)
{
#ifdef MKIOQ_HAVE_FILE_WRITE_STARTED
	return vfs_iocb_iter_write(file, iocb, iter);
#else
	ssize_t ret;

	file_start_write(file);
	ret = vfs_iocb_iter_write(file, iocb, iter);
	file_end_write(file);
	return ret;
#endif
}

/*
 * Whether the file's buffered reads can wait for a page without sleeping
 * (IOCB_WAITQ). 6.10 moved the flag from the open file's f_mode
 * (FMODE_BUF_RASYNC) to its file_operations (FOP_BUFFER_RASYNC).
 */
static inline bool mkioq_file_buf_rasync(const struct file *file)
{
#ifdef FOP_BUFFER_RASYNC
	return file->f_op->fop_flags & FOP_BUFFER_RASYNC;
#else
	return file->f_mode & FMODE_BUF_RASYNC;
#endif
}

#endif /* _MKIOQ_COMPAT_H */
