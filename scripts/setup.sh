#!/usr/bin/env bash
# Installs what the offline build needs, idempotently: a second run that finds everything does
# nothing.  Run automatically by `make` and `make test`; safe to run by hand.
#
# It decides by what it finds, not by the distribution's name: every tool and library the build
# uses is looked for (commands on PATH, the Rust library source and aarch64 standard library of
# $RPIBSP_RUSTC, headers, QEMU machines); when all are there, on any host, it goes on.  What is
# missing is installed on Debian 12 (bookworm) and Debian 13 (trixie), as root or through sudo;
# on any other host it lists exactly what is missing and stops.
#
#   scripts/setup.sh            install what is missing
#   scripts/setup.sh --check    only report; exit 1 when something is missing
set -euo pipefail
. "$(dirname "$0")/lib.sh"

check_only=false
case "${1:-}" in
--check) check_only=true ;;
"") ;;
-h | --help)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*) die "unknown option '$1' (try --help)" ;;
esac

LLVM_VER=${LLVM_SUFFIX#-}
# command -> Debian package providing it.
HOST_TOOLS=(
	"clang$LLVM_SUFFIX:clang-$LLVM_VER" "ld.lld$LLVM_SUFFIX:lld-$LLVM_VER" "llvm-ar$LLVM_SUFFIX:llvm-$LLVM_VER"
	"aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu"
	"dtc:device-tree-compiler" "fdtoverlay:device-tree-compiler" "fdtget:device-tree-compiler"
	"bc:bc" "bison:bison" "flex:flex" "cpio:cpio" "depmod:kmod" "make:make" "perl:perl" "patch:patch"
	"python3:python3" "rsync:rsync" "file:file" "git:git" "pkg-config:pkg-config"
	"xz:xz-utils" "zstd:zstd" "gzip:gzip" "sha256sum:coreutils" "timeout:coreutils"
	"mkfs.vfat:dosfstools" "mcopy:mtools" "mkfs.ext4:e2fsprogs" "genimage:genimage" "bmaptool:bmap-tools"
	"fakeroot:fakeroot" "shellcheck:shellcheck" "qemu-img:qemu-utils" "losetup:mount" "lsblk:util-linux"
	"apt-get:apt" "dpkg-deb:dpkg" "readelf:binutils" "script:bsdutils" "partx:util-linux"
	"debugfs:e2fsprogs" "qemu-aarch64-static:qemu-user-static" "expect:expect" "pyflakes3:pyflakes3" "ser2net:ser2net"
	"busybox:busybox"
)
QEMU_MIN_MAJOR=9
CARGO_MIN=1.78.0 # Cargo.lock version 4

missing_pkgs=()   # Debian packages that provide what is missing
missing_report=() # what is missing, in words
bindgen_missing=false qemu_missing=false

need() { # need <Debian package> <what is missing>
	local p
	missing_report+=("$2")
	for p in "${missing_pkgs[@]}"; do [ "$p" = "$1" ] && return 0; done
	missing_pkgs+=("$1")
}

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

qemu_ok() {
	local v
	command -v qemu-system-aarch64 >/dev/null || return 1
	v=$(qemu-system-aarch64 --version | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
	[ -n "$v" ] && [ "$v" -ge "$QEMU_MIN_MAJOR" ] || return 1
	qemu-system-aarch64 -M help | grep -q '^raspi4b'
}

# bindgen new enough, and able to load libclang (the kernel runs it on its headers).
bindgen_ok() {
	local b v t ok=1
	b=$(rpibsp_bindgen)
	[ -n "$b" ] || return 1
	v=$("$b" --version 2>/dev/null | awk '{print $2}')
	[ -n "$v" ] && version_ge "$v" "$RPIBSP_BINDGEN_MIN" || return 1
	t=$(mktemp -d)
	echo 'struct rpibsp_probe { int x; };' >"$t/probe.h"
	"$b" "$t/probe.h" >/dev/null 2>&1 || ok=0
	rm -rf "$t"
	[ "$ok" -eq 1 ]
}

compiles() { # compiles <compiler> <C source>: true when the compiler is there and finds the headers
	command -v "$1" >/dev/null && printf '%s\n' "$2" | "$1" -E -x c - >/dev/null 2>&1
}

survey() {
	local entry cmd pkg sysroot v
	missing_pkgs=() missing_report=()
	for entry in "${HOST_TOOLS[@]}"; do
		cmd=${entry%%:*} pkg=${entry#*:}
		command -v "$cmd" >/dev/null || need "$pkg" "command $cmd"
	done
	# The kernel's Rust: a compiler with the library source of exactly its version.
	if [ -x "$RPIBSP_RUSTC" ]; then
		sysroot=$("$RPIBSP_RUSTC" --print sysroot 2>/dev/null || true)
		[ -f "$sysroot/lib/rustlib/src/rust/library/core/src/lib.rs" ] ||
			need rust-web-src "the Rust library source of $RPIBSP_RUSTC (rust-src)"
		compgen -G "$sysroot/lib/rustlib/aarch64-unknown-linux-gnu/lib/libstd-*.rlib" >/dev/null ||
			need libstd-rust-web-dev:arm64 "the aarch64 Rust standard library of $RPIBSP_RUSTC"
	else
		need rustc-web "the Rust compiler $RPIBSP_RUSTC (RPIBSP_RUSTC)"
		need rust-web-src "the Rust library source of $RPIBSP_RUSTC (rust-src)"
		need libstd-rust-web-dev:arm64 "the aarch64 Rust standard library of $RPIBSP_RUSTC"
	fi
	v=$(cargo --version 2>/dev/null | awk '{print $2}' || true)
	if [ -z "$v" ]; then
		need cargo-web "command cargo (>= $CARGO_MIN)"
	elif ! version_ge "$v" "$CARGO_MIN"; then
		need cargo-web "cargo >= $CARGO_MIN (found $v at $(command -v cargo))"
	fi
	# Headers and libraries, looked for through the compilers that use them (when a compiler is
	# missing too, its libraries are taken as missing).
	compiles "clang$LLVM_SUFFIX" '#include <gelf.h>' || need libelf-dev "the libelf headers (gelf.h)"
	compiles "clang$LLVM_SUFFIX" '#include <openssl/evp.h>' || need libssl-dev "the OpenSSL headers (openssl/evp.h)"
	v=$(aarch64-linux-gnu-gcc -print-file-name=libc.a 2>/dev/null || true)
	if [ -z "$v" ] || [ "$v" = libc.a ]; then
		need libc6-dev-arm64-cross "the aarch64 C library for static linking (libc.a)"
	fi
	python3 -c 'import venv, ensurepip' 2>/dev/null || need python3-venv "Python's venv with ensurepip"
	[ -r /etc/ssl/certs/ca-certificates.crt ] || need ca-certificates "the CA certificates (HTTPS to the registries)"
	qemu_missing=false bindgen_missing=false
	qemu_ok || {
		qemu_missing=true
		need qemu-system-arm "qemu-system-aarch64 >= $QEMU_MIN_MAJOR with the raspi3b and raspi4b machines"
	}
	bindgen_ok || {
		bindgen_missing=true
		missing_report+=("bindgen-cli >= $RPIBSP_BINDGEN_MIN able to load libclang $LLVM_VER")
	}
	return 0
}

host_codename() { # the Debian release this script can install on, or nothing
	[ -r /etc/os-release ] || return 0
	# shellcheck disable=SC1091
	(. /etc/os-release && [ "${ID:-}" = debian ] && case "${VERSION_CODENAME:-}" in
		bookworm | trixie) printf '%s\n' "$VERSION_CODENAME" ;;
		esac) || true
}

survey
if [ "${#missing_report[@]}" -eq 0 ]; then
	$check_only || msg "toolchain complete"
	exit 0
fi
if $check_only; then
	printf 'missing: %s\n' "${missing_report[@]}" >&2
	exit 1
fi

codename=$(host_codename)
if [ -z "$codename" ]; then
	{
		printf 'error: missing on this host:\n'
		printf '  - %s\n' "${missing_report[@]}"
		cat <<EOF
Installation is automated on Debian 12 (bookworm) and Debian 13 (trixie) only; install these yourself
(Debian names: ${missing_pkgs[*]}), then run 'make' again. Notes:
  - LLVM/clang/lld $LLVM_VER (LLVM_SUFFIX=$LLVM_SUFFIX; set LLVM_SUFFIX= for unversioned names)
  - a Rust compiler with its exact library source (rustup: 'rustup component add rust-src') and the
    aarch64 target ('rustup target add aarch64-unknown-linux-gnu'): RPIBSP_RUSTC=\$(rustup which rustc)
  - bindgen-cli >= $RPIBSP_BINDGEN_MIN: 'cargo install bindgen-cli --locked' (needs libclang)
  - qemu-system-aarch64 >= $QEMU_MIN_MAJOR with the raspi3b and raspi4b machines
EOF
	} >&2
	exit 1
fi

msg "installing on Debian $codename: ${missing_report[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null ||
		die "not root and no sudo: as root, run 'apt-get install ${missing_pkgs[*]}' or this script"
	if ! sudo -n true 2>/dev/null && ! [ -t 0 ]; then
		die "sudo asks for a password and there is no terminal to type it: run 'sudo $0' once from a terminal"
	fi
	SUDO=(sudo)
fi
apt_get() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@"; }

# Per release: bookworm's QEMU (7.2) lacks raspi4b (bookworm-backports has 10), its bindgen (0.60)
# is too old (built from the crate registry below), its `cargo` (1.65) is too old (cargo-web,
# from bookworm-security, matches rustc-web).  trixie has all of it in the release itself.
qemu_suite=()
[ "$codename" = bookworm ] && qemu_suite=(-t bookworm-backports)
if $bindgen_missing && [ "$codename" = trixie ]; then
	need bindgen "bindgen"
	bindgen_missing=false
fi
if $bindgen_missing; then
	need "libclang-$LLVM_VER-dev" "libclang $LLVM_VER (to build bindgen-cli)"
	need cargo-web "cargo (to build bindgen-cli)"
fi

# The aarch64 standard library is a multiarch package.
for p in "${missing_pkgs[@]}"; do
	if [ "${p%:arm64}" != "$p" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
		"${SUDO[@]}" dpkg --add-architecture arm64
	fi
done
if $qemu_missing && [ "$codename" = bookworm ] &&
	! apt_source_files /etc | xargs -r grep -qsE '^[^#]*bookworm-backports'; then
	msg "adding bookworm-backports to apt's sources (for qemu-system-arm 10 with raspi4b)"
	"${SUDO[@]}" tee /etc/apt/sources.list.d/rpibsp-bookworm-backports.sources >/dev/null <<EOF
Types: deb
URIs: $(debian_mirror /etc)
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
apt_get update || die "apt-get update failed (see above): check apt's sources and the network"
regular=()
for p in "${missing_pkgs[@]}"; do
	[ "$p" = qemu-system-arm ] || regular+=("$p")
done
if [ "${#regular[@]}" -gt 0 ]; then
	apt_get install --no-install-recommends "${regular[@]}" ||
		die "apt-get could not install: ${regular[*]} (see above)"
fi
if $qemu_missing; then
	apt_get install --no-install-recommends "${qemu_suite[@]}" qemu-system-arm ||
		die "apt-get could not install qemu-system-arm ${qemu_suite[*]} (see above)"
fi

if $bindgen_missing && ! bindgen_ok; then
	msg "building bindgen-cli from the crate registry into $RPIBSP_CACHE/tools (cargo shows its progress)"
	LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VER/lib cargo install --locked --root "$RPIBSP_CACHE/tools" bindgen-cli ||
		die "cargo could not build bindgen-cli (see above)"
fi

survey
if [ "${#missing_report[@]}" -ne 0 ]; then
	printf 'error: still missing after installation:\n' >&2
	printf '  - %s\n' "${missing_report[@]}" >&2
	exit 1
fi
msg "toolchain complete"
