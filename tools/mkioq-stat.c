// SPDX-License-Identifier: MIT
/*
 * mkioq-stat: every mkioq queue on the system, from the fdinfo of the
 * files that hold them (/proc/PID/fdinfo/FD of /dev/mkioqN): its owner,
 * mode, slot states and counters, and the slots that have sat PUBLISHED
 * or CLAIMED longer than a threshold, with their words decoded.
 *
 *   mkioq-stat [-w SECONDS [-n COUNT]] [-t MS]
 *
 * With -w it refreshes every SECONDS and shows completion rates; -n stops
 * after COUNT refreshes. -t sets the stuck threshold (default 1000 ms).
 * Exit status: 0, or 1 if /proc could not be read.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/mkioq.h>

#define MAX_QUEUES	256
#define MAX_HOLDERS	8

/* One slot line of fdinfo: "SLOT AGEms by=WHO op=... ..." or "none". */
struct stuck {
	bool valid;
	unsigned int slot;
	uint64_t age_ms;
	char who[16];
	char words[160];
};

struct queue {
	unsigned long id;
	char dev[64];
	char state[16];
	char mode[16];
	long owner;
	unsigned int nr_holders;
	long holder_pid[MAX_HOLDERS];
	int holder_fd[MAX_HOLDERS];
	char owner_comm[32];
	unsigned long slots, empty, published, claimed, done, ok, error;
	unsigned long handles, waits, fences, backlog;
	uint64_t completed, errors, overflow;
	struct stuck oldest_published, oldest_claimed;
};

static const char *op_name(unsigned long op)
{
	switch (op) {
	case MKIOQ_OP_READ:
		return "READ";
	case MKIOQ_OP_WRITE:
		return "WRITE";
	case MKIOQ_OP_FENCE:
		return "FENCE";
	}
	return "op?";
}

/* "5 1234ms by=module op=1 src_handle=..." -> @s, op decoded by name. */
static void parse_slot_line(const char *v, struct stuck *s)
{
	unsigned long op;
	const char *p;
	int used = 0;

	memset(s, 0, sizeof(*s));
	if (sscanf(v, "%u %" SCNu64 "ms by=%15s %n", &s->slot, &s->age_ms,
		   s->who, &used) < 3)
		return;
	s->valid = true;
	p = v + used;
	if (sscanf(p, "op=%lu", &op) == 1) {
		const char *rest = strchr(p, ' ');

		snprintf(s->words, sizeof(s->words), "%s%s", op_name(op),
			 rest ? rest : "");
	} else {
		snprintf(s->words, sizeof(s->words), "%s", p);
	}
}

static void parse_field(struct queue *q, const char *key, const char *v)
{
	static const struct {
		const char *key;
		size_t off;
	} counts[] = {
#define F(k, f) { k, offsetof(struct queue, f) }
		F("slots", slots), F("empty", empty), F("published", published),
		F("claimed", claimed), F("done", done), F("ok", ok),
		F("error", error), F("handles", handles),
		F("waits-parked", waits), F("fences-held", fences),
		F("cq-backlog", backlog),
#undef F
	};
	size_t i;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (!strcmp(key, counts[i].key)) {
			*(unsigned long *)((char *)q + counts[i].off) =
				strtoul(v, NULL, 0);
			return;
		}
	}
	if (!strcmp(key, "queue"))
		q->id = strtoul(v, NULL, 0);
	else if (!strcmp(key, "state"))
		snprintf(q->state, sizeof(q->state), "%s", v);
	else if (!strcmp(key, "mode"))
		snprintf(q->mode, sizeof(q->mode), "%s", v);
	else if (!strcmp(key, "owner"))
		q->owner = strtol(v, NULL, 0);
	else if (!strcmp(key, "completed"))
		q->completed = strtoull(v, NULL, 0);
	else if (!strcmp(key, "errors"))
		q->errors = strtoull(v, NULL, 0);
	else if (!strcmp(key, "cq-overflow"))
		q->overflow = strtoull(v, NULL, 0);
	else if (!strcmp(key, "oldest-published"))
		parse_slot_line(v, &q->oldest_published);
	else if (!strcmp(key, "oldest-claimed"))
		parse_slot_line(v, &q->oldest_claimed);
}

/* Returns false if @path is not a queue's fdinfo (no "queue:" line). */
static bool read_fdinfo(const char *path, struct queue *q)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *v;

		if (!colon)
			continue;
		*colon = '\0';
		v = colon + 1;
		while (isspace((unsigned char)*v))
			v++;
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(line, "queue"))
			found = true;
		parse_field(q, line, v);
	}
	fclose(f);
	return found;
}

static void read_comm(long pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static struct queue *find_queue(struct queue *qs, unsigned int n,
				unsigned long id)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (qs[i].id == id)
			return &qs[i];
	return NULL;
}

/* Every queue some process holds; one entry per queue, not per fd. */
static int scan(struct queue *qs, unsigned int *nr)
{
	struct dirent *pe, *fe;
	DIR *proc, *fds;

	*nr = 0;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((pe = readdir(proc))) {
		char path[PATH_MAX], target[64];
		long pid;

		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		pid = strtol(pe->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			struct queue q = { 0 }, *e;
			ssize_t len;

			if (!isdigit((unsigned char)fe->d_name[0]))
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid,
				 fe->d_name);
			len = readlink(path, target, sizeof(target) - 1);
			if (len <= 0)
				continue;
			target[len] = '\0';
			if (strncmp(target, "/dev/mkioq", 10))
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s",
				 pid, fe->d_name);
			if (!read_fdinfo(path, &q))
				continue;
			e = find_queue(qs, *nr, q.id);
			if (!e) {
				if (*nr == MAX_QUEUES)
					continue;
				e = &qs[(*nr)++];
				*e = q;
				snprintf(e->dev, sizeof(e->dev), "%s",
					 target + 5);
				read_comm(q.owner, e->owner_comm,
					  sizeof(e->owner_comm));
			}
			if (e->nr_holders < MAX_HOLDERS) {
				e->holder_pid[e->nr_holders] = pid;
				e->holder_fd[e->nr_holders++] = atoi(fe->d_name);
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return 0;
}

static void print_stuck(const char *state, const struct stuck *s,
			uint64_t threshold_ms)
{
	if (!s->valid || s->age_ms < threshold_ms)
		return;
	printf("  STUCK slot %u %s for %" PRIu64 " ms (by %s): %s\n",
	       s->slot, state, s->age_ms, s->who, s->words);
}

static void print_queues(const struct queue *qs, unsigned int n,
			 const struct queue *prev, unsigned int nprev,
			 double interval, uint64_t threshold_ms)
{
	unsigned int i, h;

	if (!n) {
		printf("no mkioq queues\n");
		return;
	}
	printf("%-6s %-8s %-7s %-8s %-16s %5s %5s %5s %5s %7s %5s %10s %8s %8s %5s%s\n",
	       "QUEUE", "DEVICE", "STATE", "MODE", "OWNER", "SLOTS", "EMPTY",
	       "PUB", "CLM", "OK", "ERR", "COMPLETED", "ERRORS", "OVERFLOW",
	       "WAITS", prev ? "     REQ/S" : "");
	for (i = 0; i < n; i++) {
		const struct queue *q = &qs[i];
		char owner[48];

		snprintf(owner, sizeof(owner), "%ld/%s", q->owner,
			 q->owner_comm);
		printf("%-6lu %-8s %-7s %-8s %-16.16s %5lu %5lu %5lu %5lu %7lu %5lu %10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %5lu",
		       q->id, q->dev, q->state, q->mode[0] ? q->mode : "-",
		       owner, q->slots, q->empty, q->published, q->claimed,
		       q->ok, q->error, q->completed, q->errors, q->overflow,
		       q->waits);
		if (prev) {
			const struct queue *p = find_queue((struct queue *)prev,
							   nprev, q->id);
			double rate = p && q->completed >= p->completed ?
				(q->completed - p->completed) / interval : 0;

			printf(" %10.0f", rate);
		}
		printf("\n  held by:");
		for (h = 0; h < q->nr_holders; h++)
			printf(" pid %ld fd %d", q->holder_pid[h],
			       q->holder_fd[h]);
		printf("\n");
		print_stuck("PUBLISHED", &q->oldest_published, threshold_ms);
		print_stuck("CLAIMED", &q->oldest_claimed, threshold_ms);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mkioq-stat [-w SECONDS [-n COUNT]] [-t MS]\n");
}

int main(int argc, char **argv)
{
	static struct queue cur[MAX_QUEUES], prev[MAX_QUEUES];
	unsigned int ncur = 0, nprev = 0;
	double interval = 0;
	long count = -1, threshold = 1000;
	int opt, ret, round;

	while ((opt = getopt(argc, argv, "w:n:t:h")) != -1) {
		switch (opt) {
		case 'w':
			interval = strtod(optarg, NULL);
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 't':
			threshold = strtol(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (interval < 0 || threshold < 0 || (count != -1 && count < 1)) {
		usage(stderr);
		return 1;
	}

	for (round = 0;; round++) {
		ret = scan(cur, &ncur);
		if (ret) {
			fprintf(stderr, "mkioq-stat: /proc: %s\n", strerror(-ret));
			return 1;
		}
		if (interval > 0)
			printf("--- %d\n", round);
		print_queues(cur, ncur, round ? prev : NULL, nprev, interval,
			     threshold);
		fflush(stdout);
		if (interval <= 0 || (count > 0 && round + 1 >= count))
			return 0;
		memcpy(prev, cur, sizeof(cur));
		nprev = ncur;
		usleep((useconds_t)(interval * 1e6));
	}
}
