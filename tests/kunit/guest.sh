#!/bin/sh
# Guest side of the KUnit suite: report every top-level KTAP suite result printed at boot, and
# check that each suite in /rpibsp/expected ran and passed.
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

dmesg | sed -n 's/^\[[ 0-9.]*\] //p' >/tmp/klog
# Top-level KTAP results are unindented "ok N name" / "not ok N name" lines after "KTAP version".
grep -E '^(not )?ok [0-9]+ [A-Za-z0-9_]+' /tmp/klog >/tmp/suites || true
diag "KUnit suites that ran: $(wc -l </tmp/suites)"
# A KTAP "ok N name # SKIP reason" is a skipped suite: reported as a TAP skip, never as a pass.
# (set -- $line splits the line into its words on purpose; the lines are KTAP, no globs.)
# shellcheck disable=SC2086
while read -r line; do
	case "$line" in
	"not ok "*) set -- $line && check "kunit suite $4" false ;;
	*"# SKIP"*) set -- $line && skip "kunit suite $3" "${line#*# SKIP}" ;;
	"ok "*) set -- $line && check "kunit suite $3" true ;;
	esac
done </tmp/suites
# Per-test figures, for the log (skipped cases apart).
diag "KUnit test cases: $(grep -E '^ +ok [0-9]+ ' /tmp/klog | grep -cv '# SKIP') passed, \
$(grep -cE '^ +not ok [0-9]+ ' /tmp/klog) failed, $(grep -E '^ +ok [0-9]+ ' /tmp/klog | grep -c '# SKIP') skipped"
while read -r suite; do
	[ -n "$suite" ] || continue
	check "declared suite $suite ran (not skipped)" grep -qE "^ok [0-9]+ $suite\$" /tmp/suites
done </rpibsp/expected
check "KUnit ran at boot" grep -q 'KTAP version' /tmp/klog
tap_end
