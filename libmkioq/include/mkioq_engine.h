/* SPDX-License-Identifier: MIT */
/*
 * libmkioq's userspace engine: services an mkioq ring from threads of the
 * calling process, with the semantics of the mkioq kernel module's
 * service (driver/mkioq_service.c), errno for errno, for hosts where the
 * module cannot be loaded (module loading disabled, containers without
 * the device).
 *
 * The engine claims PUBLISHED requests of a struct mkioq_queue (host
 * memory from mkioq_queue_new() or mkioq_queue_wrap(), or any other ring
 * of the ABI) with a compare-and-swap, checks them against its own table
 * of handles (host memory ranges, or dma-bufs that it maps), copies with
 * the CPU and completes them, posting one struct mkioq_cqe record per
 * completion, as the module's read() returns them.
 *
 * Functions return 0 (or a count) on success and a negative errno on
 * failure; mkioq_engine_strerror() and mkioq_strerror_call() explain an
 * error and how to fix it.
 */
#ifndef MKIOQ_ENGINE_H
#define MKIOQ_ENGINE_H

#include <stdint.h>
#include "libmkioq.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mkioq_engine;

/* Most worker threads, and the handle table's size (as the module's). */
#define MKIOQ_ENGINE_MAX_WORKERS	64
#define MKIOQ_ENGINE_MAX_HANDLES	4096
/* Completion records buffered before the engine reports overflow. */
#define MKIOQ_ENGINE_CQ_ENTRIES		1024

/* Defaults and limits of the params, microseconds (the module's). */
#define MKIOQ_ENGINE_SPIN_DEFAULT_US	2000
#define MKIOQ_ENGINE_SPIN_MAX_US	1000000
#define MKIOQ_ENGINE_SLEEP_DEFAULT_US	1000
#define MKIOQ_ENGINE_SLEEP_MAX_US	10000000
/* The longest gap between a spinning worker's looks, nanoseconds. */
#define MKIOQ_ENGINE_LOOK_GAP_DEFAULT_NS	1000
#define MKIOQ_ENGINE_LOOK_GAP_MAX_NS		100000

/*
 * Results only in the ring: no completion records are kept, and completing
 * a request takes no lock that the workers share. For rings whose
 * producer reads every result from STATUS (a GPU); mkioq_engine_read_cqes()
 * then fails with -EOPNOTSUPP.
 */
#define MKIOQ_ENGINE_F_NO_RECORDS	(1u << 0)
#define MKIOQ_ENGINE_F_ALL		MKIOQ_ENGINE_F_NO_RECORDS

/* The sizes of the versions of struct mkioq_engine_params. */
#define MKIOQ_ENGINE_PARAMS_SIZE_VER0	20	/* up to flags */
#define MKIOQ_ENGINE_PARAMS_SIZE_VER1	24	/* look_gap_ns */

/**
 * struct mkioq_engine_params - how an engine services its ring
 * @size:	sizeof(struct mkioq_engine_params); lets the struct grow
 * @workers:	worker threads, 1..MKIOQ_ENGINE_MAX_WORKERS (0 = 1)
 * @spin_us:	keep polling this long after the last request seen, then
 *		sleep; 0 = MKIOQ_ENGINE_SPIN_DEFAULT_US
 * @sleep_us:	while sleeping, look at the ring this often even without
 *		a doorbell; 0 = MKIOQ_ENGINE_SLEEP_DEFAULT_US
 * @flags:	0 or MKIOQ_ENGINE_F_NO_RECORDS
 * @look_gap_ns: while spinning, a worker whose look at its slots found
 *		nothing waits before the next look, the wait doubling from
 *		64 ns up to this after each empty look (1 = look again at
 *		once); 0 = MKIOQ_ENGINE_LOOK_GAP_DEFAULT_NS. A request seen
 *		ends the waits. Fewer looks at the lines a PCIe device
 *		writes leave the device's writes and reads of the ring
 *		faster (Documentation/gpu.rst); a request published during
 *		a wait is seen up to this much later.
 */
struct mkioq_engine_params {
	uint32_t size;
	uint32_t workers;
	uint32_t spin_us;
	uint32_t sleep_us;
	uint32_t flags;
	uint32_t look_gap_ns;
};

/**
 * struct mkioq_engine_stats - counters since mkioq_engine_new()
 * @completed:	requests completed (OK or ERROR), FENCEs included
 * @errors:	of those, completed with MKIOQ_RESULT_ERROR
 * @cq_overflow: completion records dropped because the record queue was
 *		full; the slots' STATUS words still hold every result
 * @passes:	sweeps of the ring by the workers
 * @sleeps:	times a worker went to sleep (after spin_us without work)
 * @claimed:	requests claimed (FENCEs included)
 * @claim_races: claims lost to another claimer between the sweep and the
 *		compare-and-swap
 * @handed_back: slots claimed whose SRC then read 0 (recycled and
 *		re-published as ingests meanwhile), given back PUBLISHED
 * @fences_held: FENCEs claimed and not completed, now
 * @bytes:	bytes copied by requests completed OK
 * @doorbells:	mkioq_engine_doorbell() calls
 * @handles:	handles registered now
 * @workers:	worker threads running now
 */
struct mkioq_engine_stats {
	uint64_t completed;
	uint64_t errors;
	uint64_t cq_overflow;
	uint64_t passes;
	uint64_t sleeps;
	uint64_t claimed;
	uint64_t claim_races;
	uint64_t handed_back;
	uint64_t fences_held;
	uint64_t bytes;
	uint64_t doorbells;
	uint32_t handles;
	uint32_t workers;
};

/* Lifetime: engine.c */
int mkioq_engine_new(struct mkioq_queue *q,
		     const struct mkioq_engine_params *p,
		     struct mkioq_engine **ep);
int mkioq_engine_start(struct mkioq_engine *e);
int mkioq_engine_doorbell(struct mkioq_engine *e);
int mkioq_engine_stop(struct mkioq_engine *e);
void mkioq_engine_free(struct mkioq_engine *e);
int mkioq_engine_stats(const struct mkioq_engine *e,
		       struct mkioq_engine_stats *st);

/* Handles: engine_handle.c */
int mkioq_engine_register_mem(struct mkioq_engine *e, void *addr,
			      uint64_t length, uint32_t access,
			      uint32_t *handle);
int mkioq_engine_register_dmabuf(struct mkioq_engine *e, int dmabuf_fd,
				 uint64_t offset, uint64_t length,
				 uint32_t access, uint32_t *handle);
int mkioq_engine_register_file(struct mkioq_engine *e, int fd,
			       uint64_t offset, uint64_t length,
			       uint32_t access, uint32_t *handle);
int mkioq_engine_unregister(struct mkioq_engine *e, uint32_t handle);

/* Completion records: engine_cq.c */
int mkioq_engine_read_cqes(struct mkioq_engine *e, struct mkioq_cqe *cqes,
			   unsigned int max, int timeout_ms);

/* Errors: engine_strerror.c */
const char *mkioq_engine_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* MKIOQ_ENGINE_H */
