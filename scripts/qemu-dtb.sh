#!/usr/bin/env bash
# Makes the device tree for the emulated board the way the Pi firmware would: the mainline base
# DTB of the machine with overlays applied in order.  QEMU does not run the firmware, so this
# happens on the host.  For raspi4b the QEMU fix-up overlay (dts/qemu/) goes first.
#
#   scripts/qemu-dtb.sh MACHINE OUTPUT.dtb [OVERLAY.dtbo ...]     MACHINE: raspi3b | raspi4b
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: scripts/qemu-dtb.sh raspi3b|raspi4b OUTPUT.dtb [OVERLAY.dtbo ...]"
machine=$1 out=$2
shift 2
dtbdir=$(kernel_build_dir bsp)/arch/arm64/boot/dts/broadcom
fixups=()
case "$machine" in
raspi3b) base=bcm2837-rpi-3-b ;;
raspi4b) base=bcm2711-rpi-4-b fixups=("$RPIBSP_ROOT/dts/qemu/bcm2711-qemu-fixup.dts") ;;
*) die "unknown machine '$machine' (raspi3b or raspi4b)" ;;
esac
[ -f "$dtbdir/$base.dtb" ] || die "no $base.dtb in $dtbdir (run 'make kernel')"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
overlays=()
for f in "${fixups[@]}"; do
	dtc -q -@ -I dts -O dtb -o "$tmp/$(basename "$f" .dts).dtbo" "$f"
	overlays+=("$tmp/$(basename "$f" .dts).dtbo")
done
for o in "$@"; do
	[ -f "$o" ] || die "no overlay $o"
	overlays+=("$o")
done
mkdir -p "$(dirname "$out")"
if [ "${#overlays[@]}" -eq 0 ]; then
	cp "$dtbdir/$base.dtb" "$out"
else
	fdtoverlay -i "$dtbdir/$base.dtb" -o "$out" "${overlays[@]}" ||
		die "applying ${*:-the fix-ups} to $base.dtb failed (a fragment's target is missing from the base tree?)"
fi
printf '%s\n' "$out"
