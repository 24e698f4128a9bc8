// SPDX-License-Identifier: GPL-2.0
/*
 * reltool: the guest-side programs of the reliability suite (tests/reliability/run.sh).
 * Built statically for the board: aarch64-linux-gnu-gcc -static -O2 -pthread.
 *
 *   reltool fuzz [-n CALLS] [-t THREADS] [-s SEED] [-u UNBIND_MS] [-q]
 *       CALLS random ioctl/read/write/pread/pwrite/open/close calls on /dev/rpibsp-devicemodel
 *       from THREADS threads, with random commands, sizes, offsets, open modes and pointers (NULL,
 *       unmapped, PROT_NONE, read-only, kernel addresses, straddling into a PROT_NONE page), while
 *       a control thread unbinds and rebinds the device every UNBIND_MS. Every call's result is
 *       compared with the one the driver documents (drivers/devicemodel/rpibsp_devicemodel.rs,
 *       abi.rs) after the VFS's own checks (fs/read_write.c): a value in the allowed range or one
 *       of the allowed errnos, nothing else. Unbinds alternate between "locked" ones (no call in
 *       flight, so the exact result is known: ENODEV on the old files, ENOENT on open) and "racy"
 *       ones (calls in flight; then a call may also see the other state). The seed is printed;
 *       the same seed gives the same sequence of calls per thread. -q: no per-call mismatch lines
 *       (for the mutant run).
 *   reltool storm FILE INTERVAL_US SECONDS DEBOUNCE_MS
 *       writes "pull-down" and "pull-up" alternately to the gpio-sim pull FILE every INTERVAL_US
 *       for SECONDS (ending with "pull-up"), then prints the figures and the number of presses
 *       the "stable" debounce rule with DEBOUNCE_MS allows for the recorded write times:
 *       "storm writes=N secs=S rate=R maxgap_ms=G pmin=P pmax=Q" (P < Q only when gaps near the
 *       interval make the outcome timing dependent).
 *   reltool noaccess UID r|w|rw FILE...
 *       as UID (and GID), opening each FILE for reading (r), writing (w) or both must fail with
 *       EACCES; prints every FILE that could be opened and "noaccess checked N opened M".
 *
 * Exit status 0 when every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../devicemodel/dm_abi.h"

#define DEV_NODE "/dev/rpibsp-devicemodel"
#define DRV_DIR "/sys/bus/platform/drivers/rpibsp-devicemodel"
#define PDEV "rpibsp-devicemodel"
#define CAPACITY 4096 /* the buffer_size module parameter's default */
#define MAX_RW_COUNT ((long)(INT_MAX & ~4095))
#define AREA_PAGES 16
#define SLOTS 4
#define MAX_REPORTS 40

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: small, fast and reproducible from the seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

/* ---- fuzz: expected results ------------------------------------------------------------------ */

/* The errnos a call may return, as bits. */
enum { B_EFAULT, B_EINVAL, B_ENOTTY, B_ENODEV, B_ENOSPC, B_ENOENT, B_EBADF, B_OTHER, NBITS };
static const int bit_errno[NBITS] = { EFAULT, EINVAL, ENOTTY, ENODEV, ENOSPC, ENOENT, EBADF, 0 };

static int ebit(int e)
{
	for (int i = 0; i < B_OTHER; i++)
		if (bit_errno[i] == e)
			return i;
	return B_OTHER;
}

/* Allowed results: a success value in [lo, hi] (none if lo > hi) or an errno in errs. */
struct expect {
	long lo, hi;
	unsigned errs;
};

static struct expect ex_err(int e)
{
	return (struct expect){ 1, 0, 1u << ebit(e) };
}

static struct expect ex_val(long lo, long hi)
{
	return (struct expect){ lo, hi, 0 };
}

static struct expect ex_union(struct expect a, struct expect b)
{
	if (a.lo > a.hi)
		return (struct expect){ b.lo, b.hi, a.errs | b.errs };
	if (b.lo > b.hi)
		return (struct expect){ a.lo, a.hi, a.errs | b.errs };
	return (struct expect){ a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi, a.errs | b.errs };
}

static void ex_str(struct expect x, char *buf, size_t len)
{
	int n = 0;

	buf[0] = 0;
	if (x.lo <= x.hi)
		n += snprintf(buf + n, len - n, x.lo == x.hi ? "%ld" : "%ld..%ld", x.lo, x.hi);
	for (int i = 0; i < B_OTHER; i++)
		if (x.errs & (1u << i))
			n += snprintf(buf + n, len - n, "%s%s", n ? "|" : "", strerrorname_np(bit_errno[i]));
}

/* ---- fuzz: pointers ---------------------------------------------------------------------------- */

enum ptrkind { P_VALID, P_ODD, P_STRADDLE, P_NULL, P_HOLE, P_GUARD, P_RO, P_KERNEL, NPTR };
static const char *const ptr_name[NPTR] = { "valid", "odd", "straddle", "NULL", "unmapped",
					    "PROT_NONE", "read-only", "kernel" };

struct ptr {
	enum ptrkind kind;
	char *p;
	long rd, wr; /* bytes from p the kernel can read / write */
	int user;    /* passes access_ok() for sizes below 2^32 */
};

static char *ro_page, *hole_page;
static long page;

struct thread {
	int id;
	pthread_t tid;
	uint64_t rng;
	char *area; /* AREA_PAGES writable pages, then a PROT_NONE page */
	struct slot {
		int fd, gen, mode; /* gen -1: opened during a racy unbind, generation unknown */
		long long fpos;
	} slot[SLOTS];
	long calls, mismatches, ops[6], results[NBITS + 1];
};

static struct ptr pick_ptr(struct thread *t)
{
	struct ptr p = { below(&t->rng, NPTR), NULL, 0, 0, 1 };
	char *end = t->area + AREA_PAGES * page;
	long k;

	switch (p.kind) {
	case P_VALID:
		p.p = t->area + below(&t->rng, AREA_PAGES / 2) * page;
		break;
	case P_ODD:
		p.p = t->area + 1 + below(&t->rng, AREA_PAGES / 2 * page);
		break;
	case P_STRADDLE:
		/* k bytes before the PROT_NONE page: mostly small, sometimes up to two pages. */
		k = below(&t->rng, 4) ? 1 + below(&t->rng, 96) : 1 + below(&t->rng, 2 * page);
		p.p = end - k;
		break;
	case P_NULL:
		return p;
	case P_HOLE:
		p.p = hole_page + below(&t->rng, page);
		return p;
	case P_GUARD:
		p.p = end + below(&t->rng, page);
		return p;
	case P_RO:
		p.p = ro_page + below(&t->rng, page);
		p.rd = ro_page + page - p.p;
		return p;
	case P_KERNEL:
		p.p = (char *)(below(&t->rng, 2) ? 0xffff800080000000ULL + below(&t->rng, 1 << 24)
						 : UINT64_MAX - below(&t->rng, 64));
		p.user = 0;
		return p;
	default:
		break;
	}
	p.rd = p.wr = end - p.p;
	return p;
}

static size_t pick_size(struct thread *t)
{
	static const size_t fixed[] = { 0, 1, 4, 80, 4095, 4096, 4097, 65536, 1 << 20, MAX_RW_COUNT,
					(size_t)INT_MAX + 1, SIZE_MAX, 1ULL << 62, 1ULL << 63 };

	switch (below(&t->rng, 4)) {
	case 0:
		return fixed[below(&t->rng, sizeof(fixed) / sizeof(fixed[0]))];
	case 1:
		return below(&t->rng, 2 * CAPACITY);
	default:
		return below(&t->rng, 128);
	}
}

static long long pick_pos(struct thread *t)
{
	static const long long fixed[] = { 0, CAPACITY - 1, CAPACITY, CAPACITY + 1, -1, LLONG_MIN,
					   LLONG_MAX, LLONG_MAX - 3, 1LL << 62 };

	switch (below(&t->rng, 4)) {
	case 0:
		return fixed[below(&t->rng, sizeof(fixed) / sizeof(fixed[0]))];
	case 1:
		return (long long)(rnd(&t->rng) >> 1);
	default:
		return below(&t->rng, CAPACITY + 64);
	}
}

/* ioctl commands the VFS handles itself before the driver (fs/ioctl.c do_vfs_ioctl): the types
 * 'T' (FIO*), 'X', 'f', 0x94, 0x15 and 0 (FIBMAP, FIGETBSZ). Never generated. */
static int vfs_cmd(unsigned cmd)
{
	unsigned ty = _IOC_TYPE(cmd);

	return ty == 'T' || ty == 'X' || ty == 'f' || ty == 0x94 || ty == 0x15 || ty == 0;
}

static const unsigned valid_cmds[] = { DM_IOC_RESET, DM_IOC_GET_STATUS, DM_IOC_GET_VALUE,
				       DM_IOC_SET_VALUE, DM_IOC_GET_ABI_VERSION };

static unsigned pick_cmd(struct thread *t)
{
	unsigned cmd, v = valid_cmds[below(&t->rng, 5)];

	do {
		switch (below(&t->rng, 8)) {
		case 0:
		case 1:
			cmd = v;
			break;
		case 2: /* the right number, another direction */
			cmd = _IOC(below(&t->rng, 4), DM_IOC_MAGIC, _IOC_NR(v), _IOC_SIZE(v));
			break;
		case 3: /* the right number, another size */
			cmd = _IOC(_IOC_DIR(v), DM_IOC_MAGIC, _IOC_NR(v), below(&t->rng, 1 << 14));
			break;
		case 4:
			cmd = _IOC(below(&t->rng, 4), DM_IOC_MAGIC, below(&t->rng, 16), below(&t->rng, 1 << 14));
			break;
		case 5:
			cmd = v ^ (1u << below(&t->rng, 32));
			break;
		default:
			cmd = (unsigned)rnd(&t->rng);
			break;
		}
	} while (vfs_cmd(cmd));
	return cmd;
}

/* ---- fuzz: the model -------------------------------------------------------------------------- */

/* The binding state: `gen` counts unbinds; `racy` is set while an unbind or bind runs without
 * the lock, so calls in flight may see either state. */
static pthread_rwlock_t lock;
static atomic_int gen, bound = 1, racy;
static atomic_long calls_left;
static atomic_int stop_ctl;
static int quiet;

struct snap {
	int gen, bound, racy;
};

static struct snap snapshot(void)
{
	return (struct snap){ atomic_load(&gen), atomic_load(&bound), atomic_load(&racy) };
}

enum op { OP_IOCTL, OP_READ, OP_WRITE, OP_OPEN, OP_CLOSE, OP_PRW };
static const char *const op_name[] = { "ioctl", "read", "write", "open", "close", "p-rw" };

/* The VFS's checks of read/write/pread/pwrite before the driver; 0 when they pass. */
static int vfs_rw_err(int is_p, long long pos, const struct ptr *p, size_t n)
{
	if (is_p && pos < 0)
		return EINVAL;
	if (!p->user || n >= (1ULL << 52) || (uintptr_t)p->p > (1ULL << 52) - n)
		return EFAULT;
	if ((ssize_t)n < 0)
		return EINVAL;
	if ((long long)((unsigned long long)pos + n) < 0)
		return EINVAL;
	return 0;
}

/* The driver's answer to a read or write on a bound device (rpibsp_devicemodel.rs). */
static struct expect drv_rw(int is_write, long long pos, const struct ptr *p, size_t n)
{
	long want, acc;

	if (n > (size_t)MAX_RW_COUNT)
		n = MAX_RW_COUNT;
	if (n == 0)
		return ex_val(0, 0);
	if (pos >= CAPACITY)
		return is_write ? ex_err(ENOSPC) : ex_val(0, 0);
	want = (long)n < CAPACITY - pos ? (long)n : CAPACITY - pos;
	acc = is_write ? p->rd : p->wr;
	if (is_write) {
		if (acc >= want)
			return ex_val(want, want);
		/* A partial copy up to the fault, or EFAULT when nothing could be copied. */
		return acc > 0 ? ex_union(ex_val(1, acc), ex_err(EFAULT)) : ex_err(EFAULT);
	}
	/* Reads: the content length changes under us (other threads), so anything up to what fits. */
	if (acc >= want)
		return ex_val(0, want);
	return ex_union(ex_val(0, acc), ex_err(EFAULT));
}

/* The driver's answer to an ioctl on a bound device (abi.rs): ENOTTY for another type byte or an
 * unknown number, EINVAL for another direction than the number's or a size it rules out (not 0
 * without an argument; 0 or above DM_IOC_SIZE_MAX with one); otherwise min(size, the driver's
 * size) bytes are copied, the missing bytes of an input being zero. */
static struct expect drv_ioctl(unsigned cmd, const struct ptr *p)
{
	unsigned nr = _IOC_NR(cmd), dir = _IOC_DIR(cmd), size = _IOC_SIZE(cmd), want_dir;
	size_t ksize, n;
	uint32_t v = 0;

	if (_IOC_TYPE(cmd) != DM_IOC_MAGIC)
		return ex_err(ENOTTY);
	switch (nr) {
	case DM_NR_RESET:
	case DM_NR_GET_ABI_VERSION:
		want_dir = _IOC_NONE;
		ksize = 0;
		break;
	case DM_NR_GET_STATUS:
		want_dir = _IOC_READ;
		ksize = sizeof(struct dm_status);
		break;
	case DM_NR_GET_VALUE:
		want_dir = _IOC_READ;
		ksize = sizeof(uint32_t);
		break;
	case DM_NR_SET_VALUE:
		want_dir = _IOC_WRITE;
		ksize = sizeof(uint32_t);
		break;
	default:
		return ex_err(ENOTTY);
	}
	if (dir != want_dir)
		return ex_err(EINVAL);
	if (want_dir == _IOC_NONE ? size != 0 : size == 0 || size > DM_IOC_SIZE_MAX)
		return ex_err(EINVAL);
	n = size < ksize ? size : ksize;
	switch (nr) {
	case DM_NR_RESET:
		return ex_val(0, 0);
	case DM_NR_GET_ABI_VERSION:
		return ex_val(DM_ABI_VERSION, DM_ABI_VERSION);
	case DM_NR_SET_VALUE:
		if (!p->user || p->rd < (long)n)
			return ex_err(EFAULT);
		memcpy(&v, p->p, n);
		return v <= DM_VALUE_MAX ? ex_val(0, 0) : ex_err(EINVAL);
	default: /* GET_STATUS, GET_VALUE */
		return p->user && p->wr >= (long)n ? ex_val(0, 0) : ex_err(EFAULT);
	}
}

static void report(struct thread *t, const char *what, long ret, int err, struct expect x)
{
	char want[128];

	t->mismatches++;
	if (quiet || t->mismatches > MAX_REPORTS / 4)
		return;
	ex_str(x, want, sizeof(want));
	printf("# MISMATCH thread %d call %ld: %s = %ld%s%s, expected %s\n", t->id, t->calls, what,
	       ret, ret < 0 ? " " : "", ret < 0 ? strerrorname_np(err) : "", want);
}

static int check(struct thread *t, long ret, int err, struct expect x)
{
	t->results[ret < 0 ? ebit(err) : NBITS]++;
	if (ret >= 0)
		return ret >= x.lo && ret <= x.hi;
	return (x.errs >> ebit(err)) & 1;
}

static int open_mode(struct thread *t)
{
	static const int modes[] = { O_RDWR, O_RDWR, O_RDWR, O_RDONLY, O_WRONLY };

	return modes[below(&t->rng, 5)];
}

static void do_open(struct thread *t, struct slot *s)
{
	int mode = open_mode(t), fd, err;
	struct snap a, b;
	struct expect x;
	char what[96];

	a = snapshot();
	fd = open(DEV_NODE, mode | O_CLOEXEC);
	err = errno;
	b = snapshot();
	if (a.racy || b.racy || a.gen != b.gen || a.bound != b.bound)
		x = ex_union(ex_val(0, INT_MAX), ex_union(ex_err(ENOENT), ex_err(ENODEV)));
	else
		x = a.bound ? ex_val(0, INT_MAX) : ex_err(ENOENT);
	snprintf(what, sizeof(what), "open(mode %d) in generation %d", mode, a.gen);
	if (!check(t, fd, err, x))
		report(t, what, fd, err, x);
	if (fd < 0) {
		usleep(200); /* unbound: let the other calls run */
		return;
	}
	s->fd = fd;
	s->mode = mode;
	s->fpos = 0;
	s->gen = (a.racy || b.racy || a.gen != b.gen) ? -1 : a.gen;
}

static void *fuzz_thread(void *arg)
{
	struct thread *t = arg;

	for (int i = 0; i < SLOTS; i++)
		t->slot[i].fd = -1;
	while (atomic_fetch_sub(&calls_left, 1) > 0) {
		struct slot *s = &t->slot[below(&t->rng, SLOTS)];
		enum op op = below(&t->rng, 100) < 6 ? (s->fd < 0 ? OP_OPEN : OP_CLOSE)
						     : (enum op)below(&t->rng, 3);
		struct expect x, drv = { 1, 0, 0 };
		struct ptr p;
		struct snap a, b;
		char what[192];
		long ret = 0;
		int err = 0, vfs = 0, use_p;
		size_t n = 0;
		long long pos = 0;
		unsigned cmd = 0;

		if (op != OP_OPEN && s->fd < 0)
			op = OP_OPEN;
		t->calls++;
		pthread_rwlock_rdlock(&lock);
		if (op == OP_OPEN) {
			t->ops[OP_OPEN]++;
			do_open(t, s);
			pthread_rwlock_unlock(&lock);
			continue;
		}
		if (op == OP_CLOSE) {
			t->ops[OP_CLOSE]++;
			ret = close(s->fd);
			err = errno;
			pthread_rwlock_unlock(&lock);
			if (!check(t, ret, err, ex_val(0, 0)))
				report(t, "close", ret, err, ex_val(0, 0));
			s->fd = -1;
			continue;
		}
		p = pick_ptr(t);
		use_p = op != OP_IOCTL && below(&t->rng, 2);
		if (op == OP_IOCTL) {
			cmd = pick_cmd(t);
			if (cmd == DM_IOC_SET_VALUE && p.wr >= 4) {
				/* A value we know: mostly valid, sometimes out of range. */
				uint32_t v = below(&t->rng, 4) ? below(&t->rng, DM_VALUE_MAX + 1)
							       : DM_VALUE_MAX + 1 + (uint32_t)below(&t->rng, 1u << 31);
				memcpy(p.p, &v, 4);
			}
			drv = drv_ioctl(cmd, &p);
		} else {
			n = pick_size(t);
			pos = use_p ? pick_pos(t) : s->fpos;
			vfs = vfs_rw_err(use_p, pos, &p, n);
			if (op == OP_READ && s->mode == O_WRONLY)
				vfs = EBADF;
			if (op == OP_WRITE && s->mode == O_RDONLY)
				vfs = EBADF;
			/* pread64 checks the offset before the file; vfs_read the mode before the rest. */
			if (use_p && pos < 0)
				vfs = EINVAL;
			drv = drv_rw(op == OP_WRITE, pos, &p, n);
		}
		t->ops[use_p ? OP_PRW : op]++;
		a = snapshot();
		errno = 0;
		if (op == OP_IOCTL)
			ret = ioctl(s->fd, cmd, p.p);
		else if (op == OP_READ)
			ret = use_p ? pread(s->fd, p.p, n, pos) : read(s->fd, p.p, n);
		else
			ret = use_p ? pwrite(s->fd, p.p, n, pos) : write(s->fd, p.p, n);
		err = errno;
		b = snapshot();
		pthread_rwlock_unlock(&lock);

		if (vfs) {
			x = ex_err(vfs);
		} else if (s->gen >= 0 && s->gen < a.gen) {
			x = ex_err(ENODEV); /* a file of an earlier binding: revoked for good */
		} else if (s->gen < 0 || a.racy || b.racy || a.gen != b.gen || a.bound != b.bound) {
			x = ex_union(drv, ex_err(ENODEV));
		} else {
			x = a.bound ? drv : ex_err(ENODEV);
		}
		if (op == OP_IOCTL)
			snprintf(what, sizeof(what), "ioctl(gen %d/%d, %#x, %s %p)", s->gen, a.gen, cmd,
				 ptr_name[p.kind], (void *)p.p);
		else
			snprintf(what, sizeof(what), "%s%s(gen %d/%d, mode %d, %s %p, %zu, pos %lld)",
				 use_p ? "p" : "", op_name[op], s->gen, a.gen, s->mode, ptr_name[p.kind],
				 (void *)p.p, n, pos);
		if (!check(t, ret, err, x))
			report(t, what, ret, err, x);
		if (ret > 0 && !use_p && op != OP_IOCTL)
			s->fpos += ret;
		if (op == OP_IOCTL && cmd == DM_IOC_GET_STATUS && ret == 0) {
			struct dm_status st;

			memcpy(&st, p.p, sizeof(st));
			if (st.size != sizeof(st) || st.abi_version != DM_ABI_VERSION ||
			    st.buf_capacity != CAPACITY || st.buf_used > CAPACITY || st.value > DM_VALUE_MAX)
				report(t, "GET_STATUS content", st.size, 0, ex_val(sizeof(st), sizeof(st)));
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (t->slot[i].fd >= 0)
			close(t->slot[i].fd);
	return NULL;
}

static int sysfs_write(const char *file, const char *val)
{
	int fd = open(file, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static long ctl_locked, ctl_racy, ctl_failed;

static void set_bound(int b, int locked)
{
	const char *file = b ? DRV_DIR "/bind" : DRV_DIR "/unbind";

	if (locked)
		pthread_rwlock_wrlock(&lock);
	if (sysfs_write(file, PDEV)) {
		printf("# FAIL: writing %s to %s: %s\n", PDEV, file, strerror(errno));
		ctl_failed++;
	}
	if (!b)
		atomic_fetch_add(&gen, 1);
	atomic_store(&bound, b);
	if (locked)
		pthread_rwlock_unlock(&lock);
}

static void *ctl_thread(void *arg)
{
	long period = *(long *)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;

	while (!atomic_load(&stop_ctl)) {
		int locked = (ctl_locked + ctl_racy) % 2 == 0;

		msleep(period / 2 + below(&rng, period));
		if (atomic_load(&stop_ctl))
			break;
		if (!locked)
			atomic_store(&racy, 1);
		set_bound(0, locked);
		msleep(5 + below(&rng, 30));
		set_bound(1, locked);
		atomic_store(&racy, 0);
		locked ? ctl_locked++ : ctl_racy++;
	}
	return NULL;
}

static long read_long(const char *file)
{
	char buf[32] = "";
	int fd = open(file, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		close(fd);
	}
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

static int cmd_fuzz(int argc, char **argv)
{
	long calls = 100000, period = 200, opens;
	int nthreads = 4, c;
	uint64_t seed = 20261122;
	struct thread *th;
	pthread_t ctl;
	pthread_rwlockattr_t attr;
	double t0, secs;
	long total[NBITS + 1] = { 0 }, ops[6] = { 0 }, mism = 0, done = 0;

	while ((c = getopt(argc, argv, "n:t:s:u:q")) != -1) {
		switch (c) {
		case 'n': calls = atol(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'u': period = atol(optarg); break;
		case 'q': quiet = 1; break;
		default: return 2;
		}
	}
	if (nthreads < 1 || nthreads > 64 || period < 10)
		return 2;
	page = sysconf(_SC_PAGESIZE);
	/* A read-only page of 0x11 bytes (SET_VALUE reads 0x11111111: out of range) followed by a
	 * PROT_NONE page, and a page that was unmapped again. */
	ro_page = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole_page = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro_page == MAP_FAILED || hole_page == MAP_FAILED)
		return 1;
	memset(ro_page, 0x11, page);
	mprotect(ro_page, page, PROT_READ);
	mprotect(ro_page + page, page, PROT_NONE);
	munmap(hole_page, page);

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&lock, &attr);
	atomic_store(&calls_left, calls);
	th = calloc(nthreads, sizeof(*th));
	printf("# fuzz: seed %" PRIu64 ", %d threads, %ld calls, unbind/rebind every ~%ld ms\n", seed,
	       nthreads, calls, period);
	fflush(stdout);
	t0 = now();
	for (int i = 0; i < nthreads; i++) {
		th[i].id = i;
		th[i].rng = seed * 0x100000001b3ULL + i + 1;
		th[i].area = mmap(NULL, (AREA_PAGES + 1) * page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (th[i].area == MAP_FAILED)
			return 1;
		mprotect(th[i].area + AREA_PAGES * page, page, PROT_NONE);
		pthread_create(&th[i].tid, NULL, fuzz_thread, &th[i]);
	}
	pthread_create(&ctl, NULL, ctl_thread, &period);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i].tid, NULL);
	atomic_store(&stop_ctl, 1);
	pthread_join(ctl, NULL);
	secs = now() - t0;
	if (!atomic_load(&bound))
		set_bound(1, 1);

	for (int i = 0; i < nthreads; i++) {
		done += th[i].calls;
		mism += th[i].mismatches;
		for (int j = 0; j <= NBITS; j++)
			total[j] += th[i].results[j];
		for (int j = 0; j < 6; j++)
			ops[j] += th[i].ops[j];
	}
	opens = read_long("/sys/bus/platform/devices/" PDEV "/open_count");
	printf("# fuzz: %ld calls in %.1f s (%.0f/s): ioctl %ld, read %ld, write %ld, pread/pwrite %ld, "
	       "open %ld, close %ld\n", done, secs, done / secs, ops[OP_IOCTL], ops[OP_READ],
	       ops[OP_WRITE], ops[OP_PRW], ops[OP_OPEN], ops[OP_CLOSE]);
	printf("# fuzz: results: success %ld", total[NBITS]);
	for (int j = 0; j < B_OTHER; j++)
		printf(", %s %ld", strerrorname_np(bit_errno[j]), total[j]);
	printf(", other errno %ld\n", total[B_OTHER]);
	printf("# fuzz: unbind/rebind cycles: %ld locked, %ld racy, %ld sysfs write failures\n",
	       ctl_locked, ctl_racy, ctl_failed);
	printf("# fuzz: open_count after closing every file: %ld\n", opens);
	printf("fuzz calls=%ld mismatches=%ld unbinds=%ld seconds=%.1f\n", done, mism,
	       ctl_locked + ctl_racy, secs);
	return mism || ctl_failed || opens != 0 || done < calls ? 1 : 0;
}

/* ---- storm ------------------------------------------------------------------------------------ */

static int cmd_storm(int argc, char **argv)
{
	const char *file;
	long interval_us, max, n = 0;
	double secs, deb, t0, next, *t, gap, maxgap = 0;
	long pmin = 0, pmax = 0;
	int rmin = 0, rmax = 0, fd;

	if (argc != 5)
		return 2;
	file = argv[1];
	interval_us = atol(argv[2]);
	secs = atof(argv[3]);
	deb = atof(argv[4]) / 1000;
	max = (long)(secs * 1e6 / (interval_us > 0 ? interval_us : 1)) + 16;
	t = calloc(max, sizeof(*t));
	if (!t)
		return 1;
	/* One open file, rewritten at offset 0 (sysfs takes each write whole): no open/close per edge. */
	fd = open(file, O_WRONLY);
	if (fd < 0) {
		printf("# storm: %s: %s\n", file, strerror(errno));
		return 1;
	}
	t0 = next = now();
	/* Even writes press (pull-down, active low), odd ones release; stop after a release. */
	while (n < max - 1 && (now() - t0 < secs || n % 2)) {
		const char *v = n % 2 ? "pull-up" : "pull-down";

		struct timespec ts;

		if (now() - next > 0.01)
			next = now(); /* fell behind (preempted): no catch-up burst */
		ts.tv_sec = (time_t)next;
		ts.tv_nsec = (long)((next - ts.tv_sec) * 1e9);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		t[n++] = now();
		if (pwrite(fd, v, strlen(v), 0) != (ssize_t)strlen(v)) {
			printf("# storm: writing %s to %s: %s\n", v, file, strerror(errno));
			return 1;
		}
		next += interval_us / 1e6;
	}
	close(fd);
	/* The "stable" rule: a level is reported once it held for the interval. A gap of at least
	 * 1.5 intervals certainly counts, one of at least 0.5 intervals may (edge times are taken
	 * by the interrupt, not here): pmin and pmax bound the presses. The last level holds. */
	for (long i = 0; i < n; i++) {
		int level = i % 2 == 0;

		gap = i + 1 < n ? t[i + 1] - t[i] : 1e9;
		if (i + 1 < n && gap > maxgap)
			maxgap = gap;
		if (gap >= 1.5 * deb && level != rmin) {
			rmin = level;
			pmin += level;
		}
		if (gap >= 0.5 * deb && level != rmax) {
			rmax = level;
			pmax += level;
		}
	}
	secs = t[n - 1] - t[0];
	printf("storm writes=%ld secs=%.2f rate=%.0f maxgap_ms=%.1f pmin=%ld pmax=%ld\n", n, secs,
	       n / (secs > 0 ? secs : 1), maxgap * 1000, pmin, pmax > pmin ? pmax : pmin);
	return 0;
}

/* ---- noaccess -------------------------------------------------------------------------------- */

static int cmd_noaccess(int argc, char **argv)
{
	uid_t uid;
	int flags, checked = 0, opened = 0;

	if (argc < 4)
		return 2;
	uid = atoi(argv[1]);
	if (!strcmp(argv[2], "r"))
		flags = O_RDONLY;
	else if (!strcmp(argv[2], "w"))
		flags = O_WRONLY;
	else if (!strcmp(argv[2], "rw"))
		flags = O_RDWR;
	else
		return 2;
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) {
		printf("# noaccess: cannot become uid %u: %s\n", uid, strerror(errno));
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		int fd = open(argv[i], flags | O_NONBLOCK);

		checked++;
		if (fd >= 0) {
			printf("# noaccess: uid %u can open %s for %s\n", uid, argv[i], argv[2]);
			opened++;
			close(fd);
		} else if (errno != EACCES) {
			printf("# noaccess: uid %u: %s: %s (expected EACCES)\n", uid, argv[i], strerror(errno));
			opened++;
		}
	}
	printf("noaccess checked %d opened %d\n", checked, opened);
	return opened ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "fuzz"))
		return cmd_fuzz(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "storm"))
		return cmd_storm(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "noaccess"))
		return cmd_noaccess(argc - 1, argv + 1);
	fprintf(stderr, "usage: reltool fuzz|storm|noaccess ... (see the source)\n");
	return 2;
}
