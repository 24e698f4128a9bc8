#!/bin/sh
# Guest side of the reliability suite (tests/reliability/run.sh): the ioctl/read/write fuzzer
# (reltool fuzz) against /dev/rpibsp-devicemodel on the debug kernel, with unbind/rebind during
# the run; then the same fuzzer against a deliberately broken build of the driver (EINVAL instead
# of ENOTTY for unknown commands), which it must catch. Counts from the kernel command line
# (relcalls=, relseed=). Ends with "# SUMMARY|ioctl/read/write fuzzing|<calls>|<failed>|<s>".
# shellcheck source=../qemu/guest-lib.sh
. /rpibsp/lib.sh

# shellcheck source=guest-common.sh
. /rpibsp/guest-common.sh
CALLS=$(arg relcalls)
SEED=$(arg relseed)
DRV=/sys/bus/platform/drivers/rpibsp-devicemodel

t0=$(uptime_s)
rmmod rpibsp_devicemodel 2>/dev/null
check "insmod rpibsp_devicemodel.ko, bound" sh -c "insmod /rpibsp/rpibsp_devicemodel.ko && test -e $DRV/rpibsp-devicemodel"
# Debug messages of the driver stay off (dev_dbg): 100,000 calls would flood the log.
$R fuzz -n "$CALLS" -t 4 -s "$SEED" -u 200 >/tmp/fuzz.out 2>&1
rc=$?
grep -E '^# ' /tmp/fuzz.out | head -n 60
check "fuzz: $CALLS calls from 4 threads, every result the documented one (seed $SEED)" test "$rc" -eq 0
calls=$(sed -n 's/^fuzz calls=\([0-9]*\).*/\1/p' /tmp/fuzz.out)
mism=$(sed -n 's/^fuzz .*mismatches=\([0-9]*\).*/\1/p' /tmp/fuzz.out)
unbinds=$(sed -n 's/^fuzz .*unbinds=\([0-9]*\).*/\1/p' /tmp/fuzz.out)
check "fuzz: at least 100000 calls and 10 unbind/rebind cycles were made" \
	test "${calls:-0}" -ge 100000 -a "${unbinds:-0}" -ge 10
check "fuzz: the device is bound again and nothing is left open" sh -c "
	test -e $DRV/rpibsp-devicemodel && [ \$(cat /sys/bus/platform/devices/rpibsp-devicemodel/open_count) = 0 ]"
check "fuzz: rmmod after the run" rmmod rpibsp_devicemodel
check "fuzz: kernel log clean (no oops, sanitizer, lockdep or atomic-sleep report)" klog_clean
echo "# SUMMARY|ioctl/read/write fuzzing|${calls:-0}|$TAP_FAILED|$(since "$t0")"
diag "fuzz: ${mism:-?} mismatches"

# The fuzzer can fail: a driver answering EINVAL to unknown commands must be caught.
if insmod /rpibsp/rpibsp_devicemodel-mutant.ko; then
	$R fuzz -q -n 3000 -t 2 -s "$SEED" -u 100 >/tmp/mutant.out 2>&1
	mrc=$?
	sed -n 's/^fuzz /# mutant: /p' /tmp/mutant.out
	check "mutant (EINVAL for unknown ioctls): the fuzzer reports mismatches" sh -c "
		[ $mrc -ne 0 ] && ! grep -q '^fuzz .*mismatches=0 ' /tmp/mutant.out"
	rmmod rpibsp_devicemodel
else
	check "insmod of the mutant driver" false
fi
tap_end
