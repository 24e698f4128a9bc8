# shellcheck shell=bash
# TAP helpers for the host side of the test suites (tests/<suite>/run.sh):
#   . "$RPIBSP_ROOT/tests/lib/tap.sh"
#   t "name" command args...     one check: "ok N - name" or "not ok N - name"
#   ok "name" / notok "name"     a result decided by the caller
#   skip "name" "reason"         a check not run: "ok N - name # SKIP reason" (counted as skipped)
#   tap_end                      prints the plan; returns non-zero if any check failed
# Guest scripts use tests/qemu/guest-lib.sh (busybox sh) instead.
TAP_N=0
TAP_FAILED=0
ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}
notok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
}
skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP $2"
}
t() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
tap_end() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
