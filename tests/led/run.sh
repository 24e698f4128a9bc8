#!/usr/bin/env bash
# LED suite: rpibsp_led.ko on the emulated Raspberry Pi 3B (QEMU raspi3b). The LED stays on the
# real BCM2835 GPIO 4: the guest reads its level (GPLEV0 bit 4) and function (GPFSEL0 bits 12-14)
# with devmem.
#
#   1. builds rpibsp_led.ko, rpibsp_button.ko (it registers the "rpibsp-button" LED trigger) and
#      the test helper tests/led/ledprobe (GPIO level while suspended and at restart)
#   2. device trees: the board and emulation overlays on the raspi3b tree, then one copy per case
#      with the LED node edited by fdtput
#   3. one boot per case; tests/led/guest.sh runs the case given as ledtest=CASE:
#        main      label name, sysfs on/off and clamping, timer/default-on/none triggers, the
#                  button trigger (default trigger attached late, buttons on gpio-sim), suspend
#                  (off while suspended, restored), unbind/bind, rmmod/insmod
#        names     function + color name, active-low line, default-state on, trigger "none"
#        keep      default-state keep, line preset high and low before probe
#        timer     linux,default-trigger = "timer"
#        retain    retain-state-suspended and retain-state-shutdown: kept on, then a restart
#        shutdown  switched off by the driver's shutdown callback before the restart
#        bad       unknown default-state, missing gpios: probe fails, nothing registered
#      In the restart cases the guest reboots after its checks; the level after device_shutdown()
#      comes from the helper's restart handler in the console log.
#   4. mutation checks: broken copies of the driver must fail the case that covers them
#
# Environment: RPIBSP_OUT, RPIBSP_KBUILD (kernel build with the whole patch series), RPIBSP_KSRC
# (its source, for the dt-bindings headers), LED_MUTANTS=0 skips step 4.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
# shellcheck source=../lib/tap.sh
. "$RPIBSP_ROOT/tests/lib/tap.sh"
# shellcheck source=../lib/kmod.sh
. "$RPIBSP_ROOT/tests/lib/kmod.sh"

here=$RPIBSP_ROOT/tests/led
kdir=$(kmod_kdir)
ksrc=$(kmod_ksrc "$kdir")
work=$RPIBSP_OUT/tests/led
mkdir -p "$work" "$RPIBSP_OUT/logs"

# --- Builds ------------------------------------------------------------------------------------
modbuild() { kmod_build "$kdir" "$@"; } # modbuild <source dir> <object dir>
t "rpibsp_led.ko builds against the kernel" modbuild "$RPIBSP_ROOT/drivers/led" "$work/led"
t "rpibsp_led.ko carries the OF alias of rpibsp,gpio-led" \
	sh -c "modinfo -F alias '$work/led/rpibsp_led.ko' | grep -q 'of:N\*T\*Crpibsp,gpio-led'"
t "rpibsp_button.ko builds (rpibsp-button trigger)" modbuild "$RPIBSP_ROOT/drivers/gpio_button" "$work/button"
t "test helper rpibsp_ledprobe.ko builds" modbuild "$here/ledprobe" "$work/ledprobe"

# --- Device trees ------------------------------------------------------------------------------
# The product's overlays as `make dts` builds them; the test-only ones with the same flags.
dtbo() { dt_test_overlay "$ksrc" "$@"; } # dtbo <dts> <dtbo>
cases=(main names keep timer retain shutdown bad)
led=/rpibsp-led
dtbs() {
	dt_product_overlays "$ksrc" "$work/product" &&
		cp "$work/product/boot/overlays/rpibsp.dtbo" "$work/product/boot/overlays/rpibsp-emu.dtbo" "$work/" &&
		fdtoverlay -i "$kdir/arch/arm64/boot/dts/broadcom/bcm2837-rpi-3-b.dtb" \
			-o "$work/board.dtb" "$work/rpibsp.dtbo" "$work/rpibsp-emu.dtbo" || return 1
	local c gpio
	for c in "${cases[@]}"; do cp "$work/board.dtb" "$work/$c.dtb"; done
	gpio=$(fdtget -t u "$work/board.dtb" "$led" gpios | cut -d' ' -f1)
	# names: <color>:<function> = green:status (LED_COLOR_ID_GREEN = 2), GPIO_ACTIVE_LOW (1)
	fdtput -d "$work/names.dtb" "$led" label &&
		fdtput -t s "$work/names.dtb" "$led" function status &&
		fdtput -t u "$work/names.dtb" "$led" color 2 &&
		fdtput -t u "$work/names.dtb" "$led" gpios "$gpio" 4 1 &&
		fdtput -t s "$work/names.dtb" "$led" default-state on &&
		fdtput -t s "$work/keep.dtb" "$led" default-state keep &&
		fdtput -t s "$work/timer.dtb" "$led" linux,default-trigger timer &&
		fdtput "$work/retain.dtb" "$led" retain-state-suspended &&
		fdtput "$work/retain.dtb" "$led" retain-state-shutdown &&
		fdtput -t s "$work/bad.dtb" "$led" default-state blink &&
		fdtput -c "$work/bad.dtb" /rpibsp-led-nogpio &&
		fdtput -t s "$work/bad.dtb" /rpibsp-led-nogpio compatible rpibsp,gpio-led &&
		fdtput -t s "$work/bad.dtb" /rpibsp-led-nogpio label rpibsp-led-nogpio || return 1
	for c in names keep retain shutdown; do
		fdtput -t s "$work/$c.dtb" "$led" linux,default-trigger none || return 1
	done
	# The board tree as the cases expect it.
	[ "$(fdtget "$work/main.dtb" "$led" label)" = rpibsp-led ] &&
		[ "$(fdtget "$work/main.dtb" "$led" linux,default-trigger)" = rpibsp-button ] &&
		[ "$(fdtget "$work/main.dtb" "$led" default-state)" = off ] &&
		[ "$(fdtget -t u "$work/main.dtb" "$led" gpios | cut -d' ' -f2-)" = "4 0" ]
}
t "device trees: board + emulation overlays, one edited copy per case" dtbs

# --- Boots -------------------------------------------------------------------------------------
boot() { # boot <case> <directory of rpibsp_led.ko> <log name>
	"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine raspi3b --dtb "$work/$1.dtb" \
		--script "$here/guest.sh" --append "ledtest=$1" --kernel "$kdir/arch/arm64/boot/Image" \
		--file "$2/rpibsp_led.ko" --file "$work/button/rpibsp_button.ko" \
		--file "$work/ledprobe/rpibsp_ledprobe.ko" \
		--log "$RPIBSP_OUT/logs/led-$3.log" --timeout 300
}
# run_case <case> [led module dir] [log name]: the guest's TAP lines (indented) and its verdict.
# The restart cases have no end marker (QEMU exits on the reset); their verdict is the guest's
# own ("RPIBSP-LED-RESTART rc=0") plus the absence of kernel problems in the console log.
run_case() {
	local c=$1 dir=${2:-$work/led} name=${3:-$1} rc=0
	boot "$c" "$dir" "$name" >"$work/$name.out" 2>&1 || rc=$?
	case "$c" in
	retain | shutdown)
		sed -e 's/^# FAIL: QEMU exited before the end marker.*/# QEMU exited on the restart (expected)/' \
			-e 's/^/    /' "$work/$name.out"
		grep -q '^RPIBSP-LED-RESTART rc=0' <(tr -d '\r' <"$RPIBSP_OUT/logs/led-$name.log") &&
			! grep -q 'kernel problems in the log' "$work/$name.out"
		;;
	*)
		sed 's/^/    /' "$work/$name.out"
		return "$rc"
		;;
	esac
}
# restart_level <log name>: the level of GPIO 4 after the drivers' shutdown, from the helper.
restart_level() {
	tr -d '\r' <"$RPIBSP_OUT/logs/led-$1.log" |
		sed -n 's/.*rpibsp-ledprobe: restart: GPIO 4 level \([01]\).*/\1/p' | tail -n 1
}
level_after_restart() { # level_after_restart <log name> <expected level>
	local l
	l=$(restart_level "$1")
	echo "# GPIO 4 level after device_shutdown(): ${l:-not logged}"
	[ "$l" = "$2" ]
}

t "main: sysfs, triggers, button trigger, suspend, unbind, rmmod" run_case main
t "names: function + color, active-low, default-state on" run_case names
t "keep: default-state keep follows the preset level" run_case keep
t "timer: linux,default-trigger from the device tree" run_case timer
t "bad: invalid nodes fail to probe, nothing registered" run_case bad
t "retain: checks before the restart" run_case retain
t "retain-state-shutdown: GPIO 4 still high after the drivers' shutdown" level_after_restart retain 1
t "shutdown: checks before the restart" run_case shutdown
t "shutdown: GPIO 4 switched off by the driver's shutdown" level_after_restart shutdown 0

# --- Mutation checks: the suite must catch a broken driver -------------------------------------
# broken <name> <case> <sed expression> <what must fail>: a regex of a guest check, or
# "level=N" for a restart case whose broken driver leaves GPIO 4 at N after the shutdown.
broken() {
	local name=$1 c=$2 expr=$3 expect=$4 dir=$work/mutant-$1 src
	src=$RPIBSP_ROOT/drivers/led/rpibsp_led.rs
	mkdir -p "$dir/src"
	cp "$RPIBSP_ROOT/drivers/led/Kbuild" "$dir/src/"
	sed -e "$expr" "$src" >"$dir/src/rpibsp_led.rs"
	cmp -s "$src" "$dir/src/rpibsp_led.rs" && echo "# $name: the sed expression changed nothing" && return 1
	modbuild "$dir/src" "$dir/obj" || return 1
	if [ "${expect#level=}" != "$expect" ]; then
		run_case "$c" "$dir/obj" "mutant-$name" >/dev/null || true
		level_after_restart "mutant-$name" "${expect#level=}"
		return
	fi
	if run_case "$c" "$dir/obj" "mutant-$name" >"$dir/out"; then
		echo "# $name: case $c passed"
		return 1
	fi
	grep '^ *not ok' "$dir/out" | sed "s/^ */# $name: /" | head -n 5
	grep -qE "^ *not ok [0-9]+ - .*($expect)" "$dir/out"
}
# With LED_MUTANTS=0 each mutation check is a TAP skip, so the count shows what did not run.
mutant_check() { # mutant_check NAME ARGS...: one mutation check, or its skip
	if [ "${LED_MUTANTS:-1}" = 0 ]; then
		skip "$1" "mutation checks not run (LED_MUTANTS=0)"
	else
		t "$@"
	fi
}
mutant_check "a driver ignoring default-state fails the names case" broken no-default-state names \
	's/DefaultState::On => true/DefaultState::On => false/' 'default-state on'
mutant_check "a driver with inverted brightness fails the main case" broken inverted main \
	's/brightness != leds::LED_OFF/brightness == leds::LED_OFF/g' 'drives GPIO 4 high'
mutant_check "a driver without LED_CORE_SUSPENDRESUME fails the suspend check" broken no-suspend-off main \
	's/flags |= leds::Flags::CORE_SUSPENDRESUME;/let _ = \&mut flags;/' 'low while suspended'
mutant_check "a driver that leaves the LED on at shutdown fails the shutdown check" broken no-shutdown \
	shutdown 's/if led.flags().contains(leds::Flags::RETAIN_AT_SHUTDOWN) {/if true {/' level=1
mutant_check "a driver ignoring retain-state-shutdown fails the retain check" broken no-retain retain \
	's/if led.flags().contains(leds::Flags::RETAIN_AT_SHUTDOWN) {/if false {/' level=0

tap_end
