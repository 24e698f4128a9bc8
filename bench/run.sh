#!/usr/bin/env bash
# The benchmark (project issue #12): the Rust drivers against the in-tree C drivers, measured in
# one boot of the emulated Raspberry Pi 3B (QEMU raspi3b), plus whole-system figures.  Prints a
# table of figures and Rust/C ratios and writes it to $RPIBSP_OUT/bench/results.md and .json.
# Not a test: nothing here asserts a speed; it fails only when the machinery breaks.
#
#   bench/run.sh [--quick] [--c-only] [--phases "latency rate cpu ledw ledlat mem"] [--no-host]
#                [--out DIR]
#     --quick     small counts (50 presses ...): checks the machinery, figures are rough
#     --c-only    do not use the Rust drivers even when built (their columns come out n/a)
#     --phases    guest phases to run (default: all)
#     --no-host   skip the host-side figures (module sizes, image, flash.sh bytes, build time)
#     --out DIR   results directory (default $RPIBSP_OUT/bench)
#
# Inputs (all from the usual build; nothing is built here except the bench overlay and the
# small guest program):
#   kernel      $RPIBSP_KBUILD, else the BSP kernel build (scripts/kernel.sh builddir): Image,
#               base DTBs, and the C modules gpio_keys.ko and leds-gpio.ko
#   overlays    $RPIBSP_OUT/boot/overlays/rpibsp{,-emu}.dtbo (make dts); compiled from dts/
#               into the results directory when missing
#   initramfs   $BENCH_INITRD, else $RPIBSP_OUT/initramfs.cpio.gz (make initramfs)
#   Rust        rpibsp_button.ko / rpibsp_led.ko from $BENCH_RUST_DIR, else
#               $RPIBSP_OUT/modules-staging (scripts/modules.sh, for this kernel), else
#               $RPIBSP_OUT/modules-build; each must carry this kernel's release.  Missing ones
#               make their columns n/a.
#   image       $RPIBSP_OUT/sdcard.img (+ .bmap, .sizes) for the image and flash.sh figures
#               (flash.sh writes to a loop device; needs root)
#
# Counts (environment): BENCH_DEBOUNCE (ms, 20), BENCH_PRESSES (1000), BENCH_RATE_COUNT (40),
# BENCH_RATES, BENCH_CPU_COUNT (150), BENCH_CPU_RATE (10 Hz), BENCH_LEDW_MS (1000: ms per round,
# 3 rounds), BENCH_LEDLAT_COUNT (100), BENCH_MEM_REPS (9), BENCH_TIMEOUT (s, 2400).
# Guest clock: BENCH_CLOCK=icount (default; BENCH_ICOUNT_SHIFT, default 0: 1 ns per instruction)
# or realtime - see "The boot" below.  What each phase measures: bench/README.md.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

quick=false c_only=false host=true phases="latency rate cpu ledw ledlat mem" outdir=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=true ;;
	--c-only) c_only=true ;;
	--no-host) host=false ;;
	--phases)
		phases=$2
		shift
		;;
	--out)
		outdir=$2
		shift
		;;
	-h | --help)
		sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	shift
done

outdir=${outdir:-$RPIBSP_OUT/bench}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$outdir/work
rm -rf "$work"
mkdir -p "$work"
figs=$work/host.figures
: >"$figs"
fig() { printf '%s=%s\n' "$1" "$2" >>"$figs"; }
note() { fig "note.$((++nnote))" "$*"; }
nnote=0

if $quick; then
	d_presses=50 d_rate_count=20 d_rates=5,10 d_cpu_count=30 d_ledw=200 d_ledlat=20 d_mem=5
else
	d_presses=1000 d_rate_count=40 d_rates=5,10,12,14,16,18,20,22,25,28,32,36,40,45,50,60,70,80,100,125,150,200
	d_cpu_count=150 d_ledw=1000 d_ledlat=100 d_mem=9
fi
debounce=${BENCH_DEBOUNCE:-20}
if ! [[ $debounce =~ ^[0-9]+$ ]] || [ "$debounce" -lt 1 ] || [ "$debounce" -gt 1000 ]; then
	die "BENCH_DEBOUNCE must be 1..1000 ms (the binding's range), not '$debounce'"
fi

# --- Inputs ------------------------------------------------------------------------------------
kdir=${RPIBSP_KBUILD:-$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)}
image=$kdir/arch/arm64/boot/Image
[ -f "$image" ] || die "no kernel Image in $kdir (run 'make kernel' or set RPIBSP_KBUILD)"
krel=$(cat "$kdir/include/config/kernel.release")
ksrc=${RPIBSP_KSRC:-$(kernel_src_dir)}
[ -d "$ksrc/include/dt-bindings" ] || die "no kernel source with dt-bindings headers (set RPIBSP_KSRC)"
initrd=${BENCH_INITRD:-$RPIBSP_OUT/initramfs.cpio.gz}
[ -f "$initrd" ] || die "no initramfs at $initrd (run 'make initramfs' or set BENCH_INITRD)"

# The C reference drivers: from the kernel build the Image comes from.
cmod_gpio_keys=$kdir/drivers/input/keyboard/gpio_keys.ko
cmod_leds_gpio=$kdir/drivers/leds/leds-gpio.ko
for m in "$cmod_gpio_keys" "$cmod_leds_gpio"; do
	[ -f "$m" ] || die "no $m: the kernel must build gpio-keys and leds-gpio as modules (kernel/bsp.config)"
done

vermagic_ok() { [ "$(modinfo -F vermagic "$1" 2>/dev/null | cut -d' ' -f1)" = "$krel" ]; }
find_rust() { # find_rust NAME.ko -> path or nothing
	local d f
	local -a dirs=()
	[ -z "${BENCH_RUST_DIR:-}" ] || dirs+=("$BENCH_RUST_DIR")
	if [ -f "$RPIBSP_OUT/modules-staging/.kernel-$(basename "$kdir")" ]; then
		dirs+=("$RPIBSP_OUT/modules-staging/lib/modules/$krel")
	fi
	dirs+=("$RPIBSP_OUT/modules-build")
	for d in "${dirs[@]}"; do
		[ -d "$d" ] || continue
		f=$(find "$d" -name "$1" -type f 2>/dev/null | head -n1)
		if [ -n "$f" ]; then
			if vermagic_ok "$f"; then
				printf '%s\n' "$f"
				return
			fi
			warn "$f is not built for kernel $krel: ignored"
		fi
	done
}
rmod_button="" rmod_led=""
if ! $c_only; then
	rmod_button=$(find_rust rpibsp_button.ko)
	rmod_led=$(find_rust rpibsp_led.ko)
fi
msg "kernel $krel from $kdir"
msg "Rust button module: ${rmod_button:-none (column n/a)}; Rust LED module: ${rmod_led:-none (column n/a)}"

# --- Device tree: board + emulation + bench overlays -------------------------------------------
overlay() { # overlay SRC.dts OUT.dtbo [cpp args]
	local src=$1 out=$2
	shift 2
	cpp -nostdinc -undef -D__DTS__ -x assembler-with-cpp -I "$ksrc/include" "$@" "$src" |
		dtc -q -@ -I dts -O dtb -o "$out" -
}
ovl=${BENCH_OVERLAYS_DIR:-$RPIBSP_OUT/boot/overlays}
if [ ! -f "$ovl/rpibsp.dtbo" ] || [ ! -f "$ovl/rpibsp-emu.dtbo" ]; then
	msg "no overlays in $ovl ('make dts'): compiling dts/rpibsp.dts and dts/rpibsp-emu.dts"
	ovl=$work
	overlay "$RPIBSP_ROOT/dts/rpibsp.dts" "$ovl/rpibsp.dtbo"
	overlay "$RPIBSP_ROOT/dts/rpibsp-emu.dts" "$ovl/rpibsp-emu.dtbo"
fi
overlay "$RPIBSP_ROOT/bench/rpibsp-bench.dts" "$work/rpibsp-bench.dtbo" "-DBENCH_DEBOUNCE=$debounce"
"$RPIBSP_ROOT/scripts/qemu-dtb.sh" raspi3b "$work/bench.dtb" "$ovl/rpibsp.dtbo" "$ovl/rpibsp-emu.dtbo" \
	"$work/rpibsp-bench.dtbo" >/dev/null

# --- The guest program ---------------------------------------------------------------------
aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$work/rpibsp-bench" \
	"$RPIBSP_ROOT/bench/rpibsp-bench.c"

rust_button=0 rust_led=0
[ -z "$rmod_button" ] || rust_button=1
[ -z "$rmod_led" ] || rust_led=1
cat >"$work/bench.conf" <<EOF
RUST_BUTTON=$rust_button
RUST_LED=$rust_led
PHASES="$phases"
DEBOUNCE=$debounce
PRESSES=${BENCH_PRESSES:-$d_presses}
RATE_COUNT=${BENCH_RATE_COUNT:-$d_rate_count}
RATES=${BENCH_RATES:-$d_rates}
CPU_COUNT=${BENCH_CPU_COUNT:-$d_cpu_count}
CPU_RATE=${BENCH_CPU_RATE:-10}
LEDW_MS=${BENCH_LEDW_MS:-$d_ledw}
LEDLAT_COUNT=${BENCH_LEDLAT_COUNT:-$d_ledlat}
MEM_REPS=${BENCH_MEM_REPS:-$d_mem}
EOF

# --- Host-side figures ---------------------------------------------------------------------
size_of() { # size_of NAME FILE: text, data, bss of a module (llvm-size, Berkeley format)
	local sz=llvm-size-19 line
	command -v "$sz" >/dev/null || sz=llvm-size
	line=$("$sz" -B "$2" | awk 'NR == 2 { print $1, $2, $3 }')
	read -r t d b <<<"$line"
	fig "size.$1.text" "$t"
	fig "size.$1.data" "$d"
	fig "size.$1.bss" "$b"
	fig "size.$1.file" "$(stat -c %s "$2")"
}

kbuild_time() { # kbuild_time cold|incremental: the kernel build's own timing file, if one was written
	local kind=$1 f="" s
	if [ -f "$kdir/build-$kind.time" ]; then
		f=$kdir/build-$kind.time
	else
		f=$(find "$RPIBSP_CACHE/kernel" -maxdepth 2 -path "*/build-*/build-$kind.time" -printf '%T@ %p\n' 2>/dev/null |
			sort -rn | head -n1 | cut -d' ' -f2-)
	fi
	if [ -n "$f" ] && s=$(grep -oE '^[0-9]+' "$f") && [ -n "$s" ]; then
		fig "kbuild.$kind.seconds" "$s"
		note "kernel build time ($kind) from $f: $(tr '\n' ' ' <"$f" | cut -c1-120)"
	else
		fig "kbuild.$kind.seconds" "not measured"
		note "kernel build time ($kind) not measured: no build-$kind.time in $kdir or $RPIBSP_CACHE/kernel/build-*/"
	fi
}

image_figures() {
	local img=$RPIBSP_OUT/sdcard.img kib
	if [ ! -f "$img" ]; then
		fig image.bytes "not measured"
		note "no $img (make image): image and flash.sh figures not measured"
		return 1
	fi
	fig image.bytes "$(stat -L -c %s "$img")"
	if [ -f "$img.sizes" ]; then
		kib=$(sed -n 's/.* \([0-9][0-9]*\) KiB allocated.*/\1/p' "$img.sizes" | head -n1)
		[ -z "$kib" ] || fig image.allocated_bytes "$((kib * 1024))"
		note "image sizes ($img.sizes): $(tr '\n' ';' <"$img.sizes" | sed 's/;$//; s/;/; /g')"
	else
		fig image.allocated_bytes "$(($(stat -L -c %b "$img") * $(stat -L -c %B "$img")))"
	fi
}

# flash.sh onto a loop device (a stand-in for the card): bytes written from the device's own
# statistics (sectors written, /sys/block/loopN/stat field 7), with the bmap and without.
loopdev=""
flash_figures() {
	local img=$RPIBSP_OUT/sdcard.img dev s0 s1 t0 t1 mode
	if [ "$(id -u)" != 0 ] || ! command -v losetup >/dev/null; then
		note "flash.sh figures not measured: needs root and losetup (loop device as the card)"
		return 0
	fi
	if [ ! -f "$img.bmap" ]; then
		note "flash.sh figures not measured: no $img.bmap"
		return 0
	fi
	truncate -s "$(stat -L -c %s "$img")" "$work/card.img"
	if ! loopdev=$(losetup -f --show "$work/card.img" 2>/dev/null); then
		loopdev=""
		note "flash.sh figures not measured: no free loop device"
		return 0
	fi
	dev=${loopdev##*/}
	for mode in bmap plain; do
		local -a args=(--force --yes)
		[ "$mode" = bmap ] || args+=(--no-bmap)
		read -r _ _ _ _ _ _ s0 _ <"/sys/block/$dev/stat"
		t0=$(date +%s.%N)
		if ! "$RPIBSP_ROOT/flash.sh" "${args[@]}" "$img" "$loopdev" >"$work/flash-$mode.log" 2>&1 </dev/null; then
			note "flash.sh ($mode) failed, see $work/flash-$mode.log"
			continue
		fi
		t1=$(date +%s.%N)
		read -r _ _ _ _ _ _ s1 _ <"/sys/block/$dev/stat"
		fig "flash.$mode.bytes_written" "$(((s1 - s0) * 512))"
		fig "flash.$mode.seconds" "$(echo "$t1 - $t0" | bc)"
	done
	losetup -d "$loopdev" && loopdev=""
	rm -f "$work/card.img"
}

watcher=""
cleanup() {
	[ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true
	[ -z "$loopdev" ] || losetup -d "$loopdev" 2>/dev/null || true
}
trap cleanup EXIT

if $host; then
	size_of gpio_keys "$cmod_gpio_keys"
	size_of leds_gpio "$cmod_leds_gpio"
	[ -z "$rmod_button" ] || size_of rpibsp_button "$rmod_button"
	[ -z "$rmod_led" ] || size_of rpibsp_led "$rmod_led"
	kbuild_time cold
	kbuild_time incremental
	if image_figures; then flash_figures; fi
fi

# --- The boot --------------------------------------------------------------------------------
# The guest clock.  icount (default): QEMU's instruction-counting clock, guest time = instructions
# executed (2^shift ns each), idle time skipped; the figures do not depend on the host's load
# (a loaded host otherwise charges the time it deschedules QEMU to whatever guest task ran, and
# stretches every latency) and idle waits cost no host time.  One host thread runs all four
# vCPUs in turn.  realtime: QEMU's default (multi-threaded TCG, guest time = host time).
# tests/qemu/boot.sh takes no QEMU options, so a wrapper first in its PATH adds them.
clock=${BENCH_CLOCK:-icount}
qemu_extra=()
case "$clock" in
icount) qemu_extra=(-icount "shift=${BENCH_ICOUNT_SHIFT:-0},sleep=off") ;;
realtime) ;;
*) die "BENCH_CLOCK must be icount or realtime, not '$clock'" ;;
esac
qemu_real=$(command -v qemu-system-aarch64) || die "no qemu-system-aarch64"
mkdir -p "$work/qemu-bin"
{
	echo '#!/bin/sh'
	printf 'exec %q "$@"' "$qemu_real"
	printf ' %q' "${qemu_extra[@]}"
	echo
} >"$work/qemu-bin/qemu-system-aarch64"
chmod +x "$work/qemu-bin/qemu-system-aarch64"
files=(--file "$work/rpibsp-bench" --file "$work/bench.conf" --file "$cmod_gpio_keys" --file "$cmod_leds_gpio")
[ -z "$rmod_button" ] || files+=(--file "$rmod_button")
[ -z "$rmod_led" ] || files+=(--file "$rmod_led")
log=$outdir/console.log
rm -f "$log"
# Boot-to-ready on the host clock: from the moment boot.sh creates the console log (right
# before it starts QEMU) to the first "rpibsp: system ready" line in it.
(
	while [ ! -e "$log" ]; do sleep 0.02; done
	s=$(date +%s.%N)
	until grep -q 'rpibsp: system ready' "$log" 2>/dev/null; do sleep 0.05; done
	e=$(date +%s.%N)
	echo "boot.ready_host_s=$(echo "$e - $s" | bc)" >"$work/ready.figure"
) &
watcher=$!
load0=$(cut -d' ' -f1-3 /proc/loadavg)
msg "booting the emulated board (phases: $phases)"
rc=0
PATH="$work/qemu-bin:$PATH" "$RPIBSP_ROOT/tests/qemu/boot.sh" --machine raspi3b --kernel "$image" --initrd "$initrd" \
	--dtb "$work/bench.dtb" --script "$RPIBSP_ROOT/bench/guest.sh" "${files[@]}" \
	--log "$log" --timeout "${BENCH_TIMEOUT:-2400}" >"$work/guest.out" || rc=$?
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
watcher=""
[ ! -f "$work/ready.figure" ] || cat "$work/ready.figure" >>"$figs"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
grep -E '^(not ok|# FAIL)' "$work/guest.out" | sed 's/^/guest: /' >&2 || true
[ "$rc" = 0 ] || note "the guest run failed (exit $rc): figures may be missing, see $outdir/guest.out"
cp "$work/guest.out" "$outdir/guest.out"

# --- Results -----------------------------------------------------------------------------------
commit=$(git -C "$RPIBSP_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 "$RPIBSP_ROOT/bench/report.py" --md "$outdir/results.md" --json "$outdir/results.json" \
	--meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "commit=$commit" \
	--meta "kernel=$krel ($kdir)" --meta "machine=QEMU raspi3b, $(qemu-system-aarch64 --version | head -n1)" \
	--meta "debounce interval=$debounce ms (every button)" \
	--meta "guest clock=$clock${qemu_extra[*]:+ (${qemu_extra[*]})}" \
	--meta "counts=$(tr '\n' ' ' <"$work/bench.conf" | sed 's/ $//')" \
	--meta "Rust modules=${rmod_button:-none} ${rmod_led:-none}" \
	--meta "host load (1/5/15 min) before/after=$load0 / $load1" \
	"$figs" "$outdir/guest.out"
msg "results: $outdir/results.md, $outdir/results.json"
exit "$rc"
