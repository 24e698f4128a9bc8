# shellcheck shell=bash
# Common settings of the offline build, sourced by the scripts under scripts/ and tests/.
#
# Every path can be overridden from the environment:
#   RPIBSP_OUT    build products (default: <repo>/out)
#   RPIBSP_CACHE  downloads, the prepared kernel source and kernel builds, kept across clones
#                 (default: ${XDG_CACHE_HOME:-~/.cache}/rpi-bsp)
#   RPIBSP_JOBS   parallel jobs (default: number of CPUs + 1)

RPIBSP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RPIBSP_OUT=${RPIBSP_OUT:-$RPIBSP_ROOT/out}
RPIBSP_CACHE=${RPIBSP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rpi-bsp}
RPIBSP_JOBS=${RPIBSP_JOBS:-$(($(nproc) + 1))}
export RPIBSP_ROOT RPIBSP_OUT RPIBSP_CACHE RPIBSP_JOBS

# shellcheck source=../kernel/source.env
. "$RPIBSP_ROOT/kernel/source.env"

# The LLVM toolchain the kernel is built with (Rust in the kernel wants an LLVM build, KASAN with
# Rust needs it too).
LLVM_SUFFIX=${LLVM_SUFFIX:--19}
# Debian's rustc-web: its standard library source (rust-web-src) is what the kernel's `core` build
# needs, and its arm64 standard library (libstd-rust-web-dev:arm64) is what userland links.
RPIBSP_RUSTC=${RPIBSP_RUSTC:-/usr/bin/rustc}
export RPIBSP_BINDGEN_MIN=0.71.1

msg() { printf '>>> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# bindgen: the one from the cache (installed by scripts/setup.sh) wins over one on PATH.
rpibsp_bindgen() {
	if [ -x "$RPIBSP_CACHE/tools/bin/bindgen" ]; then
		printf '%s\n' "$RPIBSP_CACHE/tools/bin/bindgen"
	else
		command -v bindgen || true
	fi
}

# The kernel make variables shared by every kernel and module build.
kmake_vars() {
	printf '%s\n' ARCH=arm64 "LLVM=$LLVM_SUFFIX" "RUSTC=$RPIBSP_RUSTC" "HOSTRUSTC=$RPIBSP_RUSTC" \
		"BINDGEN=$(rpibsp_bindgen)" LOCALVERSION= KBUILD_BUILD_USER=rpibsp KBUILD_BUILD_HOST=rpibsp
}

# A short content hash of files (and literal strings given as "=text").
content_hash() {
	local a
	for a in "$@"; do
		case "$a" in
		=*) printf '%s\n' "${a#=}" ;;
		*) printf '%s\n' "$a" && cat "$a" ;;
		esac
	done | sha256sum | cut -c1-16
}

# The patch series, in the order both build paths apply it.
kernel_patches() {
	local f
	for f in "$RPIBSP_ROOT"/kernel/patches/*.patch; do
		[ -e "$f" ] && printf '%s\n' "$f"
	done
	return 0
}

# A hash of the patch series (names and contents): what a prepared source tree records.
kernel_series_hash() {
	local -a p
	mapfile -t p < <(kernel_patches)
	(cd "$RPIBSP_ROOT" && content_hash "=series" "${p[@]#"$RPIBSP_ROOT/"}")
}

# Where the kernel source lives: one tree per upstream source (kernel/source.env).  A change of
# the patch series is applied to it in place (the old series reversed, the new one applied), so
# only the files the series touches change and the kernel build stays incremental.
kernel_src_dir() {
	printf '%s/kernel/src-%s\n' "$RPIBSP_CACHE" "$(cd "$RPIBSP_ROOT" && content_hash kernel/source.env)"
}

# Kernel variants: "bsp" (the product) and "debug" (KASAN, lockdep, kmemleak... for the
# reliability suite).  Each has its config fragments.
kernel_fragments() {
	local variant=${1:-bsp}
	printf '%s\n' "$RPIBSP_ROOT/kernel/bsp.config"
	case "$variant" in
	bsp) ;;
	debug) printf '%s\n' "$RPIBSP_ROOT/kernel/debug.config" ;;
	*) die "unknown kernel variant '$variant' (known: bsp, debug)" ;;
	esac
}

# RPIBSP_KBUILD, when set, names an already built kernel tree to use instead (the bsp variant).
kernel_build_dir() {
	local variant=${1:-bsp} src
	if [ "$variant" = bsp ] && [ -n "${RPIBSP_KBUILD:-}" ]; then
		printf '%s\n' "$RPIBSP_KBUILD"
		return
	fi
	local -a frags
	src=$(kernel_src_dir)
	mapfile -t frags < <(kernel_fragments "$variant")
	# Keyed by the source tree and the configuration; the patch series is built incrementally.
	printf '%s/kernel/build-%s-%s\n' "$RPIBSP_CACHE" "$variant" \
		"$(cd "$RPIBSP_ROOT" && content_hash "=${src##*/}" "=$LLVM_SUFFIX" "${frags[@]#"$RPIBSP_ROOT/"}")"
}
