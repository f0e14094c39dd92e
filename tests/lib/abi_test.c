// SPDX-License-Identifier: GPL-2.0
/*
 * Export control: libmkioq.so and libmkioq-uring.so each export exactly
 * their documented functions, every one in the library's version node.
 * "Documented" is a man page libmkioq/man/mkioq_*.3 whose function is not
 * static inline in the public headers of libmkioq/include/; a page whose
 * SYNOPSIS includes <mkioq_uring.h> documents libmkioq-uring, any other
 * page libmkioq. Each library's version script (libmkioq/libmkioq.map,
 * libmkioq/libmkioq-uring.map) must list the same names, and the library
 * must export what its script lists, no more. The symbols come from
 * "nm -D --defined-only", the SONAME and NEEDED entries from "readelf -d"
 * of build/lib/libmkioq.so and build/lib/libmkioq-uring.so (srcdir.h says
 * where the tree and the libraries are looked for): libmkioq needs no
 * liburing, so that a program of the core API links without -luring.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "srcdir.h"

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

/*
 * Does the SYNOPSIS of page @path include <mkioq_uring.h>? 1 if so, 0 if
 * not, a negative errno if the page cannot be read.
 */
static int page_includes_uring(const char *path)
{
	char line[512];
	bool synopsis = false;
	int ret = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, ".SH ", 4)) {
			if (synopsis)
				break;
			synopsis = !strncmp(line, ".SH SYNOPSIS", 12);
			continue;
		}
		if (synopsis && strstr(line, "#include <mkioq_uring.h>")) {
			ret = 1;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * The man pages libmkioq/man/mkioq_*.3 of one library, names without
 * ".3": those whose SYNOPSIS includes <mkioq_uring.h> if @uring, else the
 * others.
 */
static int man_names(const char *src, bool uring, struct names *s)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	size_t len;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/libmkioq/man", src);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		len = strlen(e->d_name);
		if (strncmp(e->d_name, "mkioq_", 6) || len < 3 ||
		    strcmp(e->d_name + len - 2, ".3"))
			continue;
		snprintf(path, sizeof(path), "%s/libmkioq/man/%s", src,
			 e->d_name);
		ret = page_includes_uring(path);
		if (ret < 0)
			break;
		if (ret == uring)
			add(s, e->d_name, len - 2);
		ret = 0;
	}
	closedir(d);
	return ret;
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
		"libmkioq.h", "mkioq_engine.h", "mkioq_uring.h",
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

/* The names in the global: list of version script libmkioq/@map. */
static int map_names(const char *src, const char *map, struct names *s)
{
	char path[PATH_MAX + 64], line[512];
	bool global = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/libmkioq/%s", src, map);
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

/*
 * The SONAME and NEEDED entries of @so's dynamic section, as
 * "readelf -d" prints them: "... (NEEDED)  Shared library: [liburing.so.2]".
 */
static int readelf_names(const char *so, struct names *soname,
			 struct names *needed)
{
	char cmd[PATH_MAX + 64], line[512];
	FILE *p;
	int status;

	if (access(so, R_OK))
		return -errno;
	snprintf(cmd, sizeof(cmd), "readelf -d '%s' 2>&1", so);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		char *open = strchr(line, '['), *close;
		struct names *to = NULL;

		if (strstr(line, "(NEEDED)"))
			to = needed;
		else if (strstr(line, "(SONAME)"))
			to = soname;
		close = open ? strchr(open, ']') : NULL;
		if (to && close)
			add(to, open + 1, (size_t)(close - open - 1));
	}
	status = pclose(p);
	return status == 0 ? 0 : -ECHILD;
}

/* Does a name of @s start with @prefix? */
static bool has_prefix(const struct names *s, const char *prefix)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (!strncmp(s->v[i], prefix, strlen(prefix)))
			return true;
	return false;
}

FIXTURE(abi) {
	struct names man, inl, map, syms, versions, nodes, want;
	struct names soname, needed;
	char so[PATH_MAX];
};

/* The two libraries: the core, and the io_uring helpers of libmkioq-uring. */
FIXTURE_VARIANT(abi) {
	const char *so_env;		/* where to look first */
	const char *so_name;		/* in build/lib/ */
	const char *soname;
	const char *map;		/* in libmkioq/ */
	const char *node;		/* the one version node */
	bool uring;			/* its pages include <mkioq_uring.h> */
	unsigned int min_exports;	/* a floor, against a parse gone wrong */
	const char *needed[3];		/* NEEDED entries, by prefix */
	const char *not_needed;		/* a NEEDED prefix it must not have */
	const char *internal[4];	/* its non-static internals: local */
};

FIXTURE_VARIANT_ADD(abi, libmkioq) {
	.so_env = "MKIOQ_LIBSO",
	.so_name = "libmkioq.so",
	.soname = "libmkioq.so.0",
	.map = "libmkioq.map",
	.node = "LIBMKIOQ_0.1",
	.uring = false,
	.min_exports = 20,
	.needed = { "libc.so." },
	.not_needed = "liburing",
	.internal = { "ring_alloc", "queue_alloc", "device_release" },
};

FIXTURE_VARIANT_ADD(abi, libmkioq_uring) {
	.so_env = "MKIOQ_URING_LIBSO",
	.so_name = "libmkioq-uring.so",
	.soname = "libmkioq-uring.so.0",
	.map = "libmkioq-uring.map",
	.node = "LIBMKIOQ_URING_0.1",
	.uring = true,
	.min_exports = 3,
	.needed = { "libmkioq.so.0", "liburing.so." },
	.internal = { "uring_release" },
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
	ASSERT_EQ(0, find_libso(self->so, sizeof(self->so), variant->so_env,
				variant->so_name));
	ASSERT_EQ(0, man_names(src, variant->uring, &self->man));
	ASSERT_EQ(0, inline_names(src, &self->inl));
	ASSERT_EQ(0, map_names(src, variant->map, &self->map));
	ret = nm_names(self->so, &self->syms, &self->versions, &self->nodes);
	ASSERT_EQ(0, ret) {
		TH_LOG("nm -D --defined-only %s: %s (run make lib, or set "
		       "%s)", self->so, strerror(-ret), variant->so_env);
	}
	ret = readelf_names(self->so, &self->soname, &self->needed);
	ASSERT_EQ(0, ret) {
		TH_LOG("readelf -d %s: %s", self->so, strerror(-ret));
	}
	ASSERT_FALSE(self->man.overflow || self->inl.overflow ||
		     self->map.overflow || self->syms.overflow ||
		     self->needed.overflow);
	/* What must be exported: pages of functions that are not inline. */
	for (i = 0; i < self->man.n; i++)
		if (!has(&self->inl, self->man.v[i]))
			add(&self->want, self->man.v[i],
			    strlen(self->man.v[i]));
	ASSERT_LE(variant->min_exports, self->want.n);
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
	EXPECT_TRUE(has(&self->nodes, variant->node));
	for (i = 0; i < self->versions.n; i++) {
		if (strcmp(self->versions.v[i], variant->node)) {
			TH_LOG("%s: version \"%s\", not %s", self->syms.v[i],
			       self->versions.v[i], variant->node);
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
			TH_LOG("%s is missing from %s", self->want.v[i],
			       variant->map);
			_metadata->passed = 0;
		}
	}
	for (i = 0; i < self->map.n; i++) {
		if (!has(&self->want, self->map.v[i])) {
			TH_LOG("%s lists %s, which has no man page of this "
			       "library (or is inline)", variant->map,
			       self->map.v[i]);
			_metadata->passed = 0;
		}
	}
}

/* The library exports what its version script lists, no more, no less. */
TEST_F(abi, exports_exactly_what_the_map_lists)
{
	unsigned int i;

	for (i = 0; i < self->map.n; i++) {
		if (!has(&self->syms, self->map.v[i])) {
			TH_LOG("%s lists %s, which %s does not export",
			       variant->map, self->map.v[i], self->so);
			_metadata->passed = 0;
		}
	}
	for (i = 0; i < self->syms.n; i++) {
		if (!has(&self->map, self->syms.v[i])) {
			TH_LOG("%s exports %s, which %s does not list",
			       self->so, self->syms.v[i], variant->map);
			_metadata->passed = 0;
		}
	}
	EXPECT_EQ(self->map.n, self->syms.n);
}

/*
 * The soname, and the libraries it needs: libmkioq needs no liburing (a
 * program of the core API links without -luring); libmkioq-uring needs
 * libmkioq and liburing.
 */
TEST_F(abi, soname_and_needed_libraries)
{
	unsigned int i;

	EXPECT_EQ(1, self->soname.n);
	EXPECT_TRUE(has(&self->soname, variant->soname)) {
		TH_LOG("%s: SONAME is not %s", self->so, variant->soname);
	}
	for (i = 0; i < ARRAY_SIZE(variant->needed) && variant->needed[i];
	     i++) {
		EXPECT_TRUE(has_prefix(&self->needed, variant->needed[i])) {
			TH_LOG("%s does not need %s*", self->so,
			       variant->needed[i]);
		}
	}
	if (variant->not_needed) {
		EXPECT_FALSE(has_prefix(&self->needed, variant->not_needed)) {
			TH_LOG("%s needs %s*", self->so, variant->not_needed);
		}
	}
	for (i = 0; i < self->needed.n; i++)
		TH_LOG("%s: NEEDED %s", self->so, self->needed.v[i]);
}

/*
 * The inline helpers have pages but no symbol, and the internal
 * functions shared between the library's files stay local.
 */
TEST_F(abi, inline_and_internal_functions_stay_local)
{
	unsigned int i;

	EXPECT_LE(6, self->inl.n);
	for (i = 0; i < self->inl.n; i++) {
		EXPECT_FALSE(has(&self->syms, self->inl.v[i]));
	}
	for (i = 0; i < ARRAY_SIZE(variant->internal) && variant->internal[i];
	     i++)
		EXPECT_FALSE(has(&self->syms, variant->internal[i]));
}

/* Every inline helper of the public headers has a page of its own. */
TEST(inline_functions_have_man_pages)
{
	struct names core = { .n = 0 }, uring = { .n = 0 }, inl = { .n = 0 };
	char src[PATH_MAX];
	unsigned int i;

	ASSERT_EQ(0, find_srcdir(src, sizeof(src)));
	ASSERT_EQ(0, man_names(src, false, &core));
	ASSERT_EQ(0, man_names(src, true, &uring));
	ASSERT_EQ(0, inline_names(src, &inl));
	EXPECT_LE(6, inl.n);
	for (i = 0; i < inl.n; i++) {
		EXPECT_TRUE(has(&core, inl.v[i]) || has(&uring, inl.v[i])) {
			TH_LOG("inline %s has no man page", inl.v[i]);
		}
	}
}

TEST_HARNESS_MAIN
