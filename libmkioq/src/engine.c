// SPDX-License-Identifier: MIT
/*
 * The engine's lifetime and its workers: N threads that look at the ring
 * continuously while requests arrive (so a GPU that cannot ring a
 * doorbell is served at memory speed), and after spin_us without work
 * sleep, looking only on mkioq_engine_doorbell() or every sleep_us: the
 * module's POLL mode (mkioq_poller_thread(), driver/mkioq_poller.c). As
 * there, a worker woken by the period alone that finds nothing sleeps
 * again at once; one woken by the doorbell, or that finds work, spins
 * again.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "engine.h"
#include "util.h"

static void engine_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Wake every sleeping worker: a doorbell, or stop. */
static void engine_wake(struct mkioq_engine *e)
{
	/*
	 * Sequentially consistent: the increment is ordered after the
	 * caller's earlier stores (a producer's release of PUBLISHED, the
	 * stop flag) and before the load of sleepers; pairs with the
	 * worker's increment of sleepers before its futex wait, so either
	 * the worker's wait sees the new bell or we see the sleeper.
	 */
	atomic_fetch_add(&e->bell, 1);
	if (atomic_load(&e->sleepers))
		syscall(SYS_futex, (uint32_t *)&e->bell, FUTEX_WAKE_PRIVATE,
			INT_MAX, NULL, NULL, 0);
}

/* Sleep until the doorbell moves from @bell, the period, or stop. */
static void engine_sleep(struct mkioq_engine *e, struct engine_worker *w,
			 unsigned int bell)
{
	struct timespec ts = {
		.tv_sec = e->sleep_us / 1000000,
		.tv_nsec = (long)(e->sleep_us % 1000000) * 1000,
	};

	atomic_store_explicit(&w->sleeps,
			      atomic_load_explicit(&w->sleeps,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	/* Pairs with engine_wake(): see there. */
	atomic_fetch_add(&e->sleepers, 1);
	if (!atomic_load(&e->stop))
		syscall(SYS_futex, (uint32_t *)&e->bell, FUTEX_WAIT_PRIVATE,
			bell, &ts, NULL, 0);
	atomic_fetch_sub(&e->sleepers, 1);
}

/*
 * After an empty look, wait @*gap (doubled from ENGINE_LOOK_GAP_FIRST_NS,
 * up to look_gap_ns) before the next. Every look reads the slots' lines,
 * which a PCIe producer writes and reads, and looks at memory speed slow
 * the producer (likely: each of its writes to a line that CPUs keep
 * reading first takes their copies away). 8 workers served a GPU's 64 B
 * requests at 2.8 M a second looking without a gap, 4.0 M with 1 us
 * gaps, 5.4-5.6 M with 4 us (Documentation/gpu.rst).
 */
static void engine_look_gap(const struct mkioq_engine *e, uint64_t now,
			    uint64_t *gap)
{
	*gap = *gap ? *gap * 2 : ENGINE_LOOK_GAP_FIRST_NS;
	if (*gap > e->look_gap_ns)
		*gap = e->look_gap_ns;
	do
		engine_cpu_relax();
	while (mono_ns() - now < *gap);
}

static void *engine_worker_main(void *arg)
{
	struct engine_worker *w = arg;
	struct mkioq_engine *e = w->e;
	uint64_t idle_since = mono_ns(), gap = 0, now;
	unsigned int bell, empty = 0;

	/* Acquire: pairs with the release store of stop in start(). */
	while (!atomic_load_explicit(&e->stop, memory_order_acquire)) {
		/*
		 * Before the pass, so a doorbell during it keeps us awake.
		 * Acquire: pairs with engine_wake()'s increment, so the
		 * pass after a doorbell sees what was published before it.
		 */
		bell = atomic_load_explicit(&e->bell, memory_order_acquire);
		if (engine_pass(e, w)) {
			idle_since = mono_ns();
			empty = 0;
			gap = 0;
			continue;
		}
		now = mono_ns();
		if (now - idle_since < e->spin_ns) {
			engine_look_gap(e, now, &gap);
			/* Let producers on the same CPUs run now and then. */
			if (++empty % 64 == 0)
				sched_yield();
			continue;
		}
		engine_sleep(e, w, bell);
		if (atomic_load_explicit(&e->bell, memory_order_relaxed) !=
		    bell)
			idle_since = mono_ns();
	}
	return NULL;
}

int mkioq_engine_new(struct mkioq_queue *q,
		     const struct mkioq_engine_params *p,
		     struct mkioq_engine **ep)
{
	struct mkioq_engine_params prm = { .size = sizeof(prm) };
	struct mkioq_engine *e;
	unsigned int i;
	int ret;

	if (!q || !ep || !q->words || !ring_slot_count_valid(q->slot_count))
		return -EINVAL;
	if (p) {
		/* The size-versioned struct rule of the module's SETUP. */
		if (p->size < MKIOQ_ENGINE_PARAMS_SIZE_VER0)
			return -EINVAL;
		if (p->size > 4096)
			return -E2BIG;
		for (i = sizeof(prm); i < p->size; i++)
			if (((const unsigned char *)p)[i])
				return -E2BIG;
		memcpy(&prm, p, p->size < sizeof(prm) ? p->size : sizeof(prm));
	}
	if ((prm.flags & ~MKIOQ_ENGINE_F_ALL) ||
	    prm.workers > MKIOQ_ENGINE_MAX_WORKERS ||
	    prm.spin_us > MKIOQ_ENGINE_SPIN_MAX_US ||
	    prm.sleep_us > MKIOQ_ENGINE_SLEEP_MAX_US ||
	    prm.look_gap_ns > MKIOQ_ENGINE_LOOK_GAP_MAX_NS)
		return -EINVAL;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->q = q;
	e->slot_count = q->slot_count;
	e->nworkers = prm.workers ? prm.workers : 1;
	e->spin_ns = 1000ULL * (prm.spin_us ? prm.spin_us :
				MKIOQ_ENGINE_SPIN_DEFAULT_US);
	e->sleep_us = prm.sleep_us ? prm.sleep_us :
				     MKIOQ_ENGINE_SLEEP_DEFAULT_US;
	e->look_gap_ns = prm.look_gap_ns ? prm.look_gap_ns :
					   MKIOQ_ENGINE_LOOK_GAP_DEFAULT_NS;
	e->workers = aligned_alloc(64, e->nworkers * sizeof(*e->workers));
	if (!e->workers) {
		free(e);
		return -ENOMEM;
	}
	memset(e->workers, 0, e->nworkers * sizeof(*e->workers));
	ret = engine_cq_init(&e->cq,
			     !(prm.flags & MKIOQ_ENGINE_F_NO_RECORDS));
	if (ret) {
		free(e->workers);
		free(e);
		return ret;
	}
	pthread_mutex_init(&e->state_lock, NULL);
	pthread_mutex_init(&e->table_lock, NULL);
	pthread_mutex_init(&e->buf_lock, NULL);
	pthread_mutex_init(&e->fence_lock, NULL);
	for (i = 0; i < e->nworkers; i++) {
		e->workers[i].e = e;
		e->workers[i].id = i;
		e->workers[i].own = engine_own_slots(e, i);
		pthread_mutex_init(&e->workers[i].lock, NULL);
	}
	*ep = e;
	return 0;
}

/* End and join the workers that run; state_lock held. */
static void engine_join(struct mkioq_engine *e)
{
	unsigned int i;

	/* Release: pairs with the workers' acquiring load of stop. */
	atomic_store_explicit(&e->stop, true, memory_order_release);
	engine_wake(e);
	for (i = 0; i < e->nworkers; i++) {
		if (!e->workers[i].started)
			continue;
		pthread_join(e->workers[i].thread, NULL);
		e->workers[i].started = false;
	}
	atomic_store_explicit(&e->running, false, memory_order_relaxed);
}

int mkioq_engine_start(struct mkioq_engine *e)
{
	sigset_t all, old;
	unsigned int i;
	int ret = 0;

	if (!e)
		return -EINVAL;
	pthread_mutex_lock(&e->state_lock);
	if (atomic_load_explicit(&e->running, memory_order_relaxed)) {
		pthread_mutex_unlock(&e->state_lock);
		return -EBUSY;
	}
	/* Relaxed: pthread_create() orders it before the workers' loads. */
	atomic_store_explicit(&e->stop, false, memory_order_relaxed);
	/*
	 * Workers take no signals: the application's handlers run in its
	 * own threads, and no copy is interrupted (as in the module's poll
	 * thread).
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < e->nworkers; i++) {
		ret = pthread_create(&e->workers[i].thread, NULL,
				     engine_worker_main, &e->workers[i]);
		if (ret)
			break;
		e->workers[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	atomic_store_explicit(&e->running, true, memory_order_relaxed);
	if (ret) {
		engine_join(e);
		engine_fences_cancel(e);
	}
	pthread_mutex_unlock(&e->state_lock);
	return -ret;
}

int mkioq_engine_doorbell(struct mkioq_engine *e)
{
	if (!e)
		return -EINVAL;
	atomic_fetch_add_explicit(&e->doorbells, 1, memory_order_relaxed);
	engine_wake(e);
	return 0;
}

/*
 * Stop servicing: the workers end after the request in hand, so no slot
 * stays CLAIMED by the engine but the held FENCEs, which complete with
 * -ECANCELED (mkioq_service_stop()). Idempotent; start() may follow.
 */
int mkioq_engine_stop(struct mkioq_engine *e)
{
	if (!e)
		return -EINVAL;
	pthread_mutex_lock(&e->state_lock);
	if (atomic_load_explicit(&e->running, memory_order_relaxed))
		engine_join(e);
	engine_fences_cancel(e);
	pthread_mutex_unlock(&e->state_lock);
	return 0;
}

void mkioq_engine_free(struct mkioq_engine *e)
{
	unsigned int i;

	if (!e)
		return;
	mkioq_engine_stop(e);
	engine_handles_release(e);
	for (i = 0; i < e->nworkers; i++) {
		pthread_mutex_destroy(&e->workers[i].lock);
		free(e->workers[i].dio_buf);
	}
	pthread_mutex_destroy(&e->fence_lock);
	pthread_mutex_destroy(&e->buf_lock);
	pthread_mutex_destroy(&e->table_lock);
	pthread_mutex_destroy(&e->state_lock);
	engine_cq_destroy(&e->cq);
	free(e->workers);
	free(e);
}

#define LOAD(x)	atomic_load_explicit(&(x), memory_order_relaxed)

int mkioq_engine_stats(const struct mkioq_engine *e,
		       struct mkioq_engine_stats *st)
{
	struct mkioq_engine *me = (struct mkioq_engine *)e;
	unsigned int i;

	if (!e || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	for (i = 0; i < e->nworkers; i++) {
		const struct engine_worker *w = &e->workers[i];

		st->passes += LOAD(w->passes);
		st->sleeps += LOAD(w->sleeps);
		st->claimed += LOAD(w->claimed);
		st->claim_races += LOAD(w->claim_races);
		st->handed_back += LOAD(w->handed_back);
		st->bytes += LOAD(w->bytes);
		st->completed += LOAD(w->completed);
		st->errors += LOAD(w->errors);
	}
	pthread_mutex_lock(&me->cq.lock);
	st->completed += e->cq.completed;
	st->errors += e->cq.errors;
	st->cq_overflow = e->cq.overflow;
	pthread_mutex_unlock(&me->cq.lock);
	st->fences_held = (uint64_t)__builtin_popcountll(LOAD(me->held));
	st->doorbells = LOAD(me->doorbells);
	st->handles = LOAD(me->nhandles);
	st->workers = LOAD(me->running) ? e->nworkers : 0;
	return 0;
}
