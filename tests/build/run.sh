#!/usr/bin/env bash
# The build's caching: a second build with nothing changed does no kernel work and rebuilds no
# module; touching one driver's source rebuilds that module only; every module carries the
# vermagic of the BSP kernel.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

. "$RPIBSP_ROOT/tests/lib/tap.sh"
mo=$RPIBSP_OUT/modules-build
kdir=$(kernel_build_dir bsp)
krel=$(cat "$kdir/include/config/kernel.release")
snapshot() { find "$kdir/arch/arm64/boot/Image" "$kdir/vmlinux" "$mo" -name '*.ko' -o -name Image -o -name vmlinux |
	sort | xargs stat -c '%n %Y.%y' ; }

"$RPIBSP_ROOT/scripts/modules.sh" >/dev/null 2>&1 # whatever state we start from
before=$(snapshot)
start=$(date +%s.%N)
quiet() { "$@" >"$RPIBSP_OUT/logs/build-suite.log" 2>&1; }
t "kernel build with nothing changed is a no-op" quiet "$RPIBSP_ROOT/scripts/kernel.sh" build
t "module build with nothing changed succeeds" quiet "$RPIBSP_ROOT/scripts/modules.sh"
secs=$(echo "$(date +%s.%N) - $start" | bc)
echo "# second build (kernel + modules) took ${secs} s"
after=$(snapshot)
t "nothing was rebuilt (Image, vmlinux and every .ko unchanged)" test "$before" = "$after"

mapfile -t drivers < <(cd "$RPIBSP_ROOT" && find drivers -mindepth 2 -maxdepth 2 -name Kbuild -printf '%h\n' | sort)
t "the top-level Kbuild builds every driver directory" test "${#drivers[@]}" -ge 3
for d in "${drivers[@]}"; do
	ko=$(find "$mo/$d" -maxdepth 1 -name '*.ko' | head -n1)
	t "$d produced a module" test -n "$ko"
	[ -n "$ko" ] || continue
	t "$(basename "$ko") vermagic is the BSP kernel's ($krel)" \
		test "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" = "$krel"
done

# Touch one driver: only its module is rebuilt.
if [ "${#drivers[@]}" -gt 0 ]; then
	d=${drivers[0]}
	before=$(snapshot)
	sleep 1
	find "$RPIBSP_ROOT/$d" -name '*.rs' -exec touch {} +
	"$RPIBSP_ROOT/scripts/modules.sh" >/dev/null 2>&1
	after=$(snapshot)
	changed=$(diff <(echo "$before") <(echo "$after") | sed -n 's/^> \([^ ]*\) .*/\1/p' | grep '\.ko$' || true)
	echo "# rebuilt after touching $d: ${changed:-nothing}"
	t "touching $d rebuilds exactly one module, in $d" \
		test "$(echo "$changed" | grep -c .)" -eq 1 -a "${changed#"$mo/$d/"}" != "$changed"
	t "touching $d does not rebuild the kernel" \
		test "$(echo "$before" | grep -E 'Image|vmlinux')" = "$(echo "$after" | grep -E 'Image|vmlinux')"
fi

# The kernel configuration for real boards (issue 17, item 3): the options kernel/bsp.config asks
# for are in the built kernel's .config (scripts/kernel.sh checks each at configure time; this is
# the record), and no number or string option is left at a value of allnoconfig's.
cfg=$kdir/.config
for opt in CONFIG_DMA_BCM2835=y CONFIG_ARM_RASPBERRYPI_CPUFREQ=y CONFIG_CPUFREQ_DT=y CONFIG_BCM2835_THERMAL=y \
	CONFIG_BCM2711_THERMAL=y CONFIG_ARM64_ERRATUM_843419=y CONFIG_DRIVER_DEFERRED_PROBE_TIMEOUT=10 \
	CONFIG_SENSORS_RASPBERRYPI_HWMON=y CONFIG_BLK_DEV_WRITE_MOUNTED=y CONFIG_BCMGENET=y CONFIG_USB_DWC2=y \
	CONFIG_USB_NET_SMSC95XX=y CONFIG_USB_LAN78XX=y; do
	t "BSP kernel: $opt" grep -qx "$opt" "$cfg"
done
t "BSP kernel: KUnit built in but off by default (test boots pass kunit.enable=1)" \
	bash -c "grep -qx CONFIG_KUNIT=y '$cfg' && grep -qx '# CONFIG_KUNIT_DEFAULT_ENABLED is not set' '$cfg'"
t "no option of the BSP kernel is left at an allnoconfig value (scripts/kernel.sh check-defaults)" \
	quiet "$RPIBSP_ROOT/scripts/kernel.sh" check-defaults "$cfg" "$RPIBSP_ROOT"/kernel/bsp.config "$RPIBSP_ROOT"/kernel/net.config
# Negative control: without its line in the fragment, the deferred-probe timeout of allnoconfig (0)
# is caught, by name.
sed 's/^CONFIG_DRIVER_DEFERRED_PROBE_TIMEOUT=.*/CONFIG_DRIVER_DEFERRED_PROBE_TIMEOUT=0/' "$cfg" >"$RPIBSP_OUT/logs/build-suite-0.config"
grep -v '^CONFIG_DRIVER_DEFERRED_PROBE_TIMEOUT=' "$RPIBSP_ROOT/kernel/bsp.config" >"$RPIBSP_OUT/logs/build-suite-bsp.config"
"$RPIBSP_ROOT/scripts/kernel.sh" check-defaults "$RPIBSP_OUT/logs/build-suite-0.config" \
	"$RPIBSP_OUT/logs/build-suite-bsp.config" "$RPIBSP_ROOT/kernel/net.config" >"$RPIBSP_OUT/logs/build-suite.log" 2>&1 || true
t "check-defaults catches an allnoconfig leftover (deferred probe timeout 0, default 10), by name" \
	grep -q 'CONFIG_DRIVER_DEFERRED_PROBE_TIMEOUT=0 (default now: 10)' "$RPIBSP_OUT/logs/build-suite.log"
tap_end
