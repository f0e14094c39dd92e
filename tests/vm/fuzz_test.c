// SPDX-License-Identifier: GPL-2.0
/*
 * A structured fuzzer of the queue file's whole surface: the five ioctls
 * with valid, mutated and garbage structs at good and bad user addresses,
 * unknown ioctl numbers and wrong size encodings, REGISTER of every kind of
 * file descriptor (closed, not a dma-buf, read-only and writable dma-bufs,
 * one exported by another process), io_uring URING_CMDs with random
 * commands and payloads in 64- and 128-byte SQE rings, mmap() with random
 * lengths, offsets, protections and flags, read()/write()/poll() with
 * random sizes and bad buffers, random ring words followed by a doorbell,
 * and setup of fresh files with random structs.
 *
 * It is model-based: every call's result is predicted from the documented
 * validation (uapi/linux/mkioq.h, Documentation/protocol.rst) and the
 * queue's handle table, which the fuzzer mirrors. A ring episode predicts
 * each slot's outcome (OK with the byte count, or ERROR with the one errno
 * the spec's order of checks gives) and keeps a shadow copy of every
 * buffer, so after each episode the buffers must equal the shadows byte
 * for byte, and the slots nobody may touch must be unchanged. Every
 * completion is remembered until a record delivers it: each record read()
 * or a WAIT returns must be an undelivered completion of its file, with
 * its slot, status, result and tag. Where the spec leaves more than one
 * outcome (whether a record waits for a read(), a WAIT's allocation, the
 * VFS's checks of addresses whose validity depends on the paging mode) the
 * check accepts exactly those outcomes, and says why where it does.
 *
 * Bounded in time by MKIOQ_FUZZ_SECONDS (default 20) and seeded by
 * MKIOQ_FUZZ_SEED (default: from the clock); the seed is printed first, so
 * "MKIOQ_FUZZ_SEED=<seed> fuzz_test" replays a run (up to the timing of the
 * poll threads). At the end every queue must still complete a fresh request
 * with the right data, and every io_uring command must have completed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"
#include "mkioq_uring.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

#define NQ		4		/* queues fuzzed at once */
#define MAXH		4096		/* handles per file (driver limit) */
#define PG		4096u
#define C_REGION	(MKIOQ_MAX_SLOTS * PG)	/* check buffer bytes per queue */
#define NPEND		1024		/* io_uring commands tracked */
#define MAX_OUT		384		/* outstanding commands per ring */
#define MAX_RW		0x7ffff000UL	/* the VFS caps one read/write */
#define READ_BUF	(40 * 1024)	/* > MKIOQ_CQ_ENTRIES records */
#define MAX_FAILS	25

/* ------------------------------------------------------------ PRNG */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t rnd32(void)
{
	return (uint32_t)(rnd() >> 32);
}

/* Uniform in [0, n); n > 0. */
static uint64_t rn(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* True with probability num/den. */
static bool chance(unsigned int num, unsigned int den)
{
	return rn(den) < num;
}

/* ------------------------------------------------------ state */

enum { B_S, B_R, B_D, B_C, B_F, B_FIN, B_NR };

/* A dma-buf the fuzzer registers, and the model of its bytes. */
struct fbuf {
	const char *name;
	struct test_buf tb;
	int fd;			/* dma-buf, -1 if absent */
	size_t size;
	uint8_t *map;		/* CPU mapping, NULL for the foreign one */
	uint8_t *shadow;	/* what its bytes must be */
	bool wfd;		/* fd open for writing */
	bool may_write;		/* the model lets handles WRITE into it */
};

/* One registered handle, as the fuzzer believes it is. */
struct hent {
	uint8_t used, buf;
	uint32_t access;
	uint64_t off, len;
};

struct fq {
	int fd;
	bool ready;
	uint32_t slots, mode;
	uint32_t *ring;		/* shared RW mapping, or NULL */
	struct hent h[MAXH + 1];
	uint32_t live[MAXH], pos[MAXH + 1];
	unsigned int nh;
	uint32_t hS, hC[MKIOQ_MAX_SLOTS];
	unsigned int waits;	/* uring WAITs outstanding on this file */
	uint64_t gen, completed;
};

enum { K_EXACT, K_WAIT };

struct pend {
	bool used;
	uint8_t kind, ring;
	int exp;		/* K_EXACT: the result */
	uint32_t slot;		/* K_WAIT: the slot waited for */
	bool rec_ok;		/* K_WAIT: cqe_addr is recs[] */
	bool addr_bad;		/* K_WAIT: cqe_addr faults */
	int qi;
	uint64_t qgen, id;
	uint64_t t_submit;	/* K_WAIT: now_ns() when submitted */
};

/* What each op did: calls, successes. */
enum {
	OP_SETUP, OP_REGISTER, OP_UNREGISTER, OP_DOORBELL, OP_INFO, OP_BADIOCTL,
	OP_URING, OP_MMAP, OP_READ, OP_WRITE, OP_POLL, OP_RING, OP_REOPEN,
	OP_FRESH, OP_MASS, OP_NR
};

static const char *const op_names[OP_NR] = {
	"setup", "register", "unregister", "doorbell", "info", "bad-ioctl",
	"uring", "mmap", "read", "write", "poll", "ring", "reopen", "fresh",
	"mass-register",
};

static const unsigned int op_weight[OP_NR] = {
	[OP_SETUP] = 3, [OP_REGISTER] = 12, [OP_UNREGISTER] = 8,
	[OP_DOORBELL] = 4, [OP_INFO] = 5, [OP_BADIOCTL] = 6, [OP_URING] = 12,
	[OP_MMAP] = 5, [OP_READ] = 6, [OP_WRITE] = 4, [OP_POLL] = 3,
	[OP_RING] = 12, [OP_REOPEN] = 1, [OP_FRESH] = 3,
};

static struct {
	struct fbuf b[B_NR];
	struct fq q[NQ];
	int drm;
	struct io_uring ring[2];	/* 64-byte SQEs; SQE128 | CQE32 */
	unsigned int out[2];
	struct pend pend[NPEND];
	struct mkioq_cqe recs[NPEND];
	uint64_t next_id, gen, iter, mass_iter;
	uint8_t *guard, *uguard;	/* [RW][none][RO] pages */
	uint8_t *rbuf;
	const char *foreign_how;
	int cur_op;
	unsigned long fails;
	unsigned long calls[OP_NR];
	uint64_t op_ns[OP_NR];
	unsigned long episodes, slots_done, bytes_checked, waits_done;
	unsigned long records_matched, wait_records, wait_results;
	bool wait_cancel;		/* MKIOQ_FEAT_WAIT_CANCEL */
	bool all_closed;		/* the final close of every queue */
} G;

static void fz_fail(int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	G.fails++;
	if (G.fails > MAX_FAILS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_print_msg("FAIL (line %d, iteration %" PRIu64 ", op %s): %s\n",
		       line, G.iter, G.cur_op >= 0 ? op_names[G.cur_op] : "-",
		       msg);
}

#define FAILF(...) fz_fail(__LINE__, __VA_ARGS__)
#define CHECK_EQ(got, exp, what) do {					\
	long long _g = (long long)(got), _e = (long long)(exp);		\
	if (_g != _e)							\
		FAILF("%s: got %lld, expected %lld", what, _g, _e);	\
} while (0)

static int sys_ret(long r)
{
	return r < 0 ? -errno : (int)r;
}

/* ------------------------------------------------ user pointers */

enum { P_VALID, P_NULL, P_UNMAPPED, P_RO, P_KERNEL, P_STRADDLE, P_NONCANON,
       P_NR };

static const char *const ptr_names[P_NR] = {
	"valid", "null", "unmapped", "read-only", "kernel", "straddling",
	"non-canonical",
};

static int pick_ptr(void)
{
	return chance(3, 4) ? P_VALID : 1 + (int)rn(P_NR - 1);
}

/*
 * Place @len bytes of @data at an address of @kind in @guard ([RW][none]
 * [RO] pages) and return it. P_VALID returns @valid (holding the data).
 * P_STRADDLE puts the first *@split bytes at the end of the RW page.
 */
static void *place(uint8_t *guard, int kind, const void *data, size_t len,
		   void *valid, size_t *split)
{
	uint8_t *p;
	size_t s;

	switch (kind) {
	case P_VALID:
		if (valid != data)
			memcpy(valid, data, len);
		return valid;
	case P_NULL:
		return NULL;
	case P_UNMAPPED:
		return guard + PG + rn(PG - len);
	case P_RO:
		mprotect(guard + 2 * PG, PG, PROT_READ | PROT_WRITE);
		p = guard + 2 * PG + (rn(PG - len) & ~7ULL);
		memcpy(p, data, len);
		mprotect(guard + 2 * PG, PG, PROT_READ);
		return p;
	case P_KERNEL:
		return (void *)0xffff888000000000ULL;
	case P_STRADDLE:
		s = len > 1 ? 1 + rn(len - 1) : 0;
		if (split)
			*split = s;
		p = guard + PG - s;
		memcpy(p, data, s);
		return p;
	default:
		return (void *)0x8000000000000000ULL;
	}
}

static bool ptr_readable(int kind)
{
	return kind == P_VALID || kind == P_RO;
}

/* --------------------------------------------- completion model */

/*
 * Every completion the module made, by open file (generation) and slot,
 * until a record delivers it: a record read() or a WAIT returns must be
 * one of them, with its slot, status, result and tag, and each is
 * delivered once. (Records dropped on overflow stay here undelivered.)
 */
struct comp {
	int32_t result;
	uint32_t status, tag;
	bool tag_known;		/* the tag the module read is known */
};

struct comp_list {
	struct comp *v;
	uint32_t n, cap;
};

static struct comp_list (*comps)[MKIOQ_MAX_SLOTS];	/* [gen][slot] */
static uint64_t ncomps;

static struct comp_list *comp_slot(uint64_t gen, uint32_t slot)
{
	if (gen >= ncomps) {
		uint64_t n = gen + 64;
		void *p = realloc(comps, n * sizeof(*comps));

		if (!p)
			return NULL;
		comps = p;
		memset(comps + ncomps, 0, (n - ncomps) * sizeof(*comps));
		ncomps = n;
	}
	return slot < MKIOQ_MAX_SLOTS ? &comps[gen][slot] : NULL;
}

static void comp_add(uint64_t gen, uint32_t slot, uint32_t status,
		     int32_t result, uint32_t tag, bool tag_known)
{
	struct comp_list *l = comp_slot(gen, slot);

	if (!l)
		return;
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 8;
		void *p = realloc(l->v, cap * sizeof(*l->v));

		if (!p)
			return;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = (struct comp) { result, status, tag, tag_known };
}

/*
 * Take the completion a record of @slot stands for (it is delivered now):
 * one with @status, @result and, where known, @tag. False if none.
 */
static bool comp_take(uint64_t gen, uint32_t slot, uint32_t status,
		      int32_t result, uint32_t tag)
{
	struct comp_list *l = gen < ncomps ? comp_slot(gen, slot) : NULL;
	int pass;
	uint32_t i;

	if (!l)
		return false;
	/* A known tag that matches first, then one whose tag is unknown. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < l->n; i++) {
			struct comp *c = &l->v[i];

			if (c->status != status || c->result != result ||
			    (pass ? c->tag_known : !c->tag_known || c->tag != tag))
				continue;
			*c = l->v[--l->n];
			G.records_matched++;
			return true;
		}
	return false;
}

/*
 * A WAIT whose CQE says only @result, for @slot or MKIOQ_ANY_SLOT: is
 * there a completion it can stand for? (Not taken: which one it was is
 * not known.)
 */
static bool comp_exists(uint64_t gen, uint32_t slot, int32_t result)
{
	uint32_t s, i;

	for (s = 0; s < MKIOQ_MAX_SLOTS && gen < ncomps; s++) {
		struct comp_list *l = comp_slot(gen, s);

		if (slot != MKIOQ_ANY_SLOT && s != slot)
			continue;
		for (i = 0; i < l->n; i++)
			if (l->v[i].result == result)
				return true;
	}
	return false;
}

static void comps_free(void)
{
	uint64_t g;
	uint32_t s;

	for (g = 0; g < ncomps; g++)
		for (s = 0; s < MKIOQ_MAX_SLOTS; s++)
			free(comps[g][s].v);
	free(comps);
	comps = NULL;
	ncomps = 0;
}

/* ------------------------------------------------- handle model */

static void h_add(struct fq *q, uint32_t id, int buf, uint32_t access,
		  uint64_t off, uint64_t len)
{
	if (id < 1 || id > MAXH || q->h[id].used) {
		FAILF("REGISTER returned handle %u, %s", id,
		      id < 1 || id > MAXH ? "out of range" : "already in use");
		return;
	}
	q->h[id] = (struct hent) { 1, (uint8_t)buf, access, off, len };
	q->pos[id] = q->nh;
	q->live[q->nh++] = id;
}

static void h_del(struct fq *q, uint32_t id)
{
	uint32_t last = q->live[--q->nh];

	q->live[q->pos[id]] = last;
	q->pos[last] = q->pos[id];
	q->h[id].used = 0;
	if (id == q->hS)
		q->hS = 0;
}

static struct hent *h_get(struct fq *q, uint32_t id)
{
	return id >= 1 && id <= MAXH && q->h[id].used ? &q->h[id] : NULL;
}

static int do_register(struct fq *q, int buf, uint32_t access, uint64_t off,
		       uint64_t len, uint32_t *id)
{
	struct mkioq_handle_reg reg = {
		.fd = G.b[buf].fd, .access = access, .offset = off,
		.length = len,
	};
	int ret = sys_ret(ioctl(q->fd, MKIOQ_IOC_REGISTER, &reg));

	if (!ret) {
		h_add(q, reg.handle, buf, access, off, len);
		*id = reg.handle;
	}
	return ret;
}

/* ------------------------------------------------------- queues */

static void q_close(struct fq *q)
{
	if (q->ring)
		munmap(q->ring, PG);
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	q->ring = NULL;
	q->ready = false;
	q->waits = 0;
}

static void q_ready(struct fq *q, int qi, uint32_t slots, uint32_t mode)
{
	uint32_t s, id;

	q->ready = true;
	q->slots = slots;
	q->mode = mode;
	q->ring = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
	if (q->ring == MAP_FAILED) {
		FAILF("mmap of a set-up queue: %s", strerror(errno));
		q->ring = NULL;
	}
	/* The handles data is checked through. */
	if (!do_register(q, B_S, MKIOQ_ACCESS_READ, 0, G.b[B_S].size, &id))
		q->hS = id;
	for (s = 0; s < MKIOQ_MAX_SLOTS; s++)
		if (!do_register(q, B_C, MKIOQ_ACCESS_WRITE,
				 (uint64_t)qi * C_REGION + s * PG, PG, &id))
			q->hC[s] = id;
}

static void q_open(struct fq *q, int qi, bool setup)
{
	struct mkioq_setup st = { .size = sizeof(st) };

	memset(q, 0, sizeof(*q));
	q->fd = open(MKIOQ_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (q->fd < 0) {
		FAILF("open %s: %s", MKIOQ_DEV, strerror(errno));
		return;
	}
	q->gen = ++G.gen;
	if (!setup)
		return;
	st.slot_count = chance(1, 2) ? MKIOQ_MAX_SLOTS : 1 + rn(64);
	st.mode = rn(2);
	st.poll_idle_us = rn(3000);
	st.poll_period_us = rn(20000);
	/* Shared passes must give the model's claim-order bytes too. */
	st.copy_workers = rn(MKIOQ_MAX_COPY_WORKERS + 1);
	if (ioctl(q->fd, MKIOQ_IOC_SETUP, &st)) {
		FAILF("valid setup: %s", strerror(errno));
		return;
	}
	q_ready(q, qi, st.slot_count, st.mode);
}

static struct fq *pick_q(int *qi)
{
	int i = (int)rn(NQ);

	if (qi)
		*qi = i;
	return &G.q[i];
}

/* ---------------------------------------------------- ioctls */

/* The size rule of SETUP and INFO, checked before the struct is read. */
static int size_check(uint32_t size, uint32_t ver0)
{
	if (size < ver0)
		return -EINVAL;
	return size > PG ? -E2BIG : 0;
}

static int setup_check(const struct mkioq_setup *s)
{
	int ret = size_check(s->size, MKIOQ_SETUP_SIZE_VER0);

	if (ret)
		return ret;
	bool attach = s->flags & MKIOQ_SETUP_ATTACH_POLL;

	if ((s->flags & ~MKIOQ_SETUP_ATTACH_POLL) ||
	    (!attach && s->attach_fd) ||
	    (attach && s->mode != MKIOQ_MODE_POLL) || s->reserved)
		return -EINVAL;
	if (s->copy_workers > MKIOQ_MAX_COPY_WORKERS)
		return -EINVAL;
	if (s->slot_count < 1 || s->slot_count > MKIOQ_MAX_SLOTS)
		return -EINVAL;
	if (s->mode != MKIOQ_MODE_DOORBELL && s->mode != MKIOQ_MODE_POLL)
		return -EINVAL;
	if (s->poll_idle_us > 1000000 || s->poll_period_us > 10000000)
		return -EINVAL;
	return 0;
}

static void random_setup(struct mkioq_setup *s)
{
	memset(s, 0, sizeof(*s));
	/*
	 * Sizes between ours and a page read bytes beyond the struct placed
	 * here: device_test's size_versioned_structs covers them.
	 */
	s->size = chance(7, 8) ? sizeof(*s) :
		  (uint32_t[]){ 0, 4, 47, PG + 1, rnd32() | 1u << 24 }[rn(5)];
	s->slot_count = chance(3, 4) ? 1 + rn(64) :
			(uint32_t[]){ 0, 65, 1u << 31, rnd32() }[rn(4)];
	s->mode = chance(3, 4) ? rn(2) : (uint32_t[]){ 2, rnd32() }[rn(2)];
	s->flags = chance(7, 8) ? 0 : 1u << rn(32);
	/* An attach (its attach_fd: do_setup()), mostly in POLL mode. */
	if (chance(1, 6)) {
		s->flags = MKIOQ_SETUP_ATTACH_POLL;
		if (chance(7, 8))
			s->mode = MKIOQ_MODE_POLL;
	} else if (chance(1, 16)) {
		s->attach_fd = 1 + rn(100);	/* without the flag */
	}
	s->poll_idle_us = chance(3, 4) ? rn(3000) :
			  (uint32_t[]){ 1000000, 1000001, rnd32() }[rn(3)];
	s->poll_period_us = chance(3, 4) ? rn(20000) :
			    (uint32_t[]){ 10000000, 10000001, rnd32() }[rn(3)];
	s->ring_bytes = chance(1, 2) ? 0 : rnd32();	/* out fields */
	s->cq_entries = chance(1, 2) ? 0 : rnd32();
	s->copy_workers = chance(3, 4) ? rn(MKIOQ_MAX_COPY_WORKERS + 1) :
			  (uint32_t[]){ MKIOQ_MAX_COPY_WORKERS + 1, 64,
					rnd32() }[rn(3)];
	if (chance(1, 10))
		s->reserved = rnd() | 1;
	/* A huge valid idle time would keep a poll thread spinning. */
	if (s->mode == MKIOQ_MODE_POLL && s->poll_idle_us > 20000 &&
	    s->poll_idle_us <= 1000000)
		s->poll_idle_us = 20000;
}

/*
 * The attach_fd of an attaching SETUP on @self, and the errno the target
 * gives (checked after EBUSY); *@to_close is a file to close after.
 */
static int pick_attach(struct fq *self, int *fd, int *to_close)
{
	struct fq *t = &G.q[rn(NQ)];

	*to_close = -1;
	switch (rn(6)) {
	case 0:
		*fd = chance(1, 2) ? -1 - (int)rn(1000) : 100000 + (int)rn(1000);
		return -EBADF;
	case 1:
		*fd = *to_close = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return -EINVAL;
	case 2:		/* itself: not set up yet, if it gets this far */
		t = self;
		/* fall through */
	default:
		*fd = t->fd;
		if (t->fd < 0)
			return -EBADF;
		if (!t->ready)
			return -EBADFD;
		return t->mode == MKIOQ_MODE_POLL ? 0 : -EINVAL;
	}
}

/* SETUP on @q (a pool queue or a fresh file); returns the result. */
static int do_setup(struct fq *q, int qi, bool pool)
{
	struct mkioq_setup s, out;
	int kind = pick_ptr(), exp, ret, attach_exp = 0, to_close = -1;
	size_t split = 0;
	void *p;

	random_setup(&s);
	if (s.flags & MKIOQ_SETUP_ATTACH_POLL)
		attach_exp = pick_attach(q, &s.attach_fd, &to_close);
	p = place(G.guard, kind, &s, sizeof(s), &out, &split);
	if (kind == P_STRADDLE)
		exp = split < 4 ? -EFAULT :
		      size_check(s.size, MKIOQ_SETUP_SIZE_VER0) ?: -EFAULT;
	else if (!ptr_readable(kind))
		exp = -EFAULT;
	else if ((exp = setup_check(&s)))
		;
	else if (q->ready)
		exp = -EBUSY;
	else if ((exp = attach_exp))
		;
	else
		exp = kind == P_VALID ? 0 : -EFAULT;
	ret = sys_ret(ioctl(q->fd, MKIOQ_IOC_SETUP, p));
	CHECK_EQ(ret, exp, "SETUP");
	if (to_close >= 0)
		close(to_close);
	/* Set up even if the result could not be written back. */
	if (ret == exp && ptr_readable(kind) && !setup_check(&s) && !q->ready &&
	    !attach_exp) {
		if (kind == P_VALID) {
			if (out.ring_bytes != PG || !out.cq_entries ||
			    out.size != s.size || out.slot_count != s.slot_count)
				FAILF("SETUP wrote back ring_bytes %u cq_entries %u",
				      out.ring_bytes, out.cq_entries);
		}
		if (pool) {
			q_ready(q, qi, s.slot_count, s.mode);
		} else {
			q->ready = true;
			q->slots = s.slot_count;
			q->mode = s.mode;
		}
	}
	return ret;
}

static uint64_t pick_len(uint64_t size)
{
	switch (rn(10)) {
	case 0: return 0;
	case 1: return 1 + rn(16);
	case 2: return size;
	case 3: return size + 1;
	case 4: return UINT64_MAX;
	case 5: return rnd();
	default: return 1 + rn(size);
	}
}

static uint64_t pick_off(uint64_t size)
{
	switch (rn(10)) {
	case 0: case 1: case 2: case 3: return 0;
	case 4: return size;
	case 5: return size - 1;
	case 6: return UINT64_MAX - rn(4);
	case 7: return rnd();
	default: return rn(size);
	}
}

/*
 * Open one of the fds REGISTER must refuse as a dma-buf; returns its
 * errno and fd, and in *regular whether it is a regular file (a memfd),
 * which MKIOQ_REG_F_FILE accepts.
 */
static int bad_fd(struct fq *q, int *fd, int *to_close, bool *regular)
{
	*to_close = -1;
	*regular = false;
	switch (rn(9)) {
	case 0:		/* a number that was just closed */
		*fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		close(*fd);
		return -EBADF;
	case 1:
		*fd = chance(1, 2) ? -1 - (int)rn(1000) : 100000 + (int)rn(1000);
		return -EBADF;
	case 2:
		*fd = *to_close = open("/dev/null", O_RDWR | O_CLOEXEC);
		return -EINVAL;
	case 3:
		*fd = *to_close = memfd_create("fuzz", MFD_CLOEXEC);
		*regular = true;
		return -EINVAL;
	case 4:
		*fd = q->fd;		/* the queue's own file */
		return -EINVAL;
	case 5:
		*fd = *to_close = eventfd(0, EFD_CLOEXEC);
		return -EINVAL;
	case 6:
		*fd = G.ring[rn(2)].ring_fd;
		return -EINVAL;
	case 7:
		*fd = G.drm;
		return -EINVAL;
	default:
		*fd = *to_close = open(MKIOQ_DEV, O_RDWR | O_CLOEXEC);
		return -EINVAL;
	}
}

static void fuzz_register(void)
{
	int qi, kind = pick_ptr(), fd, to_close = -1, fd_err = 0, buf = -1, exp,
	    ret;
	bool regular = false, as_file;
	struct fq *q = pick_q(&qi);
	struct mkioq_handle_reg reg, out;
	size_t split = 0;
	uint64_t end;
	void *p;

	if (chance(1, 4)) {
		fd_err = bad_fd(q, &fd, &to_close, &regular);
	} else {
		buf = (int[]){ B_S, B_R, B_D, B_D, B_C, B_F }[rn(6)];
		if (G.b[buf].fd < 0)
			buf = B_D;
		fd = G.b[buf].fd;
	}
	memset(&reg, 0, sizeof(reg));
	reg.fd = fd;
	reg.access = chance(7, 8) ? 1 + rn(3) :
		     (uint32_t[]){ 0, 4, 7, rnd32() }[rn(4)];
	reg.offset = buf >= 0 ? pick_off(G.b[buf].size) : rnd();
	reg.length = buf >= 0 ? pick_len(G.b[buf].size - (reg.offset <
					  G.b[buf].size ? reg.offset : 0)) :
		     1 + rn(PG);
	reg.handle = rnd32();
	if (chance(1, 12))
		reg.flags = 1u << rn(32);
	if (chance(1, 12))
		reg.reserved = rnd() | 1;
	p = place(G.guard, kind, &reg, sizeof(reg), &out, &split);
	/* A file handle: the only file REGISTER may take here is the memfd. */
	as_file = reg.flags == MKIOQ_REG_F_FILE;

	if (!q->ready)
		exp = -EBADFD;
	else if (!ptr_readable(kind))
		exp = -EFAULT;
	else if (reg.flags & ~MKIOQ_REG_F_FILE || reg.reserved ||
		 !reg.access || reg.access & ~MKIOQ_ACCESS_RW || !reg.length)
		exp = -EINVAL;
	else if (as_file && fd_err == -EBADF)
		exp = -EBADF;
	else if (as_file && !regular)
		exp = -EINVAL;	/* a dma-buf, a device, an anonymous file */
	else if (as_file && __builtin_add_overflow(reg.offset, reg.length,
						   &end))
		exp = -EOVERFLOW;
	else if (as_file && end > INT64_MAX)
		exp = -ERANGE;	/* past tmpfs's largest file */
	else if (as_file)
		exp = q->nh == MAXH ? -ENOSPC : kind != P_VALID ? -EFAULT : 0;
	else if (fd_err)
		exp = fd_err;
	else if (reg.access & MKIOQ_ACCESS_WRITE && !G.b[buf].wfd)
		exp = -EACCES;
	else if (__builtin_add_overflow(reg.offset, reg.length, &end))
		exp = -EOVERFLOW;
	else if (end > G.b[buf].size)
		exp = -ERANGE;
	else if (q->nh == MAXH)
		exp = -ENOSPC;
	else if (kind != P_VALID)
		exp = -EFAULT;	/* registered, then the handle not writable */
	else
		exp = 0;

	ret = sys_ret(ioctl(q->fd, MKIOQ_IOC_REGISTER, p));
	if (ret != exp)
		FAILF("REGISTER %s fd %d (%s) access %#x off %#" PRIx64
		      " len %#" PRIx64 " flags %#x rsv %#" PRIx64
		      ": got %d, expected %d", ptr_names[kind], fd,
		      buf >= 0 ? G.b[buf].name : "not a dma-buf", reg.access,
		      reg.offset, reg.length, reg.flags,
		      (uint64_t)reg.reserved, ret, exp);
	if (!ret && kind == P_VALID && as_file) {
		/* The model has dma-bufs only: the memfd's handle goes. */
		struct mkioq_handle_unreg u = { .handle = out.handle };

		CHECK_EQ(sys_ret(ioctl(q->fd, MKIOQ_IOC_UNREGISTER, &u)), 0,
			 "UNREGISTER of a fresh file handle");
	} else if (!ret && kind == P_VALID) {
		h_add(q, out.handle, buf, reg.access, reg.offset, reg.length);
		/* Only the fuzzer's own buffers may be written through. */
		if (!G.b[buf].may_write && reg.access & MKIOQ_ACCESS_WRITE) {
			struct mkioq_handle_unreg u = { .handle = out.handle };

			CHECK_EQ(sys_ret(ioctl(q->fd, MKIOQ_IOC_UNREGISTER, &u)),
				 0, "UNREGISTER of a fresh handle");
			h_del(q, out.handle);
		}
	}
	if (to_close >= 0)
		close(to_close);
}

static void fuzz_unregister(void)
{
	struct fq *q = pick_q(NULL);
	struct mkioq_handle_unreg u = { 0 }, out;
	int kind = pick_ptr(), exp, ret;
	void *p;

	if (q->nh && chance(1, 2))
		u.handle = q->live[rn(q->nh)];
	else
		u.handle = (uint32_t[]){ 0, 1 + (uint32_t)rn(MAXH), MAXH + 1,
					 rnd32() }[rn(4)];
	if (chance(1, 10))
		u.flags = 1u << rn(32);
	p = place(G.guard, kind, &u, sizeof(u), &out, NULL);
	if (!q->ready)
		exp = -EBADFD;
	else if (!ptr_readable(kind))
		exp = -EFAULT;
	else if (u.flags)
		exp = -EINVAL;
	else if (!h_get(q, u.handle))
		exp = -ENOENT;
	else
		exp = 0;
	ret = sys_ret(ioctl(q->fd, MKIOQ_IOC_UNREGISTER, p));
	if (ret != exp)
		FAILF("UNREGISTER %s handle %u flags %#x: got %d, expected %d",
		      ptr_names[kind], u.handle, u.flags, ret, exp);
	if (!ret && h_get(q, u.handle))
		h_del(q, u.handle);
}

static void fuzz_doorbell(void)
{
	struct fq *q = pick_q(NULL);
	unsigned long arg = chance(3, 4) ? 0 : rnd() | 1;
	int exp = !q->ready ? -EBADFD : arg ? -EINVAL : 0;

	CHECK_EQ(sys_ret(ioctl(q->fd, MKIOQ_IOC_DOORBELL, arg)), exp,
		 "DOORBELL");
}

static void check_info(struct fq *q, const struct mkioq_info *in)
{
	if (in->size != sizeof(*in) || in->version != MKIOQ_ABI_VERSION ||
	    in->max_handles != MAXH ||
	    (in->features & ~MKIOQ_FEAT_WAIT_CANCEL) != MKIOQ_FEAT_FILE ||
	    in->reserved)
		FAILF("INFO header: size %u version %u", in->size, in->version);
	if (!q->ready) {
		if (in->slot_count || in->ring_bytes || in->handles ||
		    in->completed)
			FAILF("INFO of a file not set up: slots %u ring %u",
			      in->slot_count, in->ring_bytes);
		return;
	}
	if (in->slot_count != q->slots || in->mode != q->mode ||
	    in->ring_bytes != PG || in->handles != q->nh || !in->cq_entries)
		FAILF("INFO: slots %u/%u mode %u/%u ring %u handles %u/%u",
		      in->slot_count, q->slots, in->mode, q->mode,
		      in->ring_bytes, in->handles, q->nh);
	if (in->completed < q->completed || in->errors > in->completed ||
	    in->cq_overflow > in->completed)
		FAILF("INFO counters: completed %" PRIu64 " (was %" PRIu64
		      ") errors %" PRIu64 " overflow %" PRIu64,
		      (uint64_t)in->completed, q->completed,
		      (uint64_t)in->errors, (uint64_t)in->cq_overflow);
	q->completed = in->completed;
}

static void fuzz_info(void)
{
	struct fq *q = pick_q(NULL);
	struct mkioq_info in, out;
	int kind = pick_ptr(), exp, ret;
	size_t split = 0;
	void *p;

	memset(&in, 0xa5, sizeof(in));
	in.size = chance(3, 4) ? sizeof(in) :
		  (uint32_t[]){ 0, 71, PG + 1, rnd32() | 1u << 24 }[rn(4)];
	p = place(G.guard, kind, &in, sizeof(in), &out, &split);
	if (kind == P_STRADDLE)
		exp = split < 4 ? -EFAULT :
		      size_check(in.size, MKIOQ_INFO_SIZE_VER0) ?: -EFAULT;
	else if (!ptr_readable(kind))
		exp = -EFAULT;
	else if ((exp = size_check(in.size, MKIOQ_INFO_SIZE_VER0)))
		;
	else
		exp = kind == P_VALID ? 0 : -EFAULT;
	ret = sys_ret(ioctl(q->fd, MKIOQ_IOC_INFO, p));
	if (ret != exp)
		FAILF("INFO %s size %u: got %d, expected %d", ptr_names[kind],
		      in.size, ret, exp);
	if (!ret && kind == P_VALID)
		check_info(q, &out);
}

static bool vfs_ioctl_type(unsigned int type)
{
	/* Types the VFS handles before the driver (FIONBIO, FIFREEZE, ...). */
	return type == 'T' || type == 'f' || type == 'X' || type == 0x94 ||
	       type == 0;
}

static void fuzz_bad_ioctl(void)
{
	static const unsigned int good[] = {
		MKIOQ_IOC_SETUP, MKIOQ_IOC_REGISTER, MKIOQ_IOC_UNREGISTER,
		MKIOQ_IOC_DOORBELL, MKIOQ_IOC_INFO,
	};
	struct fq *q = pick_q(NULL);
	unsigned int cmd, i;
	unsigned long arg;
	int ret;

	do {
		switch (rn(4)) {
		case 0:		/* a known number, wrong size or direction */
			cmd = _IOC(rn(4), MKIOQ_IOC_MAGIC, rn(5),
				   chance(1, 2) ? rn(256) : rn(1 << 14));
			break;
		case 1:		/* unknown number */
			cmd = _IOC(rn(4), MKIOQ_IOC_MAGIC, 5 + rn(251),
				   rn(1 << 14));
			break;
		case 2:		/* another driver's magic */
			cmd = _IOC(rn(4), 1 + rn(255), rn(256), rn(1 << 14));
			break;
		default:
			cmd = rnd32();
		}
		for (i = 0; i < ARRAY_SIZE(good); i++)
			if (cmd == good[i])
				cmd = 0;
	} while (!cmd || vfs_ioctl_type(_IOC_TYPE(cmd)));
	arg = chance(1, 2) ? (unsigned long)G.guard : rnd();
	ret = sys_ret(ioctl(q->fd, cmd, arg));
	if (ret != -ENOTTY)
		FAILF("ioctl %#x: got %d, expected -ENOTTY", cmd, ret);
}

/* ------------------------------------------------------ io_uring */

/* Has the file a WAIT was submitted on been closed since? */
static bool wait_file_closed(const struct pend *pd)
{
	return G.all_closed || pd->qgen != G.q[pd->qi].gen;
}

static void reap_one(int r, struct io_uring_cqe *cqe)
{
	uint64_t id = io_uring_cqe_get_data64(cqe);
	struct pend *pd = &G.pend[id % NPEND];
	struct mkioq_cqe *rec = &G.recs[id % NPEND];
	int res = cqe->res;
	uint32_t status, slot, tag;

	if (!pd->used || pd->id != id || pd->ring != r) {
		FAILF("io_uring CQE for unknown command %" PRIu64, id);
		return;
	}
	pd->used = false;
	G.out[r]--;
	if (pd->qgen == G.q[pd->qi].gen && G.q[pd->qi].waits &&
	    pd->kind == K_WAIT)
		G.q[pd->qi].waits--;
	if (pd->kind == K_EXACT) {
		if (res != pd->exp)
			FAILF("URING_CMD (id %" PRIu64 "): res %d, expected %d",
			      id, res, pd->exp);
		return;
	}
	G.waits_done++;
	/*
	 * The ends of a WAIT that carry no completion, each only where the
	 * spec allows it. -ECANCELED: a close of its file (the fuzzer closes
	 * a queue's file only to reopen it, and every file at the end;
	 * io_uring's own cancellation, 6.7+, needs the ring torn down or the
	 * task gone, which comes after the last reap). -ETIME: only without
	 * MKIOQ_FEAT_WAIT_CANCEL, once parked MKIOQ_WAIT_TIMEOUT_MS. -ENOMEM:
	 * the WAIT's own allocation failed, which no input decides, so it
	 * stays allowed. (-EBUSY cannot happen: at most 2 * MAX_OUT
	 * commands are outstanding, below the 4096 WAITs a file parks.)
	 */
	if (res == -ECANCELED) {
		if (!wait_file_closed(pd))
			FAILF("WAIT (id %" PRIu64 ") cancelled while its file is open",
			      id);
		return;
	}
	if (res == -ETIME) {
		uint64_t parked = now_ns() - pd->t_submit;

		if (G.wait_cancel ||
		    parked < (MKIOQ_WAIT_TIMEOUT_MS - 100) * 1000000ULL)
			FAILF("WAIT expired (-ETIME) after %.1f s%s", parked / 1e9,
			      G.wait_cancel ? " with MKIOQ_FEAT_WAIT_CANCEL" : "");
		return;
	}
	if (res == -ENOMEM)
		return;
	if (pd->addr_bad) {
		if (res != -EFAULT)
			FAILF("WAIT with a faulting cqe_addr: res %d", res);
		return;
	}
	if (res == -EFAULT) {
		FAILF("WAIT with a good cqe_addr: -EFAULT");
		return;
	}
	if (res == -ENOBUFS) {
		/* The notice of a dropped record: no completion of its own. */
		if (pd->rec_ok &&
		    (rec->result != res || !(rec->flags & MKIOQ_CQE_F_OVERFLOW) ||
		     !(rec->flags & MKIOQ_CQE_F_NOTICE) ||
		     (pd->slot != MKIOQ_ANY_SLOT && rec->slot != pd->slot)))
			FAILF("-ENOBUFS WAIT: record slot %u result %d flags %#x",
			      rec->slot, rec->result, rec->flags);
		return;
	}
	/*
	 * A completion: the bytes, or the negative errno, of one the module
	 * made on this file, which must still be undelivered.
	 */
	status = res >= 0 ? MKIOQ_RESULT_OK : MKIOQ_RESULT_ERROR;
	if (pd->rec_ok) {
		if (rec->result != res)
			FAILF("WAIT record result %d, CQE res %d", rec->result,
			      res);
		if (pd->slot != MKIOQ_ANY_SLOT && rec->slot != pd->slot)
			FAILF("WAIT for slot %u got slot %u", pd->slot,
			      rec->slot);
		if (rec->status != status || rec->slot >= MKIOQ_MAX_SLOTS ||
		    rec->flags & ~MKIOQ_CQE_F_OVERFLOW ||
		    !(rec->flags & MKIOQ_CQE_F_OVERFLOW) != !rec->dropped)
			FAILF("WAIT record: slot %u status %#x result %d flags %#x dropped %u",
			      rec->slot, rec->status, rec->result, rec->flags,
			      rec->dropped);
		if (r == 1 &&
		    cqe->big_cqe[0] != ((uint64_t)rec->tag << 32 | rec->slot))
			FAILF("CQE32 res2 %#" PRIx64 ", record tag %u slot %u",
			      (uint64_t)cqe->big_cqe[0], rec->tag, rec->slot);
		slot = rec->slot;
		tag = rec->tag;
	} else if (r == 1) {
		/* No record, but res2 = tag << 32 | slot. */
		slot = (uint32_t)cqe->big_cqe[0];
		tag = (uint32_t)(cqe->big_cqe[0] >> 32);
		if (pd->slot != MKIOQ_ANY_SLOT && slot != pd->slot)
			FAILF("WAIT for slot %u: res2 names slot %u", pd->slot,
			      slot);
	} else {
		if (!comp_exists(pd->qgen, pd->slot, res))
			FAILF("WAIT (slot %u, no record) res %d: no completion of its file has that result",
			      pd->slot, res);
		G.wait_results++;
		return;
	}
	if (!comp_take(pd->qgen, slot, status, res, tag))
		FAILF("WAIT: slot %u status %#x result %d tag %#x is no undelivered completion of its file",
		      slot, status, res, tag);
	else
		G.wait_records++;
}

static void reap(void)
{
	struct io_uring_cqe *cqe;
	int r;

	for (r = 0; r < 2; r++)
		while (!io_uring_peek_cqe(&G.ring[r], &cqe)) {
			reap_one(r, cqe);
			io_uring_cqe_seen(&G.ring[r], cqe);
		}
}

/* A cqe_addr that faults: unmapped, read-only, kernel, straddling, ... */
static uint64_t bad_cqe_addr(void)
{
	switch (rn(5)) {
	case 0: return (uint64_t)(uintptr_t)(G.uguard + PG + rn(PG - 24));
	case 1: return (uint64_t)(uintptr_t)(G.uguard + 2 * PG + rn(PG - 24));
	case 2: return 0xffff888000000000ULL + rn(1 << 20);
	case 3: return (uint64_t)(uintptr_t)(G.uguard + PG - 1 - rn(23));
	default: return 0x8000000000000000ULL | rnd();
	}
}

static void fuzz_uring(void)
{
	int r = (int)rn(2), qi, fresh = -1, exp = 0;
	size_t len = r ? 80 : 16, i;
	struct io_uring *ring = &G.ring[r];
	struct mkioq_uring_wait w = { 0 };
	struct io_uring_sqe *sqe;
	uint8_t payload[80];
	struct pend *pd;
	struct fq *q = pick_q(&qi);
	uint32_t op;
	uint64_t id;
	int fd = q->fd;
	bool ready = q->ready, rec_ok = false, addr_bad = false;

	reap();
	id = ++G.next_id;
	pd = &G.pend[id % NPEND];
	if (pd->used || G.out[r] >= MAX_OUT)
		return;
	if (chance(1, 16)) {	/* a file that is not set up */
		fresh = open(MKIOQ_DEV, O_RDWR | O_CLOEXEC);
		fd = fresh;
		ready = false;
	}
	memset(payload, 0, sizeof(payload));
	switch (rn(8)) {
	case 0: case 1:
		op = MKIOQ_URING_CMD_DOORBELL;
		if (chance(1, 4))
			payload[rn(len)] = 1 + rn(255);
		break;
	case 2: case 3: case 4: case 5:
		op = MKIOQ_URING_CMD_WAIT;
		switch (rn(4)) {
		case 0: w.cqe_addr = 0; break;
		case 1: w.cqe_addr = bad_cqe_addr(); addr_bad = true; break;
		default:
			w.cqe_addr = (uint64_t)(uintptr_t)&G.recs[id % NPEND];
			rec_ok = true;
		}
		w.slot = chance(1, 3) ? MKIOQ_ANY_SLOT :
			 chance(7, 8) ? rn(q->slots ? q->slots : 1) :
			 (uint32_t[]){ 64, q->slots, rnd32() }[rn(3)];
		if (chance(1, 12))
			w.flags = 1u << rn(32);
		memcpy(payload, &w, sizeof(w));
		if (len > 16 && chance(1, 8))
			payload[16 + rn(64)] = 1 + rn(255);
		break;
	default:
		op = chance(1, 2) ? (uint32_t[]){ 0, 3, 4, 0xff, 0xffffffff,
						  0x8001 }[rn(6)] : rnd32();
		for (i = 0; i < len; i++)
			payload[i] = chance(1, 2) ? 0 : rnd32();
		if (op == MKIOQ_URING_CMD_WAIT || op == MKIOQ_URING_CMD_DOORBELL)
			op = 0x10000 | op;
	}

	if (!ready) {
		exp = -EBADFD;
	} else if (op == MKIOQ_URING_CMD_DOORBELL) {
		for (i = 0; i < len && !payload[i]; i++)
			;
		exp = i < len ? -EINVAL : 0;
	} else if (op == MKIOQ_URING_CMD_WAIT) {
		for (i = 16; i < len && !payload[i]; i++)
			;
		if (i < len || w.flags ||
		    (w.slot != MKIOQ_ANY_SLOT && w.slot >= q->slots))
			exp = -EINVAL;
		else
			exp = 1;	/* parks, or takes a record */
	} else {
		exp = -ENOTTY;
	}

	sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	mkioq_prep_cmd(ring, sqe, fd, op);
	memcpy(sqe->cmd, payload, len);
	io_uring_sqe_set_data64(sqe, id);
	*pd = (struct pend) {
		.used = true, .kind = exp == 1 ? K_WAIT : K_EXACT, .ring = r,
		.exp = exp, .slot = w.slot, .rec_ok = rec_ok,
		.addr_bad = addr_bad, .qi = qi, .qgen = fresh >= 0 ? 0 : q->gen,
		.id = id, .t_submit = now_ns(),
	};
	memset(&G.recs[id % NPEND], 0xee, sizeof(G.recs[0]));
	G.out[r]++;
	if (exp == 1)
		q->waits++;
	if (io_uring_submit(ring) < 0)
		FAILF("io_uring_submit: %s", strerror(errno));
	if (fresh >= 0)
		close(fresh);
	reap();
}

/* ------------------------------------------------------------ mmap */

static void fuzz_mmap(void)
{
	static const int prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE, PROT_NONE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	struct fq *q = pick_q(NULL);
	uint64_t len, off;
	int prot, flags, exp, ret;
	bool sane = true;
	uint32_t *m, v;

	len = chance(1, 2) ? PG : (uint64_t[]){ 0, 1, PG - 1, PG + 1, 2 * PG,
					       rn(1 << 20), 1ULL << 46,
					       UINT64_MAX }[rn(8)];
	off = chance(2, 3) ? 0 : (uint64_t[]){ PG, PG * (1 + rn(1024)),
					      1ULL << 50, 1 + rn(PG - 1),
					      UINT64_MAX & ~(uint64_t)(PG - 1)
					     }[rn(5)];
	prot = chance(2, 3) ? PROT_READ | PROT_WRITE : prots[rn(6)];
	flags = chance(2, 3) ? MAP_SHARED :
		(int[]){ MAP_PRIVATE, MAP_SHARED_VALIDATE,
			 MAP_SHARED_VALIDATE | MAP_SYNC }[rn(3)];
	if (chance(1, 8))
		flags |= (int[]){ MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED }[rn(3)];

	if (!len || off & (PG - 1)) {
		exp = -EINVAL;
	} else if (len > (1ULL << 40) || off >= (1ULL << 40)) {
		/*
		 * Huge lengths and offsets meet the VFS's own limits
		 * (do_mmap(): ENOMEM for a length that rounds to 0 or does
		 * not fit the address space, EOVERFLOW for an offset that
		 * wraps, EINVAL) before the driver, and which one depends on
		 * the address space left, not on the spec: any of them, or
		 * the driver's own answer if the VFS let it through.
		 */
		sane = false;
		exp = 0;
	} else if ((flags & MAP_SYNC)) {
		exp = -EOPNOTSUPP;
	} else if (!q->ready) {
		exp = -EBADFD;
	} else if (off || (len + PG - 1) / PG != 1 ||
		   (flags & 3) == MAP_PRIVATE) {
		exp = -EINVAL;
	} else if (prot & PROT_EXEC) {
		exp = -EPERM;
	} else {
		exp = 0;
	}
	m = mmap(NULL, len, prot, flags, q->fd, off);
	ret = m == MAP_FAILED ? -errno : 0;
	if (!sane) {
		if (!ret || (ret != -EINVAL && ret != -ENOMEM &&
			     ret != -EOVERFLOW && ret != -EOPNOTSUPP &&
			     ret != -EBADFD))
			FAILF("mmap len %#" PRIx64 " off %#" PRIx64 ": %d",
			      len, off, ret);
		if (!ret)
			munmap(m, len);
		return;
	}
	if (ret != exp)
		FAILF("mmap len %#" PRIx64 " off %#" PRIx64 " prot %#x flags %#x: got %d, expected %d",
		      len, off, prot, flags, ret, exp);
	if (ret)
		return;
	/* The same page as the queue's own mapping, in both directions. */
	if (q->ring && prot & PROT_READ) {
		v = rnd32();
		__atomic_store_n(&q->ring[1023], v, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&m[1023], __ATOMIC_SEQ_CST) != v)
			FAILF("a second mapping shows another page");
		if (prot & PROT_WRITE) {
			__atomic_store_n(&m[1023], ~v, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&q->ring[1023], __ATOMIC_SEQ_CST) != ~v)
				FAILF("a write through a second mapping is lost");
		}
	}
	/* Never executable, never growing. */
	if (!mprotect(m, PG, PROT_READ | PROT_EXEC))
		FAILF("mprotect(PROT_EXEC) of the ring succeeded");
	if (mremap(m, PG, 2 * PG, MREMAP_MAYMOVE) != MAP_FAILED)
		FAILF("mremap grew the ring");
	munmap(m, len);
}

/* ------------------------------------------------ read/write/poll */

/* A record read(): a notice of dropped ones, or an undelivered completion. */
static bool record_ok(const struct fq *q, const struct mkioq_cqe *c)
{
	if (c->slot == MKIOQ_ANY_SLOT)
		return c->flags == (MKIOQ_CQE_F_OVERFLOW | MKIOQ_CQE_F_NOTICE) &&
		       c->dropped && c->result == -ENOBUFS;
	if (c->slot >= q->slots || c->flags & ~MKIOQ_CQE_F_OVERFLOW ||
	    !(c->flags & MKIOQ_CQE_F_OVERFLOW) != !c->dropped)
		return false;
	if (c->status != (c->result >= 0 ? MKIOQ_RESULT_OK : MKIOQ_RESULT_ERROR))
		return false;
	return comp_take(q->gen, c->slot, c->status, c->result, c->tag);
}

static int read_records(struct fq *q, size_t size)
{
	ssize_t n = read(q->fd, G.rbuf, size);
	size_t i;

	if (n < 0)
		return -errno;
	if (n % sizeof(struct mkioq_cqe) || (size_t)n > size || !n)
		FAILF("read(%zu) returned %zd", size, n);
	for (i = 0; i < n / sizeof(struct mkioq_cqe); i++) {
		struct mkioq_cqe *c = (struct mkioq_cqe *)G.rbuf + i;

		if (!record_ok(q, c))
			FAILF("record: slot %u status %#x result %d tag %#x flags %#x dropped %u: no undelivered completion of this file",
			      c->slot, c->status, c->result, c->tag, c->flags,
			      c->dropped);
	}
	return (int)n;
}

static void fuzz_read(void)
{
	struct fq *q = pick_q(NULL);
	int kind = chance(2, 3) ? P_VALID : pick_ptr(), ret;
	uint64_t end = 0;
	bool vfs_fault;
	size_t size;
	void *p;

	size = chance(2, 3) ? sizeof(struct mkioq_cqe) * (1 + rn(64)) :
	       (size_t[]){ 0, 1, 23, 25, rn(8192), READ_BUF,
			   (size_t)1 << 40 }[rn(7)];
	if (kind == P_VALID && size > READ_BUF)
		size = READ_BUF;
	p = kind == P_VALID ? G.rbuf :
	    place(G.guard, kind, G.rbuf, 24, NULL, NULL);
	if (kind == P_VALID) {
		/* Records, or -EAGAIN: whether one waits is not modelled. */
		ret = read_records(q, size);
		if (!q->ready || size < 24)
			CHECK_EQ(ret, !q->ready ? -EBADFD : -EINVAL, "read()");
		else if (ret < 0 && ret != -EAGAIN)
			FAILF("read(%zu): %d", size, ret);
		return;
	}
	ret = sys_ret(read(q->fd, p, size));
	/*
	 * First the VFS's access_ok() of the whole range: a kernel or
	 * non-canonical address, or a range past 2^56 (or wrapping), is
	 * -EFAULT whatever else is wrong; one past 2^47 is -EFAULT under
	 * 4-level paging but may pass under 5-level, so there either is
	 * right. Then the driver: the queue's state, the count, and then a
	 * record to store: none waiting is -EAGAIN (the file is
	 * O_NONBLOCK), one waiting faults (-EFAULT; fewer than one record's
	 * bytes are writable at every bad address here, so nothing is ever
	 * stored). Whether one waits is the one thing not predicted: the
	 * model does not follow which records overflow dropped or which
	 * record each WAIT took.
	 */
	vfs_fault = kind == P_KERNEL || kind == P_NONCANON ||
		    __builtin_add_overflow((uint64_t)(uintptr_t)p, size, &end) ||
		    end > (1ULL << 56);
	if (vfs_fault ||
	    (ret == -EFAULT && end > (1ULL << 47) - PG)) {
		if (ret != -EFAULT)
			FAILF("read(%s, %zu): %d, expected -EFAULT from the VFS",
			      ptr_names[kind], size, ret);
		return;
	}
	if (!q->ready || size < 24) {
		CHECK_EQ(ret, !q->ready ? -EBADFD : -EINVAL, "read()");
		return;
	}
	if (ret != -EAGAIN && ret != -EFAULT) {
		FAILF("read(%s, %zu): %d, expected -EAGAIN or -EFAULT",
		      ptr_names[kind], size, ret);
		return;
	}
	/* A faulting read loses nothing: the records are back. */
	if (ret == -EFAULT && q->mode == MKIOQ_MODE_DOORBELL && !q->waits) {
		int n = read_records(q, READ_BUF);

		if (n <= 0)
			FAILF("records lost by a read() that faulted (%s, %zu bytes): %d",
			      ptr_names[kind], size, n);
	}
}

static void fuzz_write(void)
{
	struct fq *q = pick_q(NULL);
	int kind = pick_ptr();
	size_t size = chance(3, 4) ? rn(4096) :
		      (size_t[]){ MAX_RW, MAX_RW + 1, (size_t)1 << 40,
				  (size_t)1 << 62, SIZE_MAX }[rn(5)];
	void *p = kind == P_VALID ? G.rbuf :
		  place(G.guard, kind, G.rbuf, 1, NULL, NULL);
	ssize_t ret = write(q->fd, p, size);
	uint64_t end;
	long exp;

	if (ret < 0)
		ret = -errno;
	/*
	 * The VFS checks the range first (its top depends on the paging
	 * mode: 47 or 56 bits), then the driver rings, reading nothing.
	 */
	if (kind == P_KERNEL || kind == P_NONCANON ||
	    __builtin_add_overflow((uint64_t)(uintptr_t)p, size, &end) ||
	    end > (1ULL << 56))
		exp = -EFAULT;
	else if (end > (1ULL << 47) - PG && ret == -EFAULT)
		exp = -EFAULT;
	else if (!q->ready)
		exp = -EBADFD;
	else
		exp = size > MAX_RW ? (long)MAX_RW : (long)size;
	if (ret != exp)
		FAILF("write(%s, %zu): got %zd, expected %ld", ptr_names[kind],
		      size, ret, exp);
}

static void fuzz_poll(void)
{
	static const short bits[] = {
		POLLIN, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM, POLLRDBAND,
		POLLWRBAND, POLLERR, POLLHUP, POLLRDHUP, POLLNVAL,
	};
	struct fq *q = pick_q(NULL);
	struct pollfd pfd = { .fd = q->fd }, *p = &pfd;
	int kind = chance(4, 5) ? P_VALID : pick_ptr(), ret;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bits); i++)
		if (chance(1, 3))
			pfd.events |= bits[i];
	if (kind != P_VALID)
		p = place(G.guard, kind, &pfd, sizeof(pfd), NULL, NULL);
	ret = sys_ret(poll(p, 1, 0));
	if (kind != P_VALID) {
		/* RO: readable, but revents cannot be written back. */
		if (ret != -EFAULT)
			FAILF("poll(%s): %d", ptr_names[kind], ret);
		return;
	}
	if (!q->ready) {
		if (ret != 1 || pfd.revents != POLLERR)
			FAILF("poll of a file not set up: %d revents %#x", ret,
			      pfd.revents);
		return;
	}
	if (pfd.revents & ~(POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM) ||
	    pfd.revents & ~(pfd.events | POLLERR | POLLHUP) ||
	    ((pfd.events & POLLOUT) && !(pfd.revents & POLLOUT)) ||
	    ret != !!pfd.revents)
		FAILF("poll events %#x: %d revents %#x", pfd.events, ret,
		      pfd.revents);
}

/* --------------------------------------------------- ring episodes */

/* A slot's predicted outcome: claimed or not, OK with bytes or ERROR. */
struct pred {
	bool claim;
	uint32_t err;		/* the errno it completes with; 0 = OK */
	uint32_t bytes;
};

static uint32_t range_err(const struct hent *h, uint64_t off, uint32_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(off, (uint64_t)len, &end))
		return EOVERFLOW;
	return end > h->len ? ERANGE : 0;
}

/*
 * The one errno the spec gives a request: the request errnos of
 * uapi/linux/mkioq.h and protocol.rst ("Request errors") are checked in
 * the order of their table and the first that applies wins. EOVERFLOW and
 * ERANGE are range checks made "the source's range first, then the
 * destination's": the source's range is checked whole (EOVERFLOW, then
 * ERANGE) before the destination's. Only a WRITE can differ from a plain
 * row order there: its source range, read from 0, can only be too short
 * (ERANGE), while its destination, at OFFSET, can overflow (EOVERFLOW);
 * the source's ERANGE wins. After validation comes begin_cpu_access(),
 * whose errnos (EINTR on a signal, an exporter's own) cannot occur here:
 * no signal is delivered to the fuzzer, its buffers carry no fences, and
 * vgem has no begin_cpu_access() at all.
 */
static struct pred predict(struct fq *q, const uint32_t *w)
{
	struct pred p = { 0 };
	uint32_t op = w[MKIOQ_WORD_OP], cnt = w[MKIOQ_WORD_BYTE_COUNT];
	uint64_t off = (uint64_t)w[MKIOQ_WORD_OFFSET_HI] << 32 |
		       w[MKIOQ_WORD_OFFSET_LO];
	struct hent *s, *d;

	if (w[MKIOQ_WORD_STATUS] != MKIOQ_STATE_PUBLISHED ||
	    w[MKIOQ_WORD_SRC_HANDLE] == MKIOQ_HANDLE_NONE)
		return p;
	p.claim = true;
	if (op == MKIOQ_OP_FENCE)
		return p;	/* never validated: OK, BYTE_COUNT 0 */
	if (op != MKIOQ_OP_READ && op != MKIOQ_OP_WRITE) {
		p.err = EOPNOTSUPP;
		return p;
	}
	if (cnt > INT_MAX) {
		p.err = EFBIG;
		return p;
	}
	/* Both looked up before either's access is checked. */
	s = h_get(q, w[MKIOQ_WORD_SRC_HANDLE]);
	d = h_get(q, w[MKIOQ_WORD_DST_HANDLE]);
	if (!s || !d) {
		p.err = ENOENT;
		return p;
	}
	if (!(s->access & MKIOQ_ACCESS_READ) || !(d->access & MKIOQ_ACCESS_WRITE)) {
		p.err = EACCES;
		return p;
	}
	p.err = range_err(s, op == MKIOQ_OP_READ ? off : 0, cnt);
	if (!p.err)
		p.err = range_err(d, op == MKIOQ_OP_READ ? 0 : off, cnt);
	if (!p.err)
		p.bytes = cnt;
	return p;
}

/* The copies of one episode, in slot order. */
static struct ep_copy {
	uint8_t dst, src;
	bool tainted;
	uint64_t dst_off, src_off, len;
} epc[MKIOQ_MAX_SLOTS];
static unsigned int nepc;

/* The last copies the model made, to explain a mismatch. */
#define NLOG 256
static struct copy_log {
	uint64_t iter, dst_off, src_off;
	uint32_t len, slot;
	uint8_t dst, src, qi, mode;
} clog[NLOG];
static unsigned int nclog;

/* Apply an OK request to the shadows, as the module copies it. */
static void model_copy(struct fq *q, uint32_t slot, const uint32_t *w)
{
	const struct hent *s = h_get(q, w[MKIOQ_WORD_SRC_HANDLE]);
	const struct hent *d = h_get(q, w[MKIOQ_WORD_DST_HANDLE]);
	uint64_t off = (uint64_t)w[MKIOQ_WORD_OFFSET_HI] << 32 |
		       w[MKIOQ_WORD_OFFSET_LO];
	bool rd = w[MKIOQ_WORD_OP] == MKIOQ_OP_READ;

	epc[nepc++] = (struct ep_copy) {
		.dst = d->buf, .src = s->buf, .len = w[MKIOQ_WORD_BYTE_COUNT],
		.dst_off = d->off + (rd ? 0 : off),
		.src_off = s->off + (rd ? off : 0),
	};
	clog[nclog++ % NLOG] = (struct copy_log) {
		.iter = G.iter, .dst_off = d->off + (rd ? 0 : off),
		.src_off = s->off + (rd ? off : 0),
		.len = w[MKIOQ_WORD_BYTE_COUNT], .slot = slot, .dst = d->buf,
		.src = s->buf, .qi = (uint8_t)(q - G.q), .mode = q->mode,
	};
	memmove(G.b[d->buf].shadow + d->off + (rd ? 0 : off),
		G.b[s->buf].shadow + s->off + (rd ? off : 0),
		w[MKIOQ_WORD_BYTE_COUNT]);
}

static uint32_t pick_handle(struct fq *q, uint32_t want)
{
	uint32_t id = 0;
	int tries;

	switch (rn(16)) {
	case 0: return 1 + rn(MAXH);
	case 1: return chance(1, 2) ? MKIOQ_HANDLE_NONE : MAXH + 1 + rn(1000);
	}
	for (tries = 0; tries < 6 && q->nh; tries++) {
		id = q->live[rn(q->nh)];
		if (q->h[id].access & want)
			break;
	}
	return id ? id : 1 + rn(MAXH);
}

static uint64_t hlen(struct fq *q, uint32_t id)
{
	struct hent *h = h_get(q, id);

	return h ? h->len : PG;
}

static void gen_request(struct fq *q, uint32_t slot, uint32_t *w)
{
	uint32_t op, cnt;
	uint64_t off, L, Loff;

	op = (uint32_t[]){ MKIOQ_OP_READ, MKIOQ_OP_READ, MKIOQ_OP_READ,
			   MKIOQ_OP_WRITE, MKIOQ_OP_WRITE, MKIOQ_OP_FENCE,
			   0, 4, rnd32() }[rn(9)];
	w[MKIOQ_WORD_OP] = op;
	if (op == MKIOQ_OP_READ && q->hS && q->hC[slot] && chance(1, 2)) {
		w[MKIOQ_WORD_SRC_HANDLE] = q->hS;
		w[MKIOQ_WORD_DST_HANDLE] = q->hC[slot];
	} else {
		w[MKIOQ_WORD_SRC_HANDLE] = pick_handle(q, MKIOQ_ACCESS_READ);
		w[MKIOQ_WORD_DST_HANDLE] = pick_handle(q, MKIOQ_ACCESS_WRITE);
	}
	if (op == MKIOQ_OP_FENCE && !w[MKIOQ_WORD_SRC_HANDLE])
		w[MKIOQ_WORD_SRC_HANDLE] = 1;
	/* The side the offset applies to, and the other. */
	Loff = hlen(q, w[op == MKIOQ_OP_WRITE ? MKIOQ_WORD_DST_HANDLE : MKIOQ_WORD_SRC_HANDLE]);
	L = hlen(q, w[op == MKIOQ_OP_WRITE ? MKIOQ_WORD_SRC_HANDLE : MKIOQ_WORD_DST_HANDLE]);
	if (L > Loff)
		L = Loff;
	switch (rn(20)) {
	case 0: cnt = 0; break;
	case 1: cnt = L > UINT32_MAX ? UINT32_MAX : (uint32_t)L; break;
	case 2: cnt = (uint32_t)L + 1; break;
	case 3: cnt = INT_MAX; break;
	case 4: cnt = 0x80000000u + rn(1000); break;
	case 5: cnt = rnd32(); break;
	case 6: cnt = 1 + rn(L); break;
	default: cnt = 1 + rn(L < 4096 ? L : 4096);
	}
	switch (rn(12)) {
	case 0: case 1: case 2: case 3: off = 0; break;
	case 4: off = Loff >= cnt ? Loff - cnt : 0; break;
	case 5: off = Loff; break;
	case 6: off = 1ULL << 32 | rn(16); break;
	case 7: off = UINT64_MAX - rn((uint64_t)cnt + 2); break;
	case 8: off = rnd(); break;
	default: off = Loff > cnt ? rn(Loff - cnt + 1) : 0;
	}
	w[MKIOQ_WORD_OFFSET_LO] = (uint32_t)off;
	w[MKIOQ_WORD_OFFSET_HI] = (uint32_t)(off >> 32);
	w[MKIOQ_WORD_BYTE_COUNT] = cnt;
	w[MKIOQ_WORD_TAG] = rnd32();
	w[MKIOQ_WORD_STATUS] = MKIOQ_STATE_PUBLISHED;
}

static void gen_slot(struct fq *q, uint32_t slot, uint32_t *w)
{
	unsigned int i;

	memset(w, 0, MKIOQ_SLOT_BYTES);
	switch (rn(10)) {
	case 0:		/* a host-published ingest: never claimed */
		gen_request(q, slot, w);
		w[MKIOQ_WORD_SRC_HANDLE] = MKIOQ_HANDLE_NONE;
		break;
	case 1:		/* a state the engine must leave alone */
		gen_request(q, slot, w);
		w[MKIOQ_WORD_STATUS] = (uint32_t[]){
			MKIOQ_STATE_EMPTY, MKIOQ_STATE_CLAIMED, MKIOQ_STATE_DONE,
			MKIOQ_RESULT_OK, MKIOQ_RESULT_ERROR, 0x100 | rnd32() }[rn(6)];
		break;
	case 2:		/* garbage */
		for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
			w[i] = rnd32();
		if (chance(1, 3))
			w[MKIOQ_WORD_STATUS] = MKIOQ_STATE_PUBLISHED;
		break;
	default:
		gen_request(q, slot, w);
	}
}

static volatile uint32_t *word(struct fq *q, uint32_t slot, unsigned int i)
{
	return &q->ring[slot * MKIOQ_SLOT_WORDS + i];
}

/* Write @w into @slot: as the protocol says, or in any order. */
static void put_slot(struct fq *q, uint32_t slot, const uint32_t *w,
		     bool hostile)
{
	unsigned int i, order[MKIOQ_SLOT_WORDS];

	if (!hostile) {
		for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
			if (i != MKIOQ_WORD_STATUS)
				*word(q, slot, i) = w[i];
		__atomic_store_n(word(q, slot, MKIOQ_WORD_STATUS),
				 w[MKIOQ_WORD_STATUS], __ATOMIC_RELEASE);
		return;
	}
	for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
		order[i] = i;
	for (i = MKIOQ_SLOT_WORDS - 1; i > 0; i--) {
		unsigned int j = rn(i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
		__atomic_store_n(word(q, slot, order[i]), w[order[i]],
				 __ATOMIC_RELEASE);
}

static int ring_doorbell(struct fq *q)
{
	struct io_uring_sqe *sqe;
	struct pend *pd;
	uint64_t id;

	switch (rn(4)) {
	case 0:
		return write(q->fd, "x", 1) == 1 ? 0 : -errno;
	case 1:
		id = ++G.next_id;
		pd = &G.pend[id % NPEND];
		if (pd->used || G.out[0] >= MAX_OUT)
			break;
		sqe = io_uring_get_sqe(&G.ring[0]);
		if (!sqe)
			break;
		mkioq_prep_doorbell(&G.ring[0], sqe, q->fd);
		io_uring_sqe_set_data64(sqe, id);
		*pd = (struct pend) { .used = true, .kind = K_EXACT, .exp = 0,
				      .id = id, .qi = 0, .qgen = 0 };
		G.out[0]++;
		/* Inline: serviced when io_uring_submit() returns. */
		return io_uring_submit(&G.ring[0]) == 1 ? 0 : -EIO;
	}
	return sys_ret(ioctl(q->fd, MKIOQ_IOC_DOORBELL, 0));
}

/* Do bytes [from, to) of buffer @b equal the model? */
static bool range_match(int b, size_t from, size_t to, const char *when)
{
	struct fbuf *fb = &G.b[b];
	size_t i;

	if (to > fb->size)
		to = fb->size;
	if (from >= to)
		return true;
	G.bytes_checked += to - from;
	if (!memcmp(fb->map + from, fb->shadow + from, to - from))
		return true;
	for (i = from; i < to && fb->map[i] == fb->shadow[i]; i++)
		;
	{
		size_t last = i, nd = 0, j;
		unsigned int k;

		for (j = i; j < to; j++)
			if (fb->map[j] != fb->shadow[j]) {
				last = j;
				nd++;
			}
		FAILF("%s: buffer %s differs from the model at bytes %zu..%zu (%zu differ; %#x, expected %#x)",
		      when, fb->name, i, last, nd, fb->map[i], fb->shadow[i]);
		for (k = 0; k < NLOG && k < nclog; k++) {
			struct copy_log *c = &clog[(nclog - 1 - k) % NLOG];

			if (c->dst == b && c->dst_off <= last &&
			    c->dst_off + c->len > i)
				ksft_print_msg("  copy at iteration %" PRIu64 " q%u mode %u slot %u: %s+%#" PRIx64 " -> %s+%#" PRIx64 " len %u\n",
					       c->iter, c->qi, c->mode, c->slot,
					       G.b[c->src].name, c->src_off,
					       G.b[c->dst].name, c->dst_off, c->len);
		}
	}
	memcpy(fb->shadow + from, fb->map + from, to - from);
	return false;
}

static bool buffers_match(int b, const char *when)
{
	return range_match(b, 0, G.b[b].size, when);
}

static bool overlap(uint8_t b1, uint64_t o1, uint64_t l1, uint8_t b2,
		    uint64_t o2, uint64_t l2)
{
	return b1 == b2 && o1 < o2 + l2 && o2 < o1 + l1;
}

/*
 * A poll thread may claim a later slot in the same pass as an earlier
 * one it passed before it was published, so the copies' order is not
 * known: where they conflict (write the same bytes, or one reads what
 * another writes, directly or through a chain) any order is right, and the
 * model takes the bytes the module produced. Everything else must match.
 */
static void untaint_unordered(void)
{
	unsigned int i, j;
	bool changed = true;

	for (i = 0; i < nepc; i++)
		for (j = 0; j < nepc; j++)
			if (i != j &&
			    (overlap(epc[i].dst, epc[i].dst_off, epc[i].len,
				     epc[j].dst, epc[j].dst_off, epc[j].len) ||
			     overlap(epc[i].src, epc[i].src_off, epc[i].len,
				     epc[j].dst, epc[j].dst_off, epc[j].len)))
				epc[i].tainted = true;
	while (changed) {
		changed = false;
		for (i = 0; i < nepc; i++)
			for (j = 0; j < nepc; j++)
				if (!epc[i].tainted && epc[j].tainted &&
				    overlap(epc[i].src, epc[i].src_off,
					    epc[i].len, epc[j].dst,
					    epc[j].dst_off, epc[j].len))
					epc[i].tainted = changed = true;
	}
	for (i = 0; i < nepc; i++)
		if (epc[i].tainted)
			memcpy(G.b[epc[i].dst].shadow + epc[i].dst_off,
			       G.b[epc[i].dst].map + epc[i].dst_off, epc[i].len);
}

static void fuzz_ring(void)
{
	static uint32_t w[MKIOQ_MAX_SLOTS][MKIOQ_SLOT_WORDS];
	static struct pred pr[MKIOQ_MAX_SLOTS];
	static bool used[MKIOQ_MAX_SLOTS];
	uint32_t extra_idx[8], extra_val[8], n_extra = 0, s, i, want;
	struct fq *q = pick_q(NULL);
	bool poll = q->mode == MKIOQ_MODE_POLL, hostile, predictable, ring_it;
	uint64_t t0;
	int ret;

	if (!q->ready || !q->ring)
		return;
	hostile = chance(1, poll ? 10 : 4);
	/* Words written in any order race a poll thread: no prediction. */
	predictable = !(hostile && poll);
	memset(used, 0, sizeof(used));
	nepc = 0;
	for (s = 0; s < q->slots; s++) {
		if (!chance(2, 3))
			continue;
		used[s] = true;
		gen_slot(q, s, w[s]);
		pr[s] = predict(q, w[s]);
	}
	/*
	 * A FENCE waits until every slot that reads CLAIMED when it is
	 * claimed leaves CLAIMED: one the module does not claim (garbage
	 * written CLAIMED, now or by an earlier round) never does here, so
	 * no FENCE is published beside one.
	 */
	for (s = 0; s < q->slots; s++)
		if ((used[s] ? w[s][MKIOQ_WORD_STATUS] :
		     *word(q, s, MKIOQ_WORD_STATUS)) == MKIOQ_STATE_CLAIMED)
			break;
	for (i = 0; s < q->slots && i < q->slots; i++) {
		if (!used[i] || !pr[i].claim ||
		    w[i][MKIOQ_WORD_OP] != MKIOQ_OP_FENCE)
			continue;
		w[i][MKIOQ_WORD_STATUS] = MKIOQ_STATE_EMPTY;
		pr[i] = predict(q, w[i]);
	}
	/* Garbage past the slots in use: nobody may touch it. */
	if (q->slots < MKIOQ_MAX_SLOTS)
		for (want = rn(8); n_extra < want; n_extra++) {
			extra_idx[n_extra] = q->slots * MKIOQ_SLOT_WORDS +
				rn((MKIOQ_MAX_SLOTS - q->slots) * MKIOQ_SLOT_WORDS);
			extra_val[n_extra] = chance(1, 2) ? MKIOQ_STATE_PUBLISHED :
							    rnd32();
			q->ring[extra_idx[n_extra]] = extra_val[n_extra];
			for (i = 0; i < n_extra; i++)
				if (extra_idx[i] == extra_idx[n_extra])
					extra_val[i] = extra_val[n_extra];
		}
	/* In claim order, which is slot order: publication is too. */
	for (s = 0; s < q->slots; s++)
		if (used[s])
			put_slot(q, s, w[s], hostile);

	ring_it = !poll || chance(1, 2);
	if (!poll && chance(1, 20)) {
		/* DOORBELL mode services nothing until the doorbell. */
		usleep(2000);
		for (s = 0; s < q->slots; s++)
			if (used[s] && *word(q, s, MKIOQ_WORD_STATUS) !=
				       w[s][MKIOQ_WORD_STATUS])
				FAILF("slot %u changed without a doorbell", s);
	}
	if (ring_it && (ret = ring_doorbell(q)))
		FAILF("doorbell: %d", ret);
	/* No reap() here: the model learns this episode's completions below. */

	/* Wait for every claimable slot; DOORBELL mode finished already. */
	t0 = now_ns();
	for (s = 0; s < q->slots; s++) {
		uint32_t st;

		if (!used[s] || !pr[s].claim)
			continue;
		for (;;) {
			st = __atomic_load_n(word(q, s, MKIOQ_WORD_STATUS),
					     __ATOMIC_ACQUIRE);
			if (st == MKIOQ_RESULT_OK || st == MKIOQ_RESULT_ERROR)
				break;
			if (!poll) {
				FAILF("slot %u not complete when the doorbell returned (status %#x)",
				      s, st);
				break;
			}
			if (now_ns() - t0 > 20000000000ULL) {
				FAILF("slot %u never completed (status %#x)", s,
				      st);
				break;
			}
			usleep(100);
		}
	}

	for (s = 0; s < q->slots; s++) {
		uint32_t got[MKIOQ_SLOT_WORDS], exp[MKIOQ_SLOT_WORDS];

		if (!used[s])
			continue;
		for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
			got[i] = *word(q, s, i);
		memcpy(exp, w[s], sizeof(exp));
		/*
		 * Racing a poll thread, a claimable slot may be claimed half
		 * written: it completes, with whatever result. A slot that
		 * was never claimable stays as written.
		 */
		if (pr[s].claim &&
		    (got[MKIOQ_WORD_STATUS] == MKIOQ_RESULT_OK ||
		     got[MKIOQ_WORD_STATUS] == MKIOQ_RESULT_ERROR))
			/* Its record carries what the ring says (and the tag
			 * the module read: known unless written racing it). */
			comp_add(q->gen, s, got[MKIOQ_WORD_STATUS],
				 got[MKIOQ_WORD_STATUS] == MKIOQ_RESULT_OK ?
				 (int32_t)got[MKIOQ_WORD_BYTE_COUNT] :
				 -(int32_t)got[MKIOQ_WORD_TAG],
				 w[s][MKIOQ_WORD_TAG], predictable);
		if (!predictable && pr[s].claim) {
			if (got[MKIOQ_WORD_STATUS] != MKIOQ_RESULT_OK &&
			    got[MKIOQ_WORD_STATUS] != MKIOQ_RESULT_ERROR)
				FAILF("hostile slot %u: status %#x", s,
				      got[MKIOQ_WORD_STATUS]);
			continue;
		}
		if (pr[s].claim) {
			if (!pr[s].err) {
				exp[MKIOQ_WORD_STATUS] = MKIOQ_RESULT_OK;
				exp[MKIOQ_WORD_BYTE_COUNT] = pr[s].bytes;
			} else {
				exp[MKIOQ_WORD_STATUS] = MKIOQ_RESULT_ERROR;
				exp[MKIOQ_WORD_TAG] = pr[s].err;
			}
			if (got[MKIOQ_WORD_STATUS] != exp[MKIOQ_WORD_STATUS] ||
			    (pr[s].err && got[MKIOQ_WORD_TAG] != pr[s].err))
				FAILF("slot %u: status %#x errno %u, expected status %#x errno %u (op %#x src %u dst %u off %#x:%#x count %#x)",
				      s, got[MKIOQ_WORD_STATUS],
				      got[MKIOQ_WORD_STATUS] == MKIOQ_RESULT_ERROR ?
				      got[MKIOQ_WORD_TAG] : 0,
				      exp[MKIOQ_WORD_STATUS], pr[s].err,
				      w[s][0], w[s][1], w[s][2], w[s][4],
				      w[s][3], w[s][5]);
			G.slots_done++;
		}
		if (memcmp(got, exp, sizeof(got)))
			FAILF("slot %u: words %08x %08x %08x %08x %08x %08x %08x %08x, expected %08x %08x %08x %08x %08x %08x %08x %08x",
			      s, got[0], got[1], got[2], got[3], got[4], got[5],
			      got[6], got[7], exp[0], exp[1], exp[2], exp[3],
			      exp[4], exp[5], exp[6], exp[7]);
		if (pr[s].claim && !pr[s].err &&
		    w[s][MKIOQ_WORD_OP] != MKIOQ_OP_FENCE)
			model_copy(q, s, w[s]);
	}
	for (i = 0; i < n_extra; i++)
		if (q->ring[extra_idx[i]] != extra_val[i])
			FAILF("word %u past the slots changed", extra_idx[i]);

	if (predictable) {
		if (poll)
			untaint_unordered();
		/* What was written, a window elsewhere, now and then all. */
		for (i = 0; i < nepc; i++)
			range_match(epc[i].dst, epc[i].dst_off,
				    epc[i].dst_off + epc[i].len,
				    "after a ring episode");
		for (i = 0; i < 2; i++) {
			int b = i ? B_C : B_D;
			size_t at = rn(G.b[b].size);

			if (!(G.episodes % 32))
				buffers_match(b, "after a ring episode");
			else
				range_match(b, at, at + 8192,
					    "after a ring episode");
		}
	} else {
		memcpy(G.b[B_D].shadow, G.b[B_D].map, G.b[B_D].size);
		memcpy(G.b[B_C].shadow, G.b[B_C].map, G.b[B_C].size);
	}
	/* Recycle everything: the ring is quiescent again. */
	for (s = 0; s < q->slots; s++)
		if (used[s])
			memset((void *)word(q, s, 0), 0, MKIOQ_SLOT_BYTES);
	for (i = 0; i < n_extra; i++)
		q->ring[extra_idx[i]] = 0;
	G.episodes++;
}

/* -------------------------------------------------- fresh files */

static void fuzz_fresh(void)
{
	struct fq *q = calloc(1, sizeof(*q));
	bool rdonly = chance(1, 4);
	struct mkioq_info in = { .size = sizeof(in) };
	struct mkioq_setup s = { .size = sizeof(s), .slot_count = 1 };
	void *m;

	if (!q)
		return;
	q->fd = open(MKIOQ_DEV, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
				O_NONBLOCK);
	if (q->fd < 0) {
		FAILF("open: %s", strerror(errno));
		free(q);
		return;
	}
	do_setup(q, -1, false);
	if (chance(1, 2))
		do_setup(q, -1, false);	/* EBUSY when set up */
	CHECK_EQ(sys_ret(ioctl(q->fd, MKIOQ_IOC_SETUP, &s)),
		 q->ready ? -EBUSY : 0, "SETUP of a fresh file");
	if (!q->ready) {
		q->ready = true;
		q->slots = 1;
		q->mode = 0;
	}
	CHECK_EQ(sys_ret(ioctl(q->fd, MKIOQ_IOC_INFO, &in)), 0, "INFO");
	check_info(q, &in);
	/* A read-only file maps the ring read-only, never writable. */
	m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
	if ((m == MAP_FAILED) != rdonly || (rdonly && errno != EACCES))
		FAILF("mmap RW of a %s file: %s", rdonly ? "read-only" :
		      "read-write", m == MAP_FAILED ? strerror(errno) : "ok");
	if (m != MAP_FAILED)
		munmap(m, PG);
	m = mmap(NULL, PG, PROT_READ, MAP_SHARED, q->fd, 0);
	if (m == MAP_FAILED)
		FAILF("mmap RO of a %s file: %s",
		      rdonly ? "read-only" : "read-write", strerror(errno));
	else
		munmap(m, PG);
	if (rdonly)
		CHECK_EQ(sys_ret(write(q->fd, "x", 1)), -EBADF,
			 "write() to a read-only file");
	close(q->fd);
	free(q);
}

/* Fill the handle table to ENOSPC, then empty half of it. */
static void fuzz_mass_register(void)
{
	struct fq *q = pick_q(NULL);
	unsigned int n = 0;
	uint32_t id;
	int ret;

	if (!q->ready)
		return;
	while ((ret = do_register(q, B_R, MKIOQ_ACCESS_READ, rn(PG), 1 + rn(PG),
				  &id)) == 0)
		n++;
	if (ret != -ENOSPC || q->nh != MAXH)
		FAILF("filling the handle table: %d after %u, %u handles", ret,
		      n, q->nh);
	CHECK_EQ(do_register(q, B_D, MKIOQ_ACCESS_RW, 0, 1, &id), -ENOSPC,
		 "REGISTER into a full table");
	while (q->nh > MAXH / 2) {
		struct mkioq_handle_unreg u = { .handle = q->live[rn(q->nh)] };

		CHECK_EQ(sys_ret(ioctl(q->fd, MKIOQ_IOC_UNREGISTER, &u)), 0,
			 "UNREGISTER");
		h_del(q, u.handle);
	}
}

/* ----------------------------------- a dma-buf of another process */

/*
 * A child exports a writable dma-buf filled with pattern @seed and waits;
 * the parent takes the descriptor with pidfd_getfd() or, where that is not
 * permitted and AF_UNIX exists, over SCM_RIGHTS. Returns the fd or -1.
 */
static int foreign_dmabuf(size_t size, uint32_t seed, size_t *out_size,
			  const char **how)
{
	struct { int fd, err; uint64_t size; } msg = { -1, 0, 0 };
	int p[2], sv[2] = { -1, -1 }, pidfd, fd = -1;
	pid_t pid;

	*how = "none";
	if (pipe(p))
		return -1;
	socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct test_buf b;
		int drm = vgem_open();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		msg.err = drm < 0 ? drm : test_buf_create(drm, size, true, &b);
		if (!msg.err) {
			pattern_fill(b.map, b.size, seed, 0);
			msg.fd = b.fd;
			msg.size = b.size;
			if (sv[1] >= 0) {
				char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
				struct iovec iov = { &msg, sizeof(msg) };
				struct msghdr mh = {
					.msg_iov = &iov, .msg_iovlen = 1,
					.msg_control = cbuf,
					.msg_controllen = sizeof(cbuf),
				};
				struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

				c->cmsg_level = SOL_SOCKET;
				c->cmsg_type = SCM_RIGHTS;
				c->cmsg_len = CMSG_LEN(sizeof(int));
				memcpy(CMSG_DATA(c), &b.fd, sizeof(int));
				sendmsg(sv[1], &mh, 0);
			}
		}
		if (write(p[1], &msg, sizeof(msg)) != sizeof(msg))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &msg, sizeof(msg)) == sizeof(msg) && !msg.err) {
		pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0) {
			fd = syscall(SYS_pidfd_getfd, pidfd, msg.fd, 0);
			close(pidfd);
		}
		if (fd >= 0) {
			*how = "pidfd_getfd";
		} else if (sv[0] >= 0) {
			char cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = { &msg, sizeof(msg) };
			struct msghdr mh = {
				.msg_iov = &iov, .msg_iovlen = 1,
				.msg_control = cbuf,
				.msg_controllen = sizeof(cbuf),
			};
			struct cmsghdr *c;

			if (recvmsg(sv[0], &mh, MSG_DONTWAIT) > 0 &&
			    (c = CMSG_FIRSTHDR(&mh)) &&
			    c->cmsg_type == SCM_RIGHTS) {
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
				*how = "SCM_RIGHTS";
			}
		}
		*out_size = msg.size;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return fd;
}

/* --------------------------------------------------------- setup */

static int make_buf(int b, const char *name, size_t size, bool writable,
		    uint32_t seed)
{
	struct fbuf *fb = &G.b[b];
	int ret = test_buf_create(G.drm, size, writable, &fb->tb);

	fb->name = name;
	if (ret)
		return ret;
	fb->fd = fb->tb.fd;
	fb->size = fb->tb.size;
	fb->map = fb->tb.map;
	fb->wfd = writable;
	fb->may_write = writable;
	fb->shadow = malloc(fb->size);
	if (!fb->shadow)
		return -ENOMEM;
	pattern_fill(fb->map, fb->size, seed, 0);
	memcpy(fb->shadow, fb->map, fb->size);
	return 0;
}

FIXTURE(fz) {
	int unused;
};

FIXTURE_SETUP(fz)
{
}

FIXTURE_TEARDOWN(fz)
{
}

/*
 * The foreign buffer alone: registered and read through like a local one.
 * Prints how it was obtained; skips only if neither way works.
 */
TEST(foreign_buffer)
{
	struct test_buf dst;
	struct mkioq_queue *q;
	const char *how;
	size_t size = 0;
	uint32_t hs, hd;
	int drm, fd;

	fd = foreign_dmabuf(65536, 77, &size, &how);
	ksft_print_msg("foreign dma-buf: %s\n", fd >= 0 ? how :
		       "neither pidfd_getfd nor SCM_RIGHTS worked: sub-case skipped");
	if (fd < 0)
		SKIP(return, "no way to take another process's dma-buf");
	drm = vgem_open();
	ASSERT_GE(drm, 0);
	ASSERT_EQ(0, test_buf_create(drm, 65536, true, &dst));
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 4, 0, &q));
	/* Its file mode came with it: writable as the child exported it. */
	ASSERT_EQ(0, mkioq_register(q, fd, 0, size, MKIOQ_ACCESS_RW, &hs));
	close(fd);
	ASSERT_EQ(0, mkioq_register(q, dst.fd, 0, 65536, MKIOQ_ACCESS_WRITE,
				    &hd));
	ASSERT_EQ(0, mkioq_submit_dma_read(q, 0, hs, hd, 65536, 1));
	ASSERT_EQ(0, mkioq_doorbell(q));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(q, 0, 10000));
	EXPECT_EQ(65536, pattern_check(dst.map, 65536, 77, 0));
	mkioq_queue_free(q);
	test_buf_destroy(&dst);
	close(drm);
}

TEST_F_TIMEOUT(fz, surface, 1800)
{
	uint64_t seed = env_u64("MKIOQ_FUZZ_SEED", now_ns() ^ (uint64_t)getpid() << 32);
	uint64_t secs = env_u64("MKIOQ_FUZZ_SECONDS", 20), deadline, t0, t1;
	unsigned int total_weight = 0, i, r;
	struct sigaction sa = { .sa_handler = SIG_IGN };
	struct mkioq_info info0 = { .size = sizeof(info0) };
	size_t fsize = 0;

	/* First, so that a failure can be replayed. */
	ksft_print_msg("seed %" PRIu64 " (replay: MKIOQ_FUZZ_SEED=%" PRIu64
		       "), %" PRIu64 " s\n", seed, seed, secs);
	if (secs > 1600)
		secs = 1600;
	rng_state = seed ? seed : 1;
	for (i = 0; i < 4; i++)
		rnd();
	sigaction(SIGPIPE, &sa, NULL);
	G.cur_op = -1;

	G.drm = vgem_open();
	ASSERT_GE(G.drm, 0);
	ASSERT_EQ(0, make_buf(B_S, "S(ro)", 1 << 20, false, 0x51));
	ASSERT_EQ(0, make_buf(B_R, "R(ro)", 65536, false, 0x52));
	ASSERT_EQ(0, make_buf(B_D, "D(rw)", 512 << 10, true, 0x53));
	ASSERT_EQ(0, make_buf(B_C, "C(rw)", NQ * C_REGION, true, 0x54));
	ASSERT_EQ(0, make_buf(B_FIN, "FIN(rw)", 256 << 10, true, 0x56));
	G.b[B_FIN].may_write = false;	/* only the final check uses it */
	G.b[B_F].name = "F(foreign)";
	G.b[B_F].fd = foreign_dmabuf(256 << 10, 0x55, &fsize, &G.foreign_how);
	if (G.b[B_F].fd >= 0) {
		G.b[B_F].size = fsize;
		G.b[B_F].wfd = true;
		G.b[B_F].shadow = malloc(fsize);
		ASSERT_NE(NULL, G.b[B_F].shadow);
		pattern_fill(G.b[B_F].shadow, fsize, 0x55, 0);
	}
	ksft_print_msg("foreign dma-buf: %s\n", G.b[B_F].fd >= 0 ?
		       G.foreign_how : "unavailable: sub-case skipped");

	G.guard = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	G.uguard = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, G.guard);
	ASSERT_NE(MAP_FAILED, G.uguard);
	mprotect(G.guard + PG, PG, PROT_NONE);
	mprotect(G.guard + 2 * PG, PG, PROT_READ);
	mprotect(G.uguard + PG, PG, PROT_NONE);
	mprotect(G.uguard + 2 * PG, PG, PROT_READ);
	G.rbuf = malloc(READ_BUF);
	ASSERT_NE(NULL, G.rbuf);
	ASSERT_EQ(0, io_uring_queue_init(256, &G.ring[0], 0));
	ASSERT_EQ(0, io_uring_queue_init(256, &G.ring[1],
					 IORING_SETUP_SQE128 | IORING_SETUP_CQE32));
	for (i = 0; i < NQ; i++)
		q_open(&G.q[i], i, !chance(1, 4));
	ASSERT_EQ(0, G.fails);
	/* INFO works on any file: which WAIT ends the kernel allows. */
	ASSERT_EQ(0, ioctl(G.q[0].fd, MKIOQ_IOC_INFO, &info0));
	G.wait_cancel = info0.features & MKIOQ_FEAT_WAIT_CANCEL;

	for (i = 0; i < OP_NR; i++)
		total_weight += op_weight[i];
	G.mass_iter = 200 + rn(3000);
	t0 = now_ns();
	deadline = t0 + secs * 1000000000ULL;
	while (now_ns() < deadline && G.fails < MAX_FAILS) {
		G.iter++;
		r = rn(total_weight);
		for (i = 0; r >= op_weight[i]; i++)
			r -= op_weight[i];
		if (G.iter == G.mass_iter)
			i = OP_MASS;
		G.cur_op = i;
		G.calls[i]++;
		t1 = now_ns();
		switch (i) {
		case OP_SETUP: {
			int qi;
			struct fq *q = pick_q(&qi);

			do_setup(q, qi, true);
			break;
		}
		case OP_REGISTER: fuzz_register(); break;
		case OP_UNREGISTER: fuzz_unregister(); break;
		case OP_DOORBELL: fuzz_doorbell(); break;
		case OP_INFO: fuzz_info(); break;
		case OP_BADIOCTL: fuzz_bad_ioctl(); break;
		case OP_URING: fuzz_uring(); break;
		case OP_MMAP: fuzz_mmap(); break;
		case OP_READ: fuzz_read(); break;
		case OP_WRITE: fuzz_write(); break;
		case OP_POLL: fuzz_poll(); break;
		case OP_RING: fuzz_ring(); break;
		case OP_REOPEN: {
			int qi;
			struct fq *q = pick_q(&qi);

			/* Sometimes the mapping outlives the file. */
			if (q->ring && chance(1, 2)) {
				uint32_t *ring = q->ring;

				q->ring = NULL;
				close(q->fd);
				q->fd = -1;
				ring[1000] = 0x600d;
				if (ring[1000] != 0x600d)
					FAILF("the ring page died with its file");
				munmap(ring, PG);
			}
			q_close(q);
			q_open(q, qi, !chance(1, 4));
			break;
		}
		case OP_FRESH: fuzz_fresh(); break;
		case OP_MASS: fuzz_mass_register(); break;
		}
		G.op_ns[i] += now_ns() - t1;
		if (!(G.iter % 16))
			reap();
	}
	G.cur_op = -1;

	/* Every queue still completes a fresh request with the right data. */
	for (i = 0; i < NQ; i++) {
		struct fq *q = &G.q[i];
		struct mkioq_request req;
		struct mkioq_queue lq;
		uint32_t hs, hd, s;
		uint64_t off = rn(G.b[B_S].size - 8192);

		if (!q->ready) {
			struct mkioq_setup st = { .size = sizeof(st),
						  .slot_count = 64 };

			CHECK_EQ(sys_ret(ioctl(q->fd, MKIOQ_IOC_SETUP, &st)), 0,
				 "final setup");
			q_ready(q, i, 64, 0);
		}
		if (!q->ring)
			continue;
		if (q->nh == MAXH) {
			struct mkioq_handle_unreg u = { .handle = q->live[0] };

			ioctl(q->fd, MKIOQ_IOC_UNREGISTER, &u);
			h_del(q, u.handle);
		}
		if (q->nh == MAXH - 1) {
			struct mkioq_handle_unreg u = { .handle = q->live[0] };

			ioctl(q->fd, MKIOQ_IOC_UNREGISTER, &u);
			h_del(q, u.handle);
		}
		CHECK_EQ(do_register(q, B_S, MKIOQ_ACCESS_READ, 0,
				     G.b[B_S].size, &hs), 0, "final REGISTER");
		CHECK_EQ(do_register(q, B_FIN, MKIOQ_ACCESS_WRITE, i * 8192,
				     8192, &hd), 0, "final REGISTER");
		s = rn(q->slots);
		lq = (struct mkioq_queue) {
			.words = q->ring, .slot_count = q->slots,
			.flags = MKIOQ_QUEUE_F_DEVICE, .fd = q->fd,
			.mode = q->mode, .map_bytes = PG,
		};
		memset((void *)word(q, s, 0), 0, MKIOQ_SLOT_BYTES);
		req = (struct mkioq_request) {
			.op = MKIOQ_OP_READ, .src_handle = hs, .dst_handle = hd,
			.byte_count = 8192, .offset = off, .tag = 0xf1a1 + i,
		};
		CHECK_EQ(mkioq_submit(&lq, s, &req), 0, "final submit");
		CHECK_EQ(mkioq_doorbell(&lq), 0, "final doorbell");
		CHECK_EQ(wait_slot(&lq, s, 20000), MKIOQ_RESULT_OK,
			 "final request status");
		comp_add(q->gen, s, MKIOQ_RESULT_OK, 8192, 0xf1a1 + i, true);
		CHECK_EQ(*word(q, s, MKIOQ_WORD_BYTE_COUNT), 8192,
			 "final byte count");
		CHECK_EQ(*word(q, s, MKIOQ_WORD_TAG), 0xf1a1 + i, "final tag");
		CHECK_EQ(pattern_check(G.b[B_FIN].map + i * 8192, 8192, 0x51,
				       off), 8192, "final data");
	}
	/* Buffers nobody may write are untouched. */
	CHECK_EQ(pattern_check(G.b[B_S].map, G.b[B_S].size, 0x51, 0),
		 G.b[B_S].size, "read-only source");
	CHECK_EQ(pattern_check(G.b[B_R].map, G.b[B_R].size, 0x52, 0),
		 G.b[B_R].size, "read-only source");
	buffers_match(B_D, "at the end");
	buffers_match(B_C, "at the end");

	/* Closing cancels every parked WAIT: all commands complete. */
	for (i = 0; i < NQ; i++)
		q_close(&G.q[i]);
	G.all_closed = true;
	t0 = now_ns();
	while (G.out[0] + G.out[1] && now_ns() - t0 < 20000000000ULL) {
		reap();
		usleep(1000);
	}
	if (G.out[0] + G.out[1])
		FAILF("%u io_uring commands never completed after close",
		      G.out[0] + G.out[1]);

	ksft_print_msg("%" PRIu64 " iterations in %.1f s, seed %" PRIu64
		       ": %lu ring episodes (%lu requests checked, %.1f MB compared), %lu WAITs completed\n",
		       G.iter, (now_ns() - (deadline - secs * 1000000000ULL)) / 1e9,
		       seed, G.episodes, G.slots_done, G.bytes_checked / 1e6,
		       G.waits_done);
	ksft_print_msg("records matched to their completions: %lu (%lu of them by WAITs), %lu more WAIT results found among them\n",
		       G.records_matched, G.wait_records, G.wait_results);
	for (i = 0; i < OP_NR; i++)
		ksft_print_msg("  %-14s %6lu calls %8.1f ms\n", op_names[i],
			       G.calls[i], G.op_ns[i] / 1e6);
	io_uring_queue_exit(&G.ring[0]);
	io_uring_queue_exit(&G.ring[1]);
	comps_free();
	EXPECT_EQ(0, G.fails);
}

TEST_HARNESS_MAIN
