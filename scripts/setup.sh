#!/usr/bin/env bash
# Installs what the offline build needs, idempotently: a second run that finds everything does
# nothing.  Run automatically by `make` and `make test`; safe to run by hand.
#
# Supported host: Debian 12 (bookworm) amd64, reaching only the Debian archive and the crate
# registry.  Elsewhere it prints what is missing and how to get it, then stops.
#
#   scripts/setup.sh            install what is missing (needs root or sudo for apt)
#   scripts/setup.sh --check    only report; exit 1 when something is missing
set -euo pipefail
. "$(dirname "$0")/lib.sh"

check_only=false
case "${1:-}" in
--check) check_only=true ;;
"") ;;
-h | --help)
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*) die "unknown option '$1' (try --help)" ;;
esac

# command -> Debian package providing it, for the host (amd64) part.
HOST_TOOLS=(
	"clang-19:clang-19" "ld.lld-19:lld-19" "llvm-ar-19:llvm-19" "aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu"
	"dtc:device-tree-compiler" "fdtoverlay:device-tree-compiler" "fdtget:device-tree-compiler"
	"bc:bc" "bison:bison" "flex:flex" "cpio:cpio" "depmod:kmod" "make:make" "perl:perl"
	"python3:python3" "rsync:rsync" "file:file"
	"xz:xz-utils" "zstd:zstd" "gzip:gzip" "sha256sum:coreutils"
	"mkfs.vfat:dosfstools" "mcopy:mtools" "mkfs.ext4:e2fsprogs" "genimage:genimage" "bmaptool:bmap-tools"
	"fakeroot:fakeroot" "shellcheck:shellcheck" "qemu-img:qemu-utils" "losetup:mount" "lsblk:util-linux"
	"apt-get:apt" "dpkg-deb:dpkg" "readelf:binutils" "script:bsdutils" "partx:util-linux"
	"debugfs:e2fsprogs" "qemu-aarch64-static:qemu-user-static"
)
# Packages checked by name (libraries and data, no command to look for).
HOST_PACKAGES=(libclang-19-dev libssl-dev libelf-dev rustc-web rust-web-src libc6-dev-arm64-cross python3-venv)
# arm64 packages (multiarch): the standard library userland links against.
ARM64_PACKAGES=(libstd-rust-web-dev:arm64)
QEMU_MIN_MAJOR=9

missing_pkgs=()
missing_report=()

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

need() { # need <package> <why>
	local p
	for p in "${missing_pkgs[@]}"; do [ "$p" = "$1" ] && return 0; done
	missing_pkgs+=("$1")
	missing_report+=("$1 ($2)")
}

is_debian12() {
	[ -r /etc/os-release ] || return 1
	# shellcheck disable=SC1091
	(. /etc/os-release && [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ])
}

qemu_ok() {
	local v
	command -v qemu-system-aarch64 >/dev/null || return 1
	v=$(qemu-system-aarch64 --version | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
	[ -n "$v" ] && [ "$v" -ge "$QEMU_MIN_MAJOR" ] || return 1
	qemu-system-aarch64 -M help | grep -q '^raspi4b'
}

bindgen_ok() {
	local b v
	b=$(rpibsp_bindgen)
	[ -n "$b" ] || return 1
	v=$("$b" --version 2>/dev/null | awk '{print $2}')
	[ -n "$v" ] && [ "$(printf '%s\n%s\n' "$RPIBSP_BINDGEN_MIN" "$v" | sort -V | head -n1)" = "$RPIBSP_BINDGEN_MIN" ]
}

survey() {
	local entry cmd pkg
	missing_pkgs=()
	missing_report=()
	for entry in "${HOST_TOOLS[@]}"; do
		cmd=${entry%%:*} pkg=${entry#*:}
		command -v "$cmd" >/dev/null || need "$pkg" "command $cmd"
	done
	for pkg in "${HOST_PACKAGES[@]}" "${ARM64_PACKAGES[@]}"; do
		have_pkg "$pkg" || need "$pkg" "package"
	done
	[ -x "$RPIBSP_RUSTC" ] || need rustc-web "$RPIBSP_RUSTC"
	command -v cargo >/dev/null || need cargo "command cargo"
}

# Non-Debian hosts: say exactly what is needed, then stop.
if ! is_debian12; then
	cat >&2 <<EOF
error: this host is not Debian 12; the offline build is automated for Debian 12 (bookworm) amd64 only.
Install the equivalents of these yourself, then run 'make' again with the paths set:
  - clang, lld and llvm 19 (the kernel is built with LLVM=$LLVM_SUFFIX; set LLVM_SUFFIX= for unversioned names)
  - a Rust compiler with its library source matching exactly (rustup: 'rustup component add rust-src'),
    set RPIBSP_RUSTC=/path/to/rustc; and bindgen-cli >= $RPIBSP_BINDGEN_MIN ('cargo install bindgen-cli --locked')
  - the aarch64 Rust standard library (rustup: 'rustup target add aarch64-unknown-linux-gnu') and an
    aarch64 cross linker (aarch64-linux-gnu-gcc)
  - dtc with fdtoverlay, bc, bison, flex, libelf and libssl headers, cpio, kmod, make, perl, python3 with venv
  - qemu-system-aarch64 >= $QEMU_MIN_MAJOR with the raspi3b and raspi4b machines
  - genimage, mtools, dosfstools, e2fsprogs, bmap-tools, fakeroot, xz, zstd, shellcheck
  - the kernel source: Linux $KERNEL_VERSION (see kernel/source.env); or use the Buildroot tree under buildroot/
EOF
	missing_report=()
	for entry in "${HOST_TOOLS[@]}"; do
		command -v "${entry%%:*}" >/dev/null || missing_report+=("${entry%%:*}")
	done
	[ "${#missing_report[@]}" -eq 0 ] || printf 'Missing on this host now: %s\n' "${missing_report[*]}" >&2
	exit 1
fi

survey
qemu_ok || need qemu-system-arm "qemu-system-aarch64 >= $QEMU_MIN_MAJOR with raspi4b, from bookworm-backports"
bindgen_ok || missing_report+=("bindgen-cli >= $RPIBSP_BINDGEN_MIN (crate registry, built against libclang 19)")

if [ "${#missing_report[@]}" -eq 0 ]; then
	$check_only || msg "toolchain complete"
	exit 0
fi
if $check_only; then
	printf 'missing: %s\n' "${missing_report[@]}" >&2
	exit 1
fi

msg "installing: ${missing_report[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null ||
		die "not root and no sudo: install as root: apt-get install ${missing_pkgs[*]} (qemu-system-arm from bookworm-backports)"
	SUDO=(sudo)
fi
apt_get() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"; }

if [ "${#missing_pkgs[@]}" -gt 0 ]; then
	# arm64 multiarch for the aarch64 Rust standard library.
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		"${SUDO[@]}" dpkg --add-architecture arm64
	fi
	# bookworm's QEMU (7.2) lacks raspi4b: take qemu-system-arm from bookworm-backports.
	bpo=/etc/apt/sources.list.d/rpibsp-bookworm-backports.sources
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		"${SUDO[@]}" tee "$bpo" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	fi
	apt_get update
	regular=()
	for p in "${missing_pkgs[@]}"; do
		[ "$p" = qemu-system-arm ] || regular+=("$p")
	done
	[ "${#regular[@]}" -eq 0 ] || apt_get install --no-install-recommends "${regular[@]}"
	qemu_ok || apt_get install --no-install-recommends -t bookworm-backports qemu-system-arm
fi

if ! bindgen_ok; then
	msg "building bindgen-cli from the crate registry (about a minute)"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install --locked --root "$RPIBSP_CACHE/tools" bindgen-cli
fi

survey
qemu_ok || need qemu-system-arm "qemu-system-aarch64 >= $QEMU_MIN_MAJOR with raspi4b"
bindgen_ok || missing_report+=("bindgen-cli")
[ "${#missing_report[@]}" -eq 0 ] || die "still missing after installation: ${missing_report[*]}"
msg "toolchain complete"
