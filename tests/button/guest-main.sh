#!/bin/sh
# Guest side of the button suite (tests/button/run.sh): functional checks of rpibsp_button.ko on
# the emulated board. The buttons sit on gpio-sim lines; "pull-down" presses one (active low),
# "pull-up" releases it. Every check fails when the behaviour it checks is broken.
#
# Buttons of the device tree (rpibsp.dtbo + rpibsp-emu.dtbo + tests/button/extra.dts):
#   rpibsp-button-on      line 17, KEY_PROG1 (148), stable, led-action "on"
#   rpibsp-button-off     line 18, KEY_PROG2 (149), stable, led-action "off"
#   rpibsp-button-fast    line 21, KEY_PROG3 (202), fast,   led-action "none", wakeup-source
#   rpibsp-button-toggle  line 22, KEY_PROG4 (203), stable, led-action "toggle"
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

E=/rpibsp/evtool
T=/tmp/button
mkdir -p "$T"
DRV=/sys/bus/platform/drivers/rpibsp-button
LED=/sys/class/leds/rpibsp-led
KEY_ON=148 KEY_OFF=149 KEY_FAST=202

SIM=$(find /sys/devices/platform/gpio-simulator -maxdepth 1 -name "gpiochip*" 2>/dev/null | head -n1)
pull() { echo "$2" >"$SIM/sim_gpio$1/pull"; } # pull LINE pull-up|pull-down
press() { pull "$1" pull-down; }
release() { pull "$1" pull-up; }
attr() { cat "/sys/devices/platform/rpibsp-button-$1/$2"; } # attr BUTTON NAME
evdev() { $E find "rpibsp-button-$1"; }
bound() { test -e "$DRV/rpibsp-button-$1"; }

# watch BUTTON FILE [SECONDS]: records the events of a button in the background; sets WATCH.
watch() {
	$E watch "$(evdev "$1")" "${3:-30}" >"$2" &
	WATCH=$!
	wait_for 5 grep -q '^open' "$2"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# count FILE CODE VALUE: number of key events CODE=VALUE in a recording.
count() { grep -c "^ev [^ ]* [^ ]* 1 $2 $3\$" "$1"; }
# field FILE CODE VALUE N: field N (2 = event time, 3 = read time) of the first such event.
field() { awk -v c="$2" -v v="$3" -v n="$4" '$1 == "ev" && $4 == 1 && $5 == c && $6 == v { print $n; exit }' "$1"; }
# wtime FILE N: time of the N-th write recorded by evtool write.
wtime() { awk -v n="$2" '$1 == "w" { if (++i == n) { print $2; exit } }' "$1"; }
# cmp EXPR: awk arithmetic comparison, e.g. cmp "1.5 < 2".
cmp() { awk "BEGIN { exit !($*) }"; }
led_level() { echo $((($(devmem 0x3F200034 32) >> 4) & 1)); } # BCM2835 GPLEV0, GPIO 4
led_is() { [ "$(cat "$LED/brightness")" -eq "$1" ] && [ "$(led_level)" -eq "$2" ]; }

for l in 17 18 21 22; do release "$l"; done
rmmod rpibsp_button 2>/dev/null
rmmod rpibsp_led 2>/dev/null

# --- Probe -------------------------------------------------------------------------------------
check "gpio-sim bank of the emulation overlay is present" test -n "$SIM"
check "insmod rpibsp_led.ko" insmod /rpibsp/rpibsp_led.ko
check "insmod rpibsp_button.ko" insmod /rpibsp/rpibsp_button.ko
check "all four buttons bound" sh -c "$(printf 'test -e %s/rpibsp-button-%s && ' "$DRV" on "$DRV" off "$DRV" fast "$DRV" toggle) true"
for b in on off fast toggle; do
	$E info "$(evdev $b)" >"$T/info-$b" 2>&1
done
check "input device names come from the labels" grep -q '^name rpibsp-button-on$' "$T/info-on"
check "input devices are BUS_HOST with unique phys rpibsp-button/inputN" sh -c "
	grep -q '^bus 0x0019 ' '$T/info-on' && grep -q '^bus 0x0019 ' '$T/info-fast' &&
	test \$(cat $T/info-* | grep '^phys rpibsp-button/input[0-9]*\$' | sort -u | wc -l) -eq 4"
diag "$(tr '\n' ' ' <"$T/info-on")"
check "LED trigger rpibsp-button exists and is the LED's default trigger" grep -q '\[rpibsp-button\]' "$LED/trigger"
check "sysfs counters start at zero, debounce interval from DT (20 ms)" sh -c "
	[ \$(cat /sys/devices/platform/rpibsp-button-on/edge_count) = 0 ] &&
	[ \$(cat /sys/devices/platform/rpibsp-button-on/press_count) = 0 ] &&
	[ \$(cat /sys/devices/platform/rpibsp-button-on/bounce_count) = 0 ] &&
	[ \$(cat /sys/devices/platform/rpibsp-button-on/debounce_interval_ms) = 20 ]"
check "one IRQ per button, named rpibsp-button" test "$(grep -c 'rpibsp-button' /proc/interrupts)" -eq 4

# --- sysfs: debounce_interval_ms is validated -------------------------------------------------
wr() { sh -c "echo $2 > /sys/devices/platform/rpibsp-button-on/debounce_interval_ms" 2>/dev/null; }
check "debounce_interval_ms rejects 0, 1001 and garbage (EINVAL)" sh -c "
	! (echo 0 > /sys/devices/platform/rpibsp-button-on/debounce_interval_ms) 2>/dev/null &&
	! (echo 1001 > /sys/devices/platform/rpibsp-button-on/debounce_interval_ms) 2>/dev/null &&
	! (echo abc > /sys/devices/platform/rpibsp-button-on/debounce_interval_ms) 2>/dev/null &&
	[ \$(cat /sys/devices/platform/rpibsp-button-on/debounce_interval_ms) = 20 ]"
check "debounce_interval_ms accepts 1 and 1000" sh -c "
	echo 1 > /sys/devices/platform/rpibsp-button-on/debounce_interval_ms &&
	echo 1000 > /sys/devices/platform/rpibsp-button-on/debounce_interval_ms &&
	[ \$(cat /sys/devices/platform/rpibsp-button-on/debounce_interval_ms) = 1000 ]"

# --- Single press and release: codes, timestamps -------------------------------------------------
# A 200 ms interval makes the difference between the edge time and the report time obvious.
echo 200 >/sys/devices/platform/rpibsp-button-on/debounce_interval_ms
watch on "$T/single"
$E write "$SIM/sim_gpio17/pull" 0 pull-down >"$T/single-w1"
sleep 1
$E write "$SIM/sim_gpio17/pull" 0 pull-up >"$T/single-w2"
sleep 1
stop "$WATCH"
check "single press: exactly one KEY_PROG1 press and one release" \
	sh -c "[ $(count "$T/single" $KEY_ON 1) -eq 1 ] && [ $(count "$T/single" $KEY_ON 0) -eq 1 ]"
check "each key event is followed by SYN_REPORT" \
	sh -c "[ \$(awk '\$1 == \"ev\" && \$4 == 0 && \$5 == 0' '$T/single' | wc -l) -eq 2 ]"
check "no other key code reported" sh -c "! awk '\$1 == \"ev\" && \$4 == 1 && \$5 != $KEY_ON' '$T/single' | grep -q ."
p_ev=$(field "$T/single" $KEY_ON 1 2) p_rd=$(field "$T/single" $KEY_ON 1 3)
r_ev=$(field "$T/single" $KEY_ON 0 2) r_rd=$(field "$T/single" $KEY_ON 0 3)
w1=$(wtime "$T/single-w1" 1) w2=$(wtime "$T/single-w2" 1)
diag "press: edge written at $w1, event time $p_ev, read at $p_rd; release: written $w2, event $r_ev, read $r_rd"
check "timestamps are ordered: write < press event < release write < release event" \
	cmp "$w1 <= $p_ev && $p_ev < $w2 && $w2 <= $r_ev"
check "event timestamps are the edge times, not the report times (stable, 200 ms)" \
	cmp "$p_ev - $w1 < 0.1 && $p_rd - $p_ev >= 0.195 && $r_ev - $w2 < 0.1 && $r_rd - $r_ev >= 0.195"
check "counters: 2 edges, 1 press, 0 bounces" sh -c "
	[ $(attr on edge_count) -eq 2 ] && [ $(attr on press_count) -eq 1 ] && [ $(attr on bounce_count) -eq 0 ]"

# --- LED follows the buttons: class brightness and the BCM2835 GPIO 4 level ----------------------
led_before="$(cat "$LED/brightness") $(led_level)"
echo 20 >/sys/devices/platform/rpibsp-button-on/debounce_interval_ms
press 18 && sleep 0.3 && release 18 && sleep 0.3
check "button 18 (off) switches the LED off: brightness 0, GPIO 4 low" led_is 0 0
press 17 && sleep 0.3 && release 17 && sleep 0.3
max=$(cat "$LED/max_brightness")
check "button 17 (on) switches the LED on: brightness max, GPIO 4 high" led_is "$max" 1
check "releasing does not change the LED" led_is "$max" 1
press 18 && sleep 0.3
check "button 18 switches it off again on press" led_is 0 0
release 18 && sleep 0.3
diag "LED before: $led_before (brightness, GPIO 4); max_brightness $max"

# --- Bounce bursts: one press and one release in each mode ---------------------------------------
# burst MODE BUTTON LINE KEY: 5 edges 2 ms apart ending pressed, then 3 ending released, with a
# 100 ms interval; checks the events and the counters. Leaves the recording in $T/burst-MODE.
burst() {
	_f=$T/burst-$1
	_e0=$(attr "$2" edge_count) _p0=$(attr "$2" press_count) _b0=$(attr "$2" bounce_count)
	echo 100 >"/sys/devices/platform/rpibsp-button-$2/debounce_interval_ms"
	watch "$2" "$_f"
	$E write "$SIM/sim_gpio$3/pull" 2000 pull-down pull-up pull-down pull-up pull-down >"$_f-w1"
	sleep 0.6
	$E write "$SIM/sim_gpio$3/pull" 2000 pull-up pull-down pull-up >"$_f-w2"
	sleep 0.6
	stop "$WATCH"
	check "$1 mode: a bounce burst gives exactly one press and one release" \
		sh -c "[ $(count "$_f" "$4" 1) -eq 1 ] && [ $(count "$_f" "$4" 0) -eq 1 ]"
	_d="$(($(attr "$2" edge_count) - _e0)) $(($(attr "$2" press_count) - _p0)) $(($(attr "$2" bounce_count) - _b0))"
	diag "$1 burst: new edges, presses, bounces: $_d"
	check "$1 mode: counters saw 8 edges, 1 press, 6 rejected bounces" test "$_d" = "8 1 6"
}
burst stable on 17 $KEY_ON
# The timing checks hold only if the five writes really were a burst (2 ms apart, all within the
# 100 ms interval): on a host too loaded to make one, they are skipped with the measured span,
# never passed.
span=$(awk -v a="$(wtime "$T/burst-stable-w1" 1)" -v b="$(wtime "$T/burst-stable-w1" 5)" 'BEGIN { printf "%.3f", b - a }')
diag "stable burst: writes $(wtime "$T/burst-stable-w1" 1) .. $(wtime "$T/burst-stable-w1" 5) (span $span s);" \
	"press event $(field "$T/burst-stable" $KEY_ON 1 2), read $(field "$T/burst-stable" $KEY_ON 1 3)"
if cmp "$span < 0.09"; then
	check "stable mode: the press is reported once the line is quiet for the interval" \
		cmp "$(field "$T/burst-stable" $KEY_ON 1 3) - $(wtime "$T/burst-stable-w1" 5) >= 0.095"
	check "stable mode: the press is stamped with the last edge of the burst" \
		cmp "$(field "$T/burst-stable" $KEY_ON 1 2) >= $(wtime "$T/burst-stable-w1" 5)"
else
	skip "stable mode: the press is reported once the line is quiet for the interval" "the burst took ${span} s (host too slow)"
	skip "stable mode: the press is stamped with the last edge of the burst" "the burst took ${span} s (host too slow)"
fi
burst fast fast 21 $KEY_FAST
f_ev=$(field "$T/burst-fast" $KEY_FAST 1 2) f_rd=$(field "$T/burst-fast" $KEY_FAST 1 3)
f_w=$(wtime "$T/burst-fast-w1" 1)
diag "fast press: first edge written $f_w, event time $f_ev, read at $f_rd"
check "fast mode: the press is reported before the interval ends, stamped with the first edge" \
	cmp "$f_rd - $f_w < 0.09 && $f_ev >= $f_w && $f_ev < $(wtime "$T/burst-fast-w1" 2)"

# A tap shorter than the interval: fast mode reports it, stable mode filters it as a glitch.
watch fast "$T/tap-fast"
$E write "$SIM/sim_gpio21/pull" 20000 pull-down pull-up >/dev/null
sleep 0.5
stop "$WATCH"
check "fast mode: a 20 ms tap (interval 100 ms) is reported as press and release" \
	sh -c "[ $(count "$T/tap-fast" $KEY_FAST 1) -eq 1 ] && [ $(count "$T/tap-fast" $KEY_FAST 0) -eq 1 ]"
watch on "$T/tap-stable"
$E write "$SIM/sim_gpio17/pull" 20000 pull-down pull-up >/dev/null
sleep 0.5
stop "$WATCH"
check "stable mode: a 20 ms tap (interval 100 ms) is filtered" test "$(count "$T/tap-stable" $KEY_ON 1)" -eq 0
echo 20 >/sys/devices/platform/rpibsp-button-on/debounce_interval_ms
echo 20 >/sys/devices/platform/rpibsp-button-fast/debounce_interval_ms

# --- Toggle action -------------------------------------------------------------------------------
press 18 && sleep 0.2 && release 18 && sleep 0.2
press 22 && sleep 0.2 && release 22 && sleep 0.2
check "toggle button flips the LED on" led_is "$max" 1
press 22 && sleep 0.2 && release 22 && sleep 0.2
check "toggle button flips the LED off" led_is 0 0

# --- Both buttons at once ------------------------------------------------------------------------
watch on "$T/both-on"
WON=$WATCH
watch off "$T/both-off"
WOFF=$WATCH
$E write "$SIM/sim_gpio17/pull" 0 pull-down >/dev/null &
$E write "$SIM/sim_gpio18/pull" 0 pull-down >/dev/null
wait_for 2 sh -c "[ \$($E keys $(evdev on) | grep -c .) -eq 1 ] && [ \$($E keys $(evdev off) | grep -c .) -eq 1 ]"
check "both buttons pressed at once: both keys down" sh -c "
	$E keys $(evdev on) | grep -qx $KEY_ON && $E keys $(evdev off) | grep -qx $KEY_OFF"
release 17
release 18
sleep 0.3
stop "$WON"
stop "$WOFF"
check "both buttons at once: one press and one release on each device" sh -c "
	[ $(count "$T/both-on" $KEY_ON 1) -eq 1 ] && [ $(count "$T/both-on" $KEY_ON 0) -eq 1 ] &&
	[ $(count "$T/both-off" $KEY_OFF 1) -eq 1 ] && [ $(count "$T/both-off" $KEY_OFF 0) -eq 1 ]"

# --- Open reports the current state --------------------------------------------------------------
# A button held down while the driver binds: the state read at probe is reported when the input
# device is opened (here by the VT keyboard handler, at registration), so readers see it down.
echo rpibsp-button-on >"$DRV/unbind"
press 17
echo rpibsp-button-on >"$DRV/bind"
check "a button held down at probe is reported down once its input device is opened" \
	sh -c "$E keys \$($E find rpibsp-button-on) | grep -qx $KEY_ON"
release 17 && sleep 0.2
check "and up again after its release" sh -c "! $E keys \$($E find rpibsp-button-on) | grep -q ."

# --- Unbind / rebind and rmmod / insmod under traffic with the event device open -----------------
traffic() { # traffic LINE: a few thousand edges, 1 ms apart, in the background; sets TRAFFIC
	# shellcheck disable=SC2046
	$E write "$SIM/sim_gpio$1/pull" 1000 $(i=0; while [ $i -lt 1500 ]; do echo pull-down pull-up; i=$((i + 1)); done) >/dev/null 2>&1 &
	TRAFFIC=$!
}
ok_unbind=0
for i in 1 2 3; do
	watch on "$T/unbind$i" 30
	traffic 17
	sleep 0.3
	echo rpibsp-button-on >"$DRV/unbind"
	wait_for 5 grep -q '^gone' "$T/unbind$i" && ! bound on && ok_unbind=$((ok_unbind + 1))
	sleep 0.2
	echo rpibsp-button-on >"$DRV/bind"
	bound on && ok_unbind=$((ok_unbind + 1))
	sleep 0.3
	stop "$TRAFFIC"
	stop "$WATCH"
done
check "unbind under traffic with the event device open, then rebind, 3 times" test "$ok_unbind" -eq 6
check "after rebinding: still one IRQ per button" test "$(grep -c 'rpibsp-button' /proc/interrupts)" -eq 4
release 17 && sleep 0.2
watch on "$T/rebound"
press 17 && sleep 0.2 && release 17 && sleep 0.2
stop "$WATCH"
check "the rebound button reports presses" test "$(count "$T/rebound" $KEY_ON 1)" -eq 1

ok_rmmod=0
for i in 1 2 3; do
	watch on "$T/rmmod-on$i" 30
	W1=$WATCH
	watch off "$T/rmmod-off$i" 30
	W2=$WATCH
	traffic 17
	T1=$TRAFFIC
	traffic 18
	T2=$TRAFFIC
	sleep 0.3
	rmmod rpibsp_button && ok_rmmod=$((ok_rmmod + 1))
	wait_for 5 grep -q '^gone' "$T/rmmod-on$i" && wait_for 5 grep -q '^gone' "$T/rmmod-off$i" &&
		! grep -q rpibsp-button "$LED/trigger" && ok_rmmod=$((ok_rmmod + 1))
	sleep 0.2
	insmod /rpibsp/rpibsp_button.ko && wait_for 5 bound on && wait_for 5 bound off && ok_rmmod=$((ok_rmmod + 1))
	sleep 0.3
	stop "$T1"
	stop "$T2"
	stop "$W1"
	stop "$W2"
done
check "rmmod under traffic on both buttons with both event devices open, then insmod, 3 times" test "$ok_rmmod" -eq 9
release 17
release 18
sleep 0.2
check "after insmod the LED is attached to the trigger again" grep -q '\[rpibsp-button\]' "$LED/trigger"
watch off "$T/reinsmod"
press 18 && sleep 0.2 && release 18 && sleep 0.2
stop "$WATCH"
check "buttons work after the module came back" test "$(count "$T/reinsmod" $KEY_OFF 1)" -eq 1
check "no IRQ left over by the unbinds and rmmods" test "$(grep -c 'rpibsp-button' /proc/interrupts)" -eq 4

# --- Suspend / resume (pm_test=devices) ----------------------------------------------------------
echo devices >/sys/power/pm_test
check "insmod the suspend test helper (rpibsp_simflip.ko)" insmod /rpibsp/rpibsp_simflip.ko
P=/sys/module/rpibsp_simflip/parameters

# 1. A non-wakeup button pressed while suspended: its IRQ is disabled, the press is found by the
#    re-read on resume and reported then.
press 18 && sleep 0.2 && release 18 && sleep 0.2 # LED off
watch on "$T/pm1" 60
p0=$(attr on press_count)
echo down >"$P/pull"
echo 1500 >"$P/delay_ms"
echo 17 >"$P/line"
t0=$($E now)
echo freeze >/sys/power/state
t1=$($E now)
sleep 0.3
stop "$WATCH"
dmesg >"$T/pm1-dmesg"
diag "suspend/resume took $(awk "BEGIN { print $t1 - $t0 }") s"
check "the test helper changed the line while the devices were suspended" sh -c "
	[ \$(cat $P/written) = 1 ] &&
	awk '/suspend debug: Waiting for/ { w = NR } /rpibsp_simflip: pull-down on rpibsp-sim line 17 while suspended \\(1\\)/ { s = NR } /PM: resume devices took|PM: suspend exit/ { r = NR } END { exit !(w && s > w && r > s) }' '$T/pm1-dmesg'"
check "resume reports the press that happened while suspended" test "$(count "$T/pm1" $KEY_ON 1)" -eq 1
pm_ev=$(field "$T/pm1" $KEY_ON 1 2)
diag "suspend entered at $t0, resumed by $t1, press event time $pm_ev"
check "the IRQ was disabled while suspended: the press (line changed 1.5 s in) is reported on resume" \
	cmp "$pm_ev - $t0 > 3 && $pm_ev <= $t1"
led_is "$max" 1 && led_on=1 || led_on=0
check "the press counted and switched the LED on" test "$(attr on press_count) $led_on" = "$((p0 + 1)) 1"
release 17 && sleep 0.2

# 2. A button held across the suspend: the input core releases keys on suspend, the resume reports
#    the key down again.
press 18 && sleep 0.2
watch off "$T/pm2" 60
echo freeze >/sys/power/state
sleep 0.3
stop "$WATCH"
check "a key held across suspend is released by the input core and reported again on resume" sh -c "
	[ $(count "$T/pm2" $KEY_OFF 0) -eq 1 ] && [ $(count "$T/pm2" $KEY_OFF 1) -eq 1 ] &&
	$E keys $(evdev off) | grep -qx $KEY_OFF"
release 18 && sleep 0.2

# 3. The wakeup-source button (fast): its device may wake the system; gpio-sim's interrupt chip
#    cannot be a wakeup source, so the driver warns and falls back to disable + re-read.
check "the wakeup-source button's device is wakeup capable and enabled" \
	grep -qx enabled /sys/devices/platform/rpibsp-button-fast/power/wakeup
watch fast "$T/pm3" 60
echo down >"$P/pull"
echo 21 >"$P/line"
echo freeze >/sys/power/state
sleep 0.3
stop "$WATCH"
check "suspend of a wakeup button succeeds where the IRQ chip cannot wake (warning, fallback)" \
	sh -c "dmesg | grep -q 'rpibsp-button-fast: cannot arm IRQ .* as wakeup source'"
check "the press while suspended is reported on resume" test "$(count "$T/pm3" $KEY_FAST 1)" -eq 1
release 21 && sleep 0.2
echo none >/sys/power/pm_test

# --- Unload ----------------------------------------------------------------------------------------
check "rmmod rpibsp_button" rmmod rpibsp_button
check "no rpibsp-button IRQ, input device or trigger left" sh -c "
	! grep -q rpibsp-button /proc/interrupts && ! $E find rpibsp-button-on && ! grep -q rpibsp-button $LED/trigger"
rmmod rpibsp_simflip

# --- Leaks (debug kernels with kmemleak) ---------------------------------------------------------
K=/sys/kernel/debug/kmemleak
if [ -w "$K" ]; then
	echo scan >"$K" && sleep 6 && echo scan >"$K"
	cat "$K" >"$T/kmemleak"
	diag "kmemleak: $(grep -c '^unreferenced object' "$T/kmemleak") unreferenced objects in total"
	check "kmemleak: no leak from the button driver, its input devices or GPIO lines" \
		sh -c "! grep -Eq 'rpibsp|6kernel5input|4gpio8consumer|input_allocate_device|input_register_device|gpiod_request|desc_set_label' '$T/kmemleak'"
	grep -B2 -A14 -E 'rpibsp|6kernel5input|4gpio8consumer|input_|gpiod_|desc_set_label' "$T/kmemleak" | head -n 40 | sed 's/^/# /'
else
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - kmemleak: no leak from the button driver # SKIP kernel without CONFIG_DEBUG_KMEMLEAK"
fi
tap_end
