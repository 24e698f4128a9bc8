# shellcheck shell=bash
# The emulated Raspberry Pi booted from an SD-card image the way the real board boots it, for every
# script that starts one (scripts/board.sh for `make run`/`deploy`, tests/qemu/boot.sh for the demo
# and the suites, tests/image/run.sh):
#
#   qemu_sd_card MACHINE IMAGE [SDIO_IMAGE]  appends to the array `qemu` the options that put IMAGE
#       in the board's card slot (and SDIO_IMAGE, raspi4b only, in the WiFi SDIO host), and sets
#       card_cmdline to the first line of the card's cmdline.txt (what the firmware passes);
#       IMAGE is used in place (callers pass a copy when the card must stay unchanged)
#   qemu_miniuart_dtb IN OUT  the emulated 4B's mini UART with a fixed clock (below)
#
# The emulated 4B's mini UART as a console.
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

# qemu_pow2 IMAGE OPTION: QEMU's SD cards must be a power of two in size.
qemu_pow2() {
	local size
	size=$(stat -c %s "$1")
	if [ "$size" -eq 0 ] || [ $((size & (size - 1))) -ne 0 ]; then
		die "$2: $1 is $size bytes, QEMU needs a power of two"
	fi
}

qemu_sd_card() {
	local machine=$1 img=$2 sdio=${3:-} lba tmp
	qemu_pow2 "$img" --sd
	# The card's own kernel command line: QEMU does not run the firmware, which reads cmdline.txt
	# from the first (FAT) partition and passes its first line, after its own arguments.
	lba=$(od -An -tu4 -j454 -N4 "$img" | tr -d ' ')
	[ "${lba:-0}" -gt 0 ] || die "$img has no partition 1 in its MBR (no boot partition)"
	tmp=$(mktemp)
	if ! MTOOLS_SKIP_CHECK=1 mtype -i "$img@@$((lba * 512))" ::/cmdline.txt >"$tmp" 2>&1; then
		local err
		err=$(head -n1 "$tmp")
		rm -f "$tmp"
		die "cannot read cmdline.txt from the boot partition of $img: $err"
	fi
	card_cmdline=$(head -n1 "$tmp" | tr -d '\r')
	rm -f "$tmp"
	[ -n "$card_cmdline" ] || die "the cmdline.txt of $img is empty"
	if [ "$machine" = raspi4b ]; then
		# The 4B's card slot is the emmc2 controller (mmc@7e340000), but QEMU (10.0, hw/arm/raspi.c
		# raspi_base_machine_init) puts the -drive if=sd card on the BCM2838 GPIO block's SD bus,
		# which hands it to the Arasan sdhci (7e300000, the 4B's WiFi SDIO) or the sdhost
		# (hw/gpio/bcm2838_gpio.c gpfsel_set/bcm2838_gpio_reset); the emmc2 it models
		# (hw/arm/bcm2838_peripherals.c) gets no card.  So the card goes on the emmc2's own bus:
		# "/generic-sdhci" is the first generic-sdhci on the system bus (system/qdev-monitor.c
		# qbus_find_dev), a bus lists its children newest first (hw/core/qdev.c bus_add_child),
		# and the emmc2 is realized after the Arasan one.  tests/image checks that Linux finds
		# the card on fe340000.mmc.
		qemu+=(-drive "if=none,id=card,format=raw,file=$img"
			-device "sd-card,drive=card,bus=/generic-sdhci/sd-bus")
		if [ -n "$sdio" ]; then
			# A second card where QEMU puts "-drive if=sd": the Arasan sdhci (see above).
			qemu_pow2 "$sdio" --sdio
			qemu+=(-drive "if=sd,format=raw,file=$sdio")
		fi
	else
		[ -z "$sdio" ] || die "a second card (SDIO) needs raspi4b (the 4B's WiFi SDIO host)"
		qemu+=(-drive "if=sd,format=raw,file=$img")
	fi
}
