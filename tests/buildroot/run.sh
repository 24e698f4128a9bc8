#!/usr/bin/env bash
# Test suite of the Buildroot br2-external tree (buildroot/). TAP on stdout.
#
# Without Buildroot sources and without network:
#   - the tree's structure and references (check_tree.py), and negative tests
#     proving that the checker fails on a copy of the tree with a broken
#     reference;
#   - board/rpibsp/update-kernel-hash.sh on local sha256sums files;
#   - board/rpibsp/post-image.sh on a staged images directory: sdcard.img,
#     its .bmap, the boot partition's contents, the overlay compiled from
#     dts/rpibsp.dts the way the kernel build compiles it, applied with
#     fdtoverlay to the mainline DTBs of $RPIBSP_KBUILD.
# With RPIBSP_BUILDROOT=<Buildroot source tree> also:
#   - each defconfig loads with no unknown or dropped symbol, the variables the
#     tree sets in Buildroot's makefiles, utils/check-package -b.
#
# Environment: RPIBSP_OUT, RPIBSP_CACHE, RPIBSP_KSRC (patched kernel source),
# RPIBSP_KBUILD (kernel build directory), RPIBSP_BUILDROOT (optional).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
TREE="${ROOT}/buildroot"
export RPIBSP_OUT="${RPIBSP_OUT:-${ROOT}/out}"
export RPIBSP_CACHE="${RPIBSP_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/rpi-bsp}"
RPIBSP_BUILDROOT="${RPIBSP_BUILDROOT:-}"
# Manual run: the kernel the offline build prepares, if it is there.
if [ -z "${RPIBSP_KSRC:-}" ] && [ -f "${ROOT}/scripts/lib.sh" ]; then
	RPIBSP_KSRC="$(. "${ROOT}/scripts/lib.sh" >/dev/null 2>&1 && kernel_src_dir 2>/dev/null)" || RPIBSP_KSRC=""
fi
if [ -z "${RPIBSP_KBUILD:-}" ] && [ -f "${ROOT}/scripts/lib.sh" ]; then
	RPIBSP_KBUILD="$(. "${ROOT}/scripts/lib.sh" >/dev/null 2>&1 && kernel_build_dir bsp 2>/dev/null)" || RPIBSP_KBUILD=""
fi
[ -d "${RPIBSP_KSRC}/scripts/dtc/include-prefixes" ] || RPIBSP_KSRC=""
[ -d "${RPIBSP_KBUILD}/arch/arm64/boot/dts/broadcom" ] || RPIBSP_KBUILD=""

PYTHON="$(command -v python3)"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

n=0 passed=0 failed=0 skipped=0
ok() {
	n=$((n + 1)) passed=$((passed + 1))
	echo "ok ${n} - $1"
}
not_ok() {
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok ${n} - $1"
}
skip() {
	n=$((n + 1)) skipped=$((skipped + 1))
	echo "ok ${n} - $1 # SKIP $2"
}
check() { # check NAME COMMAND...: ok if the command succeeds
	local name="$1"
	shift
	if "$@"; then ok "${name}"; else not_ok "${name}"; fi
}
diag() {
	sed 's/^/# /'
}

echo "# kernel source: ${RPIBSP_KSRC:-none}; kernel build: ${RPIBSP_KBUILD:-none}; Buildroot: ${RPIBSP_BUILDROOT:-none}"

# --- 1. the tree's structure and references --------------------------------
"${PYTHON}" "${HERE}/check_tree.py" "${ROOT}" "${RPIBSP_KSRC}" >"${WORK}/tree.out" || true
while IFS= read -r line; do
	case "${line}" in
	"PASS "*) ok "tree: ${line#PASS }" ;;
	"FAIL "*) not_ok "tree: ${line#FAIL }" ;;
	"SKIP "*)
		rest="${line#SKIP }"
		skip "tree: ${rest%%: *}" "${rest#*: }"
		;;
	*) echo "${line}" ;;
	esac
done <"${WORK}/tree.out"

# --- 2. the checker can fail ------------------------------------------------
# A copy of what the tree references: buildroot/, kernel/ and dts/.
make_copy() {
	local dst="$1"
	mkdir -p "${dst}/kernel/patches" "${dst}/dts"
	cp -a "${TREE}" "${dst}/buildroot"
	cp -a "${ROOT}/kernel/bsp.config" "${ROOT}/kernel/net.config" "${dst}/kernel/"
	if [ -f "${ROOT}/kernel/source.env" ]; then
		cp -a "${ROOT}/kernel/source.env" "${dst}/kernel/"
	else
		echo "KERNEL_VERSION=$(sed -n 's/^BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="\(.*\)"$/\1/p' \
			"${TREE}/configs/rpibsp_rpi3_64_defconfig")" >"${dst}/kernel/source.env"
	fi
	if [ -d "${ROOT}/kernel/patches" ]; then
		cp -a "${ROOT}/kernel/patches/." "${dst}/kernel/patches/"
	fi
	if [ -f "${ROOT}/dts/rpibsp.dts" ]; then
		cp -a "${ROOT}/dts/rpibsp.dts" "${dst}/dts/"
	else
		echo "/dts-v1/; /plugin/; / { };" >"${dst}/dts/rpibsp.dts"
	fi
}

BASE="${WORK}/base"
make_copy "${BASE}"
if "${PYTHON}" "${HERE}/check_tree.py" "${BASE}" >"${WORK}/base.out"; then
	ok "negative tests: an intact copy of the tree passes the checker"
else
	not_ok "negative tests: an intact copy of the tree passes the checker"
	grep '^FAIL' "${WORK}/base.out" | diag
fi

# negative NAME EXPECTED_CHECK: mutate a fresh copy with mutate_NAME, expect
# the checker to exit 1 reporting FAIL for EXPECTED_CHECK.
negative() {
	local name="$1" expected="$2" copy="${WORK}/neg-$1"
	make_copy "${copy}"
	"mutate_${name}" "${copy}"
	if "${PYTHON}" "${HERE}/check_tree.py" "${copy}" >"${WORK}/neg.out"; then
		not_ok "checker fails when ${3}"
		echo "# the checker passed the broken copy"
	elif grep -q "^FAIL ${expected}:" "${WORK}/neg.out"; then
		ok "checker fails when ${3}"
	else
		not_ok "checker fails when ${3}"
		echo "# expected a failure of ${expected}, got:"
		grep '^FAIL' "${WORK}/neg.out" | diag
	fi
	rm -rf "${copy}"
}
mutate_desc() { sed -i 's/^name: RPIBSP$/name: RPIBSP2/' "$1/buildroot/external.desc"; }
mutate_config_in() { sed -i '/rpibsp-userland\/Config.in/d' "$1/buildroot/Config.in"; }
mutate_external_mk() { echo '# nothing included' >"$1/buildroot/external.mk"; }
mutate_hash() { rm "$1/buildroot/package/rust-src/rust-src.hash"; }
mutate_prefix() { echo 'DRIVERS_EXTRA = 1' >>"$1/buildroot/package/rpibsp-drivers/rpibsp-drivers.mk"; }
mutate_linux_ext() { sed -i 's/^config BR2_LINUX_KERNEL_EXT_RPIBSP_RUST$/config BR2_LINUX_KERNEL_EXT_OTHER/' "$1/buildroot/linux/Config.ext.in"; }
mutate_fragment() { sed -i 's|/kernel/bsp.config |/kernel/bsp-old.config |' "$1/buildroot/configs/rpibsp_rpi3_64_defconfig"; }
mutate_fragment_gone() { rm "$1/kernel/bsp.config"; }
mutate_patches() { sed -i 's|/kernel/patches"|/kernel/patches-old"|' "$1/buildroot/configs/rpibsp_rpi4_64_defconfig"; }
mutate_patches_gone() { rm -rf "$1/kernel/patches"; }
mutate_dts() { sed -i 's|/dts/rpibsp.dts"|/dts/board.dts"|' "$1/buildroot/configs/rpibsp_rpi3_64_defconfig"; }
mutate_dts_gone() { rm "$1/dts/rpibsp.dts"; }
mutate_overlay_arg() { sed -i 's|^BR2_ROOTFS_POST_SCRIPT_ARGS=.*|BR2_ROOTFS_POST_SCRIPT_ARGS="rpibsp rpibsp-emu"|' "$1/buildroot/configs/rpibsp_rpi4_64_defconfig"; }
mutate_version() { sed -i 's/^KERNEL_VERSION=.*/KERNEL_VERSION=7.3.5/' "$1/kernel/source.env"; }
mutate_kernel_hash() {
	sed -i -e '/RPIBSP-PLACEHOLDER/d' "$1/buildroot/board/rpibsp/patches/linux/linux.hash"
	printf 'sha256  %064d  linux-7.2.9.tar.xz\n' 0 >>"$1/buildroot/board/rpibsp/patches/linux/linux.hash"
}
mutate_copy() { cp "$1/kernel/bsp.config" "$1/buildroot/board/rpibsp/linux.fragment"; }
mutate_config_txt() { sed -i '/^dtoverlay=rpibsp$/d' "$1/buildroot/board/rpibsp/config_3_64bit.txt"; }
mutate_device_tree() { sed -i 's/^device_tree=bcm2711-rpi-4-b.dtb$/device_tree=bcm2711-rpi-400.dtb/' "$1/buildroot/board/rpibsp/config_4_64bit.txt"; }
mutate_script_mode() { chmod -x "$1/buildroot/board/rpibsp/post-image.sh"; }

negative desc external-desc "external.desc names another tree"
negative config_in config-in-sources "Config.in does not source a package"
negative external_mk external-mk-includes "external.mk does not include the packages"
negative hash package-files "a downloading package has no .hash"
negative prefix package-files "a package variable is not prefixed by its name"
negative linux_ext linux-ext "the kernel extension has no Kconfig option"
negative fragment defconfig-rpi3-fragment "a defconfig names another config fragment"
negative fragment_gone defconfig-rpi3-paths-exist "kernel/bsp.config is missing"
negative patches defconfig-rpi4-patches "a defconfig names another patch directory"
negative patches_gone defconfig-rpi4-paths-exist "kernel/patches is missing"
negative dts defconfig-rpi3-overlays "a defconfig does not compile dts/rpibsp.dts"
negative dts_gone defconfig-rpi3-paths-exist "dts/rpibsp.dts is missing"
negative overlay_arg defconfig-rpi4-overlays "post-image is given an overlay that is not compiled"
negative version defconfig-rpi3-kernel-version "kernel/source.env records another kernel version"
negative kernel_hash defconfig-rpi4-kernel-hash "linux.hash is for another kernel version"
negative copy no-fragment-copy "buildroot/ holds a copy of kernel/bsp.config"
negative config_txt defconfig-rpi3-config-txt "config.txt does not load the rpibsp overlay"
negative device_tree defconfig-rpi4-config-txt "config.txt selects a DTB that is not built"
negative script_mode defconfig-rpi3-paths-exist "post-image.sh is not executable"

# --- 3. update-kernel-hash.sh -------------------------------------------------
UKH="${TREE}/board/rpibsp/update-kernel-hash.sh"
version="$(sed -n 's/^BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="\(.*\)"$/\1/p' "${TREE}/configs/rpibsp_rpi4_64_defconfig")"
# Test data, not a real hash.
fake="$(printf '%s' "test-data-${version}" | sha256sum | cut -d' ' -f1)"
printf '%s  linux-%s.tar.gz\n%s  linux-%s.tar.xz\n%s  patch-%s.xz\n' \
	"${fake/a/b}" "${version}" "${fake}" "${version}" "${fake/0/1}" "${version}" >"${WORK}/sums"
HCOPY="${WORK}/hash-copy"
make_copy "${HCOPY}"
HFILE="${HCOPY}/buildroot/board/rpibsp/patches/linux/linux.hash"
if "${UKH}" -n -s "${WORK}/sums" -f "${HFILE}" >/dev/null &&
	grep -qx "sha256  ${fake}  linux-${version}.tar.xz" "${HFILE}" &&
	! grep -q RPIBSP-PLACEHOLDER "${HFILE}" &&
	[ "$(grep -cE '^sha256 .* (COPYING|LICENSES/)' "${HFILE}")" -eq 3 ] &&
	{ "${PYTHON}" "${HERE}/check_tree.py" "${HCOPY}" >"${WORK}/hash.out" || true; } &&
	grep -qx 'PASS defconfig-rpi4-kernel-hash' "${WORK}/hash.out" &&
	! grep -q 'placeholder' "${WORK}/hash.out"; then
	ok "update-kernel-hash.sh fills in the tarball's sha256 and keeps the license hashes"
else
	not_ok "update-kernel-hash.sh fills in the tarball's sha256 and keeps the license hashes"
	diag <"${HFILE}"
fi
cp "${TREE}/board/rpibsp/patches/linux/linux.hash" "${HFILE}"
grep -v "linux-${version}.tar.xz" "${WORK}/sums" >"${WORK}/sums-without"
if "${UKH}" -n -s "${WORK}/sums-without" -f "${HFILE}" 2>/dev/null; then
	not_ok "update-kernel-hash.sh refuses a sha256sums without the tarball"
else
	check "update-kernel-hash.sh refuses a sha256sums without the tarball" \
		cmp -s "${HFILE}" "${TREE}/board/rpibsp/patches/linux/linux.hash"
fi
sed "s/^${fake}/${fake:0:63}/" "${WORK}/sums" >"${WORK}/sums-short"
if "${UKH}" -n -s "${WORK}/sums-short" -f "${HFILE}" 2>/dev/null; then
	not_ok "update-kernel-hash.sh refuses a malformed sha256"
else
	ok "update-kernel-hash.sh refuses a malformed sha256"
fi
if GNUPGHOME="${WORK}/gnupg" "${UKH}" -s "${WORK}/sums" -f "${HFILE}" 2>/dev/null; then
	not_ok "update-kernel-hash.sh refuses an unsigned sha256sums unless told (-n)"
else
	ok "update-kernel-hash.sh refuses an unsigned sha256sums unless told (-n)"
fi

# --- 4. post-image.sh: the SD card image ----------------------------------------
missing=()
for tool in genimage mcopy mdir mkdosfs mke2fs bmaptool; do
	command -v "${tool}" >/dev/null || missing+=("${tool}")
done

# The overlay, compiled like the kernel build compiles a .dts of
# BR2_LINUX_KERNEL_CUSTOM_DTS_PATH (scripts/Makefile.dtbs: cpp, then dtc).
OVERLAY=""
if [ -n "${RPIBSP_KSRC}" ] && [ -f "${ROOT}/dts/rpibsp.dts" ] && command -v dtc >/dev/null; then
	inc="${RPIBSP_KSRC}/scripts/dtc/include-prefixes"
	if cpp -nostdinc -I "${inc}" -undef -D__DTS__ -x assembler-with-cpp \
		-o "${WORK}/rpibsp.dts.tmp" "${ROOT}/dts/rpibsp.dts" 2>"${WORK}/dtc.err" &&
		dtc -q -@ -I dts -O dtb -b 0 -i "${ROOT}/dts" -i "${inc}" \
			-o "${WORK}/rpibsp.dtb" "${WORK}/rpibsp.dts.tmp" 2>>"${WORK}/dtc.err"; then
		OVERLAY="${WORK}/rpibsp.dtb"
		ok "dts/rpibsp.dts compiles the way the kernel build compiles it (cpp + dtc -@)"
	else
		not_ok "dts/rpibsp.dts compiles the way the kernel build compiles it (cpp + dtc -@)"
		diag <"${WORK}/dtc.err"
	fi
else
	skip "dts/rpibsp.dts compiles the way the kernel build compiles it (cpp + dtc -@)" \
		"needs dts/rpibsp.dts, dtc and the kernel source (RPIBSP_KSRC)"
fi

# Buildroot runs post-image scripts from its top directory, where they find
# support/scripts/genimage.sh. Use Buildroot's if we have it, else a stand-in
# doing what it does: genimage, then "bmaptool create" for each image of the
# configuration when BR2_PACKAGE_HOST_BMAP_TOOLS=y.
# The post-image checks' names say when they ran against the stand-in.
if [ -n "${RPIBSP_BUILDROOT}" ]; then
	BRTOP="${RPIBSP_BUILDROOT}"
	GI=""
else
	GI=" [stand-in genimage.sh]"
	BRTOP="${WORK}/brtop"
	mkdir -p "${BRTOP}/support/scripts"
	cat >"${BRTOP}/support/scripts/genimage.sh" <<'EOF'
#!/usr/bin/env bash
# Test stand-in for Buildroot's support/scripts/genimage.sh.
set -euo pipefail
[ "$1" = -c ] || exit 2
cfg="$2"
root="$(mktemp -d)"
rm -rf "${BUILD_DIR}/genimage.tmp"
genimage --rootpath "${root}" --tmppath "${BUILD_DIR}/genimage.tmp" \
	--inputpath "${BINARIES_DIR}" --outputpath "${BINARIES_DIR}" --config "${cfg}"
rm -rf "${root}"
if grep -Eq '^BR2_PACKAGE_HOST_BMAP_TOOLS=y$' "${BR2_CONFIG}"; then
	grep '^image ' "${cfg}" | cut -d ' ' -f 2 | while read -r image; do
		bmaptool create "${BINARIES_DIR}/${image}" -o "${BINARIES_DIR}/${image}.bmap"
	done
fi
EOF
	chmod +x "${BRTOP}/support/scripts/genimage.sh"
fi

# stage_images BOARD DIR: what Buildroot leaves in $BINARIES_DIR before post-image.
stage_images() {
	local board="$1" bin="$2" cfg config_txt dtb name
	local -a dtbs
	cfg="${TREE}/configs/rpibsp_${board}_64_defconfig"
	mkdir -p "${bin}/rpi-firmware" "${WORK}/rootfs-${board}/etc"
	config_txt="$(sed -n 's|^BR2_PACKAGE_RPI_FIRMWARE_CONFIG_FILE=".*/board/rpibsp/\(.*\)"$|\1|p' "${cfg}")"
	cp "${TREE}/board/rpibsp/${config_txt}" "${bin}/rpi-firmware/config.txt"
	cp "${TREE}/board/rpibsp/cmdline.txt" "${bin}/rpi-firmware/"
	if [ "${board}" = rpi3 ]; then
		printf 'stand-in\n' >"${bin}/rpi-firmware/bootcode.bin"
		printf 'stand-in\n' >"${bin}/rpi-firmware/start.elf"
		printf 'stand-in\n' >"${bin}/rpi-firmware/fixup.dat"
	else
		printf 'stand-in\n' >"${bin}/rpi-firmware/start4.elf"
		printf 'stand-in\n' >"${bin}/rpi-firmware/fixup4.dat"
	fi
	head -c 4194304 /dev/urandom >"${bin}/Image"
	read -r -a dtbs <<<"$(sed -n 's/^BR2_LINUX_KERNEL_INTREE_DTS_NAME="\(.*\)"$/\1/p' "${cfg}")"
	for dtb in "${dtbs[@]}"; do
		name="$(basename "${dtb}").dtb"
		if [ -n "${RPIBSP_KBUILD}" ] && [ -f "${RPIBSP_KBUILD}/arch/arm64/boot/dts/${dtb}.dtb" ]; then
			cp "${RPIBSP_KBUILD}/arch/arm64/boot/dts/${dtb}.dtb" "${bin}/${name}"
		else
			printf 'stand-in\n' >"${bin}/${name}"
		fi
	done
	if [ -n "${OVERLAY}" ]; then
		cp "${OVERLAY}" "${bin}/rpibsp.dtb"
	else
		printf 'stand-in\n' >"${bin}/rpibsp.dtb"
	fi
	echo "rpibsp ${board}" >"${WORK}/rootfs-${board}/etc/issue"
	mke2fs -q -F -t ext4 -d "${WORK}/rootfs-${board}" "${bin}/rootfs.ext4" 16M >/dev/null
}

# run_post_image BOARD DIR: post-image.sh as Buildroot runs it.
run_post_image() {
	local board="$1" bin="$2"
	mkdir -p "${WORK}/build-${board}"
	printf 'BR2_PACKAGE_HOST_BMAP_TOOLS=y\n' >"${WORK}/config-${board}"
	(
		cd "${BRTOP}"
		BINARIES_DIR="${bin}" BUILD_DIR="${WORK}/build-${board}" \
			BR2_CONFIG="${WORK}/config-${board}" BR2_EXTERNAL_RPIBSP_PATH="${TREE}" \
			"${TREE}/board/rpibsp/post-image.sh" "${bin}" rpibsp
	) >"${WORK}/post-image-${board}.log" 2>&1
}

# boot_partition IMAGE OUT: extract the first partition of an MBR disk image.
boot_partition() {
	"${PYTHON}" - "$1" "$2" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    mbr = f.read(512)
    assert mbr[510:512] == b"\x55\xaa", "no MBR signature"
    parts = [mbr[446 + 16 * i:462 + 16 * i] for i in range(4)]
    types = [p[4] for p in parts]
    assert types[:2] == [0x0C, 0x83], f"partition types {types[:2]}, expected 0x0c, 0x83"
    assert parts[0][0] == 0x80, "boot partition not marked bootable"
    start, count = struct.unpack("<II", parts[0][8:16])
    f.seek(start * 512)
    with open(sys.argv[2], "wb") as out:
        out.write(f.read(count * 512))
EOF
}

bmap_copy_equal() { # IMAGE COPY: copy with the bmap, compare with the image
	bmaptool copy --bmap "$1.bmap" "$1" "$2" >/dev/null 2>&1 && cmp -s "$1" "$2"
}
same_files() { # A1 B1 A2 B2 ...: each pair is identical
	while [ "$#" -ge 2 ]; do
		cmp -s "$1" "$2" || return 1
		shift 2
	done
}

for board in rpi3 rpi4; do
	if [ "${#missing[@]}" -gt 0 ]; then
		skip "${board}: post-image.sh writes sdcard.img and sdcard.img.bmap${GI}" "missing ${missing[*]}"
		continue
	fi
	bin="${WORK}/images-${board}"
	stage_images "${board}" "${bin}"
	if run_post_image "${board}" "${bin}" && [ -s "${bin}/sdcard.img" ] && [ -s "${bin}/sdcard.img.bmap" ]; then
		ok "${board}: post-image.sh writes sdcard.img and sdcard.img.bmap${GI}"
	else
		not_ok "${board}: post-image.sh writes sdcard.img and sdcard.img.bmap${GI}"
		diag <"${WORK}/post-image-${board}.log"
		continue
	fi
	check "${board}: the bmap copies the image exactly (bmaptool copy)${GI}" \
		bmap_copy_equal "${bin}/sdcard.img" "${WORK}/copy-${board}.img"
	rm -f "${WORK}/copy-${board}.img"
	if ! boot_partition "${bin}/sdcard.img" "${WORK}/boot-${board}.vfat" 2>"${WORK}/mbr.err"; then
		not_ok "${board}: sdcard.img has a bootable FAT partition and a Linux partition${GI}"
		diag <"${WORK}/mbr.err"
		continue
	fi
	ok "${board}: sdcard.img has a bootable FAT partition and a Linux partition${GI}"
	mdir -i "${WORK}/boot-${board}.vfat" -b :: >"${WORK}/root-${board}.lst" 2>&1 || true
	mdir -i "${WORK}/boot-${board}.vfat" -b ::/overlays >"${WORK}/ovl-${board}.lst" 2>&1 || true
	want=(config.txt cmdline.txt Image overlays/)
	if [ "${board}" = rpi3 ]; then
		want+=(bootcode.bin start.elf fixup.dat bcm2837-rpi-3-b.dtb bcm2837-rpi-3-b-plus.dtb)
	else
		want+=(start4.elf fixup4.dat bcm2711-rpi-4-b.dtb)
	fi
	absent=()
	for f in "${want[@]}"; do
		grep -qx "::/${f}" "${WORK}/root-${board}.lst" || absent+=("${f}")
	done
	grep -qx '::/overlays/rpibsp.dtbo' "${WORK}/ovl-${board}.lst" || absent+=(overlays/rpibsp.dtbo)
	if [ "${#absent[@]}" -eq 0 ] && ! grep -qx '::/rpibsp.dtb' "${WORK}/root-${board}.lst"; then
		ok "${board}: the boot partition has the firmware, config.txt, cmdline.txt, Image, the DTBs and overlays/rpibsp.dtbo${GI}"
	else
		not_ok "${board}: the boot partition has the firmware, config.txt, cmdline.txt, Image, the DTBs and overlays/rpibsp.dtbo${GI}"
		echo "# missing: ${absent[*]:-} ; listing:"
		diag <"${WORK}/root-${board}.lst"
	fi
	mcopy -o -i "${WORK}/boot-${board}.vfat" ::/config.txt "${WORK}/config-${board}.txt"
	mcopy -o -i "${WORK}/boot-${board}.vfat" ::/overlays/rpibsp.dtbo "${WORK}/rpibsp-${board}.dtbo"
	check "${board}: config.txt on the card is the board's, overlays/rpibsp.dtbo is the compiled overlay${GI}" \
		same_files "${WORK}/config-${board}.txt" "${bin}/rpi-firmware/config.txt" \
		"${WORK}/rpibsp-${board}.dtbo" "${bin}/rpibsp.dtb"

	# The overlay must apply to the mainline DTBs the card boots with.
	if [ -n "${OVERLAY}" ] && [ -n "${RPIBSP_KBUILD}" ] && command -v fdtoverlay >/dev/null &&
		command -v fdtget >/dev/null; then
		bad=()
		for dtb in "${want[@]}"; do
			[[ "${dtb}" == *.dtb ]] || continue
			if ! fdtoverlay -i "${bin}/${dtb}" -o "${WORK}/merged.dtb" "${WORK}/rpibsp-${board}.dtbo" 2>/dev/null ||
				[ "$(fdtget "${WORK}/merged.dtb" /rpibsp-led compatible 2>/dev/null)" != "rpibsp,gpio-led" ]; then
				bad+=("${dtb}")
			fi
		done
		if [ "${#bad[@]}" -eq 0 ]; then
			ok "${board}: overlays/rpibsp.dtbo applies to the card's mainline DTBs (fdtoverlay)${GI}"
		else
			not_ok "${board}: overlays/rpibsp.dtbo applies to the card's mainline DTBs (fdtoverlay): ${bad[*]}${GI}"
		fi
	else
		skip "${board}: overlays/rpibsp.dtbo applies to the card's mainline DTBs (fdtoverlay)${GI}" \
			"needs the compiled overlay, the kernel build (RPIBSP_KBUILD) and fdtoverlay/fdtget"
	fi

	# post-image.sh refuses a card whose config.txt loads an overlay it lacks.
	sed -i 's/^dtoverlay=rpibsp$/dtoverlay=rpibsp-missing/' "${bin}/rpi-firmware/config.txt"
	rm -f "${bin}/sdcard.img"
	if run_post_image "${board}" "${bin}"; then
		not_ok "${board}: post-image.sh refuses a config.txt that loads an overlay the card lacks${GI}"
	else
		check "${board}: post-image.sh refuses a config.txt that loads an overlay the card lacks${GI}" \
			grep -q 'dtoverlay=rpibsp-missing' "${WORK}/post-image-${board}.log"
	fi
	rm -rf "${bin}"
done

# --- 4b. the Buildroot tree's kernel configuration ----------------------------
# Buildroot configures the kernel from arm64's defconfig with kernel/bsp.config and
# kernel/net.config merged in (not from allnoconfig as the offline build): every option the
# fragments ask for must survive that merge too (scripts/kernel.sh configure buildroot, the same
# check as the offline build's).  Compiling that configuration is a one-off (README).
if [ -n "${RPIBSP_KSRC}" ] && [ -x "${ROOT}/scripts/kernel.sh" ]; then
	if "${ROOT}/scripts/kernel.sh" configure buildroot >"${WORK}/br-kconfig.log" 2>&1; then
		ok "Buildroot's kernel configuration (arm64 defconfig + kernel/bsp.config + kernel/net.config) keeps every fragment option"
	else
		not_ok "Buildroot's kernel configuration (arm64 defconfig + kernel/bsp.config + kernel/net.config) keeps every fragment option"
		tail -n 15 "${WORK}/br-kconfig.log" | diag
	fi
else
	skip "Buildroot's kernel configuration keeps every fragment option" "no kernel source (make kernel)"
fi

# --- 5. with Buildroot ---------------------------------------------------------
BR_TESTS=(
	"rpi3: the defconfig loads"
	"rpi3: no unknown or dropped symbols"
	"rpi3: the kernel build gets the Rust toolchain, the shared fragment and patches"
	"rpi4: the defconfig loads"
	"rpi4: no unknown or dropped symbols"
	"rpi4: the kernel build gets the Rust toolchain, the shared fragment and patches"
	"the defconfig checker fails on unknown and dropped symbols"
	"utils/check-package -b is clean"
	"utils/check-package -b reports a broken package"
)
if [ -z "${RPIBSP_BUILDROOT}" ]; then
	for t in "${BR_TESTS[@]}"; do
		skip "buildroot: ${t}" "RPIBSP_BUILDROOT not set: no Buildroot sources here (checked by hand, see buildroot/README.md)"
	done
else
	br_make() {
		make -C "${RPIBSP_BUILDROOT}" BR2_EXTERNAL="${TREE}" "$@"
	}
	echo "# Buildroot $(br_make -s print-version 2>/dev/null || echo '?') at ${RPIBSP_BUILDROOT}"
	for board in rpi3 rpi4; do
		o="${WORK}/br-${board}"
		defconfig="${TREE}/configs/rpibsp_${board}_64_defconfig"
		if br_make O="${o}" "rpibsp_${board}_64_defconfig" >"${WORK}/br.log" 2>&1; then
			ok "buildroot: ${board}: the defconfig loads"
		else
			not_ok "buildroot: ${board}: the defconfig loads"
			tail -n 20 "${WORK}/br.log" | diag
			skip "buildroot: ${board}: no unknown or dropped symbols" "the defconfig did not load"
			skip "buildroot: ${board}: the kernel build gets the Rust toolchain, the shared fragment and patches" \
				"the defconfig did not load"
			continue
		fi
		if "${PYTHON}" "${HERE}/check_defconfig.py" "${defconfig}" "${o}/.config" >"${WORK}/dc.out"; then
			ok "buildroot: ${board}: no unknown or dropped symbols"
		else
			not_ok "buildroot: ${board}: no unknown or dropped symbols"
		fi
		diag <"${WORK}/dc.out"
		make -C "${o}" -s printvars VARS='LINUX_MAKE_FLAGS LINUX_KCONFIG_DEPENDENCIES LINUX_PATCHES
			LINUX_KCONFIG_FRAGMENT_FILES LINUX_CFLAGS HOST_RUST_SRC_VERSION' >"${WORK}/vars" 2>&1 || true
		problems=()
		for want in "LLVM=${o}/host/bin/ " "CC=${o}/host/bin/clang.br_real " "HOSTCC=\"/" \
			"RUSTC=${o}/host/bin/rustc " "BINDGEN=${o}/host/bin/bindgen " \
			"RUST_LIB_SRC=${o}/host/lib/rustlib/src/rust/library"; do
			grep -q "^LINUX_MAKE_FLAGS=.*${want}" "${WORK}/vars" || problems+=("LINUX_MAKE_FLAGS lacks ${want}")
		done
		for dep in host-clang host-lld host-llvm host-rust-bindgen host-rust-src host-rustc; do
			grep -Eq "^LINUX_KCONFIG_DEPENDENCIES=.* ${dep}( |$)" "${WORK}/vars" ||
				problems+=("${dep} is not a kconfig dependency of linux")
		done
		grep -qx "LINUX_PATCHES=${TREE}/../kernel/patches" "${WORK}/vars" || problems+=("LINUX_PATCHES")
		grep -qx "LINUX_KCONFIG_FRAGMENT_FILES=${TREE}/../kernel/bsp.config" "${WORK}/vars" ||
			problems+=("LINUX_KCONFIG_FRAGMENT_FILES")
		grep -q '^LINUX_CFLAGS=.*-Wno-attribute-alias' "${WORK}/vars" && problems+=("KCFLAGS has a gcc-only flag")
		rv="$(sed -n 's/^HOST_RUST_SRC_VERSION=//p' "${WORK}/vars")"
		grep -q "rustc-${rv}-src.tar.xz\$" "${TREE}/package/rust-src/rust-src.hash" ||
			problems+=("rust-src.hash has no hash for rustc-${rv}-src.tar.xz")
		if [ "${#problems[@]}" -eq 0 ]; then
			ok "buildroot: ${board}: the kernel build gets the Rust toolchain, the shared fragment and patches"
		else
			not_ok "buildroot: ${board}: the kernel build gets the Rust toolchain, the shared fragment and patches"
			printf '%s\n' "${problems[@]}" | diag
		fi
	done

	# An unknown symbol, and a package whose dependency is gone.
	grep -v '^BR2_LINUX_KERNEL_EXT_RPIBSP_RUST=y$' "${TREE}/configs/rpibsp_rpi3_64_defconfig" >"${WORK}/bad_defconfig"
	echo 'BR2_RPIBSP_NO_SUCH_OPTION=y' >>"${WORK}/bad_defconfig"
	if br_make O="${WORK}/br-bad" BR2_DEFCONFIG="${WORK}/bad_defconfig" defconfig >"${WORK}/br.log" 2>&1 &&
		! "${PYTHON}" "${HERE}/check_defconfig.py" "${WORK}/bad_defconfig" "${WORK}/br-bad/.config" >"${WORK}/dc.out" &&
		grep -q 'BR2_RPIBSP_NO_SUCH_OPTION' "${WORK}/dc.out" && grep -q 'BR2_PACKAGE_RPIBSP_DRIVERS' "${WORK}/dc.out"; then
		ok "buildroot: the defconfig checker fails on unknown and dropped symbols"
	else
		not_ok "buildroot: the defconfig checker fails on unknown and dropped symbols"
		diag <"${WORK}/dc.out"
	fi

	cp_python=""
	for py in python3 /usr/bin/python3; do
		if "${py}" -c 'import magic' 2>/dev/null; then
			cp_python="${py}"
			break
		fi
	done
	if [ -z "${cp_python}" ]; then
		not_ok "buildroot: utils/check-package -b is clean"
		echo "# check-package needs the Python module magic (apt-get install python3-magic)"
		skip "buildroot: utils/check-package -b reports a broken package" "no python3-magic"
	else
		mapfile -t files < <(find "${TREE}" -type f | sort)
		if (cd "${RPIBSP_BUILDROOT}" && "${cp_python}" utils/check-package -b "${files[@]}") >"${WORK}/cp.out" 2>&1; then
			ok "buildroot: utils/check-package -b is clean"
		else
			not_ok "buildroot: utils/check-package -b is clean"
		fi
		diag <"${WORK}/cp.out"
		mkdir -p "${WORK}/cp/package/rpibsp-drivers"
		sed 's/^RPIBSP_DRIVERS_LICENSE = /DRIVERS_LICENSE = /' "${TREE}/package/rpibsp-drivers/rpibsp-drivers.mk" \
			>"${WORK}/cp/package/rpibsp-drivers/rpibsp-drivers.mk"
		if (cd "${RPIBSP_BUILDROOT}" && "${cp_python}" utils/check-package -b \
			"${WORK}/cp/package/rpibsp-drivers/rpibsp-drivers.mk") >"${WORK}/cp.out" 2>&1; then
			not_ok "buildroot: utils/check-package -b reports a broken package"
		else
			check "buildroot: utils/check-package -b reports a broken package" \
				grep -q 'DRIVERS_LICENSE' "${WORK}/cp.out"
		fi
	fi
fi

echo "1..${n}"
echo "# ${passed} passed, ${failed} failed, ${skipped} skipped"
[ "${failed}" -eq 0 ]
