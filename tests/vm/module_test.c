// SPDX-License-Identifier: GPL-2.0
/*
 * The module itself: the devices= parameter, the device nodes' mode, and
 * no unload while a queue exists. Reloads mkioq.ko from the VM image and
 * leaves it loaded with its defaults.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

#define MKIOQ_KO	"/lib/mkioq-vm/mkioq.ko"

static int load(const char *params)
{
	int fd = open(MKIOQ_KO, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "mkioq", O_NONBLOCK) ? -errno : 0;
}

TEST(no_unload_while_a_queue_exists)
{
	struct mkioq_queue *q;

	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 4, MKIOQ_OPEN_POLL, &q));
	EXPECT_EQ(-EWOULDBLOCK, unload());
	/* The queue still works. */
	EXPECT_EQ(0, mkioq_doorbell(q));
	mkioq_queue_free(q);
	ASSERT_EQ(0, unload());
	EXPECT_EQ(-1, access(MKIOQ_DEV, F_OK));
	ASSERT_EQ(0, load(""));
}

TEST(devices_parameter)
{
	struct mkioq_queue *q[3];
	struct stat st;
	char path[32];
	int i;

	ASSERT_EQ(0, unload());
	EXPECT_EQ(-EINVAL, load("devices=0"));
	EXPECT_EQ(-EINVAL, load("devices=65"));
	ASSERT_EQ(0, load("devices=3"));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/dev/mkioq%d", i);
		ASSERT_EQ(0, stat(path, &st));
		/* Root only unless a udev rule says otherwise. */
		EXPECT_EQ(0600, st.st_mode & 0777);
		EXPECT_TRUE(S_ISCHR(st.st_mode));
		ASSERT_EQ(0, mkioq_queue_open(path, 8, 0, &q[i]));
	}
	EXPECT_EQ(-1, access("/dev/mkioq3", F_OK));
	for (i = 0; i < 3; i++)
		mkioq_queue_free(q[i]);
	ASSERT_EQ(0, unload());
	ASSERT_EQ(0, load(""));
	EXPECT_EQ(0, access(MKIOQ_DEV, F_OK));
}

TEST_HARNESS_MAIN
