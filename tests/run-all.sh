#!/usr/bin/env bash
# Runs the test suites (tests/<suite>/run.sh, each printing TAP lines) and prints a summary table
# and the closing line "N passed, N failed, N skipped".  Exit status 0 only when nothing failed.
#
#   tests/run-all.sh [SUITE ...]      default: every suite, in the order of SUITE_ORDER
#
# A suite's log is kept in $RPIBSP_OUT/logs/suite-<name>.log.  A suite that exits non-zero without
# printing a failing check counts as one failure, so a crash is never a pass.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

# Cheap host-only suites first, then the emulated board.
SUITE_ORDER=(shell flash dts buildroot userland build host qemu kunit devicemodel led button image deploy hil labgrid bench reliability)

suites=("$@")
if [ "${#suites[@]}" -eq 0 ]; then
	for s in "${SUITE_ORDER[@]}"; do
		[ -x "$RPIBSP_ROOT/tests/$s/run.sh" ] && suites+=("$s")
	done
	# Suites not in the list yet still run (last), so none is forgotten.
	for d in "$RPIBSP_ROOT"/tests/*/run.sh; do
		s=$(basename "$(dirname "$d")")
		[[ " ${suites[*]} " == *" $s "* ]] || suites+=("$s")
	done
fi

RPIBSP_KBUILD=${RPIBSP_KBUILD:-$(kernel_build_dir bsp)}
RPIBSP_KSRC=${RPIBSP_KSRC:-$(kernel_src_dir)}
export RPIBSP_KBUILD RPIBSP_KSRC
mkdir -p "$RPIBSP_OUT/logs"

total_pass=0 total_fail=0 total_skip=0
rows=()
for s in "${suites[@]}"; do
	run=$RPIBSP_ROOT/tests/$s/run.sh
	if [ ! -x "$run" ]; then
		echo "not ok - suite '$s' does not exist (tests/$s/run.sh)"
		total_fail=$((total_fail + 1))
		continue
	fi
	log=$RPIBSP_OUT/logs/suite-$s.log
	echo "=== suite $s"
	start=$(date +%s)
	set +e
	"$run" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	secs=$(($(date +%s) - start))
	# Only the suite's own (unindented) TAP lines count; nested output is indented.
	pass=$(grep -cE '^ok ' "$log" | tr -d ' ' || true)
	skip=$(grep -ciE '^ok .*# skip' "$log" || true)
	fail=$(grep -cE '^not ok ' "$log" || true)
	pass=$((pass - skip))
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "not ok - suite $s exited with status $rc without a failing check"
		fail=1
	fi
	if [ "$rc" -eq 0 ] && [ "$fail" -ne 0 ]; then
		echo "not ok - suite $s reported failures but exited 0"
	fi
	if [ $((pass + fail + skip)) -eq 0 ]; then
		echo "not ok - suite $s ran no check"
		fail=1
	fi
	total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
	rows+=("$(printf '%-12s %6d %6d %7d %6ds' "$s" "$pass" "$fail" "$skip" "$secs")")
done

echo
echo "suite        passed failed skipped   time"
printf '%s\n' "${rows[@]}"
echo
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
