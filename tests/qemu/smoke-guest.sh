#!/bin/sh
# Guest side of the foundation boot test: load the smoke-test Rust platform driver and check that
# it bound to its device-tree node.
# shellcheck source=guest-lib.sh
. /rpibsp/lib.sh

check "rpibsp-smoke node is in the device tree" test -d /proc/device-tree/rpibsp-smoke
check "insmod rpibsp_smoke.ko" insmod /rpibsp/rpibsp_smoke.ko
bound() { test -e /sys/bus/platform/drivers/rpibsp_smoke/rpibsp-smoke; }
check "the driver is bound to the rpibsp-smoke device" wait_for 5 bound
check "probe message with the DT property value" sh -c 'dmesg | grep -q "rpibsp smoke driver probed (rpibsp,magic = 0xb5b5b5b)"'
check "rmmod rpibsp_smoke" rmmod rpibsp_smoke
check "the driver is gone after rmmod" sh -c '! test -e /sys/bus/platform/drivers/rpibsp_smoke'
diag "kernel $(uname -r), machine $(tr -d '\000' </proc/device-tree/model)"
tap_end
