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
if [ -z "${RPIBSP_CACHE:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ] && [ -z "${HOME:-}" ]; then
	printf 'error: HOME is not set, so there is no ~/.cache/rpi-bsp: set HOME, or RPIBSP_CACHE to a writable directory\n' >&2
	exit 1
fi
RPIBSP_CACHE=${RPIBSP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rpi-bsp}
RPIBSP_JOBS=${RPIBSP_JOBS:-$(($(nproc) + 1))}
export RPIBSP_ROOT RPIBSP_OUT RPIBSP_CACHE RPIBSP_JOBS

# shellcheck source=../kernel/source.env
. "$RPIBSP_ROOT/kernel/source.env"
# shellcheck source=packages.env
. "$RPIBSP_ROOT/scripts/packages.env"

# A normal user's PATH on Debian has no sbin directories, where depmod, mkfs.*, losetup, partx
# and debugfs live: add them, so that a tool that is installed is also found.
for _d in /usr/local/sbin /usr/sbin /sbin; do
	case ":$PATH:" in *":$_d:"*) ;; *) PATH=$PATH:$_d ;; esac
done
unset _d
export PATH

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

# apt_source_files ETC: the apt source files under ETC (/etc; another tree in tests) that exist,
# in both formats.  The only place that knows where apt's sources are.
apt_source_files() {
	local f
	for f in "$1"/apt/sources.list "$1"/apt/sources.list.d/*.list "$1"/apt/sources.list.d/*.sources; do
		[ -r "$f" ] && printf '%s\n' "$f"
	done
	return 0
}

# The Debian archive the host's apt sources name, in either format (one-line sources.list or
# deb822 .sources, as Debian's container images and new installs ship); RPIBSP_DEBIAN_MIRROR wins.
# Comments are skipped; the security archive (.../debian-security) is not the one wanted.
debian_mirror() { # debian_mirror ETC
	local f m
	if [ -n "${RPIBSP_DEBIAN_MIRROR:-}" ]; then
		printf '%s\n' "${RPIBSP_DEBIAN_MIRROR%/}"
		return 0
	fi
	while IFS= read -r f; do
		m=$(awk '/^[[:space:]]*#/ { next }
			/^[[:space:]]*(deb|URIs:)[[:space:]]/ {
				for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { sub(/\/$/, "", $i); print $i; exit }
			}' "$f")
		if [ -n "$m" ]; then
			printf '%s\n' "$m"
			return 0
		fi
	done < <(apt_source_files "$1")
	printf '%s\n' http://deb.debian.org/debian
}

# apt_fetch SUITE COMPONENT PACKAGE VERSION SHA256 [ARCH]: one pinned .deb into $RPIBSP_CACHE/dl,
# verified, through a private apt configuration (the host's sources and package state stay as
# they are; nothing is installed).  Prints the file's path.
apt_fetch() {
	local suite=$1 comp=$2 pkg=$3 ver=$4 sum=$5 arch=${6:-all}
	local dl=$RPIBSP_CACHE/dl deb apt mirror
	deb=$dl/${pkg}_${ver//:/%3a}_$arch.deb
	if [ -f "$deb" ] && echo "$sum  $deb" | sha256sum -c --status; then
		printf '%s\n' "$deb"
		return 0
	fi
	mirror=$(debian_mirror /etc)
	msg "downloading $pkg $ver from Debian $suite ($comp) at $mirror"
	apt=$RPIBSP_CACHE/apt/$suite-$comp-$arch
	mkdir -p "$dl" "$apt/lists/partial" "$apt/cache/archives/partial"
	printf 'deb %s %s %s\n' "$mirror" "$suite" "$comp" >"$apt/sources.list"
	local -a aptopts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User="$(id -un)")
	local spec=$pkg=$ver
	[ "$arch" = all ] || { aptopts+=(-o "APT::Architectures::=$arch") && spec=$pkg:$arch=$ver; }
	apt-get "${aptopts[@]}" -q update >&2 ||
		die "cannot read the package lists of Debian $suite ($comp) from $mirror (see apt's messages above; \
RPIBSP_DEBIAN_MIRROR=<url> names another archive)"
	(cd "$dl" && apt-get "${aptopts[@]}" -q download "$spec" >&2) ||
		die "$pkg $ver is not in Debian $suite ($comp) at $mirror any more: pick the version apt offers there and \
update its pin (kernel/source.env or scripts/packages.env)"
	echo "$sum  $deb" | sha256sum -c --status ||
		die "$deb does not match its pinned SHA-256 ($sum)"
	printf '%s\n' "$deb"
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

# free_port: a loopback TCP port that is free now (another process may take it before use).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
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

# Kernel variants: "bsp" (the product), "debug" (KASAN, lockdep, kmemleak... for the
# reliability suite) and "buildroot" (what the Buildroot tree builds: arm64's defconfig with the
# product's fragments, instead of allnoconfig).  Each has its config fragments.
kernel_fragments() {
	local variant=${1:-bsp}
	printf '%s\n' "$RPIBSP_ROOT/kernel/bsp.config"
	case "$variant" in
	bsp | buildroot) printf '%s\n' "$RPIBSP_ROOT/kernel/net.config" ;;
	debug) printf '%s\n' "$RPIBSP_ROOT/kernel/debug.config" ;;
	*) die "unknown kernel variant '$variant' (known: bsp, debug, buildroot)" ;;
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

# progress_run LABEL LOG EXPECTED CMD...: runs CMD (a kbuild make) in the foreground, its output
# in LOG, and shows how far it is: the kbuild steps done (the "  CC  file" lines), out of EXPECTED
# when that is known (a measured count; empty: no percentage), and the elapsed time.  On a
# terminal a single updating line; otherwise (CI logs) a plain line every RPIBSP_PROGRESS_EVERY
# seconds (default 30).  CMD's exit status is returned.
progress_run() {
	local label=$1 log=$2 expected=$3 mon rc=0 start=$SECONDS n el
	shift 3
	: >"$log"
	rm -f "$log.done"
	progress_monitor "$label" "$log" "$expected" "$start" "$BASHPID" &
	mon=$!
	"$@" >"$log" 2>&1 || rc=$?
	# The monitor stops at its next look (a signal could cut it off in the middle of a line).
	: >"$log.done"
	wait "$mon" 2>/dev/null || true
	rm -f "$log.done"
	n=$(progress_steps "$log") el=$((SECONDS - start))
	local res="done"
	[ "$rc" -eq 0 ] || res=FAILED
	[ -t 2 ] && printf '\r\033[K' >&2
	printf '>>> %s: %s, %d steps in %d:%02d\n' "$label" "$res" "$n" $((el / 60)) $((el % 60)) >&2
	return "$rc"
}

progress_steps() { grep -c '^  [A-Z]' "$1" 2>/dev/null || true; }

progress_monitor() { # progress_monitor LABEL LOG EXPECTED START PARENT_PID
	local every=${RPIBSP_PROGRESS_EVERY:-30} last=$SECONDS n el line
	while kill -0 "$5" 2>/dev/null; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[ -e "$2.done" ] && return 0
			sleep 0.2
		done
		n=$(progress_steps "$2") el=$((SECONDS - $4))
		line="$1: $n steps"
		if [ -n "$3" ] && [ "$3" -gt 0 ]; then
			line+=" of ~$3 ($((n * 100 / $3 > 99 ? 99 : n * 100 / $3))%)"
		fi
		line+=$(printf ', %d:%02d elapsed' $((el / 60)) $((el % 60)))
		if [ -t 2 ]; then
			printf '\r\033[K>>> %s' "$line" >&2
		elif [ $((SECONDS - last)) -ge "$every" ]; then
			last=$SECONDS
			printf '>>> %s\n' "$line" >&2
		fi
	done
}
