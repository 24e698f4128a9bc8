#!/usr/bin/env bash
# The development loop on a running board (issue 17, items 4 and 6): `make run` boots the emulated
# 3B from its own card, `make deploy` (scripts/deploy.sh) rebuilds what changed, puts the modules
# and rpibsp-verify on the board (over its network, the emulated 3B's usb-net; then with --net off
# over the serial console alone, as on a board with only a USB serial cable), reloads the drivers
# and runs the on-board verification.  An edited driver must be the module running afterwards
# (GNU build IDs compared on the board), and the edit-to-verified time is measured (target: 15 s
# warm).  Also: rpibsp-verify --mode interactive through rpibsp-hil with a scripted person, and
# the board's DHCP lease, route and a fetch from the laptop over its USB network adapter.
#
# The edit is made in a copy of the drivers (RPIBSP_MODULES_SRC), built and staged in a scratch
# output directory: the repository and out/ are never changed.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"

main_out=$RPIBSP_OUT
work=$RPIBSP_OUT/tests/deploy
rm -rf "$work" && mkdir -p "$work"
for f in sdcard.img qemu/raspi3b.dtb bin/rpibsp-hil rootfs-extra/usr/bin/rpibsp-verify; do
	[ -e "$RPIBSP_OUT/$f" ] || {
		notok "$RPIBSP_OUT/$f exists (run 'make image')"
		tap_end
		exit 1
	}
done
# A scratch output directory: links to the image and tools, its own module build and staging.
out=$work/out
mkdir -p "$out/qemu" "$out/bin" "$out/logs"
ln -s "$RPIBSP_OUT/sdcard.img" "$out/sdcard.img"
ln -s "$RPIBSP_OUT/qemu/raspi3b.dtb" "$out/qemu/raspi3b.dtb"
cp -a "$RPIBSP_OUT/rootfs-extra" "$out/rootfs-extra"
cp -a "$RPIBSP_OUT/bin/rpibsp-hil" "$out/bin/"
src=$work/src
mkdir -p "$src"
cp -a "$RPIBSP_ROOT/Kbuild" "$RPIBSP_ROOT/drivers" "$src/"
# userland/build.sh (run by deploy) uses out/'s cargo target directory: nothing is rebuilt.
export RPIBSP_OUT=$out RPIBSP_MODULES_SRC=$src RPIBSP_BOARD_DIR=$work/board
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$main_out/userland-target}
stop_board() { "$RPIBSP_ROOT/scripts/board.sh" stop raspi3b >/dev/null 2>&1 || true; }
trap stop_board EXIT
trap 'exit 130' INT TERM

t "make run: the emulated 3B starts from its own card, console on TCP" \
	bash -c "'$RPIBSP_ROOT/scripts/board.sh' start raspi3b >'$work/start.log' 2>&1"
port=$("$RPIBSP_ROOT/scripts/board.sh" console raspi3b 2>/dev/null || echo none)
echo "# console: $port"

# deploy LOG: scripts/deploy.sh against the running board; the rpibsp-hil report in LOG.
deploy() { "$RPIBSP_ROOT/scripts/deploy.sh" --machine raspi3b "${@:2}" >"$1" 2>&1; }
# board_ids LOG: "module=build-id" lines the board reported after the reload.
board_ids() { tr -d '\r' <"$1" | sed -n 's/.*# reload: \(rpibsp_[a-z]*\) loaded, build-id \([0-9a-f]*\).*/\1=\2/p' | sort -u; }
# host_ids: the staged modules' build IDs.
host_ids() {
	local ko
	for ko in $(find "$out/modules-staging" -path '*/extra/*' -name 'rpibsp_*.ko' | sort); do
		echo "$(basename "$ko" .ko)=$(readelf -n "$ko" | sed -n 's/.*Build ID: *//p')"
	done | sort
}
# loglines LOG: the deploy's output and the console log of its rpibsp-hil run (the newest).
loglines() {
	cat "$1" "$(find "$out/logs/deploy" -name '*.log' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n1 | cut -d' ' -f2-)" 2>/dev/null
}

# 1. The first deploy: everything built for the scratch tree, pushed, reloaded, verified.
if deploy "$work/deploy1.log"; then
	ok "make deploy: modules and rpibsp-verify pushed over the console, drivers reloaded, rpibsp-verify passes"
else
	notok "make deploy: modules and rpibsp-verify pushed over the console, drivers reloaded, rpibsp-verify passes"
	tail -n 30 "$work/deploy1.log" | sed 's/^/# /'
fi
grep '^>>> deployed' "$work/deploy1.log" | sed 's/^>>> /# first deploy: /' || true
ids1=$(host_ids)
t "the modules running on the board are the ones built here (build IDs)" \
	test "$(loglines "$work/deploy1.log" | board_ids /dev/stdin)" = "$ids1"

# 2. The network (issue 17, item 4), before the deploys that use it: the emulated 3B's USB network
# adapter (QEMU usb-net, a CDC Ethernet device on the DWC2 host, where the real 3B has its
# LAN9514) gets a DHCP lease from QEMU's user network (the emulated USB enumerates slowly: up to
# 90 s are allowed), and the board reaches the laptop (10.0.2.2) over it: a file served here is
# fetched with wget.
mkdir -p "$work/www"
token=rpibsp-$RANDOM$RANDOM
echo "$token" >"$work/www/token"
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/http.log" 2>&1 &
http=$!
trap 'kill $http 2>/dev/null || true; stop_board' EXIT
hport=""
for _ in $(seq 50); do
	hport=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/http.log" | head -n1)
	[ -n "$hport" ] && break
	sleep 0.1
done
# shellcheck disable=SC2016 # the commands are expanded on the board
if [ -n "$hport" ] && "$out/bin/rpibsp-hil" --tcp "$port" --tcp-mode raw --no-verify --log-dir "$work/net-hil" \
	--cmd '(for i in $(seq 90); do ip -4 addr show | grep -q "inet 10.0.2.15/" && exit 0; sleep 1; done; ip addr; exit 1)' \
	--cmd 'ip route | grep -q "^default via 10.0.2.2 "' \
	--cmd "[ \"\$(wget -q -O - http://10.0.2.2:$hport/token)\" = $token ]" >"$work/net.log" 2>&1; then
	ok "network: the board's USB Ethernet has 10.0.2.15 by DHCP, a default route, and fetches a file from the laptop"
else
	notok "network: the board's USB Ethernet has 10.0.2.15 by DHCP, a default route, and fetches a file from the laptop"
	tail -n 20 "$work/net.log" | sed 's/^/# /'
fi
# 3. Edit a driver (its module description), deploy: that module changes on the board, and the
# time from the edit to a verified board is measured.
led_src=$(grep -l 'description:' "$src"/drivers/led/*.rs | head -n1)
if [ -n "$led_src" ]; then
	sed -i 's/\(description: *"\)/\1[deploy test] /' "$led_src"
	start=$(date +%s.%N)
	deploy "$work/deploy2.log" && rc=0 || rc=$?
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	t "after editing the LED driver: make deploy passes" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || tail -n 30 "$work/deploy2.log" | sed 's/^/# /'
	ids2=$(host_ids)
	echo "# edit -> new module loaded and rpibsp-verify passed: $(printf '%.1f' "$secs") s (target 15 s warm); $(grep '^>>> deployed' "$work/deploy2.log" | sed 's/^>>> //')"
	t "the edit changed exactly the LED module's build ID" \
		test "$(diff <(echo "$ids1") <(echo "$ids2") | grep -c '^>')" = 1 -a -n "$(diff <(echo "$ids1") <(echo "$ids2") | grep '^> rpibsp_led=')"
	t "the board runs the edited LED module (build IDs the board reported after the reload)" \
		test "$(loglines "$work/deploy2.log" | board_ids /dev/stdin)" = "$ids2"
	t "the second deploy used the shell left logged in on the console (no logout and login)" \
		bash -c "grep -q 'already logged in on the console' '$work/deploy2.log' && ! grep -q 'logged out (' '$work/deploy2.log'"
	t "the edited module went over the network (fetched by the board from the laptop), the others not at all" \
		bash -c "grep -q 'rpibsp_led.ko.*' '$work/deploy2.log' && grep -q 'pushed [0-9]* bytes in .* (over the network)' '$work/deploy2.log' && \
			[ \"\$(grep -c '(already there)' '$work/deploy2.log')\" = 3 ]"
	# shellcheck disable=SC2016 # expanded on the board
	t "the board's LED module file has the edited description (modinfo on the board)" \
		"$out/bin/rpibsp-hil" --tcp "$port" --tcp-mode raw --no-verify --log-dir "$work/modinfo-hil" -q \
		--cmd 'modinfo "/lib/modules/$(uname -r)/extra/drivers/led/rpibsp_led.ko" | grep -q "deploy test"'
	# The same loop over the serial console alone (a board with only a USB serial cable).
	sed -i 's/\[deploy test\] /[deploy test 2] /' "$led_src"
	start=$(date +%s.%N)
	deploy "$work/deploy3.log" --net off && rc=0 || rc=$?
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	echo "# over the console only: edit -> verified in $(printf '%.1f' "$secs") s; $(grep '^>>> deployed' "$work/deploy3.log" | sed 's/^>>> //')"
	t "over the console only (--net off): the edited module is sent over the console, deployed and verified" \
		bash -c "[ $rc -eq 0 ] && grep -q 'pushed [0-9]* bytes in [0-9.]* [a-z]*\$' '$work/deploy3.log' && ! grep -q '(over the network)' '$work/deploy3.log'"
	t "over the console only: the board runs the module built from the second edit" \
		test "$(loglines "$work/deploy3.log" | board_ids /dev/stdin)" = "$(host_ids)"
else
	notok "the LED driver has a module description to edit (drivers/led/*.rs)"
fi

# 4. Interactive verification through the harness (issue 17, item 6): rpibsp-verify --mode
# interactive asks a person to press and release each button; rpibsp-hil shows the instructions
# on the laptop as they come (live output).  The person is scripted on the board (person.sh, pushed
# with --push): it passes each instruction on to the console and then presses the named button on
# the gpio-sim chip.  The laptop side must have shown each instruction before the check it asks for
# ended, and every check must pass.
# shellcheck disable=SC2016 # the command is expanded on the board
# (A subshell: the command runs in the login shell, which `exit` would end.)
icmd='(rm -f /tmp/person.fifo; mkfifo /tmp/person.fifo; /tmp/rpibsp-person </tmp/person.fifo &
rpibsp-verify --format tap --mode interactive --press-timeout 20 2>/tmp/person.fifo; rc=$?; wait; rm -f /tmp/person.fifo; exit $rc)'
icmd=$(echo "$icmd" | tr '\n' ' ')
if "$out/bin/rpibsp-hil" --tcp "$port" --tcp-mode raw --push "$RPIBSP_ROOT/tests/deploy/person.sh:/tmp/rpibsp-person" \
	--verify-cmd "$icmd" --log-dir "$work/interactive-hil" --junit "$work/interactive.xml" \
	>"$work/interactive.out" 2>"$work/interactive.err"; then
	ok "interactive verification through rpibsp-hil with scripted presses passes"
else
	notok "interactive verification through rpibsp-hil with scripted presses passes"
	tail -n 20 "$work/interactive.err" | sed 's/^/# /'
fi
grep -c '^board| >>> ' "$work/interactive.err" | sed 's/^/# instructions shown live on the laptop: /' || true
t "the laptop saw the instructions for GPIO 17 and 18 live (board| >>> Press ... / Release ...)" \
	bash -c "grep -q '^board| >>> Press and hold the button on GPIO 17' '$work/interactive.err' && \
		grep -q '^board| >>> Press and hold the button on GPIO 18' '$work/interactive.err' && \
		grep -q '^board| >>> Release the button on GPIO 17' '$work/interactive.err'"
t "the interactive button checks are cases in the JUnit report, none failed or skipped" \
	bash -c "grep -q 'press' '$work/interactive.xml' && ! grep -qE '<(failure|skipped)' '$work/interactive.xml'"

tap_end
