#!/usr/bin/env bash
# Builds the bootable SD-card image for Raspberry Pi 3B/3B+/4B, offline, without root privileges
# (genimage under fakeroot), reproducibly (fixed timestamps, volume ids, UUIDs and hash seeds):
#
#   $RPIBSP_OUT/sdcard.img          MBR: FAT boot partition (firmware, Image, DTBs, overlays/,
#                                   config.txt, cmdline.txt) + ext4 root filesystem
#   $RPIBSP_OUT/sdcard.img.bmap     block map for bmaptool / flash.sh
#   $RPIBSP_OUT/sdcard.img.sha256   checksum
#
#   scripts/image.sh ROOTFS_DIR OVERLAY.dtbo...
#     ROOTFS_DIR   the root filesystem tree (scripts/rootfs.sh)
#     OVERLAY      compiled overlays for the card's overlays/ (from dts/; not the emulation one)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: scripts/image.sh ROOTFS_DIR OVERLAY.dtbo..."
rootfs=$1
shift
overlays=("$@")
kdir=$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)
image=$kdir/arch/arm64/boot/Image
dtbdir=$kdir/arch/arm64/boot/dts/broadcom
DTBS=(bcm2837-rpi-3-b bcm2837-rpi-3-b-plus bcm2711-rpi-4-b)
# The boot files of the Raspberry Pi firmware, from Debian's raspi-firmware (scripts/packages.env).
FIRMWARE=(bootcode.bin start.elf fixup.dat start4.elf fixup4.dat)
# Sizes: QEMU wants a power-of-two SD card, so the whole image is exactly IMAGE_SIZE.
IMAGE_SIZE=64M BOOT_SIZE=36M ROOT_SIZE=24M
# Fixed identities and times make two builds from the same tree byte-identical.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$RPIBSP_ROOT" log -1 --format=%ct 2>/dev/null || echo 1700000000)}
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
ROOT_UUID=5b5b5b5b-7270-6962-7370-000000000002
DISK_SIGNATURE=0x5b5b5b5b

[ -d "$rootfs" ] || die "no root filesystem tree at $rootfs (run 'make rootfs')"
[ -f "$image" ] || die "no kernel Image at $image (run 'make kernel')"
for d in "${DTBS[@]}"; do
	[ -f "$dtbdir/$d.dtb" ] || die "no $d.dtb in $dtbdir"
done
for o in "${overlays[@]}"; do
	[ -f "$o" ] || die "no overlay $o (run 'make dts')"
done

fw_deb=$(apt_fetch "$FIRMWARE_DEB_SUITE" "$FIRMWARE_DEB_COMPONENT" "$FIRMWARE_DEB_PACKAGE" \
	"$FIRMWARE_DEB_VERSION" "$FIRMWARE_DEB_SHA256")

work=$RPIBSP_OUT/image-work
rm -rf "$work"
mkdir -p "$work/boot/overlays" "$work/root" "$work/tmp" "$work/fw"
dpkg-deb -x "$fw_deb" "$work/fw"
for f in "${FIRMWARE[@]}"; do
	install -m 0644 "$work/fw/usr/lib/raspi-firmware/$f" "$work/boot/$f"
done
install -m 0644 "$image" "$work/boot/Image"
for d in "${DTBS[@]}"; do
	install -m 0644 "$dtbdir/$d.dtb" "$work/boot/$d.dtb"
done
install -m 0644 "${overlays[@]}" "$work/boot/overlays/"
# config.txt and cmdline.txt: what they do on a real Pi, and why, is in README.md ("First boot
# on a real Pi"); tests/image checks both, and models the firmware's board-type filters.
cat >"$work/boot/config.txt" <<'EOF'
# Raspberry Pi firmware configuration of the rpi-bsp image.
arm_64bit=1
kernel=Image
# Serial console on GPIO 14/15 at 115200 baud. On the 3B, 3B+ and 4B that is the mini UART,
# whose baud rate follows the VPU core clock: enable_uart=1 enables it and makes the firmware fix
# the core clock. cmdline.txt names no console: Linux takes the device tree's stdout-path.
enable_uart=1
# Mainline device trees, one per supported board, chosen by the board type of the revision code
# (the firmware's default names are the downstream bcm2710/bcm2711 ones). [pi3], [pi3+] and [pi4]
# would also match boards this image does not support. Supported: 3B (0x8), 3B+ (0xD), 4B (0x11).
# Not supported, no device tree here, so they do not boot: 3A+ (0xE), CM3 (0xA), CM3+ (0x10),
# Zero 2 W (0x12), Pi 400 (0x13), CM4 (0x14), CM4S (0x15), the 2B and every other model.
[board-type=0x8]
device_tree=bcm2837-rpi-3-b.dtb
[board-type=0xD]
device_tree=bcm2837-rpi-3-b-plus.dtb
[board-type=0x11]
device_tree=bcm2711-rpi-4-b.dtb
[all]
# The BSP's hardware: buttons on GPIO 17 (LED on) and 18 (LED off), LED on GPIO 4, devicemodel.
# Parameters: see dts/README.md, e.g. dtoverlay=rpibsp,led_pin=5
dtoverlay=rpibsp
EOF
# The root by the partition's id (disk signature - partition number), not by /dev/mmcblkN: the
# mainline device trees have no mmc aliases, so MMC hosts are numbered in probe order, and on a 4B
# the card slot (emmc2) can come after the WiFi SDIO host. No console=: any console= makes Linux
# ignore stdout-path, and the firmware's 8250.nr_uarts=1 renumbers the mini UART (ttyS0, not ttyS1).
printf 'root=PARTUUID=%08x-02 rootfstype=ext4 rootwait ro\n' "$DISK_SIGNATURE" >"$work/boot/cmdline.txt"

# The root filesystem, with normalised timestamps (the ownership is root's under fakeroot).
cp -a "$rootfs/." "$work/root/"
find "$work/boot" "$work/root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

cat >"$work/genimage.cfg" <<EOF
image boot.vfat {
	vfat {
		extraargs = "--invariant -i 5b5b0001 -n BOOT"
	}
	size = $BOOT_SIZE
	mountpoint = "/boot"
}

image sdcard.img {
	hdimage {
		partition-table-type = "mbr"
		disk-signature = $DISK_SIGNATURE
	}
	size = $IMAGE_SIZE
	partition boot {
		partition-type = 0xC
		bootable = "true"
		offset = 4M
		image = "boot.vfat"
	}
	partition rootfs {
		partition-type = 0x83
		image = "rootfs.ext4"
	}
}
EOF
# The ext4 root filesystem is made here rather than by genimage so that every inode's times can be
# fixed: mke2fs -d copies each file's ctime, which no tool can set on the host.
mkdir -p "$work/images"
mkdir -p "$work/root/boot"
fakeroot mke2fs -q -t ext4 -d "$work/root" -L rootfs -U "$ROOT_UUID" -E "hash_seed=$ROOT_UUID" -m 0 \
	-J size=4 -b 4096 "$work/images/rootfs.ext4" "$ROOT_SIZE" >&2 ||
	die "mke2fs failed for the root filesystem ($ROOT_SIZE too small? the tree is $(du -sh "$work/root" | cut -f1))"
(
	cd "$work/root"
	find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
		for field in ctime mtime atime crtime; do
			printf 'sif "%s" %s @%s\nsif "%s" %s_extra 0\n' "${p#.}" "$field" "$SOURCE_DATE_EPOCH" "${p#.}" "$field"
		done
	done
	for field in ctime mtime atime crtime; do
		printf 'sif / %s @%s\nsif / %s_extra 0\n' "$field" "$SOURCE_DATE_EPOCH" "$field"
	done
	printf 'ssv mtime @%s\nssv wtime @%s\nssv mkfs_time @%s\nssv lastcheck @%s\n' \
		"$SOURCE_DATE_EPOCH" "$SOURCE_DATE_EPOCH" "$SOURCE_DATE_EPOCH" "$SOURCE_DATE_EPOCH"
) >"$work/fix-times.debugfs"
debugfs -w -f "$work/fix-times.debugfs" "$work/images/rootfs.ext4" >"$work/debugfs.log" 2>&1 ||
	die "debugfs could not normalise the root filesystem's times (log: $work/debugfs.log)"
if grep -q '^sif: \|^ssv: \|: Invalid\|not found' "$work/debugfs.log"; then
	die "debugfs reported errors while normalising times (log: $work/debugfs.log)"
fi
e2fsck -fn "$work/images/rootfs.ext4" >"$work/e2fsck.log" 2>&1 ||
	die "the root filesystem does not check clean (log: $work/e2fsck.log)"

# genimage: the FAT boot partition (by mount point) and the partitioned disk.
mkdir -p "$work/tree/boot"
cp -a "$work/boot/." "$work/tree/boot/"
find "$work/tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fakeroot genimage --config "$work/genimage.cfg" --rootpath "$work/tree" --tmppath "$work/tmp" \
	--inputpath "$work/images" --outputpath "$work/images" >"$work/genimage.log" 2>&1 || {
	tail -n 30 "$work/genimage.log" >&2
	die "genimage failed (log: $work/genimage.log)"
}
mv "$work/images/sdcard.img" "$RPIBSP_OUT/sdcard.img"
bmaptool -q create -o "$RPIBSP_OUT/sdcard.img.bmap" "$RPIBSP_OUT/sdcard.img"
(cd "$RPIBSP_OUT" && sha256sum sdcard.img >sdcard.img.sha256)

# Size report: the image and the used space of each partition.
{
	echo "image: $(stat -c %s "$RPIBSP_OUT/sdcard.img") bytes, $(du -k "$RPIBSP_OUT/sdcard.img" | cut -f1) KiB allocated"
	echo "boot (FAT, $BOOT_SIZE): $(du -sk --apparent-size "$work/boot" | cut -f1) KiB used"
	echo "rootfs (ext4, $ROOT_SIZE): $(du -sk --apparent-size "$work/root" | cut -f1) KiB used"
} | tee "$RPIBSP_OUT/sdcard.img.sizes" >&2
rm -rf "$work"
printf '%s\n' "$RPIBSP_OUT/sdcard.img"
