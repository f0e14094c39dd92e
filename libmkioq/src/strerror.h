/* SPDX-License-Identifier: MIT */
/*
 * The tables of texts behind mkioq_strerror(), mkioq_strerror_call() and
 * mkioq_engine_strerror(), and their lookups, written once (strerror.c).
 * strerror.c holds the texts of the queue, ring, device and io_uring
 * calls; engine_strerror.c those of the userspace engine.
 */
#ifndef MKIOQ_LIB_STRERROR_H
#define MKIOQ_LIB_STRERROR_H

#include <stddef.h>

/* What one errno means. */
struct errno_text {
	int err;
	const char *text;
};

/* What one errno of one call means, and how to fix it. */
struct call_text {
	const char *call;
	int err;
	const char *text;
};

/* The text of @err (either sign) in @t[@n], or NULL. */
const char *errno_text_find(const struct errno_text *t, size_t n, int err);
/* The text of @call's @err (either sign) in @t[@n], or NULL. */
const char *call_text_find(const struct call_text *t, size_t n,
			   const char *call, int err);

#endif
