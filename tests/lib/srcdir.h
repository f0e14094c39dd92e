/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the native tests that read the source tree or the built libraries
 * find them: $MKIOQ_SRCDIR (the source tree), $MKIOQ_LIBSO and
 * $MKIOQ_URING_LIBSO (libmkioq.so and libmkioq-uring.so), else paths
 * relative to the test binary, which lives in $(B)/tests/lib/ of a build
 * directory $(B) inside the source tree.
 */
#ifndef MKIOQ_TESTS_LIB_SRCDIR_H
#define MKIOQ_TESTS_LIB_SRCDIR_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The directory of this binary, @up levels above it; -1 if unknown. */
static inline int exe_dir_up(char *dir, size_t len, int up)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (up++; up > 0; up--) {
		slash = strrchr(exe, '/');
		if (!slash)
			return -1;
		*slash = '\0';
	}
	if (!exe[0])
		strcpy(exe, "/");
	if (strlen(exe) >= len)
		return -1;
	memcpy(dir, exe, strlen(exe) + 1);
	return 0;
}

/*
 * The source tree: $MKIOQ_SRCDIR, else three levels above the binary,
 * else the working directory, whichever holds libmkioq/man/libmkioq.7.
 */
static inline int find_srcdir(char *dir, size_t len)
{
	const char *env = getenv("MKIOQ_SRCDIR");
	char probe[PATH_MAX + 32];

	if (env && *env) {
		snprintf(dir, len, "%s", env);
		return 0;
	}
	if (!exe_dir_up(dir, len, 3)) {
		snprintf(probe, sizeof(probe), "%s/libmkioq/man/libmkioq.7",
			 dir);
		if (!access(probe, R_OK))
			return 0;
	}
	if (!access("libmkioq/man/libmkioq.7", R_OK)) {
		snprintf(dir, len, ".");
		return 0;
	}
	return -1;
}

/*
 * A shared library: $@env (MKIOQ_LIBSO, MKIOQ_URING_LIBSO), else lib/@name
 * (libmkioq.so, libmkioq-uring.so) of the build directory two levels
 * above the binary.
 */
static inline int find_libso(char *path, size_t len, const char *env_name,
			     const char *name)
{
	const char *env = getenv(env_name);
	char dir[PATH_MAX - 64];

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return 0;
	}
	if (exe_dir_up(dir, sizeof(dir), 2))
		return -1;
	snprintf(path, len, "%s/lib/%s", dir, name);
	return 0;
}

#endif
