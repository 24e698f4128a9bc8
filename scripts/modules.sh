#!/usr/bin/env bash
# Builds the BSP's out-of-tree Rust modules (top-level Kbuild) against a kernel build tree and
# stages them, with the kernel's own modules and depmod data, under $RPIBSP_OUT/modules-staging.
#
#   scripts/modules.sh [KDIR]     KDIR: a configured and built Rust-enabled kernel tree
#                                 (default: the BSP kernel from scripts/kernel.sh)
#
# Kbuild's own dependency tracking makes a rebuild with nothing changed a no-op and rebuilds only
# the module whose sources changed.  The objects go to $RPIBSP_OUT/modules-build (kbuild's MO=),
# never into the source tree.  RPIBSP_MODULES_SRC names another tree with the top-level Kbuild and
# drivers/ (default: this repository; tests/deploy builds an edited copy).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=${1:-$("$RPIBSP_ROOT/scripts/kernel.sh" build)}
for f in Module.symvers include/config/kernel.release .config; do
	[ -f "$kdir/$f" ] || die "KDIR=$kdir is not a configured and built kernel tree (no $f)"
done
grep -q '^CONFIG_RUST=y' "$kdir/.config" || die "KDIR=$kdir is not Rust-enabled (CONFIG_RUST is not y)"
krel=$(cat "$kdir/include/config/kernel.release")
mapfile -t kv < <(kmake_vars)
msrc=${RPIBSP_MODULES_SRC:-$RPIBSP_ROOT}
[ -f "$msrc/Kbuild" ] || die "RPIBSP_MODULES_SRC=$msrc has no top-level Kbuild"
mo=$RPIBSP_OUT/modules-build
stage=$RPIBSP_OUT/modules-staging
mkdir -p "$mo"

make -C "$kdir" M="$msrc" MO="$mo" "${kv[@]}" -j"$RPIBSP_JOBS" modules >&2

# Stage: the kernel's modules (the C reference drivers gpio-keys and leds-gpio among them) once per
# kernel build, ours every time (cheap), then depmod for modprobe and OF-alias autoloading.
if [ ! -f "$stage/.kernel-$(basename "$kdir")" ]; then
	rm -rf "$stage"
	mkdir -p "$stage"
	make -s -C "$kdir" "${kv[@]}" INSTALL_MOD_PATH="$stage" INSTALL_MOD_STRIP=1 DEPMOD=true modules_install >&2
	touch "$stage/.kernel-$(basename "$kdir")"
fi
make -s -C "$kdir" M="$msrc" MO="$mo" "${kv[@]}" INSTALL_MOD_PATH="$stage" INSTALL_MOD_STRIP=1 \
	INSTALL_MOD_DIR=extra DEPMOD=true modules_install >&2
# Unreproducible or host-specific leftovers of modules_install.
rm -f "$stage/lib/modules/$krel/build" "$stage/lib/modules/$krel/source"
depmod -b "$stage" "$krel"
printf '%s\n' "$stage/lib/modules/$krel"
