#!/usr/bin/env bash
# Benchmark machinery suite (issue #12): checks that bench/ measures, not how fast anything is.
# No check here asserts a speed.
#
#   1. the guest program builds (static aarch64, -Wall -Wextra -Werror) and the bench overlay
#      applies on top of the board and emulation overlays with the nodes where the guest looks
#   2. bench/report.py: ratios are Rust / C; a missing Rust side, an "absent" status, a zero or
#      unparsable C figure give "n/a" (JSON null), never a made-up ratio
#   3. a short benchmark run (bench/run.sh --quick --c-only: 50 presses, the C drivers alone) on
#      the emulated board, with a small synthetic SD image for the flash.sh figures: every C
#      figure is there and sane (non-zero, event time between the press and its reception, no
#      event lost at a slow press rate, LED level follows, memory deltas positive), every Rust
#      figure and ratio is n/a, the flash.sh bytes follow the bmap
#
# Environment: RPIBSP_OUT (default <repo>/out; the boot uses its initramfs.cpio.gz and overlays),
# RPIBSP_KBUILD (kernel build: Image, DTBs, gpio_keys.ko, leds-gpio.ko), RPIBSP_KSRC,
# RPIBSP_CACHE.  Work files in $RPIBSP_OUT/tests/bench.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"


work=$RPIBSP_OUT/tests/bench
rm -rf "$work"
mkdir -p "$work"
ksrc=${RPIBSP_KSRC:-$(kernel_src_dir)}
report=$RPIBSP_ROOT/bench/report.py

# --- 1. builds -----------------------------------------------------------------------------
t "rpibsp-bench builds (static aarch64, -Wall -Wextra -Werror)" \
	aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$work/rpibsp-bench" \
	"$RPIBSP_ROOT/bench/rpibsp-bench.c"
t "rpibsp-bench is a static aarch64 executable" \
	sh -c "file '$work/rpibsp-bench' | grep -q 'ARM aarch64.*statically linked'"

dtb_nodes() {
	local o=$work/dt
	mkdir -p "$o"
	for s in "$RPIBSP_ROOT/dts/rpibsp.dts" "$RPIBSP_ROOT/dts/rpibsp-emu.dts" "$RPIBSP_ROOT/bench/rpibsp-bench.dts"; do
		cpp -nostdinc -undef -D__DTS__ -x assembler-with-cpp -I "$ksrc/include" -DBENCH_DEBOUNCE=7 "$s" |
			dtc -q -@ -I dts -O dtb -o "$o/$(basename "$s" .dts).dtbo" - || return 1
	done
	"$RPIBSP_ROOT/scripts/qemu-dtb.sh" raspi3b "$o/bench.dtb" "$o/rpibsp.dtbo" "$o/rpibsp-emu.dtbo" \
		"$o/rpibsp-bench.dtbo" >/dev/null || return 1
	dtc -q -I dtb -O dts -o "$o/bench.dts" "$o/bench.dtb" || return 1
	# the nodes bench/guest.sh uses, on the lines it presses, with the interval given to cpp
	local want
	for want in 'rpibsp-bench-keys {' 'rpibsp-bench-fast {' 'rpibsp-bench-stable {' \
		'rpibsp-bench-leds {' 'rpibsp-bench-leds-sim {' 'rpibsp-button-on {' 'rpibsp-led {'; do
		grep -qF "$want" "$o/bench.dts" || {
			echo "# no node '$want' in the merged tree"
			return 1
		}
	done
	[ "$(fdtget "$o/bench.dtb" /rpibsp-bench-keys/key-a gpios | cut -d' ' -f2)" = 20 ] &&
		[ "$(fdtget "$o/bench.dtb" /rpibsp-bench-stable gpios | cut -d' ' -f2)" = 23 ] &&
		[ "$(fdtget "$o/bench.dtb" /rpibsp-bench-fast rpibsp,debounce-mode)" = fast ] &&
		[ "$(fdtget "$o/bench.dtb" /rpibsp-bench-keys/key-b debounce-interval)" = 7 ] &&
		[ "$(fdtget "$o/bench.dtb" /rpibsp-button-on debounce-interval)" = 7 ] &&
		[ "$(fdtget "$o/bench.dtb" /rpibsp-bench-leds/led-0 gpios | cut -d' ' -f2)" = 5 ]
}
t "bench overlay applies after rpibsp.dtbo + rpibsp-emu.dtbo (nodes, lines, BENCH_DEBOUNCE)" dtb_nodes

# --- 2. the report: ratios and n/a ---------------------------------------------------------
jq_py() { # jq_py FILE PYTHON-EXPR: evaluates EXPR with r = the JSON results; exit 0 if true
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"
}
row() { printf 'next(x for x in r["rows"] if x["metric"].startswith("%s"))' "$1"; }

cat >"$work/c-only.txt" <<'EOF'
# bench: lat.c.press_rx_med_us=23000.0
# bench: lat.c.press_ev_med_us=22000.0
# bench: lat.rust_stable.status=absent
# bench: lat.rust_stable.press_rx_med_us=1.0
# bench: ledw.c.toggles_per_s=0
# bench: ledw.rust.toggles_per_s=5000
some console noise=1 that is not a figure
EOF
python3 "$report" --json "$work/c-only.json" --md "$work/c-only.md" "$work/c-only.txt" >/dev/null
t "report: C-only figures give n/a Rust columns and null ratios" \
	jq_py "$work/c-only.json" "$(row 'press -> user space receives, median')[\"c\"] == 23000 and \
all(v is None for v in $(row 'press -> user space receives, median')[\"rust\"].values()) and \
all(v is None for v in $(row 'press -> user space receives, median')[\"ratio\"].values())"
t "report: status=absent wins over a stray figure of the same measurement" \
	jq_py "$work/c-only.json" "$(row 'press -> user space receives, median')[\"rust\"][\"stable\"] is None"
t "report: a zero C figure gives n/a, not a division" \
	jq_py "$work/c-only.json" "$(row 'brightness writes/s, each followed by its GPIO level change; same')[\"ratio\"][\"rust\"] is None"
t "report: the Markdown says n/a, never nan/inf" \
	sh -c "grep -q '| n/a |' '$work/c-only.md' && ! grep -qiwE 'nan|inf' '$work/c-only.md'"

cat >"$work/both.txt" <<'EOF'
lat.c.press_rx_med_us=20000
lat.rust_stable.press_rx_med_us=25000
lat.rust_fast.press_rx_med_us=500
size.gpio_keys.text=8000
size.gpio_keys.data=100
size.gpio_keys.bss=20
size.rpibsp_button.text=16000
size.rpibsp_button.data=200
size.rpibsp_button.bss=40
flash.bmap.bytes_written=1000
flash.plain.bytes_written=4000
kbuild.cold.seconds=not measured
EOF
python3 "$report" --json "$work/both.json" "$work/both.txt" >/dev/null
t "report: ratios are Rust / C, per debounce mode" \
	jq_py "$work/both.json" "abs($(row 'press -> user space receives, median')[\"ratio\"][\"stable\"] - 1.25) < 1e-9 and \
abs($(row 'press -> user space receives, median')[\"ratio\"][\"fast\"] - 0.025) < 1e-9"
t "report: module data + bss is derived, with its ratio" \
	jq_py "$work/both.json" "$(row 'module data + bss')[\"c\"] == 120 and abs($(row 'module data + bss')[\"ratio\"][\"stable\"] - 2) < 1e-9"
t "report: whole-system figures (bmap / plain ratio; 'not measured' kept as text)" \
	jq_py "$work/both.json" "abs(r['system_ratios']['flash bytes written, bmap / plain'] - 0.25) < 1e-9 and \
next(s for s in r['system'] if s['key'] == 'kbuild.cold.seconds')['value'] is None and \
next(s for s in r['system'] if s['key'] == 'kbuild.cold.seconds')['raw'] == 'not measured'"

# --- 3. a short run on the emulated board, C drivers alone ---------------------------------
# A small SD image (8 MiB, 1.5 MiB of data) for the flash.sh figures, in a private output dir;
# the boot uses the real initramfs and overlays.
qout=$work/out
mkdir -p "$qout"
mkimage() {
	local img=$qout/sdcard.img
	truncate -s 8M "$img"
	head -c 1048576 /dev/urandom | dd of="$img" bs=1M seek=1 conv=notrunc status=none
	head -c 524288 /dev/urandom | dd of="$img" bs=512K seek=10 conv=notrunc status=none
	bmaptool -q create -o "$img.bmap" "$img" &&
		(cd "$qout" && sha256sum sdcard.img >sdcard.img.sha256) &&
		echo "image: 8388608 bytes, $(($(stat -c %b "$img") * $(stat -c %B "$img") / 1024)) KiB allocated" >"$img.sizes"
}
t "synthetic SD image with bmap for the flash.sh figures" mkimage

runlog=$work/run.log
qrun() {
	local -a env=(RPIBSP_OUT="$qout" BENCH_INITRD="$RPIBSP_OUT/initramfs.cpio.gz" BENCH_TIMEOUT=600)
	[ ! -f "$RPIBSP_OUT/boot/overlays/rpibsp.dtbo" ] || env+=(BENCH_OVERLAYS_DIR="$RPIBSP_OUT/boot/overlays")
	env "${env[@]}" "$RPIBSP_ROOT/bench/run.sh" --quick --c-only >"$runlog" 2>&1
}
if [ ! -f "$RPIBSP_OUT/initramfs.cpio.gz" ]; then
	notok "short benchmark run: no $RPIBSP_OUT/initramfs.cpio.gz (make initramfs)"
elif qrun; then
	ok "bench/run.sh --quick --c-only completes (emulated board, 50 presses)"
else
	notok "bench/run.sh --quick --c-only completes (emulated board, 50 presses)"
	grep -E '^(not ok|# FAIL|error:|guest:)' "$runlog" | head -n 20 | sed 's/^/# /'
fi
res=$qout/bench/results.json
fig() { # fig KEY PYTHON-CONDITION on v (the figure as float): the raw figure from the run
	python3 - "$res" "$1" "$2" <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
raw = r["figures"].get(sys.argv[2])
if raw is None:
    print(f"# no figure {sys.argv[2]}")
    sys.exit(1)
try:
    v = float(raw)
except ValueError:
    print(f"# {sys.argv[2]}={raw} is not a number")
    sys.exit(1)
ok = math.isfinite(v) and eval(sys.argv[3], {"v": v})
if not ok:
    print(f"# {sys.argv[2]}={raw}")
sys.exit(0 if ok else 1)
EOF
}
figs() { # figs COND KEY...: every KEY satisfies COND
	local k rc=0
	local cond=$1
	shift
	for k in "$@"; do fig "$k" "$cond" || rc=1; done
	return "$rc"
}
lat_counts() { figs 'v == 50' lat.c.n && figs 'v == 0' lat.c.lost lat.c.unexpected; }
lat_values() {
	figs 'v > 0' lat.c.press_ev_med_us lat.c.press_ev_p99_us lat.c.press_rx_med_us \
		lat.c.press_rx_p99_us lat.c.release_rx_med_us &&
		jq_py "$res" 'float(r["figures"]["lat.c.press_ev_med_us"]) <= float(r["figures"]["lat.c.press_rx_med_us"]) <= float(r["figures"]["lat.c.press_rx_p99_us"])'
}
cpu_values() { fig cpu.baseline.us_per_cycle 'v > 0' && fig cpu.c.us_per_event 'True'; }
led_values() {
	figs 'v == 1' ledw.c.level_ok ledw.c_sim.level_ok &&
		figs 'v > 0' ledw.c.toggles_per_s ledw.c_sim.toggles_per_s ledw.c.writes_per_s
}
ledlat_values() { fig ledlat.c.n 'v == 40' && fig ledlat.c.lost 'v == 0' && fig ledlat.c.lat_med_us 'v > 0'; }
flash_values() {
	fig flash.plain.bytes_written 'v == 8388608' && fig flash.bmap.bytes_written 'v >= 1572864 and v < 8388608'
}
rust_na() {
	jq_py "$res" 'all(v is None for x in r["rows"] for v in list(x["rust"].values()) + list(x["ratio"].values()))' &&
		grep -q 'lat.rust_stable.status=absent' "$qout/bench/guest.out" &&
		grep -q 'lat.rust_fast.status=absent' "$qout/bench/guest.out" &&
		grep -q 'ledw.rust.status=absent' "$qout/bench/guest.out"
}
md_na() {
	grep -qE '^\| press -> user space receives, median \| us \| lower \| [0-9,.]+ \| n/a \| n/a \| n/a \| n/a \|$' \
		"$qout/bench/results.md"
}
if [ -f "$res" ]; then
	t "latency: 50 presses measured, none lost, no unexpected key events" lat_counts
	t "latency: every event time lies between the press and its reception (bad_order = 0)" \
		fig lat.c.bad_order 'v == 0'
	t "latency: non-zero medians and p99s; event time <= reception median <= p99" lat_values
	t "throughput: no event lost at a slow press rate (5 Hz)" fig rate.c.max_lossless_hz 'v >= 5'
	t "CPU time: baseline and C figures measured" cpu_values
	t "LED writes: the GPIO level follows (BCM GPIO 5, gpio-sim line 24), rates non-zero" led_values
	t "LED latency: press -> relay -> leds-gpio level, 40 samples, none lost" ledlat_values
	t "memory: gpio-keys and leds-gpio devices cost a positive number of bytes" \
		figs 'v > 0' mem.c_button.bytes_per_device mem.c_led.bytes_per_device
	t "module sizes: text of gpio_keys.ko and leds-gpio.ko, in-memory size from /proc/modules" \
		figs 'v > 0' size.gpio_keys.text size.leds_gpio.text modmem.gpio_keys modmem.leds_gpio
	t "boot to ready: guest and host clocks" figs 'v > 0' boot.script_start_uptime_s boot.ready_host_s
	t "flash.sh: the plain copy writes the whole image, the bmap copy only the mapped data" flash_values
	t "Rust side absent: every Rust column and ratio is n/a (null), and the guest said so" rust_na
	t "results.md: the table row reads n/a for both Rust modes and both ratios" md_na
else
	notok "results.json written by the short run"
fi

tap_end
