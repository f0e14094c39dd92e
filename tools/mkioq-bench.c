// SPDX-License-Identifier: GPL-2.0
/*
 * mkioq-bench: mkioq against the memory limit and against what users would
 * build instead, measured side by side in one run.
 *
 *   bandwidth   DMA reads of 4 KiB .. 64 MiB between two vgem dma-bufs,
 *               beside the best copy userspace makes between the same two
 *               buffers mapped here (several copy routines and mappings,
 *               pre-faulted: see copy_best()) and beside the "userspace
 *               pump": libmkioq's userspace engine (<mkioq_engine.h>, one
 *               worker thread by default) servicing a host-owned ring of
 *               the same format, with the same two dma-bufs registered
 *               with it, on the client's CPU (as the module's doorbell
 *               copies on the caller's) and, in a second row, on a CPU of
 *               its own.
 *   small       completions/s and latency (submit to completion seen,
 *               median and p99) of 64 B and 4 KiB requests at depth 1, 8
 *               and 64, in each service mode and notification path, beside
 *               the io_uring NOP round trip and the userspace pump.
 *   scaling     two queues driven from two threads against one.
 *   workers     1 MiB DMA reads at depth 64 on a POLL queue, the producer
 *               asleep in poll() on the queue for its completion records,
 *               with copy_workers 1 and then 2 (struct mkioq_setup).
 *   queues      1, 16 and 256 POLL queues served by one shared poll
 *               thread and by two (MKIOQ_SETUP_ATTACH_POLL): requests/s
 *               and p99 of 64 B READs, the threads' CPU once all are
 *               idle, and the wake-up after idle (doorbell to completion).
 *   storage     4 KiB random and 1 MiB sequential READs of a file on the
 *               ext4 disk (run-vm.sh --disk-image) into a vgem dma-buf
 *               at depth 1 and 64: mkioq file handles against io_uring
 *               READ into the same mapped buffer and pread + memcpy, from
 *               a warm page cache and from a dropped one; for the cold
 *               passes also what the disk saw (requests, their size, how
 *               many at once, how busy), from its /sys stat file.
 *
 * Every figure is printed in a table and as a "csv," line; ratios are to
 * peers measured in the same run. Under emulation only ratios mean much.
 * Without /dev/mkioq0 or vgem (a host that cannot load the module), only
 * memcpy() and the userspace engine are measured, over host memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "mkioq_engine.h"
#include "dmabuf_alloc.h"
#include "mkioq_util.h"
#include "mkioq_uring.h"

#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif

#define SRC_BYTES	(64u << 20)
/*
 * The destination is a page longer than the source, so that two maps of
 * the two buffers made one after the other (ours through vgem, the
 * userspace engine's through the dma-buf) do not come out exactly 64 MiB
 * apart. Under QEMU TCG, a guest virtual page has one slot in the
 * emulator's direct-mapped software TLB (its page number modulo the TLB
 * size, a power of two: 256 in the runs measured); a source page and the
 * destination page it is copied to that share a slot evict each other at
 * every switch between load and store, which made "rep movsq" ten times
 * and glibc's memcpy 1.6 times slower in the VM than between the same
 * bytes mapped a page out of step. The module copies at the unaliased
 * speed: its two vmaps are a guard page out of step.
 */
#define DST_BYTES	(SRC_BYTES + 4096u)
#define REGION_BYTES	(64u << 10)	/* per-slot destination region */
#define MAX_SAMPLES	(1u << 20)

enum notify {
	NOTIFY_SPIN,	/* watch STATUS words, as a GPU producer does */
	NOTIFY_URING,	/* one uring_cmd WAIT per slot */
	NOTIFY_MPOLL,	/* multishot poll, then read() */
	NOTIFY_READ,	/* poll() and read() */
	NOTIFY_COUNT,
};

static const char *const notify_names[] = {
	"spin", "uring_cmd", "mshot_poll", "read",
};

struct env {
	const char *filter;	/* run only small-request cases naming it */
	int drm;
	struct test_buf src, dst;
	double seconds;		/* per measured point */
	bool smoke;
	bool have_dev;		/* /dev/mkioq0 and vgem: the module's rows */
	unsigned int engine_workers;
	int perf_ctl, perf_ack;	/* perf record --control fifos, or -1 */
	uint64_t *samples;
	/* The old layout: both dma-bufs mapped exactly SRC_BYTES apart. */
	uint8_t *alias_src, *alias_dst;
	void *alias_area;
};

struct result {
	double ops, bytes_per_s, p50_us, p99_us;
};

static struct env env;

/* Where the run is, for a log that a person watches: see progress(). */
static struct {
	unsigned int section, sections;
	uint64_t start_ns, last_ns;
} run;

/* Progress every 10 s at most, whole lines: a CI log shows each one. */
#define PROGRESS_EVERY_NS	(10 * 1000000000ULL)

static void progress_line(const char *what)
{
	uint64_t now = now_ns();

	run.last_ns = now;
	fprintf(stderr, "mkioq-bench: [section %u/%u, %.0f s] %s\n",
		run.section, run.sections, (now - run.start_ns) / 1e9, what);
}

static void progress(const char *what)
{
	if (now_ns() - run.last_ns >= PROGRESS_EVERY_NS)
		progress_line(what);
}

static void section_begin(const char *name)
{
	run.section++;
	progress_line(name);
}

static void emit(const char *section, const char *name, const char *param,
		 double value, const char *unit, double ratio,
		 const char *peer)
{
	printf("  %-10s %-40s %-14s %12.2f %-6s", section, name, param, value,
	       unit);
	if (ratio > 0)
		printf("  %6.3fx %s", ratio, peer);
	else if (peer && *peer)
		printf("  (%s)", peer);	/* what the figure is */
	printf("\n");
	printf("csv,%s,%s,%s,%.4f,%s,%.4f,%s\n", section, name, param, value,
	       unit, ratio, peer ? peer : "");
}

/*
 * Under `perf record -D -1 --control fifo:CTL,ACK`, profile only the
 * measured cases: the baselines before them would fill the profile with
 * the kernel's io_uring and the userspace engine.
 */
static void perf_profile(bool on)
{
	const char *cmd = on ? "enable\n" : "disable\n";
	char ack[8];

	if (env.perf_ctl < 0)
		return;
	if (write(env.perf_ctl, cmd, strlen(cmd)) < 0 ||
	    read(env.perf_ack, ack, sizeof(ack)) < 0)
		fprintf(stderr, "mkioq-bench: perf control: %s\n",
			strerror(errno));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void latency(uint32_t n, struct result *r)
{
	if (!n)
		return;
	qsort(env.samples, n, sizeof(env.samples[0]), cmp_u64);
	r->p50_us = env.samples[n / 2] / 1e3;
	r->p99_us = env.samples[(uint64_t)n * 99 / 100] / 1e3;
}

/* ------------------------------------------------------------------ */
/* The client: keep @depth requests in flight, see their completions.  */
/* ------------------------------------------------------------------ */

struct client {
	struct mkioq_queue *q;
	struct mkioq_engine *engine;	/* the userspace pump, or NULL */
	uint32_t depth, bytes, src, dst[MKIOQ_MAX_SLOTS];
	enum notify notify;
	bool doorbell;		/* ring after each batch of submissions */
	bool block;		/* big_client(), pump: sleep on its records */
	struct io_uring ring;
	struct mkioq_cqe recs[MKIOQ_MAX_SLOTS];
	uint64_t t0[MKIOQ_MAX_SLOTS];
	uint32_t nsamples;
	uint64_t *samples;	/* NULL: no latency */
};

static void client_arm(struct client *c, uint32_t slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	mkioq_prep_wait(&c->ring, sqe, mkioq_queue_fd(c->q), slot,
			&c->recs[slot]);
	io_uring_sqe_set_data64(sqe, slot);
}

static int client_init(struct client *c)
{
	struct io_uring_sqe *sqe;
	uint32_t s;
	int ret;

	if (c->notify != NOTIFY_URING && c->notify != NOTIFY_MPOLL)
		return 0;
	ret = io_uring_queue_init(2 * MKIOQ_MAX_SLOTS, &c->ring, 0);
	if (ret)
		return ret;
	if (c->notify == NOTIFY_URING) {
		for (s = 0; s < c->depth; s++)
			client_arm(c, s);
	} else {
		sqe = io_uring_get_sqe(&c->ring);
		io_uring_prep_poll_multishot(sqe, mkioq_queue_fd(c->q), POLLIN);
		io_uring_sqe_set_data64(sqe, UINT64_MAX);
	}
	ret = io_uring_submit(&c->ring);
	return ret < 0 ? ret : 0;
}

static void client_exit(struct client *c)
{
	if (c->notify == NOTIFY_URING || c->notify == NOTIFY_MPOLL)
		io_uring_queue_exit(&c->ring);
}

static void client_reap(struct client *c, uint32_t slot, uint64_t *done)
{
	if (c->samples && c->nsamples < MAX_SAMPLES)
		c->samples[c->nsamples++] = now_ns() - c->t0[slot];
	mkioq_recycle(c->q, slot);
	(*done)++;
}

/* Wait for at least one completion; reap all that are there. */
static int client_wait(struct client *c, uint64_t *done)
{
	struct mkioq_cqe cqes[MKIOQ_MAX_SLOTS];
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	uint64_t before = *done;
	uint32_t s;
	int n, i;

	switch (c->notify) {
	case NOTIFY_SPIN:
		while (*done == before)
			for (s = 0; s < c->depth; s++) {
				int st = mkioq_slot_status(c->q, s);

				if (st == MKIOQ_RESULT_OK ||
				    st == MKIOQ_RESULT_ERROR)
					client_reap(c, s, done);
			}
		return 0;
	case NOTIFY_URING:
		n = io_uring_submit_and_wait(&c->ring, 1);
		if (n < 0)
			return n;
		io_uring_for_each_cqe(&c->ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);

			seen++;
			if (ud >= MKIOQ_MAX_SLOTS)
				continue;
			/* Parked too long (MKIOQ_WAIT_TIMEOUT_MS): re-arm. */
			if (cqe->res != -ETIME)
				client_reap(c, (uint32_t)ud, done);
			client_arm(c, (uint32_t)ud);
		}
		io_uring_cq_advance(&c->ring, seen);
		return 0;
	case NOTIFY_MPOLL:
		n = io_uring_submit_and_wait(&c->ring, 1);
		if (n < 0)
			return n;
		io_uring_cq_advance(&c->ring, io_uring_cq_ready(&c->ring));
		/* The records the poll announced: read them. */
		fallthrough;
	default:
		n = mkioq_read_cqes(c->q, cqes, MKIOQ_MAX_SLOTS,
				    c->notify == NOTIFY_READ ? 10000 : 0);
		if (n == -ETIMEDOUT && c->notify == NOTIFY_MPOLL)
			return 0;
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			if (cqes[i].slot < MKIOQ_MAX_SLOTS)
				client_reap(c, cqes[i].slot, done);
		return 0;
	}
}

static void client_ring(struct client *c)
{
	struct io_uring_sqe *sqe;

	if (c->engine) {
		mkioq_engine_doorbell(c->engine);
		return;
	}
	if (c->notify != NOTIFY_URING) {
		mkioq_doorbell(c->q);
		return;
	}
	/* Goes in with the re-armed WAITs: one io_uring_enter() for both. */
	sqe = io_uring_get_sqe(&c->ring);
	mkioq_prep_doorbell(&c->ring, sqe, mkioq_queue_fd(c->q));
	io_uring_sqe_set_data64(sqe, UINT64_MAX);
}

/* Run for env.seconds; @r gets completions and bytes per second. */
static int client_run(struct client *c, struct result *r)
{
	uint64_t done = 0, sent = 0, t_start, t_end, t;
	uint32_t s;
	int ret;

	ret = client_init(c);
	if (ret)
		return ret;
	t_start = now_ns();
	t_end = t_start + (uint64_t)(env.seconds * 1e9);
	for (;;) {
		bool submitted = false;

		t = now_ns();
		for (s = 0; s < c->depth && t < t_end; s++) {
			struct mkioq_request req = {
				.op = MKIOQ_OP_READ, .src_handle = c->src,
				.dst_handle = c->dst[s],
				.byte_count = c->bytes,
				.offset = sent * 4096 % (SRC_BYTES - c->bytes),
				.tag = (uint32_t)sent,
			};

			if (mkioq_slot_status(c->q, s) != MKIOQ_STATE_EMPTY)
				continue;
			c->t0[s] = t;
			if (mkioq_submit(c->q, s, &req) == 0) {
				submitted = true;
				sent++;
			}
		}
		if (submitted && c->doorbell)
			client_ring(c);
		if (done == sent)
			break;
		ret = client_wait(c, &done);
		if (ret)
			break;
	}
	t = now_ns() - t_start;
	client_exit(c);
	r->ops = done / (t / 1e9);
	r->bytes_per_s = r->ops * c->bytes;
	return ret;
}

/* A device queue with the source and per-slot destination regions. */
static int open_queue(struct client *c, unsigned int flags, uint32_t dst_base)
{
	uint32_t s;
	int ret;

	ret = mkioq_queue_open(MKIOQ_DEV, MKIOQ_MAX_SLOTS, flags, &c->q);
	if (ret)
		return ret;
	ret = mkioq_register(c->q, env.src.fd, 0, SRC_BYTES,
			     MKIOQ_ACCESS_READ, &c->src);
	for (s = 0; !ret && s < MKIOQ_MAX_SLOTS; s++)
		ret = mkioq_register(c->q, env.dst.fd,
				     (uint64_t)(dst_base + s) * REGION_BYTES,
				     REGION_BYTES, MKIOQ_ACCESS_WRITE,
				     &c->dst[s]);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The userspace pump: libmkioq's userspace engine on a host ring.     */
/* ------------------------------------------------------------------ */

struct pump {
	struct mkioq_queue *q;
	struct mkioq_engine *e;
	bool pinned;		/* the caller's CPU mask, to restore */
	cpu_set_t mask;
};

/* Handles of the pump's engine, registered in this order. */
#define PUMP_SRC	1		/* the source */
#define PUMP_REGION(s)	(2 + (s))	/* the destination region of slot s */
#define PUMP_DST_ALL	(2 + MKIOQ_MAX_SLOTS)	/* the whole destination */

static int pump_register(struct pump *p, struct test_buf *b, uint64_t off,
			 uint64_t len, uint32_t access, uint32_t want)
{
	uint32_t h;
	int ret;

	if (b->fd >= 0)
		ret = mkioq_engine_register_dmabuf(p->e, b->fd, off, len,
						   access, &h);
	else
		ret = mkioq_engine_register_mem(p->e, b->map + off, len,
						access, &h);
	return ret ? ret : h == want ? 0 : -EPROTO;
}

/*
 * @one_cpu: the engine's worker shares the caller's CPU (it inherits the
 * mask the caller holds while it starts it; the caller keeps it until
 * pump_stop()). See section_bandwidth().
 */
static int pump_start(struct pump *p, struct client *c, bool one_cpu)
{
	struct mkioq_engine_params prm = {
		.size = sizeof(prm), .workers = env.engine_workers,
	};
	uint32_t s;
	int ret;

	memset(p, 0, sizeof(*p));
	if (one_cpu && sched_getaffinity(0, sizeof(p->mask), &p->mask) == 0) {
		cpu_set_t one;
		int cpu = sched_getcpu();

		CPU_ZERO(&one);
		CPU_SET(cpu < 0 ? 0 : cpu, &one);
		p->pinned = sched_setaffinity(0, sizeof(one), &one) == 0;
	}
	ret = mkioq_queue_new(MKIOQ_MAX_SLOTS, &p->q);
	if (ret)
		goto unpin;
	ret = mkioq_engine_new(p->q, &prm, &p->e);
	if (!ret)
		ret = pump_register(p, &env.src, 0, SRC_BYTES,
				    MKIOQ_ACCESS_READ, PUMP_SRC);
	for (s = 0; !ret && s < MKIOQ_MAX_SLOTS; s++)
		ret = pump_register(p, &env.dst, (uint64_t)s * REGION_BYTES,
				    REGION_BYTES, MKIOQ_ACCESS_WRITE,
				    PUMP_REGION(s));
	if (!ret)
		ret = pump_register(p, &env.dst, 0, SRC_BYTES,
				    MKIOQ_ACCESS_WRITE, PUMP_DST_ALL);
	if (!ret)
		ret = mkioq_engine_start(p->e);
	if (ret) {
		mkioq_engine_free(p->e);
		mkioq_queue_free(p->q);
		goto unpin;
	}
	c->q = p->q;
	c->engine = p->e;
	c->src = PUMP_SRC;
	for (s = 0; s < MKIOQ_MAX_SLOTS; s++)
		c->dst[s] = PUMP_REGION(s);
	c->notify = NOTIFY_SPIN;
	/* Costs no system call while the engine's workers poll. */
	c->doorbell = true;
	return 0;
unpin:
	if (p->pinned)
		sched_setaffinity(0, sizeof(p->mask), &p->mask);
	p->pinned = false;
	return ret;
}

static void pump_stop(struct pump *p)
{
	mkioq_engine_free(p->e);
	mkioq_queue_free(p->q);
	if (p->pinned)
		sched_setaffinity(0, sizeof(p->mask), &p->mask);
	p->pinned = false;
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

/*
 * The userspace copy the module is compared with: the best of several
 * routines over several mappings of the same two dma-bufs, pre-faulted.
 *
 * In the VM (QEMU TCG, -cpu max,-erms,-fsrm: see tests/vm/run-vm.sh) the
 * cost of a copy is the emulator's, per guest instruction and memory
 * access, so which routine wins is the emulator's matter (mostly the
 * 8-byte loop, then "rep movsq", in the runs measured; "rep movsb" moves
 * a byte at a time and is no candidate); where the two maps are a
 * multiple of the emulator's TLB size apart every access misses (see
 * DST_BYTES). vgem maps its buffers write-combined, which TCG ignores,
 * and faults them in a page at a time, on first touch only: the maps are
 * touched before timing.
 */
typedef void copy_fn(void *dst, const void *src, size_t n);

static void copy_libc(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

#if defined(__x86_64__)
static void copy_movsq(void *dst, const void *src, size_t n)
{
	size_t q = n / 8;

	__asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(q)
			 : : "memory");
	memcpy(dst, src, n % 8);
}

/* Four 8-byte loads, then four stores: GPRs only, never vectorised. */
__attribute__((optimize("no-tree-vectorize")))
static void copy_loop8(void *dst, const void *src, size_t n)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	size_t i, words = n / 32 * 4;

	for (i = 0; i < words; i += 4) {
		uint64_t a = s[i], b = s[i + 1], c = s[i + 2], e = s[i + 3];

		__asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(e));
		d[i] = a;
		d[i + 1] = b;
		d[i + 2] = c;
		d[i + 3] = e;
	}
	memcpy(d + words, s + words, n % 32);
}

static void copy_sse2(void *dst, const void *src, size_t n)
{
	__m128i *d = dst;
	const __m128i *s = src;
	size_t i, vecs = n / 64 * 4;

	for (i = 0; i < vecs; i += 4) {
		__m128i a = _mm_loadu_si128(s + i), b = _mm_loadu_si128(s + i + 1),
			c = _mm_loadu_si128(s + i + 2),
			e = _mm_loadu_si128(s + i + 3);

		_mm_storeu_si128(d + i, a);
		_mm_storeu_si128(d + i + 1, b);
		_mm_storeu_si128(d + i + 2, c);
		_mm_storeu_si128(d + i + 3, e);
	}
	memcpy(d + vecs, s + vecs, n % 64);
}

__attribute__((target("avx")))
static void copy_avx(void *dst, const void *src, size_t n)
{
	__m256i *d = dst;
	const __m256i *s = src;
	size_t i, vecs = n / 128 * 4;

	for (i = 0; i < vecs; i += 4) {
		__m256i a = _mm256_loadu_si256(s + i),
			b = _mm256_loadu_si256(s + i + 1),
			c = _mm256_loadu_si256(s + i + 2),
			e = _mm256_loadu_si256(s + i + 3);

		_mm256_storeu_si256(d + i, a);
		_mm256_storeu_si256(d + i + 1, b);
		_mm256_storeu_si256(d + i + 2, c);
		_mm256_storeu_si256(d + i + 3, e);
	}
	_mm256_zeroupper();
	memcpy(d + vecs, s + vecs, n % 128);
}
#endif

static const struct {
	const char *name;
	copy_fn *fn;
} copy_routines[] = {
	{ "glibc memcpy", copy_libc },
#if defined(__x86_64__)
	{ "rep movsq", copy_movsq },
	{ "8-byte loop", copy_loop8 },
	{ "SSE2 loop", copy_sse2 },
	{ "AVX loop", copy_avx },
#endif
};
#define NROUTINES	(sizeof(copy_routines) / sizeof(copy_routines[0]))

enum { MAP_OURS, MAP_ALIASED, NMAPS };

static const char *const map_names[NMAPS] = {
	"vgem maps", "maps 64 MiB apart",
};

static bool routine_usable(unsigned int r)
{
#if defined(__x86_64__)
	if (copy_routines[r].fn == copy_avx)
		return __builtin_cpu_supports("avx");
#endif
	return true;
}

/* Touch every page of @n bytes at @p: read, or write what is there. */
static void prefault(uint8_t *p, size_t n, bool write)
{
	size_t off;

	for (off = 0; off < n; off += 4096) {
		uint8_t v = *(volatile uint8_t *)(p + off);

		if (write)
			*(volatile uint8_t *)(p + off) = v;
	}
}

/* The old layout, to show what it cost: see DST_BYTES. */
static void alias_maps_open(size_t touch)
{
	uint8_t *a;

	if (env.src.fd < 0 || env.dst.fd < 0)
		return;
	a = mmap(NULL, 2 * (size_t)SRC_BYTES, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return;
	env.alias_area = a;
	if (mmap(a + SRC_BYTES, SRC_BYTES, PROT_READ, MAP_SHARED | MAP_FIXED,
		 env.src.fd, 0) == MAP_FAILED ||
	    mmap(a, SRC_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 env.dst.fd, 0) == MAP_FAILED) {
		munmap(a, 2 * (size_t)SRC_BYTES);
		env.alias_area = NULL;
		return;
	}
	env.alias_src = a + SRC_BYTES;
	env.alias_dst = a;
	prefault(env.alias_src, touch, false);
	prefault(env.alias_dst, touch, true);
}

static void alias_maps_close(void)
{
	if (env.alias_area)
		munmap(env.alias_area, 2 * (size_t)SRC_BYTES);
	env.alias_area = NULL;
	env.alias_src = env.alias_dst = NULL;
}

/* Bytes per second of @fn copying @bytes, repeatedly, for @seconds. */
static double copy_bw(copy_fn *fn, uint8_t *dst, const uint8_t *src,
		      uint32_t bytes, double seconds)
{
	uint64_t t0 = now_ns(), t, moved = 0;

	do {
		fn(dst, src, bytes);
		moved += bytes;
		t = now_ns() - t0;
	} while (t < seconds * 1e9);
	return moved / (t / 1e9);
}

struct copy_result {
	double best;		/* bytes/s of the best, measured env.seconds */
	double aliased;		/* glibc memcpy over the old layout (probe) */
	double movsq;		/* rep movsq, as the kernel's memcpy (probe) */
	char how[64];		/* the best's routine and mapping */
};

/*
 * Probe every routine over every mapping in interleaved rounds (half of
 * env.seconds in all), then measure the fastest for env.seconds.
 */
static void copy_best(uint32_t bytes, const char *param,
		      struct copy_result *cr)
{
	enum { ROUNDS = 5 };
	double moved[NMAPS][NROUTINES] = { { 0 } }, spent[NMAPS][NROUTINES] = {
		{ 0 } };
	uint8_t *srcs[NMAPS] = { env.src.map, env.alias_src };
	uint8_t *dsts[NMAPS] = { env.dst.map, env.alias_dst };
	double slice = env.seconds / 2 / ROUNDS / (NMAPS * NROUTINES);
	unsigned int round, m, r, bm = 0, br = 0;
	double rate, best = 0;
	char name[64];

	for (round = 0; round < ROUNDS; round++)
		for (m = 0; m < NMAPS; m++)
			for (r = 0; r < NROUTINES; r++) {
				uint64_t t0;

				if (!srcs[m] || !routine_usable(r))
					continue;
				t0 = now_ns();
				rate = copy_bw(copy_routines[r].fn, dsts[m],
					       srcs[m], bytes, slice);
				spent[m][r] += (now_ns() - t0) / 1e9;
				moved[m][r] += rate * (now_ns() - t0) / 1e9;
			}
	for (m = 0; m < NMAPS; m++)
		for (r = 0; r < NROUTINES; r++) {
			if (!spent[m][r])
				continue;
			rate = moved[m][r] / spent[m][r];
			snprintf(name, sizeof(name), "%s; %s",
				 copy_routines[r].name, map_names[m]);
			/* The probes: in the CSV, not the table. */
			printf("csv,copyprobe,%s,%s,%.4f,MiB/s,0,\n", name,
			       param, rate / 1048576);
			if (rate > best) {
				best = rate;
				bm = m;
				br = r;
			}
		}
	cr->aliased = spent[MAP_ALIASED][0] ?
		moved[MAP_ALIASED][0] / spent[MAP_ALIASED][0] : 0;
	cr->movsq = 0;
	for (r = 0; r < NROUTINES; r++)
		if (!strcmp(copy_routines[r].name, "rep movsq") &&
		    spent[MAP_OURS][r])
			cr->movsq = moved[MAP_OURS][r] / spent[MAP_OURS][r];
	snprintf(cr->how, sizeof(cr->how), "%s; %s", copy_routines[br].name,
		 map_names[bm]);
	cr->best = copy_bw(copy_routines[br].fn, dsts[bm], srcs[bm], bytes,
			   env.seconds);
}

/*
 * One request at a time, so a large one is measured alone. The first is
 * not timed: the pump's engine maps the buffers itself, and the pages a
 * size touches first fault in then.
 */
static int big_client(struct client *c, uint32_t bytes, struct result *r)
{
	uint64_t t0 = 0, t, moved = 0;
	bool warm = false;
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = c->src,
		.dst_handle = c->dst[0], .byte_count = bytes,
	};
	struct mkioq_cqe cqes[MKIOQ_MAX_SLOTS];
	int st;

	do {
		if (mkioq_submit(c->q, 0, &req))
			return -EIO;
		if (c->doorbell)
			client_ring(c);
		for (;;) {
			st = mkioq_slot_status(c->q, 0);
			if (st == MKIOQ_RESULT_OK || st == MKIOQ_RESULT_ERROR)
				break;
			/* Sleep until the engine queues the completion. */
			if (c->block)
				mkioq_engine_read_cqes(c->engine, cqes,
						       MKIOQ_MAX_SLOTS, 1000);
		}
		if (st != MKIOQ_RESULT_OK)
			return -EIO;
		mkioq_recycle(c->q, 0);
		if (!warm) {
			warm = true;
			t0 = now_ns();
			t = 0;
			continue;
		}
		moved += bytes;
		t = now_ns() - t0;
	} while (t < env.seconds * 1e9);
	if (!c->engine)
		drain_cqes(c->q);
	r->bytes_per_s = moved / (t / 1e9);
	return 0;
}

/*
 * One point of a pump: @one_cpu, its worker on the caller's CPU and the
 * caller asleep on its completion records while it copies; else the
 * worker on any CPU and the caller spinning on the slot.
 */
static int pump_point(struct pump *p, struct client *pc, bool one_cpu,
		      uint32_t bytes, struct result *r)
{
	int ret = pump_start(p, pc, one_cpu);

	if (ret)
		return ret;
	pc->block = one_cpu;
	/* Slot 0 writes from the start of the destination. */
	pc->dst[0] = PUMP_DST_ALL;
	ret = big_client(pc, bytes, r);
	pump_stop(p);
	return ret;
}

/*
 * One request at a time: the module in DOORBELL mode copies in the
 * caller's write(), on its CPU; the pump's worker is another thread. With
 * the worker on a CPU of its own and the client spinning (the second pump
 * row) every request is two hand-offs between two vCPUs, which the VM
 * makes only while the host runs both vCPU threads at once: on a loaded
 * 2-core host one of them waits for a host time slice (milliseconds) at
 * most hand-offs, the worker's spin (2 ms) runs out meanwhile and it goes
 * to sleep, and a whole point can come out 100 times slower than the next
 * one (8.7 MiB/s at 4 KiB beside 1.5 GiB/s at 16 KiB). The first pump row
 * is the one to compare: worker and client share the client's CPU, and the
 * client sleeps on the engine's completion records while the worker
 * copies, so that, like the module's, it needs one CPU per request.
 */
static int section_bandwidth(void)
{
	static const uint32_t sizes[] = {
		4u << 10, 16u << 10, 64u << 10, 256u << 10, 1u << 20,
		4u << 20, 16u << 20, 64u << 20,
	};
	static const char of_copy[] = "of best user copy";
	struct client c = { 0 }, pc = { 0 }, pc2 = { 0 };
	struct result r = { 0 }, pr = { 0 }, pr2 = { 0 };
	struct pump p, p2;
	char param[32], line[80];
	size_t touch = env.smoke ? 1u << 20 : SRC_BYTES;
	unsigned int i;
	int ret;

	printf("\nbandwidth: one request at a time, MiB/s; ratios to the best "
	       "userspace copy\nbetween the same two buffers (its routine and "
	       "mapping in parentheses)\n");
	/* Faults are no part of a copy: touch what the copies will touch. */
	prefault(env.src.map, touch, false);
	prefault(env.dst.map, touch, true);
	alias_maps_open(touch);
	/* The large destination: a region the size of the largest request. */
	ret = env.have_dev ? mkioq_queue_open(MKIOQ_DEV, MKIOQ_MAX_SLOTS, 0,
					      &c.q) : 0;
	if (!ret && env.have_dev)
		ret = mkioq_register(c.q, env.src.fd, 0, SRC_BYTES,
				     MKIOQ_ACCESS_READ, &c.src);
	if (!ret && env.have_dev)
		ret = mkioq_register(c.q, env.dst.fd, 0, SRC_BYTES,
				     MKIOQ_ACCESS_WRITE, &c.dst[0]);
	if (ret)
		goto out;
	c.doorbell = true;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct copy_result cr;
		double mc;

		if (env.smoke && sizes[i] > (1u << 20))
			break;
		snprintf(line, sizeof(line), "bandwidth %u KiB", sizes[i] >> 10);
		progress(line);
		snprintf(param, sizeof(param), "%uKiB", sizes[i] >> 10);
		copy_best(sizes[i], param, &cr);
		mc = cr.best;
		ret = env.have_dev ? big_client(&c, sizes[i], &r) : 0;
		/*
		 * A pump only while it is measured, so that its idle worker
		 * (awake every sleep_us) disturbs no other row.
		 */
		if (!ret)
			ret = pump_point(&p, &pc, true, sizes[i], &pr);
		if (!ret)
			ret = pump_point(&p2, &pc2, false, sizes[i], &pr2);
		if (ret)
			break;
		emit("bandwidth", "user copy best", param, mc / 1048576,
		     "MiB/s", 0, cr.how);
		if (cr.aliased > 0)
			emit("bandwidth", "memcpy old layout", param,
			     cr.aliased / 1048576, "MiB/s", cr.aliased / mc,
			     "of best user copy; glibc; maps 64 MiB apart");
		if (env.have_dev)
			emit("bandwidth", "mkioq doorbell", param,
			     r.bytes_per_s / 1048576, "MiB/s",
			     r.bytes_per_s / mc, of_copy);
		/*
		 * The instruction the kernel's memcpy() runs here (the guest
		 * CPU has REP_GOOD, not ERMS/FSRM): what the module's copy
		 * costs apart from the emulator's choice of fastest routine.
		 */
		if (env.have_dev && cr.movsq > 0)
			emit("bandwidth", "mkioq doorbell vs rep movsq", param,
			     r.bytes_per_s / 1048576, "MiB/s",
			     r.bytes_per_s / cr.movsq,
			     "of userspace rep movsq, same buffers");
		emit("bandwidth", "userspace pump", param,
		     pr.bytes_per_s / 1048576, "MiB/s", pr.bytes_per_s / mc,
		     "of best user copy; worker on the client's CPU");
		emit("bandwidth", "userspace pump 2cpu", param,
		     pr2.bytes_per_s / 1048576, "MiB/s", pr2.bytes_per_s / mc,
		     "of best user copy; worker on a CPU of its own");
	}
out:
	alias_maps_close();
	if (c.q)
		mkioq_queue_free(c.q);
	return ret;
}

static int nop_round_trip(uint32_t depth, struct result *r)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint64_t t0, t = 0, done = 0, n = 0;
	uint32_t i;
	int ret;

	ret = io_uring_queue_init(MKIOQ_MAX_SLOTS, &ring, 0);
	if (ret)
		return ret;
	t0 = now_ns();
	do {
		uint64_t ts = now_ns();

		for (i = 0; i < depth; i++)
			io_uring_prep_nop(io_uring_get_sqe(&ring));
		ret = io_uring_submit_and_wait(&ring, depth);
		if (ret < 0)
			break;
		for (i = 0; i < depth; i++) {
			if (io_uring_wait_cqe(&ring, &cqe))
				break;
			io_uring_cqe_seen(&ring, cqe);
		}
		if (n < MAX_SAMPLES)
			env.samples[n++] = now_ns() - ts;
		done += depth;
		t = now_ns() - t0;
	} while (t < env.seconds * 1e9);
	io_uring_queue_exit(&ring);
	r->ops = done / (t / 1e9);
	latency((uint32_t)n, r);
	return ret < 0 ? ret : 0;
}

/*
 * Each notification path against POLL mode spinning on STATUS, at depth
 * 64: what a client gives up by sleeping instead of watching the ring.
 */
static void notify_ratios(double ops[2][NOTIFY_COUNT][2][3])
{
	static const uint32_t sizes[] = { 64, 4096 };
	unsigned int mode, nt, si;
	char name[64], param[32];

	for (si = 0; si < 2; si++) {
		double spin = ops[1][NOTIFY_SPIN][si][2];

		for (mode = 0; mode < 2; mode++)
			for (nt = 0; nt < NOTIFY_COUNT; nt++) {
				if (!spin || !ops[mode][nt][si][2] ||
				    (mode == 1 && nt == NOTIFY_SPIN))
					continue;
				snprintf(name, sizeof(name),
					 "mkioq %s %s vs poll spin",
					 mode ? "poll" : "doorbell",
					 notify_names[nt]);
				snprintf(param, sizeof(param), "%uB qd64",
					 sizes[si]);
				emit("small", name, param,
				     ops[mode][nt][si][2], "ops/s",
				     ops[mode][nt][si][2] / spin,
				     "of poll spin");
			}
	}
}

static int section_small(void)
{
	static const uint32_t sizes[] = { 64, 4096 };
	static const uint32_t depths[] = { 1, 8, 64 };
	struct result nop[3], pump[2][3];
	/* Completions/s of each module case, for the notification ratios. */
	double ops[2][NOTIFY_COUNT][2][3] = { 0 };
	unsigned int si, di, mode, nt;
	char name[64], param[32], line[96];
	int ret;

	printf("\nsmall requests: completions/s; latency submit -> seen, us\n");
	for (di = 0; di < 3; di++) {
		snprintf(line, sizeof(line), "io_uring NOP depth %u",
			 depths[di]);
		progress(line);
		ret = nop_round_trip(depths[di], &nop[di]);
		if (ret)
			return ret;
		snprintf(param, sizeof(param), "qd%u", depths[di]);
		emit("small", "io_uring NOP", param, nop[di].ops, "ops/s", 0,
		     "");
		if (depths[di] == 1)
			emit("small", "io_uring NOP p50", param,
			     nop[di].p50_us, "us", 0, "");
	}
	for (si = 0; si < 2; si++)
		for (di = 0; di < 3; di++) {
			struct client c = {
				.depth = depths[di], .bytes = sizes[si],
				.samples = env.samples,
			};
			struct pump p;

			snprintf(line, sizeof(line), "userspace pump %u B qd%u",
				 sizes[si], depths[di]);
			progress(line);
			ret = pump_start(&p, &c, false);
			if (!ret)
				ret = client_run(&c, &pump[si][di]);
			pump_stop(&p);
			if (ret)
				return ret;
			latency(c.nsamples, &pump[si][di]);
			snprintf(param, sizeof(param), "%uB qd%u", sizes[si],
				 depths[di]);
			emit("small", "userspace pump", param,
			     pump[si][di].ops, "ops/s", 0, "");
			emit("small", "userspace pump p50", param,
			     pump[si][di].p50_us, "us", 0, "");
			emit("small", "userspace pump p99", param,
			     pump[si][di].p99_us, "us", 0, "");
		}

	for (mode = 0; mode < 2; mode++)
		for (nt = 0; nt < NOTIFY_COUNT; nt++)
			for (si = 0; si < 2; si++)
				for (di = 0; di < 3; di++) {
					struct client c = {
						.depth = depths[di],
						.bytes = sizes[si],
						.notify = nt,
						.doorbell = mode == 0,
						.samples = env.samples,
					};
					struct result r = { 0 };

					if (!env.have_dev ||
					    (env.smoke && (si || di == 1)))
						continue;
					snprintf(line, sizeof(line),
						 "mkioq %s %s %u B qd%u",
						 mode ? "poll" : "doorbell",
						 notify_names[nt], sizes[si],
						 depths[di]);
					if (env.filter &&
					    !strstr(line, env.filter))
						continue;
					progress(line);
					ret = open_queue(&c, mode ?
						MKIOQ_OPEN_POLL : 0, 0);
					perf_profile(true);
					if (!ret)
						ret = client_run(&c, &r);
					perf_profile(false);
					mkioq_queue_free(c.q);
					if (ret)
						return ret;
					latency(c.nsamples, &r);
					ops[mode][nt][si][di] = r.ops;
					snprintf(name, sizeof(name),
						 "mkioq %s %s",
						 mode ? "poll" : "doorbell",
						 notify_names[nt]);
					snprintf(param, sizeof(param),
						 "%uB qd%u", sizes[si],
						 depths[di]);
					emit("small", name, param, r.ops,
					     "ops/s", r.ops / pump[si][di].ops,
					     "of pump");
					strcat(name, " p50");
					emit("small", name, param, r.p50_us,
					     "us", r.p50_us / nop[0].p50_us,
					     "of NOP p50");
					name[strlen(name) - 4] = '\0';
					strcat(name, " p99");
					emit("small", name, param, r.p99_us,
					     "us", r.p99_us /
					     pump[si][di].p99_us,
					     "of pump p99");
				}
	notify_ratios(ops);
	return 0;
}

struct scale_arg {
	struct client c;
	struct result r;
	int ret;
};

static void *scale_main(void *arg)
{
	struct scale_arg *a = arg;

	a->ret = client_run(&a->c, &a->r);
	return NULL;
}

static int section_scaling(void)
{
	struct scale_arg a[2];
	pthread_t th[2];
	double one, two;
	int i, n, ret = 0;

	printf("\nscaling: 4 KiB requests, depth 64, doorbell, per queue thread\n");
	if (!env.have_dev) {
		printf("  (skipped: no /dev/mkioq0)\n");
		return 0;
	}
	for (n = 1; n <= 2; n++) {
		progress(n == 1 ? "scaling: one queue" : "scaling: two queues");
		for (i = 0; i < n; i++) {
			memset(&a[i], 0, sizeof(a[i]));
			a[i].c.depth = 64;
			a[i].c.bytes = 4096;
			a[i].c.doorbell = true;
			a[i].ret = open_queue(&a[i].c, 0, i * MKIOQ_MAX_SLOTS);
			if (a[i].ret)
				return a[i].ret;
		}
		for (i = 0; i < n; i++)
			pthread_create(&th[i], NULL, scale_main, &a[i]);
		two = 0;
		for (i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
			two += a[i].r.ops;
			ret = ret ?: a[i].ret;
			mkioq_queue_free(a[i].c.q);
		}
		if (n == 1)
			one = two;
	}
	emit("scaling", "one queue", "4KiB qd64", one, "ops/s", 0, "");
	emit("scaling", "two queues", "4KiB qd64", two, "ops/s", two / one,
	     "of one queue");
	return ret;
}

/* "CTL,ACK": the fifos given to perf record --control fifo:CTL,ACK. */
static int perf_ctl_open(const char *arg)
{
	char ctl[256];
	const char *ack = strchr(arg, ',');

	if (!ack || (size_t)(ack - arg) >= sizeof(ctl)) {
		fprintf(stderr, "mkioq-bench: --perf-ctl wants CTL,ACK\n");
		return -EINVAL;
	}
	memcpy(ctl, arg, ack - arg);
	ctl[ack - arg] = '\0';
	env.perf_ctl = open(ctl, O_WRONLY | O_CLOEXEC);
	env.perf_ack = open(ack + 1, O_RDONLY | O_CLOEXEC);
	if (env.perf_ctl < 0 || env.perf_ack < 0) {
		fprintf(stderr, "mkioq-bench: --perf-ctl %s: %s\n", arg,
			strerror(errno));
		return -errno;
	}
	return 0;
}

struct copy_half {
	uint8_t *dst;
	const uint8_t *src;
	double bw;
};

/* glibc memcpy over one half of the buffers, 1 MiB at a time. */
static void *copy_half_main(void *arg)
{
	struct copy_half *h = arg;
	uint64_t t0 = now_ns(), t, moved = 0;
	uint32_t off = 0;

	do {
		memcpy(h->dst + off, h->src + off, 1u << 20);
		moved += 1u << 20;
		off = (off + (1u << 20)) % (SRC_BYTES / 2);
		t = now_ns() - t0;
	} while (t < env.seconds * 1e9);
	h->bw = moved / (t / 1e9);
	return NULL;
}

/*
 * What two CPUs give a userspace copy right now: two threads copying
 * halves of the same buffers, against one. On a shared host the second
 * vCPU may be starved; this row says so.
 */
static double user_copy_two_vs_one(double *one)
{
	struct copy_half h[2] = {
		{ env.dst.map, env.src.map, 0 },
		{ env.dst.map + SRC_BYTES / 2, env.src.map + SRC_BYTES / 2, 0 },
	};
	pthread_t th;

	copy_half_main(&h[0]);
	*one = h[0].bw;
	if (pthread_create(&th, NULL, copy_half_main, &h[1]))
		return 0;
	copy_half_main(&h[0]);
	pthread_join(th, NULL);
	return h[0].bw + h[1].bw;
}

/* A number of the queue's fdinfo, or -1. */
static long fdinfo_num(const char *info, const char *key)
{
	const char *p = strstr(info, key);

	return p ? strtol(p + strlen(key), NULL, 0) : -1;
}

/* The queue's own account of a point: how its passes were shared. */
static void workers_show(struct client *c, uint32_t workers,
			 const struct result *r)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d",
		 mkioq_queue_fd(c->q));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	printf("  # copy_workers %u: %.0f MiB/s, %ld shared passes, %ld of "
	       "about %.0f shares by helpers\n", workers, r->bytes_per_s / 1048576,
	       fdinfo_num(buf, "\nshared-passes:\t"),
	       fdinfo_num(buf, "\nhelper-chunks:\t"),
	       r->bytes_per_s * env.seconds / (256 << 10));
}

/* A POLL queue of @workers copy workers; slot s writes destination MiB s. */
static int workers_queue(struct client *c, uint32_t workers)
{
	struct mkioq_setup s = {
		.slot_count = MKIOQ_MAX_SLOTS, .mode = MKIOQ_MODE_POLL,
		.copy_workers = workers,
	};
	uint32_t slot;
	int ret;

	ret = mkioq_queue_open_setup(MKIOQ_DEV, &s, &c->q);
	if (ret)
		return ret;
	ret = mkioq_register(c->q, env.src.fd, 0, SRC_BYTES,
			     MKIOQ_ACCESS_READ, &c->src);
	for (slot = 0; !ret && slot < MKIOQ_MAX_SLOTS; slot++)
		ret = mkioq_register(c->q, env.dst.fd, (uint64_t)slot << 20,
				     1u << 20, MKIOQ_ACCESS_WRITE,
				     &c->dst[slot]);
	return ret;
}

/*
 * Copy workers: the poll thread copies a pass alone, then with one helper.
 * The producer sleeps in poll() (NOTIFY_READ), so that on a 2-vCPU VM the
 * second CPU is the helper's while a pass is copied. The two settings
 * take turns three times and each keeps its best point: a host time slice
 * lost to another guest then costs one point, not the ratio.
 */
static int section_workers(void)
{
	static const uint32_t workers[] = { 1, 2 };
	double best[2] = { 0 }, user1, user2;
	unsigned int round, i;
	int ret = 0;

	printf("\nworkers: 1 MiB reads at depth 64, POLL, producer asleep in "
	       "poll(), MiB/s;\ncopy_workers 2 against 1 (target: 1.7x)\n");
	if (!env.have_dev) {
		printf("  (needs %s and vgem)\n", MKIOQ_DEV);
		return 0;
	}
	prefault(env.src.map, SRC_BYTES, false);
	prefault(env.dst.map, SRC_BYTES, true);
	for (round = 0; round < 3 && !ret; round++) {
		for (i = 0; i < 2 && !ret; i++) {
			struct client c = {
				.depth = MKIOQ_MAX_SLOTS, .bytes = 1u << 20,
				.notify = NOTIFY_READ,
			};
			struct result r = { 0 };

			progress("workers");
			ret = workers_queue(&c, workers[i]);
			if (!ret)
				ret = client_run(&c, &r);
			if (!ret)
				workers_show(&c, workers[i], &r);
			if (c.q)
				mkioq_queue_free(c.q);
			if (r.bytes_per_s > best[i])
				best[i] = r.bytes_per_s;
		}
	}
	if (ret)
		return ret;
	user2 = user_copy_two_vs_one(&user1);
	emit("workers", "user copy 1 thread", "1MiB", user1 / 1048576, "MiB/s",
	     0, "glibc memcpy, the same buffers");
	emit("workers", "user copy 2 threads", "1MiB", user2 / 1048576,
	     "MiB/s", user2 / user1,
	     "of one thread: the most two vCPUs give now");
	emit("workers", "mkioq poll 1 worker", "1MiB qd64", best[0] / 1048576,
	     "MiB/s", 0, "producer asleep in poll()");
	emit("workers", "mkioq poll 2 workers", "1MiB qd64",
	     best[1] / 1048576, "MiB/s", best[1] / best[0],
	     "of one worker; target 1.7x");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Many queues: POLL queues sharing poll threads.                      */
/* ------------------------------------------------------------------ */

#define QB_MAX		256	/* queues */
#define QB_DEPTH	4	/* slots of each ring, all kept in flight */
#define QB_GROUPS	2	/* poll threads, at most */
#define QB_WAKES	20	/* wake-ups after idle measured */

/*
 * @n POLL queues of QB_DEPTH slots, in @groups groups: queue i is served
 * by the thread of queue i % @groups, which created the group (the
 * others attached to it with MKIOQ_SETUP_ATTACH_POLL).
 */
struct qset {
	unsigned int n, groups;
	struct test_buf src, dst;
	struct mkioq_queue *q[QB_MAX];
	uint32_t hsrc[QB_MAX], hdst[QB_MAX];
	uint64_t t0[QB_MAX][QB_DEPTH];
	long thread[QB_GROUPS];
};

static void qset_close(struct qset *s)
{
	unsigned int i;

	for (i = 0; i < QB_MAX; i++)
		if (s->q[i])
			mkioq_queue_free(s->q[i]);
	test_buf_destroy(&s->src);
	test_buf_destroy(&s->dst);
}

static int qset_open(struct qset *s, unsigned int n, unsigned int groups)
{
	unsigned int i;
	int ret;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->groups = groups;
	s->src.fd = s->dst.fd = -1;
	/* Small buffers of their own: 256 handles map them 256 times. */
	ret = test_buf_create(env.drm, 4096, true, &s->src);
	if (!ret)
		ret = test_buf_create(env.drm, QB_MAX * 4096, true, &s->dst);
	for (i = 0; !ret && i < n; i++) {
		struct mkioq_setup setup = {
			.slot_count = QB_DEPTH, .mode = MKIOQ_MODE_POLL,
		};

		if (i >= groups) {
			setup.flags = MKIOQ_SETUP_ATTACH_POLL;
			setup.attach_fd = mkioq_queue_fd(s->q[i % groups]);
		}
		ret = mkioq_queue_open_setup(MKIOQ_DEV, &setup, &s->q[i]);
		if (!ret)
			ret = mkioq_register(s->q[i], s->src.fd, 0, 4096,
					     MKIOQ_ACCESS_READ, &s->hsrc[i]);
		if (!ret)
			ret = mkioq_register(s->q[i], s->dst.fd,
					     (uint64_t)i * 4096, 4096,
					     MKIOQ_ACCESS_WRITE, &s->hdst[i]);
	}
	for (i = 0; !ret && i < groups; i++) {
		s->thread[i] = fdinfo_number(mkioq_queue_fd(s->q[i]),
					  "poll-thread");
		if (s->thread[i] <= 0)
			ret = -ENOENT;
	}
	if (ret)
		qset_close(s);
	return ret;
}

static int qset_submit(struct qset *s, unsigned int i, uint32_t slot)
{
	s->t0[i][slot] = now_ns();
	return mkioq_submit_dma_read(s->q[i], slot, s->hsrc[i], s->hdst[i],
				     64, slot);
}

/*
 * One producer thread keeps every slot of every ring in flight: round
 * robin over the rings, a completed slot is timed, recycled and published
 * again, with no doorbell (as a GPU producer that only writes the ring).
 * Then every request is let finish.
 */
static int qset_run(struct qset *s, struct result *r)
{
	uint64_t start, end, now, ops = 0;
	uint32_t nsamples = 0, slot;
	unsigned int i, left;
	int st, ret = 0;

	for (i = 0; i < s->n && !ret; i++) {
		for (slot = 0; slot < QB_DEPTH && !ret; slot++)
			ret = qset_submit(s, i, slot);
		/* The threads may sleep since setup. */
		if (!ret)
			ret = mkioq_doorbell(s->q[i]);
	}
	start = now_ns();
	end = start + (uint64_t)(env.seconds * 1e9);
	for (now = start; !ret && now < end;) {
		for (i = 0; i < s->n; i++)
			for (slot = 0; slot < QB_DEPTH; slot++) {
				st = mkioq_slot_status(s->q[i], slot);
				if (st < MKIOQ_RESULT_OK)
					continue;
				if (st != MKIOQ_RESULT_OK)
					return -EIO;
				now = now_ns();
				if (nsamples < MAX_SAMPLES)
					env.samples[nsamples++] =
						now - s->t0[i][slot];
				ops++;
				ret = mkioq_recycle(s->q[i], slot);
				if (!ret)
					ret = qset_submit(s, i, slot);
			}
		now = now_ns();
		progress("queues");
	}
	r->ops = ops / ((now - start) / 1e9);
	latency(nsamples, r);
	/* Let what is in flight finish: the rings are empty for idle. */
	for (left = 1; !ret && left && now_ns() < end + 10000000000ull;) {
		left = 0;
		for (i = 0; i < s->n; i++)
			for (slot = 0; slot < QB_DEPTH; slot++) {
				st = mkioq_slot_status(s->q[i], slot);
				if (st == MKIOQ_RESULT_OK)
					ret = mkioq_recycle(s->q[i], slot);
				else if (st != MKIOQ_STATE_EMPTY)
					left++;
			}
	}
	return ret ?: left ? -ETIMEDOUT : 0;
}

/*
 * With every queue idle for longer than poll_idle: the poll threads' CPU
 * time over @seconds, in % of one CPU (all threads together).
 */
static double qset_idle_cpu(struct qset *s, double seconds)
{
	long t0 = 0, t1 = 0;
	uint64_t a, b;
	unsigned int g;

	/* poll_idle (2 ms by default) and then some. */
	usleep(100 * 1000);
	a = now_ns();
	for (g = 0; g < s->groups; g++)
		t0 += task_cpu_ticks(s->thread[g]);
	usleep((useconds_t)(seconds * 1e6));
	for (g = 0; g < s->groups; g++)
		t1 += task_cpu_ticks(s->thread[g]);
	b = now_ns();
	return 100.0 * (t1 - t0) / sysconf(_SC_CLK_TCK) / ((b - a) / 1e9);
}

/*
 * Wake-up after idle: the threads asleep (20 ms idle), one request and
 * its doorbell on one queue (a different one each time); doorbell to
 * completion seen, median of QB_WAKES, in microseconds.
 */
/*
 * The producer spins on STATUS, as a GPU does without taking a host CPU;
 * here it takes a vCPU, and the scheduler would put a woken poll thread
 * on that busy vCPU (its last one) and run it only at the next tick. So
 * the producer stays on CPU 0 and the poll threads on CPU 1, as an
 * operator pins them (Documentation/operator.rst): the figure is the
 * module's wake-up, not the scheduler's placement. Returns whether it
 * could pin; @saved gets the producer's old mask.
 */
static bool qset_pin(struct qset *s, cpu_set_t *saved)
{
	cpu_set_t cpu0, cpu1;
	unsigned int g;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 ||
	    sched_getaffinity(0, sizeof(*saved), saved))
		return false;
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	CPU_ZERO(&cpu1);
	CPU_SET(1, &cpu1);
	for (g = 0; g < s->groups; g++)
		sched_setaffinity((pid_t)s->thread[g], sizeof(cpu1), &cpu1);
	return sched_setaffinity(0, sizeof(cpu0), &cpu0) == 0;
}

static int qset_wake(struct qset *s, double *p50_us)
{
	uint64_t t, lat[QB_WAKES];
	unsigned int k, i, n = env.smoke ? 5 : QB_WAKES;
	int ret = 0, st;
	cpu_set_t saved;
	bool pinned = qset_pin(s, &saved);

	for (k = 0; k < n && !ret; k++) {
		i = (k * 37) % s->n;
		usleep(20 * 1000);
		ret = qset_submit(s, i, 0);
		t = now_ns();
		if (!ret)
			ret = mkioq_doorbell(s->q[i]);
		while (!ret && (st = mkioq_slot_status(s->q[i], 0)) <
		       MKIOQ_RESULT_OK)
			if (now_ns() - t > 10000000000ull)
				ret = -ETIMEDOUT;
		lat[k] = now_ns() - t;
		if (!ret)
			ret = mkioq_recycle(s->q[i], 0);
	}
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	*p50_us = lat[n / 2] / 1e3;
	return ret;
}

static int section_queues(void)
{
	static const unsigned int counts[] = { 1, 16, QB_MAX };
	static struct qset s;
	struct result base = { 0 }, r;
	double base_wake = 0, wake = 0, idle = 0;
	unsigned int ci, groups;
	char name[64];
	struct rlimit rl;
	int ret;

	printf("\nqueues: POLL queues served by 1 or 2 shared threads; 64 B READs, "
	       "%u in flight per queue, one producer spinning over the rings\n",
	       QB_DEPTH);
	if (!env.have_dev) {
		printf("  (skipped: no /dev/mkioq0)\n");
		return 0;
	}
	/* A queue is a descriptor: 256 of them and the rest. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 4 * QB_MAX) {
		rl.rlim_cur = rl.rlim_max < 4 * QB_MAX ? rl.rlim_max :
			      4 * QB_MAX;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (groups = 1; groups <= QB_GROUPS; groups++)
		for (ci = 0; ci < 3; ci++) {
			/* Two threads need two queues at least. */
			if (counts[ci] < groups)
				continue;
			snprintf(name, sizeof(name), "%u queue%s %u thread%s",
				 counts[ci], counts[ci] > 1 ? "s" : "", groups,
				 groups > 1 ? "s" : "");
			progress(name);
			ret = qset_open(&s, counts[ci], groups);
			if (ret)
				return ret;
			memset(&r, 0, sizeof(r));
			ret = qset_run(&s, &r);
			if (!ret)
				idle = qset_idle_cpu(&s, env.smoke ? 0.2 : 1.0);
			if (!ret)
				ret = qset_wake(&s, &wake);
			qset_close(&s);
			if (ret)
				return ret;
			if (counts[ci] == 1 && groups == 1) {
				base = r;
				base_wake = wake;
			}
			emit("queues", name, "64B qd4/queue", r.ops, "ops/s",
			     base.ops ? r.ops / base.ops : 0,
			     "of 1 queue 1 thread");
			strcat(name, " p99");
			emit("queues", name, "64B qd4/queue", r.p99_us, "us",
			     base.p99_us ? r.p99_us / base.p99_us : 0,
			     "of 1 queue 1 thread p99");
			name[strlen(name) - 4] = '\0';
			strcat(name, " idle CPU");
			emit("queues", name, "after poll_idle", idle, "%CPU",
			     0, "poll threads, % of one CPU");
			name[strlen(name) - 9] = '\0';
			strcat(name, " wake-up");
			emit("queues", name, "after idle", wake, "us",
			     base_wake ? wake / base_wake : 0,
			     "of 1 queue 1 thread wake-up");
		}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Storage: READs of a file on the ext4 disk into the vgem dma-buf.    */
/* ------------------------------------------------------------------ */

#define ST_FILE		"bench.bin"	/* tests/vm/make-disk.sh */
#define ST_REGION	(1u << 20)	/* per-slot destination region */
#define ST_DEPTH_MAX	MKIOQ_MAX_SLOTS

/*
 * The offsets a run reads: 1 MiB sequential, wrapping at the end of the
 * file; or 4 KiB random, a permutation of the file's blocks (an odd
 * stride over a power-of-two count of blocks visits each once before any
 * twice), so that a pass over a cold file misses the page cache on each.
 */
struct st_io {
	int fd;
	uint64_t size;		/* of the file; a power of two */
	uint32_t bytes;		/* per request */
	bool random;
	uint64_t next;		/* requests handed out */
	uint64_t limit;		/* 0: until env.seconds pass, else this many */
	uint64_t errors;	/* requests that did not read @bytes */
};

static uint64_t st_offset(struct st_io *io)
{
	uint64_t i = io->next++, n = io->size / io->bytes;

	return (io->random ? (i * 40503u + 7) % n : i % n) * io->bytes;
}

/* More to send: within the time, or the pass not done. */
static bool st_more(const struct st_io *io, uint64_t t, uint64_t t_end)
{
	return io->limit ? io->next < io->limit : t < t_end;
}

/*
 * mkioq: a DOORBELL queue with the file registered as a READ source
 * (MKIOQ_REG_F_FILE) and one 1 MiB region of the dma-buf per slot; keep
 * @depth READs in flight, ring after each batch, and sleep in read() for
 * the completion records (@spin: watch the STATUS words instead, as a GPU
 * producer does).
 */
static int st_mkioq(struct st_io *io, uint32_t depth, bool spin,
		    struct result *r)
{
	struct mkioq_cqe cqes[ST_DEPTH_MAX];
	uint64_t done = 0, sent = 0, t_start, t_end, t = 0;
	uint32_t hf, hd[ST_DEPTH_MAX], s;
	struct mkioq_queue *q;
	int ret, n, i;

	ret = mkioq_queue_open(MKIOQ_DEV, ST_DEPTH_MAX, 0, &q);
	if (ret)
		return ret;
	ret = mkioq_register_file(q, io->fd, 0, io->size, MKIOQ_ACCESS_READ,
				  &hf);
	for (s = 0; !ret && s < depth; s++)
		ret = mkioq_register(q, env.dst.fd, (uint64_t)s * ST_REGION,
				     ST_REGION, MKIOQ_ACCESS_WRITE, &hd[s]);
	t_start = now_ns();
	t_end = t_start + (uint64_t)(env.seconds * 1e9);
	while (!ret) {
		bool submitted = false;

		t = now_ns();
		for (s = 0; s < depth && st_more(io, t, t_end); s++) {
			struct mkioq_request req = {
				.op = MKIOQ_OP_READ, .src_handle = hf,
				.dst_handle = hd[s], .byte_count = io->bytes,
				.tag = (uint32_t)sent,
			};

			if (mkioq_slot_status(q, s) != MKIOQ_STATE_EMPTY)
				continue;
			req.offset = st_offset(io);
			if (mkioq_submit(q, s, &req) == 0) {
				submitted = true;
				sent++;
			}
		}
		if (submitted)
			mkioq_doorbell(q);
		if (done == sent)
			break;
		if (spin) {
			for (s = 0; s < depth; s++) {
				int st = mkioq_slot_status(q, s);

				if (st != MKIOQ_RESULT_OK &&
				    st != MKIOQ_RESULT_ERROR)
					continue;
				if (st != MKIOQ_RESULT_OK ||
				    q->words[s * MKIOQ_SLOT_WORDS +
					     MKIOQ_WORD_BYTE_COUNT] !=
				    io->bytes)
					io->errors++;
				mkioq_recycle(q, s);
				done++;
			}
			continue;
		}
		n = mkioq_read_cqes(q, cqes, ST_DEPTH_MAX, 10000);
		if (n < 0) {
			ret = n;
			break;
		}
		for (i = 0; i < n; i++) {
			if (cqes[i].slot >= depth)
				continue;
			if (cqes[i].result != (int32_t)io->bytes)
				io->errors++;
			mkioq_recycle(q, cqes[i].slot);
			done++;
		}
	}
	t = now_ns() - t_start;
	mkioq_queue_free(q);
	r->ops = done / (t / 1e9);
	r->bytes_per_s = r->ops * io->bytes;
	return ret;
}

/* io_uring: IORING_OP_READ of the file into the same mapped regions. */
static int st_uring(struct st_io *io, uint32_t depth, struct result *r)
{
	uint64_t done = 0, sent = 0, t_start, t_end, t;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	unsigned int head, seen;
	uint32_t s;
	int ret;

	ret = io_uring_queue_init(depth, &ring, 0);
	if (ret)
		return ret;
	t_start = now_ns();
	t_end = t_start + (uint64_t)(env.seconds * 1e9);
	for (s = 0; s < depth && st_more(io, t_start, t_end); s++) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, io->fd,
				   env.dst.map + (size_t)s * ST_REGION,
				   io->bytes, st_offset(io));
		io_uring_sqe_set_data64(sqe, s);
		sent++;
	}
	while (done < sent) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0)
			break;
		ret = 0;
		seen = 0;
		t = now_ns();
		io_uring_for_each_cqe(&ring, head, cqe) {
			s = (uint32_t)io_uring_cqe_get_data64(cqe);
			seen++;
			done++;
			if (cqe->res != (int)io->bytes)
				io->errors++;
			if (!st_more(io, t, t_end))
				continue;
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, io->fd,
					   env.dst.map + (size_t)s * ST_REGION,
					   io->bytes, st_offset(io));
			io_uring_sqe_set_data64(sqe, s);
			sent++;
		}
		io_uring_cq_advance(&ring, seen);
	}
	t = now_ns() - t_start;
	io_uring_queue_exit(&ring);
	r->ops = done / (t / 1e9);
	r->bytes_per_s = r->ops * io->bytes;
	return ret;
}

/* pread() into a buffer of our own, then memcpy() into the dma-buf. */
static int st_pread(struct st_io *io, struct result *r)
{
	uint64_t done = 0, t_start, t_end, t;
	uint8_t *buf = aligned_alloc(4096, ST_REGION);

	if (!buf)
		return -ENOMEM;
	t_start = t = now_ns();
	t_end = t_start + (uint64_t)(env.seconds * 1e9);
	while (st_more(io, t, t_end)) {
		if (pread(io->fd, buf, io->bytes, st_offset(io)) !=
		    (ssize_t)io->bytes)
			io->errors++;
		memcpy(env.dst.map, buf, io->bytes);
		done++;
		t = now_ns();
	}
	t = now_ns() - t_start;
	free(buf);
	r->ops = done / (t / 1e9);
	r->bytes_per_s = r->ops * io->bytes;
	return 0;
}

enum { ST_MKIOQ, ST_MKIOQ_SPIN, ST_URING, ST_PREAD, ST_WAYS };

static const char *const st_names[ST_WAYS] = {
	"mkioq doorbell", "mkioq doorbell spin", "io_uring READ",
	"pread + memcpy",
};

/*
 * What the disk under the file saw during a pass, from its
 * /sys/dev/block/MAJ:MIN/stat: read requests, sectors, the summed time
 * of its reads (ms) and the time it was busy (ms), and the pass's wall
 * time. Summed read time over wall time is, by Little's law, the mean
 * number of reads at the disk at once: how many of the READs in flight
 * the way had at the device.
 */
struct st_disk {
	uint64_t reads, sectors, read_ms, busy_ms, wall_ns;
};

static int st_disk_read(int fd, struct st_disk *d)
{
	unsigned long long v[11];
	struct stat st;
	char path[96];
	FILE *f;
	int n;

	if (fstat(fd, &st))
		return -errno;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat",
		 major(st.st_dev), minor(st.st_dev));
	f = fopen(path, "r");
	if (!f)
		return -errno;
	/* reads, merges, sectors, ms; writes (4); in flight, busy, queue */
	n = fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8], &v[9], &v[10]);
	fclose(f);
	if (n != 11)
		return -EIO;
	d->reads = v[0];
	d->sectors = v[2];
	d->read_ms = v[3];
	d->busy_ms = v[9];
	d->wall_ns = now_ns();
	return 0;
}

/* @a becomes what happened from @a to @b. */
static void st_disk_delta(struct st_disk *a, const struct st_disk *b)
{
	a->reads = b->reads - a->reads;
	a->sectors = b->sectors - a->sectors;
	a->read_ms = b->read_ms - a->read_ms;
	a->busy_ms = b->busy_ms - a->busy_ms;
	a->wall_ns = b->wall_ns - a->wall_ns;
}

/* The disk's rows of @way's best cold pass of @passes READs. */
static void st_disk_emit(unsigned int way, const char *param,
			 const struct st_disk *d, uint64_t passes)
{
	double wall_ms = d->wall_ns / 1e6;

	if (!d->wall_ns || !d->reads)
		return;
	emit("disk", st_names[way], param, (double)d->reads / passes,
	     "req", 0, "disk read requests per READ");
	emit("disk", st_names[way], param, d->sectors / 2.0 / d->reads, "KiB",
	     0, "per disk read request");
	emit("disk", st_names[way], param, d->read_ms / wall_ms, "reqs", 0,
	     "at the disk at once, mean (Little)");
	emit("disk", st_names[way], param, 100.0 * d->busy_ms / wall_ms, "%",
	     0, "of the pass with the disk busy");
}

/*
 * --filter in the storage section: only the points whose "way, param"
 * (as the CSV names them) contain the text, and under --perf-ctl only
 * those are profiled.
 */
static bool st_selected(unsigned int way, const char *param)
{
	char name[128];

	if (!env.filter)
		return true;
	snprintf(name, sizeof(name), "%s, %s", st_names[way], param);
	return strstr(name, env.filter) != NULL;
}

/*
 * One run of a point: @way at @depth. @cold: drop the file's pages first
 * and read one pass of @passes requests, each missing the page cache;
 * else read for env.seconds from a warm page cache. Raises *@best, and
 * when it does, *@disk becomes what the disk saw in this run.
 */
static int st_point(struct st_io *io, unsigned int way, uint32_t depth,
		    bool cold, uint64_t passes, double *best,
		    struct st_disk *disk)
{
	struct st_disk d0 = { 0 }, d1 = { 0 };
	struct result r = { 0 };
	int ret;

	io->next = 0;
	io->limit = cold ? passes : 0;
	io->errors = 0;
	if (cold && posix_fadvise(io->fd, 0, 0, POSIX_FADV_DONTNEED))
		return -errno;
	progress("storage");
	/* After the drop: the profile holds the READs alone. */
	perf_profile(true);
	/* No disk figures where /sys has none (the rows are left out). */
	if (st_disk_read(io->fd, &d0))
		d0.wall_ns = 0;
	switch (way) {
	case ST_MKIOQ:
	case ST_MKIOQ_SPIN:
		ret = st_mkioq(io, depth, way == ST_MKIOQ_SPIN, &r);
		break;
	case ST_URING:
		ret = st_uring(io, depth, &r);
		break;
	default:
		ret = st_pread(io, &r);
		break;
	}
	if (d0.wall_ns && !st_disk_read(io->fd, &d1))
		st_disk_delta(&d0, &d1);
	else
		d0.wall_ns = 0;
	perf_profile(false);
	if (!ret && io->errors) {
		fprintf(stderr, "mkioq-bench: storage: %s: %llu short or "
			"failed READs\n", st_names[way],
			(unsigned long long)io->errors);
		ret = -EIO;
	}
	if (r.bytes_per_s > *best) {
		*best = r.bytes_per_s;
		*disk = d0;
	}
	return ret;
}

/*
 * 4 KiB random and 1 MiB sequential READs of bench.bin on the ext4 disk
 * (64 MiB, on the virtio-blk disk run-vm.sh --disk-image attaches) into
 * the vgem dma-buf: mkioq file handles against io_uring READ into the
 * same mapped buffer, and pread + memcpy, depth 1 and 64.
 *
 * Warm: the file (64 MiB) sits in the guest's page cache, read once
 * before; each point is the best of three runs of env.seconds, and
 * measures what each path costs around a page-cache copy. Cold: the best
 * of two passes, the file's pages dropped (POSIX_FADV_DONTNEED) before
 * each, a pass missing on every READ (the whole file, in 4 KiB READs in
 * the permutation's order or in 1 MiB READs in order: a pass of 4096
 * READs took 0.1 s and its ratio moved 20% between boots), so each goes
 * to the disk: a virtio-blk request that QEMU serves from the host's page
 * cache (cache=writeback), the nearest this VM comes to a file larger
 * than RAM; a real disk's latency would weigh more on depth 1. In both,
 * the ways take turns.
 */
static int section_storage(void)
{
	static const struct {
		uint32_t bytes;
		bool random;
		const char *name;
	} kinds[] = {
		{ 4096, true, "4KiB rand" },
		{ 1u << 20, false, "1MiB seq" },
	};
	static const uint32_t depths[] = { 1, ST_DEPTH_MAX };
	const char *dir = getenv("MKIOQ_DISK");
	struct st_disk disk[ST_WAYS];
	double bw[ST_WAYS];
	unsigned int k, d, w, cold, round;
	char path[256], param[64];
	struct st_io io = { .fd = -1 };
	uint8_t *buf;
	int ret = 0;

	printf("\nstorage: READs of a 64 MiB file on ext4 over virtio-blk "
	       "into a vgem dma-buf, MiB/s;\nmkioq (file handle, DOORBELL) "
	       "against io_uring READ into the same mapped buffer (target "
	       "0.9x at depth 64)\n");
	if (!env.have_dev || !dir) {
		printf("  (needs %s, vgem and the disk: run-vm.sh "
		       "--disk-image)\n", MKIOQ_DEV);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, ST_FILE);
	io.fd = open(path, O_RDONLY);
	if (io.fd < 0) {
		fprintf(stderr, "mkioq-bench: %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	io.size = lseek(io.fd, 0, SEEK_END);
	if (io.size < 64u << 20) {
		close(io.fd);
		return -EINVAL;
	}
	io.size = 64u << 20;
	prefault(env.dst.map, (size_t)ST_DEPTH_MAX * ST_REGION, true);
	/* Warm the page cache: one read of the whole file. */
	buf = malloc(ST_REGION);
	if (!buf) {
		close(io.fd);
		return -ENOMEM;
	}
	for (uint64_t off = 0; off < io.size; off += ST_REGION)
		if (pread(io.fd, buf, ST_REGION, off) != ST_REGION)
			ret = -EIO;
	free(buf);
	for (cold = 0; cold < 2 && !ret; cold++) {
		if (cold && env.smoke)
			break;
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && !ret; k++) {
			uint64_t passes = io.size / kinds[k].bytes;

			io.bytes = kinds[k].bytes;
			io.random = kinds[k].random;
			for (d = 0; d < sizeof(depths) / sizeof(depths[0]) &&
				    !ret; d++) {
				snprintf(param, sizeof(param), "%s qd%u%s",
					 kinds[k].name, depths[d],
					 cold ? " cold" : "");
				for (w = 0; w < ST_WAYS; w++) {
					bw[w] = 0;
					disk[w] = (struct st_disk){ 0 };
				}
				/*
				 * The ways take turns, round after round, so
				 * that none is always the first after a drop
				 * or a change of host load.
				 */
				for (round = 0; round < (cold ? 2 : 3) && !ret;
				     round++)
					for (w = 0; w < ST_WAYS && !ret; w++) {
						if ((w == ST_PREAD &&
						     depths[d] > 1) ||
						    !st_selected(w, param))
							continue;
						ret = st_point(&io, w, depths[d],
							       cold, passes,
							       &bw[w],
							       &disk[w]);
					}
				if (ret)
					break;
				if (bw[ST_URING] > 0)
					emit("storage", st_names[ST_URING],
					     param, bw[ST_URING] / 1048576,
					     "MiB/s", 0,
					     cold ? "page cache dropped; best of "
						    "two passes" :
						    "warm page cache");
				for (w = 0; w < ST_WAYS; w++)
					if (w != ST_URING && bw[w] > 0)
						emit("storage", st_names[w],
						     param, bw[w] / 1048576,
						     "MiB/s",
						     bw[ST_URING] > 0 ?
						     bw[w] / bw[ST_URING] : 0,
						     "of io_uring READ");
				for (w = 0; cold && w < ST_WAYS; w++)
					st_disk_emit(w, param, &disk[w],
						     passes);
			}
			if (cold)
				/* Leave the file warm for what follows. */
				posix_fadvise(io.fd, 0, 0, POSIX_FADV_WILLNEED);
		}
	}
	close(io.fd);
	return ret;
}

/* The sections, in the order a full run measures them. */
static const struct {
	const char *name;	/* for --only */
	const char *title;	/* for the progress lines */
	int (*run)(void);
} sections[] = {
	{ "bandwidth", "bandwidth", section_bandwidth },
	{ "small", "small requests", section_small },
	{ "scaling", "scaling", section_scaling },
	{ "workers", "workers", section_workers },
	{ "queues", "queues", section_queues },
	{ "storage", "storage", section_storage },
};
#define NSECTIONS	(sizeof(sections) / sizeof(sections[0]))

static void usage(void)
{
	printf("usage: mkioq-bench [--smoke] [--seconds S] [--only SECTION]\n"
	       "  --smoke       a few seconds in all: small sizes, few points\n"
	       "  --seconds S   time per measured point (default 1)\n"
	       "  --engine-workers N  worker threads of the userspace pump's\n"
	       "                engine (default 1)\n"
	       "  --only NAME   bandwidth, small, scaling, workers, queues or\n"
	       "                storage\n"
	       "  --filter TEXT small: only mkioq cases whose name contains TEXT,\n"
	       "                e.g. \"doorbell spin 64 B qd64\"; storage: only\n"
	       "                points whose \"way, param\" contains it, e.g.\n"
	       "                \"mkioq doorbell, 4KiB rand qd64 cold\"\n"
	       "  --perf-ctl CTL,ACK  perf record's --control fifos: profile\n"
	       "                only the module's small cases, or the storage\n"
	       "                points (see --filter)\n"
	       "Prints a table and csv,section,name,param,value,unit,ratio,peer\n"
	       "lines; needs /dev/mkioq0 and a vgem DRM device for the module's\n"
	       "rows (without them: memcpy and the userspace engine only).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "only", required_argument, NULL, 'o' },
		{ "filter", required_argument, NULL, 'f' },
		{ "engine-workers", required_argument, NULL, 'w' },
		{ "perf-ctl", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *only = NULL;
	unsigned int i;
	int opt, ret = 0;

#if defined(__x86_64__)
	__builtin_cpu_init();
#endif
	env.seconds = 1.0;
	env.engine_workers = 1;
	env.perf_ctl = env.perf_ack = -1;
	while ((opt = getopt_long(argc, argv, "st:o:f:w:p:h", opts,
				  NULL)) != -1) {
		switch (opt) {
		case 's':
			env.smoke = true;
			env.seconds = 0.05;
			break;
		case 't':
			env.seconds = strtod(optarg, NULL);
			break;
		case 'o':
			only = optarg;
			break;
		case 'f':
			env.filter = optarg;
			break;
		case 'w':
			env.engine_workers = (unsigned int)strtoul(optarg,
								   NULL, 0);
			break;
		case 'p':
			if (perf_ctl_open(optarg))
				return 2;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	env.samples = calloc(MAX_SAMPLES, sizeof(*env.samples));
	if (!env.samples) {
		fprintf(stderr, "mkioq-bench: no memory\n");
		return 1;
	}
	env.drm = vgem_open();
	env.have_dev = env.drm >= 0 && access(MKIOQ_DEV, R_OK | W_OK) == 0;
	if (env.drm >= 0) {
		ret = test_buf_create(env.drm, SRC_BYTES, true, &env.src);
		if (!ret)
			ret = test_buf_create(env.drm, DST_BYTES, true,
					      &env.dst);
		if (ret) {
			fprintf(stderr, "mkioq-bench: vgem buffers: %s\n",
				strerror(-ret));
			return 1;
		}
	} else {
		/* Host memory for memcpy() and the userspace engine. */
		env.src = (struct test_buf){ .fd = -1, .memfd = -1 };
		env.dst = env.src;
		env.src.map = calloc(1, SRC_BYTES);
		env.dst.map = calloc(1, DST_BYTES);
		if (!env.src.map || !env.dst.map) {
			fprintf(stderr, "mkioq-bench: no memory\n");
			return 1;
		}
	}
	if (!env.have_dev)
		fprintf(stderr, "mkioq-bench: no %s or vgem: memcpy and the "
			"userspace engine only\n", MKIOQ_DEV);
	pattern_fill(env.src.map, 1 << 20, 3, 0);
	printf("mkioq-bench: %s, %.2f s per point\n",
	       env.smoke ? "smoke" : "full", env.seconds);
	for (i = 0; i < NSECTIONS; i++)
		if (!only || !strcmp(only, sections[i].name))
			run.sections++;
	if (!run.sections) {
		fprintf(stderr, "mkioq-bench: --only %s: no such section\n",
			only);
		usage();
		return 2;
	}
	run.start_ns = now_ns();
	for (i = 0; i < NSECTIONS && !ret; i++) {
		if (only && strcmp(only, sections[i].name))
			continue;
		section_begin(sections[i].title);
		ret = sections[i].run();
	}
	if (ret)
		fprintf(stderr, "mkioq-bench: FAILED: %s\n", mkioq_strerror(ret));
	else
		printf("mkioq-bench: done\n");
	if (env.drm >= 0) {
		test_buf_destroy(&env.src);
		test_buf_destroy(&env.dst);
	} else {
		free(env.src.map);
		free(env.dst.map);
	}
	return ret ? 1 : 0;
}
