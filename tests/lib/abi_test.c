// SPDX-License-Identifier: GPL-2.0
/*
 * Export control: libmkioq.so exports exactly the documented functions,
 * every one in version LIBMKIOQ_0.1. "Documented" is a man page
 * libmkioq/man/mkioq_*.3 whose function is not static inline in the
 * headers of libmkioq/include/; the version script libmkioq/libmkioq.map
 * must list the same names. The symbols come from
 * "nm -D --defined-only build/lib/libmkioq.so" (srcdir.h says where the
 * tree and the library are looked for).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "srcdir.h"

#define VERSION_NODE	"LIBMKIOQ_0.1"
#define MAX_NAMES	128

struct names {
	char v[MAX_NAMES][64];
	unsigned int n;
	bool overflow;
};

static void add(struct names *s, const char *name, size_t len)
{
	if (s->n == MAX_NAMES || len >= sizeof(s->v[0])) {
		s->overflow = true;
		return;
	}
	memcpy(s->v[s->n], name, len);
	s->v[s->n][len] = '\0';
	s->n++;
}

static bool has(const struct names *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return true;
	return false;
}

/* The man pages: libmkioq/man/mkioq_*.3, names without ".3". */
static int man_names(const char *src, struct names *s)
{
	char path[PATH_MAX + 32];
	struct dirent *e;
	size_t len;
	DIR *d;

	snprintf(path, sizeof(path), "%s/libmkioq/man", src);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		len = strlen(e->d_name);
		if (!strncmp(e->d_name, "mkioq_", 6) && len > 2 &&
		    !strcmp(e->d_name + len - 2, ".3"))
			add(s, e->d_name, len - 2);
	}
	closedir(d);
	return 0;
}

static bool ident(int c)
{
	return isalnum(c) || c == '_';
}

/*
 * The static inline functions of the public headers: the identifier
 * before the first "(" of each line that starts with "static inline".
 */
static int inline_names(const char *src, struct names *s)
{
	static const char *const headers[] = {
		"libmkioq.h", "mkioq_uring.h",
	};
	char path[PATH_MAX + 64], line[512];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(headers); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/libmkioq/include/%s", src,
			 headers[i]);
		f = fopen(path, "r");
		if (!f)
			return -errno;
		while (fgets(line, sizeof(line), f)) {
			char *paren, *end, *start;

			if (strncmp(line, "static inline", 13))
				continue;
			paren = strchr(line, '(');
			if (!paren)
				continue;
			end = paren;
			while (end > line && isspace((unsigned char)end[-1]))
				end--;
			start = end;
			while (start > line && ident((unsigned char)start[-1]))
				start--;
			if (end > start)
				add(s, start, (size_t)(end - start));
		}
		fclose(f);
	}
	return 0;
}

/* The names in the global: list of libmkioq.map. */
static int map_names(const char *src, struct names *s)
{
	char path[PATH_MAX + 32], line[512];
	bool global = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/libmkioq/libmkioq.map", src);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *q;

		while (isspace((unsigned char)*p))
			p++;
		if (!strncmp(p, "global:", 7)) {
			global = true;
			continue;
		}
		if (!strncmp(p, "local:", 6) || *p == '}') {
			global = false;
			continue;
		}
		if (!global || !ident((unsigned char)*p))
			continue;
		for (q = p; ident((unsigned char)*q); q++)
			;
		add(s, p, (size_t)(q - p));
	}
	fclose(f);
	return 0;
}

/*
 * The defined dynamic symbols of @so, with their versions: "name" and
 * "version" (empty if unversioned). The version nodes themselves (type
 * A, e.g. LIBMKIOQ_0.1) go to @nodes.
 */
static int nm_names(const char *so, struct names *syms,
		    struct names *versions, struct names *nodes)
{
	char cmd[PATH_MAX + 64], line[512];
	FILE *p;
	int status;

	if (access(so, R_OK))
		return -errno;
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s' 2>&1", so);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		char addr[64], type[8], name[256], *at;

		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue;
		if (!strcmp(type, "A")) {
			add(nodes, name, strlen(name));
			continue;
		}
		at = strchr(name, '@');
		add(syms, name, at ? (size_t)(at - name) : strlen(name));
		while (at && *at == '@')
			at++;
		add(versions, at ? at : "", at ? strlen(at) : 0);
	}
	status = pclose(p);
	return status == 0 ? 0 : -ECHILD;
}

FIXTURE(abi) {
	struct names man, inl, map, syms, versions, nodes, want;
	char so[PATH_MAX];
};

FIXTURE_SETUP(abi)
{
	char src[PATH_MAX];
	unsigned int i;
	int ret;

	memset(self, 0, sizeof(*self));
	ASSERT_EQ(0, find_srcdir(src, sizeof(src))) {
		TH_LOG("no source tree: set MKIOQ_SRCDIR");
	}
	ASSERT_EQ(0, find_libso(self->so, sizeof(self->so)));
	ASSERT_EQ(0, man_names(src, &self->man));
	ASSERT_EQ(0, inline_names(src, &self->inl));
	ASSERT_EQ(0, map_names(src, &self->map));
	ret = nm_names(self->so, &self->syms, &self->versions, &self->nodes);
	ASSERT_EQ(0, ret) {
		TH_LOG("nm -D --defined-only %s: %s (run make lib, or set "
		       "MKIOQ_LIBSO)", self->so, strerror(-ret));
	}
	ASSERT_FALSE(self->man.overflow || self->inl.overflow ||
		     self->map.overflow || self->syms.overflow);
	/* What must be exported: pages of functions that are not inline. */
	for (i = 0; i < self->man.n; i++)
		if (!has(&self->inl, self->man.v[i]))
			add(&self->want, self->man.v[i],
			    strlen(self->man.v[i]));
	ASSERT_LT(20, self->want.n);
}

FIXTURE_TEARDOWN(abi)
{
}

/* Every documented function is exported, and nothing else is. */
TEST_F(abi, exports_exactly_the_documented_functions)
{
	unsigned int i;

	for (i = 0; i < self->want.n; i++) {
		if (!has(&self->syms, self->want.v[i])) {
			TH_LOG("%s has a man page but is not exported",
			       self->want.v[i]);
			_metadata->passed = 0;
		}
	}
	for (i = 0; i < self->syms.n; i++) {
		if (!has(&self->want, self->syms.v[i])) {
			TH_LOG("%s is exported but has no man page (or is "
			       "inline)", self->syms.v[i]);
			_metadata->passed = 0;
		}
	}
	EXPECT_EQ(self->want.n, self->syms.n);
}

/* Each export is in the one version node, and that node exists. */
TEST_F(abi, every_export_is_versioned)
{
	unsigned int i;

	EXPECT_EQ(1, self->nodes.n);
	EXPECT_TRUE(has(&self->nodes, VERSION_NODE));
	for (i = 0; i < self->versions.n; i++) {
		if (strcmp(self->versions.v[i], VERSION_NODE)) {
			TH_LOG("%s: version \"%s\", not " VERSION_NODE,
			       self->syms.v[i], self->versions.v[i]);
			_metadata->passed = 0;
		}
	}
}

/* The version script lists the documented functions, no more, no less. */
TEST_F(abi, map_lists_the_documented_functions)
{
	unsigned int i;

	for (i = 0; i < self->want.n; i++) {
		if (!has(&self->map, self->want.v[i])) {
			TH_LOG("%s is missing from libmkioq.map",
			       self->want.v[i]);
			_metadata->passed = 0;
		}
	}
	for (i = 0; i < self->map.n; i++) {
		if (!has(&self->want, self->map.v[i])) {
			TH_LOG("libmkioq.map lists %s, which has no man page "
			       "(or is inline)", self->map.v[i]);
			_metadata->passed = 0;
		}
	}
}

/*
 * The inline helpers have pages but no symbol, and the internal
 * functions shared between the library's files stay local.
 */
TEST_F(abi, inline_and_internal_functions_stay_local)
{
	static const char *const internal[] = { "ring_alloc", "uring_free" };
	unsigned int i;

	EXPECT_LE(6, self->inl.n);
	for (i = 0; i < self->inl.n; i++) {
		EXPECT_TRUE(has(&self->man, self->inl.v[i])) {
			TH_LOG("inline %s has no man page", self->inl.v[i]);
		}
		EXPECT_FALSE(has(&self->syms, self->inl.v[i]));
	}
	for (i = 0; i < ARRAY_SIZE(internal); i++)
		EXPECT_FALSE(has(&self->syms, internal[i]));
}

TEST_HARNESS_MAIN
