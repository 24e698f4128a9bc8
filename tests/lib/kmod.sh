# shellcheck shell=bash
# Out-of-tree module builds for the test suites (after scripts/lib.sh):
#   . "$RPIBSP_ROOT/tests/lib/kmod.sh"
#   kmod_build KDIR SRC OBJ   builds the modules of SRC against the kernel build KDIR into OBJ
#                             (kbuild's M= and MO=); the log is OBJ/build.log, its last lines are
#                             printed as TAP diagnostics when the build fails
kmod_build() {
	local -a kv
	mapfile -t kv < <(kmake_vars)
	mkdir -p "$3"
	make -s -C "$1" M="$2" MO="$3" "${kv[@]}" modules >"$3/build.log" 2>&1 && return 0
	tail -n 30 "$3/build.log" | sed 's/^/# /'
	return 1
}
