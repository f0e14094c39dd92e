/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel APIs that differ between the kernels mkioq is built for
 * (Debian's 6.1 and 6.12). Each wrapper says in which release the API
 * changed, so that the old branch can go once that release is the oldest
 * one supported. Nothing here changes what the driver does, except
 * MKIOQ_HAVE_URING_CANCEL: see mkioq_uring.c.
 */
#ifndef _MKIOQ_COMPAT_H
#define _MKIOQ_COMPAT_H

#include <linux/dma-buf.h>
#include <linux/mm.h>
#include <linux/version.h>

/*
 * True when building for kernel @major.@minor or later. (The one place
 * that reads LINUX_VERSION_CODE; `make lint` lets checkpatch pass it,
 * since this header exists to build one source for two kernels.)
 */
#define MKIOQ_SINCE(major, minor) \
	(KERNEL_VERSION(major, minor, 0) <= LINUX_VERSION_CODE)

/* 6.7 moved the uring_cmd API out of <linux/io_uring.h>. */
#if MKIOQ_SINCE(6, 7)
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
#if MKIOQ_SINCE(6, 3)
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
#if MKIOQ_SINCE(6, 2)
	return dma_buf_vmap_unlocked(dmabuf, map);
#else
	return dma_buf_vmap(dmabuf, map);
#endif
}

static inline void mkioq_dma_buf_vunmap(struct dma_buf *dmabuf,
					struct iosys_map *map)
{
#if MKIOQ_SINCE(6, 2)
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
#if MKIOQ_SINCE(6, 5)
	return io_uring_sqe_cmd(cmd->sqe);
#else
	return cmd->cmd;
#endif
}

/*
 * io_uring_cmd_done() gained an issue_flags argument in 6.3. Vanilla
 * 6.1.0 has 3 arguments, the 6.1 stable kernels that took the backport
 * (Debian's) 4: for those driver/Kbuild reads the headers and defines
 * MKIOQ_IO_URING_CMD_DONE_4ARGS.
 */
#if MKIOQ_SINCE(6, 3) || \
	defined(MKIOQ_IO_URING_CMD_DONE_4ARGS)
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
#if MKIOQ_SINCE(6, 7)
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
#if MKIOQ_SINCE(6, 12)
#define MKIOQ_URING_F_TASK_DEAD	IO_URING_F_TASK_DEAD
#else
#define MKIOQ_URING_F_TASK_DEAD	0
#endif

#endif /* _MKIOQ_COMPAT_H */
