// SPDX-License-Identifier: GPL-2.0
/*
 * Raw system-call checks of /dev/rpibsp-devicemodel for the devicemodel test suite.
 *
 *   dmtest abi                print the ioctl ABI as this program sees it (compared on the host
 *                             with drivers/devicemodel/abi.rs)
 *   dmtest rw                 read/write/offset/EOF semantics
 *   dmtest full CAPACITY      short writes and ENOSPC with a buffer of CAPACITY bytes
 *   dmtest ioctl VALUE GREETING
 *                             every ioctl with good and bad arguments; VALUE and GREETING are the
 *                             device-tree configuration the driver must report
 *   dmtest value VALUE        GET_VALUE returns VALUE
 *   dmtest concurrent N       N processes open the device at once and write/read their own bytes
 *   dmtest hold DIR           open the device, create DIR/held, wait for DIR/go, then check that
 *                             read, write, every ioctl and poll-free calls fail with ENODEV
 *
 * Each command prints "# ..." diagnostics and exits 0 when every check passed, 1 otherwise.
 * Built statically for the board: aarch64-linux-gnu-gcc -static -O2 -Wall -o dmtest dmtest.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dm_abi.h"

static const char *dev_path = "/dev/rpibsp-devicemodel";
static int failures;
/* An unmapped user address, hidden from the compiler's buffer-size checks. */
static void *volatile bad_ptr = (void *)8;

#define CHECK(cond, ...)                                      \
	do {                                                  \
		if (!(cond)) {                                \
			printf("# FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);                  \
			printf("\n");                         \
			failures++;                           \
		}                                             \
	} while (0)

/* Expects `ret` to be -1 with errno `err`. */
#define CHECK_ERR(ret, err, what)                                                        \
	do {                                                                             \
		long _r = (long)(ret);                                                   \
		int _e = errno;                                                          \
		CHECK(_r == -1 && _e == (err), "%s: got %ld (%s), want -1 (%s)", what, _r, \
		      _r == -1 ? strerror(_e) : "no error", strerror(err));              \
	} while (0)

static int open_dev(int flags)
{
	int fd = open(dev_path, flags);

	if (fd < 0) {
		printf("# FAIL: open %s: %s\n", dev_path, strerror(errno));
		exit(1);
	}
	return fd;
}

static int get_status(int fd, struct dm_status *st)
{
	memset(st, 0xa5, sizeof(*st));
	return ioctl(fd, DM_IOC_GET_STATUS, st);
}

static int cmd_abi(void)
{
	printf("ABI_VERSION=%u\n", DM_ABI_VERSION);
	printf("IOC_RESET=%#lx\n", (unsigned long)DM_IOC_RESET);
	printf("IOC_GET_STATUS=%#lx\n", (unsigned long)DM_IOC_GET_STATUS);
	printf("IOC_GET_VALUE=%#lx\n", (unsigned long)DM_IOC_GET_VALUE);
	printf("IOC_SET_VALUE=%#lx\n", (unsigned long)DM_IOC_SET_VALUE);
	printf("IOC_GET_ABI_VERSION=%#lx\n", (unsigned long)DM_IOC_GET_ABI_VERSION);
	printf("STATUS_SIZE=%zu\n", sizeof(struct dm_status));
	printf("STATUS_GREETING_OFFSET=%zu\n", offsetof(struct dm_status, greeting));
	printf("VALUE_MAX=%u\n", DM_VALUE_MAX);
	return 0;
}

static int cmd_rw(void)
{
	char buf[64];
	struct dm_status st;
	int fd = open_dev(O_RDWR);
	ssize_t n;

	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	n = read(fd, buf, sizeof(buf));
	CHECK(n == 0, "read of the empty buffer: %zd, want 0 (EOF)", n);

	n = write(fd, "hello", 5);
	CHECK(n == 5, "write hello: %zd", n);
	/* The file offset moved past the data: EOF. */
	n = read(fd, buf, sizeof(buf));
	CHECK(n == 0, "read at the end: %zd, want 0", n);

	n = pread(fd, buf, sizeof(buf), 0);
	CHECK(n == 5 && !memcmp(buf, "hello", 5), "pread at 0: %zd", n);
	n = pread(fd, buf, 2, 1);
	CHECK(n == 2 && !memcmp(buf, "el", 2), "pread 2 at 1: %zd '%.2s'", n, buf);
	n = pread(fd, buf, sizeof(buf), 4);
	CHECK(n == 1 && buf[0] == 'o', "pread at 4: %zd", n);
	n = pread(fd, buf, sizeof(buf), 5);
	CHECK(n == 0, "pread at the end: %zd, want 0", n);
	n = pread(fd, buf, sizeof(buf), 1000000);
	CHECK(n == 0, "pread far past the end: %zd, want 0", n);

	/* Overwrite in the middle: the length does not change. */
	n = pwrite(fd, "EL", 2, 1);
	CHECK(n == 2, "pwrite at 1: %zd", n);
	/* Past the end: a hole of zeros. */
	n = pwrite(fd, "X", 1, 8);
	CHECK(n == 1, "pwrite at 8: %zd", n);
	n = pread(fd, buf, sizeof(buf), 0);
	CHECK(n == 9 && !memcmp(buf, "hELlo\0\0\0X", 9), "content after pwrites: %zd", n);
	CHECK(get_status(fd, &st) == 0 && st.buf_used == 9, "GET_STATUS buf_used %u, want 9",
	      st.buf_used);

	/* A second file has its own offset and sees the same content. */
	{
		int fd2 = open_dev(O_RDONLY);

		n = read(fd2, buf, 3);
		CHECK(n == 3 && !memcmp(buf, "hEL", 3), "second file read 3: %zd", n);
		n = read(fd2, buf, sizeof(buf));
		CHECK(n == 6 && !memcmp(buf, "lo\0\0\0X", 6), "second file read rest: %zd", n);
		n = read(fd2, buf, sizeof(buf));
		CHECK(n == 0, "second file at EOF: %zd", n);
		CHECK(get_status(fd, &st) == 0 && st.open_count == 2, "open_count %u, want 2",
		      st.open_count);
		close(fd2);
	}
	CHECK(get_status(fd, &st) == 0 && st.open_count == 1, "open_count after close %u, want 1",
	      st.open_count);

	/* No seeking on this device: offsets move by reading and writing only. */
	CHECK_ERR(lseek(fd, 0, SEEK_SET), ESPIPE, "lseek");
	/* Bad user buffers. */
	CHECK_ERR(pread(fd, bad_ptr, 4, 0), EFAULT, "pread into a bad pointer");
	CHECK_ERR(pwrite(fd, bad_ptr, 4, 0), EFAULT, "pwrite from a bad pointer");
	n = write(fd, buf, 0);
	CHECK(n == 0, "zero-length write: %zd", n);

	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	n = pread(fd, buf, sizeof(buf), 0);
	CHECK(n == 0, "read after RESET: %zd, want 0", n);
	CHECK(get_status(fd, &st) == 0 && st.buf_used == 0, "buf_used after RESET %u", st.buf_used);
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_full(long capacity)
{
	char big[256], buf[256];
	struct dm_status st;
	int fd = open_dev(O_RDWR);
	ssize_t n;

	memset(big, 'z', sizeof(big));
	CHECK(capacity > 0 && capacity < (long)sizeof(big) - 8, "capacity %ld unsupported", capacity);
	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	CHECK(get_status(fd, &st) == 0 && st.buf_capacity == capacity, "buf_capacity %u, want %ld",
	      st.buf_capacity, capacity);

	/* More than fits: a short write of the capacity. */
	n = write(fd, big, capacity + 4);
	CHECK(n == capacity, "write of capacity+4: %zd, want %ld", n, capacity);
	n = write(fd, big, 1);
	CHECK_ERR(n, ENOSPC, "write to the full buffer");
	n = pwrite(fd, "ab", 2, capacity - 1);
	CHECK(n == 1, "pwrite of 2 at capacity-1: %zd, want 1", n);
	n = pwrite(fd, "ab", 2, capacity);
	CHECK_ERR(n, ENOSPC, "pwrite at capacity");
	n = pread(fd, buf, sizeof(buf), 0);
	CHECK(n == capacity && buf[capacity - 1] == 'a', "read back: %zd", n);
	CHECK(get_status(fd, &st) == 0 && st.buf_used == capacity, "buf_used %u", st.buf_used);
	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	/* RESET empties the buffer; this file's offset is still at the end. */
	n = pwrite(fd, big, 1, 0);
	CHECK(n == 1, "pwrite at 0 after RESET: %zd", n);
	n = write(fd, big, 1);
	CHECK_ERR(n, ENOSPC, "write at this file's offset (capacity) after RESET");
	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_ioctl(unsigned long value, const char *greeting)
{
	struct dm_status st;
	uint32_t v;
	int fd = open_dev(O_RDWR);
	int ret;

	ret = ioctl(fd, DM_IOC_GET_ABI_VERSION);
	CHECK(ret == DM_ABI_VERSION, "GET_ABI_VERSION returned %d", ret);

	ret = get_status(fd, &st);
	CHECK(ret == 0, "GET_STATUS: %s", strerror(errno));
	CHECK(st.size == sizeof(st), "status.size %u, want %zu", st.size, sizeof(st));
	CHECK(st.abi_version == DM_ABI_VERSION, "status.abi_version %u", st.abi_version);
	CHECK(st.value == value, "status.value %u, want %lu", st.value, value);
	CHECK(st.open_count == 1, "status.open_count %u, want 1", st.open_count);
	CHECK(st.buf_capacity >= 16 && st.buf_capacity <= 65536, "status.buf_capacity %u",
	      st.buf_capacity);
	CHECK(st.greeting[DM_GREETING_LEN - 1] == 0 && !strcmp(st.greeting, greeting),
	      "status.greeting '%.32s', want '%s'", st.greeting, greeting);
	for (size_t i = strlen(st.greeting); i < DM_GREETING_LEN; i++)
		CHECK(st.greeting[i] == 0, "greeting not NUL padded at %zu", i);
	printf("# status: used %u/%u, open %u, value %u, pm %u/%u/%u/%u/%u/%u\n", st.buf_used,
	       st.buf_capacity, st.open_count, st.value, st.suspend_count, st.resume_count,
	       st.freeze_count, st.thaw_count, st.poweroff_count, st.restore_count);

	v = 0xdeadbeef;
	CHECK(ioctl(fd, DM_IOC_GET_VALUE, &v) == 0 && v == value, "GET_VALUE %u, want %lu", v,
	      value);
	v = 7;
	CHECK(ioctl(fd, DM_IOC_SET_VALUE, &v) == 0, "SET_VALUE 7: %s", strerror(errno));
	v = 0;
	CHECK(ioctl(fd, DM_IOC_GET_VALUE, &v) == 0 && v == 7, "GET_VALUE after SET 7: %u", v);
	v = DM_VALUE_MAX;
	CHECK(ioctl(fd, DM_IOC_SET_VALUE, &v) == 0, "SET_VALUE max: %s", strerror(errno));
	v = DM_VALUE_MAX + 1;
	CHECK_ERR(ioctl(fd, DM_IOC_SET_VALUE, &v), EINVAL, "SET_VALUE max+1");
	v = 0xffffffffu;
	CHECK_ERR(ioctl(fd, DM_IOC_SET_VALUE, &v), EINVAL, "SET_VALUE 0xffffffff");
	v = 0;
	CHECK(ioctl(fd, DM_IOC_GET_VALUE, &v) == 0 && v == DM_VALUE_MAX,
	      "value after rejected SETs %u, want %u", v, DM_VALUE_MAX);
	CHECK(get_status(fd, &st) == 0 && st.value == DM_VALUE_MAX, "status.value %u", st.value);

	/* Bad user pointers. */
	CHECK_ERR(ioctl(fd, DM_IOC_GET_STATUS, NULL), EFAULT, "GET_STATUS NULL");
	CHECK_ERR(ioctl(fd, DM_IOC_GET_STATUS, bad_ptr), EFAULT, "GET_STATUS bad pointer");
	CHECK_ERR(ioctl(fd, DM_IOC_GET_VALUE, NULL), EFAULT, "GET_VALUE NULL");
	CHECK_ERR(ioctl(fd, DM_IOC_SET_VALUE, NULL), EFAULT, "SET_VALUE NULL");
	CHECK_ERR(ioctl(fd, DM_IOC_SET_VALUE, (void *)-4096L), EFAULT, "SET_VALUE kernel pointer");

	/* Unknown commands, wrong sizes or directions, another magic. */
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC, 99)), ENOTTY, "unknown nr 99");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, 1, uint32_t), &v), ENOTTY, "GET_STATUS size 4");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, 1, char[200]), &st), ENOTTY,
		  "GET_STATUS size 200");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, 2, uint64_t), &v), ENOTTY, "GET_VALUE size 8");
	CHECK_ERR(ioctl(fd, _IOW(DM_IOC_MAGIC, 2, uint32_t), &v), ENOTTY, "GET_VALUE as _IOW");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, 3, uint32_t), &v), ENOTTY, "SET_VALUE as _IOR");
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC + 1, 0)), ENOTTY, "RESET with another magic");
	CHECK_ERR(ioctl(fd, _IOW(DM_IOC_MAGIC, 0, uint32_t), &v), ENOTTY, "RESET with a size");

	/* RESET empties the buffer and keeps the value. */
	CHECK(write(fd, "abc", 3) == 3, "write: %s", strerror(errno));
	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	CHECK(get_status(fd, &st) == 0 && st.buf_used == 0 && st.value == DM_VALUE_MAX,
	      "after RESET: used %u value %u", st.buf_used, st.value);

	/* Put the configured value back for the next checks. */
	v = value;
	CHECK(ioctl(fd, DM_IOC_SET_VALUE, &v) == 0, "SET_VALUE back: %s", strerror(errno));
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_value(unsigned long value)
{
	uint32_t v = 0xdeadbeef;
	int fd = open_dev(O_RDONLY);

	CHECK(ioctl(fd, DM_IOC_GET_VALUE, &v) == 0 && v == value, "GET_VALUE %u, want %lu", v,
	      value);
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_concurrent(int nproc)
{
	char buf[64];
	struct dm_status st;
	int fd = open_dev(O_RDWR);
	int i, status, bad = 0;

	CHECK(nproc > 0 && nproc <= 32, "1..32 processes");
	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	for (i = 0; i < nproc; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			int cfd = open(dev_path, O_RDWR);
			char c = 'A' + i, r;
			int k, err = 0;

			if (cfd < 0)
				_exit(2);
			/* Each process owns byte i; many rounds of write and read-back. */
			for (k = 0; k < 500; k++) {
				if (pwrite(cfd, &c, 1, i) != 1 || pread(cfd, &r, 1, i) != 1 || r != c)
					err = 1;
			}
			close(cfd);
			_exit(err);
		}
		CHECK(pid > 0, "fork: %s", strerror(errno));
	}
	for (i = 0; i < nproc; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad++;
	}
	CHECK(bad == 0, "%d of %d processes saw a wrong byte or an error", bad, nproc);
	CHECK(pread(fd, buf, sizeof(buf), 0) == nproc, "content length, want %d", nproc);
	for (i = 0; i < nproc; i++)
		CHECK(buf[i] == 'A' + i, "byte %d is '%c'", i, buf[i]);
	CHECK(get_status(fd, &st) == 0 && st.open_count == 1, "open_count %u after the children",
	      st.open_count);
	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_hold(const char *dir)
{
	char path[256], buf[8];
	struct dm_status st;
	uint32_t v = 1;
	int fd = open_dev(O_RDWR), i;

	CHECK(write(fd, "abc", 3) == 3, "write before unbind: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/held", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof(path), "%s/go", dir);
	for (i = 0; i < 600 && access(path, F_OK); i++)
		usleep(50000);
	CHECK(i < 600, "no %s within 30 s", path);

	CHECK_ERR(pread(fd, buf, sizeof(buf), 0), ENODEV, "read after unbind");
	CHECK_ERR(write(fd, "x", 1), ENODEV, "write after unbind");
	CHECK_ERR(ioctl(fd, DM_IOC_RESET), ENODEV, "RESET after unbind");
	CHECK_ERR(ioctl(fd, DM_IOC_GET_STATUS, &st), ENODEV, "GET_STATUS after unbind");
	CHECK_ERR(ioctl(fd, DM_IOC_GET_VALUE, &v), ENODEV, "GET_VALUE after unbind");
	CHECK_ERR(ioctl(fd, DM_IOC_SET_VALUE, &v), ENODEV, "SET_VALUE after unbind");
	CHECK_ERR(ioctl(fd, DM_IOC_GET_ABI_VERSION), ENODEV, "GET_ABI_VERSION after unbind");
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC, 99)), ENODEV, "unknown ioctl after unbind");
	CHECK(close(fd) == 0, "close after unbind: %s", strerror(errno));
	CHECK(access(dev_path, F_OK) != 0, "%s still exists after unbind", dev_path);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("DMTEST_DEV"))
		dev_path = getenv("DMTEST_DEV");
	if (!strcmp(cmd, "abi"))
		return cmd_abi();
	if (!strcmp(cmd, "rw"))
		return cmd_rw();
	if (!strcmp(cmd, "full") && argc > 2)
		return cmd_full(strtol(argv[2], NULL, 0));
	if (!strcmp(cmd, "ioctl") && argc > 3)
		return cmd_ioctl(strtoul(argv[2], NULL, 0), argv[3]);
	if (!strcmp(cmd, "value") && argc > 2)
		return cmd_value(strtoul(argv[2], NULL, 0));
	if (!strcmp(cmd, "concurrent") && argc > 2)
		return cmd_concurrent(atoi(argv[2]));
	if (!strcmp(cmd, "hold") && argc > 2)
		return cmd_hold(argv[2]);
	fprintf(stderr, "usage: dmtest abi|rw|full N|ioctl VALUE GREETING|value V|concurrent N|hold DIR\n");
	return 2;
}
