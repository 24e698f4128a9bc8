#!/usr/bin/env bash
# Builds the bootable SD-card image for Raspberry Pi 3B/3B+/4B, offline, without root privileges
# (genimage under fakeroot), reproducibly (fixed timestamps, volume ids, UUIDs and hash seeds):
#
#   $RPIBSP_OUT/sdcard.img          MBR: FAT boot partition (firmware, Image, DTBs, overlays/,
#                                   config.txt, cmdline.txt) + ext4 root filesystem
#   $RPIBSP_OUT/sdcard.img.bmap     block map for bmaptool / flash.sh
#   $RPIBSP_OUT/sdcard.img.sha256   checksum
#
#   scripts/image.sh ROOTFS_DIR OVERLAY_DIR
#     ROOTFS_DIR   the root filesystem tree (scripts/rootfs.sh)
#     OVERLAY_DIR  the compiled overlays (overlays/*.dtbo, from dts/)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: scripts/image.sh ROOTFS_DIR OVERLAY_DIR"
rootfs=$1 overlays=$2
kdir=$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)
image=$kdir/arch/arm64/boot/Image
dtbdir=$kdir/arch/arm64/boot/dts/broadcom
DTBS=(bcm2837-rpi-3-b bcm2837-rpi-3-b-plus bcm2711-rpi-4-b)
# The boot files of the Raspberry Pi firmware, from Debian's raspi-firmware (non-free-firmware).
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
compgen -G "$overlays/*.dtbo" >/dev/null || die "no overlays (*.dtbo) in $overlays (run 'make dts')"

fw_deb=$(find "$RPIBSP_CACHE/dl" -maxdepth 1 -name 'raspi-firmware_*_all.deb' | sort | tail -n1)
if [ -z "$fw_deb" ]; then
	# non-free-firmware may not be among the host's components: a private apt list for it.
	apt=$RPIBSP_CACHE/apt-firmware
	mirror=$(grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
		head -n1 | tr -d ' ')
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$RPIBSP_CACHE/dl"
	printf 'deb %s bookworm non-free-firmware\n' "${mirror:-http://deb.debian.org/debian}" >"$apt/sources.list"
	o=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt/lists"
		-o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
	apt-get "${o[@]}" -q update >&2 && (cd "$RPIBSP_CACHE/dl" && apt-get "${o[@]}" -q download raspi-firmware >&2) ||
		die "cannot download raspi-firmware (Debian bookworm, non-free-firmware) for the boot partition"
	fw_deb=$(find "$RPIBSP_CACHE/dl" -maxdepth 1 -name 'raspi-firmware_*_all.deb' | sort | tail -n1)
fi

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
install -m 0644 "$overlays"/*.dtbo "$work/boot/overlays/"
cat >"$work/boot/config.txt" <<'EOF'
# Raspberry Pi firmware configuration of the rpi-bsp image.
arm_64bit=1
kernel=Image
# Serial console on GPIO 14/15 at 115200 (the mini UART on Pi 3; core clock fixed by the firmware).
enable_uart=1
# Mainline device trees (the firmware's default names are the downstream bcm2710/bcm2711 ones).
[pi3]
device_tree=bcm2837-rpi-3-b.dtb
[pi3+]
device_tree=bcm2837-rpi-3-b-plus.dtb
[pi4]
device_tree=bcm2711-rpi-4-b.dtb
[all]
# The BSP's hardware: buttons on GPIO 17 (LED on) and 18 (LED off), LED on GPIO 4, devicemodel.
# Parameters: see dts/README.md, e.g. dtoverlay=rpibsp,led_pin=5
dtoverlay=rpibsp
EOF
echo "console=ttyS1,115200 root=/dev/mmcblk0p2 rootfstype=ext4 rootwait ro" >"$work/boot/cmdline.txt"

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

image rootfs.ext4 {
	ext4 {
		use-mke2fs = true
		label = "rootfs"
		extraargs = "-U $ROOT_UUID -E hash_seed=$ROOT_UUID -m 0"
		features = "^has_journal"
	}
	size = $ROOT_SIZE
	mountpoint = "/"
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
# genimage takes the partitions' contents from one root, by mount point.
mkdir -p "$work/tree"
mv "$work/root/"* "$work/tree/" 2>/dev/null || true
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
	echo "rootfs (ext4, $ROOT_SIZE): $(du -sk --apparent-size "$work/tree" --exclude=./boot | cut -f1) KiB used"
} | tee "$RPIBSP_OUT/sdcard.img.sizes" >&2
rm -rf "$work"
printf '%s\n' "$RPIBSP_OUT/sdcard.img"
