#!/bin/sh
# Guest side of tests/led: rpibsp_led.ko on the emulated Raspberry Pi 3B. The case comes from the
# kernel command line (ledtest=CASE); tests/led/run.sh builds one device tree per case.
#
# The LED is BCM GPIO 4 of the real BCM2835 GPIO block: its level is bit 4 of GPLEV0
# (0x3F200034), its function bits 12-14 of GPFSEL0 (0x3F200000, 001 = output), read with devmem.
# rpibsp_ledprobe.ko (tests/led/ledprobe) records the level while suspended and at restart.
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

CASE=$(sed -n 's/.*ledtest=\([a-z]*\).*/\1/p' /proc/cmdline)
DRV=/sys/bus/platform/drivers/rpibsp-led
PROBE=/sys/module/rpibsp_ledprobe/parameters

gplev() { echo $((($(devmem 0x3F200034 32) >> 4) & 1)); }
gpfsel() { echo $((($(devmem 0x3F200000 32) >> 12) & 7)); }
level_is() { [ "$(gplev)" = "$1" ]; }
level_becomes() { wait_for 3 level_is "$1"; }
file_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
trigger_is() { grep -q "\[$2\]" "$1/trigger"; }
# GPIO 4 output high/low before the driver binds (for default-state "keep").
preset() {
	devmem 0x3F200000 32 $((($(devmem 0x3F200000 32) & ~(7 << 12)) | (1 << 12)))
	if [ "$1" = 1 ]; then devmem 0x3F20001C 32 $((1 << 4)); else devmem 0x3F200028 32 $((1 << 4)); fi
}
gpio_claimed() { grep -q 'gpio-4 .*|rpibsp-led' /sys/kernel/debug/gpio; }
# Levels of GPIO 4 sampled every 50 ms for about 2 s, e.g. "0011001100...".
samples() {
	_s=""
	for _i in $(seq 40); do
		_s="$_s$(gplev)"
		sleep 0.05
	done
	echo "$_s"
}
blinks() { _s=$(samples) && diag "GPIO 4 samples: $_s" && case $_s in *0*1*0* | *1*0*1*) true ;; *) false ;; esac; }
steady() { _s=$(samples) && diag "GPIO 4 samples: $_s" && case $_s in *[!$1]*) false ;; *) true ;; esac; }

# Drivers the root filesystem may have loaded at boot (coldplug) make way for the ones under test;
# the probe helper goes first so that its device suspends after the LED class device.
load() {
	rmmod rpibsp_button 2>/dev/null
	rmmod rpibsp_led 2>/dev/null
	check "insmod rpibsp_ledprobe.ko (test helper)" insmod /rpibsp/rpibsp_ledprobe.ko
	check "insmod rpibsp_led.ko" insmod /rpibsp/rpibsp_led.ko
	check "driver rpibsp-led is bound to the rpibsp-led node" wait_for 3 test -e "$DRV/rpibsp-led"
}

suspend_cycle() {
	echo devices >/sys/power/pm_test
	if echo freeze >/sys/power/state; then _rc=0; else _rc=1; fi
	echo none >/sys/power/pm_test
	return "$_rc"
}

case_main() {
	L=/sys/class/leds/rpibsp-led
	check "the rpibsp-led node is in the device tree" test -d /proc/device-tree/rpibsp-led
	load
	check "LED class device $L (named after label)" test -d "$L"
	check "max_brightness is 1" file_is "$L/max_brightness" 1
	check "brightness 0 after probe (default-state off)" file_is "$L/brightness" 0
	check "GPFSEL0: GPIO 4 is an output (001)" test "$(gpfsel)" = 1
	check "GPLEV0: GPIO 4 low after probe" level_is 0
	check "GPIO 4 is claimed by rpibsp-led" gpio_claimed
	check "trigger: none while the rpibsp-button trigger does not exist" trigger_is "$L" none
	check "standard triggers are offered (timer, heartbeat, default-on)" \
		sh -c "grep -q ' timer ' $L/trigger && grep -q ' heartbeat ' $L/trigger && grep -q 'default-on' $L/trigger"

	echo 1 >"$L/brightness"
	check "brightness 1 drives GPIO 4 high" level_is 1
	echo 0 >"$L/brightness"
	check "brightness 0 drives GPIO 4 low" level_is 0
	echo 255 >"$L/brightness"
	check "brightness 255 is clamped to max_brightness 1" file_is "$L/brightness" 1
	check "brightness 255 drives GPIO 4 high" level_is 1
	echo 0 >"$L/brightness"

	echo timer >"$L/trigger"
	check "trigger timer selected" trigger_is "$L" timer
	echo 100 >"$L/delay_on"
	echo 100 >"$L/delay_off"
	check "timer trigger blinks GPIO 4" blinks
	echo none >"$L/trigger"
	check "trigger none: GPIO 4 stays low" steady 0
	echo default-on >"$L/trigger"
	check "trigger default-on drives GPIO 4 high" level_becomes 1
	echo none >"$L/trigger"
	check "removing the trigger switches the LED off" level_becomes 0

	# The button driver registers the "rpibsp-button" trigger: the LED's default trigger
	# (linux,default-trigger) attaches when it appears, and the buttons drive the LED.
	check "insmod rpibsp_button.ko (registers the rpibsp-button trigger)" insmod /rpibsp/rpibsp_button.ko
	check "default trigger rpibsp-button attached when the trigger was registered" \
		wait_for 3 trigger_is "$L" rpibsp-button
	sim=""
	for d in /sys/devices/platform/gpio-simulator/gpiochip*; do
		[ -e "$d/sim_gpio17/pull" ] && sim=$d
	done
	if [ -n "$sim" ]; then
		# gpio-sim lines start pulled down, i.e. with both buttons pressed: release them first.
		echo pull-up >"$sim/sim_gpio17/pull"
		echo pull-up >"$sim/sim_gpio18/pull"
		sleep 0.3
		echo pull-down >"$sim/sim_gpio17/pull"
		check "pressing the on-button (sim line 17) switches GPIO 4 on" level_becomes 1
		echo pull-up >"$sim/sim_gpio17/pull"
		check "releasing the on-button keeps it on" steady 1
		echo pull-down >"$sim/sim_gpio18/pull"
		check "pressing the off-button (sim line 18) switches GPIO 4 off" level_becomes 0
		echo pull-up >"$sim/sim_gpio18/pull"
		echo pull-down >"$sim/sim_gpio17/pull"
		check "pressing the on-button again switches GPIO 4 on" level_becomes 1
		echo pull-up >"$sim/sim_gpio17/pull"
	else
		check "gpio-sim lines of the buttons exist" false
	fi
	check "rmmod rpibsp_button" rmmod rpibsp_button
	check "the trigger is gone: trigger none, LED switched off" \
		sh -c "grep -q '\[none\]' $L/trigger && [ \$((\$(devmem 0x3F200034 32) >> 4 & 1)) = 0 ]"

	# Suspend without retain-state-suspended: the LED core switches the LED off and restores it.
	echo 1 >"$L/brightness"
	n0=$(cat "$PROBE/suspend_count")
	check "suspend/resume cycle (pm_test=devices, freeze)" suspend_cycle
	check "the probe saw the suspend" test "$(cat "$PROBE/suspend_count")" -gt "$n0"
	check "GPIO 4 low while suspended (LED core switched it off)" file_is "$PROBE/suspend_level" 0
	check "GPIO 4 high again after resume" level_is 1
	check "brightness 1 after resume" file_is "$L/brightness" 1

	# Unbinding unregisters the LED class device, which switches the LED off (no
	# retain-state-shutdown) and releases the GPIO; binding again starts from default-state.
	echo rpibsp-led >"$DRV/unbind"
	check "unbind: LED class device gone" sh -c "! test -e $L"
	check "unbind: GPIO 4 switched off" level_is 0
	check "unbind: GPIO 4 released" sh -c "! grep -q 'gpio-4 .*|rpibsp-led' /sys/kernel/debug/gpio"
	echo rpibsp-led >"$DRV/bind"
	check "bind again: LED class device back with brightness 0" wait_for 3 file_is "$L/brightness" 0
	echo 1 >"$L/brightness"
	check "bind again: brightness 1 drives GPIO 4 high" level_is 1
	check "rmmod rpibsp_led" rmmod rpibsp_led
	check "rmmod: LED class device gone, GPIO 4 low and released" \
		sh -c "! test -e $L && [ \$((\$(devmem 0x3F200034 32) >> 4 & 1)) = 0 ] && ! grep -q 'gpio-4 .*|rpibsp-led' /sys/kernel/debug/gpio"
	check "insmod rpibsp_led.ko again" insmod /rpibsp/rpibsp_led.ko
	check "after insmod again: brightness 0, GPIO 4 low" wait_for 3 file_is "$L/brightness" 0
	check "no kernel warning in the log" sh -c "! dmesg | grep -qE 'WARNING:|BUG:|Oops'"
}

# function + color naming, active-low GPIO, default-state on, explicit trigger "none".
case_names() {
	L=/sys/class/leds/green:status
	load
	check "LED class device named green:status (function + color)" test -d "$L"
	check "no class device named after the node" sh -c "! test -e /sys/class/leds/rpibsp-led"
	check "brightness 1 after probe (default-state on)" file_is "$L/brightness" 1
	check "active-low: GPIO 4 low while the LED is on" level_is 0
	check "trigger none (linux,default-trigger = \"none\")" trigger_is "$L" none
	echo 0 >"$L/brightness"
	check "active-low: brightness 0 drives GPIO 4 high" level_is 1
	echo 1 >"$L/brightness"
	check "active-low: brightness 1 drives GPIO 4 low" level_is 0
	check "rmmod rpibsp_led" rmmod rpibsp_led
	check "rmmod switches the active-low LED off: GPIO 4 high" level_is 1
}

# default-state keep: the level the line had before probe decides the brightness.
case_keep() {
	L=/sys/class/leds/rpibsp-led
	rmmod rpibsp_button 2>/dev/null
	rmmod rpibsp_led 2>/dev/null
	check "insmod rpibsp_ledprobe.ko (test helper)" insmod /rpibsp/rpibsp_ledprobe.ko
	preset 1
	check "GPIO 4 preset high before probe" level_is 1
	check "insmod rpibsp_led.ko" insmod /rpibsp/rpibsp_led.ko
	check "keep, line high: brightness 1" wait_for 3 file_is "$L/brightness" 1
	check "keep, line high: GPIO 4 still high" level_is 1
	check "keep: GPIO 4 is an output" test "$(gpfsel)" = 1
	# Unbinding switches the LED off, so binding again keeps it off; with the line preset high
	# again, binding keeps it on.
	echo rpibsp-led >"$DRV/unbind"
	check "unbind switches GPIO 4 off" level_is 0
	echo rpibsp-led >"$DRV/bind"
	check "keep, line low: brightness 0" wait_for 3 file_is "$L/brightness" 0
	check "keep, line low: GPIO 4 still low" level_is 0
	echo rpibsp-led >"$DRV/unbind"
	preset 1
	echo rpibsp-led >"$DRV/bind"
	check "keep, line high again: brightness 1" wait_for 3 file_is "$L/brightness" 1
	check "keep, line high again: GPIO 4 high" level_is 1
}

# linux,default-trigger = "timer" from the device tree.
case_timer() {
	L=/sys/class/leds/rpibsp-led
	load
	check "trigger timer from linux,default-trigger" trigger_is "$L" timer
	check "GPIO 4 blinks right after probe" blinks
	echo none >"$L/trigger"
	check "trigger none: GPIO 4 stays low" steady 0
}

# retain-state-suspended and retain-state-shutdown; ends with a restart (run.sh checks the level
# the probe logs after the drivers' shutdown).
case_retain() {
	L=/sys/class/leds/rpibsp-led
	load
	echo 1 >"$L/brightness"
	check "suspend/resume cycle (pm_test=devices, freeze)" suspend_cycle
	check "retain-state-suspended: GPIO 4 stays high while suspended" file_is "$PROBE/suspend_level" 1
	check "GPIO 4 high after resume" level_is 1
	echo rpibsp-led >"$DRV/unbind"
	check "retain-state-shutdown: unbind keeps GPIO 4 high" level_is 1
	echo rpibsp-led >"$DRV/bind"
	wait_for 3 test -e "$L"
	echo 1 >"$L/brightness"
	check "LED on before the restart" level_is 1
	restart
}

# No retain-state-shutdown; ends with a restart.
case_shutdown() {
	L=/sys/class/leds/rpibsp-led
	load
	echo 1 >"$L/brightness"
	check "LED on before the restart" level_is 1
	restart
}

# reboot -f runs device_shutdown(), then the probe's restart handler logs the GPIO level.
# The script's end marker never comes: run.sh reads the TAP lines and the level from the log.
restart() {
	tap_end
	echo "RPIBSP-LED-RESTART rc=$?"
	reboot -f
	sleep 30
}

# Invalid nodes: unknown default-state on rpibsp-led, no gpios on rpibsp-led-nogpio.
case_bad() {
	rmmod rpibsp_led 2>/dev/null
	check "insmod rpibsp_led.ko" insmod /rpibsp/rpibsp_led.ko
	sleep 1
	check "dev_err names default-state and its value" \
		sh -c "dmesg | grep -q \"rpibsp-led: invalid 'default-state' property value \\\"blink\\\"\""
	check "dev_err names the missing gpios property" \
		sh -c "dmesg | grep -q \"rpibsp-led-nogpio: missing 'gpios' property\""
	check "probe of both nodes failed" \
		sh -c "dmesg | grep -q 'rpibsp-led: probe with driver rpibsp-led failed' && dmesg | grep -q 'rpibsp-led-nogpio: probe with driver rpibsp-led failed'"
	check "no device bound to the driver" sh -c "! ls $DRV | grep -q rpibsp-led"
	check "no LED class device registered" \
		sh -c "! test -e /sys/class/leds/rpibsp-led && ! test -e /sys/class/leds/rpibsp-led-nogpio"
	check "GPIO 4 not claimed" sh -c "! grep -q 'gpio-4 .*|rpibsp-led' /sys/kernel/debug/gpio"
	check "rmmod rpibsp_led" rmmod rpibsp_led
}

case "$CASE" in
main | names | keep | timer | retain | shutdown | bad) "case_$CASE" ;;
*) check "known test case '$CASE' (ledtest= on the kernel command line)" false ;;
esac
tap_end
