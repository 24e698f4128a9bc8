#!/usr/bin/env bash
# The development loop without reflashing: rebuild what changed (the BSP's modules, the userland
# tools), put them on a running board (over its network where it has one, else over its serial
# console; files it has already are not sent), reload the drivers and run the on-board
# verification.  The files are checked on the board (SHA-256) before they replace the old
# ones, and each reloaded module's build ID must be the one built here.
#
#   scripts/deploy.sh [--serial DEV [--baud N] | --tcp HOST:PORT] [--machine raspi3b|raspi4b]
#     default   the emulated board of `make run` (started if it is not running)
#     --serial  a real board on a USB-serial adapter (e.g. /dev/ttyUSB0, GPIO 14/15)
#     --tcp     a console served over TCP (ser2net, labgrid, RFC 2217 or raw)
#     --password PW  the board's root password (default: none, the image's root has none)
#     --net HOST     the board fetches the files over its network from this machine, which it
#                    reaches at HOST (this machine's address on the board's network); files it
#                    cannot fetch go over the console.  The emulated 3B: 10.0.2.2, by default;
#                    --net off: everything over the console.
# Also RPIBSP_HIL_ARGS: extra rpibsp-hil options (e.g. "--junit out/deploy.xml").
# The files go where the image has them: /lib/modules/<release>/extra/... and /usr/bin, so a
# reboot keeps the deployed versions, as `flash.sh` would have.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

machine=raspi3b target=() password="" net=""
while [ $# -gt 0 ]; do
	case "$1" in
	--serial) target=(--serial "$2") ;;
	--baud) target+=(--baud "$2") ;;
	--tcp) target=(--tcp "$2") ;;
	--machine) machine=$2 ;;
	--password) password=$2 ;;
	--net) net=$2 ;;
	-h | --help)
		sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	[ $# -ge 2 ] || die "$1 needs a value"
	shift 2
done

start=$(date +%s.%N)
kdir=$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)
[ -f "$kdir/vmlinux" ] || die "no BSP kernel build at $kdir (run 'make' once first)"
msg "rebuilding the modules (only what changed)"
"$RPIBSP_ROOT/scripts/modules.sh" "$kdir" >/dev/null
msg "rebuilding the userland tools (only what changed)"
"$RPIBSP_ROOT/userland/build.sh" >/dev/null 2>"$RPIBSP_OUT/logs/deploy-userland.log" || {
	tail -n 20 "$RPIBSP_OUT/logs/deploy-userland.log" >&2
	die "the userland build failed (log: $RPIBSP_OUT/logs/deploy-userland.log)"
}
hil=$RPIBSP_OUT/bin/rpibsp-hil
[ -x "$hil" ] || die "no $hil (userland/build.sh did not install it)"
built=$(date +%s.%N)

krel=$(cat "$kdir/include/config/kernel.release")
stage=$RPIBSP_OUT/modules-staging/lib/modules/$krel
push=() ids=()
while IFS= read -r ko; do
	rel=${ko#"$stage/"}
	push+=(--push "$ko:/lib/modules/$krel/$rel")
	id=$(readelf -n "$ko" | sed -n 's/.*Build ID: *//p')
	[ -n "$id" ] || die "$ko has no GNU build ID (readelf -n): cannot tell the deployed module on the board"
	ids+=("$(basename "$ko" .ko)=$id")
done < <(find "$stage/extra" -name 'rpibsp_*.ko' | sort)
[ "${#ids[@]}" -eq 3 ] || die "expected the three BSP modules under $stage/extra, found ${#ids[@]}"
push+=(--push "$RPIBSP_OUT/rootfs-extra/usr/bin/rpibsp-verify:/usr/bin/rpibsp-verify")

http=()
case "$net" in
"" | off) ;;
*) http=(--http-host "$net") ;;
esac
if [ "${#target[@]}" -eq 0 ]; then
	"$RPIBSP_ROOT/scripts/board.sh" start "$machine"
	target=(--tcp "$("$RPIBSP_ROOT/scripts/board.sh" console "$machine")" --tcp-mode raw)
	# The emulated 3B's USB network (QEMU's user network) reaches this machine's loopback as
	# 10.0.2.2; the emulated 4B has no network (QEMU's raspi4b lacks GENET).
	if [ "$machine" = raspi3b ] && [ -z "$net" ]; then
		http=(--http-host 10.0.2.2 --http-listen 127.0.0.1:0)
	fi
fi
# A running board is silent: ask for its prompt after 2 s instead of the default 10 s.
login=(--user root --poke-after 2)
[ -z "$password" ] || export RPIBSP_HIL_PASSWORD=$password
mkdir -p "$RPIBSP_OUT/logs/deploy"
# shellcheck disable=SC2086 # RPIBSP_HIL_ARGS is a list of options on purpose
"$hil" "${target[@]}" "${login[@]}" "${push[@]}" "${http[@]}" --log-dir "$RPIBSP_OUT/logs/deploy" \
	--verify-cmd "/usr/share/rpibsp/reload ${ids[*]} && rpibsp-verify --format tap" ${RPIBSP_HIL_ARGS:-} || {
	rc=$?
	die "deploy: rpibsp-hil exited $rc (console logs: $RPIBSP_OUT/logs/deploy)"
}
end=$(date +%s.%N)
printf '>>> deployed and verified in %.1f s (rebuild %.1f s, push + reload + verify %.1f s)\n' \
	"$(echo "$end - $start" | bc)" "$(echo "$built - $start" | bc)" "$(echo "$end - $built" | bc)"
