#!/usr/bin/env bash
# The emulated Raspberry Pi as a board on the desk, for `make run` and `make deploy`: it boots from
# its own SD card (a copy of out/sdcard.img that persists between runs, as a flashed card does; it
# is re-copied when `make image` made a newer image), its console (the mini UART, stdout-path) on a
# loopback TCP port, and, on raspi3b, a USB network adapter on QEMU's user network (the board gets
# 10.0.2.15 by DHCP; the laptop is 10.0.2.2 from the board).
#
#   scripts/board.sh start [raspi3b|raspi4b]   boot it in the background (no-op if running)
#   scripts/board.sh stop [MACHINE]            power it off (QEMU killed: a power cut)
#   scripts/board.sh status [MACHINE]          running or not; prints the console's host:port
#   scripts/board.sh console [MACHINE]         print the console's host:port (starts nothing)
# State in $RPIBSP_OUT/board/MACHINE: sdcard.img, console.port, qemu.pid, pl011.log, qemu.log.
# RPIBSP_BOARD_PORT chooses the console port (default: a free one), RPIBSP_BOARD_DIR the state
# directory (default above).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$RPIBSP_ROOT/scripts/qemu-board.sh"

cmd=${1:-}
machine=${2:-raspi3b}
case "$machine" in
raspi3b | raspi4b) ;;
*) die "the emulated board is raspi3b or raspi4b, not '$machine'" ;;
esac
dir=${RPIBSP_BOARD_DIR:-$RPIBSP_OUT/board/$machine}

running() {
	[ -f "$dir/qemu.pid" ] && kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null &&
		grep -q qemu-system "/proc/$(cat "$dir/qemu.pid")/cmdline" 2>/dev/null
}

start() {
	local img=$RPIBSP_OUT/sdcard.img dtb=$RPIBSP_OUT/qemu/$machine.dtb kdir kernel port pid
	if running; then
		msg "the emulated $machine is already running (console 127.0.0.1:$(cat "$dir/console.port"))"
		return 0
	fi
	[ -f "$img" ] || die "no SD-card image at $img (run 'make image')"
	[ -f "$dtb" ] || die "no emulated-board device tree at $dtb (run 'make dts')"
	kdir=$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)
	kernel=$kdir/arch/arm64/boot/Image
	[ -f "$kernel" ] || die "no kernel Image at $kernel (run 'make kernel')"
	mkdir -p "$dir"
	if [ ! -f "$dir/sdcard.img" ] || [ "$img" -nt "$dir/sdcard.img" ]; then
		msg "the board's card: a fresh copy of $img (as if flashed)"
		cp --sparse=always "$img" "$dir/sdcard.img"
	fi
	if [ "$machine" = raspi4b ]; then
		qemu_miniuart_dtb "$dtb" "$dir/board.dtb" || die "cannot give the mini UART of $dtb a fixed clock"
	else
		cp "$dtb" "$dir/board.dtb"
	fi
	qemu=(qemu-system-aarch64 -M "$machine" -kernel "$kernel" -dtb "$dir/board.dtb" -display none
		-monitor none)
	qemu_sd_card "$machine" "$dir/sdcard.img"
	if [ "$machine" = raspi3b ]; then
		# The 3B's Ethernet is a USB device behind the SoC's DWC2 host; here a CDC Ethernet adapter.
		qemu+=(-netdev "user,id=net0" -device "usb-net,netdev=net0")
	fi
	port=${RPIBSP_BOARD_PORT:-$(free_port)}
	qemu+=(-serial "file:$dir/pl011.log" -serial "tcp:127.0.0.1:$port,server=on,wait=off"
		-append "$card_cmdline")
	"${qemu[@]}" </dev/null >"$dir/qemu.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		(: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null || die "QEMU did not start: $(tail -n 3 "$dir/qemu.log")"
	echo "$pid" >"$dir/qemu.pid"
	echo "$port" >"$dir/console.port"
	msg "the emulated $machine is booting from $dir/sdcard.img; console on 127.0.0.1:$port \
(rpibsp-hil --tcp 127.0.0.1:$port, or any telnet/raw TCP client); 'make stop' powers it off"
}

stop() {
	if running; then
		kill "$(cat "$dir/qemu.pid")"
		msg "the emulated $machine is off"
	else
		msg "the emulated $machine is not running"
	fi
	rm -f "$dir/qemu.pid"
}

case "$cmd" in
start) start ;;
stop) stop ;;
status)
	if running; then
		echo "running: $machine, console 127.0.0.1:$(cat "$dir/console.port")"
	else
		echo "not running: $machine"
		exit 1
	fi
	;;
console)
	running || die "the emulated $machine is not running (make run)"
	echo "127.0.0.1:$(cat "$dir/console.port")"
	;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
