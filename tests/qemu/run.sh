#!/usr/bin/env bash
# Foundation suite: the Rust-enabled kernel boots on the emulated Raspberry Pi 3B and 4B, an
# out-of-tree Rust platform module built against it carries its vermagic, binds through a
# device-tree node and probes; a deliberately broken build of that module fails the same test.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

kdir=${RPIBSP_KBUILD:-$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)}
[ -f "$kdir/.rpibsp-built" ] || [ -f "$kdir/Module.symvers" ] || die "no built kernel at $kdir (run 'make kernel')"
krel=$(cat "$kdir/include/config/kernel.release")
work=$RPIBSP_OUT/tests/qemu
mkdir -p "$work"
mapfile -t kv < <(kmake_vars)

. "$RPIBSP_ROOT/tests/lib/tap.sh"

build_smoke() { # build_smoke <dir> [extra make args]
	local out=$1
	shift
	mkdir -p "$out"
	make -s -C "$kdir" M="$RPIBSP_ROOT/tests/qemu/smoke" MO="$out" "${kv[@]}" "$@" modules >"$out/build.log" 2>&1
}
t "smoke module builds out of tree against the BSP kernel" build_smoke "$work/good"
t "broken variant of the smoke module builds" build_smoke "$work/broken" RPIBSP_SMOKE_BROKEN=1
vermagic=$(modinfo -F vermagic "$work/good/rpibsp_smoke.ko" 2>/dev/null || true)
echo "# vermagic: $vermagic (kernel release $krel)"
t "modinfo vermagic names the built kernel release" test "${vermagic%% *}" = "$krel"

dtc -q -@ -I dts -O dtb -o "$work/smoke.dtbo" "$RPIBSP_ROOT/tests/qemu/smoke/smoke.dts"
for m in raspi3b raspi4b; do
	"$RPIBSP_ROOT/scripts/qemu-dtb.sh" "$m" "$work/$m.dtb" "$work/smoke.dtbo" >/dev/null
done

boot() { # boot <machine> <module dir> <log name>
	"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine "$1" --dtb "$work/$1.dtb" \
		--script "$RPIBSP_ROOT/tests/qemu/smoke-guest.sh" --file "$2/rpibsp_smoke.ko" \
		--log "$RPIBSP_OUT/logs/smoke-$3.log" --timeout 120 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
for m in raspi3b raspi4b; do
	t "$m boots and the smoke driver probes from its DT node" boot "$m" "$work/good" "$m"
done
# The harness must fail when the module is broken: the same boot with the broken build.
if boot raspi3b "$work/broken" broken >"$work/broken.out" 2>&1; then
	notok "boot test fails with a broken module (it passed!)"
	sed 's/^/# /' "$work/broken.out"
else
	ok "boot test fails with a broken module"
	grep -c '^    not ok' "$work/broken.out" | sed 's/^/# failing guest checks with the broken module: /'
fi

tap_end
