#!/bin/sh
# Guest side of the reliability suite (tests/reliability/run.sh): the corpus of broken nodes of
# tests/reliability/bad.dts. Loading the three drivers probes every node; each broken one must
# fail with its errno and one message naming the property, and leave nothing behind (IRQs, GPIO
# lines in debugfs, sysfs attributes, input devices, LEDs, misc devices). ROUNDS unload/load
# rounds (relrounds=) repeat it, so the error paths run many times for kmemleak.
# Ends with "# SUMMARY|bad device trees|<node probes>|<failed>|<s>".
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

# shellcheck source=guest-common.sh
. /rpibsp/guest-common.sh
ROUNDS=$(arg relrounds)
for l in 17 18; do pull "$l" pull-up; done
for m in rpibsp_button rpibsp_led rpibsp_devicemodel; do rmmod "$m" 2>/dev/null; done
t0=$(uptime_s)
BASE=$(dmesg | wc -l)
klog() { dmesg | tail -n +$((BASE + 1)); }

# The corpus: node, driver, errno, pattern of the driver's one message (it names the property).
cat >/tmp/corpus <<'CORPUS'
rpibsp-button-bad-nogpio rpibsp-button -2 ^gpios: missing required property$
rpibsp-button-bad-nocode rpibsp-button -22 ^linux,code: missing required property$
rpibsp-button-bad-code0 rpibsp-button -22 ^linux,code: invalid key code 0$
rpibsp-button-bad-codemax rpibsp-button -22 ^linux,code: invalid key code 768$
rpibsp-button-bad-codestr rpibsp-button -22 ^linux,code: invalid value
rpibsp-button-bad-debounce rpibsp-button -22 ^debounce-interval: 5000 ms out of range
rpibsp-button-bad-debounce0 rpibsp-button -22 ^debounce-interval: 0 ms out of range
rpibsp-button-bad-debouncestr rpibsp-button -22 ^debounce-interval: invalid value
rpibsp-button-bad-mode rpibsp-button -22 ^rpibsp,debounce-mode: unknown mode "slow"
rpibsp-button-bad-modebin rpibsp-button -22 ^rpibsp,debounce-mode: invalid value
rpibsp-button-bad-action rpibsp-button -22 ^rpibsp,led-action: unknown action "blink"
rpibsp-button-bad-labelbin rpibsp-button -22 ^label: invalid value
rpibsp-button-bad-busy rpibsp-button -16 ^gpios: line already in use$
rpibsp-button-bad-line40 rpibsp-button defer -
rpibsp-button-bad-cells rpibsp-button -22 ^gpios: cannot request the line
rpibsp-led-bad-nogpio rpibsp-led -2 ^missing 'gpios' property$
rpibsp-led-bad-state rpibsp-led -22 ^invalid 'default-state' property value "blink"
rpibsp-led-bad-statebin rpibsp-led -22 ^invalid 'default-state' property: not a string$
rpibsp-led-bad-busy rpibsp-led -16 ^invalid 'gpios' property: cannot request the line (error -16)$
rpibsp-led-bad-line40 rpibsp-led defer -
rpibsp-led-bad-cells rpibsp-led -22 ^invalid 'gpios' property: cannot request the line (error -22)$
rpibsp-dm-bad-nogreeting rpibsp-devicemodel -22 ^missing required property rpibsp,greeting$
rpibsp-dm-bad-longgreeting rpibsp-devicemodel -22 ^property rpibsp,greeting = ".*" is 32 bytes long, at most 31 allowed$
rpibsp-dm-bad-bingreeting rpibsp-devicemodel -22 ^property rpibsp,greeting is not a string$
rpibsp-dm-bad-emptygreeting rpibsp-devicemodel -22 ^property rpibsp,greeting is not a string$
rpibsp-dm-bad-novalue rpibsp-devicemodel -22 ^missing required property rpibsp,value$
rpibsp-dm-bad-bigvalue rpibsp-devicemodel -22 ^property rpibsp,value = 1000001 is out of range
rpibsp-dm-bad-twovalues rpibsp-devicemodel -22 ^property rpibsp,value has 2 cells, must be one u32$
rpibsp-dm-bad-bytevalue rpibsp-devicemodel -22 ^property rpibsp,value is not a u32 cell
rpibsp-dm-bad-strvalue rpibsp-devicemodel -22 ^property rpibsp,value is not a u32 cell
rpibsp-dm-bad-emptyvalue rpibsp-devicemodel -22 ^property rpibsp,value
CORPUS
NODES=$(wc -l </tmp/corpus)

# node_ok NODE DRIVER ERRNO PATTERN ROUNDS: ROUNDS failed probes of NODE with ERRNO, each with one
# driver message matching PATTERN, and nothing of NODE left in sysfs. ERRNO "defer": a line
# number the GPIO controller does not have makes gpiolib defer the probe (EPROBE_DEFER, which
# drivers do not log): no message, the node waits in devices_deferred.
node_ok() {
	_log=$(klog | sed -n "s/.*$2 $1: //p" | grep -v '^probe with driver')
	_core=$(klog | grep -c "$2 $1: probe with driver $2 failed with error $3\$")
	if [ "$3" = defer ]; then
		[ -z "$_log" ] && grep -q "^$1[[:space:]]" /sys/kernel/debug/devices_deferred
	else
		[ "$(printf '%s\n' "$_log" | grep -c .)" -eq "$5" ] &&
			[ "$(printf '%s\n' "$_log" | grep -c -- "$4")" -eq "$5" ] && [ "$_core" -eq "$5" ]
	fi &&
		! test -e "/sys/bus/platform/devices/$1/driver" &&
		[ "$(find "/sys/bus/platform/devices/$1/" -mindepth 1 -maxdepth 1 | grep -cvE '/(driver_override|modalias|of_node|power|subsystem|uevent|waiting_for_supplier|supplier:.*|consumer:.*)$')" -eq 0 ]
}
# Only the board's own resources: 2 button IRQs, 2 input devices, lines 17, 18 and the hog (30)
# requested in the gpio-sim bank, one LED (rpibsp-led) and one misc device.
resources_ok() {
	[ "$(grep -c rpibsp-button /proc/interrupts)" -eq 2 ] &&
		[ "$(cat /sys/class/input/input*/name | grep -c '^rpibsp-button')" -eq 2 ] &&
		[ "$(awk '/^gpiochip/ { s = /rpibsp-sim/ } s && /^ *gpio-[0-9]+ / && !/<unused>/ { print $1 }' /sys/kernel/debug/gpio | tr '\n' ' ')" = "gpio-17 gpio-18 gpio-30 " ] &&
		[ "$(find /sys/class/leds/ -maxdepth 1 -name '*rpibsp*' | wc -l)" -eq 1 ] && test -e /sys/class/leds/rpibsp-led &&
		[ "$(find /sys/class/misc/ -maxdepth 1 -name '*rpibsp*' | wc -l)" -eq 1 ]
}
load() {
	insmod /rpibsp/rpibsp_led.ko && insmod /rpibsp/rpibsp_button.ko && insmod /rpibsp/rpibsp_devicemodel.ko
}
unload() { rmmod rpibsp_devicemodel && rmmod rpibsp_button && rmmod rpibsp_led; }

check "load the three drivers over the corpus ($NODES broken nodes)" load
check "the board's valid nodes are bound" sh -c "
	test -e /sys/bus/platform/drivers/rpibsp-button/rpibsp-button-on &&
	test -e /sys/bus/platform/drivers/rpibsp-led/rpibsp-led && test -c /dev/rpibsp-devicemodel"
while read -r node drv err pat; do
	check "$node: $err, one message naming the property, nothing left" node_ok "$node" "$drv" "$err" "$pat" 1
done </tmp/corpus
check "only the valid nodes' IRQs, lines, input devices, LED and misc device exist" resources_ok
klog | grep -E 'rpibsp-(button|led|dm)-bad' | grep -v 'probe with driver' | sed 's/^/# /'
awk '/^gpiochip/ { s = /rpibsp-sim/ } s && !/<unused>/' /sys/kernel/debug/gpio | sed 's/^/# gpio: /'
sed 's/^/# deferred: /' /sys/kernel/debug/devices_deferred

# More rounds: unload and load again; every round must give the same, with no resource growing.
irq0=$(wc -l </proc/interrupts)
r=2
rounds_ok=0
while [ "$r" -le "$ROUNDS" ]; do
	unload && load && resources_ok && rounds_ok=$((rounds_ok + 1))
	r=$((r + 1))
done
check "$((ROUNDS - 1)) more unload/load rounds with the same resources" test "$rounds_ok" -eq $((ROUNDS - 1))
bad=0
while read -r node drv err pat; do
	node_ok "$node" "$drv" "$err" "$pat" "$ROUNDS" || { bad=$((bad + 1)) && diag "round mismatch: $node"; }
done </tmp/corpus
check "every node failed the same way in all $ROUNDS rounds" test "$bad" -eq 0
check "/proc/interrupts did not grow" test "$(wc -l </proc/interrupts)" -eq "$irq0"
check "unload after the rounds leaves no IRQ, line or device" sh -c "
	rmmod rpibsp_devicemodel && rmmod rpibsp_button && rmmod rpibsp_led &&
	! grep -q rpibsp /proc/interrupts && ! test -e /sys/class/leds/rpibsp-led &&
	[ \"\$(awk '/^gpiochip/ { s = /rpibsp-sim/ } s && /^ *gpio-[0-9]+ / && !/<unused>/ { print \$1 }' /sys/kernel/debug/gpio | tr '\n' ' ')\" = 'gpio-30 ' ]"
echo "# SUMMARY|bad device trees|$((NODES * ROUNDS))|$TAP_FAILED|$(since "$t0")"
tap_end
