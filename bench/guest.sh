#!/bin/sh
# Guest side of the benchmark (bench/run.sh): loads the drivers, runs the phases of
# /rpibsp/rpibsp-bench and prints their figures as "# bench: key=value" lines.
# Settings come from /rpibsp/bench.conf (written by bench/run.sh):
#   RUST_BUTTON=1|0, RUST_LED=1|0   use the Rust drivers (their modules are in /rpibsp)
#   PHASES        which of: latency rate cpu ledw ledlat mem
#   DEBOUNCE PRESSES RATE_COUNT RATES CPU_COUNT CPU_RATE LEDW_MS LEDLAT_COUNT MEM_REPS
# shellcheck shell=sh
# shellcheck source=../tests/qemu/guest-lib.sh
. /rpibsp/lib.sh
# shellcheck source=/dev/null
. /rpibsp/bench.conf
B=/rpibsp/rpibsp-bench

read -r up _ </proc/uptime
echo "# bench: boot.script_start_uptime_s=$up"
echo "# bench: guest.cpus=$(grep -c '^processor' /proc/cpuinfo)"

loaded() { grep -q "^$1 " /proc/modules; }
load() { # load MODULE FILE: insmod from /rpibsp unless the initramfs already loaded it
	loaded "$1" && return 0
	[ -f "/rpibsp/$2" ] || {
		echo "# no /rpibsp/$2"
		return 1
	}
	insmod "/rpibsp/$2"
}
bound() { test -e "/sys/bus/platform/drivers/$1/$2"; }

check "leds-gpio (C) loaded" load leds_gpio leds-gpio.ko
check "gpio-keys (C) loaded" load gpio_keys gpio_keys.ko
check "gpio-keys bound to rpibsp-bench-keys" wait_for 5 bound gpio-keys rpibsp-bench-keys
check "leds-gpio bound to rpibsp-bench-leds" wait_for 5 bound leds-gpio rpibsp-bench-leds
check "leds-gpio bound to rpibsp-bench-leds-sim" wait_for 5 bound leds-gpio rpibsp-bench-leds-sim
# The Rust drivers whose modules the host passed (RUST_*=1); the others are unloaded if the
# initramfs autoloaded them, so that their side comes out as "absent" in every phase.
if [ "$RUST_LED" = 1 ]; then
	check "rpibsp_led (Rust) loaded" load rpibsp_led rpibsp_led.ko
	check "rpibsp-led bound to rpibsp-led" wait_for 5 bound rpibsp-led rpibsp-led
elif loaded rpibsp_led; then
	check "rmmod rpibsp_led (no Rust LED in this run)" rmmod rpibsp_led
fi
if [ "$RUST_BUTTON" = 1 ]; then
	check "rpibsp_button (Rust) loaded" load rpibsp_button rpibsp_button.ko
	check "rpibsp-button bound to rpibsp-bench-stable" wait_for 5 bound rpibsp-button rpibsp-bench-stable
	check "rpibsp-button bound to rpibsp-bench-fast" wait_for 5 bound rpibsp-button rpibsp-bench-fast
elif loaded rpibsp_button; then
	check "rmmod rpibsp_button (no Rust button in this run)" rmmod rpibsp_button
fi
for m in gpio_keys leds_gpio rpibsp_button rpibsp_led; do
	size=$(awk -v m="$m" '$1 == m { print $2 }' /proc/modules)
	[ -z "$size" ] || echo "# bench: modmem.$m=$size"
done

# Targets: NAME:SIM_LINE:INPUT_DEVICE:KEY_CODE (bench/rpibsp-bench.dts)
T_C=c:20:rpibsp-bench-keys:183
T_RS=rust_stable:23:rpibsp-bench-stable:186
T_RF=rust_fast:22:rpibsp-bench-fast:185
has() { case " $PHASES " in *" $1 "*) return 0 ;; esac; return 1; }

if has latency; then
	check "latency phase" "$B" latency -n "$PRESSES" -d "$DEBOUNCE" $T_C $T_RS $T_RF
fi
if has rate; then
	check "throughput phase" "$B" rate -n "$RATE_COUNT" -d "$DEBOUNCE" -r "$RATES" $T_C $T_RS $T_RF
fi
if has cpu; then
	check "CPU time phase" "$B" cpu -n "$CPU_COUNT" -d "$DEBOUNCE" -r "$CPU_RATE" -b 31 $T_C $T_RS $T_RF
fi
if has ledw; then
	check "LED write phase" "$B" ledw -n "$LEDW_MS" \
		c:rpibsp-bench-cled:gplev:5 c_sim:rpibsp-bench-cled-sim:sim:24 rust:rpibsp-led:gplev:4
fi
if has ledlat; then
	# Rust: board buttons on/off (sim 17/18) -> LED trigger "rpibsp-button" -> rpibsp-led (GPIO 4).
	# C: gpio-keys keys a/b (sim 20/21) -> user-space relay -> leds-gpio on GPIO 5.
	check "LED trigger latency phase" "$B" ledlat -n "$LEDLAT_COUNT" -d "$DEBOUNCE" \
		rust:17:18:4 c:20:21:5:rpibsp-bench-keys:183:184:rpibsp-bench-cled
fi
if has mem; then
	check "memory phase" "$B" mem -n "$MEM_REPS" c_button:gpio-keys:rpibsp-bench-keys:2 \
		rust_button:rpibsp-button:rpibsp-bench-stable:1 c_led:leds-gpio:rpibsp-bench-leds:1 \
		rust_led:rpibsp-led:rpibsp-led:1
fi
read -r up _ </proc/uptime
echo "# bench: guest.end_uptime_s=$up"
tap_end
