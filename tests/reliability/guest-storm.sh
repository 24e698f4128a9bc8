#!/bin/sh
# Guest side of the reliability suite (tests/reliability/run.sh): the bounce storm, on the BSP
# kernel (the debug kernel under QEMU's emulation takes some 10 ms per gpio-sim write, far from
# thousands of edges per second; the load/unload boot on the debug kernel has a lighter storm).
# Both buttons get a gpio-sim pull write every 250 us each for relstorm= seconds. Ends with
# "# SUMMARY|bounce storm|<writes>|<failed checks>|<seconds>".
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh
# shellcheck source=guest-common.sh
. /rpibsp/guest-common.sh
STORM_S=$(arg relstorm)

for l in 17 18; do pull "$l" pull-up; done
# The BSP kernel's coldplug loaded the initramfs copies at boot: the ones under test replace them.
for m in rpibsp_button rpibsp_led; do rmmod "$m" 2>/dev/null; done
check "gpio-sim bank present" test -n "$SIM"

# --- Bounce storm --------------------------------------------------------------------------------
# Both buttons (stable mode, 100 ms) get 4000 writes/s each for STORM_S seconds; the press counts
# must be the ones the debounce rule allows for the recorded write times, the edge and bounce
# counters must add up, the system must keep answering, and afterwards one press and release on
# each button must be reported exactly once.
item_begin
check "insmod rpibsp_led.ko and rpibsp_button.ko" sh -c "insmod /rpibsp/rpibsp_led.ko && insmod /rpibsp/rpibsp_button.ko"
for b in on off; do echo 100 >"/sys/devices/platform/rpibsp-button-$b/debounce_interval_ms"; done
e_on=$(attr on edge_count) p_on=$(attr on press_count) b_on=$(attr on bounce_count)
e_off=$(attr off edge_count) p_off=$(attr off press_count) b_off=$(attr off bounce_count)
$E watch "$(evdev on)" 120 >"$T/storm-on" &
W1=$!
$E watch "$(evdev off)" 120 >"$T/storm-off" &
W2=$!
sleep 0.3
(while :; do uptime_s; sleep 0.1; done) >"$T/heartbeat" &
HB=$!
$R storm "$SIM/sim_gpio17/pull" 250 "$STORM_S" 100 >"$T/storm17" &
S1=$!
$R storm "$SIM/sim_gpio18/pull" 250 "$STORM_S" 100 >"$T/storm18"
wait "$S1"
stop "$HB"
sleep 0.5
cat "$T/storm17" "$T/storm18" | sed 's/^/# line 17|18: /'
get() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$1"; } # get FILE KEY
de_on=$(($(attr on edge_count) - e_on)) dp_on=$(($(attr on press_count) - p_on)) db_on=$(($(attr on bounce_count) - b_on))
de_off=$(($(attr off edge_count) - e_off)) dp_off=$(($(attr off press_count) - p_off)) db_off=$(($(attr off bounce_count) - b_off))
secs=$(get "$T/storm17" secs)
writes=$(($(get "$T/storm17" writes) + $(get "$T/storm18" writes)))
rate=$(awk "BEGIN { printf \"%.0f\", ($de_on + $de_off) / $secs }")
diag "storm: $writes pull writes, $((de_on + de_off)) edges in the interrupt handler over ${secs} s ($rate edges/s on the two buttons)"
diag "button on: edges $de_on, presses $dp_on (rule allows $(get "$T/storm17" pmin)..$(get "$T/storm17" pmax)), bounces $db_on"
diag "button off: edges $de_off, presses $dp_off (rule allows $(get "$T/storm18" pmin)..$(get "$T/storm18" pmax)), bounces $db_off"
hb_gap=$(awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { printf "%.2f", m }' "$T/heartbeat")
diag "heartbeat: $(wc -l <"$T/heartbeat") beats, longest gap ${hb_gap} s (0.1 s sleep loop)"
check "storm: thousands of edges per second on the two buttons (at least 2000/s)" test "$rate" -ge 2000
check "storm: the system stayed responsive (no heartbeat gap over 2 s)" awk "BEGIN { exit !($hb_gap < 2) }"
check "storm: press counts within what the debounce rule allows for the write times" sh -c "
	[ $dp_on -ge $(get "$T/storm17" pmin) ] && [ $dp_on -le $(get "$T/storm17" pmax) ] &&
	[ $dp_off -ge $(get "$T/storm18" pmin) ] && [ $dp_off -le $(get "$T/storm18" pmax) ]"
check "storm: every edge either changed the state or counted as a bounce (edges = 2 x presses + bounces)" \
	test "$de_on $de_off" = "$((2 * dp_on + db_on)) $((2 * dp_off + db_off))"
check "storm: no more edges than writes" test $((de_on + de_off)) -le "$writes"
check "storm: both keys up after the storm" sh -c "! $E keys $(evdev on) | grep -q . && ! $E keys $(evdev off) | grep -q ."
for b in 17 18; do pull "$b" pull-down; done
sleep 0.4
for b in 17 18; do pull "$b" pull-up; done
sleep 0.4
stop "$W1"
stop "$W2"
check "after the storm: one press and release on each button counted once more" \
	test "$(($(attr on press_count) - p_on)) $(($(attr off press_count) - p_off))" = "$((dp_on + 1)) $((dp_off + 1))"
check "evdev saw exactly the counted presses and as many releases (nothing lost or duplicated)" sh -c "
	[ $(count "$T/storm-on" $KEY_ON 1) -eq $((dp_on + 1)) ] && [ $(count "$T/storm-on" $KEY_ON 0) -eq $((dp_on + 1)) ] &&
	[ $(count "$T/storm-off" $KEY_OFF 1) -eq $((dp_off + 1)) ] && [ $(count "$T/storm-off" $KEY_OFF 0) -eq $((dp_off + 1)) ]"
for b in on off; do echo 20 >"/sys/devices/platform/rpibsp-button-$b/debounce_interval_ms"; done
item_end "bounce storm" "$writes"

rmmod rpibsp_button
rmmod rpibsp_led
tap_end
