// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring commands (IORING_OP_URING_CMD) on a queue file.
 *
 * MKIOQ_URING_CMD_DOORBELL rings the doorbell, so a batch of submissions
 * and its doorbell cost one io_uring_enter(). MKIOQ_URING_CMD_WAIT parks
 * until a completion and then posts it as its own CQE; an application
 * keeps one WAIT per slot (or a few for any slot) outstanding and receives
 * every completion that way. WAITs live in mkioq_wait.c.
 */
#include <linux/string.h>

#include "mkioq_ctx.h"
#include "mkioq_compat.h"
#include "mkioq_wait.h"
#include "mkioq_uring_cmd.h"

/* The payload beyond struct mkioq_uring_wait must be zero. */
static bool mkioq_payload_tail_zero(const u8 *cmd, size_t from, size_t len)
{
	return !memchr_inv(cmd + from, 0, len - from);
}

int mkioq_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct mkioq_ctx *ctx = cmd->file->private_data;
	size_t len = issue_flags & IO_URING_F_SQE128 ? 80 : 16;
	struct mkioq_uring_wait arg;
	u8 payload[80];
	int ret;

	/*
	 * Before anything else: a cancel must find its WAIT even on a dead
	 * queue, and may come without an SQE to read.
	 */
	if (issue_flags & MKIOQ_URING_F_CANCEL) {
		mkioq_wait_cancel_cmd(ctx, cmd, issue_flags);
		return 0;
	}

	ret = mkioq_ctx_usable(ctx);
	if (ret)
		return ret;

	/* The SQE may still be in shared memory: read it exactly once. */
	memcpy(payload, mkioq_uring_payload(cmd), len);
	switch (cmd->cmd_op) {
	case MKIOQ_URING_CMD_DOORBELL:
		if (!mkioq_payload_tail_zero(payload, 0, len))
			return -EINVAL;
		mkioq_ctx_doorbell(ctx);
		return 0;
	case MKIOQ_URING_CMD_WAIT:
		if (!mkioq_payload_tail_zero(payload, sizeof(arg), len))
			return -EINVAL;
		memcpy(&arg, payload, sizeof(arg));
		return mkioq_wait_park(ctx, cmd, &arg, issue_flags);
	}
	return -ENOTTY;
}
