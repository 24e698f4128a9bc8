#!/usr/bin/env bash
# Button suite: rpibsp_button.ko on the emulated Raspberry Pi 3B (QEMU raspi3b), buttons on
# gpio-sim lines.
#
#   1. builds the driver, the LED driver (drivers/led, for the LED checks), the suspend test helper
#      module (tests/button/simflip) and the event reader (tests/button/evtool.c, static aarch64)
#   2. boots the board overlay + emulation overlay + tests/button/extra.dts and runs
#      guest-main.sh: codes, timestamps, debounce modes, LED (class + BCM2835 GPIO 4 level), both
#      buttons, unbind/rebind and rmmod/insmod under traffic, suspend/resume, sysfs
#   3. boots with tests/button/bad.dts and runs guest-baddt.sh: every invalid node fails cleanly
#   4. mutation checks: the same guest script against deliberately broken copies of the driver
#      (no edge timestamps, no debounce, IRQ left enabled on suspend, no report on open) must fail
#
# Environment: RPIBSP_OUT, RPIBSP_KBUILD (kernel build with the whole patch series), RPIBSP_KSRC
# (its source, for the dt-bindings headers), BUTTON_MUTANTS=0 skips step 4.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
# shellcheck source=../lib/tap.sh
. "$RPIBSP_ROOT/tests/lib/tap.sh"
# shellcheck source=../lib/kmod.sh
. "$RPIBSP_ROOT/tests/lib/kmod.sh"

here=$RPIBSP_ROOT/tests/button
kdir=$(kmod_kdir)
ksrc=$(kmod_ksrc "$kdir")
work=$RPIBSP_OUT/tests/button
mkdir -p "$work"

# --- Builds ------------------------------------------------------------------------------------
build_module() { kmod_build "$kdir" "$@"; } # build_module <source dir> <object dir>
t "rpibsp_button.ko builds against the kernel" build_module "$RPIBSP_ROOT/drivers/gpio_button" "$work/button"
t "rpibsp_led.ko builds (LED checks)" build_module "$RPIBSP_ROOT/drivers/led" "$work/led"
t "rpibsp_simflip.ko (suspend test helper) builds" build_module "$here/simflip" "$work/simflip"
t "evtool builds (static aarch64)" aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror \
	-o "$work/evtool" "$here/evtool.c"
t "rpibsp_button.ko has the OF alias of rpibsp,gpio-button" \
	sh -c "modinfo -F alias '$work/button/rpibsp_button.ko' | grep -q 'of:N\*T\*Crpibsp,gpio-button'"

# --- Device trees ------------------------------------------------------------------------------
# The product's overlays as `make dts` builds them; the test-only ones with the same flags.
overlay() { dt_test_overlay "$ksrc" "$@"; } # overlay <dts> <dtbo>
base=$kdir/arch/arm64/boot/dts/broadcom/bcm2837-rpi-3-b.dtb
dtbs() {
	dt_product_overlays "$ksrc" "$work/product" &&
		cp "$work/product/boot/overlays/rpibsp.dtbo" "$work/product/boot/overlays/rpibsp-emu.dtbo" "$work/" &&
		overlay "$here/extra.dts" "$work/extra.dtbo" &&
		overlay "$here/bad.dts" "$work/bad.dtbo" &&
		fdtoverlay -i "$base" -o "$work/main.dtb" "$work/rpibsp.dtbo" "$work/rpibsp-emu.dtbo" "$work/extra.dtbo" &&
		fdtoverlay -i "$base" -o "$work/bad.dtb" "$work/rpibsp.dtbo" "$work/rpibsp-emu.dtbo" "$work/bad.dtbo"
}
t "test device trees build (board + emulation overlay + test overlays)" dtbs

# --- Boots -------------------------------------------------------------------------------------
boot() { # boot <dtb> <guest script> <button module dir> <log name>
	"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine raspi3b --dtb "$1" --script "$2" \
		--kernel "$kdir/arch/arm64/boot/Image" \
		--file "$3/rpibsp_button.ko" --file "$work/led/rpibsp_led.ko" \
		--file "$work/simflip/rpibsp_simflip.ko" --file "$work/evtool" \
		--log "$RPIBSP_OUT/logs/button-$4.log" --timeout 600
}
run_guest() { # run_guest <dtb> <guest script> <button module dir> <log name>
	boot "$@" | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
t "functional checks on the emulated board (guest-main.sh)" \
	run_guest "$work/main.dtb" "$here/guest-main.sh" "$work/button" main
t "invalid device-tree nodes fail cleanly (guest-baddt.sh)" \
	run_guest "$work/bad.dtb" "$here/guest-baddt.sh" "$work/button" baddt

# --- Mutation checks: the suite must catch a broken driver -------------------------------------
# mutant NAME SED-EXPRESSION CHECK-REGEX: builds a copy of the driver with one behaviour broken
# and expects the main guest script to fail, with a failing check matching CHECK-REGEX.
mutant() {
	local name=$1 expr=$2 expect=$3
	local dir=$work/mutant-$name
	mkdir -p "$dir/src"
	cp "$RPIBSP_ROOT/drivers/gpio_button/Kbuild" "$dir/src/"
	sed -e "$expr" "$RPIBSP_ROOT/drivers/gpio_button/rpibsp_button.rs" >"$dir/src/rpibsp_button.rs"
	if cmp -s "$dir/src/rpibsp_button.rs" "$RPIBSP_ROOT/drivers/gpio_button/rpibsp_button.rs"; then
		echo "# mutant $name: the expression changed nothing"
		return 1
	fi
	build_module "$dir/src" "$dir/obj" || return 1
	if boot "$work/main.dtb" "$here/guest-main.sh" "$dir/obj" "mutant-$name" >"$dir/out" 2>&1; then
		echo "# mutant $name: the suite passed"
		return 1
	fi
	grep '^not ok' "$dir/out" | sed "s/^/# mutant $name: /" | head -n 8
	grep -qE "^not ok [0-9]+ - .*($expect)" "$dir/out"
}
# With BUTTON_MUTANTS=0 each mutation check is a TAP skip, so the count shows what did not run.
mutant_check() { # mutant_check NAME ARGS...: one mutation check, or its skip
	if [ "${BUTTON_MUTANTS:-1}" = 0 ]; then
		skip "$1" "mutation checks not run (BUTTON_MUTANTS=0)"
	else
		t "$@"
	fi
}
mutant_check "a driver reporting the report time instead of the edge time fails the timestamp check" \
	mutant no-timestamp 's/\.timestamp(time)//' 'edge times'
mutant_check "a driver without debounce fails the burst checks" \
	mutant no-debounce 's/let interval = self.interval();/let interval = Delta::from_millis(0);/' 'bounce burst'
mutant_check "a driver leaving the IRQ enabled on suspend fails the suspend check" \
	mutant no-irq-disable 's/this\.irq\.disable();//; s/this\.irq\.enable();//' 'disabled while suspended'
mutant_check "a driver not reporting the state when its input device is opened fails the open check" \
	mutant no-open-report 's/if state\.pressed != input\.is_key_pressed/if false \&\& state.pressed != input.is_key_pressed/' 'held down at probe'

tap_end
