# shellcheck shell=sh
# TAP helpers for guest test scripts (busybox sh).  tests/qemu/boot.sh copies this file to
# /rpibsp/lib.sh in every guest; a script starts with `. /rpibsp/lib.sh` and ends with `tap_end`.
TAP_N=0
TAP_FAILED=0

# check NAME COMMAND...: runs COMMAND, one TAP line for its result.
check() {
	_name=$1
	shift
	TAP_N=$((TAP_N + 1))
	if "$@"; then
		echo "ok $TAP_N - $_name"
	else
		echo "not ok $TAP_N - $_name"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

# skip NAME REASON: a check that was not run, as a TAP skip (counted as skipped, not passed).
skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1 # SKIP $2"
}

# diag TEXT: a diagnostic line (figures, context).
diag() { echo "# $*"; }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or time runs out.
wait_for() {
	_t=$(($1 * 10))
	shift
	while [ "$_t" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_t=$((_t - 1))
	done
	return 1
}

tap_end() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
