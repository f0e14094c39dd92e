// SPDX-License-Identifier: GPL-2.0
/*
 * mkioq_strerror_call() against the man pages: every (call, errno) pair
 * that a page's ERRORS section lists has a text of its own, of the form
 * "cause. Fix: hint", and no other pair has one. "request" is the errno
 * of a failed request, listed under "Request errors" in libmkioq(7).
 *
 * The pages are read from the source tree: $MKIOQ_SRCDIR, else three
 * levels above this binary (build/tests/lib/), else the working directory
 * (srcdir.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmkioq.h>

#include "kselftest_harness.h"
#include "srcdir.h"

#define MAX_CALLS	64
#define MAX_ERRS	32

struct call_errs {
	char name[64];
	int errs[MAX_ERRS];
	unsigned int n;
};

struct doc {
	struct call_errs calls[MAX_CALLS];
	unsigned int n;
	char bad[256];		/* the first parse problem, if any */
};

#define E(x) { #x, x }
static const struct {
	const char *name;
	int err;
} errno_names[] = {
	E(E2BIG), E(EACCES), E(EAGAIN), E(EALREADY), E(EBADF), E(EBADFD),
	E(EBADSLT), E(EBUSY), E(ECANCELED), E(EFAULT), E(EFBIG), E(EINTR),
	E(EINVAL), E(EIO), E(EMFILE), E(EMSGSIZE), E(ENOBUFS), E(ENODATA),
	E(ENODEV), E(ENOENT), E(ENOMEM), E(ENOSPC), E(ENOSYS), E(ENOTTY),
	E(ENXIO), E(EOPNOTSUPP), E(EOVERFLOW), E(EPERM), E(EPROTO), E(ERANGE),
	E(ETIME), E(ETIMEDOUT), E(EXDEV), E(ESPIPE), E(EISDIR),
};

static int errno_of(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (!strcmp(errno_names[i].name, name))
			return errno_names[i].err;
	return 0;
}

static struct call_errs *add_call(struct doc *d, const char *name)
{
	struct call_errs *c;

	if (d->n == MAX_CALLS)
		return NULL;
	c = &d->calls[d->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}

static void note_bad(struct doc *d, const char *file, const char *what)
{
	if (!d->bad[0])
		snprintf(d->bad, sizeof(d->bad), "%.120s: %.120s", file, what);
}

/*
 * The errnos tagged in one section of a page: the ".B \-EXXX" (or
 * ".B EXXX") line after each ".TP" or ".TQ", from the line starting with
 * @from to the first line starting with one of @to.
 */
static void parse_section(struct doc *d, struct call_errs *c,
			  const char *path, const char *from,
			  const char *const *to)
{
	char line[512], prev[512] = "";
	bool in = false;
	FILE *f = fopen(path, "r");
	const char *const *t;

	if (!f) {
		note_bad(d, path, "cannot open");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!in) {
			in = !strncmp(line, from, strlen(from));
			continue;
		}
		for (t = to; *t; t++)
			if (!strncmp(line, *t, strlen(*t)))
				break;
		if (*t)
			break;
		/* ".TQ" tags another errno of the same paragraph. */
		if (!strcmp(prev, ".TP") || !strcmp(prev, ".TQ")) {
			const char *name = line;
			int err;

			if (strncmp(name, ".B ", 3)) {
				note_bad(d, path, "a .TP tag that is no .B");
			} else {
				name += 3;
				if (!strncmp(name, "\\-", 2))
					name += 2;
				err = errno_of(name);
				if (!err)
					note_bad(d, path, line);
				else if (c->n < MAX_ERRS)
					c->errs[c->n++] = err;
			}
		}
		snprintf(prev, sizeof(prev), "%s", line);
	}
	fclose(f);
}

static int load_doc(struct doc *d)
{
	static const char *const sh_end[] = { ".SH", NULL };
	static const char *const pp_end[] = { ".PP", ".SS", ".SH", NULL };
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct call_errs *c;
	struct dirent *e;
	DIR *md;
	size_t len;

	memset(d, 0, sizeof(*d));
	if (find_srcdir(dir, sizeof(dir)))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/libmkioq/man", dir);
	md = opendir(path);
	if (!md)
		return -errno;
	while ((e = readdir(md))) {
		len = strlen(e->d_name);
		if (strncmp(e->d_name, "mkioq_", 6) || len < 3 ||
		    strcmp(e->d_name + len - 2, ".3"))
			continue;
		e->d_name[len - 2] = '\0';
		c = add_call(d, e->d_name);
		if (!c) {
			closedir(md);
			return -E2BIG;
		}
		snprintf(path, sizeof(path), "%s/libmkioq/man/%s.3", dir,
			 e->d_name);
		parse_section(d, c, path, ".SH ERRORS", sh_end);
	}
	closedir(md);
	c = add_call(d, "request");
	if (!c)
		return -E2BIG;
	snprintf(path, sizeof(path), "%s/libmkioq/man/libmkioq.7", dir);
	parse_section(d, c, path, ".SS Request errors", pp_end);
	return 0;
}

static bool documented(const struct call_errs *c, int err)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		if (c->errs[i] == err)
			return true;
	return false;
}

static const char *errno_name(int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	return "?";
}

FIXTURE(doc) {
	struct doc d;
};

FIXTURE_SETUP(doc)
{
	int ret = load_doc(&self->d);

	if (ret)
		TH_LOG("no man pages (%s): set MKIOQ_SRCDIR to the source "
		       "tree", strerror(-ret));
	ASSERT_EQ(0, ret);
	if (self->d.bad[0])
		TH_LOG("man page parse: %s", self->d.bad);
	ASSERT_EQ('\0', self->d.bad[0]);
	/* The pages exist: at least the library's 40-odd and "request". */
	ASSERT_LT(30, self->d.n);
}

FIXTURE_TEARDOWN(doc)
{
}

/* The form "cause. Fix: hint", on one line, both parts worth reading. */
static bool well_formed(const char *t)
{
	const char *fix = t ? strstr(t, ". Fix: ") : NULL;

	return fix && fix - t >= 8 && strlen(fix + 7) >= 10 &&
	       !strstr(fix + 1, ". Fix: ") && !strchr(t, '\n');
}

/* Every documented pair has its own text, for either sign of the errno. */
TEST_F(doc, every_documented_pair_has_a_text)
{
	unsigned int i, j, pairs = 0;

	for (i = 0; i < self->d.n; i++) {
		const struct call_errs *c = &self->d.calls[i];

		for (j = 0; j < c->n; j++) {
			int e = c->errs[j];
			const char *t = mkioq_strerror_call(c->name, -e);

			pairs++;
			ASSERT_NE(NULL, t);
			if (strcmp(t, mkioq_strerror_call(c->name, e)) ||
			    !strcmp(mkioq_strerror(e), t) ||
			    !well_formed(t)) {
				TH_LOG("%s: -%s: \"%s\"", c->name,
				       errno_name(e), t);
				_metadata->passed = 0;
			}
		}
	}
	/* The pages list well over a hundred pairs. */
	EXPECT_LT(100, pairs);
}

/*
 * No undocumented pair has a text of its own: every errno 1..4095 that a
 * call does not list gives mkioq_strerror()'s text.
 */
TEST_F(doc, no_undocumented_pair_has_a_text)
{
	unsigned int i;
	int e;

	for (i = 0; i < self->d.n; i++) {
		const struct call_errs *c = &self->d.calls[i];

		for (e = 1; e <= 4095; e++) {
			if (documented(c, e))
				continue;
			if (mkioq_strerror(e) !=
			    mkioq_strerror_call(c->name, -e)) {
				TH_LOG("%s: errno %d (%s) has a text but is "
				       "not in the man page's ERRORS",
				       c->name, e, errno_name(e));
				_metadata->passed = 0;
			}
		}
	}
}

/* One call's texts differ from errno to errno. */
TEST_F(doc, texts_of_a_call_are_distinct)
{
	unsigned int i, j, k;

	for (i = 0; i < self->d.n; i++) {
		const struct call_errs *c = &self->d.calls[i];

		for (j = 0; j < c->n; j++)
			for (k = 0; k < j; k++) {
				/* ENODEV and ENXIO of open: one cause. */
				if ((c->errs[j] == ENXIO &&
				     c->errs[k] == ENODEV) ||
				    (c->errs[j] == ENODEV &&
				     c->errs[k] == ENXIO))
					continue;
				EXPECT_STRNE(mkioq_strerror_call(c->name,
								 c->errs[j]),
					     mkioq_strerror_call(c->name,
								 c->errs[k]));
			}
		if (!_metadata->passed) {
			TH_LOG("%s: two errnos share a text", c->name);
			return;
		}
	}
}

/*
 * A slot call's -ERANGE says "bad index", its busy errno something else:
 * the texts a caller sees tell the two apart.
 */
TEST(range_and_busy_texts_differ)
{
	static const struct {
		const char *call;
		int busy;
	} calls[] = {
		{ "mkioq_submit", EBUSY },
		{ "mkioq_submit_dma_read", EBUSY },
		{ "mkioq_publish_slot", EBUSY },
		{ "mkioq_recycle", EBUSY },
		{ "mkioq_claim", EAGAIN },
		{ "mkioq_complete", EBADSLT },
		{ "mkioq_complete_bytes", EBADSLT },
		{ "mkioq_complete_error", EBADSLT },
		{ "mkioq_complete_batch", EBADSLT },
		{ "mkioq_completion", ENODATA },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(calls); i++) {
		const char *range = mkioq_strerror_call(calls[i].call, -ERANGE);
		const char *busy = mkioq_strerror_call(calls[i].call,
						       -calls[i].busy);

		EXPECT_NE(NULL, strstr(range, "slot count"));
		EXPECT_EQ(NULL, strstr(busy, "slot count"));
		EXPECT_STRNE(range, busy);
		if (!_metadata->passed)
			TH_LOG("%s", calls[i].call);
	}
	/* The same errno means different things from different calls. */
	EXPECT_STRNE(mkioq_strerror_call("mkioq_queue_open", -EACCES),
		     mkioq_strerror_call("mkioq_register", -EACCES));
	EXPECT_STRNE(mkioq_strerror_call("mkioq_prep_wait", -EBUSY),
		     mkioq_strerror_call("mkioq_submit", -EBUSY));
	EXPECT_STRNE(mkioq_strerror_call("mkioq_register", -ERANGE),
		     mkioq_strerror_call("request", -ERANGE));
}

/* The text mkioq_strerror_call(3)'s EXAMPLES section shows. */
TEST(man_page_example)
{
	EXPECT_STREQ("path does not exist: mkioq.ko is not loaded, or was "
		     "loaded with fewer devices than N in /dev/mkioqN. Fix: "
		     "modprobe mkioq (devices=N for more nodes) and check "
		     "the path",
		     mkioq_strerror_call("mkioq_queue_open", -ENOENT));
}

/* Unknown calls, NULL and 0 fall back to mkioq_strerror(). */
TEST(unknown_call_falls_back)
{
	static const int errs[] = { EINVAL, -EINVAL, ERANGE, 9999, -9999,
				    INT_MIN, INT_MAX, 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errs); i++) {
		EXPECT_EQ(mkioq_strerror(errs[i]),
			  mkioq_strerror_call(NULL, errs[i]));
		EXPECT_EQ(mkioq_strerror(errs[i]),
			  mkioq_strerror_call("", errs[i]));
		EXPECT_EQ(mkioq_strerror(errs[i]),
			  mkioq_strerror_call("no_such_call", errs[i]));
		/* Names are exact: no prefix matching, no case folding. */
		EXPECT_EQ(mkioq_strerror(errs[i]),
			  mkioq_strerror_call("mkioq_submi", errs[i]));
		EXPECT_EQ(mkioq_strerror(errs[i]),
			  mkioq_strerror_call("MKIOQ_SUBMIT", errs[i]));
	}
	EXPECT_STREQ("success", mkioq_strerror_call("mkioq_submit", 0));
	EXPECT_STREQ("success", mkioq_strerror_call(NULL, 0));
}

TEST_HARNESS_MAIN
