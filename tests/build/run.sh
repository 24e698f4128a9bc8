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
tap_end
