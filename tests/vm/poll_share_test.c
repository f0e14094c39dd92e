// SPDX-License-Identifier: GPL-2.0
/*
 * POLL queues sharing a poller (MKIOQ_SETUP_ATTACH_POLL): sixteen queues
 * served by one thread with their data checked, one kthread per group,
 * the creator closing first, a flooded member not starving another, the
 * idle thread asleep (its CPU time stops growing) and woken by a
 * doorbell, and every errno of an attach, in the order checked.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

#define NQ		16
#define PART		(64u << 10)	/* each queue's range of the buffers */
#define BUF_BYTES	(NQ * PART)

/* A POLL queue of 64 slots, attached to @attach_fd's group if >= 0. */
static int open_poll(int attach_fd, uint32_t idle_us, uint32_t period_us,
		     struct mkioq_queue **qp)
{
	struct mkioq_setup s = {
		.size = sizeof(s), .slot_count = 64, .mode = MKIOQ_MODE_POLL,
		.poll_idle_us = idle_us, .poll_period_us = period_us,
	};

	if (attach_fd >= 0) {
		s.flags = MKIOQ_SETUP_ATTACH_POLL;
		s.attach_fd = attach_fd;
	}
	return mkioq_queue_open_setup(MKIOQ_DEV, &s, qp);
}

/* Tasks whose name starts with mkioq-poll/ (@name exactly, if given). */
static int count_pollers(const char *name)
{
	char path[300], comm[64];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");
	FILE *f;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = 0;
			if (name ? !strcmp(comm, name) :
				   !strncmp(comm, "mkioq-poll/", 11))
				n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static bool task_alive(long pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld", pid);
	return access(path, F_OK) == 0;
}

/*
 * Whether task @pid is gone within a second: kthread_stop() returns once
 * the thread exited, a moment before its /proc entry goes.
 */
static bool task_gone(long pid)
{
	int i;

	for (i = 0; i < 1000 && task_alive(pid); i++)
		usleep(1000);
	return !task_alive(pid);
}

FIXTURE(share) {
	int drm;
	struct test_buf src, dst;
	struct mkioq_queue *q[NQ];
	uint32_t hsrc[NQ], hdst[NQ][8];
};

FIXTURE_SETUP(share)
{
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	pattern_fill(self->src.map, BUF_BYTES, 14, 0);
}

FIXTURE_TEARDOWN(share)
{
	int i;

	for (i = 0; i < NQ; i++)
		if (self->q[i])
			mkioq_queue_free(self->q[i]);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
}

/*
 * Queue @i reads its part of src into its part of dst, in eight pieces
 * (a handle each in dst, as a READ writes at its destination's start).
 */
static int share_register(struct __test_metadata *_metadata,
			  FIXTURE_DATA(share) *self, int i)
{
	int ret = mkioq_register(self->q[i], self->src.fd, 0, BUF_BYTES,
				 MKIOQ_ACCESS_READ, &self->hsrc[i]);
	int k;

	for (k = 0; k < 8 && !ret; k++)
		ret = mkioq_register(self->q[i], self->dst.fd,
				     (uint64_t)i * PART + k * (PART / 8),
				     PART / 8, MKIOQ_ACCESS_RW,
				     &self->hdst[i][k]);
	return ret;
}

/* Queue 0 creates the group, the others attach to queue @to's file. */
static void share_open(struct __test_metadata *_metadata,
		       FIXTURE_DATA(share) *self, int n, uint32_t idle_us,
		       uint32_t period_us)
{
	int i;

	ASSERT_EQ(0, open_poll(-1, idle_us, period_us, &self->q[0]));
	for (i = 1; i < n; i++)
		ASSERT_EQ(0, open_poll(mkioq_queue_fd(self->q[i - 1]), idle_us,
				       period_us, &self->q[i]));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, share_register(_metadata, self, i));
}

/*
 * Every queue of @n from @first: slots 0..7 read the 8 KiB pieces of the
 * queue's part; all complete OK with the right bytes, @round the tag.
 */
static void share_roundtrip(struct __test_metadata *_metadata,
			    FIXTURE_DATA(share) *self, int first, int n,
			    uint32_t round, bool doorbell)
{
	const uint32_t piece = PART / 8;
	uint32_t slot;
	int i;

	memset(self->dst.map, 0, BUF_BYTES);
	for (i = first; i < first + n; i++) {
		for (slot = 0; slot < 8; slot++)
			ASSERT_EQ(0, mkioq_submit(self->q[i], slot,
				&(struct mkioq_request){
					.op = MKIOQ_OP_READ,
					.src_handle = self->hsrc[i],
					.dst_handle = self->hdst[i][slot],
					.byte_count = piece,
					.offset = (uint64_t)i * PART +
						  slot * piece,
					.tag = round }));
		if (doorbell)
			ASSERT_EQ(0, mkioq_doorbell(self->q[i]));
	}
	for (i = first; i < first + n; i++)
		for (slot = 0; slot < 8; slot++) {
			ASSERT_EQ(MKIOQ_RESULT_OK,
				  wait_slot(self->q[i], slot, 20000))
				TH_LOG("queue %d slot %u", i, slot);
			ASSERT_EQ(0, mkioq_recycle(self->q[i], slot));
		}
	for (i = first; i < first + n; i++)
		EXPECT_EQ(PART, pattern_check(self->dst.map + (size_t)i * PART,
					      PART, 14, (uint64_t)i * PART))
			TH_LOG("queue %d: wrong bytes", i);
}

TEST_F_TIMEOUT(share, sixteen_queues_one_thread, 120)
{
	long group, thread;
	int before = count_pollers(NULL), i;
	char name[32];

	share_open(_metadata, self, NQ, 0, 0);
	group = fdinfo_number(mkioq_queue_fd(self->q[0]), "queue");
	thread = fdinfo_number(mkioq_queue_fd(self->q[0]), "poll-thread");
	ASSERT_GT(thread, 0);
	for (i = 0; i < NQ; i++) {
		int fd = mkioq_queue_fd(self->q[i]);

		EXPECT_EQ(group, fdinfo_number(fd, "poll-group"));
		EXPECT_EQ(thread, fdinfo_number(fd, "poll-thread"));
		EXPECT_EQ(NQ, fdinfo_number(fd, "poll-members"));
	}
	/* One kthread for the sixteen, named after the creator. */
	EXPECT_EQ(before + 1, count_pollers(NULL));
	snprintf(name, sizeof(name), "mkioq-poll/%ld", group);
	EXPECT_EQ(1, count_pollers(name));
	for (i = 0; i < 3; i++)
		share_roundtrip(_metadata, self, 0, NQ, i, i != 1);
	for (i = 0; i < NQ; i++) {
		mkioq_queue_free(self->q[i]);
		self->q[i] = NULL;
	}
	/* The last member out stopped it. */
	EXPECT_TRUE(task_gone(thread));
	EXPECT_EQ(before, count_pollers(NULL));
}

TEST_F_TIMEOUT(share, creator_closes_first, 120)
{
	long thread;
	int i;

	share_open(_metadata, self, 4, 0, 0);
	thread = fdinfo_number(mkioq_queue_fd(self->q[0]), "poll-thread");
	share_roundtrip(_metadata, self, 0, 4, 0, true);
	mkioq_queue_free(self->q[0]);
	self->q[0] = NULL;
	for (i = 1; i < 4; i++) {
		EXPECT_EQ(3, fdinfo_number(mkioq_queue_fd(self->q[i]),
					"poll-members"));
		EXPECT_EQ(thread, fdinfo_number(mkioq_queue_fd(self->q[i]),
					     "poll-thread"));
	}
	EXPECT_TRUE(task_alive(thread));
	/* Served still, with and without the doorbell. */
	share_roundtrip(_metadata, self, 1, 3, 1, true);
	share_roundtrip(_metadata, self, 1, 3, 2, false);
	/* A later queue may attach to a member: the same group. */
	ASSERT_EQ(0, open_poll(mkioq_queue_fd(self->q[3]), 0, 0, &self->q[4]));
	ASSERT_EQ(0, share_register(_metadata, self, 4));
	EXPECT_EQ(thread, fdinfo_number(mkioq_queue_fd(self->q[4]),
				     "poll-thread"));
	EXPECT_EQ(4, fdinfo_number(mkioq_queue_fd(self->q[4]), "poll-members"));
	share_roundtrip(_metadata, self, 1, 4, 3, true);
	for (i = 1; i < 5; i++) {
		mkioq_queue_free(self->q[i]);
		self->q[i] = NULL;
	}
	EXPECT_TRUE(task_gone(thread));
}

/*
 * A member whose 64 slots are always full gets one pass per round like
 * the other member: a request of the other completes after at most two
 * of the flooded queue's passes (2 * 64 of its requests). One thread
 * keeps the flood going and watches the other queue's request, so that
 * it counts at most one sweep of the 64 slots late: 4 * 64 allowed.
 * Served in turn until idle, the other request would wait forever.
 */
TEST_F_TIMEOUT(share, flooded_member_does_not_starve, 120)
{
	struct mkioq_queue *a, *b;
	unsigned long done = 0, c0 = 0, most = 0;
	uint32_t slot, src, dst;
	uint64_t deadline;
	int rounds = 0;

	share_open(_metadata, self, 2, 0, 0);
	a = self->q[0];
	b = self->q[1];
	src = self->hsrc[0];
	dst = self->hdst[0][0];
	for (slot = 0; slot < 64; slot++)
		ASSERT_EQ(0, mkioq_submit_dma_read(a, slot, src, dst,
						   PART / 8, slot));
	ASSERT_EQ(0, mkioq_doorbell(a));
	deadline = now_ns() + 60ull * 1000000000;
	while (rounds < 50) {
		ASSERT_LT(now_ns(), deadline)
			TH_LOG("the other queue's request %d never completed",
			       rounds);
		for (slot = 0; slot < 64; slot++) {
			if (mkioq_slot_status(a, slot) < MKIOQ_RESULT_OK)
				continue;
			done++;
			ASSERT_EQ(0, mkioq_recycle(a, slot));
			ASSERT_EQ(0, mkioq_submit_dma_read(a, slot, src, dst,
							   PART / 8, slot));
		}
		/* Once the flood runs, a request on the other queue. */
		if (done < 256)
			continue;
		switch (mkioq_slot_status(b, 0)) {
		case MKIOQ_STATE_EMPTY:
			c0 = done;
			ASSERT_EQ(0, mkioq_submit_dma_read(b, 0, self->hsrc[1],
							   self->hdst[1][0],
							   4096, rounds));
			break;
		case MKIOQ_RESULT_OK:
			if (done - c0 > most)
				most = done - c0;
			ASSERT_EQ(0, mkioq_recycle(b, 0));
			rounds++;
			break;
		}
	}
	TH_LOG("flooded queue's completions during one of the other's: at most %lu",
	       most);
	EXPECT_LE(most, 4 * 64);
}

/*
 * After poll_idle without work the thread sleeps: its CPU time stops
 * growing, with sixteen idle members; a period's round serves a request
 * published without the doorbell, and the doorbell wakes it long before
 * the period.
 */
TEST_F_TIMEOUT(share, idle_sleeps_doorbell_wakes, 120)
{
	long thread, t0, t1;
	uint64_t start, took_ms;
	int i;

	share_open(_metadata, self, NQ, 1000, 1000000);
	thread = fdinfo_number(mkioq_queue_fd(self->q[0]), "poll-thread");
	ASSERT_GT(thread, 0);
	for (i = 0; i < 3; i++) {
		usleep(200 * 1000);
		t0 = task_cpu_ticks(thread);
		usleep(1000 * 1000);
		t1 = task_cpu_ticks(thread);
		ASSERT_GE(t0, 0);
		/* A spinning thread would count about 100 ticks here. */
		TH_LOG("idle thread: %ld ticks in 1 s", t1 - t0);
		EXPECT_LE(t1 - t0, 5);

		/* The doorbell of the last member, well before the period. */
		start = now_ns();
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q[NQ - 1], 0,
						   self->hsrc[NQ - 1],
						   self->hdst[NQ - 1][0], 4096, i));
		ASSERT_EQ(0, mkioq_doorbell(self->q[NQ - 1]));
		ASSERT_EQ(MKIOQ_RESULT_OK,
			  wait_slot(self->q[NQ - 1], 0, 20000));
		took_ms = (now_ns() - start) / 1000000;
		TH_LOG("wake-up after idle: %llu ms",
		       (unsigned long long)took_ms);
		EXPECT_LT(took_ms, 500);
		ASSERT_EQ(0, mkioq_recycle(self->q[NQ - 1], 0));
	}
	/* No doorbell: the period's round finds it. */
	usleep(200 * 1000);
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q[3], 0, self->hsrc[3],
					   self->hdst[3][0], 4096, 9));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q[3], 0, 5000));
}

/* SETUP of a fresh file with @s; returns errno, 0 if it succeeded. */
static int setup_errno(struct mkioq_setup *s, int *fdp)
{
	int fd = open(MKIOQ_DEV, O_RDWR), ret;

	if (fd < 0)
		return -1;
	s->size = sizeof(*s);
	ret = ioctl(fd, MKIOQ_IOC_SETUP, s) ? errno : 0;
	if (fdp && !ret)
		*fdp = fd;
	else
		close(fd);
	return ret;
}

TEST(attach_errnos)
{
	struct mkioq_queue *poll_q, *door_q, *member;
	struct mkioq_setup s;
	int fresh, pfd[2], live, status;
	pid_t pid;

	ASSERT_EQ(0, open_poll(-1, 0, 0, &poll_q));
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 8, 0, &door_q));
	live = mkioq_queue_fd(poll_q);
#define ATTACH(fd) (struct mkioq_setup){ .slot_count = 8, \
	.mode = MKIOQ_MODE_POLL, .flags = MKIOQ_SETUP_ATTACH_POLL, \
	.attach_fd = (fd) }

	/* EINVAL: the flag in DOORBELL mode, even with a good target. */
	s = ATTACH(live);
	s.mode = MKIOQ_MODE_DOORBELL;
	EXPECT_EQ(EINVAL, setup_errno(&s, NULL));
	/* EINVAL: attach_fd without the flag, or an unknown flag. */
	s = ATTACH(live);
	s.flags = 0;
	EXPECT_EQ(EINVAL, setup_errno(&s, NULL));
	s = ATTACH(live);
	s.flags |= 0x2;
	EXPECT_EQ(EINVAL, setup_errno(&s, NULL));
	/* EINVAL of the fields before EBADF. */
	s = ATTACH(-1);
	s.slot_count = 65;
	EXPECT_EQ(EINVAL, setup_errno(&s, NULL));
	/* EBUSY (this file set up) before the target is looked at. */
	s = ATTACH(-1);
	EXPECT_EQ(-1, ioctl(live, MKIOQ_IOC_SETUP,
			    &(struct mkioq_setup){ .size = sizeof(s),
						   .slot_count = 8,
						   .mode = MKIOQ_MODE_POLL,
						   .flags = MKIOQ_SETUP_ATTACH_POLL,
						   .attach_fd = -1 }));
	EXPECT_EQ(EBUSY, errno);
	/* EBADF: not an open descriptor (0 is, -1 and a closed one not). */
	s = ATTACH(-1);
	EXPECT_EQ(EBADF, setup_errno(&s, NULL));
	ASSERT_EQ(0, pipe(pfd));
	/* Not a number the file being set up could take. */
	ASSERT_EQ(1000, dup2(pfd[1], 1000));
	close(1000);
	s = ATTACH(1000);
	EXPECT_EQ(EBADF, setup_errno(&s, NULL));
	close(pfd[1]);
	/* EINVAL: not a queue. */
	s = ATTACH(pfd[0]);
	EXPECT_EQ(EINVAL, setup_errno(&s, NULL));
	close(pfd[0]);
	/* EBADFD: a queue not set up, and the file being set up itself. */
	fresh = open(MKIOQ_DEV, O_RDWR);
	ASSERT_GE(fresh, 0);
	s = ATTACH(fresh);
	EXPECT_EQ(EBADFD, setup_errno(&s, NULL));
	s = ATTACH(fresh);
	s.size = sizeof(s);
	EXPECT_EQ(-1, ioctl(fresh, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(EBADFD, errno);
	/* A failed attach leaves the file NEW: it can be set up after. */
	s = ATTACH(live);
	s.size = sizeof(s);
	EXPECT_EQ(0, ioctl(fresh, MKIOQ_IOC_SETUP, &s));
	EXPECT_EQ(fdinfo_number(live, "poll-thread"),
		  fdinfo_number(fresh, "poll-thread"));
	EXPECT_EQ(2, fdinfo_number(live, "poll-members"));
	close(fresh);
	/* EINVAL: a DOORBELL queue. */
	s = ATTACH(mkioq_queue_fd(door_q));
	EXPECT_EQ(EINVAL, setup_errno(&s, NULL));

	/*
	 * ENXIO: a POLL queue whose owner closed it. The child sets up a
	 * file the parent also holds, and exits: the queue shuts down, the
	 * parent's file stays open.
	 */
	fresh = open(MKIOQ_DEV, O_RDWR);
	ASSERT_GE(fresh, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct mkioq_setup cs = { .size = sizeof(cs), .slot_count = 8,
					  .mode = MKIOQ_MODE_POLL };

		_exit(ioctl(fresh, MKIOQ_IOC_SETUP, &cs) ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	s = ATTACH(fresh);
	EXPECT_EQ(ENXIO, setup_errno(&s, NULL));
	close(fresh);

	/* Attached to the live one: served, and so is its creator. */
	ASSERT_EQ(0, open_poll(live, 0, 0, &member));
	EXPECT_EQ(2, fdinfo_number(live, "poll-members"));
	mkioq_queue_free(member);
	EXPECT_EQ(1, fdinfo_number(live, "poll-members"));
	mkioq_queue_free(door_q);
	mkioq_queue_free(poll_q);
#undef ATTACH
}

/*
 * The creator's owner closed it: a process that still holds its file
 * cannot attach to it (ENXIO), but can to a member that joined before,
 * which its group still serves.
 */
TEST_F_TIMEOUT(share, attach_after_owner_closed, 120)
{
	int go[2], status;
	long thread;
	pid_t pid;

	share_open(_metadata, self, 2, 0, 0);
	thread = fdinfo_number(mkioq_queue_fd(self->q[1]), "poll-thread");
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct mkioq_setup s = {
			.slot_count = 8, .mode = MKIOQ_MODE_POLL,
			.flags = MKIOQ_SETUP_ATTACH_POLL,
		};
		char c;
		int fd = -1;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		s.attach_fd = mkioq_queue_fd(self->q[0]);
		if (setup_errno(&s, NULL) != ENXIO)
			_exit(11);
		s.attach_fd = mkioq_queue_fd(self->q[1]);
		if (setup_errno(&s, &fd))
			_exit(12);
		if (fdinfo_number(fd, "poll-thread") != thread ||
		    fdinfo_number(fd, "poll-members") != 2)
			_exit(13);
		_exit(0);
	}
	close(go[0]);
	/* The owner's last descriptor of the creator: it shuts down. */
	mkioq_queue_free(self->q[0]);
	self->q[0] = NULL;
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, fdinfo_number(mkioq_queue_fd(self->q[1]), "poll-members"));
	share_roundtrip(_metadata, self, 1, 1, 0, true);
}

TEST_HARNESS_MAIN
