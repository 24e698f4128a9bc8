#!/usr/bin/env bash
# The SD-card image: layout and contents of both partitions, .bmap and .sha256 consistent,
# reproducible (a second build from the same tree gives the same bytes), small, and it boots on
# the emulated Pi 3B and 4B from the card with the three drivers bound, the buttons switching the
# LED and the on-board verification passing.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"

img=$RPIBSP_OUT/sdcard.img
work=$RPIBSP_OUT/tests/image
rm -rf "$work" && mkdir -p "$work"
[ -f "$img" ] || {
	notok "image exists at $img (run 'make image')"
	tap_end
	exit 1
}
krel=$(cat "$(kernel_build_dir bsp)/include/config/kernel.release")
size=$(stat -c %s "$img")
echo "# image: $size bytes; $(tr '\n' ';' <"$RPIBSP_OUT/sdcard.img.sizes")"
t "image is well under 100 MiB" test "$size" -lt $((100 * 1024 * 1024))
t "image size is a power of two (QEMU's SD card needs it)" test $((size & (size - 1))) -eq 0
t ".sha256 matches the image" bash -c "cd '$RPIBSP_OUT' && sha256sum -c --status sdcard.img.sha256"
bmaptool -q copy "$img" "$work/copy.img" 2>"$work/bmap.err" || true
t ".bmap reproduces the image (bmaptool copy + cmp)" cmp -s "$img" "$work/copy.img"
rm -f "$work/copy.img"

# Partition table: MBR, p1 FAT (0x0c, bootable), p2 Linux.
python3 - "$img" >"$work/parts" <<'PY'
import struct, sys
mbr = open(sys.argv[1], "rb").read(512)
assert mbr[510:512] == b"\x55\xaa", "no MBR signature"
for i in range(4):
    e = mbr[446 + 16 * i: 462 + 16 * i]
    boot, ptype = e[0], e[4]
    start, count = struct.unpack("<II", e[8:16])
    if ptype:
        print(i + 1, hex(ptype), boot == 0x80, start * 512, count * 512)
PY
echo "# partitions (n type bootable offset size): $(tr '\n' ';' <"$work/parts")"
t "partition 1 is FAT32 LBA (0xc) and bootable" grep -qx '1 0xc True [0-9]* [0-9]*' "$work/parts"
t "partition 2 is Linux (0x83)" grep -qx '2 0x83 False [0-9]* [0-9]*' "$work/parts"
boot_off=$(awk '$1 == 1 {print $4}' "$work/parts")
root_off=$(awk '$1 == 2 {print $4}' "$work/parts")
root_size=$(awk '$1 == 2 {print $5}' "$work/parts")

export MTOOLS_SKIP_CHECK=1
mdir -b -i "$img@@$boot_off" ::/ >"$work/boot.list" 2>&1 || true
mdir -b -i "$img@@$boot_off" ::/overlays >>"$work/boot.list" 2>&1 || true
for f in bootcode.bin start.elf fixup.dat start4.elf fixup4.dat Image config.txt cmdline.txt \
	bcm2837-rpi-3-b.dtb bcm2837-rpi-3-b-plus.dtb bcm2711-rpi-4-b.dtb overlays/rpibsp.dtbo; do
	t "boot partition has $f" grep -q "/$f\$" "$work/boot.list"
done
t "no emulation overlay on the card" bash -c "! grep -q 'rpibsp-emu' '$work/boot.list'"
mtype -i "$img@@$boot_off" ::/config.txt >"$work/config.txt"
t "config.txt: 64-bit, UART, dtoverlay=rpibsp" bash -c "grep -qx arm_64bit=1 '$work/config.txt' && grep -qx enable_uart=1 '$work/config.txt' && grep -qx dtoverlay=rpibsp '$work/config.txt'"

dd if="$img" of="$work/root.ext4" bs=1M iflag=skip_bytes,count_bytes skip="$root_off" count="$root_size" status=none
t "root filesystem checks clean (e2fsck -fn)" bash -c "e2fsck -fn '$work/root.ext4' >/dev/null 2>&1"
rdump() {
	debugfs -R "dump $1 $2" "$work/root.ext4" >/dev/null 2>&1 || true
	[ -f "$2" ] || : >"$2"
}
rstat() { debugfs -R "stat $1" "$work/root.ext4" 2>/dev/null | grep -q "Type: $2"; }
rdump "/lib/modules/$krel/modules.dep" "$work/modules.dep"
rdump "/lib/modules/$krel/modules.alias" "$work/modules.alias"
for m in rpibsp_button rpibsp_led rpibsp_devicemodel; do
	t "rootfs has $m.ko in /lib/modules/$krel/extra with depmod data" grep -q "^extra/.*$m.ko:" "$work/modules.dep"
done
for c in rpibsp,gpio-button rpibsp,gpio-led rpibsp,devicemodel; do
	t "modules.alias autoloads $c" grep -q "of:N\*T\*C$c" "$work/modules.alias"
done
t "rootfs has /usr/bin/rpibsp-verify" rstat /usr/bin/rpibsp-verify regular
t "rootfs has busybox and /sbin/init" bash -c "$(declare -f rstat); work='$work'; rstat /bin/busybox regular && rstat /sbin/init symlink"

# Reproducible: the same tree gives the same image.
rootfs=$RPIBSP_OUT/rootfs overlay=$RPIBSP_OUT/boot/overlays/rpibsp.dtbo
if RPIBSP_OUT=$work/rebuild "$RPIBSP_ROOT/scripts/image.sh" "$rootfs" "$overlay" >"$work/rebuild.log" 2>&1; then
	t "a second build gives the same image bytes" cmp -s "$img" "$work/rebuild/sdcard.img"
else
	notok "a second image build succeeds (log: $work/rebuild.log)"
fi
rm -rf "$work/rebuild"

# Boot from the card on the emulated boards and run the demo (drivers, buttons, LED, verify).
# On raspi4b tests/qemu/boot.sh puts the card on the emmc2 controller, the 4B's card slot (QEMU
# itself would give it to the Arasan sdhci, the 4B's WiFi SDIO): check that Linux found it there.
machines=(raspi3b raspi4b)
for m in "${machines[@]}"; do
	dtb=$RPIBSP_OUT/qemu/$m.dtb
	if "$RPIBSP_ROOT/tests/qemu/boot.sh" --machine "$m" --dtb "$dtb" --sd "$img" \
		--guest-cmd /usr/share/rpibsp/demo --timeout 240 --log "$RPIBSP_OUT/logs/image-$m.log" >"$work/$m.out" 2>&1; then
		ok "$m boots from the card (root on mmcblk0p2) and the demo passes"
	else
		notok "$m boots from the card (root on mmcblk0p2) and the demo passes"
		sed 's/^/# /' "$work/$m.out" | tail -n 20
	fi
	grep -E 'demo: (driver|pressed|result)' "$RPIBSP_OUT/logs/image-$m.log" | tr -d '\r' | sed 's/^/# /' || true
	if [ "$m" = raspi4b ]; then
		host=$(sed -n 's/.* \(mmc[0-9]*\): SDHCI controller on fe340000\.mmc.*/\1/p' "$RPIBSP_OUT/logs/image-$m.log" | head -n1)
		t "raspi4b: the card (mmcblk0) is on the emmc2 controller fe340000.mmc, as on the real 4B" \
			grep -q "mmcblk0: ${host:-none}:" "$RPIBSP_OUT/logs/image-$m.log"
	fi
done
tap_end
