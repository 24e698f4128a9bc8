#!/usr/bin/env bash
# KUnit suites of the kernel patch series: they run at boot on the emulated board, enabled for this
# test boot with kunit.enable=1 (the BSP kernel has CONFIG_KUNIT_DEFAULT_ENABLED=n, so the product
# never runs them; tests/image checks that); the guest reports each suite's KTAP result from the
# kernel log.  Every suite declared in kernel/patches (`#[kunit_tests(NAME)]`) must have run and passed.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

work=$RPIBSP_OUT/tests/kunit
mkdir -p "$work"
# The suites the series declares.
cat "$RPIBSP_ROOT"/kernel/patches/*.patch 2>/dev/null |
	sed -n 's/^+.*#\[kunit_tests(\([A-Za-z0-9_]*\))\].*/\1/p' | sort -u >"$work/expected"
echo "# suites declared by the patch series: $(tr '\n' ' ' <"$work/expected")"
"$RPIBSP_ROOT/scripts/qemu-dtb.sh" raspi3b "$work/raspi3b.dtb" >/dev/null
set +e
"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine raspi3b --dtb "$work/raspi3b.dtb" \
	--script "$RPIBSP_ROOT/tests/kunit/guest.sh" --file "$work/expected" --append kunit.enable=1 --timeout 180 \
	--log "$RPIBSP_OUT/logs/kunit-raspi3b.log"
rc=$?
set -e
[ -s "$work/expected" ] || echo "# note: the patch series declares no KUnit suite yet"
exit "$rc"
