#!/usr/bin/env bash
# Boots the emulated Raspberry Pi (QEMU raspi3b/raspi4b) headless, runs one test script in it and
# reports the script's TAP lines.  Exit status 0 only when the script exited 0 AND the kernel log
# has no oops, BUG, WARNING, KASAN/lockdep/kmemleak report or panic.
#
#   tests/qemu/boot.sh --dtb FILE --script FILE [options]
#   tests/qemu/boot.sh --dtb FILE --sd IMAGE --guest-cmd PATH [options]
#     --machine raspi3b|raspi4b  QEMU machine (default raspi3b)
#     --dtb FILE        the device tree (base + overlays, merged on the host like the firmware would)
#     --script FILE     guest test script (busybox sh); runs as /rpibsp/<name> in the guest, with
#                       the TAP helpers of tests/qemu/guest-lib.sh as /rpibsp/lib.sh
#     --file SRC        extra file copied to /rpibsp/ in the guest (repeatable)
#     --kernel FILE     kernel Image (default: the BSP kernel build)
#     --initrd FILE     base initramfs (default: $RPIBSP_OUT/initramfs.cpio.gz from `make initramfs`)
#     --sd IMAGE        boot from (a copy of) this SD-card image instead, with the kernel command
#                       line the firmware would pass: --prepend, the card's own cmdline.txt (first
#                       line, from its boot partition), then rpibsp.test=PATH and --append; run
#                       --guest-cmd PATH, a program inside the image, as the test.  The console log
#                       is then the mini UART's (GPIO 14/15 on the real board, where the card's
#                       device tree stdout-path puts the console); the PL011's output is shown on
#                       failure.  raspi4b: the card is in the emmc2 slot, as on the real 4B, and
#                       the mini UART gets a fixed clock (QEMU's lacks a divisor latch: scripts/qemu-board.sh)
#     --prepend ARGS    with --sd: arguments before cmdline.txt, the way the firmware puts its own
#                       (e.g. 8250.nr_uarts=1)
#     --sdio IMAGE      with --sd on raspi4b: a second card (a copy) in the Arasan sdhci
#                       (mmc@7e300000, the real 4B's WiFi SDIO host)
#     --sd-inplace      with --sd: boot IMAGE itself instead of a copy (what the board writes to its
#                       card stays; QEMU is stopped without a shutdown: a power cut)
#     --live            also print the console as it comes, on stderr (the demo)
#     --append ARGS     extra kernel command line arguments
#     --timeout SEC     hard limit for the whole boot + test (default 180)
#     --log FILE        console log (kept; default $RPIBSP_OUT/logs/<script>-<machine>.log)
#     --allow REGEX     kernel log lines matching REGEX are not counted as failures (repeatable)
#
# The guest side is rootfs/usr/share/rpibsp/run-test: it prints RPIBSP-TEST-BEGIN, the script's
# output, RPIBSP-TEST-END rc=N, then the kernel log between RPIBSP-DMESG-BEGIN/END.  The raspi
# machines never power off, so QEMU is stopped here once the last marker arrives.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/scripts/qemu-board.sh"

machine=raspi3b dtb="" script="" kernel="" initrd="" sd="" sdio="" guest_cmd="" live=false append="" prepend=""
sd_inplace=false
timeout=180 log=""
files=() allow=()
while [ $# -gt 0 ]; do
	case "$1" in
	--machine) machine=$2 ;;
	--dtb) dtb=$2 ;;
	--script) script=$2 ;;
	--file) files+=("$2") ;;
	--kernel) kernel=$2 ;;
	--initrd) initrd=$2 ;;
	--sd) sd=$2 ;;
	--sdio) sdio=$2 ;;
	--prepend) prepend=$2 ;;
	--guest-cmd) guest_cmd=$2 ;;
	--live)
		live=true
		shift
		continue
		;;
	--sd-inplace)
		sd_inplace=true
		shift
		continue
		;;
	--append) append=$2 ;;
	--timeout) timeout=$2 ;;
	--log) log=$2 ;;
	--allow) allow+=("$2") ;;
	-h | --help)
		sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	shift 2
done
case "$machine" in
raspi3b | raspi4b) ;;
*) die "--machine must be raspi3b or raspi4b, not '$machine'" ;;
esac
[ -f "$dtb" ] || die "--dtb: no device tree '$dtb'"
if [ -n "$sd" ]; then
	[ -f "$sd" ] || die "--sd: no image '$sd'"
	[ -n "$guest_cmd" ] || die "--sd needs --guest-cmd PATH (the program in the image to run)"
	script=$guest_cmd
	[ -z "$sdio" ] || [ "$machine" = raspi4b ] || die "--sdio needs --machine raspi4b (the 4B's WiFi SDIO host)"
	[ -z "$sdio" ] || [ -f "$sdio" ] || die "--sdio: no image '$sdio'"
else
	[ -f "$script" ] || die "--script: no test script '$script'"
	if [ -n "$sdio$prepend" ] || $sd_inplace; then
		die "--sdio, --prepend and --sd-inplace need --sd (they are about booting from the card)"
	fi
fi
kdir=$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)
kernel=${kernel:-$kdir/arch/arm64/boot/Image}
[ -f "$kernel" ] || die "no kernel Image at $kernel (run 'make kernel')"
name=$(basename "$script")
name=${name%.sh}
log=${log:-$RPIBSP_OUT/logs/$name-$machine.log}
mkdir -p "$(dirname "$log")"

work=$(mktemp -d)
qpid=""
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true
	[ -z "$qpid" ] || wait "$qpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$sd" ] && [ "$machine" = raspi4b ]; then
	# The console will be the mini UART: on the emulated 4B it needs a fixed clock (scripts/qemu-board.sh).
	qemu_miniuart_dtb "$dtb" "$work/board.dtb" || die "cannot give the mini UART of $dtb a fixed clock"
	dtb=$work/board.dtb
fi
qemu=(qemu-system-aarch64 -M "$machine" -kernel "$kernel" -dtb "$dtb" -display none -monitor none -no-reboot)
if [ -n "$sd" ]; then
	# The card's own root filesystem and programs (a copy: the image stays as it is, unless
	# --sd-inplace), its cmdline.txt, and where the real board has its card slot (scripts/qemu-board.sh).
	card=$work/sd.img
	if $sd_inplace; then
		card=$sd
	else
		cp --sparse=always "$sd" "$card"
	fi
	sdio_copy=""
	if [ -n "$sdio" ]; then
		cp --sparse=always "$sdio" "$work/sdio.img"
		sdio_copy=$work/sdio.img
	fi
	qemu_sd_card "$machine" "$card" "$sdio_copy"
	# The console is where the card's command line and device tree put it: on the 3B/3B+/4B the
	# mini UART (stdout-path "serial1"), which is QEMU's second serial port; the first is the PL011.
	qemu+=(-serial "file:$work/pl011.log" -serial "file:$log")
	cmdline="${prepend:+$prepend }$card_cmdline rpibsp.test=$guest_cmd $append"
else
	# The test payload: /rpibsp/<script>, the guest TAP helpers and extra files, as a second cpio
	# archive appended to the base initramfs (the kernel unpacks concatenated archives in order).
	mkdir -p "$work/payload/rpibsp"
	install -m 0755 "$script" "$work/payload/rpibsp/$name"
	install -m 0644 "$RPIBSP_ROOT/tests/qemu/guest-lib.sh" "$work/payload/rpibsp/lib.sh"
	for f in "${files[@]}"; do
		[ -f "$f" ] || die "--file: no file '$f'"
		cp -p "$f" "$work/payload/rpibsp/"
	done
	initrd=${initrd:-$RPIBSP_OUT/initramfs.cpio.gz}
	[ -f "$initrd" ] || die "no initramfs at $initrd (run 'make initramfs')"
	"$RPIBSP_ROOT/scripts/initramfs.sh" "$work/payload" "$work/payload.cpio.gz" "$kdir" >/dev/null
	cat "$initrd" "$work/payload.cpio.gz" >"$work/initrd.cpio.gz"
	qemu+=(-initrd "$work/initrd.cpio.gz" -serial "file:$log")
	cmdline="console=ttyAMA0,115200 rpibsp.test=/rpibsp/$name $append"
fi
qemu+=(-append "$cmdline")

: >"$log"
start=$(date +%s.%N)
"${qemu[@]}" </dev/null >"$work/qemu.out" 2>&1 &
qpid=$!
tailpid=""
if $live; then
	tail --pid="$qpid" -n +1 -f "$log" 2>/dev/null | tr -d '\r' | sed -u '/^RPIBSP-DMESG-BEGIN/,$d' >&2 &
	tailpid=$!
fi
result=timeout
deadline=$(($(date +%s) + timeout))
while [ "$(date +%s)" -lt "$deadline" ]; do
	if grep -q '^RPIBSP-DMESG-END' "$log" 2>/dev/null; then
		result=finished
		break
	fi
	if ! kill -0 "$qpid" 2>/dev/null; then
		result=exited
		break
	fi
	sleep 0.2
done
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
kill "$qpid" 2>/dev/null || true
wait "$qpid" 2>/dev/null || true
qpid=""
if [ -n "$tailpid" ]; then
	sleep 0.3
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
fi

tr -d '\r' <"$log" >"$work/log"
# The script's own lines, as TAP for the caller.
sed -n '/^RPIBSP-TEST-BEGIN/,/^RPIBSP-TEST-END/p' "$work/log" | grep -E '^(ok|not ok|#|1\.\.)' || true
printf '# %s on %s: %s after %.1f s, console log %s\n' "$name" "$machine" "$result" "$elapsed" "$log"
[ -z "$sd" ] || echo "# kernel command line (--prepend, the card's cmdline.txt, the test's): $cmdline"

status=0
case "$result" in
finished) ;;
timeout)
	echo "# FAIL: no end marker within ${timeout} s (last console lines follow)"
	tail -n 15 "$work/log" | sed 's/^/#   /'
	status=1
	;;
exited)
	echo "# FAIL: QEMU exited before the end marker: $(tail -n 3 "$work/qemu.out" | tr '\n' ' ')"
	status=1
	;;
esac
rc=$(sed -n 's/^RPIBSP-TEST-END rc=\([0-9]*\).*/\1/p' "$work/log" | tail -n1)
if [ "$result" = finished ] && [ "$rc" != 0 ]; then
	echo "# FAIL: the guest script exited with status ${rc:-unknown}"
	status=1
fi

if [ "$status" -ne 0 ] && [ -n "$sd" ]; then
	[ -s "$work/log" ] || echo "# nothing on the mini UART (QEMU's second serial port): the kernel did not start, or the card's command line put the console elsewhere"
	if [ -s "$work/pl011.log" ]; then
		echo "# the PL011 (ttyAMA0, QEMU's first serial port) had output (last lines):"
		tr -d '\r' <"$work/pl011.log" | tail -n 10 | sed 's/^/#   /'
	fi
fi

# Kernel trouble anywhere in the console log or the dumped kernel log fails the boot.
bad='Kernel panic|Internal error: Oops|Unable to handle kernel|BUG:|WARNING:|Call trace:|KASAN|UBSAN|kmemleak: [0-9]+ new suspected|possible circular locking|possible recursive locking|inconsistent lock state|sleeping function called from invalid context|INFO: task .* blocked|general protection fault|refcount_t:|list_(add|del) corruption|rcu: INFO'
mapfile -t hits < <(grep -nE "$bad" "$work/log" || true)
for a in "${allow[@]}"; do
	mapfile -t hits < <(printf '%s\n' "${hits[@]}" | grep -vE "$a" | sed '/^$/d' || true)
done
if [ "${#hits[@]}" -gt 0 ] && [ -n "${hits[0]}" ]; then
	echo "# FAIL: kernel problems in the log:"
	printf '#   %s\n' "${hits[@]:0:20}"
	status=1
fi
exit "$status"
