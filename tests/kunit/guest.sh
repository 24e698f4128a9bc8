#!/bin/sh
# Guest side of the KUnit suite: report every top-level KTAP suite result printed at boot, and
# check that each suite in /rpibsp/expected ran and passed.
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

dmesg | sed -n 's/^\[[ 0-9.]*\] //p' >/tmp/klog
# Top-level KTAP results are unindented "ok N name" / "not ok N name" lines after "KTAP version".
grep -E '^(not )?ok [0-9]+ [A-Za-z0-9_]+' /tmp/klog >/tmp/suites || true
diag "KUnit suites that ran: $(wc -l </tmp/suites)"
while read -r w1 w2 w3 w4 _; do
	case "$w1" in
	not) check "kunit suite $w4" false ;;
	ok) check "kunit suite $w3" true ;;
	esac
	: "$w2"
done </tmp/suites
# Per-test figures, for the log.
diag "KUnit test cases: $(grep -cE '^ +ok [0-9]+ ' /tmp/klog) passed, $(grep -cE '^ +not ok [0-9]+ ' /tmp/klog) failed"
while read -r suite; do
	[ -n "$suite" ] || continue
	check "declared suite $suite ran" grep -qE "^ok [0-9]+ $suite\$" /tmp/suites
done </rpibsp/expected
check "KUnit ran at boot" grep -q 'KTAP version' /tmp/klog
tap_end
