#!/bin/sh
# Guest side of the reliability suite (tests/reliability/run.sh), on the debug kernel: load/unload
# cycles of the three drivers (half of them while both buttons bounce, files held open across
# rmmod), suspend/resume cycles with button changes while suspended, and the permissions of the
# files a normal user must not write. Counts come from the kernel command line (relcycles=,
# relsuspend=). Each item ends with a line "# SUMMARY|<item>|<cases>|<failed checks>|<seconds>".
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

# shellcheck source=guest-common.sh
. /rpibsp/guest-common.sh
CYCLES=$(arg relcycles)
SUSPENDS=$(arg relsuspend)
mem_avail() { awk '/^MemAvailable/ { print $2 }' /proc/meminfo; }

for l in 17 18; do pull "$l" pull-up; done
for m in rpibsp_button rpibsp_led rpibsp_devicemodel; do rmmod "$m" 2>/dev/null; done
check "the debug kernel runs (release *-debug, kmemleak present)" sh -c "
	uname -r | grep -q -- '-debug\$' && test -e /sys/kernel/debug/kmemleak"
check "no module was loaded at boot (nothing under /lib/modules/\$(uname -r))" sh -c "
	! test -d /lib/modules/$(uname -r) && ! grep -q rpibsp /proc/modules"
check "gpio-sim bank present" test -n "$SIM"
diag "counts: $CYCLES load/unload cycles per driver, $SUSPENDS suspend cycles"

# --- Load/unload ---------------------------------------------------------------------------------
# The three drivers cycle at the same time, each in its own loop: the first half of the cycles
# plainly, the second half while both buttons bounce (a storm in the background, which also fires
# the LED trigger whenever both modules are in), with files held open across every 10th rmmod.
storm_bg() { # storm_bg: both buttons bouncing (50 edges/s each: the debug kernel is slow) until stop_storm
	$R storm "$SIM/sim_gpio17/pull" 20000 3600 20 >/dev/null 2>&1 &
	S1=$!
	$R storm "$SIM/sim_gpio18/pull" 20000 3600 20 >/dev/null 2>&1 &
	S2=$!
}
stop_storm() {
	stop "$S1"
	stop "$S2"
	pull 17 pull-up
	pull 18 pull-up
}
# held_revoked FD: a file held open across the unload reads ENODEV afterwards (kernfs revoked it).
held_revoked() { ! cat <&"$1" >/dev/null 2>&1; }
held_cycle() { [ $(($1 % 10)) -eq 0 ] && [ "$1" -gt $((CYCLES / 2)) ]; }
# cycles FIRST LAST DRIVER MODULE: insmod/rmmod cycles FIRST..LAST of DRIVER (button, led or dm)
# with its functions: DRIVER_load (insmod, check it bound), DRIVER_unload CYCLE (rmmod) and DRIVER_held
# (rmmod with files held open, which must be revoked). Prints "<ok> <held> <held ok> <busy>".
cycles() {
	_ok=0 _held=0 _hok=0 _busy=0 _i=$1
	while [ "$_i" -le "$2" ]; do
		if ! "$3_load"; then
			rmmod "$4" 2>/dev/null
		elif held_cycle "$_i"; then
			_held=$((_held + 1))
			"$3_held" "$_i" && _hok=$((_hok + 1)) && _ok=$((_ok + 1))
		else
			"$3_unload" "$_i" && _ok=$((_ok + 1))
		fi
		_i=$((_i + 1))
	done
	echo "$_ok $_held $_hok $_busy"
}
button_load() { insmod /rpibsp/rpibsp_button.ko && test -e "$BTN/rpibsp-button-on" && test -e "$BTN/rpibsp-button-off"; }
button_unload() { rmmod rpibsp_button; }
button_held() { # button_held CYCLE: the event device open in a reader and a sysfs file open
	_f=$T/watch-$1 # a file per cycle: an old one's "open" line must not count
	$E watch "$(evdev on)" 60 >"$_f" 2>&1 &
	_w=$!
	exec 3<"/sys/devices/platform/rpibsp-button-on/press_count"
	_r=1
	# Starting a reader takes seconds on the debug kernel with the other loops running.
	if ! wait_for 30 grep -q '^open' "$_f" 2>/dev/null; then
		echo "cycle $1: the reader did not open the event device in 30 s: $(head -c 200 "$_f")"
	elif ! rmmod rpibsp_button; then
		echo "cycle $1: rmmod failed"
	elif ! held_revoked 3; then
		echo "cycle $1: the held sysfs file still reads"
	elif ! wait_for 30 grep -q '^gone' "$_f"; then
		echo "cycle $1: the reader did not see the event device go: $(tail -c 200 "$_f")"
	else
		_r=0
	fi >>"$T/held-failures"
	exec 3<&-
	stop "$_w"
	return "$_r"
}
led_load() { insmod /rpibsp/rpibsp_led.ko && test -e "$LED/brightness"; }
led_unload() { rmmod rpibsp_led; }
led_held() {
	exec 3<"$LED/brightness"
	rmmod rpibsp_led && held_revoked 3
	_r=$?
	exec 3<&-
	return "$_r"
}
# The devicemodel: in the second half the device is open during each cycle, and rmmod must refuse
# while it is (the open file holds the module; counted in _busy), then succeed once it is closed.
dm_load() { insmod /rpibsp/rpibsp_devicemodel.ko && test -c "$NODE"; }
dm_open() { # dm_open CYCLE: in the second half, the device open on fd 3 and rmmod refused
	[ "$1" -gt $((CYCLES / 2)) ] || return 0
	exec 3<>"$NODE"
	echo "cycle $1" >&3
	! rmmod rpibsp_devicemodel 2>/dev/null && _busy=$((_busy + 1))
}
dm_unload() {
	dm_open "$1"
	exec 3>&-
	rmmod rpibsp_devicemodel
}
dm_held() {
	dm_open "$1"
	exec 4<"$DMDEV/value"
	exec 3>&-
	rmmod rpibsp_devicemodel && held_revoked 4
	_r=$?
	exec 4<&-
	return "$_r"
}
run_cycles() { # run_cycles FIRST LAST PHASE: the three loops at once; results in $T/lu-*-PHASE
	cycles "$1" "$2" button rpibsp_button >"$T/lu-button-$3" &
	_b=$!
	cycles "$1" "$2" led rpibsp_led >"$T/lu-led-$3" &
	_l=$!
	cycles "$1" "$2" dm rpibsp_devicemodel >"$T/lu-dm-$3"
	wait "$_b" "$_l"
}
nothing_left() {
	! grep -q rpibsp /proc/modules && ! grep -q rpibsp-button /proc/interrupts &&
		! test -e "$LED" && ! test -e "$NODE" &&
		[ "$(find /sys/class/misc/ -maxdepth 1 -name '*rpibsp*' | wc -l)" -eq 0 ] &&
		! awk '/^gpiochip/ { s = /rpibsp-sim/ } s && /^ *gpio-1[78] / && !/<unused>/ { f = 1 } END { exit !f }' /sys/kernel/debug/gpio
}
# sum FILE...: column-wise sums of the loops' result lines
sum() { cat "$@" | awk '{ for (i = 1; i <= NF; i++) s[i] += $i } END { print s[1] + 0, s[2] + 0, s[3] + 0, s[4] + 0 }'; }

item_begin
mem0=$(mem_avail)
t0=$(uptime_s)
run_cycles 1 $((CYCLES / 2)) plain
t1=$(uptime_s)
storm_bg
run_cycles $((CYCLES / 2 + 1)) "$CYCLES" storm
stop_storm
t2=$(uptime_s)
diag "load/unload: cycles 1-$((CYCLES / 2)) in $(awk "BEGIN { print $t1 - $t0 }") s, the rest under the storm in $(awk "BEGIN { print $t2 - $t1 }") s (three drivers at once)"
second=$((CYCLES - CYCLES / 2))
for d in button led dm; do
	# shellcheck disable=SC2046
	set -- $(sum "$T/lu-$d-plain" "$T/lu-$d-storm")
	diag "$d: $1 of $CYCLES cycles ok, $3 of $2 with files held open across rmmod"
	check "$d: $CYCLES insmod/rmmod cycles, half of them under a bounce storm" test "$1" -eq "$CYCLES"
	check "$d: files held open across rmmod are revoked ($3 of $2)" test "$3" -eq "$2" -a "$2" -gt 0
	[ "$d" = dm ] && check "dm: rmmod refused while the device is open ($4 of $second)" test "$4" -eq "$second"
done
[ ! -s "$T/held-failures" ] || sed 's/^/# held files: /' "$T/held-failures"
check "nothing left after the cycles: modules, IRQs, GPIO lines 17/18, LED, misc device" nothing_left
mem1=$(mem_avail)
diag "MemAvailable before/after the load/unload cycles: $mem0 / $mem1 kB"
item_end "load/unload" $((3 * CYCLES))

# --- Suspend/resume --------------------------------------------------------------------------------
# Freeze cycles with pm_test=devices (1 s in the suspended state); in each, the test helper flips
# button "on" while the devices are suspended: pressed in odd cycles, released in even ones. After
# each resume the key state must match the line; at the end every press counted once and the
# devicemodel counted every suspend and resume.
item_begin
check "insmod the three drivers and the suspend helper" sh -c "
	insmod /rpibsp/rpibsp_led.ko && insmod /rpibsp/rpibsp_button.ko &&
	insmod /rpibsp/rpibsp_devicemodel.ko && insmod /rpibsp/rpibsp_simflip.ko"
P=/sys/module/rpibsp_simflip/parameters
echo devices >/sys/power/pm_test
echo 1 >/sys/module/suspend/parameters/pm_test_delay
s0=$(cat "$DMDEV/pm_counters/suspend") r0=$(cat "$DMDEV/pm_counters/resume") p0=$(attr on press_count)
$E watch "$(evdev on)" 600 >"$T/pm" &
W=$!
sleep 0.3
ok=0 flipped=0
i=1
while [ "$i" -le "$SUSPENDS" ]; do
	if [ $((i % 2)) -eq 1 ]; then want=down; else want=up; fi
	echo "$want" >"$P/pull"
	echo 300 >"$P/delay_ms"
	echo 17 >"$P/line"
	if echo freeze >/sys/power/state; then
		[ "$(cat "$P/written")" = 1 ] && flipped=$((flipped + 1))
		sleep 0.2
		if [ "$want" = down ]; then
			$E keys "$(evdev on)" | grep -qx $KEY_ON && ok=$((ok + 1))
		else
			! $E keys "$(evdev on)" | grep -q . && ok=$((ok + 1))
		fi
	fi
	i=$((i + 1))
done
sleep 0.3
stop "$W"
echo none >/sys/power/pm_test
presses=$((SUSPENDS / 2 + SUSPENDS % 2))
diag "suspend: $SUSPENDS freeze cycles, $flipped line changes while suspended, $ok key states right after resume"
check "suspend: $SUSPENDS freeze cycles (pm_test=devices) succeeded with the key state right after each" test "$ok" -eq "$SUSPENDS"
check "suspend: the line changed while suspended in every cycle" test "$flipped" -eq "$SUSPENDS"
check "suspend: every press while suspended counted once ($presses)" test "$(($(attr on press_count) - p0))" -eq "$presses"
check "suspend: evdev saw each press and release once" sh -c "
	[ $(count "$T/pm" $KEY_ON 1) -eq $presses ] && [ $(count "$T/pm" $KEY_ON 0) -eq $((SUSPENDS / 2)) ]"
check "suspend: the devicemodel counted every suspend and resume" test \
	"$(($(cat "$DMDEV/pm_counters/suspend") - s0)) $(($(cat "$DMDEV/pm_counters/resume") - r0))" = "$SUSPENDS $SUSPENDS"
rmmod rpibsp_simflip
pull 17 pull-up
item_end "suspend/resume" "$SUSPENDS"

# --- Permissions ---------------------------------------------------------------------------------
# A normal user (uid/gid 65534) must not open the char device, the buttons' event devices or any
# of the drivers' sysfs files for writing (reading the event devices would be a key logger).
item_begin
ev_nodes=$(for b in on off; do evdev "$b"; done)
find /sys/devices/platform/rpibsp-* /sys/devices/platform/gpio-simulator/*/sim_gpio1[78] "$LED/" \
	/sys/bus/platform/drivers/rpibsp-* /sys/module/rpibsp_*/parameters -type f 2>/dev/null | sort -u >"$T/sysfs"
nfiles=$(wc -l <"$T/sysfs")
diag "permissions: $nfiles sysfs files, $NODE, $(echo "$ev_nodes" | wc -w) event devices, as uid 65534"
# shellcheck disable=SC2046
check "no sysfs file of the drivers is writable by a normal user" $R noaccess 65534 w $(cat "$T/sysfs")
check "$NODE cannot be opened by a normal user (read or write)" sh -c "
	$R noaccess 65534 r $NODE && $R noaccess 65534 w $NODE"
# shellcheck disable=SC2086
check "the buttons' event devices cannot be read by a normal user" $R noaccess 65534 r $ev_nodes
# The check itself: a device node opened up to everybody must be caught.
mode=$(stat -c %a "$NODE")
chmod 666 "$NODE"
check "self-test: a world-writable $NODE is caught" sh -c "! $R noaccess 65534 w $NODE >/dev/null"
chmod "$mode" "$NODE"
item_end "permissions" $((nfiles + 3))

rmmod rpibsp_devicemodel
rmmod rpibsp_button
rmmod rpibsp_led
tap_end
