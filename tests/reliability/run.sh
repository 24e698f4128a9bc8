#!/usr/bin/env bash
# Reliability and security suite (issue #11): the drivers on the debug kernel variant (KASAN,
# kmemleak, lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS: kernel/debug.config) on the emulated
# Raspberry Pi 3B (QEMU raspi3b).
#
#   1. builds the debug kernel when it is not in the cache (scripts/kernel.sh build debug; its own
#      release 7.3.4-rpibsp-debug, so the boot-time coldplug loads none of the BSP kernel's modules)
#   2. runs the driver suites tests/button, tests/led and tests/devicemodel on it (RPIBSP_KBUILD,
#      without their mutation runs); every boot fails on any BUG/WARNING/KASAN/lockdep/
#      atomic-sleep line and, after the kmemleak scan at the end of each boot
#      (rootfs/usr/share/rpibsp/run-test), on any kmemleak report (tests/qemu/boot.sh)
#   3. builds the drivers, the suspend helper (tests/button/simflip), the guest tool reltool.c and
#      a broken devicemodel build against the debug kernel, then boots:
#        guest-stress.sh  insmod/rmmod cycles of each driver (half while the buttons bounce, files
#                         held open), freeze cycles with pm_test and button changes while
#                         suspended, permissions for a normal user
#        guest-fuzz.sh    ioctl/read/write fuzzing of /dev/rpibsp-devicemodel from 4 threads with
#                         unbind/rebind, then the broken build, which the fuzzer must catch
#        guest-baddt.sh   the corpus of broken nodes (bad.dts): each fails cleanly, nothing left
#      and on the BSP kernel (the debug kernel is far too slow under emulation for it):
#        guest-storm.sh   a bounce storm of thousands of edges per second on both buttons
#   4. prints the summary table (items, cases tried, failures, time), also written to
#      $RPIBSP_OUT/tests/reliability/summary.md
#
# Environment: RPIBSP_OUT, RPIBSP_CACHE, RPIBSP_KSRC; the counts RELIABILITY_CYCLES (insmod/rmmod
# cycles per driver, 200), RELIABILITY_CALLS (fuzzer calls, 100000), RELIABILITY_SUSPENDS (50),
# RELIABILITY_STORM_S (seconds of storm, 5), RELIABILITY_ROUNDS (bad-DT load rounds, 10),
# RELIABILITY_SEED (fuzzer seed, fixed); RELIABILITY_SUITES (driver suites to run on the debug
# kernel, default "button led devicemodel"; empty: none).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
# shellcheck source=../lib/tap.sh
. "$RPIBSP_ROOT/tests/lib/tap.sh"
# shellcheck source=../lib/kmod.sh
. "$RPIBSP_ROOT/tests/lib/kmod.sh"

here=$RPIBSP_ROOT/tests/reliability
work=$RPIBSP_OUT/tests/reliability
ksrc=${RPIBSP_KSRC:-$(kernel_src_dir)}
cycles=${RELIABILITY_CYCLES:-200}
calls=${RELIABILITY_CALLS:-100000}
suspends=${RELIABILITY_SUSPENDS:-50}
storm_s=${RELIABILITY_STORM_S:-5}
rounds=${RELIABILITY_ROUNDS:-10}
seed=${RELIABILITY_SEED:-20261122}
read -r -a suites <<<"${RELIABILITY_SUITES-button led devicemodel}"
rm -rf "$work"
mkdir -p "$work" "$RPIBSP_OUT/logs"
summary=() # "item|cases|failures|seconds"

# --- 1. the debug kernel -----------------------------------------------------------------------
start=$SECONDS
if ! kdir=$("$RPIBSP_ROOT/scripts/kernel.sh" build debug 2>"$work/kernel.log"); then
	notok "the debug kernel builds (scripts/kernel.sh build debug)"
	tail -n 30 "$work/kernel.log" | sed 's/^/# /'
	tap_end
	exit 1
fi
ok "the debug kernel builds or is cached ($((SECONDS - start)) s): $kdir"
grep -q '^>>> building' "$work/kernel.log" && echo "# built now: $(cat "$kdir/build.time" 2>/dev/null)"
krel=$(cat "$kdir/include/config/kernel.release")
debug_config() {
	local o
	for o in KASAN KASAN_GENERIC DEBUG_KMEMLEAK PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_OBJECTS; do
		grep -qx "CONFIG_$o=y" "$kdir/.config" || { echo "# CONFIG_$o is not set" && return 1; }
	done
}
t "its configuration has KASAN (generic), kmemleak, PROVE_LOCKING, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS" debug_config
t "its release ($krel) differs from the BSP kernel's, so no BSP module loads on it" \
	test "${krel%-debug}" != "$krel"

# --- 2. the driver suites on the debug kernel --------------------------------------------------
# Their builds and logs go to a tree of their own (the BSP runs of the same suites keep theirs);
# the base initramfs is the usual one.
sub=$work/out
mkdir -p "$sub"
ln -sf "$RPIBSP_OUT/initramfs.cpio.gz" "$sub/initramfs.cpio.gz"
for s in "${suites[@]}"; do
	start=$SECONDS
	rc=0
	RPIBSP_OUT=$sub RPIBSP_KBUILD=$kdir RPIBSP_KSRC=$ksrc BUTTON_MUTANTS=0 LED_MUTANTS=0 \
		RPIBSP_DM_MACHINES=raspi3b "$RPIBSP_ROOT/tests/$s/run.sh" >"$work/suite-$s.out" 2>&1 || rc=$?
	sed 's/^/    /' "$work/suite-$s.out"
	# Every check of the suite that ran, the guest checks (indented) included (skips are not).
	n=$(grep -E '^ *(ok|not ok) ' "$work/suite-$s.out" | grep -cv '# SKIP' || true)
	f=$(grep -cE '^ *not ok ' "$work/suite-$s.out" || true)
	summary+=("$s suite on the debug kernel|$n|$f|$((SECONDS - start))")
	t "the $s suite passes on the debug kernel ($n checks, $f failed)" test "$rc" -eq 0 -a "$f" -eq 0
done

# --- 3. builds ---------------------------------------------------------------------------------
modbuild() { kmod_build "$kdir" "$@"; } # modbuild <source dir> <object dir>
for d in gpio_button led devicemodel; do
	t "drivers/$d builds against the debug kernel" modbuild "$RPIBSP_ROOT/drivers/$d" "$work/$d"
done
t "the suspend helper (tests/button/simflip) builds" modbuild "$RPIBSP_ROOT/tests/button/simflip" "$work/simflip"
t "reltool builds (static aarch64, pthreads)" aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror \
	-pthread -o "$work/reltool" "$here/reltool.c"
t "evtool builds (static aarch64)" aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror \
	-o "$work/evtool" "$RPIBSP_ROOT/tests/button/evtool.c"
# The broken build for the fuzzer: EINVAL instead of ENOTTY for unknown ioctl commands.
mutant() {
	local src=$work/mutant-src
	mkdir -p "$src"
	cp "$RPIBSP_ROOT"/drivers/devicemodel/{Kbuild,abi.rs,rpibsp_devicemodel.rs} "$src/"
	sed -i 's/return Err(ENOTTY);/return Err(EINVAL);/' "$src/rpibsp_devicemodel.rs"
	! cmp -s "$src/rpibsp_devicemodel.rs" "$RPIBSP_ROOT/drivers/devicemodel/rpibsp_devicemodel.rs" &&
		modbuild "$src" "$work/mutant" &&
		cp "$work/mutant/rpibsp_devicemodel.ko" "$work/mutant/rpibsp_devicemodel-mutant.ko"
}
t "a broken devicemodel build (EINVAL for unknown ioctls) builds" mutant

# The product's overlays as `make dts` builds them; the test-only ones with the same flags.
dtbs() {
	local o
	dt_product_overlays "$ksrc" "$work/product" &&
		cp "$work/product/boot/overlays/rpibsp.dtbo" "$work/product/boot/overlays/rpibsp-emu.dtbo" "$work/" ||
		return 1
	for o in "$here/main.dts" "$here/bad.dts"; do
		dt_test_overlay "$ksrc" "$o" "$work/$(basename "$o" .dts).dtbo" || return 1
	done
	fdtoverlay -i "$kdir/arch/arm64/boot/dts/broadcom/bcm2837-rpi-3-b.dtb" -o "$work/main.dtb" \
		"$work/rpibsp.dtbo" "$work/rpibsp-emu.dtbo" "$work/main.dtbo" &&
		fdtoverlay -i "$work/main.dtb" -o "$work/bad.dtb" "$work/bad.dtbo"
}
t "device trees: board + emulation + devicemodel node, and the broken-node corpus" dtbs

# --- 4. boots -----------------------------------------------------------------------------------
# boot <name> <dtb> <timeout> <kernel build> <module dir> <kernel arguments...>: the guest script
# guest-<name>.sh; its output in $work/<name>.out, shown indented; the status is boot.sh's.
boot() {
	local name=$1 dtb=$2 timeout=$3 kb=$4 mods=$5 rc=0 f
	local -a files=()
	shift 5
	for f in "$here/guest-common.sh" "$work/reltool" "$work/evtool" "$work/mutant/rpibsp_devicemodel-mutant.ko" \
		"$mods"/{gpio_button/rpibsp_button,led/rpibsp_led,devicemodel/rpibsp_devicemodel,simflip/rpibsp_simflip}.ko; do
		[ ! -f "$f" ] || files+=(--file "$f")
	done
	"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine raspi3b --dtb "$dtb" --script "$here/guest-$name.sh" \
		--kernel "$kb/arch/arm64/boot/Image" --append "log_buf_len=4M $*" "${files[@]}" \
		--log "$RPIBSP_OUT/logs/reliability-$name.log" --timeout "$timeout" >"$work/$name.out" 2>&1 || rc=$?
	sed 's/^/    /' "$work/$name.out"
	grep '^# SUMMARY|' "$work/$name.out" >>"$work/summary.lines" || true
	return "$rc"
}
timed() { # timed NAME COMMAND...: the command's status; its wall time as a diagnostic
	local name=$1 start=$SECONDS rc=0
	shift
	"$@" || rc=$?
	echo "# $name boot: $((SECONDS - start)) s"
	return "$rc"
}
: >"$work/summary.lines"
t "stress on the debug kernel: load/unload, suspend/resume, permissions" \
	timed stress boot stress "$work/main.dtb" 1800 "$kdir" "$work" "relcycles=$cycles relsuspend=$suspends"
t "fuzzing of the devicemodel device on the debug kernel ($calls calls, seed $seed)" \
	timed fuzz boot fuzz "$work/main.dtb" 900 "$kdir" "$work" "relcalls=$calls relseed=$seed"
t "broken device-tree nodes fail cleanly on the debug kernel ($rounds load rounds)" \
	timed baddt boot baddt "$work/bad.dtb" 900 "$kdir" "$work" "relrounds=$rounds"
# The storm needs thousands of gpio-sim writes per second: the BSP kernel (see guest-storm.sh),
# with its own builds of the button and LED drivers.
kbsp=${RPIBSP_KBUILD:-$(kernel_build_dir bsp)}
bspmods() {
	kmod_build "$kbsp" "$RPIBSP_ROOT/drivers/gpio_button" "$work/bsp/gpio_button" &&
		kmod_build "$kbsp" "$RPIBSP_ROOT/drivers/led" "$work/bsp/led"
}
t "the button and LED drivers build against the BSP kernel (storm boot)" bspmods
t "bounce storm on the BSP kernel (${storm_s} s)" \
	timed storm boot storm "$work/main.dtb" 300 "$kbsp" "$work/bsp" "relstorm=$storm_s"

# --- 5. summary --------------------------------------------------------------------------------
while IFS='|' read -r _ item cases fails secs; do
	summary+=("$item|$cases|$fails|$secs")
done <"$work/summary.lines"
for item in "load/unload" "bounce storm" "suspend/resume" "permissions" "ioctl/read/write fuzzing" "bad device trees"; do
	grep -qF "|$item|" "$work/summary.lines" || {
		summary+=("$item|0|1|0")
		echo "# $item: no figures (its boot did not get that far)"
	}
done
# Every boot of this run (the driver suites' included) was checked for kernel reports.
boots=$(cat "$work"/*.out | grep -cE '^ *# [a-z-]+ on raspi[34]b: ' || true)
bad=$(cat "$work"/*.out | grep -cE '^ *# FAIL: kernel problems in the log' || true)
summary+=("kernel reports (KASAN, lockdep, kmemleak, BUG, WARNING) per boot|$boots|$bad|-")
{
	echo "| item | cases tried | failures | time (s) |"
	echo "| --- | ---: | ---: | ---: |"
	for row in "${summary[@]}"; do
		IFS='|' read -r item cases fails secs <<<"$row"
		echo "| $item | $cases | $fails | $secs |"
	done
} >"$work/summary.md"
echo "# reliability summary (debug kernel $krel, raspi3b):"
sed 's/^/# /' "$work/summary.md"
total=0
for row in "${summary[@]}"; do
	IFS='|' read -r _ _ fails _ <<<"$row"
	total=$((total + fails))
done
t "the summary has no failures" test "$total" -eq 0

tap_end
