/* SPDX-License-Identifier: GPL-2.0 */
/* io_uring commands on a queue file (mkioq_uring_cmd.c). */
#ifndef _MKIOQ_URING_CMD_H
#define _MKIOQ_URING_CMD_H

struct io_uring_cmd;

int mkioq_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);

#endif /* _MKIOQ_URING_CMD_H */
