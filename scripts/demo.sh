#!/usr/bin/env bash
# The main job's last step: boot the emulated Raspberry Pi from the SD-card image, with the device
# tree the firmware would have made (base + the rpibsp overlay, plus the emulation overlay that
# puts the buttons on gpio-sim lines), press the buttons, show the LED following, and print the
# on-board verification summary.
#
#   scripts/demo.sh [raspi3b|raspi4b]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

machine=${1:-raspi3b}
img=$RPIBSP_OUT/sdcard.img
dtb=$RPIBSP_OUT/qemu/$machine.dtb
[ -f "$img" ] || die "no SD-card image at $img (run 'make image')"
[ -f "$dtb" ] || die "no emulated-board device tree at $dtb (run 'make dts')"

cat <<EOF

=== Emulated Raspberry Pi ($machine) booting from $img
    QEMU does not run the Pi firmware, so the overlays were applied on the host the way the
    firmware applies dtoverlay=rpibsp; the emulation overlay adds the simulated buttons.  The
    kernel command line is the card's own cmdline.txt (root=PARTUUID=, no console=), and the
    console below is the mini UART, the device tree's stdout-path (GPIO 14/15 on the board).

EOF
set +e
"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine "$machine" --dtb "$dtb" --sd "$img" \
	--guest-cmd /usr/share/rpibsp/demo --live --timeout 300 --log "$RPIBSP_OUT/logs/demo-$machine.log" >/dev/null
rc=$?
set -e
echo
if [ "$rc" -eq 0 ]; then
	echo "=== Demo passed. The image to flash: $img (see 'flash.sh --help')"
else
	echo "=== Demo FAILED (console log: $RPIBSP_OUT/logs/demo-$machine.log)"
fi
exit "$rc"
