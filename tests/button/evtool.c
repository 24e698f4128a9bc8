// SPDX-License-Identifier: GPL-2.0
/*
 * evtool: the small input-event helper of the button tests (busybox has no evtest).
 * Built statically for the guest with aarch64-linux-gnu-gcc -static.
 *
 *   evtool info DEV                  name, phys and key state bitmap size of an event device
 *   evtool find NAME                 prints /dev/input/eventN of the device named NAME
 *   evtool watch DEV [SECONDS]       prints the events of DEV, stamped with CLOCK_MONOTONIC,
 *                                    until SECONDS without events (default 3600), or until
 *                                    the device goes away ("gone" line)
 *   evtool keys DEV                  prints the codes of the keys DEV reports as pressed
 *   evtool now                       prints CLOCK_MONOTONIC
 *   evtool write FILE DELAY_US V...  writes each V to FILE (one open/write/close each), DELAY_US
 *                                    apart, printing CLOCK_MONOTONIC before each write
 *
 * Line formats (times in seconds with 6 decimals):
 *   ev <event time> <read time> <type> <code> <value>
 *   w <time> <value>
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_dev(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	int clk = CLOCK_MONOTONIC;

	if (fd < 0) {
		fprintf(stderr, "evtool: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (ioctl(fd, EVIOCSCLOCKID, &clk) < 0) {
		fprintf(stderr, "evtool: EVIOCSCLOCKID: %s\n", strerror(errno));
		exit(2);
	}
	return fd;
}

static int cmd_info(const char *path)
{
	char name[256] = "", phys[256] = "";
	struct input_id id;
	int fd = open_dev(path);

	ioctl(fd, EVIOCGNAME(sizeof(name)), name);
	ioctl(fd, EVIOCGPHYS(sizeof(phys)), phys);
	if (ioctl(fd, EVIOCGID, &id) < 0)
		memset(&id, 0, sizeof(id));
	printf("name %s\nphys %s\nbus 0x%04x vendor 0x%04x product 0x%04x version 0x%04x\n", name,
	       phys, id.bustype, id.vendor, id.product, id.version);
	close(fd);
	return 0;
}

static int cmd_find(const char *want)
{
	char path[64], name[256];
	int i;

	for (i = 0; i < 64; i++) {
		int fd;

		snprintf(path, sizeof(path), "/dev/input/event%d", i);
		fd = open(path, O_RDONLY | O_NONBLOCK);
		if (fd < 0)
			continue;
		name[0] = 0;
		ioctl(fd, EVIOCGNAME(sizeof(name)), name);
		close(fd);
		if (!strcmp(name, want)) {
			printf("%s\n", path);
			return 0;
		}
	}
	return 1;
}

static int cmd_keys(const char *path)
{
	unsigned char bits[KEY_MAX / 8 + 1];
	int fd = open_dev(path), code;

	memset(bits, 0, sizeof(bits));
	if (ioctl(fd, EVIOCGKEY(sizeof(bits)), bits) < 0) {
		fprintf(stderr, "evtool: EVIOCGKEY: %s\n", strerror(errno));
		return 2;
	}
	for (code = 0; code <= KEY_MAX; code++)
		if (bits[code / 8] & (1 << (code % 8)))
			printf("%d\n", code);
	close(fd);
	return 0;
}

static int cmd_watch(const char *path, int seconds)
{
	int fd = open_dev(path);

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("open %.6f\n", mono_now());
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct input_event ev[16];
		ssize_t n;
		int i, r;

		r = poll(&p, 1, seconds * 1000);
		if (r == 0) {
			printf("timeout %.6f\n", mono_now());
			return 0;
		}
		if (r < 0 && errno == EINTR)
			continue;
		n = read(fd, ev, sizeof(ev));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0 || (p.revents & (POLLERR | POLLHUP))) {
			printf("gone %.6f %s\n", mono_now(), n < 0 ? strerror(errno) : "eof");
			return 0;
		}
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++)
			printf("ev %ld.%06ld %.6f %u %u %d\n", (long)ev[i].input_event_sec,
			       (long)ev[i].input_event_usec, mono_now(), ev[i].type, ev[i].code,
			       ev[i].value);
	}
}

static int cmd_write(const char *file, long delay_us, int n, char **values)
{
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		int fd;

		if (i && delay_us > 0)
			usleep(delay_us);
		fd = open(file, O_WRONLY);
		if (fd < 0) {
			fprintf(stderr, "evtool: %s: %s\n", file, strerror(errno));
			return 2;
		}
		printf("w %.6f %s\n", mono_now(), values[i]);
		if (write(fd, values[i], strlen(values[i])) < 0) {
			fprintf(stderr, "evtool: write %s: %s\n", file, strerror(errno));
			return 2;
		}
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "info"))
		return cmd_info(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "find"))
		return cmd_find(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "keys"))
		return cmd_keys(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "watch"))
		return cmd_watch(argv[2], argc >= 4 ? atoi(argv[3]) : 3600);
	if (argc >= 2 && !strcmp(argv[1], "now")) {
		printf("%.6f\n", mono_now());
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], atol(argv[3]), argc - 4, argv + 4);
	fprintf(stderr, "usage: see the header of evtool.c\n");
	return 2;
}
