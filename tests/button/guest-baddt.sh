#!/bin/sh
# Guest side of the button suite (tests/button/run.sh): every invalid button node of
# tests/button/bad.dts fails to probe with one error message naming the property and its value and
# the right errno, leaves nothing registered, and does not disturb the valid buttons.
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

E=/rpibsp/evtool
DRV=/sys/bus/platform/drivers/rpibsp-button
SIM=$(find /sys/devices/platform/gpio-simulator -maxdepth 1 -name 'gpiochip*' | head -n1)
for l in 17 18; do echo pull-up >"$SIM/sim_gpio$l/pull"; done
rmmod rpibsp_button 2>/dev/null
rmmod rpibsp_led 2>/dev/null
# The system's coldplug may already have loaded the driver at boot: only the kernel log after this
# point counts.
BASE=$(dmesg | wc -l)
klog() { dmesg | tail -n +$((BASE + 1)); }

# case NODE ERRNO PATTERN: the node's probe failed with ERRNO, and the driver logged exactly one
# line for it, matching PATTERN (the driver core's own "probe ... failed" line aside).
case_ok() {
	_log=$(klog | sed -n "s/.*rpibsp-button rpibsp-button-bad-$1: //p" | grep -v '^probe with driver')
	_core=$(klog | grep -c "rpibsp-button rpibsp-button-bad-$1: probe with driver rpibsp-button failed with error $2\$")
	[ "$(printf '%s\n' "$_log" | grep -c .)" -eq "$ROUNDS" ] &&
		[ "$(printf '%s\n' "$_log" | grep -c -- "$3")" -eq "$ROUNDS" ] &&
		[ "$_core" -eq "$ROUNDS" ] &&
		! test -e "$DRV/rpibsp-button-bad-$1" &&
		! test -e "/sys/devices/platform/rpibsp-button-bad-$1/edge_count" &&
		! test -d "/sys/devices/platform/rpibsp-button-bad-$1/input"
}
cases() {
	check "no gpios: ENOENT, 'gpios: missing'" case_ok nogpio -2 '^gpios: missing required property$'
	check "no linux,code: EINVAL, 'linux,code: missing'" case_ok nocode -22 '^linux,code: missing required property$'
	check "debounce-interval 5000: EINVAL, value named" case_ok debounce -22 '^debounce-interval: 5000 ms out of range'
	check "debounce-interval 0: EINVAL, value named" case_ok debounce0 -22 '^debounce-interval: 0 ms out of range'
	check "unknown debounce mode: EINVAL, value named" case_ok mode -22 '^rpibsp,debounce-mode: unknown mode "slow"'
	check "unknown LED action: EINVAL, value named" case_ok action -22 '^rpibsp,led-action: unknown action "blink"'
	check "GPIO already in use: EBUSY, 'gpios: line already in use'" case_ok busy -16 '^gpios: line already in use$'
	check "only the valid buttons registered: 2 IRQs, 2 input devices" sh -c "
		[ \$(grep -c rpibsp-button /proc/interrupts) -eq 2 ] &&
		[ \$(cat /sys/class/input/input*/name | grep -c '^rpibsp-button') -eq 2 ]"
	check "the lines of the failed nodes are not held (debugfs: lines 23-27 unused)" sh -c "
		awk '/^gpiochip/ { s = /rpibsp-sim/ } s && /^ *gpio-2[3-7] / && !/<unused>/ { bad = 1 } END { exit bad }' /sys/kernel/debug/gpio &&
		[ \$(awk '/^gpiochip/ { s = /rpibsp-sim/ } s && /^ *gpio-2[3-7] .*<unused>/' /sys/kernel/debug/gpio | wc -l) -eq 5 ]"
}

check "insmod rpibsp_led.ko" insmod /rpibsp/rpibsp_led.ko
check "insmod rpibsp_button.ko" insmod /rpibsp/rpibsp_button.ko
sleep 0.5
check "the board's buttons are bound" sh -c "test -e $DRV/rpibsp-button-on && test -e $DRV/rpibsp-button-off"
ROUNDS=1
cases
dmesg | grep 'rpibsp-button rpibsp-button-bad' | sed 's/^/# /'
awk '/^gpiochip/ { s = /rpibsp-sim/ } s && !/<unused>/' /sys/kernel/debug/gpio | sed 's/^/# gpio: /'

# A second round: unloading and loading the module probes every node again, with the same result.
check "rmmod rpibsp_button" rmmod rpibsp_button
check "insmod rpibsp_button.ko again" insmod /rpibsp/rpibsp_button.ko
sleep 0.5
ROUNDS=2
cases

# The valid buttons still work.
dev=$($E find rpibsp-button-on)
$E watch "$dev" 5 >/tmp/on &
W=$!
sleep 0.3
echo pull-down >"$SIM/sim_gpio17/pull"
sleep 0.2
echo pull-up >"$SIM/sim_gpio17/pull"
sleep 0.2
kill "$W"
check "the valid buttons work next to the invalid nodes" sh -c "grep -q '^ev .* 1 148 1\$' /tmp/on && grep -q '^ev .* 1 148 0\$' /tmp/on"
check "rmmod rpibsp_button" rmmod rpibsp_button
tap_end
