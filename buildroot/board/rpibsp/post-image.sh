#!/usr/bin/env bash
# Post-image script of the rpibsp br2-external tree: assembles the boot
# partition (firmware, config.txt, cmdline.txt, kernel Image, device trees and
# overlays/) and writes sdcard.img and sdcard.img.bmap to $BINARIES_DIR.
#
# Arguments (Buildroot passes them): $1 = the images directory, then
# BR2_ROOTFS_POST_SCRIPT_ARGS = the names of the device tree overlays. Each
# overlay NAME is a dts/NAME.dts of the repository listed in
# BR2_LINUX_KERNEL_CUSTOM_DTS_PATH: the kernel build turns it into NAME.dtb,
# which lands on the boot partition as overlays/NAME.dtbo.
set -euo pipefail

die() {
	printf 'post-image: %s\n' "$*" >&2
	exit 1
}

BOARD_DIR="$(dirname "$(readlink -f "$0")")"
BINARIES_DIR="${1:?images directory expected as first argument}"
shift
OVERLAYS=("$@")
[ "${#OVERLAYS[@]}" -gt 0 ] || OVERLAYS=(rpibsp)
: "${BUILD_DIR:?run from Buildroot}" "${BR2_CONFIG:?run from Buildroot}"

FW_DIR="${BINARIES_DIR}/rpi-firmware"
CONFIG_TXT="${FW_DIR}/config.txt"
[ -f "${CONFIG_TXT}" ] || die "${CONFIG_TXT} missing (BR2_PACKAGE_RPI_FIRMWARE_CONFIG_FILE)"

# Overlays: NAME.dtb -> overlays/NAME.dtbo.
rm -rf "${BINARIES_DIR}/overlays"
mkdir -p "${BINARIES_DIR}/overlays"
for name in "${OVERLAYS[@]}"; do
	dtb="${BINARIES_DIR}/${name}.dtb"
	[ -f "${dtb}" ] || die "overlay ${name}: ${dtb} missing (is dts/${name}.dts in BR2_LINUX_KERNEL_CUSTOM_DTS_PATH?)"
	install -m 0644 "${dtb}" "${BINARIES_DIR}/overlays/${name}.dtbo"
done

# The firmware ignores a dtoverlay= it cannot find: refuse to build an image
# whose config.txt asks for an overlay that is not on it.
while read -r name; do
	[ -f "${BINARIES_DIR}/overlays/${name}.dtbo" ] ||
		die "config.txt has dtoverlay=${name} but there is no overlays/${name}.dtbo"
done < <(sed -n 's/^[[:space:]]*dtoverlay=\([^,:[:space:]]*\).*/\1/p' "${CONFIG_TXT}")

# Same for device_tree= and kernel=.
while read -r dtb; do
	[ -f "${BINARIES_DIR}/${dtb}" ] || die "config.txt has device_tree=${dtb} but the kernel did not build it"
done < <(sed -n 's/^[[:space:]]*device_tree=\([^[:space:]]*\).*/\1/p' "${CONFIG_TXT}")
KERNEL="$(sed -n 's/^[[:space:]]*kernel=\([^[:space:]]*\).*/\1/p' "${CONFIG_TXT}" | tail -n 1)"
[ -n "${KERNEL}" ] || die "config.txt has no kernel= line"
[ -f "${BINARIES_DIR}/${KERNEL}" ] || die "config.txt has kernel=${KERNEL} but ${BINARIES_DIR}/${KERNEL} is missing"

# Boot files: the board device trees (not the overlays), the firmware files,
# config.txt, cmdline.txt, the kernel and overlays/.
FILES=()
for dtb in "${BINARIES_DIR}"/*.dtb; do
	[ -f "${dtb}" ] || continue
	name="$(basename "${dtb}" .dtb)"
	is_overlay=false
	for o in "${OVERLAYS[@]}"; do
		[ "${o}" != "${name}" ] || is_overlay=true
	done
	if ! "${is_overlay}"; then
		FILES+=("${name}.dtb")
	fi
done
for f in "${FW_DIR}"/*; do
	if [ -f "${f}" ]; then
		FILES+=("rpi-firmware/$(basename "${f}")")
	fi
done
FILES+=("${KERNEL}" "overlays")

GENIMAGE_CFG="${BINARIES_DIR}/genimage.cfg"
BOOT_FILES="$(printf '\t\t\t"%s",\n' "${FILES[@]}")"
awk -v files="${BOOT_FILES%,}" '$0 == "#BOOT_FILES#" { print files; next } { print }' \
	"${BOARD_DIR}/genimage.cfg.in" >"${GENIMAGE_CFG}"

# Buildroot's helper runs genimage and, with BR2_PACKAGE_HOST_BMAP_TOOLS=y,
# "bmaptool create" for each image of the configuration. It is run from the
# Buildroot top directory, like every post-image script.
support/scripts/genimage.sh -c "${GENIMAGE_CFG}"

[ -f "${BINARIES_DIR}/sdcard.img" ] || die "genimage did not write sdcard.img"
[ -f "${BINARIES_DIR}/sdcard.img.bmap" ] ||
	die "sdcard.img.bmap missing: enable BR2_PACKAGE_HOST_BMAP_TOOLS"
