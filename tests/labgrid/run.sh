#!/usr/bin/env bash
# The labgrid integration (labgrid/) against the emulated board booted from the SD image:
#   0. the pinned labgrid venv (labgrid/requirements.txt with hashes, in the cache);
#      labgrid/rpibsp_tap.py's self-test; every environment file and template loads;
#   1. per machine (raspi3b, raspi4b): pytest --lg-env labgrid/env/qemu-MACHINE.yaml: labgrid's
#      QEMUDriver boots the card, ShellDriver logs in, RpiBspStrategy brings it up, and every
#      check of `rpibsp-verify --format tap` is a pytest case: each becomes a TAP line here;
#   2. a lab on loopback, as a lab user meets it: labgrid-coordinator, labgrid-exporter exporting
#      the emulated board (labgrid/lab/emulated-bench.py: QEMU's console behind an RFC 2217
#      server as a NetworkSerialPort, its power switch as a NetworkPowerPort), a place created,
#      matched and acquired with labgrid-client, pytest --lg-env labgrid/env/lab-place.yaml
#      through the RemotePlace, the place released; every process stopped, nothing listening
#      off loopback.
# Every process started here (pytest and its QEMU, bench and its QEMU, coordinator, exporter)
# is stopped at the end, on Ctrl-C and on SIGTERM; those still running get SIGTERM if this
# script is killed outright (setpriv --pdeathsig).
# Environment: RPIBSP_LABGRID_MACHINES (default "raspi3b raspi4b"; empty: none), RPIBSP_LABGRID_LAB_MACHINE
# (default raspi3b; "none" skips the lab part).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"

read -r -a machines <<<"${RPIBSP_LABGRID_MACHINES-raspi3b raspi4b}"
lab_machine=${RPIBSP_LABGRID_LAB_MACHINE:-raspi3b}
lg=$RPIBSP_ROOT/labgrid
here=$RPIBSP_ROOT/tests/labgrid
img=$RPIBSP_OUT/sdcard.img
kbuild=$(kernel_build_dir bsp)
kernel=$kbuild/arch/arm64/boot/Image
work=$RPIBSP_OUT/tests/labgrid
logs=$RPIBSP_OUT/logs/labgrid
rm -rf "$work" "$logs"
mkdir -p "$work/run" "$logs"
suite_start=$(date +%s)
export PYTHONDONTWRITEBYTECODE=1 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export LG_RPIBSP_OUT=$RPIBSP_OUT LG_RPIBSP_IMAGE=$img LG_RPIBSP_KERNEL=$kernel LG_RPIBSP_RUN=$work/run
export LG_RPIBSP_LABGRID=$lg

# --- processes started here -----------------------------------------------------------------
pids=()
# bg NAME LOG CMD...: CMD in the background, killed with SIGTERM if this script dies; its pid in $bg_pid.
bg() {
	local name=$1 log=$2
	shift 2
	setpriv --pdeathsig TERM -- "$@" </dev/null >"$log" 2>&1 &
	bg_pid=$!
	pids+=("$bg_pid")
	echo "# started $name: pid $bg_pid"
}
# forget_pid PID: no longer ours to stop (it has been reaped).
forget_pid() {
	local p keep=()
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}
# stop_pid PID: SIGTERM, up to 20 s, then SIGKILL; reaped.
stop_pid() {
	local p=$1 i
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
	kill -TERM "$p" 2>/dev/null || true
	for i in $(seq 200); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "# pid $p ignored SIGTERM for 20 s: SIGKILL"
		kill -KILL "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || true
}
# qemu_leftovers: QEMUs of this run still alive (from their -pidfile, cmdline naming that file).
qemu_leftovers() {
	local f p
	for f in "$work"/run/qemu-*.pid "$work"/lab/qemu.pid; do
		[ -f "$f" ] || continue
		p=$(tr -dc 0-9 <"$f")
		[ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$f" &&
			echo "$p"
	done
	return 0
}
cleanup() {
	local i p
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
	pids=()
	for p in $(qemu_leftovers); do
		echo "# QEMU $p outlived its parent: killed"
		kill -KILL "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_bg NAME CMD...: runs CMD in the background and waits (so a signal is handled at once);
# output in $work/NAME.out, exit status in $work/NAME.rc, wall time in $work/NAME.secs.
run_bg() {
	local name=$1 start rc=0
	shift
	start=$(date +%s)
	bg "$name" "$work/$name.out" "$@"
	wait "$bg_pid" || rc=$?
	forget_pid "$bg_pid"
	echo "$rc" >"$work/$name.rc"
	echo $(($(date +%s) - start)) >"$work/$name.secs"
	echo "# $name: exit $rc after $(cat "$work/$name.secs") s"
}

# --- 0. inputs, venv, what needs no board -----------------------------------------------------
missing=()
for f in "$img" "$kernel"; do [ -f "$f" ] || missing+=("$f"); done
for m in "${machines[@]}" $([ "$lab_machine" = none ] || echo "$lab_machine"); do
	[ -f "$RPIBSP_OUT/qemu/$m.dtb" ] || missing+=("$RPIBSP_OUT/qemu/$m.dtb")
done
if [ "${#missing[@]}" -gt 0 ]; then
	notok "inputs exist (missing: ${missing[*]}; run 'make image dts')"
	tap_end
	exit 1
fi
ok "inputs exist (image, kernel, QEMU device trees)"

vstart=$(date +%s)
if venv=$("$lg/venv.sh" 2>"$work/venv.log"); then
	py=$venv/bin/python
	ok "labgrid venv from the pinned requirements (--require-hashes): labgrid $("$py" -c 'import importlib.metadata as m; print(m.version("labgrid"))') in $(($(date +%s) - vstart)) s"
else
	notok "labgrid venv from the pinned requirements (--require-hashes)"
	sed 's/^/#   /' "$work/venv.log" | tail -n 20
	tap_end
	exit 1
fi
pins_match() { # every pinned version is the installed one
	"$py" - "$lg/requirements.txt" <<-'PY'
		import re, sys, importlib.metadata as m
		bad = []
		for line in open(sys.argv[1]):
		    g = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
		    if g and m.version(g[1]) != g[2]:
		        bad.append(f"{g[1]} {m.version(g[1])} != {g[2]}")
		for b in bad:
		    print(f"# not as pinned: {b}")
		sys.exit(1 if bad else 0)
	PY
}
t "the venv holds exactly the pinned versions" pins_match

if "$py" -m pytest -q -p no:cacheprovider --rootdir "$here" "$here/test_tap.py" >"$work/tap-selftest.out" 2>&1; then
	ok "labgrid/rpibsp_tap.py parses streamed TAP (diagnostics, SKIP, TODO, plan last, noise)"
else
	notok "labgrid/rpibsp_tap.py parses streamed TAP (diagnostics, SKIP, TODO, plan last, noise)"
	tail -n 20 "$work/tap-selftest.out" | sed 's/^/#   /'
fi

# Every environment file loads and its target binds its drivers (the templates with their FILL IN
# placeholders: the resources are created, not found; the RemotePlace ones need a coordinator and
# are loaded, not bound).
envs_load() {
	LG_PLACE=none "$py" - "$lg" <<-'PY'
		import glob, os, sys
		from labgrid import Environment
		from labgrid.config import Config
		lg = sys.argv[1]
		bad = 0
		for f in sorted(glob.glob(os.path.join(lg, "env", "*.yaml"))):
		    try:
		        env = Environment(config_file=f)
		        res = env.config.get_targets()["main"].get("resources", {})
		        if "RemotePlace" in res:
		            what = "loads (RemotePlace: bound at run time)"
		        else:
		            t = env.get_target("main")
		            s = t.get_driver("Strategy")
		            what = "binds: " + ", ".join(sorted(type(d).__name__ for d in t.drivers))
		        print(f"{os.path.basename(f)}: {what}")
		    except Exception as e:
		        bad += 1
		        print(f"{os.path.basename(f)}: {type(e).__name__}: {e}")
		sys.exit(1 if bad else 0)
	PY
}
if envs_load >"$work/envs.out" 2>&1; then
	ok "every labgrid/env file loads; local targets bind RpiBspStrategy and their drivers"
	sed 's/^/# /' "$work/envs.out"
else
	notok "every labgrid/env file loads; local targets bind RpiBspStrategy and their drivers"
	sed 's/^/#   /' "$work/envs.out" | tail -n 20
fi

# pytest_cases LABEL XML: each case of the JUnit XML as a TAP line "LABEL: name".
pytest_cases() {
	local label=$1 xml=$2 st name reason n=0
	if ! "$py" "$here/junit_cases.py" "$xml" >"$xml.cases" 2>"$xml.err"; then
		notok "$label: pytest wrote its JUnit XML ($(head -n1 "$xml.err"))"
		return 0
	fi
	while IFS=$'\t' read -r st name reason; do
		n=$((n + 1))
		case $st in
		pass) ok "$label: $name${reason:+ # $reason}" ;;
		skip) ok "$label: $name # SKIP $reason" ;;
		*) notok "$label: $name${reason:+ -- $reason}" ;;
		esac
	done <"$xml.cases"
	[ "$n" -gt 0 ] || notok "$label: pytest ran no case"
}
# pytest_run NAME LABEL ARGS...: the board tests of labgrid/ with ARGS (--lg-env ...).
pytest_run() {
	local name=$1 label=$2
	shift 2
	run_bg "$name" "$py" -m pytest -c "$lg/pytest.ini" --rootdir "$lg" -o junit_suite_name="$name" \
		--junitxml "$work/$name.xml" --lg-log "$logs/$name" -q "$@" "$lg/test_rpibsp.py"
	local rc
	rc=$(cat "$work/$name.rc")
	# pytest: 0 all passed, 1 some failed; anything else (2 interrupted, 3 internal, 4 usage) is broken.
	if [ "$rc" -le 1 ]; then
		ok "$label: pytest ran (exit $rc, $(cat "$work/$name.secs") s)"
	else
		notok "$label: pytest ran (exit $rc)"
		tail -n 30 "$work/$name.out" | sed 's/^/#   /'
	fi
	sed -n '/rpibsp board session/,/^=\{5,\}/p' "$work/$name.out" | grep -v '^=' | sed 's/^/# /' || true
	pytest_cases "$label" "$work/$name.xml"
}

# --- 1. the emulated board through QEMUDriver ---------------------------------------------------
for m in "${machines[@]}"; do
	pytest_run "qemu-$m" "labgrid qemu $m" --lg-env "$lg/env/qemu-$m.yaml"
	left=$(qemu_leftovers)
	t "labgrid qemu $m: no QEMU left after pytest${left:+ (left: $left)}" test -z "$left"
done

# --- 2. a lab on loopback: coordinator, exporter, place ------------------------------------------
if [ "$lab_machine" != none ]; then
	lab_start=$(date +%s)
	label="labgrid lab $lab_machine"
	lab=$work/lab
	mkdir -p "$lab/coordinator"
	qemu_args=(-M "$lab_machine" -kernel "$kernel" -dtb "$RPIBSP_OUT/qemu/$lab_machine.dtb"
		-append "console=ttyAMA0,115200 root=/dev/mmcblk0p2 rootwait rw"
		-display none -monitor none -no-reboot)
	# shellcheck disable=SC2054 # QEMU's own comma-separated options
	case $lab_machine in
	raspi4b) qemu_args+=(-drive "file=$img,if=none,id=sdcard,format=raw,snapshot=on"
		-device sd-card,drive=sdcard,bus=/generic-sdhci/sd-bus) ;;
	*) qemu_args+=(-drive "file=$img,if=sd,format=raw,snapshot=on") ;;
	esac
	bg bench "$logs/lab-bench.log" "$py" "$lg/lab/emulated-bench.py" --state-dir "$lab" -- \
		qemu-system-aarch64 "${qemu_args[@]}"
	bench_pid=$bg_pid
	for _ in $(seq 200); do
		[ -f "$lab/bench.env" ] || ! kill -0 "$bench_pid" 2>/dev/null && break
		sleep 0.1
	done
	# shellcheck source=/dev/null
	[ -f "$lab/bench.env" ] && . "$lab/bench.env"
	t "$label: emulated bench up (console rfc2217://127.0.0.1:${RPIBSP_LAB_CONSOLE_PORT:-?}, power http://127.0.0.1:${RPIBSP_LAB_POWER_PORT:-?})" \
		test -f "$lab/bench.env"

	# The coordinator on a free loopback port (another one if it was taken meanwhile).
	coord=""
	for _ in 1 2 3; do
		port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		# (its state, places.yaml and resources.yaml, in its working directory)
		bg coordinator "$logs/lab-coordinator.log" env -C "$lab/coordinator" \
			"$venv/bin/labgrid-coordinator" --listen "127.0.0.1:$port"
		cpid=$bg_pid
		for _ in $(seq 300); do
			if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || ! kill -0 "$cpid" 2>/dev/null; then break; fi
			sleep 0.1
		done
		if kill -0 "$cpid" 2>/dev/null; then
			coord=127.0.0.1:$port
			break
		fi
		stop_pid "$cpid"
		forget_pid "$cpid"
	done
	t "$label: labgrid-coordinator listening on ${coord:-nothing}" test -n "$coord"
	lgc() { "$venv/bin/labgrid-client" -x "$coord" "$@"; }
	# lgq ARGS...: labgrid-client quietly (its output in $lab/client.log).
	lgq() { echo "\$ labgrid-client $*" >>"$lab/client.log"; lgc "$@" >>"$lab/client.log" 2>&1; }

	group=$lab_machine place=rpibsp-$lab_machine exporter=rpibsp-lab
	export RPIBSP_LAB_GROUP=$group RPIBSP_LAB_CONSOLE_PORT=${RPIBSP_LAB_CONSOLE_PORT:-0} \
		RPIBSP_LAB_POWER_PORT=${RPIBSP_LAB_POWER_PORT:-0}
	bg exporter "$logs/lab-exporter.log" "$venv/bin/labgrid-exporter" -c "${coord:-127.0.0.1:1}" \
		--name "$exporter" --hostname 127.0.0.1 "$lg/lab/exporter-emulated.yaml"
	exporter_pid=$bg_pid
	for _ in $(seq 60); do
		lgc resources >"$lab/resources.out" 2>&1 || true
		grep -q "$exporter/$group/NetworkSerialPort" "$lab/resources.out" && break
		kill -0 "$exporter_pid" 2>/dev/null || break
		sleep 0.5
	done
	lgc -v resources >"$lab/resources-v.out" 2>&1 || true
	exported() {
		grep -q "$exporter/$group/NetworkSerialPort" "$lab/resources.out" &&
			grep -q "$exporter/$group/NetworkPowerPort" "$lab/resources.out" &&
			grep -q "rfc2217" "$lab/resources-v.out" && grep -q "$RPIBSP_LAB_CONSOLE_PORT" "$lab/resources-v.out"
	}
	t "$label: labgrid-exporter exports the console as an RFC 2217 NetworkSerialPort and the power switch" exported
	sed 's/^/# /' "$lab/resources.out"

	t "$label: labgrid-client create place $place" lgq -p "$place" create
	t "$label: labgrid-client add-match $exporter/$group/*" lgq -p "$place" add-match "$exporter/$group/*"
	t "$label: labgrid-client acquire $place" lgq -p "$place" acquire
	lgc -p "$place" show >"$lab/show.out" 2>&1 || true
	t "$label: the place is acquired by this user ($(sed -n 's/^ *acquired: *//p' "$lab/show.out" | head -n1))" \
		grep -qE "acquired: .*/$(id -un)\$" "$lab/show.out"

	export LG_PLACE=$place
	pytest_run lab "$label" --lg-env "$lg/env/lab-place.yaml" --lg-coordinator "$coord"

	lgc -p "$place" power get >"$lab/power.out" 2>&1 || true
	t "$label: the strategy switched the board off at the end ($(tr -s '\n' ' ' <"$lab/power.out" | sed 's/ *$//'))" \
		grep -q "off" "$lab/power.out"
	t "$label: labgrid-client release $place" lgq -p "$place" release
	lgc -p "$place" show >"$lab/show2.out" 2>&1 || true
	t "$label: the place is free again" grep -qE "acquired: *None" "$lab/show2.out"

	# Nothing of the lab listens anywhere but on loopback (the coordinator, the bench; the
	# exporter and QEMU only connect).
	lab_pids="$bench_pid ${cpid:-} $exporter_pid $(qemu_leftovers)"
	listening() {
		"$py" - "$@" <<-'PY'
			import os, sys
			inodes = {}
			for pid in sys.argv[1:]:
			    try:
			        for fd in os.listdir(f"/proc/{pid}/fd"):
			            link = os.readlink(f"/proc/{pid}/fd/{fd}")
			            if link.startswith("socket:["):
			                inodes[link[8:-1]] = pid
			    except OSError:
			        pass
			for table in ("tcp", "tcp6"):
			    for line in open(f"/proc/net/{table}").readlines()[1:]:
			        f = line.split()
			        if f[3] == "0A" and f[9] in inodes:  # LISTEN
			            addr, port = f[1].split(":")
			            print(inodes[f[9]], table, addr, int(port, 16))
		PY
	}
	# shellcheck disable=SC2086
	listening $lab_pids >"$lab/listening.out" 2>&1 || true
	sed 's/^/# listening: /' "$lab/listening.out"
	# 0100007F: 127.0.0.1 (tcp); ::ffff:127.0.0.1 and ::1 (tcp6)
	only_loopback() { [ -s "$lab/listening.out" ] && ! grep -vE ' tcp 0100007F | tcp6 (0000000000000000FFFF00000100007F|00000000000000000000000001000000) ' "$lab/listening.out" | grep -q .; }
	t "$label: every listening socket of the lab is on 127.0.0.1" only_loopback

	cleanup
	alive() { # PIDS...: those still running
		local p
		for p in "$@"; do
			if [ -d "/proc/$p" ] && [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ]; then echo "$p"; fi
		done
	}
	# shellcheck disable=SC2086
	still=$(alive $lab_pids)
	t "$label: coordinator, exporter, bench and QEMU stopped${still:+ (still running: $still)}" test -z "$still"
	echo "# lab part: $(($(date +%s) - lab_start)) s"
fi

echo "# runs: $(for f in "$work"/*.secs; do printf '%s %ss; ' "$(basename "$f" .secs)" "$(cat "$f")"; done)"
echo "# labgrid suite wall time: $(($(date +%s) - suite_start)) s"
tap_end
