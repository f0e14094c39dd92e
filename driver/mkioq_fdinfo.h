/* SPDX-License-Identifier: GPL-2.0 */
/* A queue file's fdinfo (mkioq_fdinfo.c). */
#ifndef _MKIOQ_FDINFO_H
#define _MKIOQ_FDINFO_H

struct file;
struct seq_file;

void mkioq_fdinfo_show(struct seq_file *m, struct file *file);

#endif /* _MKIOQ_FDINFO_H */
