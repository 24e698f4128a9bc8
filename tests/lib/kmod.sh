# shellcheck shell=bash
# Out-of-tree module builds for the test suites (after scripts/lib.sh):
#   . "$RPIBSP_ROOT/tests/lib/kmod.sh"
#   kmod_build KDIR SRC OBJ   builds the modules of SRC against the kernel build KDIR into OBJ
#                             (kbuild's M= and MO=); the log is OBJ/build.log, its last lines are
#                             printed as TAP diagnostics when the build fails
#   kdir=$(kmod_kdir)         the kernel build to build against: RPIBSP_KBUILD, else the BSP
#                             kernel's; fails (with a message) when it is not built
#   ksrc=$(kmod_ksrc KDIR)    its source (RPIBSP_KSRC, else KDIR/source), for the dt-bindings headers
#   dt_product_overlays KSRC DIR   the product's overlays, built by dts/Makefile as `make dts` does,
#                             into DIR/boot/overlays/{rpibsp,rpibsp-emu}.dtbo
#   dt_test_overlay KSRC SRC OUT   a test-only overlay, preprocessed with the product's flags
#                             (dts/Makefile's DT_CPPFLAGS, -D__DTS__ included)
kmod_build() {
	local -a kv
	mapfile -t kv < <(kmake_vars)
	mkdir -p "$3"
	make -s -C "$1" M="$2" MO="$3" "${kv[@]}" modules >"$3/build.log" 2>&1 && return 0
	tail -n 30 "$3/build.log" | sed 's/^/# /'
	return 1
}
kmod_kdir() {
	local kdir=${RPIBSP_KBUILD:-$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)}
	[ -f "$kdir/Module.symvers" ] || die "no built kernel at $kdir (run 'make kernel')"
	printf '%s\n' "$kdir"
}
kmod_ksrc() {
	local ksrc=${RPIBSP_KSRC:-$(readlink -f "$1/source" 2>/dev/null || true)}
	[ -d "$ksrc/include/dt-bindings" ] || die "no kernel source with dt-bindings at '$ksrc' (RPIBSP_KSRC)"
	printf '%s\n' "$ksrc"
}
dt_product_overlays() {
	make -s -C "$RPIBSP_ROOT/dts" overlays KSRC="$1" OUT="$2" >/dev/null
}
dt_test_overlay() {
	local -a flags
	read -r -a flags < <(make -s -C "$RPIBSP_ROOT/dts" print-cpp-flags KSRC="$1")
	cpp "${flags[@]}" -I "$1/scripts/dtc/include-prefixes" "$2" | dtc -q -@ -I dts -O dtb -o "$3" -
}
