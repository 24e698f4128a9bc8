#!/usr/bin/env bash
# Post-build script of the rpibsp br2-external tree: checks that what the BSP
# packages should put in the root filesystem is there, so that a broken
# Kbuild or Cargo workspace fails the build instead of the boot.
# $1 = the target directory (Buildroot passes it).
set -euo pipefail

TARGET="${1:?target directory expected as first argument}"
: "${BR2_CONFIG:?run from Buildroot}"

die() {
	printf 'post-build: %s\n' "$*" >&2
	exit 1
}

enabled() {
	grep -Eq "^$1=y\$" "${BR2_CONFIG}"
}

if enabled BR2_PACKAGE_RPIBSP_DRIVERS; then
	for m in rpibsp_button rpibsp_led rpibsp_devicemodel; do
		ko="$(find "${TARGET}/lib/modules" -name "${m}.ko*" -print -quit)"
		[ -n "${ko}" ] || die "${m}.ko is not installed under ${TARGET}/lib/modules"
	done
	# depmod ran just before (target-finalize). Without an OF alias mdev
	# cannot load a module when its device tree node appears.
	for c in gpio-button gpio-led devicemodel; do
		if ! grep -qs "Crpibsp,${c}" "${TARGET}"/lib/modules/*/modules.alias; then
			printf 'post-build: warning: no module alias for "rpibsp,%s" (MODULE_DEVICE_TABLE?)\n' "${c}" >&2
		fi
	done
fi

if enabled BR2_PACKAGE_RPIBSP_USERLAND; then
	[ -x "${TARGET}/usr/bin/rpibsp-verify" ] || die "/usr/bin/rpibsp-verify is not installed"
fi
