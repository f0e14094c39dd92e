// SPDX-License-Identifier: GPL-2.0
/*
 * mkioq: the host side of a GPU megakernel's IO request ring.
 *
 * Each /dev/mkioqN open file is a queue: a ring of 32-byte slots mapped by
 * userspace (and by a GPU through it), a table of dma-buf handles, and a
 * service that claims PUBLISHED slots, copies between dma-bufs and writes
 * OK or ERROR back. This file holds the devices and the file operations.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "mkioq_ctx.h"
#include "mkioq_storage.h"
#include "mkioq_compat.h"
#include "mkioq_copy_pool.h"
#include "mkioq_cq.h"
#include "mkioq_fdinfo.h"
#include "mkioq_handle.h"
#include "mkioq_uring_cmd.h"
#include "mkioq_wait.h"

#define MKIOQ_MAX_DEVICES	64

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "number of /dev/mkioqN devices (1-64, default 1)");

static struct miscdevice *mkioq_misc;
/* Attaches to dma-bufs whose exporter has no vmap (mkioq_handle.c). */
static struct device *mkioq_dma_dev;
/* Queue ids, for fdinfo and trace events: unique while 2^32 opens. */
static atomic_t mkioq_last_id = ATOMIC_INIT(0);

static int mkioq_open(struct inode *inode, struct file *file)
{
	struct mkioq_ctx *ctx;

	ctx = mkioq_ctx_alloc(atomic_inc_return(&mkioq_last_id), mkioq_dma_dev);
	if (!ctx)
		return -ENOMEM;
	file->private_data = ctx;
	return 0;
}

static int mkioq_release(struct inode *inode, struct file *file)
{
	mkioq_ctx_release(file->private_data);
	return 0;
}

/*
 * Every close() of the file, including at exit: a parked uring_cmd holds a
 * file reference, so release() would wait for the WAITs forever; cancel
 * the closer's instead. The owner's last close shuts the queue down.
 */
static int mkioq_flush(struct file *file, fl_owner_t id)
{
	struct mkioq_ctx *ctx = file->private_data;

	if (mkioq_ctx_state(ctx) == MKIOQ_CTX_LIVE) {
		mkioq_waits_cancel(ctx, id);
		mkioq_ctx_owner_closed(ctx, file, id);
	}
	return 0;
}

/*
 * The user's size of a size-versioned struct (its first word): at least
 * the first version's, at most a page (the bound copy_struct_from_user()
 * callers such as sched_setattr() use).
 */
static int mkioq_user_size(const u32 __user *argp, u32 min_size, u32 *usize)
{
	if (get_user(*usize, argp))
		return -EFAULT;
	if (*usize < min_size)
		return -EINVAL;
	if (*usize > PAGE_SIZE)
		return -E2BIG;
	return 0;
}

static long mkioq_ioctl_setup(struct mkioq_ctx *ctx, struct file *file,
			      void __user *argp)
{
	struct mkioq_setup setup;
	u32 usize;
	int ret;

	ret = mkioq_user_size(argp, MKIOQ_SETUP_SIZE_VER0, &usize);
	if (ret)
		return ret;
	/* A newer, larger struct is fine if what we do not know is zero. */
	ret = copy_struct_from_user(&setup, sizeof(setup), argp, usize);
	if (ret)
		return ret;
	ret = mkioq_ctx_setup(ctx, file, &setup);
	if (ret)
		return ret;
	/*
	 * A sibling thread may have closed the file while it was set up,
	 * when ->flush still ignored it: the owner then holds no descriptor,
	 * and the queue must die now rather than outlive its owner.
	 */
	mkioq_ctx_owner_closed(ctx, file, current->files);
	/*
	 * The queue is live; a caller that cannot read the result back still
	 * has a working queue and can learn its shape from MKIOQ_IOC_INFO.
	 */
	if (copy_to_user(argp, &setup, min_t(u32, usize, sizeof(setup))))
		return -EFAULT;
	return 0;
}

static long mkioq_ioctl_register(struct mkioq_ctx *ctx, void __user *argp)
{
	struct mkioq_handle_reg reg;
	int ret;

	if (copy_from_user(&reg, argp, sizeof(reg)))
		return -EFAULT;
	ret = mkioq_handle_register(&ctx->handles, &reg);
	if (ret)
		return ret;
	if (put_user(reg.handle, &((struct mkioq_handle_reg __user *)argp)->handle)) {
		mkioq_handle_unregister(&ctx->handles, reg.handle);
		return -EFAULT;
	}
	return 0;
}

static long mkioq_ioctl_unregister(struct mkioq_ctx *ctx, void __user *argp)
{
	struct mkioq_handle_unreg unreg;

	if (copy_from_user(&unreg, argp, sizeof(unreg)))
		return -EFAULT;
	if (unreg.flags)
		return -EINVAL;
	return mkioq_handle_unregister(&ctx->handles, unreg.handle);
}

static long mkioq_ioctl_info(struct mkioq_ctx *ctx, void __user *argp)
{
	struct mkioq_info info;
	u32 usize;
	int ret;

	ret = mkioq_user_size(argp, MKIOQ_INFO_SIZE_VER0, &usize);
	if (ret)
		return ret;
	/* Bytes beyond the fields we fill must be zero, as for SETUP. */
	ret = copy_struct_from_user(&info, sizeof(info), argp, usize);
	if (ret)
		return ret;

	memset(&info, 0, sizeof(info));
	info.size = min_t(u32, usize, sizeof(info));
	info.version = MKIOQ_ABI_VERSION;
	info.max_handles = MKIOQ_MAX_HANDLES;
	if (MKIOQ_HAVE_URING_CANCEL)
		info.features |= MKIOQ_FEAT_WAIT_CANCEL;
	info.features |= MKIOQ_FEAT_FILE;
	/* A queue shut down still reports its shape and counters. */
	if (mkioq_ctx_state(ctx) != MKIOQ_CTX_NEW) {
		info.slot_count = ctx->ring.slot_count;
		info.mode = ctx->mode;
		info.ring_bytes = PAGE_SIZE;
		info.cq_entries = MKIOQ_CQ_ENTRIES;
		info.handles = mkioq_handles_count(&ctx->handles);
		info.copy_workers = ctx->service.copy_workers ?: 1;
		mkioq_cq_stats(ctx, &info);
	}
	if (copy_to_user(argp, &info, info.size))
		return -EFAULT;
	return 0;
}

static long mkioq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mkioq_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;
	int ret;

	switch (cmd) {
	case MKIOQ_IOC_SETUP:
		return mkioq_ioctl_setup(ctx, file, argp);
	case MKIOQ_IOC_INFO:
		return mkioq_ioctl_info(ctx, argp);
	}

	ret = mkioq_ctx_usable(ctx);
	if (ret) {
		switch (cmd) {
		case MKIOQ_IOC_REGISTER:
		case MKIOQ_IOC_UNREGISTER:
		case MKIOQ_IOC_DOORBELL:
			return ret;
		}
		return -ENOTTY;
	}

	switch (cmd) {
	case MKIOQ_IOC_REGISTER:
		return mkioq_ioctl_register(ctx, argp);
	case MKIOQ_IOC_UNREGISTER:
		return mkioq_ioctl_unregister(ctx, argp);
	case MKIOQ_IOC_DOORBELL:
		if (arg)
			return -EINVAL;
		mkioq_ctx_doorbell(ctx);
		return 0;
	}
	return -ENOTTY;
}

/* Any write rings the doorbell, so a shell or an io_uring WRITE can. */
static ssize_t mkioq_write(struct file *file, const char __user *buf,
			   size_t count, loff_t *ppos)
{
	struct mkioq_ctx *ctx = file->private_data;
	int ret = mkioq_ctx_usable(ctx);

	if (ret)
		return ret;
	mkioq_ctx_doorbell(ctx);
	return count;
}

/*
 * Whole records, oldest first; blocking unless O_NONBLOCK. A reader also
 * goes on with the storage READs whose pages came in, first, so that
 * their records come with this read (mkioq_storage_retry_in_reader()).
 */
static ssize_t mkioq_read(struct file *file, char __user *buf, size_t count,
			  loff_t *ppos)
{
	struct mkioq_ctx *ctx = file->private_data;
	ssize_t ret = mkioq_ctx_usable(ctx);

	if (ret)
		return ret;
	if (count < sizeof(struct mkioq_cqe))
		return -EINVAL;
	for (;;) {
		mkioq_storage_retry_in_reader(ctx);
		ret = mkioq_cq_take(ctx, buf, count);
		if (ret)
			return ret;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		/*
		 * The queue's shutdown wakes us (mkioq_cq_shutdown()), as
		 * does a page a storage READ waits for, which we go on with
		 * (mkioq_storage_page_wake()).
		 */
		if (wait_event_interruptible(ctx->cq.readers,
					     mkioq_cq_readable(ctx) ||
					     mkioq_storage_retry_due(ctx) ||
					     READ_ONCE(ctx->cq.closed)))
			return -ERESTARTSYS;
		if (READ_ONCE(ctx->cq.closed))
			return -ENXIO;
	}
}

static __poll_t mkioq_poll(struct file *file, struct poll_table_struct *wait)
{
	struct mkioq_ctx *ctx = file->private_data;
	__poll_t mask;

	if (mkioq_ctx_usable(ctx))
		return EPOLLERR;
	poll_wait(file, &ctx->cq.readers, wait);
	/*
	 * Our entry on the queue before the looks below: pairs with
	 * wq_has_sleeper()'s barrier after a record is added
	 * (mkioq_cq_wake_readers()) or a READ's page came in
	 * (mkioq_storage_page_wake()), so that a waker sees us or we see
	 * what it did.
	 */
	smp_mb();
	/* The doorbell never blocks. */
	mask = EPOLLOUT | EPOLLWRNORM;
	/* A READ whose page came in: read() makes its record. */
	if (mkioq_cq_readable(ctx) || mkioq_storage_retry_due(ctx))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static int mkioq_mmap(struct file *file, struct vm_area_struct *vma)
{
	return mkioq_ctx_mmap(file->private_data, vma);
}

static const struct file_operations mkioq_fops = {
	.owner		= THIS_MODULE,
	.open		= mkioq_open,
	.release	= mkioq_release,
	.flush		= mkioq_flush,
	.unlocked_ioctl	= mkioq_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.read		= mkioq_read,
	.write		= mkioq_write,
	.poll		= mkioq_poll,
	.mmap		= mkioq_mmap,
	.uring_cmd	= mkioq_uring_cmd,
	.llseek		= noop_llseek,
	.show_fdinfo	= mkioq_fdinfo_show,
};

static void mkioq_remove_devices(unsigned int n)
{
	while (n--) {
		misc_deregister(&mkioq_misc[n]);
		kfree(mkioq_misc[n].name);
	}
	kfree(mkioq_misc);
}

static int __init mkioq_init(void)
{
	unsigned int i;
	int ret;

	/* The ring is little-endian and the service reads it natively. */
	BUILD_BUG_ON(IS_ENABLED(CONFIG_CPU_BIG_ENDIAN));
	BUILD_BUG_ON(sizeof(struct mkioq_slot) != MKIOQ_SLOT_BYTES);
	BUILD_BUG_ON(MKIOQ_WINDOW_BYTES > PAGE_SIZE);

	if (devices < 1 || devices > MKIOQ_MAX_DEVICES) {
		pr_err("devices=%u: must be 1..%u\n", devices,
		       MKIOQ_MAX_DEVICES);
		return -EINVAL;
	}
	/* Before a device can be opened: any queue's pass may use them. */
	ret = mkioq_copy_pool_create();
	if (ret)
		return ret;
	ret = mkioq_storage_init();
	if (ret)
		goto err_pool;
	mkioq_misc = kcalloc(devices, sizeof(*mkioq_misc), GFP_KERNEL);
	if (!mkioq_misc) {
		ret = -ENOMEM;
		goto err_storage;
	}

	for (i = 0; i < devices; i++) {
		struct miscdevice *misc = &mkioq_misc[i];

		misc->minor = MISC_DYNAMIC_MINOR;
		misc->fops = &mkioq_fops;
		/* Queues move data between buffers: root only by default. */
		misc->mode = 0600;
		misc->name = kasprintf(GFP_KERNEL, "mkioq%u", i);
		if (!misc->name) {
			ret = -ENOMEM;
			goto err;
		}
		ret = misc_register(misc);
		if (ret) {
			kfree(misc->name);
			goto err;
		}
	}
	/* Attachments (exporters without vmap) need a DMA-capable device. */
	mkioq_dma_dev = mkioq_misc[0].this_device;
	ret = dma_coerce_mask_and_coherent(mkioq_dma_dev, DMA_BIT_MASK(64));
	if (ret)
		goto err;
	return 0;

err:
	mkioq_remove_devices(i);
err_storage:
	mkioq_storage_exit();
err_pool:
	mkioq_copy_pool_destroy();
	return ret;
}

static void __exit mkioq_exit(void)
{
	mkioq_remove_devices(devices);
	mkioq_storage_exit();
	mkioq_copy_pool_destroy();
}

module_init(mkioq_init);
module_exit(mkioq_exit);

MODULE_DESCRIPTION("Host side of a GPU megakernel IO request ring");
MODULE_AUTHOR("mkioq developers");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
