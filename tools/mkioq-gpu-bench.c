// SPDX-License-Identifier: GPL-2.0
/*
 * mkioq-gpu-bench: a GPU drives an mkioq ring serviced by libmkioq's
 * userspace engine, measured beside its floors in one run.
 *
 *   floor       ping-pong: the GPU stores a flag in mapped host memory, a
 *               host thread echoes it, the GPU sees the echo (p50, p99)
 *   qd1         one request at a time, 64 B and 4 KiB: submit to result
 *               seen on the GPU (p50, p99), against the floor; and 64 B
 *               with the result read in separate loads, the baseline of
 *               the one 16-byte load
 *   depth       all 64 slots in flight, 64 B .. 1 MiB, 1, 2, 4 and 8
 *               engine workers: requests/s and GiB/s on one ring, each
 *               slot reading its own window of the source; for 64 B also
 *               with a warp's lanes testing their slots together; with 8
 *               workers (and at 64 B with 1) also the points that split a
 *               slot's cycle (a census of the slots' states, a block per
 *               slot, the GPU sleeping, one source walk, a CPU producer,
 *               an engine keeping records)
 *   memcpy      host memcpy of the same sizes with 1, 2, 4 and 8 threads;
 *               with 1 and 8 also making the engine's very copies
 *
 * A table on stdout, every figure as a CSV row in OUT/gpu-bench.csv, and
 * OUT/gpu-bench.png when gnuplot is there. Targets (ratios in this run):
 * QD1 64 B p50 <= 1.25x the floor; 64 B at depth 64 >= 5 M requests/s,
 * the median of three more runs of the sweep's best 64 B point; 64 KiB
 * with 8 workers >= 0.8x 8-thread memcpy, medians of three taken in
 * turn.
 *
 * Usage: mkioq-gpu-bench [-o OUT] [-s SECONDS per depth point] [--smoke]
 *                        [--target-only: the 64 KiB 8-worker point alone]
 *                        [-g, --look-gap NS: the engines' look_gap_ns]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cuda_runtime_api.h>

#include "libmkioq.h"
#include "mkioq_engine.h"
#include "gpu_bench_kernels.h"

#define SLOTS		64
#define SRC_BYTES	(256ull << 20)
#define REGION		(1ull << 20)	/* per-slot destination */
#define QD1_N		20000
#define PING_N		20000

static const uint32_t sizes[] = { 64, 4096, 65536, 1u << 20 };
static const uint32_t threads[] = { 1, 2, 4, 8 };

static FILE *csv;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 of @n samples (sorted in place), in microseconds. */
static void pcts(uint64_t *ns, uint32_t n, double *p50, double *p99)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	*p50 = ns[n / 2] / 1e3;
	*p99 = ns[(uint64_t)n * 99 / 100] / 1e3;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ------------------------------------------------ ping-pong echo */

struct echo {
	uint32_t *flag, *echo;
};

static void *echo_thread(void *arg)
{
	struct echo *e = arg;
	uint32_t last = 0, v;

	for (;;) {
		/* Acquire: pairs with the GPU's release store of flag. */
		v = __atomic_load_n(e->flag, __ATOMIC_ACQUIRE);
		if (v == last)
			continue;
		if (v == 0xffffffffu)
			return NULL;
		/* Release: pairs with the GPU's acquire load of echo. */
		__atomic_store_n(e->echo, v, __ATOMIC_RELEASE);
		last = v;
	}
}

static int floor_pingpong(double *p50, double *p99)
{
	uint64_t *ns = calloc(PING_N, sizeof(*ns));
	uint32_t *host, *dev;
	struct echo e;
	pthread_t t;
	int ret;

	if (!ns || cudaHostAlloc((void **)&host, 256, cudaHostAllocMapped))
		return -ENOMEM;
	memset(host, 0, 256);
	cudaHostGetDevicePointer((void **)&dev, host, 0);
	/* Flag and echo on separate 128-byte lines. */
	e.flag = host;
	e.echo = host + 32;
	pthread_create(&t, NULL, echo_thread, &e);
	ret = gb_pingpong(dev, dev + 32, PING_N, ns);
	pthread_join(t, NULL);
	if (!ret)
		pcts(ns, PING_N, p50, p99);
	cudaFreeHost(host);
	free(ns);
	return ret;
}

/* ------------------------------------------------ the ring */

struct bench {
	void *ring_mem;
	struct mkioq_queue *q;
	struct gb_ring *ring;
	uint8_t *src, *dst;
	struct mkioq_engine *e;
	uint32_t hsrc, hdst0;
	uint32_t look_gap_ns;	/* the engines' (0: the library's default) */
};

/*
 * The engine with @workers, MKIOQ_ENGINE_F_NO_RECORDS unless @records:
 * the GPU reads every result from the ring, so records would only fill.
 */
static int engine_up(struct bench *b, uint32_t workers, bool records)
{
	struct mkioq_engine_params p = {
		.size = sizeof(p), .workers = workers,
		.flags = records ? 0 : MKIOQ_ENGINE_F_NO_RECORDS,
		.look_gap_ns = b->look_gap_ns,
	};
	uint32_t h, s;
	int ret;

	ret = mkioq_engine_new(b->q, &p, &b->e);
	if (ret) {
		printf("engine: %s\n", mkioq_strerror_call("mkioq_engine_new",
							   ret));
		return ret;
	}
	ret = mkioq_engine_register_mem(b->e, b->src, SRC_BYTES,
					MKIOQ_ACCESS_READ, &b->hsrc);
	for (s = 0; !ret && s < SLOTS; s++) {
		ret = mkioq_engine_register_mem(b->e, b->dst + s * REGION,
						REGION, MKIOQ_ACCESS_WRITE, &h);
		if (s == 0)
			b->hdst0 = h;
	}
	if (!ret)
		ret = mkioq_engine_start(b->e);
	if (ret) {
		mkioq_engine_free(b->e);
		b->e = NULL;
	}
	return ret;
}

static void engine_down(struct bench *b)
{
	mkioq_engine_free(b->e);
	b->e = NULL;
}

/* ------------------------------------------------ host memcpy */

/*
 * A copier walks @nstreams (source window, destination region) pairs in
 * turn, @bytes at a time, each source offset moving on through its window.
 */
struct copier {
	uint8_t *src[SLOTS], *dst[SLOTS];
	uint64_t off[SLOTS], window;
	uint32_t nstreams, bytes;
	uint64_t deadline, n;
	atomic_int *go;
};

/* A thread that only spins until *@arg is set: a busy CPU beside. */
static void *spinner_main(void *arg)
{
	atomic_int *stop = arg;

	while (!atomic_load_explicit(stop, memory_order_relaxed))
		;
	return NULL;
}

static void *copier_main(void *arg)
{
	struct copier *c = arg;
	uint32_t j = 0;

	while (!atomic_load(c->go))
		;
	while (mono_ns() < c->deadline) {
		for (int i = 0; i < 16; i++) {
			memcpy(c->dst[j], c->src[j] + c->off[j], c->bytes);
			c->off[j] += c->bytes;
			if (c->off[j] + c->bytes > c->window)
				c->off[j] = 0;
			j = j + 1 == c->nstreams ? 0 : j + 1;
		}
		c->n += 16;
	}
	return NULL;
}

/*
 * @nt threads memcpy @bytes. Each from its eighth of the source, one
 * stream, into one pinned region; or with @as_requests the copies the
 * engine's workers make: thread i those of the slots that worker i owns
 * (engine_own_slots(): groups of SLOTS / @nt), slot s from its window of
 * the source into region s, the slots in turn. @spinners more threads
 * spin meanwhile, as a GPU point's host has threads busy beside the
 * workers (the thread in cudaDeviceSynchronize(), a CPU producer).
 */
static double host_memcpy(struct bench *b, uint32_t nt, uint32_t bytes,
			  double seconds, bool as_requests, uint32_t spinners,
			  double *ops)
{
	static struct copier c[8];
	uint32_t i, j, group = SLOTS / nt;
	pthread_t t[8], sp[8];
	atomic_int go = 0, stop = 0;
	uint64_t t0, t1, n = 0;

	for (i = 0; i < nt; i++) {
		c[i] = (struct copier){
			.bytes = bytes, .go = &go,
			.nstreams = as_requests ? group : 1,
			.window = as_requests ? SRC_BYTES / SLOTS :
				  SRC_BYTES / 8,
		};
		for (j = 0; j < c[i].nstreams; j++) {
			uint32_t s = as_requests ? i * group + j : i;

			c[i].src[j] = b->src + s * c[i].window;
			c[i].dst[j] = b->dst + s * REGION;
		}
		pthread_create(&t[i], NULL, copier_main, &c[i]);
	}
	for (i = 0; i < spinners && i < 8; i++)
		pthread_create(&sp[i], NULL, spinner_main, &stop);
	t0 = mono_ns();
	for (i = 0; i < nt; i++)
		c[i].deadline = t0 + (uint64_t)(seconds * 1e9);
	atomic_store(&go, 1);
	for (i = 0; i < nt; i++) {
		pthread_join(t[i], NULL);
		n += c[i].n;
	}
	t1 = mono_ns();
	atomic_store(&stop, 1);
	for (i = 0; i < spinners && i < 8; i++)
		pthread_join(sp[i], NULL);
	*ops = n / ((t1 - t0) / 1e9);
	return *ops * bytes / (1u << 30);
}

static void row(const char *kind, const char *what, uint32_t bytes,
		uint32_t nthreads, double v1, const char *u1, double v2,
		const char *u2)
{
	printf("%-8s %-26s %8u %3u %12.3f %-7s %10.3f %s\n", kind, what, bytes,
	       nthreads, v1, u1, v2, u2);
	fprintf(csv, "%s,%s,%u,%u,%.4f,%s,%.4f,%s\n", kind, what, bytes,
		nthreads, v1, u1, v2, u2);
}

/* ------------------------------------------------ slot census */

/*
 * A host thread that reads every slot's STATUS every CENSUS_GAP_NS while
 * a depth point runs and counts the states it sees. Mean slots in a state
 * over the throughput is, by Little's law, the time a request spends in
 * it: PUBLISHED (waiting for a worker, or still on its way from the GPU),
 * CLAIMED (being copied), OK/ERROR (the result on its way to the GPU, or
 * not yet looked at) and EMPTY/DONE (the GPU's turnaround). It reads the
 * lines the others write, so its point is run beside one without it.
 */
#define CENSUS_GAP_NS	2000

struct census {
	const uint32_t *ring;
	pthread_t thread;
	atomic_int stop;
	uint64_t sweeps, published, claimed, result, empty;
};

static void *census_main(void *arg)
{
	struct census *c = arg;
	uint64_t t;
	uint32_t i, v;

	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		for (i = 0; i < SLOTS; i++) {
			/* A sample: no order with anything is needed. */
			v = __atomic_load_n(&c->ring[i * MKIOQ_SLOT_WORDS +
						     MKIOQ_WORD_STATUS],
					    __ATOMIC_RELAXED);
			if (v == MKIOQ_STATE_PUBLISHED)
				c->published++;
			else if (v == MKIOQ_STATE_CLAIMED)
				c->claimed++;
			else if (v == MKIOQ_RESULT_OK || v == MKIOQ_RESULT_ERROR)
				c->result++;
			else
				c->empty++;
		}
		c->sweeps++;
		for (t = mono_ns(); mono_ns() - t < CENSUS_GAP_NS;)
			;
	}
	return NULL;
}

/* How a depth point differs from the plain one. */
#define DP_SPREAD	(1u << 0)	/* a block per slot */
#define DP_SLEEP	(1u << 1)	/* the GPU sleeps 1-4 us between looks */
#define DP_CENSUS	(1u << 2)	/* the census thread runs */
#define DP_ONE_WALK	(1u << 3)	/* all slots walk one source from 0 */
#define DP_TOGETHER	(1u << 4)	/* a warp's lanes test their slots together */

/*
 * The census's rows at @mreq M requests/s: us per request PUBLISHED and
 * CLAIMED, and with @gpu_side those with the result and EMPTY.
 */
static void census_rows(const struct census *c, double mreq, uint32_t bytes,
			uint32_t workers, bool gpu_side)
{
	/* Requests per microsecond: slots / this = us per request. */
	double req_us = mreq * c->sweeps;

	if (!c->sweeps)
		return;
	row("census", "us/req: published; claimed", bytes, workers,
	    c->published / req_us, "us", c->claimed / req_us, "us");
	if (gpu_side)
		row("census", "us/req: result; empty", bytes, workers,
		    c->result / req_us, "us", c->empty / req_us, "us");
}

/*
 * All SLOTS slots in flight with @bytes each: M requests/s and GiB/s, a
 * row of what the engine's workers did meanwhile (requests found per
 * pass; sleeps), which says whether they waited for the GPU or the GPU
 * for them, the process's context switches, and a row of the GPU's time
 * per request (submit to result seen; result seen to the next submit).
 * With DP_CENSUS, the rows of where the slots were (above).
 */
static int depth_point(struct bench *b, const char *what, uint32_t bytes,
		       uint32_t workers, double seconds, unsigned int how,
		       double *gibp)
{
	struct gb_depth_point p = {
		.slots = SLOTS, .src = b->hsrc, .dst_first = b->hdst0,
		.bytes = bytes, .src_bytes = SRC_BYTES,
		.window = how & DP_ONE_WALK ? 0 : SRC_BYTES / SLOTS,
		.ns_budget = (uint64_t)(seconds * 1e9),
		.spread = !!(how & DP_SPREAD),
		.together = !!(how & DP_TOGETHER),
		.backoff_ns = how & DP_SLEEP ? 1000 : 0,
	};
	bool census = how & DP_CENSUS;
	struct census c = { .ring = b->ring_mem };
	struct mkioq_engine_stats s0, s1;
	struct rusage u0, u1;
	double mreq, gib;
	int ret;

	if (census && pthread_create(&c.thread, NULL, census_main, &c))
		return -EAGAIN;
	getrusage(RUSAGE_SELF, &u0);
	mkioq_engine_stats(b->e, &s0);
	ret = gb_depth(b->ring, &p);
	mkioq_engine_stats(b->e, &s1);
	getrusage(RUSAGE_SELF, &u1);
	if (census) {
		atomic_store(&c.stop, 1);
		pthread_join(c.thread, NULL);
	}
	if (ret || !p.requests || !p.elapsed_ns) {
		printf("depth: %d\n", ret ? ret : -EIO);
		return ret ? ret : -EIO;
	}
	mreq = p.requests / (p.elapsed_ns / 1e3);
	gib = (double)p.requests * bytes / (1u << 30) / (p.elapsed_ns / 1e9);
	row("depth64", what, bytes, workers, mreq, "M req/s", gib, "GiB/s");
	row("workers", "requests per pass; sleeps", bytes, workers,
	    (double)(s1.claimed - s0.claimed) /
	    (double)(s1.passes - s0.passes + !(s1.passes - s0.passes)),
	    "req/pass", (double)(s1.sleeps - s0.sleeps), "sleeps");
	/* Voluntary ones are waits (a lock, a sleep); the others preemption. */
	row("host", "context switches: vol; invol", bytes, workers,
	    (double)(u1.ru_nvcsw - u0.ru_nvcsw), "",
	    (double)(u1.ru_nivcsw - u0.ru_nivcsw), "");
	row("gpu", "us/req: submit-seen; turn", bytes, workers,
	    p.wait_ns / 1e3 / p.requests, "us", p.turn_ns / 1e3 / p.requests,
	    "us");
	if (census)
		census_rows(&c, mreq, bytes, workers, true);
	if (gibp)
		*gibp = gib;
	return 0;
}

/* ------------------------------------------------ a CPU producer */

/*
 * The same requests as a depth point's (slot s walks its own window of
 * the source into region s), published by one host thread instead of the
 * GPU: what the engine does when no PCIe round trip is in a slot's cycle.
 */
struct cpu_producer {
	uint32_t *ring;
	uint32_t hsrc, hdst0, bytes;
	uint64_t deadline, n;
};

static void cpu_publish(uint32_t *w, const struct cpu_producer *c,
			uint32_t s, uint64_t off)
{
	w[MKIOQ_WORD_OP] = MKIOQ_OP_READ;
	w[MKIOQ_WORD_SRC_HANDLE] = c->hsrc;
	w[MKIOQ_WORD_DST_HANDLE] = c->hdst0 + s;
	w[MKIOQ_WORD_OFFSET_LO] = (uint32_t)off;
	w[MKIOQ_WORD_OFFSET_HI] = (uint32_t)(off >> 32);
	w[MKIOQ_WORD_BYTE_COUNT] = c->bytes;
	/* Release: pairs with the engine's acquire after its sweep. */
	__atomic_store_n(&w[MKIOQ_WORD_STATUS], MKIOQ_STATE_PUBLISHED,
			 __ATOMIC_RELEASE);
}

static void *cpu_producer_main(void *arg)
{
	struct cpu_producer *c = arg;
	uint64_t off[SLOTS] = { 0 }, window = SRC_BYTES / SLOTS;
	uint32_t s, *w, st;

	for (s = 0; s < SLOTS; s++)
		cpu_publish(c->ring + s * MKIOQ_SLOT_WORDS, c, s, s * window);
	while (mono_ns() < c->deadline) {
		for (s = 0; s < SLOTS; s++) {
			w = c->ring + s * MKIOQ_SLOT_WORDS;
			/* Acquire: pairs with the engine's release of OK. */
			st = __atomic_load_n(&w[MKIOQ_WORD_STATUS],
					     __ATOMIC_ACQUIRE);
			if (st != MKIOQ_RESULT_OK && st != MKIOQ_RESULT_ERROR)
				continue;
			c->n++;
			off[s] = off[s] + 2 * c->bytes > window ? 0 :
				 off[s] + c->bytes;
			cpu_publish(w, c, s, s * window + off[s]);
		}
	}
	/* Let the engine finish what is in flight before it is stopped. */
	for (s = 0; s < SLOTS; s++)
		while (__atomic_load_n(&c->ring[s * MKIOQ_SLOT_WORDS +
						MKIOQ_WORD_STATUS],
				       __ATOMIC_ACQUIRE) < MKIOQ_RESULT_OK)
			;
	return NULL;
}

static int cpu_depth_point(struct bench *b, uint32_t bytes, uint32_t workers,
			   double seconds, bool census)
{
	struct cpu_producer c = {
		.ring = b->ring_mem, .hsrc = b->hsrc, .hdst0 = b->hdst0,
		.bytes = bytes,
	};
	struct census cs = { .ring = b->ring_mem };
	uint64_t t0, t1;
	pthread_t t;
	double mreq;

	if (census && pthread_create(&cs.thread, NULL, census_main, &cs))
		return -EAGAIN;
	t0 = mono_ns();
	c.deadline = t0 + (uint64_t)(seconds * 1e9);
	if (pthread_create(&t, NULL, cpu_producer_main, &c))
		return -EAGAIN;
	pthread_join(t, NULL);
	t1 = mono_ns();
	if (census) {
		atomic_store(&cs.stop, 1);
		pthread_join(cs.thread, NULL);
	}
	mreq = c.n / ((t1 - t0) / 1e3);
	row("depth64", census ? "engine, CPU producer, census" :
	    "engine, CPU producer", bytes, workers, mreq, "M req/s",
	    mreq * 1e6 * bytes / (1u << 30), "GiB/s");
	if (census)
		census_rows(&cs, mreq, bytes, workers, false);
	/* The GPU's next point starts from EMPTY slots. */
	memset(b->ring_mem, 0, SLOTS * MKIOQ_SLOT_BYTES);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The middle of three figures (sorted in place). */
static double median3(double v[3])
{
	qsort(v, 3, sizeof(*v), cmp_double);
	return v[1];
}

/*
 * The 64 KiB target, 8 workers already up: three engine points and three
 * memcpy points taken in turn, so that both see the same host; medians.
 * Beside each memcpy point one that makes the copies the engine's
 * workers make (host_memcpy()): which part of the gap is the requests'
 * pattern (64 source windows, 8 per worker in turn) and which the engine.
 */
static int target_point(struct bench *b, double seconds, double *bw,
			double *mc, double *rq)
{
	double bw3[3], mc3[3], req3[3], ops;
	int i;

	for (i = 0; i < 3; i++) {
		if (depth_point(b, "engine, for the target", 65536, 8,
				seconds, 0, &bw3[i]))
			return -EIO;
		mc3[i] = host_memcpy(b, 8, 65536, seconds, false, 0, &ops);
		row("memcpy", "host memcpy, for the target", 65536, 8,
		    ops / 1e6, "M op/s", mc3[i], "GiB/s");
		req3[i] = host_memcpy(b, 8, 65536, seconds, true, 0, &ops);
		row("memcpy", "host memcpy, as the requests", 65536, 8,
		    ops / 1e6, "M op/s", req3[i], "GiB/s");
	}
	*bw = median3(bw3);
	*mc = median3(mc3);
	*rq = median3(req3);
	return 0;
}

/* Keep the fastest 64 B point of the sweep: its workers and its DP_*. */
static void best_point(double *best, unsigned int *how, uint32_t *workers,
		       double gib, uint32_t bytes, uint32_t nt,
		       unsigned int this_how)
{
	double mreq = gib * (1u << 30) / bytes / 1e6;

	if (bytes != 64 || mreq <= *best)
		return;
	*best = mreq;
	*how = this_how;
	*workers = nt;
}

/* The median of three runs of one depth point, in M requests/s. */
static int median_point(struct bench *b, const char *what, uint32_t bytes,
			uint32_t workers, double seconds, unsigned int how,
			double *mreq)
{
	double gib3[3];
	int i;

	for (i = 0; i < 3; i++)
		if (depth_point(b, what, bytes, workers, seconds, how,
				&gib3[i]))
			return -EIO;
	*mreq = median3(gib3) * (1u << 30) / bytes / 1e6;
	return 0;
}

static void plot(const char *out)
{
	char cmd[4096];

	if (system("command -v gnuplot >/dev/null 2>&1")) {
		printf("gnuplot not found: no PNG here; `make gpu-bench-plot CSV=%s/gpu-bench.csv` draws it elsewhere\n",
		       out);
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "sh tools/gpu-bench-plot.sh %s/gpu-bench.csv %s/gpu-bench.png",
		 out, out);
	if (system(cmd))
		printf("plot failed\n");
	else
		printf("plot: %s/gpu-bench.png\n", out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "seconds", required_argument, NULL, 's' },
		{ "smoke", no_argument, NULL, 'S' },
		{ "target-only", no_argument, NULL, 'T' },
		{ "look-gap", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = "build/gpu-bench", *hint = "";
	double seconds = 1.0, fp50, fp99, q50[3], q99[3];
	double best64 = 0, bw64k8 = 0, bw64k8_spread = 0, mc64k8 = 0;
	double bw64k8_records = 0, rq64k8 = 0, med64 = 0;
	uint32_t best64_workers = 1;
	unsigned int best64_how = 0;
	struct bench b = { 0 };
	uint64_t *ns, i;
	char path[4096];
	int c, ret, ndev = 0;
	bool smoke = false, target_only = false;

	while ((c = getopt_long(argc, argv, "o:s:g:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'S': smoke = true; seconds = 0.05; break;
		case 'T': target_only = true; break;
		case 'g': b.look_gap_ns = (uint32_t)atoi(optarg); break;
		default: return 2;
		}
	}
	if (cudaGetDeviceCount(&ndev) != cudaSuccess || !ndev) {
		printf("mkioq-gpu-bench: no CUDA device: nothing measured\n");
		return 4;
	}
	mkdir(out, 0755);
	snprintf(path, sizeof(path), "%s/gpu-bench.csv", out);
	csv = fopen(path, "w");
	if (!csv)
		return 1;
	fprintf(csv, "kind,what,bytes,threads,value,unit,value2,unit2\n");

	if (cudaHostAlloc(&b.ring_mem, 4096, cudaHostAllocMapped) ||
	    cudaHostAlloc((void **)&b.dst, SLOTS * REGION,
			  cudaHostAllocMapped))
		return 1;
	memset(b.ring_mem, 0, 4096);
	b.src = malloc(SRC_BYTES);
	for (i = 0; i < SRC_BYTES; i++)
		b.src[i] = (uint8_t)(i * 131 + 7);
	ret = mkioq_queue_wrap(b.ring_mem, 4096, SLOTS, &b.q);
	if (!ret)
		ret = gb_ring_map(b.q, &b.ring, &hint);
	if (ret) {
		printf("ring: %s (%s)\n", strerror(-ret), hint);
		return 1;
	}
	printf("engines: look_gap_ns %u%s\n", b.look_gap_ns ? b.look_gap_ns :
	       MKIOQ_ENGINE_LOOK_GAP_DEFAULT_NS,
	       b.look_gap_ns ? "" : " (the default)");
	printf("%-8s %-26s %8s %3s %12s %-7s %10s %s\n", "kind", "what",
	       "bytes", "thr", "value", "unit", "value2", "unit2");

	if (target_only) {
		/* The 64 KiB point alone: its census, then the target. */
		/* Each on an engine of its own: their counters apart. */
		if (engine_up(&b, 8, false) ||
		    depth_point(&b, "engine, census", 65536, 8, seconds,
				DP_CENSUS, NULL))
			return 1;
		engine_down(&b);
		if (engine_up(&b, 8, false) ||
		    cpu_depth_point(&b, 65536, 8, seconds, true))
			return 1;
		engine_down(&b);
		if (engine_up(&b, 8, false) ||
		    target_point(&b, seconds, &bw64k8, &mc64k8, &rq64k8))
			return 1;
		engine_down(&b);
		printf("\n64 KiB, 8 workers / 8-thread memcpy, medians of 3 taken in turn = %.2f / %.2f GiB/s = %.2fx\n",
		       bw64k8, mc64k8, bw64k8 / mc64k8);
		printf("64 KiB, 8 workers / 8-thread memcpy as the requests = %.2f / %.2f GiB/s = %.2fx\n",
		       bw64k8, rq64k8, bw64k8 / rq64k8);
		/* The baseline with busy threads beside it: 1, 2, 8. */
		for (i = 1; i <= 8; i *= i == 2 ? 4 : 2) {
			double ops, gib = host_memcpy(&b, 8, 65536, seconds,
						      false, (uint32_t)i, &ops);
			char what[64];

			snprintf(what, sizeof(what),
				 "host memcpy, %u spinning beside", (unsigned)i);
			row("memcpy", what, 65536, 8, ops / 1e6, "M op/s", gib,
			    "GiB/s");
		}
		return 0;
	}
	ret = floor_pingpong(&fp50, &fp99);
	if (ret)
		return 1;
	row("floor", "ping-pong flag echo", 4, 1, fp50, "us p50", fp99,
	    "us p99");

	ns = calloc(QD1_N, sizeof(*ns));
	if (engine_up(&b, 1, false))
		return 1;
	/* 64 B, 4 KiB, then 64 B with the result read in separate loads. */
	for (i = 0; i < 3; i++) {
		uint32_t n = smoke ? 1000 : QD1_N, bytes = i == 1 ? 4096 : 64;

		ret = gb_qd1(b.ring, b.hsrc, b.hdst0, bytes, n, i == 2, ns);
		if (ret) {
			printf("qd1: %d\n", ret);
			return 1;
		}
		pcts(ns, n, &q50[i], &q99[i]);
		row("qd1", i == 2 ? "engine, 1 worker, 3 loads" :
		    "engine, 1 worker", bytes, 1, q50[i], "us p50", q99[i],
		    "us p99");
	}
	engine_down(&b);

	/*
	 * Every size with 1, 2, 4 and 8 workers; with 8 also the variants
	 * that split a slot's cycle for 64 B and 64 KiB: a block per slot,
	 * the GPU sleeping between looks, the census (beside the same point
	 * without it), every slot walking one source, and (below) an engine
	 * that keeps completion records.
	 */
	for (uint32_t t = 0; t < 4; t++) {
		if (engine_up(&b, threads[t], false))
			return 1;
		for (uint32_t s = 0; s < 4; s++) {
			uint32_t bytes = sizes[s], nt = threads[t];
			bool more = nt == 8 && (bytes == 64 || bytes == 65536);
			double gib;

			if (depth_point(&b, "engine", bytes, nt, seconds, 0,
					&gib))
				return 1;
			best_point(&best64, &best64_how, &best64_workers, gib,
				   bytes, nt, 0);
			if (bytes == 64 || more) {
				if (depth_point(&b, "engine, lanes together",
						bytes, nt, seconds, DP_TOGETHER,
						&gib))
					return 1;
				best_point(&best64, &best64_how,
					   &best64_workers, gib, bytes, nt,
					   DP_TOGETHER);
			}
			/* One worker: where a 64 B request's cycle goes. */
			if (bytes == 64 && nt == 1 &&
			    (depth_point(&b, "engine, census", bytes, nt,
					 seconds, DP_CENSUS, NULL) ||
			     depth_point(&b, "engine, lanes together, census",
					 bytes, nt, seconds,
					 DP_CENSUS | DP_TOGETHER, NULL) ||
			     cpu_depth_point(&b, bytes, nt, seconds, true)))
				return 1;
			if (more &&
			    (depth_point(&b, "engine, a block per slot", bytes,
					 nt, seconds, DP_SPREAD,
					 bytes == 65536 ? &bw64k8_spread : NULL) ||
			     depth_point(&b, "engine, GPU sleeps 1-4 us", bytes,
					 nt, seconds, DP_SLEEP, NULL) ||
			     depth_point(&b, "engine, census", bytes, nt,
					 seconds, DP_CENSUS, NULL) ||
			     depth_point(&b, "engine, one source walk", bytes,
					 nt, seconds, DP_ONE_WALK, NULL) ||
			     cpu_depth_point(&b, bytes, nt, seconds, false) ||
			     cpu_depth_point(&b, bytes, nt, seconds, true)))
				return 1;
		}
		if (t < 3)
			engine_down(&b);
	}
	for (uint32_t t = 0; t < 4; t++) {
		for (uint32_t s = 0; s < 4; s++) {
			double ops, gib = host_memcpy(&b, threads[t], sizes[s],
						      seconds, false, 0, &ops);

			row("memcpy", "host memcpy", sizes[s], threads[t],
			    ops / 1e6, "M op/s", gib, "GiB/s");
			/* 1 and 8: the engine's very copies, every size. */
			if (threads[t] != 1 && threads[t] != 8)
				continue;
			gib = host_memcpy(&b, threads[t], sizes[s], seconds,
					  true, 0, &ops);
			row("memcpy", "host memcpy, as the requests", sizes[s],
			    threads[t], ops / 1e6, "M op/s", gib, "GiB/s");
		}
	}
	if (target_point(&b, seconds, &bw64k8, &mc64k8, &rq64k8))
		return 1;
	engine_down(&b);
	/* What the records cost: the same engine keeping them. */
	if (engine_up(&b, 8, true) ||
	    depth_point(&b, "engine, with records", 64, 8, seconds, 0, NULL) ||
	    depth_point(&b, "engine, with records", 65536, 8, seconds,
			DP_CENSUS, &bw64k8_records))
		return 1;
	engine_down(&b);
	/* The 64 B target: the best point of the sweep again, 3 times. */
	if (engine_up(&b, best64_workers, false) ||
	    median_point(&b, best64_how & DP_TOGETHER ?
			 "engine, lanes together, for the target" :
			 "engine, for the target", 64, best64_workers, seconds,
			 best64_how, &med64))
		return 1;
	engine_down(&b);

	printf("\ntargets (ratios in this run):\n");
	printf("  QD1 64 B p50 / ping-pong p50 = %.2f / %.2f us = %.2fx (target <= 1.25x): %s\n",
	       q50[0], fp50, q50[0] / fp50,
	       q50[0] / fp50 <= 1.25 ? "met" : "MISSED");
	printf("  QD1 64 B p50, one 16-byte load / separate loads = %.2f / %.2f us = %.2fx\n",
	       q50[0], q50[2], q50[0] / q50[2]);
	printf("  64 B at depth 64, the best point of the sweep (%u workers%s) = %.2f M req/s, median of 3 more = %.2f M req/s (target >= 5): %s\n",
	       best64_workers, best64_how & DP_TOGETHER ?
	       ", lanes together" : "", best64, med64,
	       med64 >= 5 ? "met" : "MISSED");
	printf("  64 KiB, 8 workers / 8-thread memcpy, medians of 3 taken in turn = %.2f / %.2f GiB/s = %.2fx (target >= 0.8x): %s\n",
	       bw64k8, mc64k8, bw64k8 / mc64k8,
	       bw64k8 / mc64k8 >= 0.8 ? "met" : "MISSED");
	printf("  64 KiB, 8 workers / 8-thread memcpy of the same copies, medians = %.2f / %.2f GiB/s = %.2fx\n",
	       bw64k8, rq64k8, bw64k8 / rq64k8);
	printf("  64 KiB, 8 workers, a block per slot / 8-thread memcpy = %.2f / %.2f GiB/s = %.2fx\n",
	       bw64k8_spread, mc64k8, bw64k8_spread / mc64k8);
	printf("  64 KiB, 8 workers, keeping records / 8-thread memcpy = %.2f / %.2f GiB/s = %.2fx\n",
	       bw64k8_records, mc64k8, bw64k8_records / mc64k8);
	fprintf(csv, "ratio,qd1 64B p50 / floor p50,64,1,%.4f,x,1.25,target\n",
		q50[0] / fp50);
	fprintf(csv, "ratio,qd1 64B p50 one load / separate loads,64,1,%.4f,x,,\n",
		q50[0] / q50[2]);
	fprintf(csv, "ratio,64B depth64 best point median of 3,64,%u,%.4f,M req/s,5,target\n",
		best64_workers, med64);
	fprintf(csv, "ratio,64KiB 8 workers / memcpy,65536,8,%.4f,x,0.8,target\n",
		bw64k8 / mc64k8);
	fprintf(csv, "ratio,64KiB 8 workers / memcpy of the same copies,65536,8,%.4f,x,,\n",
		bw64k8 / rq64k8);
	fprintf(csv, "ratio,64KiB 8 workers a block per slot / memcpy,65536,8,%.4f,x,,\n",
		bw64k8_spread / mc64k8);
	fprintf(csv, "ratio,64KiB 8 workers keeping records / memcpy,65536,8,%.4f,x,,\n",
		bw64k8_records / mc64k8);
	fclose(csv);
	printf("csv: %s\n", path);
	plot(out);

	gb_ring_unmap(b.ring);
	mkioq_queue_free(b.q);
	cudaFreeHost(b.ring_mem);
	cudaFreeHost(b.dst);
	free(b.src);
	free(ns);
	return 0;
}
