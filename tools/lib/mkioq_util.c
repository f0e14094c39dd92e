// SPDX-License-Identifier: GPL-2.0
/*
 * Byte patterns, the clock, record draining and /proc readings for the
 * tools and tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mkioq_util.h"

void pattern_fill(uint8_t *p, size_t n, uint32_t seed, uint64_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pattern_byte(seed, start + i);
}

size_t pattern_check(const uint8_t *p, size_t n, uint32_t seed,
		     uint64_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != pattern_byte(seed, start + i))
			return i;
	return n;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int drain_cqes(struct mkioq_queue *q)
{
	struct mkioq_cqe cqes[64];
	int n, total = 0;

	while ((n = mkioq_read_cqes(q, cqes, 64, 0)) > 0)
		total += n;
	return total;
}

/* The fdinfo of @fd, read whole into @buf of @len bytes: 0 or -errno. */
int fdinfo_read(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY);
	if (f < 0)
		return -errno;
	n = read(f, buf, len - 1);
	close(f);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* The number after "@key:\t" in the fdinfo of @fd, or -1. */
long fdinfo_number(int fd, const char *key)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* utime + stime of task @pid, in clock ticks; -1 if unreadable. */
long task_cpu_ticks(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* After the name: state, fields 4..13, utime (14), stime (15). */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}
