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
 *   dmtest sizes VALUE GREETING
 *                             every command with older (smaller) and newer (larger) argument
 *                             sizes: the driver copies min(size in the command, its own size)
 *                             bytes, leaves the rest of an output buffer alone and zero-fills the
 *                             missing bytes of an input; VALUE and GREETING as for `ioctl`
 *   dmtest enotty             unknown numbers, the old type byte 0xB5 and other types: ENOTTY
 *   dmtest einval             known numbers with a wrong direction or an impossible size: EINVAL,
 *                             without any effect
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
#include <sys/mman.h>
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
	printf("IOC_MAGIC=%#x\n", DM_IOC_MAGIC);
	printf("IOC_RESET=%#lx\n", (unsigned long)DM_IOC_RESET);
	printf("IOC_GET_STATUS=%#lx\n", (unsigned long)DM_IOC_GET_STATUS);
	printf("IOC_GET_VALUE=%#lx\n", (unsigned long)DM_IOC_GET_VALUE);
	printf("IOC_SET_VALUE=%#lx\n", (unsigned long)DM_IOC_SET_VALUE);
	printf("IOC_GET_ABI_VERSION=%#lx\n", (unsigned long)DM_IOC_GET_ABI_VERSION);
	printf("STATUS_SIZE=%zu\n", sizeof(struct dm_status));
	printf("STATUS_GREETING_OFFSET=%zu\n", offsetof(struct dm_status, greeting));
	printf("VALUE_MAX=%u\n", DM_VALUE_MAX);
	printf("IOC_SIZE_MAX=%u\n", DM_IOC_SIZE_MAX);
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

	/* Unknown commands, other sizes and wrong directions: dmtest enotty/sizes/einval. */
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC, 99)), ENOTTY, "unknown nr 99");

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

/*
 * Two pages, the second PROT_NONE: `guard_end(g, n)` is the address n bytes before the
 * inaccessible page, so a call that touches more than n bytes from there fails with EFAULT.
 */
struct guard {
	char *base;
	long page;
};

static struct guard guard_map(void)
{
	struct guard g = { NULL, sysconf(_SC_PAGESIZE) };

	g.base = mmap(NULL, 2 * g.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.base == MAP_FAILED || mprotect(g.base + g.page, g.page, PROT_NONE)) {
		printf("# FAIL: mmap/mprotect of a guard page: %s\n", strerror(errno));
		exit(1);
	}
	return g;
}

static char *guard_end(struct guard g, size_t n)
{
	return g.base + g.page - n;
}

/* Whether `n` bytes at `p` all equal `c`. */
static int all_are(const void *p, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != c)
			return 0;
	return 1;
}

/* Sets the value with a full-size SET_VALUE and reads it back. */
static void set_value_ok(int fd, uint32_t v)
{
	uint32_t r = ~v;

	CHECK(ioctl(fd, DM_IOC_SET_VALUE, &v) == 0, "SET_VALUE %u: %s", v, strerror(errno));
	CHECK(ioctl(fd, DM_IOC_GET_VALUE, &r) == 0 && r == v, "GET_VALUE %u, want %u", r, v);
}

static uint32_t get_value(int fd)
{
	uint32_t r = 0xdeadbeef;

	CHECK(ioctl(fd, DM_IOC_GET_VALUE, &r) == 0, "GET_VALUE: %s", strerror(errno));
	return r;
}

static int cmd_sizes(unsigned long value, const char *greeting)
{
	const size_t full = sizeof(struct dm_status), old = offsetof(struct dm_status, greeting);
	const size_t sizes[] = { 1, 4, old, full - 1, full, full + 1, 200, DM_IOC_SIZE_MAX };
	struct guard g = guard_map();
	struct dm_status ref;
	unsigned char buf[DM_IOC_SIZE_MAX + 16];
	uint32_t v;
	char *p;
	int fd = open_dev(O_RDWR);

	/* The reference: a GET_STATUS of this build's size (nothing changes in between). */
	CHECK(get_status(fd, &ref) == 0, "GET_STATUS: %s", strerror(errno));
	CHECK(ref.size == full && !strcmp(ref.greeting, greeting) && ref.value == value,
	      "reference status: size %u greeting '%.32s' value %u", ref.size, ref.greeting, ref.value);

	/*
	 * GET_STATUS of older (smaller) and newer (larger) builds of struct dm_status: the driver
	 * writes min(size, its size) bytes, the rest of the buffer stays as it was. `size` tells a
	 * caller how much the driver's structure has.
	 */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], copied = n < full ? n : full;
		unsigned long cmd = _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_STATUS, n);

		memset(buf, 0x5a, sizeof(buf));
		CHECK(ioctl(fd, cmd, buf) == 0, "GET_STATUS size %zu: %s", n, strerror(errno));
		CHECK(!memcmp(buf, &ref, copied), "GET_STATUS size %zu: the first %zu bytes differ", n,
		      copied);
		CHECK(all_are(buf + copied, sizeof(buf) - copied, 0x5a),
		      "GET_STATUS size %zu: bytes after the first %zu were written", n, copied);
	}
	/* The old 48-byte structure right before an inaccessible page: no byte more is touched. */
	p = guard_end(g, old);
	memset(p, 0x5a, old);
	CHECK(ioctl(fd, _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_STATUS, old), p) == 0,
	      "GET_STATUS size %zu before a guard page: %s", old, strerror(errno));
	CHECK(!memcmp(p, &ref, old), "GET_STATUS size %zu before a guard page: content", old);
	/* A newer 200-byte structure of which only the driver's 80 bytes are accessible. */
	p = guard_end(g, full);
	CHECK(ioctl(fd, _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_STATUS, 200), p) == 0,
	      "GET_STATUS size 200 with %zu accessible bytes: %s", full, strerror(errno));
	CHECK(!memcmp(p, &ref, full), "GET_STATUS size 200 with %zu accessible bytes: content", full);
	/* ... but one byte less is a fault. */
	p = guard_end(g, full - 1);
	CHECK_ERR(ioctl(fd, _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_STATUS, 200), p), EFAULT,
		  "GET_STATUS size 200 with 79 accessible bytes");

	/* GET_VALUE as a 2-byte (older) and an 8-byte (newer) argument. */
	memset(buf, 0x5a, 16);
	CHECK(ioctl(fd, _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_VALUE, 2), buf) == 0,
	      "GET_VALUE size 2: %s", strerror(errno));
	CHECK(!memcmp(buf, &ref.value, 2) && all_are(buf + 2, 14, 0x5a),
	      "GET_VALUE size 2: got %02x %02x %02x", buf[0], buf[1], buf[2]);
	memset(buf, 0x5a, 16);
	p = guard_end(g, 4);
	CHECK(ioctl(fd, _IOR(DM_IOC_MAGIC, DM_NR_GET_VALUE, uint64_t), buf) == 0 &&
		      ioctl(fd, _IOR(DM_IOC_MAGIC, DM_NR_GET_VALUE, uint64_t), p) == 0,
	      "GET_VALUE size 8: %s", strerror(errno));
	CHECK(!memcmp(buf, &ref.value, 4) && all_are(buf + 4, 12, 0x5a) && !memcmp(p, &ref.value, 4),
	      "GET_VALUE size 8: wrong content or bytes after the first 4 written");

	/* SET_VALUE from a newer 8-byte argument: the driver's 4 bytes count, the rest is ignored. */
	{
		uint32_t arg[2] = { 7, 0xffffffffu };

		CHECK(ioctl(fd, _IOW(DM_IOC_MAGIC, DM_NR_SET_VALUE, uint64_t), arg) == 0,
		      "SET_VALUE size 8: %s", strerror(errno));
		CHECK(get_value(fd) == 7, "value after SET_VALUE size 8 {7, ~0}");
	}
	/* Only 4 of the 8 bytes accessible: the driver reads no more than its 4. */
	p = guard_end(g, 4);
	v = 8;
	memcpy(p, &v, 4);
	CHECK(ioctl(fd, _IOW(DM_IOC_MAGIC, DM_NR_SET_VALUE, uint64_t), p) == 0,
	      "SET_VALUE size 8 with 4 accessible bytes: %s", strerror(errno));
	CHECK(get_value(fd) == 8, "value after SET_VALUE size 8 before a guard page");
	/*
	 * SET_VALUE from older (smaller) arguments right before the guard page: the missing upper
	 * bytes are zero, whatever the memory after the argument holds.
	 */
	{
		static const struct {
			size_t n;
			unsigned char b[3];
			uint32_t want; /* 0: EINVAL */
		} small[] = {
			{ 1, { 0xff }, 0xff },
			{ 2, { 0x39, 0x30 }, 12345 },
			{ 3, { 0x40, 0x42, 0x0f }, DM_VALUE_MAX },
			{ 3, { 0x41, 0x42, 0x0f }, 0 }, /* VALUE_MAX + 1 */
		};

		for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
			unsigned long cmd = _IOC(_IOC_WRITE, DM_IOC_MAGIC, DM_NR_SET_VALUE, small[i].n);
			uint32_t before = get_value(fd);

			/* In the middle of a page full of 0xff, too: no byte after the argument counts. */
			memset(g.base, 0xff, g.page);
			memcpy(g.base + 64, small[i].b, small[i].n);
			p = guard_end(g, small[i].n);
			memcpy(p, small[i].b, small[i].n);
			if (small[i].want) {
				CHECK(ioctl(fd, cmd, p) == 0, "SET_VALUE size %zu: %s", small[i].n,
				      strerror(errno));
				CHECK(get_value(fd) == small[i].want, "SET_VALUE size %zu: value %u, want %u",
				      small[i].n, get_value(fd), small[i].want);
				set_value_ok(fd, before);
				CHECK(ioctl(fd, cmd, g.base + 64) == 0 && get_value(fd) == small[i].want,
				      "SET_VALUE size %zu followed by 0xff bytes: value %u, want %u",
				      small[i].n, get_value(fd), small[i].want);
			} else {
				CHECK_ERR(ioctl(fd, cmd, p), EINVAL, "SET_VALUE size 3 of VALUE_MAX + 1");
				CHECK(get_value(fd) == before, "value changed by a rejected SET_VALUE");
			}
		}
	}
	/* The largest size works for an output and an input; it is a page, so check it on buf. */
	memset(buf, 0, sizeof(buf));
	v = 9;
	memcpy(buf, &v, 4);
	CHECK(ioctl(fd, _IOC(_IOC_WRITE, DM_IOC_MAGIC, DM_NR_SET_VALUE, DM_IOC_SIZE_MAX), buf) == 0 &&
		      get_value(fd) == 9,
	      "SET_VALUE size %d: %s", DM_IOC_SIZE_MAX, strerror(errno));

	/* RESET and GET_ABI_VERSION have no argument: size 0 only (dmtest einval). */
	CHECK(ioctl(fd, DM_IOC_GET_ABI_VERSION) == DM_ABI_VERSION, "GET_ABI_VERSION");

	set_value_ok(fd, value);
	munmap(g.base, 2 * g.page);
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_enotty(void)
{
	struct dm_status st;
	unsigned char buf[DM_IOC_SIZE_MAX];
	int fd = open_dev(O_RDWR);
	unsigned nr, t;

	/* Every number above the last command, with every direction. */
	for (nr = DM_NR_GET_ABI_VERSION + 1; nr < 256; nr++) {
		CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC, nr)), ENOTTY, "unknown nr (_IO)");
		CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, nr, uint32_t), buf), ENOTTY, "unknown nr (_IOR)");
		CHECK_ERR(ioctl(fd, _IOW(DM_IOC_MAGIC, nr, uint32_t), buf), ENOTTY, "unknown nr (_IOW)");
		CHECK_ERR(ioctl(fd, _IOWR(DM_IOC_MAGIC, nr, struct dm_status), buf), ENOTTY,
			  "unknown nr (_IOWR)");
		if (failures) {
			printf("# (at nr %u)\n", nr);
			break;
		}
	}
	/* The commands of ABI version 1, with the type byte 0xB5 of rpmsg. */
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC_V1, 0)), ENOTTY, "v1 RESET (type 0xB5)");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC_V1, 1, struct dm_status), &st), ENOTTY,
		  "v1 GET_STATUS (type 0xB5)");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC_V1, 2, uint32_t), buf), ENOTTY,
		  "v1 GET_VALUE (type 0xB5)");
	CHECK_ERR(ioctl(fd, _IOW(DM_IOC_MAGIC_V1, 3, uint32_t), buf), ENOTTY,
		  "v1 SET_VALUE (type 0xB5)");
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC_V1, 4)), ENOTTY, "v1 GET_ABI_VERSION (type 0xB5)");
	/* This version's commands with any other type byte (not the ones the VFS handles). */
	for (t = 1; t < 256; t++) {
		if (t == DM_IOC_MAGIC || t == 'T' || t == 'X' || t == 'f' || t == 0x94 || t == 0x15)
			continue;
		CHECK_ERR(ioctl(fd, _IO(t, DM_NR_GET_ABI_VERSION)), ENOTTY, "GET_ABI_VERSION, other type");
		CHECK_ERR(ioctl(fd, _IOR(t, DM_NR_GET_VALUE, uint32_t), buf), ENOTTY,
			  "GET_VALUE, other type");
		if (failures) {
			printf("# (at type %#x)\n", t);
			break;
		}
	}
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_einval(void)
{
	unsigned char buf[DM_IOC_SIZE_MAX + 16];
	struct dm_status st;
	uint32_t v = 0, before;
	ssize_t n;
	int fd = open_dev(O_RDWR);

	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
	n = write(fd, "abc", 3);
	CHECK(n == 3, "write: %zd", n);
	before = get_value(fd);

	/* Known numbers with another direction. */
	CHECK_ERR(ioctl(fd, _IOW(DM_IOC_MAGIC, DM_NR_RESET, uint32_t), &v), EINVAL, "RESET as _IOW");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, DM_NR_RESET, uint32_t), &v), EINVAL, "RESET as _IOR");
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC, DM_NR_GET_STATUS)), EINVAL, "GET_STATUS as _IO");
	CHECK_ERR(ioctl(fd, _IOW(DM_IOC_MAGIC, DM_NR_GET_STATUS, struct dm_status), &st), EINVAL,
		  "GET_STATUS as _IOW");
	CHECK_ERR(ioctl(fd, _IOWR(DM_IOC_MAGIC, DM_NR_GET_STATUS, struct dm_status), &st), EINVAL,
		  "GET_STATUS as _IOWR");
	CHECK_ERR(ioctl(fd, _IOW(DM_IOC_MAGIC, DM_NR_GET_VALUE, uint32_t), &v), EINVAL,
		  "GET_VALUE as _IOW");
	v = 5;
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, DM_NR_SET_VALUE, uint32_t), &v), EINVAL,
		  "SET_VALUE as _IOR");
	CHECK_ERR(ioctl(fd, _IOWR(DM_IOC_MAGIC, DM_NR_SET_VALUE, uint32_t), &v), EINVAL,
		  "SET_VALUE as _IOWR");
	CHECK_ERR(ioctl(fd, _IO(DM_IOC_MAGIC, DM_NR_SET_VALUE)), EINVAL, "SET_VALUE as _IO");
	CHECK_ERR(ioctl(fd, _IOR(DM_IOC_MAGIC, DM_NR_GET_ABI_VERSION, uint32_t), &v), EINVAL,
		  "GET_ABI_VERSION as _IOR");

	/* Sizes no build of the structures can have. */
	CHECK_ERR(ioctl(fd, _IOC(_IOC_NONE, DM_IOC_MAGIC, DM_NR_RESET, 4), &v), EINVAL,
		  "RESET (_IO) with a size");
	CHECK_ERR(ioctl(fd, _IOC(_IOC_NONE, DM_IOC_MAGIC, DM_NR_GET_ABI_VERSION, 1), &v), EINVAL,
		  "GET_ABI_VERSION (_IO) with a size");
	CHECK_ERR(ioctl(fd, _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_STATUS, 0), buf), EINVAL,
		  "GET_STATUS size 0");
	CHECK_ERR(ioctl(fd, _IOC(_IOC_WRITE, DM_IOC_MAGIC, DM_NR_SET_VALUE, 0), buf), EINVAL,
		  "SET_VALUE size 0");
	CHECK_ERR(ioctl(fd, _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_STATUS, DM_IOC_SIZE_MAX + 1), buf),
		  EINVAL, "GET_STATUS size IOC_SIZE_MAX + 1");
	CHECK_ERR(ioctl(fd, _IOC(_IOC_READ, DM_IOC_MAGIC, DM_NR_GET_VALUE, 16383), buf), EINVAL,
		  "GET_VALUE size 16383");
	memset(buf, 0, sizeof(buf));
	CHECK_ERR(ioctl(fd, _IOC(_IOC_WRITE, DM_IOC_MAGIC, DM_NR_SET_VALUE, DM_IOC_SIZE_MAX + 1), buf),
		  EINVAL, "SET_VALUE size IOC_SIZE_MAX + 1");

	/* None of them had an effect. */
	CHECK(get_status(fd, &st) == 0 && st.buf_used == 3, "buf_used %u after the rejected RESETs",
	      st.buf_used);
	CHECK(get_value(fd) == before, "value changed by a rejected SET_VALUE");
	CHECK(ioctl(fd, DM_IOC_RESET) == 0, "RESET: %s", strerror(errno));
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
	if (!strcmp(cmd, "sizes") && argc > 3)
		return cmd_sizes(strtoul(argv[2], NULL, 0), argv[3]);
	if (!strcmp(cmd, "enotty"))
		return cmd_enotty();
	if (!strcmp(cmd, "einval"))
		return cmd_einval();
	if (!strcmp(cmd, "value") && argc > 2)
		return cmd_value(strtoul(argv[2], NULL, 0));
	if (!strcmp(cmd, "concurrent") && argc > 2)
		return cmd_concurrent(atoi(argv[2]));
	if (!strcmp(cmd, "hold") && argc > 2)
		return cmd_hold(argv[2]);
	fprintf(stderr, "usage: dmtest abi|rw|full N|ioctl VALUE GREETING|sizes VALUE GREETING|enotty|"
			"einval|value V|concurrent N|hold DIR\n");
	return 2;
}
