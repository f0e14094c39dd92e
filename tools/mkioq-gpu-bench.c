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
 *               engine workers: requests/s and GiB/s on one ring
 *   memcpy      host memcpy of the same sizes with 1, 2, 4 and 8 threads
 *
 * A table on stdout, every figure as a CSV row in OUT/gpu-bench.csv, and
 * OUT/gpu-bench.png when gnuplot is there. Targets (ratios in this run):
 * QD1 64 B p50 <= 1.25x the floor; 64 B at depth 64 >= 5 M requests/s;
 * 64 KiB with 8 workers >= 0.8x 8-thread memcpy.
 *
 * Usage: mkioq-gpu-bench [-o OUT] [-s SECONDS per depth point] [--smoke]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

static int engine_up(struct bench *b, uint32_t workers)
{
	struct mkioq_engine_params p = { .size = sizeof(p), .workers = workers };
	uint32_t h, s;
	int ret;

	ret = mkioq_engine_new(b->q, &p, &b->e);
	if (ret)
		return ret;
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

struct copier {
	uint8_t *src, *dst;
	uint32_t bytes;
	uint64_t deadline, n;
	atomic_int *go;
};

static void *copier_main(void *arg)
{
	struct copier *c = arg;
	uint64_t off = 0;

	while (!atomic_load(c->go))
		;
	while (mono_ns() < c->deadline) {
		for (int i = 0; i < 16; i++) {
			memcpy(c->dst, c->src + off, c->bytes);
			off += c->bytes;
			if (off + c->bytes > SRC_BYTES / 8)
				off = 0;
		}
		c->n += 16;
	}
	return NULL;
}

/* @nt threads memcpy @bytes from the source into pinned regions. */
static double host_memcpy(struct bench *b, uint32_t nt, uint32_t bytes,
			  double seconds, double *ops)
{
	struct copier c[8];
	pthread_t t[8];
	atomic_int go = 0;
	uint64_t t0, t1, n = 0;
	uint32_t i;

	for (i = 0; i < nt; i++) {
		c[i] = (struct copier){
			.src = b->src + i * (SRC_BYTES / 8),
			.dst = b->dst + i * REGION, .bytes = bytes, .go = &go,
		};
		pthread_create(&t[i], NULL, copier_main, &c[i]);
	}
	t0 = mono_ns();
	for (i = 0; i < nt; i++)
		c[i].deadline = t0 + (uint64_t)(seconds * 1e9);
	atomic_store(&go, 1);
	for (i = 0; i < nt; i++) {
		pthread_join(t[i], NULL);
		n += c[i].n;
	}
	t1 = mono_ns();
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

/*
 * All SLOTS slots in flight with @bytes each: M requests/s and GiB/s, and
 * a row of what the engine's workers did meanwhile (requests found per
 * pass; sleeps and lost claims), which says whether they waited for the
 * GPU or the GPU for them.
 */
static int depth_point(struct bench *b, uint32_t bytes, uint32_t workers,
		       double seconds, bool spread, double *mreq, double *gib)
{
	struct mkioq_engine_stats s0, s1;
	uint64_t reqs = 0, el = 1;
	int ret;

	mkioq_engine_stats(b->e, &s0);
	ret = gb_depth(b->ring, SLOTS, b->hsrc, b->hdst0, bytes, SRC_BYTES,
		       (uint64_t)(seconds * 1e9), spread, &reqs, &el);
	if (ret) {
		printf("depth: %d\n", ret);
		return ret;
	}
	mkioq_engine_stats(b->e, &s1);
	*mreq = reqs / (el / 1e3);
	*gib = (double)reqs * bytes / (1u << 30) / (el / 1e9);
	row("workers", "requests per pass; sleeps", bytes, workers,
	    (double)(s1.claimed - s0.claimed) /
	    (double)(s1.passes - s0.passes + !(s1.passes - s0.passes)),
	    "req/pass", (double)(s1.sleeps - s0.sleeps), "sleeps");
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
		{ NULL, 0, NULL, 0 },
	};
	const char *out = "build/gpu-bench", *hint = "";
	double seconds = 1.0, fp50, fp99, q50[3], q99[3];
	double best64 = 0, bw64k8 = 0, bw64k8_spread = 0, mc64k8 = 0;
	struct bench b = { 0 };
	uint64_t *ns, i;
	char path[4096];
	int c, ret, ndev = 0;
	bool smoke = false;

	while ((c = getopt_long(argc, argv, "o:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'S': smoke = true; seconds = 0.05; break;
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
	printf("%-8s %-26s %8s %3s %12s %-7s %10s %s\n", "kind", "what",
	       "bytes", "thr", "value", "unit", "value2", "unit2");

	ret = floor_pingpong(&fp50, &fp99);
	if (ret)
		return 1;
	row("floor", "ping-pong flag echo", 4, 1, fp50, "us p50", fp99,
	    "us p99");

	ns = calloc(QD1_N, sizeof(*ns));
	if (engine_up(&b, 1))
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

	/* threads[4]: 8 workers again, with the GPU's slots spread. */
	for (uint32_t t = 0; t < 5; t++) {
		bool spread = t == 4;

		if (engine_up(&b, threads[spread ? 3 : t]))
			return 1;
		for (uint32_t s = 0; s < 4; s++) {
			double mreq, gib;

			if (depth_point(&b, sizes[s], threads[spread ? 3 : t],
					seconds, spread, &mreq, &gib))
				return 1;
			row("depth64", spread ? "engine, a block per slot" :
			    "engine", sizes[s], threads[spread ? 3 : t], mreq,
			    "M req/s", gib, "GiB/s");
			if (sizes[s] == 64 && mreq > best64)
				best64 = mreq;
			if (sizes[s] == 65536 && t == 3)
				bw64k8 = gib;
			if (sizes[s] == 65536 && spread)
				bw64k8_spread = gib;
		}
		engine_down(&b);
	}
	for (uint32_t t = 0; t < 4; t++) {
		for (uint32_t s = 0; s < 4; s++) {
			double ops, gib = host_memcpy(&b, threads[t], sizes[s],
						      seconds, &ops);

			row("memcpy", "host memcpy", sizes[s], threads[t],
			    ops / 1e6, "M op/s", gib, "GiB/s");
			if (sizes[s] == 65536 && threads[t] == 8)
				mc64k8 = gib;
		}
	}

	printf("\ntargets (ratios in this run):\n");
	printf("  QD1 64 B p50 / ping-pong p50 = %.2f / %.2f us = %.2fx (target <= 1.25x): %s\n",
	       q50[0], fp50, q50[0] / fp50,
	       q50[0] / fp50 <= 1.25 ? "met" : "MISSED");
	printf("  QD1 64 B p50, one 16-byte load / separate loads = %.2f / %.2f us = %.2fx\n",
	       q50[0], q50[2], q50[0] / q50[2]);
	printf("  64 B at depth 64, best of 1-8 workers = %.2f M req/s (target >= 5): %s\n",
	       best64, best64 >= 5 ? "met" : "MISSED");
	printf("  64 KiB, 8 workers / 8-thread memcpy = %.2f / %.2f GiB/s = %.2fx (target >= 0.8x): %s\n",
	       bw64k8, mc64k8, bw64k8 / mc64k8,
	       bw64k8 / mc64k8 >= 0.8 ? "met" : "MISSED");
	printf("  64 KiB, 8 workers, a block per slot / 8-thread memcpy = %.2f / %.2f GiB/s = %.2fx\n",
	       bw64k8_spread, mc64k8, bw64k8_spread / mc64k8);
	fprintf(csv, "ratio,qd1 64B p50 / floor p50,64,1,%.4f,x,1.25,target\n",
		q50[0] / fp50);
	fprintf(csv, "ratio,qd1 64B p50 one load / separate loads,64,1,%.4f,x,,\n",
		q50[0] / q50[2]);
	fprintf(csv, "ratio,64B depth64 best,64,0,%.4f,M req/s,5,target\n",
		best64);
	fprintf(csv, "ratio,64KiB 8 workers / memcpy,65536,8,%.4f,x,0.8,target\n",
		bw64k8 / mc64k8);
	fprintf(csv, "ratio,64KiB 8 workers a block per slot / memcpy,65536,8,%.4f,x,,\n",
		bw64k8_spread / mc64k8);
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
