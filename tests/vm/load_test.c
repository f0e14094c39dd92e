// SPDX-License-Identifier: GPL-2.0
/*
 * Load: CHILDREN processes, each with its own queue (even children in
 * DOORBELL mode, odd ones in POLL mode), share MKIOQ_LOAD_REQUESTS
 * requests (default 10^6) of random ops (READ and WRITE), sizes (1 B to
 * 16 KiB) and offsets. Every byte of every request is compared with the
 * pattern it was copied from, every tag must complete exactly once (a
 * bitmap per child, from the slots and again from the completion
 * records), and none may be lost. Afterwards, with every child exited and
 * its queue closed, the kernel's unreclaimable slab must be back where it
 * was before.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

#define CHILDREN	4
#define NSLOTS		64
#define MAX_REQ		(16u << 10)	/* request sizes are 1..MAX_REQ */
#define SRC_BYTES	(1u << 20)
#define REGION		(64u << 10)	/* one destination range per slot */
#define WSRC		16		/* source handles of WRITEs */
#define WSRC_STRIDE	65537u		/* ...at odd offsets into the source */
#define DEFAULT_REQUESTS 1000000ULL

#define SEC		1000000000ULL
#define REQ_TIMEOUT	(30 * SEC)	/* a request not done by then is lost */

/*
 * Slab tolerance. SLUB does not hand the pages of freed objects back at
 * once: per-CPU and per-node partial slabs keep them, and forking and
 * reaping four processes (task structs, VMAs, files, pipes) moves
 * SUnreclaim by a few hundred KiB whatever the module does. The module's
 * own per-queue state is some tens of KiB; what this check is for is a
 * leak per request or per handle, which over 10^6 requests is tens of MiB.
 * 2 MiB is far above the noise and far below any such leak.
 */
#define SLAB_TOLERANCE_KB	2048

/* What a child reports to the parent through its pipe. */
struct child_result {
	int setup_err;			/* negative errno, 0 if set up */
	char setup_what[40];
	uint32_t mode;
	uint64_t requests, bytes, verified, elapsed_ns;
	uint64_t bad_status, bad_count, bad_tag, bad_data, bad_edge;
	uint64_t dup, lost, submit_fail, recycle_fail;
	uint64_t records, rec_dup, rec_bad, rec_lost, dropped;
};

struct inflight {
	bool busy;
	uint32_t tag, n, doff;
	const uint8_t *expect;		/* the pattern bytes it must copy */
	uint8_t before, after;		/* the bytes just outside */
	uint64_t t0;
};

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static bool test_and_set(uint8_t *bitmap, uint64_t i)
{
	bool was = bitmap[i / 8] & (1u << (i % 8));

	bitmap[i / 8] |= 1u << (i % 8);
	return was;
}

static uint64_t count_clear(const uint8_t *bitmap, uint64_t n)
{
	uint64_t i, c = 0;

	for (i = 0; i < n; i++)
		c += !(bitmap[i / 8] & (1u << (i % 8)));
	return c;
}

struct child {
	struct child_result *r;
	struct mkioq_queue *q;
	struct test_buf src, dst;
	uint8_t *ref;			/* the source's pattern */
	uint32_t hsrc, hw[WSRC], hd[NSLOTS];
	uint8_t *done, *recorded;	/* per tag: reaped, record seen */
	uint64_t nreq;
};

/* Read every completion record waiting; tags must be new and known. */
static void drain_records(struct child *c)
{
	struct mkioq_cqe cqes[NSLOTS];
	int n, i;

	while ((n = mkioq_read_cqes(c->q, cqes, NSLOTS, 0)) > 0) {
		for (i = 0; i < n; i++) {
			if (cqes[i].flags & MKIOQ_CQE_F_OVERFLOW)
				c->r->dropped += cqes[i].dropped;
			if (cqes[i].slot == MKIOQ_ANY_SLOT)
				continue;
			if (cqes[i].tag >= c->nreq ||
			    cqes[i].status != MKIOQ_RESULT_OK ||
			    cqes[i].result <= 0) {
				c->r->rec_bad++;
				continue;
			}
			c->r->records++;
			if (test_and_set(c->recorded, cqes[i].tag))
				c->r->rec_dup++;
		}
	}
}

static void submit(struct child *c, uint32_t slot, struct inflight *f,
		   uint64_t seq, uint64_t *rng, uint64_t now)
{
	uint8_t *region = c->dst.map + (size_t)slot * REGION;
	uint64_t r = rnd(rng);
	struct mkioq_request req = {
		.dst_handle = c->hd[slot],
		.byte_count = 1 + (uint32_t)(rnd(rng) % MAX_REQ),
		.tag = (uint32_t)seq,
	};
	uint32_t n = req.byte_count;

	if (r & 1) {
		/* READ: source at the offset -> the range's start. */
		req.op = MKIOQ_OP_READ;
		req.src_handle = c->hsrc;
		req.offset = (r >> 1) % (SRC_BYTES - n + 1);
		f->doff = 0;
		f->expect = c->ref + req.offset;
	} else {
		/* WRITE: a source range's start -> the range at the offset. */
		uint32_t k = (r >> 1) % WSRC;

		req.op = MKIOQ_OP_WRITE;
		req.src_handle = c->hw[k];
		req.offset = (r >> 8) % (REGION - n + 1);
		f->doff = (uint32_t)req.offset;
		f->expect = c->ref + (size_t)k * WSRC_STRIDE;
	}
	/*
	 * Poison the first and last byte the copy must write, so a skipped
	 * or short copy never passes on the previous request's data, and
	 * remember the bytes just outside it.
	 */
	region[f->doff] = (uint8_t)~f->expect[0];
	region[f->doff + n - 1] = (uint8_t)~f->expect[n - 1];
	f->before = f->doff ? region[f->doff - 1] : 0;
	f->after = f->doff + n < REGION ? region[f->doff + n] : 0;
	f->n = n;
	f->tag = req.tag;
	f->t0 = now;
	if (mkioq_submit(c->q, slot, &req)) {
		c->r->submit_fail++;
		return;
	}
	f->busy = true;
}

static void reap(struct child *c, uint32_t slot, struct inflight *f)
{
	const uint8_t *region = c->dst.map + (size_t)slot * REGION;
	struct mkioq_completion comp;
	struct child_result *r = c->r;

	f->busy = false;
	if (mkioq_completion(c->q, slot, &comp) ||
	    comp.status != MKIOQ_RESULT_OK)
		r->bad_status++;
	else if (comp.byte_count != f->n)
		r->bad_count++;
	else if (comp.tag != f->tag)
		r->bad_tag++;
	else if (memcmp(region + f->doff, f->expect, f->n))
		r->bad_data++;
	else if ((f->doff && region[f->doff - 1] != f->before) ||
		 (f->doff + f->n < REGION && region[f->doff + f->n] != f->after))
		r->bad_edge++;
	else
		r->verified++;
	r->bytes += f->n;
	if (test_and_set(c->done, f->tag))
		r->dup++;
	if (mkioq_recycle(c->q, slot))
		r->recycle_fail++;
}

static int child_setup(struct child *c, unsigned int id, int drm)
{
	struct child_result *r = c->r;
	uint32_t k, s;
	int ret;

#define TRY(what, call) do {						\
		ret = (call);						\
		if (ret) {						\
			snprintf(r->setup_what, sizeof(r->setup_what),	\
				 "%s", what);				\
			return ret;					\
		}							\
	} while (0)

	TRY("open queue", mkioq_queue_open(MKIOQ_DEV, NSLOTS,
					   id % 2 ? MKIOQ_OPEN_POLL : 0,
					   &c->q));
	r->mode = c->q->mode;
	TRY("source buffer", test_buf_create(drm, SRC_BYTES, true, &c->src));
	TRY("destination buffer",
	    test_buf_create(drm, (size_t)NSLOTS * REGION, true, &c->dst));
	c->ref = malloc(SRC_BYTES);
	c->done = calloc(1, c->nreq / 8 + 1);
	c->recorded = calloc(1, c->nreq / 8 + 1);
	TRY("memory", !c->ref || !c->done || !c->recorded ? -ENOMEM : 0);
	pattern_fill(c->ref, SRC_BYTES, 0x10ad + id, 0);
	memcpy(c->src.map, c->ref, SRC_BYTES);
	TRY("register source", mkioq_register(c->q, c->src.fd, 0, SRC_BYTES,
					      MKIOQ_ACCESS_READ, &c->hsrc));
	for (k = 0; k < WSRC; k++)
		TRY("register write sources",
		    mkioq_register(c->q, c->src.fd, (uint64_t)k * WSRC_STRIDE,
				   MAX_REQ, MKIOQ_ACCESS_READ, &c->hw[k]));
	for (s = 0; s < NSLOTS; s++)
		TRY("register destinations",
		    mkioq_register(c->q, c->dst.fd, (uint64_t)s * REGION,
				   REGION, MKIOQ_ACCESS_WRITE, &c->hd[s]));
#undef TRY
	return 0;
}

static void child_run(struct child *c, unsigned int id)
{
	struct inflight f[NSLOTS] = { { 0 } };
	struct child_result *r = c->r;
	bool ring = c->q->mode == MKIOQ_MODE_DOORBELL;
	uint64_t rng = 0x243f6a8885a308d3ULL * (id + 1) ^ now_ns();
	uint64_t seq = 0, finished = 0, t0 = now_ns();
	struct pollfd pfd = { .fd = mkioq_queue_fd(c->q), .events = POLLIN };
	uint32_t s;

	while (finished < c->nreq) {
		bool submitted = false, reaped = false;
		uint64_t now;

		/*
		 * POLL: read the records before looking at the slots. A
		 * completion whose record this read takes has its STATUS
		 * written already (the module writes STATUS first), so the
		 * scan below reaps it; any later one leaves a record that
		 * ends the poll() below at once.
		 */
		if (!ring)
			drain_records(c);
		now = now_ns();
		for (s = 0; s < NSLOTS; s++) {
			if (f[s].busy) {
				int st = mkioq_slot_status(c->q, s);

				if (st == MKIOQ_RESULT_OK ||
				    st == MKIOQ_RESULT_ERROR) {
					reap(c, s, &f[s]);
				} else if (now - f[s].t0 > REQ_TIMEOUT) {
					/* Lost: never reaped, counted below. */
					f[s].busy = false;
				} else {
					continue;
				}
				finished++;
				reaped = true;
			}
			if (seq == c->nreq)
				continue;
			submit(c, s, &f[s], seq, &rng, now);
			if (!f[s].busy) {
				finished++;	/* counted as lost */
				seq++;
				continue;
			}
			seq++;
			submitted = true;
		}
		if (ring) {
			/* DOORBELL: serviced in the call, records are in. */
			if (submitted)
				mkioq_doorbell(c->q);
			drain_records(c);
		} else if (!reaped && !submitted) {
			/* POLL: sleep until a completion, leave the CPU. */
			poll(&pfd, 1, 100);
		}
	}
	r->elapsed_ns = now_ns() - t0;
	/* The last records may trail the STATUS words by a moment. */
	for (s = 0; s < 5000 && r->records + r->dropped + r->rec_bad < c->nreq;
	     s++) {
		drain_records(c);
		usleep(1000);
	}
	r->requests = c->nreq;
	r->lost = count_clear(c->done, c->nreq);
	r->rec_lost = count_clear(c->recorded, c->nreq);
}

static int child_main(unsigned int id, uint64_t nreq, int wfd)
{
	struct child_result res = { 0 };
	struct child c = { .r = &res, .nreq = nreq };
	int drm = vgem_open();
	bool ok;

	res.setup_err = drm < 0 ? drm : child_setup(&c, id, drm);
	if (drm < 0)
		snprintf(res.setup_what, sizeof(res.setup_what), "vgem");
	if (!res.setup_err)
		child_run(&c, id);
	ok = !res.setup_err && res.verified == nreq && !res.lost &&
	     !res.dup && !res.rec_dup && !res.rec_bad && !res.rec_lost &&
	     !res.dropped;
	if (write(wfd, &res, sizeof(res)) != sizeof(res))
		ok = false;
	/* Exit closes the queue, the buffers and the DRM device. */
	return ok ? 0 : 1;
}

struct meminfo {
	long slab, sunreclaim, avail;	/* KiB */
};

static int read_meminfo(struct meminfo *m)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v;

	if (!f)
		return -errno;
	m->slab = m->sunreclaim = m->avail = -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Slab: %ld", &v) == 1)
			m->slab = v;
		else if (sscanf(line, "SUnreclaim: %ld", &v) == 1)
			m->sunreclaim = v;
		else if (sscanf(line, "MemAvailable: %ld", &v) == 1)
			m->avail = v;
	}
	fclose(f);
	return m->slab < 0 || m->sunreclaim < 0 || m->avail < 0 ? -EIO : 0;
}

/* dma-bufs alive in the whole system (debugfs), or -1 if unknown. */
static long dmabuf_count(void)
{
	FILE *f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	char line[256];
	long n = -1, v;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Total %ld objects", &v) == 1)
			n = v;
	fclose(f);
	return n;
}

/* A fixture only for TEST_F_TIMEOUT: the test makes its own queues. */
FIXTURE(load) {
	int unused;
};

FIXTURE_SETUP(load)
{
}

FIXTURE_TEARDOWN(load)
{
}

TEST_F_TIMEOUT(load, forked_queues, 1800)
{
	uint64_t total = env_u64("MKIOQ_LOAD_REQUESTS", DEFAULT_REQUESTS);
	uint64_t requests = 0, bytes = 0, verified = 0, t0, wall;
	struct child_result res[CHILDREN];
	struct meminfo before, after;
	long bufs_before, bufs_after = -1;
	pid_t pid[CHILDREN];
	int rfd[CHILDREN], status, i;

	ksft_print_msg("%d processes, %llu requests of 1..%u bytes, exporter %s\n",
		       CHILDREN, (unsigned long long)total, MAX_REQ,
		       test_exporter());
	ASSERT_EQ(0, read_meminfo(&before));
	bufs_before = dmabuf_count();
	t0 = now_ns();
	for (i = 0; i < CHILDREN; i++) {
		uint64_t n = total / CHILDREN + (i < total % CHILDREN);
		int p[2];

		ASSERT_EQ(0, pipe(p));
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (pid[i] == 0) {
			close(p[0]);
			_exit(child_main(i, n, p[1]));
		}
		close(p[1]);
		rfd[i] = p[0];
	}
	for (i = 0; i < CHILDREN; i++) {
		ssize_t got = read(rfd[i], &res[i], sizeof(res[i]));

		close(rfd[i]);
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("child %d: status 0x%x", i, status);
		ASSERT_EQ(sizeof(res[i]), got)
			TH_LOG("child %d sent no result", i);
	}
	wall = now_ns() - t0;

	for (i = 0; i < CHILDREN; i++) {
		struct child_result *r = &res[i];

		EXPECT_EQ(0, r->setup_err)
			TH_LOG("child %d: %s: %s", i, r->setup_what,
			       strerror(-r->setup_err));
		if (r->setup_err)
			continue;
		ksft_print_msg("child %d (%s): %llu requests, %llu MiB in %.1f s, %llu records\n",
			       i, r->mode == MKIOQ_MODE_POLL ? "poll" : "doorbell",
			       (unsigned long long)r->requests,
			       (unsigned long long)(r->bytes >> 20),
			       r->elapsed_ns / 1e9,
			       (unsigned long long)r->records);
		EXPECT_EQ(r->requests, r->verified) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->bad_status) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->bad_count) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->bad_tag) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->bad_data) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->bad_edge) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->submit_fail) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->recycle_fail) TH_LOG("child %d", i);
		/* Every tag reaped exactly once, none lost... */
		EXPECT_EQ(0, r->dup) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->lost) TH_LOG("child %d", i);
		/* ...and its completion record delivered exactly once. */
		EXPECT_EQ(0, r->rec_dup) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->rec_bad) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->rec_lost) TH_LOG("child %d", i);
		EXPECT_EQ(0, r->dropped) TH_LOG("child %d", i);
		requests += r->requests;
		bytes += r->bytes;
		verified += r->verified;
	}
	EXPECT_EQ(total, verified);
	ksft_print_msg("%llu requests verified, %.1f MiB, in %.1f s: %.0f requests/s, %.0f bytes/s (%.1f MiB/s)\n",
		       (unsigned long long)verified, bytes / 1048576.0,
		       wall / 1e9, requests / (wall / 1e9), bytes / (wall / 1e9),
		       bytes / 1048576.0 / (wall / 1e9));

	/*
	 * Every child has exited, so its queue file was released (the last
	 * fput of an exiting task runs before the parent can reap it), and
	 * with it every dma-buf reference the module held. Memory freed
	 * through RCU may lag a little: look again for a while before
	 * judging.
	 */
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, read_meminfo(&after));
		bufs_after = dmabuf_count();
		if (after.sunreclaim <= before.sunreclaim + SLAB_TOLERANCE_KB &&
		    bufs_after <= bufs_before)
			break;
		usleep(100000);
	}
	/*
	 * MemAvailable is only reported. Read right after the children
	 * exit it was up to the size of their buffers (20 MiB) low in the
	 * VM, and back a few seconds later, with no dma-buf left: freed
	 * pages reach the free counts late (per-CPU free lists, deferred
	 * frees). Leaked buffers show in the dma-buf count instead.
	 */
	ksft_print_msg("meminfo after - before: SUnreclaim %+ld KiB, Slab %+ld KiB, MemAvailable %+ld KiB; dma-bufs %ld -> %ld\n",
		       after.sunreclaim - before.sunreclaim,
		       after.slab - before.slab, after.avail - before.avail,
		       bufs_before, bufs_after);
	EXPECT_LE(after.sunreclaim, before.sunreclaim + SLAB_TOLERANCE_KB);
	/* No dma-buf outlives its queue (needs debugfs: the VM has it). */
	if (bufs_before >= 0 && bufs_after >= 0) {
		EXPECT_LE(bufs_after, bufs_before);
	} else {
		ksft_print_msg("no /sys/kernel/debug/dma_buf/bufinfo: dma-buf count not checked\n");
	}
}

TEST_HARNESS_MAIN
