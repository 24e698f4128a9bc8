// SPDX-License-Identifier: GPL-2.0-only
/*
 * rpibsp-bench: the guest side of the benchmark (bench/run.sh), a static aarch64 program.
 *
 * Presses buttons through gpio-sim (writes "pull-down"/"pull-up" to sim_gpioN/pull), reads
 * their input devices (evdev, CLOCK_MONOTONIC event times), drives LEDs through sysfs and reads
 * GPIO levels (BCM2835 GPLEV0 through /dev/mem, gpio-sim sim_gpioN/value).  Every figure is
 * printed as a "# bench: key=value" line (TAP diagnostics for tests/qemu/boot.sh); other "#"
 * lines are diagnostics.  Exit status 0 unless the program could not run at all (a missing
 * device is reported as "<key>.status=absent", not as an error).
 *
 *   rpibsp-bench latency [-n N] [-d MS] TARGET...     press latency, round robin over TARGETs
 *   rpibsp-bench rate [-n N] [-d MS] [-r HZ,HZ,...] TARGET...   highest loss-free press rate
 *   rpibsp-bench cpu [-n N] [-d MS] [-r HZ] [-b LINE] TARGET... CPU time per event
 *   rpibsp-bench ledw [-n MS] LED...                  LED brightness writes per second (3 x MS)
 *   rpibsp-bench ledlat [-n N] [-d MS] PATH...        button press -> LED GPIO level latency
 *   rpibsp-bench mem [-n REPS] DEV...                 slab + kernel stack bytes per bound device
 *
 *   TARGET  NAME:LINE:INPUT:CODE     gpio-sim line, input device name, key code
 *   LED     NAME:LED:gplev:BIT | NAME:LED:sim:LINE    /sys/class/leds/LED and how to read it
 *   PATH    NAME:ONLINE:OFFLINE:BIT[:INPUT:ONCODE:OFFCODE:LED]
 *           the on/off buttons' sim lines and the GPLEV0 bit to watch; with the optional part,
 *           a child process relays the key events of INPUT to /sys/class/leds/LED (user space
 *           glue, the C drivers' equivalent of the in-kernel LED trigger)
 *   DEV     NAME:DRIVER:DEVICE:UNITS  platform driver and device to unbind/bind; UNITS = the
 *           buttons or LEDs the device has (bytes per unit = bytes per device / UNITS)
 *
 * Buttons are active low: "pull-down" presses, "pull-up" releases.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/input.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 8
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

static int debounce_ms = 20;

/* ---- helpers ------------------------------------------------------------------------------ */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / NS_PER_S, .tv_nsec = t % NS_PER_S };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# rpibsp-bench: error: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	exit(2);
}

static void fig(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# bench: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

/* Reads a small sysfs/proc file into buf (NUL-terminated, trailing newline removed). */
static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static uint32_t rnd_state = 0x12345678;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Median and nearest-rank 99th percentile of n samples (sorted in place), in microseconds. */
static void stats(int64_t *v, int n, double *med, double *p99, double *max)
{
	int k;

	if (n == 0) {
		*med = *p99 = *max = 0;
		return;
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	*med = (n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0) / 1000.0;
	k = (99 * n + 99) / 100 - 1; /* ceil(0.99 n) - 1 */
	if (k < 0)
		k = 0;
	*p99 = v[k] / 1000.0;
	*max = v[n - 1] / 1000.0;
}

static void fig_stats(const char *prefix, int64_t *v, int n)
{
	double med, p99, max;

	stats(v, n, &med, &p99, &max);
	fig("%s_med_us=%.1f", prefix, med);
	fig("%s_p99_us=%.1f", prefix, p99);
	fig("%s_max_us=%.1f", prefix, max);
}

/* ---- gpio-sim ----------------------------------------------------------------------------- */

static char sim_dir[256];

static const char *find_sim(void)
{
	glob_t g;

	if (sim_dir[0])
		return sim_dir;
	if (glob("/sys/devices/platform/gpio-simulator/gpiochip*", 0, NULL, &g) != 0 || g.gl_pathc < 1)
		die("no gpio-sim chip under /sys/devices/platform/gpio-simulator");
	snprintf(sim_dir, sizeof(sim_dir), "%s", g.gl_pathv[0]);
	globfree(&g);
	return sim_dir;
}

static int open_pull(int line)
{
	char p[320];
	int fd;

	snprintf(p, sizeof(p), "%s/sim_gpio%d/pull", find_sim(), line);
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", p, strerror(errno));
	return fd;
}

static void set_pull(int fd, int pressed)
{
	static const char down[] = "pull-down", up[] = "pull-up";
	const char *s = pressed ? down : up;

	if (pwrite(fd, s, strlen(s), 0) != (ssize_t)strlen(s))
		die("writing %s to a sim_gpio pull file: %s", s, strerror(errno));
}

/* ---- BCM2835 GPLEV0 ----------------------------------------------------------------------- */

static volatile uint32_t *gpio_regs;

static void map_gpio(void)
{
	char compat[256] = "";
	off_t base = 0x3F200000; /* BCM2837 (Pi 3, QEMU raspi3b) */
	const char *env = getenv("RPIBSP_BENCH_GPIO_BASE");
	int fd, n;

	if (gpio_regs)
		return;
	fd = open("/proc/device-tree/compatible", O_RDONLY);
	if (fd >= 0) {
		n = read(fd, compat, sizeof(compat) - 1);
		close(fd);
		for (int i = 0; i < n; i++)
			if (!compat[i])
				compat[i] = ' ';
		if (n > 0 && strstr(compat, "bcm2711"))
			base = 0xFE200000;
	}
	if (env)
		base = (off_t)strtoull(env, NULL, 0);
	fd = open("/dev/mem", O_RDONLY | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/mem: %s", strerror(errno));
	gpio_regs = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, base);
	close(fd);
	if (gpio_regs == MAP_FAILED)
		die("mmap GPIO registers at 0x%llx: %s", (unsigned long long)base, strerror(errno));
}

static int gplev(int bit)
{
	return (gpio_regs[0x34 / 4] >> bit) & 1;
}

/* ---- input devices ------------------------------------------------------------------------ */

/* Opens the event device of the input device called name, or returns -1. */
static int open_input(const char *name)
{
	glob_t g;
	int fd = -1, clk = CLOCK_MONOTONIC;

	if (glob("/sys/class/input/event*/device/name", 0, NULL, &g) != 0)
		return -1;
	for (size_t i = 0; i < g.gl_pathc && fd < 0; i++) {
		char b[128], dev[64];
		const char *ev = strstr(g.gl_pathv[i], "event");

		if (read_file(g.gl_pathv[i], b, sizeof(b)) < 0 || strcmp(b, name) != 0)
			continue;
		snprintf(dev, sizeof(dev), "/dev/input/%.*s", (int)strcspn(ev, "/"), ev);
		fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			die("open %s (%s): %s", dev, name, strerror(errno));
		if (ioctl(fd, EVIOCSCLOCKID, &clk) < 0)
			die("EVIOCSCLOCKID on %s: %s", dev, strerror(errno));
	}
	globfree(&g);
	return fd;
}

struct target {
	char name[32];
	int line, code, fd, pull;
	char input[64];
	/* key events seen that were not the expected one */
	int extra;
};

static void parse_target(const char *s, struct target *t)
{
	memset(t, 0, sizeof(*t));
	if (sscanf(s, "%31[^:]:%d:%63[^:]:%d", t->name, &t->line, t->input, &t->code) != 4)
		die("bad target '%s' (NAME:LINE:INPUT:CODE)", s);
	t->fd = -1;
}

/* Opens the target's files; returns 0, or -1 (and prints NAME.status=absent) without a device. */
static int open_target(const char *what, struct target *t)
{
	t->pull = open_pull(t->line);
	t->fd = open_input(t->input);
	if (t->fd < 0) {
		fig("%s.%s.status=absent", what, t->name);
		diag("%s %s: no input device '%s' (driver not bound?)", what, t->name, t->input);
		return -1;
	}
	return 0;
}

/* Reads all pending events; returns the number of key events for t->code. */
struct evcount {
	int press, release;
	int64_t last_time;
};

static void drain(struct target *t, struct evcount *c)
{
	struct input_event ev[64];
	ssize_t n;

	while ((n = read(t->fd, ev, sizeof(ev))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
			if (ev[i].type != EV_KEY)
				continue;
			if (ev[i].code != t->code) {
				t->extra++;
				continue;
			}
			if (c) {
				if (ev[i].value == 1)
					c->press++;
				else if (ev[i].value == 0)
					c->release++;
				c->last_time = (int64_t)ev[i].input_event_sec * NS_PER_S +
					       (int64_t)ev[i].input_event_usec * 1000;
			}
		}
	}
}

/* Waits for the key event (code, value); returns 0 with the event time and the receive time, or
 * -1 after timeout_ms.  Other key events are counted in t->extra. */
static int wait_key(struct target *t, int value, int timeout_ms, int64_t *ev_time, int64_t *rx_time)
{
	int64_t deadline = now_ns() + timeout_ms * NS_PER_MS;

	for (;;) {
		struct input_event ev[16];
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		int64_t left = deadline - now_ns();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)(left / NS_PER_MS) + 1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		n = read(t->fd, ev, sizeof(ev));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("read %s: %s", t->input, strerror(errno));
		}
		*rx_time = now_ns();
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
			if (ev[i].type != EV_KEY)
				continue;
			if (ev[i].code == t->code && ev[i].value == value) {
				*ev_time = (int64_t)ev[i].input_event_sec * NS_PER_S +
					   (int64_t)ev[i].input_event_usec * 1000;
				/* anything after it in this read is unexpected */
				for (size_t j = i + 1; j < (size_t)n / sizeof(ev[0]); j++)
					if (ev[j].type == EV_KEY)
						t->extra++;
				return 0;
			}
			t->extra++;
		}
	}
}

static int parse_common(int argc, char **argv, int *count, char **rates, int *baseline)
{
	int opt;

	while ((opt = getopt(argc, argv, "n:d:r:b:")) != -1) {
		switch (opt) {
		case 'n':
			*count = atoi(optarg);
			break;
		case 'd':
			debounce_ms = atoi(optarg);
			break;
		case 'r':
			if (!rates)
				die("-r is not an option of this command");
			*rates = optarg;
			break;
		case 'b':
			if (!baseline)
				die("-b is not an option of this command");
			*baseline = atoi(optarg);
			break;
		default:
			die("bad option");
		}
	}
	if (*count <= 0 || debounce_ms <= 0)
		die("-n and -d must be positive");
	return optind;
}

/* Releases every target's line and waits until every driver has settled, then drops events. */
static void settle(struct target *t, int n)
{
	for (int i = 0; i < n; i++)
		set_pull(t[i].pull, 0);
	usleep((3 * debounce_ms + 100) * 1000);
	for (int i = 0; i < n; i++)
		if (t[i].fd >= 0)
			drain(&t[i], NULL);
}

/* ---- latency ------------------------------------------------------------------------------ */

/* Samples of one edge direction: event time and receive time, relative to the edge. */
struct lat {
	int64_t *ev, *rx;
	int n;
};

/* Makes one edge (pressed or released) and waits for its event; returns the edge's time. */
static int64_t lat_edge(struct target *t, int pressed, struct lat *l, int *bad, int *lost)
{
	int64_t t0 = now_ns(), ev, rx;

	set_pull(t->pull, pressed);
	if (wait_key(t, pressed, 1000, &ev, &rx) == 0) {
		l->ev[l->n] = ev - t0;
		l->rx[l->n] = rx - t0;
		if (ev < t0 || rx < ev)
			(*bad)++;
		l->n++;
	} else {
		(*lost)++;
	}
	return t0;
}

static int cmd_latency(int argc, char **argv)
{
	int count = 1000, first = parse_common(argc, argv, &count, NULL, NULL), nt = 0;
	struct target t[MAX_TARGETS];
	struct lat lat[MAX_TARGETS][2] = { 0 }; /* [0] release, [1] press */
	int lost[MAX_TARGETS] = { 0 }, bad[MAX_TARGETS] = { 0 }, live[MAX_TARGETS] = { 0 };
	int64_t hold = (debounce_ms + 5) * NS_PER_MS, start = now_ns();
	static const char *const what[2] = { "release", "press" };

	for (int i = first; i < argc && nt < MAX_TARGETS; i++, nt++) {
		parse_target(argv[i], &t[nt]);
		live[nt] = open_target("lat", &t[nt]) == 0;
		for (int d = 0; d < 2; d++) {
			lat[nt][d].ev = calloc(count, sizeof(int64_t));
			lat[nt][d].rx = calloc(count, sizeof(int64_t));
			if (!lat[nt][d].ev || !lat[nt][d].rx)
				die("out of memory");
		}
	}
	settle(t, nt);
	/* Round robin: slow drifts of the emulation speed hit every driver alike. */
	for (int k = 0; k < count; k++) {
		for (int i = 0; i < nt; i++) {
			int64_t t0;

			if (!live[i])
				continue;
			t0 = lat_edge(&t[i], 1, &lat[i][1], &bad[i], &lost[i]);
			/* hold for the interval: "fast" ignores edges that soon after the first */
			sleep_until(t0 + hold);
			t0 = lat_edge(&t[i], 0, &lat[i][0], &bad[i], &lost[i]);
			sleep_until(t0 + hold + (int64_t)(rnd() % 4000) * 1000);
		}
	}
	for (int i = 0; i < nt; i++) {
		if (!live[i])
			continue;
		drain(&t[i], NULL);
		fig("lat.%s.n=%d", t[i].name, lat[i][1].n);
		fig("lat.%s.lost=%d", t[i].name, lost[i]);
		fig("lat.%s.bad_order=%d", t[i].name, bad[i]);
		fig("lat.%s.unexpected=%d", t[i].name, t[i].extra);
		for (int d = 1; d >= 0; d--) {
			char p[64];

			snprintf(p, sizeof(p), "lat.%.31s.%s_ev", t[i].name, what[d]);
			fig_stats(p, lat[i][d].ev, lat[i][d].n);
			snprintf(p, sizeof(p), "lat.%.31s.%s_rx", t[i].name, what[d]);
			fig_stats(p, lat[i][d].rx, lat[i][d].n);
		}
	}
	diag("latency: %d presses per target in %.1f s", count, (now_ns() - start) / 1e9);
	return 0;
}

/* ---- press trains: throughput and CPU time ------------------------------------------------ */

struct train {
	int press, release, extra;
	double achieved_hz;
};

/* count press/release cycles at rate_hz (50 % duty); t->fd < 0: nobody reads (baseline). */
static void press_train(struct target *t, int count, double rate_hz, struct train *r)
{
	int64_t half = (int64_t)(NS_PER_S / rate_hz / 2), start, tt, end;
	struct evcount c = { 0 };
	int extra0 = t->extra;

	start = tt = now_ns() + 10 * NS_PER_MS;
	for (int k = 0; k < count; k++) {
		for (int pressed = 1; pressed >= 0; pressed--) {
			sleep_until(tt);
			set_pull(t->pull, pressed);
			tt += half;
			if (t->fd >= 0) {
				/* read while waiting for the next edge */
				for (;;) {
					struct pollfd p = { .fd = t->fd, .events = POLLIN };
					int64_t left = tt - now_ns();

					if (left <= 0)
						break;
					if (poll(&p, 1, (int)(left / NS_PER_MS)) > 0)
						drain(t, &c);
					else if (left < NS_PER_MS)
						break;
				}
			}
		}
	}
	end = now_ns();
	if (t->fd >= 0) {
		sleep_until(end + (3 * debounce_ms + 100) * NS_PER_MS);
		drain(t, &c);
	}
	r->press = c.press;
	r->release = c.release;
	r->extra = t->extra - extra0;
	r->achieved_hz = count / ((end - start) / 1e9);
}

/* One step of the sweep: count presses at hz, once more if that lost anything (a single host
 * hiccup is not the driver's limit).  Returns 1 if nothing was lost, 0 on loss, -1 when the
 * writer could not keep the pace. */
static int rate_step(struct target *t, int count, double hz)
{
	struct train r;
	int ok = 0;

	for (int attempt = 0; attempt < 2 && !ok; attempt++) {
		settle(t, 1);
		press_train(t, count, hz, &r);
		ok = r.press == count && r.release == count && r.extra == 0;
		diag("rate %s %g Hz (achieved %.1f Hz): %d/%d presses, %d/%d releases%s", t->name, hz,
		     r.achieved_hz, r.press, count, r.release, count, ok ? "" : " - LOSS");
		if (r.achieved_hz < 0.9 * hz) {
			diag("rate %s: the writer cannot press at %g Hz", t->name, hz);
			return -1;
		}
	}
	return ok;
}

static int cmd_rate(int argc, char **argv)
{
	int count = 50, nt = 0;
	char *rates = "5,10,12,14,16,18,20,22,25,28,32,36,40,45,50,60,70,80,100,125,150,200";
	int first = parse_common(argc, argv, &count, &rates, NULL);
	struct target t[MAX_TARGETS];
	double best[MAX_TARGETS] = { 0 }, fail[MAX_TARGETS] = { 0 };
	int live[MAX_TARGETS] = { 0 }, left = 0, limited[MAX_TARGETS] = { 0 };
	char *list = strdup(rates), *save = NULL;

	for (int i = first; i < argc && nt < MAX_TARGETS; i++, nt++) {
		parse_target(argv[i], &t[nt]);
		live[nt] = open_target("rate", &t[nt]) == 0;
		left += live[nt];
	}
	/* Every step on every driver still without loss before the next step: the emulation's
	 * speed changes hit all of them alike. */
	for (char *tok = strtok_r(list, ",", &save); tok && left; tok = strtok_r(NULL, ",", &save)) {
		double hz = atof(tok);

		for (int i = 0; i < nt; i++) {
			int ok;

			if (!live[i])
				continue;
			ok = rate_step(&t[i], count, hz);
			if (ok == 1) {
				best[i] = hz;
				continue;
			}
			if (ok == 0)
				fail[i] = hz;
			else
				limited[i] = 1;
			live[i] = 0;
			left--;
		}
	}
	free(list);
	for (int i = 0; i < nt; i++) {
		if (t[i].fd < 0)
			continue;
		fig("rate.%s.presses_per_step=%d", t[i].name, count);
		fig("rate.%s.max_lossless_hz=%g", t[i].name, best[i]);
		if (fail[i] > 0)
			fig("rate.%s.first_loss_hz=%g", t[i].name, fail[i]);
		if (limited[i])
			fig("rate.%s.writer_limited=1", t[i].name);
		if (live[i]) /* no loss at any rate of the list: the limit is higher */
			fig("rate.%s.lossless_at_every_rate=1", t[i].name);
	}
	return 0;
}

/* se.sum_exec_runtime (ns) of one task, from /proc/PID/sched (or /proc/PID/task/TID/sched). */
static int64_t task_runtime_ns(const char *dir)
{
	char p[600], buf[4096], *l;
	int fd;
	ssize_t n;
	long long ms = 0, frac = 0;

	snprintf(p, sizeof(p), "%s/sched", dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	l = strstr(buf, "se.sum_exec_runtime");
	if (!l || !(l = strchr(l, ':')) || sscanf(l + 1, " %lld.%lld", &ms, &frac) < 1)
		return 0;
	return ms * NS_PER_MS + frac; /* printed as "%Ld.%06ld": ms and ns */
}

/* Run time of every thread in the system (/proc/PID/task/TID/sched, se.sum_exec_runtime). */
#define MAX_TASKS 1024

struct tasksnap {
	int n;
	int tid[MAX_TASKS];
	char comm[MAX_TASKS][20];
	int64_t ns[MAX_TASKS];
};

static void task_snap(struct tasksnap *s)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	s->n = 0;
	if (!d)
		die("opendir /proc: %s", strerror(errno));
	while ((e = readdir(d))) {
		char p[300];
		DIR *td;
		struct dirent *te;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/task", e->d_name);
		td = opendir(p);
		if (!td)
			continue;
		while ((te = readdir(td)) && s->n < MAX_TASKS) {
			char sp[600], cp[640];

			if (te->d_name[0] < '1' || te->d_name[0] > '9')
				continue;
			snprintf(sp, sizeof(sp), "/proc/%s/task/%s", e->d_name, te->d_name);
			snprintf(cp, sizeof(cp), "%s/comm", sp);
			if (read_file(cp, s->comm[s->n], sizeof(s->comm[0])) < 0)
				continue;
			s->tid[s->n] = atoi(te->d_name);
			s->ns[s->n++] = task_runtime_ns(sp);
		}
		closedir(td);
	}
	closedir(d);
}

/* Threads that carry a button event: this process (the writer and reader; the hard interrupt
 * of gpio-sim runs from its irq_work in this context), interrupt threads and the unbound
 * kworkers (gpio-keys' debounce work, the LED core's work).  The rest (RCU, per-CPU kworkers,
 * init ...) is background. */
static int event_task(const struct tasksnap *s, int i)
{
	return !strncmp(s->comm[i], "irq/", 4) || !strncmp(s->comm[i], "kworker/u", 9);
}

/* This process's CPU time: read tightly around the press train (the /proc scans before and
 * after it cost far more than the train itself and would be charged here). */
static int64_t self_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Run time gained between two snapshots: all threads, and the event threads only. */
static void task_delta(const struct tasksnap *a, const struct tasksnap *b, int64_t *all, int64_t *ev,
		       char *top, size_t toplen)
{
	int64_t best[3] = { 0 };
	int bi[3] = { -1, -1, -1 };

	*all = *ev = 0;
	for (int i = 0; i < b->n; i++) {
		int64_t before = 0, d;

		for (int j = 0; j < a->n; j++)
			if (a->tid[j] == b->tid[i]) {
				before = a->ns[j];
				break;
			}
		if (b->tid[i] == getpid())
			continue; /* see self_ns() */
		d = b->ns[i] - before;
		*all += d;
		if (event_task(b, i))
			*ev += d;
		for (int k = 0; k < 3; k++)
			if (d > best[k]) {
				for (int m = 2; m > k; m--) {
					best[m] = best[m - 1];
					bi[m] = bi[m - 1];
				}
				best[k] = d;
				bi[k] = i;
				break;
			}
	}
	top[0] = 0;
	for (int k = 0, len = 0; k < 3 && bi[k] >= 0; k++)
		len += snprintf(top + len, toplen - len, " %s:%lldus", b->comm[bi[k]],
				(long long)(best[k] / 1000));
}

/* The interrupt of a gpio-sim line (chip "irq_sim", hwirq = line) from /proc/interrupts, with
 * its count summed over the CPUs; returns the IRQ number or -1. */
static int sim_irq(int line, long long *count)
{
	FILE *f = fopen("/proc/interrupts", "re");
	char l[512];
	int irq = -1;

	if (!f)
		return -1;
	while (irq < 0 && fgets(l, sizeof(l), f)) {
		char *save = NULL, *tok = strtok_r(l, " \t\n", &save);
		long long sum = 0;
		int n;

		if (!tok || sscanf(tok, "%d:", &n) != 1)
			continue;
		while ((tok = strtok_r(NULL, " \t\n", &save)) && tok[0] >= '0' && tok[0] <= '9')
			sum += atoll(tok);
		if (tok && !strcmp(tok, "irq_sim") && (tok = strtok_r(NULL, " \t\n", &save)) &&
		    atoi(tok) == line) {
			irq = n;
			*count = sum;
		}
	}
	fclose(f);
	return irq;
}

/* Run time of the interrupt thread "irq/IRQ-..." (threaded handlers), 0 if there is none. */
static int64_t irq_thread_ns(int irq, int *found)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char want[32];
	int64_t sum = 0;

	*found = 0;
	if (!d || irq < 0) {
		if (d)
			closedir(d);
		return 0;
	}
	snprintf(want, sizeof(want), "irq/%d-", irq);
	while ((e = readdir(d))) {
		char p[300], comm[64];

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/comm", e->d_name);
		if (read_file(p, comm, sizeof(comm)) < 0 || strncmp(comm, want, strlen(want)))
			continue;
		snprintf(p, sizeof(p), "/proc/%s", e->d_name);
		sum += task_runtime_ns(p);
		*found = 1;
	}
	closedir(d);
	return sum;
}

/*
 * CPU time per event: task run time (se.sum_exec_runtime, /proc/.../sched) gained over a press
 * train on the target, minus the same over a press train on an unused sim line that nobody
 * listens to (the baseline: writing the pull, gpio-sim, the loop itself).  Two sums: the threads
 * that carry an event (event_task(): this process, which also runs gpio-sim's hard interrupt,
 * interrupt threads, unbound kworkers) - the figure reported - and every thread in the system
 * (RCU, per-CPU kworkers, init ... add background noise) - for the record.  Hard interrupts
 * that hit an idle CPU are charged to no task (a timer's callback, e.g.); under the default
 * real-time clock, a host that deschedules QEMU's vCPU thread charges that time to whatever
 * guest task ran (bench/run.sh uses QEMU's instruction-counting clock to avoid this).  The
 * trains are split into rounds (baseline and every target, in a new random order each round);
 * medians over the rounds.
 */
#define CPU_ROUNDS_MAX 15

static int cmd_cpu(int argc, char **argv)
{
	int count = 150, baseline = 31, nt = 0, rounds, per;
	char *rate_s = "10";
	int first = parse_common(argc, argv, &count, &rate_s, &baseline);
	struct target t[MAX_TARGETS + 1];
	double rate = atof(rate_s);
	int64_t ev[MAX_TARGETS + 1][CPU_ROUNDS_MAX], all[MAX_TARGETS + 1][CPU_ROUNDS_MAX];
	int64_t thread[MAX_TARGETS + 1][CPU_ROUNDS_MAX], irqs[MAX_TARGETS + 1][CPU_ROUNDS_MAX];
	int has_thread[MAX_TARGETS + 1] = { 0 };
	int lossy[MAX_TARGETS + 1] = { 0 }, live[MAX_TARGETS + 1] = { 0 };
	static struct tasksnap sa, sb;

	if (rate <= 0 || rate > 1000.0 / (2 * (debounce_ms + 5)))
		die("cpu: -r %s Hz is too fast for a %d ms debounce interval", rate_s, debounce_ms);
	rounds = count >= 140 ? 7 : count >= 50 ? 5 : 3;
	per = count / rounds;
	if (per < 1)
		die("cpu: -n %d is too small", count);
	/* target 0: the baseline, an unused sim line that nobody listens to */
	memset(&t[0], 0, sizeof(t[0]));
	snprintf(t[0].name, sizeof(t[0].name), "baseline");
	t[0].line = baseline;
	t[0].fd = -1;
	t[0].pull = open_pull(baseline);
	live[0] = 1;
	for (int i = first; i < argc && nt < MAX_TARGETS; i++) {
		nt++;
		parse_target(argv[i], &t[nt]);
		live[nt] = open_target("cpu", &t[nt]) == 0;
	}
	nt++;
	settle(t, nt);
	for (int r = 0; r < rounds; r++) {
		int order[MAX_TARGETS + 1];

		/* a new order every round: periodic background work (it exists: pm_wq, vmstat ...)
		 * would otherwise fall on the same block each time */
		for (int i = 0; i < nt; i++)
			order[i] = i;
		for (int i = nt - 1; i > 0; i--) {
			int j = rnd() % (i + 1), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		for (int oi = 0; oi < nt; oi++) {
			int i = order[oi];
			struct train tr;
			long long ic0 = 0, ic1 = 0;
			int irq, found;
			int64_t th0, th1, me;
			char top[256];

			if (!live[i])
				continue;
			irq = sim_irq(t[i].line, &ic0);
			th0 = irq_thread_ns(irq, &found);
			task_snap(&sa);
			me = self_ns();
			press_train(&t[i], per, rate, &tr);
			me = self_ns() - me;
			task_snap(&sb);
			sim_irq(t[i].line, &ic1);
			th1 = irq_thread_ns(irq, &found);
			task_delta(&sa, &sb, &all[i][r], &ev[i][r], top, sizeof(top));
			all[i][r] += me;
			ev[i][r] += me;
			thread[i][r] = th1 - th0;
			irqs[i][r] = ic1 - ic0;
			has_thread[i] = found;
			if (i > 0)
				lossy[i] += 2 * per - tr.press - tr.release;
			diag("cpu round %d %s: per cycle %.1f us event threads (this process %.1f), %.1f us "
			     "all; others:%s%s", r, t[i].name, ev[i][r] / 1000.0 / per, me / 1000.0 / per,
			     all[i][r] / 1000.0 / per, top,
			     i > 0 && (tr.press != per || tr.release != per) ? " (events lost)" : "");
		}
	}
	{
		int64_t v[CPU_ROUNDS_MAX];
		double med, p99, max;

		for (int r = 0; r < rounds; r++)
			v[r] = ev[0][r] / per;
		stats(v, rounds, &med, &p99, &max);
		fig("cpu.baseline.us_per_cycle=%.1f", med);
		for (int r = 0; r < rounds; r++)
			v[r] = all[0][r] / per;
		stats(v, rounds, &med, &p99, &max);
		fig("cpu.baseline.all_us_per_cycle=%.1f", med);
		for (int i = 1; i < nt; i++) {
			if (!live[i])
				continue;
			/* per round: (target - baseline) per event; one cycle = press + release */
			for (int r = 0; r < rounds; r++)
				v[r] = (ev[i][r] - ev[0][r]) / per / 2;
			stats(v, rounds, &med, &p99, &max);
			fig("cpu.%s.us_per_event=%.1f", t[i].name, med);
			fig("cpu.%s.min_us_per_event=%.1f", t[i].name, v[0] / 1000.0);
			fig("cpu.%s.max_us_per_event=%.1f", t[i].name, max);
			for (int r = 0; r < rounds; r++)
				v[r] = (all[i][r] - all[0][r]) / per / 2;
			stats(v, rounds, &med, &p99, &max);
			fig("cpu.%s.all_us_per_event=%.1f", t[i].name, med);
			fig("cpu.%s.lost_events=%d", t[i].name, lossy[i]);
			for (int r = 0; r < rounds; r++)
				v[r] = irqs[i][r] * 1000 / per; /* stats() divides by 1000 */
			stats(v, rounds, &med, &p99, &max);
			fig("cpu.%s.irqs_per_cycle=%.2f", t[i].name, med);
			if (has_thread[i]) {
				for (int r = 0; r < rounds; r++)
					v[r] = thread[i][r] / per / 2;
				stats(v, rounds, &med, &p99, &max);
				fig("cpu.%s.irq_thread_us_per_event=%.1f", t[i].name, med);
			}
		}
		fig("cpu.cycles_per_round=%d", per);
		fig("cpu.rounds=%d", rounds);
		fig("cpu.rate_hz=%g", rate);
	}
	return 0;
}

/* ---- LEDs --------------------------------------------------------------------------------- */

struct led {
	char name[32], led[64], kind[8];
	int where; /* GPLEV0 bit or sim line */
	int fd, vfd; /* brightness, sim_gpioN/value */
};

static void parse_led(const char *s, struct led *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = l->vfd = -1;
	if (sscanf(s, "%31[^:]:%63[^:]:%7[^:]:%d", l->name, l->led, l->kind, &l->where) != 4 ||
	    (strcmp(l->kind, "gplev") && strcmp(l->kind, "sim")))
		die("bad LED '%s' (NAME:LED:gplev:BIT or NAME:LED:sim:LINE)", s);
}

static int led_level(struct led *l)
{
	char b[8];

	if (!strcmp(l->kind, "gplev")) {
		map_gpio();
		return gplev(l->where);
	}
	if (l->vfd < 0) {
		char p[320];

		snprintf(p, sizeof(p), "%s/sim_gpio%d/value", find_sim(), l->where);
		l->vfd = open(p, O_RDONLY | O_CLOEXEC);
		if (l->vfd < 0)
			die("open %s: %s", p, strerror(errno));
	}
	if (pread(l->vfd, b, sizeof(b), 0) < 1)
		die("reading sim_gpio%d/value: %s", l->where, strerror(errno));
	return b[0] == '1';
}

/* Waits until the LED's GPIO level is `want` (the LED core may set it from a work item). */
static int wait_level(struct led *l, int want)
{
	int64_t limit = now_ns() + NS_PER_S;

	while (led_level(l) != want)
		if (now_ns() > limit)
			return -1;
	return 0;
}

static int open_led(struct led *l)
{
	char p[160];

	snprintf(p, sizeof(p), "/sys/class/leds/%s/trigger", l->led);
	if (write_file(p, "none") < 0)
		return -1;
	snprintf(p, sizeof(p), "/sys/class/leds/%s/brightness", l->led);
	l->fd = open(p, O_WRONLY | O_CLOEXEC);
	return l->fd < 0 ? -1 : 0;
}

static void led_set(int fd, int on)
{
	const char *s = on ? "255" : "0";

	if (pwrite(fd, s, strlen(s), 0) != (ssize_t)strlen(s))
		die("LED brightness write: %s", strerror(errno));
}

/* One timed round: brightness writes for ms_each milliseconds, with (toggles) or without (raw)
 * waiting for the GPIO level after each write; returns writes per second, or -1. */
static int64_t ledw_round(struct led *l, int toggles, int ms_each)
{
	int64_t a, b, end;
	long k = 0;

	led_set(l->fd, 0);
	if (wait_level(l, 0) < 0) {
		diag("ledw %s: brightness 0 but GPIO level 1", l->name);
		return -1;
	}
	a = now_ns();
	end = a + ms_each * NS_PER_MS;
	do {
		for (int j = 0; j < 64; j++, k++) {
			led_set(l->fd, !(k & 1));
			if (toggles && wait_level(l, !(k & 1)) < 0) {
				diag("ledw %s: write %ld: the GPIO level did not follow", l->name, k);
				return -1;
			}
		}
		b = now_ns();
	} while (b < end);
	return (int64_t)(k / ((b - a) / 1e9));
}

#define LEDW_ROUNDS 3

static int cmd_ledw(int argc, char **argv)
{
	int ms_each = 500, first = parse_common(argc, argv, &ms_each, NULL, NULL), nl = 0;
	struct led l[MAX_TARGETS];
	char trig[MAX_TARGETS][64];
	int ok[MAX_TARGETS];
	int64_t rate[MAX_TARGETS][2][LEDW_ROUNDS];

	for (int i = first; i < argc && nl < MAX_TARGETS; i++) {
		char p[160], buf[4096], *o, *c;
		struct led *x = &l[nl];

		parse_led(argv[i], x);
		/* the active trigger, restored afterwards: "none [rpibsp-button] timer ..." */
		trig[nl][0] = 0;
		snprintf(p, sizeof(p), "/sys/class/leds/%s/trigger", x->led);
		if (read_file(p, buf, sizeof(buf)) == 0 && (o = strchr(buf, '[')) && (c = strchr(o, ']'))) {
			*c = 0;
			snprintf(trig[nl], sizeof(trig[0]), "%.63s", o + 1);
		}
		if (open_led(x) < 0) {
			fig("ledw.%s.status=absent", x->name);
			diag("ledw %s: no LED /sys/class/leds/%s", x->name, x->led);
			continue;
		}
		/* the level follows the brightness */
		ok[nl] = 1;
		for (int k = 0; k < 4; k++) {
			led_set(x->fd, k & 1);
			if (wait_level(x, k & 1) < 0) {
				diag("ledw %s: brightness %d but GPIO level %d", x->name, k & 1, led_level(x));
				ok[nl] = 0;
			}
		}
		nl++;
	}
	/* Rounds interleaved over the LEDs (raw writes, then writes with the level following),
	 * so that the emulation's speed changes hit every driver alike; medians reported.  An LED
	 * whose GPIO may sleep is set from a work item, so back-to-back raw writes may coalesce. */
	for (int r = 0; r < LEDW_ROUNDS; r++)
		for (int mode = 0; mode < 2; mode++)
			for (int i = 0; i < nl; i++)
				if (ok[i] && (rate[i][mode][r] = ledw_round(&l[i], mode, ms_each)) < 0)
					ok[i] = 0;
	for (int i = 0; i < nl; i++) {
		char p[160];

		for (int mode = 0; mode < 2 && ok[i]; mode++) {
			double med, p99, max;

			stats(rate[i][mode], LEDW_ROUNDS, &med, &p99, &max);
			fig("ledw.%s.%s_per_s=%.0f", l[i].name, mode ? "toggles" : "writes", med * 1000);
		}
		led_set(l[i].fd, 0);
		close(l[i].fd);
		if (l[i].vfd >= 0)
			close(l[i].vfd);
		fig("ledw.%s.ms_per_round=%d", l[i].name, ms_each);
		fig("ledw.%s.level_ok=%d", l[i].name, ok[i]);
		snprintf(p, sizeof(p), "/sys/class/leds/%s/trigger", l[i].led);
		if (trig[i][0] && strcmp(trig[i], "none") && write_file(p, trig[i]) < 0)
			diag("ledw %s: could not restore the trigger '%s'", l[i].name, trig[i]);
	}
	return 0;
}

static volatile sig_atomic_t relay_stop;

static void on_term(int sig)
{
	(void)sig;
	relay_stop = 1;
}

/* User-space glue: key ONCODE press -> LED on, OFFCODE press -> LED off. */
static void relay(const char *input, int on_code, int off_code, const char *led)
{
	char p[160];
	int fd = open_input(input), lfd;

	snprintf(p, sizeof(p), "/sys/class/leds/%s/brightness", led);
	lfd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || lfd < 0)
		_exit(3);
	signal(SIGTERM, on_term);
	while (!relay_stop) {
		struct input_event ev[16];
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 200) <= 0)
			continue;
		n = read(fd, ev, sizeof(ev));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(ev[0]); i++) {
			if (ev[i].type != EV_KEY || ev[i].value != 1)
				continue;
			if (ev[i].code == on_code)
				led_set(lfd, 1);
			else if (ev[i].code == off_code)
				led_set(lfd, 0);
		}
	}
	_exit(0);
}

/* Presses the line and spins on the GPIO level until it is `want`; returns the latency or -1. */
static int64_t press_to_level(int pull, int bit, int want, int64_t *t0)
{
	int64_t limit;

	*t0 = now_ns();
	limit = *t0 + NS_PER_S;
	set_pull(pull, 1);
	for (;;) {
		int64_t t = now_ns();

		if (gplev(bit) == want)
			return t - *t0;
		if (t > limit)
			return -1;
	}
}

struct ledpath {
	char name[32], input[64], led[64];
	int on_line, off_line, bit, on_code, off_code;
	int pon, poff, n, lost, live;
	pid_t child;
	int64_t *v;
};

/* One sample: press the button, spin until the LED level is `on`, release after the hold time. */
static void ledlat_sample(struct ledpath *x, int on, int64_t hold)
{
	int pull = on ? x->pon : x->poff;
	int64_t t0, d = press_to_level(pull, x->bit, on, &t0);

	if (d < 0)
		x->lost++;
	else
		x->v[x->n++] = d;
	sleep_until(t0 + hold);
	set_pull(pull, 0);
	sleep_until(now_ns() + hold + (int64_t)(rnd() % 4000) * 1000);
}

static int cmd_ledlat(int argc, char **argv)
{
	int count = 100, first = parse_common(argc, argv, &count, NULL, NULL), np = 0;
	int64_t hold = (debounce_ms + 5) * NS_PER_MS;
	struct ledpath px[MAX_TARGETS];

	map_gpio();
	for (int i = first; i < argc && np < MAX_TARGETS; i++) {
		struct ledpath *x = &px[np++];
		int f;

		memset(x, 0, sizeof(*x));
		f = sscanf(argv[i], "%31[^:]:%d:%d:%d:%63[^:]:%d:%d:%63s", x->name, &x->on_line,
			   &x->off_line, &x->bit, x->input, &x->on_code, &x->off_code, x->led);
		if (f != 4 && f != 8)
			die("bad path '%s'", argv[i]);
		x->v = calloc(2 * count, sizeof(*x->v));
		if (!x->v)
			die("out of memory");
		x->pon = open_pull(x->on_line);
		x->poff = open_pull(x->off_line);
		x->live = 1;
		if (f == 8) {
			char p[160];
			int probe = open_input(x->input);

			snprintf(p, sizeof(p), "/sys/class/leds/%s/trigger", x->led);
			if (probe < 0 || write_file(p, "none") < 0) {
				fig("ledlat.%s.status=absent", x->name);
				diag("ledlat %s: no input device '%s' or LED '%s'", x->name, x->input, x->led);
				x->live = 0;
			} else {
				x->child = fork();
				if (x->child == 0)
					relay(x->input, x->on_code, x->off_code, x->led);
			}
			if (probe >= 0)
				close(probe);
		}
		set_pull(x->pon, 0);
		set_pull(x->poff, 0);
	}
	usleep(200000 + hold / 1000);
	/* the path works at all: on, then off (which is where every sample starts) */
	for (int i = 0; i < np; i++) {
		struct ledpath *x = &px[i];

		for (int on = 1; on >= 0 && x->live; on--) {
			ledlat_sample(x, on, hold);
			if (x->lost) {
				fig("ledlat.%s.status=absent", x->name);
				diag("ledlat %s: GPLEV0 bit %d does not follow the %s button", x->name, x->bit,
				     on ? "on" : "off");
				x->live = 0;
			}
		}
		x->n = 0;
	}
	/* samples interleaved over the paths */
	for (int k = 0; k < count; k++)
		for (int i = 0; i < np; i++)
			for (int on = 1; on >= 0 && px[i].live; on--)
				ledlat_sample(&px[i], on, hold);
	for (int i = 0; i < np; i++) {
		struct ledpath *x = &px[i];

		if (x->child > 0) {
			kill(x->child, SIGTERM);
			waitpid(x->child, NULL, 0);
		}
		if (x->live) {
			char p[64];

			fig("ledlat.%s.n=%d", x->name, x->n);
			fig("ledlat.%s.lost=%d", x->name, x->lost);
			snprintf(p, sizeof(p), "ledlat.%.31s.lat", x->name);
			fig_stats(p, x->v, x->n);
		}
		close(x->pon);
		close(x->poff);
		free(x->v);
	}
	return 0;
}

/* ---- memory per device -------------------------------------------------------------------- */

#define MAX_CACHES 512

struct slabsnap {
	int n;
	char name[MAX_CACHES][32];
	int64_t bytes[MAX_CACHES];
	int64_t kstack;
};

/* Flushes the per-CPU object caches (sheaves) of every slab cache back to the slabs, so that
 * /proc/slabinfo's active object counts are exact. */
static void shrink_all(void)
{
	glob_t g;

	if (glob("/sys/kernel/slab/*/shrink", 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		write_file(g.gl_pathv[i], "1");
	globfree(&g);
}

static void snap(struct slabsnap *s)
{
	FILE *f;
	char line[512];

	shrink_all();
	s->n = 0;
	s->kstack = 0;
	f = fopen("/proc/slabinfo", "re");
	if (!f)
		die("/proc/slabinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) && s->n < MAX_CACHES) {
		char name[64];
		long long active, total, size;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %lld %lld %lld", name, &active, &total, &size) != 4)
			continue;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%.31s", name);
		s->bytes[s->n++] = active * size;
	}
	fclose(f);
	/* fold the per-CPU vmstat differentials (KernelStack lags by up to vm.stat_interval) */
	write_file("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/meminfo", "re");
	if (!f)
		die("/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		long long kb;

		if (sscanf(line, "KernelStack: %lld kB", &kb) == 1)
			s->kstack = kb * 1024;
	}
	fclose(f);
}

static int64_t snap_total(const struct slabsnap *s)
{
	int64_t t = 0;

	for (int i = 0; i < s->n; i++)
		t += s->bytes[i];
	return t;
}

static int bound(const char *driver, const char *dev)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "/sys/bus/platform/drivers/%s/%s", driver, dev);
	return lstat(p, &st) == 0;
}

static int cmd_mem(int argc, char **argv)
{
	int reps = 5, first = parse_common(argc, argv, &reps, NULL, NULL);
	static struct slabsnap a, b;
	cpu_set_t cpu0;

	/* One CPU: the bind runs in this process, and the per-CPU object caches (sheaves) the
	 * allocations come from, and the ones shrink_all() frees and re-creates, are this CPU's. */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0) < 0)
		diag("mem: cannot pin to CPU 0: %s", strerror(errno));

	for (int i = first; i < argc; i++) {
		char name[32], drv[64], dev[64], p[256];
		int units, nd = 0;
		int64_t slab[16] = { 0 }, stack[16] = { 0 }, tot[16] = { 0 }, tmp[16];
		static char tops[16][768];
		char top[512] = "";

		if (reps > 16)
			reps = 16;

		if (sscanf(argv[i], "%31[^:]:%63[^:]:%63[^:]:%d", name, drv, dev, &units) != 4 || units < 1)
			die("bad device '%s' (NAME:DRIVER:DEVICE:UNITS)", argv[i]);
		if (!bound(drv, dev)) {
			fig("mem.%s.status=absent", name);
			diag("mem %s: %s is not bound to %s", name, dev, drv);
			continue;
		}
		/* repetition -1 warms up (leftovers of earlier phases are freed meanwhile) */
		for (int r = -1; r < reps; r++) {
			snprintf(p, sizeof(p), "/sys/bus/platform/drivers/%s/unbind", drv);
			if (write_file(p, dev) < 0)
				die("unbind %s from %s: %s", dev, drv, strerror(errno));
			usleep(300000); /* RCU-deferred frees of the unbind */
			snap(&a);
			snprintf(p, sizeof(p), "/sys/bus/platform/drivers/%s/bind", drv);
			if (write_file(p, dev) < 0 || !bound(drv, dev))
				die("bind %s to %s failed", dev, drv);
			usleep(300000); /* the interrupt thread and uevents settle */
			snap(&b);
			if (r < 0)
				continue;
			slab[nd] = snap_total(&b) - snap_total(&a);
			stack[nd] = b.kstack - a.kstack;
			tot[nd] = slab[nd] + stack[nd];
			{
				/* the caches that moved, for the record */
				size_t len = 0;

				tops[nd][0] = 0;
				for (int x = 0; x < b.n; x++)
					for (int y = 0; y < a.n; y++)
						if (!strcmp(a.name[y], b.name[x]) && a.bytes[y] != b.bytes[x] &&
						    len < sizeof(tops[0]) - 64)
							len += snprintf(tops[nd] + len, sizeof(tops[0]) - len,
									" %s:%+lld", b.name[x],
									(long long)(b.bytes[x] - a.bytes[y]));
				if (stack[nd])
					snprintf(tops[nd] + len, sizeof(tops[0]) - len, " KernelStack:%+lld",
						 (long long)stack[nd]);
			}
			nd++;
		}
		memcpy(tmp, tot, sizeof(tmp));
		qsort(tmp, nd, sizeof(tmp[0]), cmp_i64);
		{
			int m = 0;

			/* the median repetition (nd is odd for odd REPS; else the upper middle) */
			while (m < nd - 1 && tot[m] != tmp[nd / 2])
				m++;
			fig("mem.%s.bytes_per_device=%lld", name, (long long)tot[m]);
			fig("mem.%s.bytes_per_unit=%lld", name, (long long)(tot[m] / units));
			fig("mem.%s.slab_bytes=%lld", name, (long long)slab[m]);
			fig("mem.%s.kstack_bytes=%lld", name, (long long)stack[m]);
			fig("mem.%s.spread_bytes=%lld", name, (long long)(tmp[nd - 1] - tmp[0]));
			fig("mem.%s.units=%d", name, units);
			diag("mem %s caches (median repetition):%s", name, tops[m]);
			for (int r = 0, len = 0; r < nd; r++)
				len += snprintf(top + len, sizeof(top) - len, " %lld", (long long)tot[r]);
			diag("mem %s bytes per repetition:%s", name, top);
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "latency", cmd_latency }, { "rate", cmd_rate }, { "cpu", cmd_cpu },
	{ "ledw", cmd_ledw },	    { "ledlat", cmd_ledlat }, { "mem", cmd_mem },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die("usage: rpibsp-bench latency|rate|cpu|ledw|ledlat|mem [options] ARGS...");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	die("unknown command '%s'", argv[1]);
	return 2;
}
