// SPDX-License-Identifier: GPL-2.0
/*
 * What an operator sees: a queue's fdinfo, the mkioq tracepoints of a known
 * workload, and mkioq-stat's view of a stuck slot (Documentation/operator.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"
#include "mkioq_uring.h"

#define BUF_BYTES	(1u << 20)
#define STAT_TOOL	"/bin/mkioq-stat"

/* The value of "key:\tvalue" in @info, copied to @out; NULL if absent. */
static const char *field(const char *info, const char *key, char *out,
			 size_t len)
{
	size_t klen = strlen(key);
	const char *p = info;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':' &&
		    p[klen + 1] == '\t') {
			const char *v = p + klen + 2;
			size_t n = strcspn(v, "\n");

			snprintf(out, len, "%.*s", (int)n, v);
			return out;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static long num(const char *info, const char *key)
{
	char v[256];

	return field(info, key, v, sizeof(v)) ? strtol(v, NULL, 0) : -1;
}

static uint32_t *ring_words(struct mkioq_queue *q)
{
	size_t len;

	return mkioq_queue_mut_bytes(q, &len);
}

/* A producer's reservation of @slot holding a request's words: CLAIMED. */
static void reserve(struct mkioq_queue *q, uint32_t slot, uint32_t tag)
{
	uint32_t *w = ring_words(q) + slot * MKIOQ_SLOT_WORDS;

	w[MKIOQ_WORD_OP] = MKIOQ_OP_READ;
	w[MKIOQ_WORD_SRC_HANDLE] = 7;
	w[MKIOQ_WORD_DST_HANDLE] = 8;
	w[MKIOQ_WORD_OFFSET_LO] = 0x1000;
	w[MKIOQ_WORD_OFFSET_HI] = 0;
	w[MKIOQ_WORD_BYTE_COUNT] = 512;
	w[MKIOQ_WORD_TAG] = tag;
	__atomic_store_n(&w[MKIOQ_WORD_STATUS], MKIOQ_STATE_CLAIMED,
			 __ATOMIC_RELEASE);
}

static void unreserve(struct mkioq_queue *q, uint32_t slot)
{
	__atomic_store_n(&ring_words(q)[slot * MKIOQ_SLOT_WORDS +
					MKIOQ_WORD_STATUS],
			 MKIOQ_STATE_EMPTY, __ATOMIC_RELEASE);
}

FIXTURE(obs) {
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst;
	uint32_t hsrc, hdst;
};

FIXTURE_SETUP(obs)
{
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 8, 0, &self->q));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 4096, 65536,
				    MKIOQ_ACCESS_RW, &self->hdst));
}

FIXTURE_TEARDOWN(obs)
{
	mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
}

/*
 * Slots: 0 a producer's reservation, 1 a host-published ingest (never
 * claimed), 2-4 READs, 5 a READ of an unknown handle, 6 a FENCE that the
 * reservation holds, 7 empty.
 */
TEST_F(obs, fdinfo_shows_slots_handles_counters)
{
	static char info[16384];
	char v[256], want[128];
	unsigned int i;
	int fd = mkioq_queue_fd(self->q);
	struct mkioq_request fence = { .op = MKIOQ_OP_FENCE,
				       .src_handle = self->hsrc, .tag = 66 };

	reserve(self->q, 0, 50);
	ASSERT_EQ(0, mkioq_publish_slot(self->q, 1, 5, 100, 9));
	for (i = 2; i <= 4; i++)
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, i, self->hsrc,
						   self->hdst, 4096, 20 + i));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 5, 999, self->hdst, 4096,
					   25));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	for (i = 2; i <= 5; i++)
		ASSERT_LT(0, wait_slot(self->q, i, 5000));
	ASSERT_EQ(0, mkioq_submit(self->q, 6, &fence));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	/*
	 * The module's claim of the FENCE is timed from the claim, the
	 * reservation from this first look: the FENCE is the oldest.
	 */
	usleep(100 * 1000);

	ASSERT_EQ(0, fdinfo_read(fd, info, sizeof(info)));
	TH_LOG("fdinfo:\n%s", info);
	EXPECT_LT(0, num(info, "queue"));
	ASSERT_NE(NULL, field(info, "state", v, sizeof(v)));
	EXPECT_STREQ("live", v);
	EXPECT_EQ(getpid(), num(info, "owner"));
	ASSERT_NE(NULL, field(info, "mode", v, sizeof(v)));
	EXPECT_STREQ("doorbell", v);
	EXPECT_EQ(8, num(info, "slots"));
	EXPECT_EQ(1, num(info, "empty"));
	EXPECT_EQ(1, num(info, "published"));
	EXPECT_EQ(2, num(info, "claimed"));
	EXPECT_EQ(1, num(info, "claimed-by-module"));
	EXPECT_EQ(0, num(info, "done"));
	EXPECT_EQ(3, num(info, "ok"));
	EXPECT_EQ(1, num(info, "error"));
	EXPECT_EQ(0, num(info, "invalid"));
	EXPECT_EQ(1, num(info, "fences-held"));
	ASSERT_NE(NULL, field(info, "oldest-published", v, sizeof(v)));
	EXPECT_EQ(0, strncmp(v, "1 ", 2));
	EXPECT_NE(NULL, strstr(v, "by=other op=1 src_handle=0 dst_handle=5 offset=0x0 byte_count=100 tag=9"));
	ASSERT_NE(NULL, field(info, "oldest-claimed", v, sizeof(v)));
	EXPECT_EQ(0, strncmp(v, "6 ", 2));
	EXPECT_LE(80, strtol(v + 2, NULL, 10));
	EXPECT_NE(NULL, strstr(v, "by=module op=3"));
	EXPECT_EQ(2, num(info, "handles"));
	snprintf(want, sizeof(want), "handle:\t%u access=r offset=0x0 length=%u ",
		 self->hsrc, BUF_BYTES);
	EXPECT_NE(NULL, strstr(info, want));
	snprintf(want, sizeof(want), "handle:\t%u access=rw offset=0x1000 length=65536 dmabuf-size=%zu ",
		 self->hdst, self->dst.size);
	EXPECT_NE(NULL, strstr(info, want));
	EXPECT_EQ(4, num(info, "completed"));
	EXPECT_EQ(1, num(info, "errors"));
	EXPECT_EQ(0, num(info, "cq-overflow"));
	EXPECT_EQ(4, num(info, "cq-backlog"));
	EXPECT_EQ(0, num(info, "waits-parked"));

	/* Ages grow between looks; the module's claim is timed from itself. */
	usleep(400 * 1000);
	ASSERT_EQ(0, fdinfo_read(fd, info, sizeof(info)));
	ASSERT_NE(NULL, field(info, "oldest-claimed", v, sizeof(v)));
	EXPECT_LE(300, strtol(strchr(v, ' ') + 1, NULL, 10));
	ASSERT_NE(NULL, field(info, "oldest-published", v, sizeof(v)));
	EXPECT_LE(300, strtol(strchr(v, ' ') + 1, NULL, 10));

	/* The reservation ends: the FENCE completes, the records drain. */
	unreserve(self->q, 0);
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 6, 5000));
	ASSERT_EQ(5, drain_cqes(self->q));
	ASSERT_EQ(0, fdinfo_read(fd, info, sizeof(info)));
	EXPECT_EQ(0, num(info, "cq-backlog"));
	EXPECT_EQ(0, num(info, "fences-held"));
	EXPECT_EQ(0, num(info, "claimed"));
	ASSERT_NE(NULL, field(info, "oldest-claimed", v, sizeof(v)));
	EXPECT_STREQ("none", v);
}

TEST(fdinfo_before_setup)
{
	static char info[4096];
	char v[64];
	int fd = open(MKIOQ_DEV, O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fdinfo_read(fd, info, sizeof(info)));
	ASSERT_NE(NULL, field(info, "state", v, sizeof(v)));
	EXPECT_STREQ("new", v);
	EXPECT_LT(0, num(info, "queue"));
	EXPECT_EQ(NULL, field(info, "mode", v, sizeof(v)));
	close(fd);
}

/* tracefs, mounted if it is not; "" if the kernel has none. */
static const char *tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing",
					    "/sys/kernel/debug/tracing" };
	char path[128];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events/mkioq", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	mount("nodev", dirs[0], "tracefs", 0, NULL);
	snprintf(path, sizeof(path), "%s/events/mkioq", dirs[0]);
	return access(path, F_OK) ? "" : dirs[0];
}

static int trace_write(const char *dir, const char *file, const char *s)
{
	char path[192];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Lines of the trace buffer with "mkioq_@event: queue=@queue " and @also. */
static int trace_count(const char *trace, const char *event, long queue,
		       const char *also)
{
	char key[96];
	const char *p = trace;
	int n = 0;

	snprintf(key, sizeof(key), "%s: queue=%ld ", event, queue);
	while ((p = strstr(p, key))) {
		const char *eol = strchr(p, '\n');
		const char *hit = also ? strstr(p, also) : p;

		if (hit && (!eol || hit < eol))
			n++;
		p += strlen(key);
	}
	return n;
}

static long queue_id(struct mkioq_queue *q)
{
	static char info[16384];

	if (fdinfo_read(mkioq_queue_fd(q), info, sizeof(info)))
		return -1;
	return num(info, "queue");
}

TEST_F(obs, tracepoints_of_a_known_workload)
{
	const char *dir = tracefs();
	struct mkioq_queue *pq, *bq;
	struct mkioq_setup setup = {
		.size = sizeof(setup), .slot_count = 4,
		.mode = MKIOQ_MODE_POLL, .poll_idle_us = 1000,
		.poll_period_us = 1000000,
	};
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct mkioq_info qi;
	long a, b, p;
	unsigned int i, round;
	char *trace;
	size_t len = 0;
	FILE *f;
	char path[192];
	int n;

	ASSERT_NE(0, dir[0]) TH_LOG("no tracefs with events/mkioq");
	ASSERT_EQ(0, trace_write(dir, "tracing_on", "0"));
	ASSERT_EQ(0, trace_write(dir, "buffer_size_kb", "8192"));
	ASSERT_EQ(0, trace_write(dir, "trace", ""));
	ASSERT_EQ(0, trace_write(dir, "events/mkioq/enable", "1"));
	ASSERT_EQ(0, trace_write(dir, "tracing_on", "1"));

	/* DOORBELL: three READs and one of an unknown handle. */
	a = queue_id(self->q);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, i, self->hsrc,
						   self->hdst, 4096, 100 + i));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 3, 999, self->hdst, 4096,
					   103));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	for (i = 0; i < 4; i++)
		ASSERT_LT(0, wait_slot(self->q, i, 5000));

	/* A WAIT parks for slot 5, then its READ completes it. */
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, IORING_SETUP_SQE128 |
					 IORING_SETUP_CQE32));
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_wait(&ring, sqe, mkioq_queue_fd(self->q), 5, NULL);
	ASSERT_EQ(1, io_uring_submit(&ring));
	usleep(50 * 1000);
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 5, self->hsrc, self->hdst,
					   4096, 105));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
	EXPECT_EQ(4096, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);

	/* Another queue's records overflow: 1088 completions, none read. */
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, 0, &bq));
	b = queue_id(bq);
	{
		uint32_t h1, h2;

		ASSERT_EQ(0, mkioq_register(bq, self->src.fd, 0, BUF_BYTES,
					    MKIOQ_ACCESS_READ, &h1));
		ASSERT_EQ(0, mkioq_register(bq, self->dst.fd, 0, BUF_BYTES,
					    MKIOQ_ACCESS_RW, &h2));
		for (round = 0; round < 17; round++) {
			for (i = 0; i < 64; i++)
				ASSERT_EQ(0, mkioq_submit_dma_read(bq, i, h1, h2,
								   64, i));
			ASSERT_EQ(0, mkioq_doorbell(bq));
			for (i = 0; i < 64; i++) {
				ASSERT_LT(0, wait_slot(bq, i, 5000));
				ASSERT_EQ(0, mkioq_recycle(bq, i));
			}
		}
	}
	ASSERT_EQ(0, mkioq_info(bq, &qi));
	EXPECT_EQ(1088 - 1024, qi.cq_overflow);

	/* POLL: its thread sleeps after 1 ms idle; the doorbell wakes it. */
	ASSERT_EQ(0, mkioq_queue_open_setup(MKIOQ_DEV, &setup, &pq));
	p = queue_id(pq);
	usleep(200 * 1000);
	ASSERT_EQ(0, mkioq_doorbell(pq));
	usleep(100 * 1000);

	ASSERT_EQ(0, trace_write(dir, "tracing_on", "0"));
	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_LT(0, getdelim(&trace, &len, '\0', f));
	fclose(f);
	trace_write(dir, "events/mkioq/enable", "0");
	trace_write(dir, "tracing_on", "1");

	for (i = 0; i < 4; i++) {
		char tag[32];

		snprintf(tag, sizeof(tag), " tag=%u", 100 + i);
		EXPECT_EQ(1, trace_count(trace, "mkioq_claim", a, tag));
		EXPECT_EQ(1, trace_count(trace, "mkioq_complete", a, tag));
	}
	EXPECT_EQ(1, trace_count(trace, "mkioq_complete", a,
				 "status=0x11 result=-2 tag=103"));
	EXPECT_EQ(1, trace_count(trace, "mkioq_complete", a,
				 "status=0x10 result=4096 tag=100"));
	EXPECT_LE(2, trace_count(trace, "mkioq_doorbell", a, "mode=doorbell"));
	EXPECT_LE(1, trace_count(trace, "mkioq_service_pass", a,
				 "requests=4 fences_held=0 completed=4"));
	EXPECT_EQ(1, trace_count(trace, "mkioq_wait_park", a, "slot=5 parked=1"));
	EXPECT_EQ(1, trace_count(trace, "mkioq_wait_complete", a,
				 "slot=5 res=4096 flags=0x0"));
	n = trace_count(trace, "mkioq_cq_overflow", b, NULL);
	EXPECT_EQ((int)qi.cq_overflow, n);
	EXPECT_EQ(1088, trace_count(trace, "mkioq_complete", b, NULL));
	EXPECT_EQ(1, trace_count(trace, "mkioq_doorbell", p, "mode=poll"));
	EXPECT_LE(1, trace_count(trace, "mkioq_poll_sleep", p,
				 "period_us=1000000"));
	EXPECT_LE(1, trace_count(trace, "mkioq_poll_wake", p,
				 "reason=doorbell"));
	if (_metadata->passed == 0 || getenv("MKIOQ_TRACE_DUMP"))
		TH_LOG("trace (%zu bytes):\n%.4000s", strlen(trace), trace);
	free(trace);
	mkioq_queue_free(pq);
	mkioq_queue_free(bq);
}

/* mkioq-stat finds this queue and names the slot stuck in it. */
TEST_F(obs, stat_tool_flags_stuck_slot)
{
	static char info[16384], out[65536];
	char cmd[128], want[256];
	size_t n = 0;
	long id = queue_id(self->q);
	FILE *f;

	ASSERT_EQ(0, access(STAT_TOOL, X_OK))
		TH_LOG("%s missing: the VM lane runs it as a command", STAT_TOOL);
	reserve(self->q, 3, 77);
	/* The first look starts the clock of a slot the module did not claim. */
	ASSERT_EQ(0, fdinfo_read(mkioq_queue_fd(self->q), info, sizeof(info)));
	usleep(300 * 1000);

	f = popen(STAT_TOOL " -t 200", "r");
	ASSERT_NE(NULL, f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	EXPECT_EQ(0, pclose(f));
	TH_LOG("mkioq-stat:\n%s", out);
	snprintf(want, sizeof(want), "\n%-6ld mkioq0   live    doorbell %ld/",
		 id, (long)getpid());
	EXPECT_NE(NULL, strstr(out, want));
	snprintf(want, sizeof(want), "held by: pid %ld fd %d", (long)getpid(),
		 mkioq_queue_fd(self->q));
	EXPECT_NE(NULL, strstr(out, want));
	EXPECT_NE(NULL, strstr(out, "  STUCK slot 3 CLAIMED for "));
	EXPECT_NE(NULL, strstr(out, " ms (by other): READ src_handle=7 dst_handle=8 offset=0x1000 byte_count=512 tag=77"));

	/* Below the threshold nothing is stuck; -w refreshes with rates. */
	snprintf(cmd, sizeof(cmd), STAT_TOOL " -t 100000 -w 0.2 -n 2");
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	EXPECT_EQ(0, pclose(f));
	EXPECT_EQ(NULL, strstr(out, "STUCK"));
	EXPECT_NE(NULL, strstr(out, "--- 0\n"));
	EXPECT_NE(NULL, strstr(out, "--- 1\n"));
	EXPECT_NE(NULL, strstr(out, "REQ/S"));
	unreserve(self->q, 3);
}

TEST_HARNESS_MAIN
