# shellcheck shell=bash
# The emulated 4B's mini UART as a console (sourced by tests/qemu/boot.sh and tests/image/run.sh).
#
# QEMU 10's model of the BCM2835 mini UART (hw/char/bcm2835_aux.c) has no divisor latch: while
# Linux sets the baud rate (LCR.DLAB=1), the divisor's low byte goes out as a character and its
# high byte lands in the interrupt-enable register.  On the emulated 4B (VPU clock 562.5 MHz:
# divisor 610 = 0x262 at 115200 baud) that enables QEMU's TX-empty interrupt behind Linux's back,
# and once the port is open CPU 0 takes that interrupt forever: the MMC interrupts starve, RCU
# stalls, the board hangs.  With the emulated 3B's clock (400 MHz: divisor 434 = 0x1b2) the high
# byte only enables the receive interrupt, which is harmless (the stray low byte is still sent).
# The real boards have the divisor latch; on them the firmware fixes the clock (enable_uart=1).
#
# qemu_miniuart_dtb IN OUT: OUT is IN with the mini UART (/soc/serial@7e215040) on a fixed 400 MHz
# clock (clock-frequency instead of the VPU clock), for the emulated 4B only.
qemu_miniuart_dtb() {
	local node=/soc/serial@7e215040
	cp "$1" "$2" || return 1
	fdtget "$2" "$node" compatible >/dev/null 2>&1 || {
		echo "qemu_miniuart_dtb: $1 has no $node (the mini UART)" >&2
		return 1
	}
	if fdtget "$2" "$node" clocks >/dev/null 2>&1; then
		fdtput -d "$2" "$node" clocks || return 1
	fi
	fdtput -t u "$2" "$node" clock-frequency 400000000
}
