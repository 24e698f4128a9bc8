#!/usr/bin/env bash
# The HIL harness (userland/rpibsp-hil, host build in $RPIBSP_OUT/bin) against the real emulated
# board booted from the SD image, not a fake:
#   - --qemu MACHINE --sd: boot, console login, `dmesg -n 1`, rpibsp-verify --format tap (it
#     presses the buttons through gpio-sim) and extra --cmd commands; exit 0, and every test
#     case of the JUnit XML (each on-board check) becomes one TAP line here; raw log kept;
#   - failures are reported: a command exiting non-zero, kernel messages written in the middle of
#     a command's output lines, a hung command (per-command timeout), all in one boot, and boots
#     that never reach a login prompt (kernel panic: bad root=; silent board: no kernel) giving
#     exit status 3 after the configured retries, within the overall deadline;
#   - --tcp against QEMU started here with its console on a TCP server socket (as ser2net or a
#     console server would offer it), then a second run attaching to the board that the first
#     run left logged in.
# Environment: RPIBSP_HIL_MACHINES (default "raspi3b raspi4b"): the full run on each machine, the
# other cases on the first one; RPIBSP_HIL_BIN: another rpibsp-hil (default $RPIBSP_OUT/bin).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"

# A new machine needs out/qemu/<machine>.dtb and rpibsp-hil's --qemu support (its card slot:
# userland/rpibsp-hil/src/qemu.rs); qemu_args below must match that for the --tcp case.
read -r -a machines <<<"${RPIBSP_HIL_MACHINES:-raspi3b raspi4b}"
hil=${RPIBSP_HIL_BIN:-$RPIBSP_OUT/bin/rpibsp-hil}
img=$RPIBSP_OUT/sdcard.img
kbuild=$(kernel_build_dir bsp)
kernel=$kbuild/arch/arm64/boot/Image
junit=$RPIBSP_ROOT/tests/hil/junit.py
work=$RPIBSP_OUT/tests/hil
logs=$RPIBSP_OUT/logs/hil
rm -rf "$work" "$logs"
mkdir -p "$work" "$logs"

# shellcheck source=../lib/qemu-tcp.sh
. "$RPIBSP_ROOT/tests/lib/qemu-tcp.sh"
trap stop_qemu EXIT
trap 'exit 130' INT TERM

missing=()
for f in "$hil" "$img" "$kernel" "$kbuild/include/config/kernel.release"; do
	[ -f "$f" ] || missing+=("$f")
done
for m in "${machines[@]}"; do
	[ -f "$RPIBSP_OUT/qemu/$m.dtb" ] || missing+=("$RPIBSP_OUT/qemu/$m.dtb")
done
if [ "${#missing[@]}" -gt 0 ]; then
	notok "inputs exist (missing: ${missing[*]}; run 'make image dts userland')"
	tap_end
	exit 1
fi
krel=$(cat "$kbuild/include/config/kernel.release")

# run_hil NAME ARGS...: runs rpibsp-hil; stdout+stderr in $work/NAME.out, exit status in $work/NAME.rc,
# wall time in seconds in $work/NAME.secs.
run_hil() {
	local name=$1 rc=0 start
	shift
	start=$(date +%s)
	"$hil" "$@" >"$work/$name.out" 2>&1 || rc=$?
	echo "$rc" >"$work/$name.rc"
	echo $(($(date +%s) - start)) >"$work/$name.secs"
	echo "# rpibsp-hil $name: exit $rc after $(cat "$work/$name.secs") s"
}
# expect_rc NAME RC WHAT: the run's exit status, with its summary on failure.
expect_rc() {
	local got
	got=$(cat "$work/$1.rc")
	if [ "$got" = "$2" ]; then
		ok "$3 (exit $2)"
	else
		notok "$3 (exit $got, expected $2)"
		tail -n 30 "$work/$1.out" | sed 's/^/#   /'
	fi
}
# case_text XML CLASS NAME FILE: "status time" and the case's text into FILE (empty if none).
case_text() {
	"$junit" case "$1" "$2" "$3" >"$4" 2>/dev/null || : >"$4"
}
# first_output FILE: the first line of the "output:" section of a case text from case_text.
first_output() { sed -n '/^output:$/{n;p;q}' "$1"; }
# status_is FILE pass|fail: the case's status in a case_text file.
status_is() { [ "$(head -n1 "$1" | cut -d' ' -f1)" = "$2" ]; }
# has_prop XML NAME: the suite has the property.
has_prop() { "$junit" prop "$1" "$2" >/dev/null 2>&1; }
qemu_args() { # MACHINE: the board from the card, as rpibsp-hil's --qemu --sd starts it
	printf '%s\n' -M "$1" -kernel "$kernel" -dtb "$RPIBSP_OUT/qemu/$1.dtb" \
		-append "console=ttyAMA0,115200 root=/dev/mmcblk0p2 rootwait rw" \
		-display none -monitor none -no-reboot
	case $1 in
	raspi4b) # the card on the emmc2 controller's bus (see tests/qemu/boot.sh)
		printf '%s\n' -drive "file=$img,if=none,id=sdcard,format=raw,snapshot=on" \
			-device sd-card,drive=sdcard,bus=/generic-sdhci/sd-bus
		;;
	*) printf '%s\n' -drive "file=$img,if=sd,format=raw,snapshot=on" ;;
	esac
}

# --- 1. The full run on each machine: verify + extra commands, every case a TAP line here.
for m in "${machines[@]}"; do
	xml=$work/$m.xml
	run_hil "$m" --qemu "$m" --sd "$img" --kernel "$kernel" --dtb "$RPIBSP_OUT/qemu/$m.dtb" \
		--log-dir "$logs/$m" --junit "$xml" --boot-timeout 180 --deadline 420 \
		--cmd 'uname -r' --cmd 'grep -c "^rpibsp_" /proc/modules'
	expect_rc "$m" 0 "$m: rpibsp-hil --qemu --sd: boot, login, verify and commands pass"
	if ! "$junit" cases "$xml" >"$work/$m.cases" 2>"$work/$m.junit-err"; then
		notok "$m: JUnit XML parses ($(head -n1 "$work/$m.junit-err"))"
		continue
	fi
	ok "$m: JUnit XML parses ($(wc -l <"$work/$m.cases") test cases)"
	while IFS=$'\t' read -r st class name reason; do
		case $st in
		pass) ok "$m: [$class] $name" ;;
		skip) ok "$m: [$class] $name # SKIP $reason" ;;
		*) notok "$m: [$class] $name${reason:+ -- $reason}" ;;
		esac
	done <"$work/$m.cases"
	# The checks rpibsp-verify planned all arrived as cases, the buttons among them.
	log=$("$junit" prop "$xml" attempt1.log 2>/dev/null || true)
	plan=""
	if [ -n "$log" ] && [ -s "$log" ]; then
		plan=$(tr -d '\r' <"$log" | sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' | head -n1)
	fi
	nverify=$(grep -c $'^[a-z]*\tverify\.' "$work/$m.cases" || true)
	t "$m: every check of rpibsp-verify's plan ($plan) is a test case ($nverify)" \
		test -n "$plan" -a "$nverify" = "$plan"
	t "$m: the button checks ran (pressed through gpio-sim)" \
		grep -q $'^pass\tverify\.buttons\t.*LED' "$work/$m.cases"
	raw_log_kept() {
		[ -s "$1" ] && grep -aq "Booting Linux" "$1" && grep -aq "login:" "$1" &&
			grep -aq "^ok 1 - overlay:" "$1"
	}
	t "$m: the raw console log is kept (boot, login prompt, verify TAP)" raw_log_kept "$log"
	case_text "$xml" command 'uname -r' "$work/$m.uname"
	t "$m: command output comes back (uname -r = $krel)" \
		test "$(first_output "$work/$m.uname")" = "$krel"
	case_text "$xml" command 'grep -c "^rpibsp_" /proc/modules' "$work/$m.modules"
	t "$m: the three BSP modules are loaded (from the command's output)" \
		test "$(first_output "$work/$m.modules")" = 3
	if [ -n "$log" ] && grep -aqE 'Kernel panic|Internal error: Oops|BUG:|WARNING:|Call trace:' "$log"; then
		notok "$m: no kernel oops/BUG/WARNING in the console log"
		grep -anE 'Kernel panic|Internal error: Oops|BUG:|WARNING:|Call trace:' "$log" | head -n 10 | sed 's/^/#   /'
	else
		t "$m: no kernel oops/BUG/WARNING in the console log" test -n "$log"
	fi
	if [ "$m" = raspi4b ]; then
		host=$(tr -d '\r' <"$log" | sed -n 's/.* \(mmc[0-9]*\): SDHCI controller on fe340000\.mmc.*/\1/p' | head -n1)
		t "$m: the card is on the emmc2 controller fe340000.mmc (${host:-not found}), as on the real 4B" \
			grep -aq "mmcblk0: ${host:-none}:" "$log"
	fi
done
m=${machines[0]}
dtb=$RPIBSP_OUT/qemu/$m.dtb

# --- 2a. Failing commands in one boot: a non-zero exit, kernel messages in mid-line, a hang,
# and a command after them that must still run.
fail_cmd="sh -c 'echo partial-output; exit 7'"
# Each line is started, then a kernel message is printed (console loglevel raised), then the
# line is finished: the kernel line lands in the middle of the command's output line.
# shellcheck disable=SC2016 # expanded on the board
noise_cmd='dmesg -n 8; i=0; while [ $i -lt 20 ]; do printf "line $i begins, "; usleep 20000; echo "rpibsp-hil-noise $i" >/dev/kmsg; echo "ends $i"; i=$((i+1)); done; dmesg -n 1; (exit 5)'
hang_cmd='sleep 1000'
after_cmd='echo still-alive'
xml=$work/negative.xml
run_hil negative --qemu "$m" --sd "$img" --kernel "$kernel" --dtb "$dtb" --no-verify \
	--log-dir "$logs/negative" --junit "$xml" --boot-timeout 180 --cmd-timeout 8 --deadline 300 \
	--cmd "$fail_cmd" --cmd "$noise_cmd" --cmd "$hang_cmd" --cmd "$after_cmd"
expect_rc negative 1 "$m: failing commands make rpibsp-hil exit 1"
t "$m: JUnit counts 3 failures of 6 cases (boot, login, 4 commands)" \
	test "$("$junit" attr "$xml" failures 2>&1)/$("$junit" attr "$xml" tests 2>&1)" = 3/6
case_text "$xml" command "$fail_cmd" "$work/fail.txt"
exit7_reported() { status_is "$1" fail && grep -qx "exit status 7" "$1" && grep -qx "partial-output" "$1"; }
t "$m: a command exiting 7 fails with 'exit status 7' and its output" exit7_reported "$work/fail.txt"
"$junit" section "$xml" command "$noise_cmd" output >"$work/noise.out" 2>&1 || true
"$junit" section "$xml" command "$noise_cmd" 'kernel messages meanwhile' >"$work/noise.kernel" 2>&1 || true
for i in $(seq 0 19); do echo "line $i begins, ends $i"; done >"$work/noise.expected"
case_text "$xml" command "$noise_cmd" "$work/noise.txt"
t "$m: exit status 5 recovered through kernel messages" grep -qx "exit status 5" "$work/noise.txt"
if cmp -s "$work/noise.out" "$work/noise.expected"; then
	ok "$m: output with kernel lines interleaved is exactly the 20 command lines, rejoined"
else
	notok "$m: output with kernel lines interleaved is exactly the 20 command lines, rejoined"
	diff "$work/noise.expected" "$work/noise.out" | head -n 10 | sed 's/^/#   /'
fi
t "$m: all 20 kernel lines were split off into 'kernel messages meanwhile'" \
	test "$(grep -cE '^\[ *[0-9]+\.[0-9]+\] rpibsp-hil-noise [0-9]+$' "$work/noise.kernel")" = 20
neglog=$("$junit" prop "$xml" attempt1.log 2>/dev/null || true)
midline=$(tr -d '\r' <"${neglog:-/dev/null}" | grep -cE '^line [0-9]+ begins, \[ *[0-9.]+\] rpibsp-hil-noise' || true)
echo "# $midline of 20 kernel lines arrived in the middle of an output line on the console"
case_text "$xml" command "$hang_cmd" "$work/hang.txt"
timeout_reported() {
	status_is "$1" fail && grep -q "no end marker within 8 s" "$1" &&
		awk 'NR == 1 { exit !($2 >= 8 && $2 < 20) }' "$1"
}
t "$m: the hung command is reported as a timeout after --cmd-timeout 8" timeout_reported "$work/hang.txt"
case_text "$xml" command "$after_cmd" "$work/after.txt"
still_ran() { status_is "$1" pass && grep -qx "still-alive" "$1"; }
t "$m: the command after the failures and the hang still ran and passed" still_ran "$work/after.txt"

# --- 2b. Boots that never reach a login prompt: exit 3 after the retries, within the deadline.
xml=$work/panic.xml
run_hil panic --qemu "$m" --sd "$img" --kernel "$kernel" --dtb "$dtb" \
	--append "console=ttyAMA0,115200 root=/dev/mmcblk0p7" --log-dir "$logs/panic" --junit "$xml" \
	--boot-timeout 120 --boot-retries 1 --deadline 240
expect_rc panic 3 "$m: bad root= (kernel panic): boot failure"
panic_reported() { # XML N
	"$junit" prop "$1" "attempt$2" 2>/dev/null |
		grep -q "kernel panic during boot: Kernel panic - not syncing: VFS: Unable to mount root fs"
}
panic_logged() { # XML N
	local f
	f=$("$junit" prop "$1" "attempt$2.log" 2>/dev/null) && grep -aq "Kernel panic - not syncing" "$f"
}
for a in 1 2; do
	t "$m: bad root=: attempt $a reported the kernel's panic line" panic_reported "$xml" "$a"
	t "$m: bad root=: attempt $a's raw console log is kept, with the panic" panic_logged "$xml" "$a"
done
no_attempt3() { ! has_prop "$1" attempt3; }
t "$m: bad root=: no third attempt (--boot-retries 1)" no_attempt3 "$xml"

xml=$work/silent.xml
truncate -s 4M "$work/Image.zeros" # no kernel at all: the board stays silent
run_hil silent --qemu "$m" --sd "$img" --kernel "$work/Image.zeros" --dtb "$dtb" \
	--log-dir "$logs/silent" --junit "$xml" --boot-timeout 5 --boot-retries 5 --deadline 12 --poke-after 2
expect_rc silent 3 "$m: silent board: boot failure"
secs=$(cat "$work/silent.secs")
stopped_at_deadline() { has_prop "$1" attempt2 && ! has_prop "$1" attempt4 && [ "$2" -le 16 ]; }
t "$m: silent board: retries stop at the 12 s deadline (2-3 of 6 attempts, $secs s)" stopped_at_deadline "$xml" "$secs"
case_text "$xml" boot 'boot and get a shell' "$work/silent.txt"
silent_reported() { grep -q "nothing at all received" "$1" && grep -q "overall deadline reached" "$1"; }
t "$m: silent board: the failure says nothing was received and the deadline was reached" silent_reported "$work/silent.txt"

# --- 2c. rpibsp-hil killed from outside (a CI timeout's SIGTERM): its QEMU must not outlive it.
kwd=$work/killed
"$hil" --qemu "$m" --sd "$img" --kernel "$kernel" --dtb "$dtb" --workdir "$kwd" -q >"$work/killed.out" 2>&1 &
hpid=$!
qemu_of_hil() { pgrep -f -- "path=$kwd/console.sock" || true; }
for _ in $(seq 100); do
	[ -z "$(qemu_of_hil)" ] || break
	sleep 0.1
done
started=$(qemu_of_hil)
kill -TERM "$hpid" 2>/dev/null || true
wait "$hpid" 2>/dev/null || true
for _ in $(seq 50); do
	[ -n "$(qemu_of_hil)" ] || break
	sleep 0.1
done
left=$(qemu_of_hil)
if [ -z "$started" ]; then
	notok "$m: rpibsp-hil killed with SIGTERM takes its QEMU along (QEMU never started: $(tail -n1 "$work/killed.out"))"
elif [ -n "$left" ]; then
	notok "$m: rpibsp-hil killed with SIGTERM takes its QEMU along (QEMU $left still runs)"
	for p in $left; do kill "$p" 2>/dev/null || true; done
else
	ok "$m: rpibsp-hil killed with SIGTERM takes its QEMU along"
fi

# --- 3. The TCP console: QEMU started here with its UART on a TCP server socket.
mapfile -t qargs < <(qemu_args "$m")
qemu_tcp_start "$work/tcp-qemu.out" "${qargs[@]}" -serial "tcp:127.0.0.1:@PORT@,server=on,wait=off" || true
if [ -z "$qpid" ]; then
	notok "$m: QEMU with -serial tcp:127.0.0.1:PORT,server=on starts ($(tail -n1 "$work/tcp-qemu.out"))"
else
	run_hil tcp --tcp "127.0.0.1:$port" --log-dir "$logs/tcp" --junit "$work/tcp.xml" --boot-timeout 180 \
		--poke-after 5 --deadline 300 --verify-cmd 'rpibsp-verify --format tap --only overlay,drivers' \
		--cmd 'uname -r'
	echo "# QEMU's console on 127.0.0.1:$port"
	expect_rc tcp 0 "$m: rpibsp-hil --tcp 127.0.0.1:PORT: boot, login, verify (overlay, drivers), command"
	ndrivers=$("$junit" cases "$work/tcp.xml" 2>/dev/null | grep -c $'^pass\tverify\.drivers\t' || true)
	t "$m: --tcp: the on-board checks came back as test cases ($ndrivers drivers checks passed)" \
		test "$ndrivers" -ge 3
	# Attaching again: the console still has the first run's shell logged in.
	run_hil tcp-again --tcp "127.0.0.1:$port" --log-dir "$logs/tcp-again" --junit "$work/tcp-again.xml" \
		--boot-timeout 60 --poke-after 2 --deadline 120 --no-verify --cmd 'test -c /dev/rpibsp-devicemodel'
	expect_rc tcp-again 0 "$m: --tcp again on the board left logged in: logs out, logs in, runs"
	t "$m: --tcp again: the left-over shell is reported" \
		grep -q 'already logged in on the console' "$work/tcp-again.out"
	t "$m: QEMU is still running after both runs (the harness does not own it)" kill -0 "$qpid"
	stop_qemu
fi

echo "# runs: $(for f in "$work"/*.secs; do printf '%s %ss; ' "$(basename "$f" .secs)" "$(cat "$f")"; done)"
tap_end
