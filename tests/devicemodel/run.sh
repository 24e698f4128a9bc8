#!/usr/bin/env bash
# devicemodel suite: the rpibsp_devicemodel driver on the emulated Raspberry Pi, and the KUnit
# tests of the kernel abstractions it uses (kernel/patches/0001-0009), which run at boot.
#
#   1. the C test program (dmtest.c) and drivers/devicemodel/abi.rs agree on the ioctl ABI, and
#      its type byte is free in the kernel's ioctl-number.rst;
#   2. the module builds out of tree against the BSP kernel;
#   3. a boot with a test overlay (one valid node, several broken ones) runs
#      devicemodel-guest.sh: parameter and DT validation, sysfs, read/write/ioctl (with older and
#      newer argument sizes, ENOTTY/EINVAL rules), PM counters, unbind while open; the KUnit
#      suites of the abstractions must have passed in that boot;
#   4. a deliberately broken build of the driver (mutations of the behaviours under test) must
#      make the guest checks of those behaviours fail.
#
# Environment: RPIBSP_OUT, RPIBSP_CACHE, RPIBSP_KBUILD (kernel build dir; default: the BSP
# kernel build), RPIBSP_DM_MACHINES (default "raspi3b raspi4b").
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"
# shellcheck source=../lib/kmod.sh
. "$RPIBSP_ROOT/tests/lib/kmod.sh"

here=$RPIBSP_ROOT/tests/devicemodel
kdir=$(kmod_kdir)
work=$RPIBSP_OUT/tests/devicemodel
rm -rf "$work"
mkdir -p "$work" "$RPIBSP_OUT/logs"
read -r -a machines <<<"${RPIBSP_DM_MACHINES:-raspi3b raspi4b}"

# --- 1. ABI ------------------------------------------------------------------------------------
t "dmtest builds for the board (aarch64, static)" \
	aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$work/dmtest" "$here/dmtest.c"
t "dmtest builds for the host" gcc -O2 -Wall -Wextra -Werror -o "$work/dmtest-host" "$here/dmtest.c"
t "abi_dump builds from drivers/devicemodel/abi.rs" \
	rustc --edition 2021 -O -o "$work/abi_dump" "$here/abi_dump.rs"
abi_same() {
	"$work/abi_dump" >"$work/abi.rust" && "$work/dmtest-host" abi >"$work/abi.c" &&
		diff -u "$work/abi.rust" "$work/abi.c"
}
t "the C test program and abi.rs agree on ioctl numbers and struct layout" abi_same
# The type byte is free: no line (single number or range) of the kernel's ioctl-number.rst table
# has it, and no _IO*() or *MAGIC/*IOC* define of the kernel's headers and drivers uses it.
type_byte_free() {
	local ksrc m hex table hits
	ksrc=$(kmod_ksrc "$kdir") || return 1
	table=$ksrc/Documentation/userspace-api/ioctl/ioctl-number.rst
	[ -f "$table" ] || { echo "# no $table"; return 1; }
	m=$("$work/abi_dump" | sed -n 's/^IOC_MAGIC=//p')
	hex=$(printf '0x%02x' "$m")
	echo "# type byte $hex"
	hits=$(
		grep -iE "^${hex}[[:space:]]" "$table"
		if ((m >= 0x21 && m < 0x7f)); then
			awk -v c="'$(printf '%b' "\\x${hex#0x}")'" 'substr($0, 1, 3) == c' "$table"
		fi
		grep -rIiE --include='*.h' --include='*.c' --include='*.rs' \
			"((^|[^A-Za-z0-9_])_IO(R|W|WR)?\([[:space:]]*${hex}[[:space:]]*,|define[[:space:]]+[A-Z0-9_]*(MAGIC|IOC)[A-Z0-9_]*[[:space:]]+\(?$hex\b)" \
			"$ksrc/include" "$ksrc/drivers" "$ksrc/fs" "$ksrc/rust"
		true
	)
	[ -z "$hits" ] && return 0
	printf '%s\n' "$hits" | sed -e "s|$ksrc/||" -e 's/^/#   taken: /'
	return 1
}
t "the ioctl type byte of abi.rs is free in the kernel's ioctl-number.rst and uapi headers" type_byte_free

# --- 2. module ---------------------------------------------------------------------------------
build_module() { kmod_build "$kdir" "$@"; } # build_module <source dir> <object dir>
t "rpibsp_devicemodel.ko builds out of tree" build_module "$RPIBSP_ROOT/drivers/devicemodel" "$work/module"
t "the driver uses no bindings:: and no unsafe" \
	sh -c "! grep -nE 'bindings::|unsafe \{|unsafe fn' '$RPIBSP_ROOT/drivers/devicemodel/rpibsp_devicemodel.rs'"

# The broken build: copies of the sources with the behaviours under test mutated.
mutant=$work/mutant-src
mkdir -p "$mutant"
cp "$RPIBSP_ROOT"/drivers/devicemodel/{Kbuild,abi.rs,rpibsp_devicemodel.rs} "$mutant/"
sed -i -e 's/return Err(ENOSPC);/return Ok(0);/' \
	-e 's/state\.bound = false;/state.bound = true;/' \
	-e '/abi::NR_SET_VALUE => {/,/dev_dbg/ s/if value > abi::VALUE_MAX {/if value > abi::VALUE_MAX + 1 {/' \
	-e "/fn store<'bound>(/,/^    }\$/ s/if value > abi::VALUE_MAX {/if value > abi::VALUE_MAX + 1 {/" \
	-e 's/count_pm(pdev.as_ref(), &this.shared.pm.resume, "resume")/Ok(())/' \
	-e 's/\.write_slice_partial(AsBytes::as_bytes(&status), 0)?;/.write(\&status)?;/' \
	-e 's/if ty != abi::IOC_MAGIC {/if ty != abi::IOC_MAGIC \&\& ty != 0xB5 {/' \
	-e 's/if cmd_dir != dir {/if cmd_dir != dir \&\& cmd_dir != abi::IOC_READ | abi::IOC_WRITE {/' \
	"$mutant/rpibsp_devicemodel.rs"
mutations=$(diff "$RPIBSP_ROOT/drivers/devicemodel/rpibsp_devicemodel.rs" "$mutant/rpibsp_devicemodel.rs" | grep -c '^>' || true)
echo "# mutant: $mutations lines changed"
t "the mutant has its 8 mutations" test "$mutations" -eq 8
t "the mutant builds" build_module "$mutant" "$work/mutant"

# --- 3. boot -----------------------------------------------------------------------------------
dtc -q -@ -I dts -O dtb -o "$work/devicemodel-test.dtbo" "$here/devicemodel-test.dts"

boot() { # boot <machine> <module dir> <log name> <output file>
	"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine "$1" --dtb "$work/$1.dtb" \
		--kernel "$kdir/arch/arm64/boot/Image" \
		--script "$here/devicemodel-guest.sh" --file "$2/rpibsp_devicemodel.ko" \
		--file "$work/dmtest" --log "$RPIBSP_OUT/logs/devicemodel-$3.log" --append kunit.enable=1 \
		--timeout 300 >"$4" 2>&1
}

# KUnit: the suites of the abstraction patches, from the boot's console log (kunit.enable=1).
kunit_suites="rust_kernel_platform rust_kernel_sysfs rust_kernel_module_param"
kunit_check() { # kunit_check <console log>
	local log s rc=0
	log=$(mktemp)
	# The console log has CRLF line ends; the kernel log is in it twice (console, dmesg dump).
	tr -d '\r' <"$1" | sed -n '1,/^RPIBSP-TEST-BEGIN/p' >"$log"
	for s in $kunit_suites; do
		if grep -qE "\] ok [0-9]+ $s\$" "$log" && ! grep -qE "\] not ok [0-9]+ $s\$" "$log"; then
			grep -E "# $s: pass:" "$log" | sed 's/^.*\] */# /' | head -n1
		else
			echo "# KUnit suite $s did not pass:"
			grep -E "not ok|# $s|ASSERTION" "$log" | sed 's/^/#   /' | head -n 20
			rc=1
		fi
	done
	echo "# KUnit suites at boot (all of the kernel): $(grep -cE '\] ok [0-9]+ [a-z_0-9]+$' "$log") ok, $(grep -cE '\] not ok [0-9]+ [a-z_0-9]+$' "$log") not ok"
	rm -f "$log"
	return "$rc"
}

for m in "${machines[@]}"; do
	# The machine's base DTB (with the QEMU fix-ups on raspi4b) plus the test overlay.
	"$RPIBSP_ROOT/scripts/qemu-dtb.sh" "$m" "$work/$m.dtb" "$work/devicemodel-test.dtbo" >/dev/null
	if boot "$m" "$work/module" "$m" "$work/$m.out"; then
		ok "$m: devicemodel guest checks pass"
	else
		notok "$m: devicemodel guest checks pass"
	fi
	sed 's/^/    /' "$work/$m.out"
	t "$m: KUnit suites of the abstractions pass at boot" kunit_check "$RPIBSP_OUT/logs/devicemodel-$m.log"
done

# --- 4. the suite catches a broken driver ------------------------------------------------------
m=${machines[0]}
boot "$m" "$work/mutant" mutant "$work/mutant.out" || true
expect_fail() { # expect_fail <guest check name, as a regex>
	grep -qE "^not ok [0-9]+ - $1" "$work/mutant.out"
}
t "broken build: ENOSPC check fails" expect_fail "short writes and ENOSPC"
t "broken build: SET_VALUE range check fails" expect_fail "every ioctl with good and bad arguments"
t "broken build: sysfs range check fails" expect_fail "sysfs value rejects 1000001"
t "broken build: resume counter check fails" expect_fail "resume counted once"
t "broken build: ENODEV after unbind check fails" expect_fail "every call on the open file fails with ENODEV"
t "broken build (exact-size GET_STATUS copy): argument size check fails" expect_fail "older .smaller. and newer .larger. argument sizes"
t "broken build (type 0xB5 accepted): ENOTTY check fails" expect_fail "unknown numbers, the old type byte 0xB5"
t "broken build (_IOWR accepted for every command): EINVAL check fails" expect_fail "known numbers with a wrong direction"
grep -c '^not ok' "$work/mutant.out" | sed 's/^/# failing guest checks with the broken build: /' || true

tap_end
