#!/usr/bin/env bash
# The build on a host that is not this one: what a new user's machine looks like (issue #16).
#
# 1. Static and unit checks of everything that reads host state (cheap): apt sources in either
#    format, the one place that reads them, PATH without the sbin directories, no HOME.
# 2. In clean Debian roots (scripts/fresh-root.sh: debootstrap minbase, deb822 apt sources only,
#    a normal user with sudo, no rustup or cargo, an empty ~/.cache/rpi-bsp, no terminal, no
#    standard input), for each release in RPIBSP_HOST_DISTS (default: "bookworm trixie"):
#    `scripts/setup.sh --check` names what is missing; `scripts/setup.sh` installs it all and the
#    check then passes; the root filesystem and the SD image are built there with an empty download
#    cache, reusing this host's kernel build (read-only) so that no kernel is compiled.
#    The full check (both README commands, cold, every step timed) is `make fresh-check`.
#
# Needs root (chroot); the suite runs as root in CI.  apt's .debs are shared between runs in
# $RPIBSP_FRESH_APT_CACHE (default /var/cache/rpibsp-fresh-apt): apt's cache, not the BSP's.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"

fr=$RPIBSP_ROOT/scripts/fresh-root.sh
logs=$RPIBSP_OUT/logs/host
mkdir -p "$logs"
tmp=$(mktemp -d)
roots=()
cleanup() {
	local r
	for r in "${roots[@]}"; do "$fr" destroy "$r" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- 1. Reading host state --------------------------------------------------------------------
# The apt sources are found in exactly one place (apt_source_files in scripts/lib.sh): a script that
# greps /etc/apt/sources.list itself breaks on a host whose sources are in deb822 form only.
# (scripts/fresh-root.sh writes a clean root's sources, which is what it is for.)
readers=$(git -C "$RPIBSP_ROOT" grep -lE 'apt/sources\.list([^.]|$)' -- '*.sh' '*.py' Makefile flash.sh |
	grep -vxE 'scripts/lib.sh|scripts/fresh-root.sh|tests/host/run.sh' || true)
if [ -z "$readers" ]; then
	ok "apt sources are found only by apt_source_files (scripts/lib.sh)"
else
	notok "apt sources are found only by apt_source_files (scripts/lib.sh)"
	printf '# reads apt sources itself (use apt_source_files/debian_mirror): %s\n' "$readers"
fi

mk_etc() { # mk_etc NAME: an etc tree with the given sources files (from here-documents)
	mkdir -p "$tmp/$1/apt/sources.list.d"
	printf '%s\n' "$tmp/$1"
}
e=$(mk_etc deb822)
cat >"$e/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: trixie trixie-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: trixie-security
Components: main
EOF
t "deb822 sources only: the mirror is found" test "$(debian_mirror "$e")" = http://mirror.example/debian
e=$(mk_etc oneline)
printf '# deb http://commented.example/debian bookworm main\ndeb [arch=amd64] http://one.example/debian/ bookworm main\n' \
	>"$e/apt/sources.list"
t "one-line sources with options and comments: the mirror is found" test "$(debian_mirror "$e")" = http://one.example/debian
e=$(mk_etc security-first)
printf 'Types: deb\nURIs: http://sec.example/debian-security\nSuites: trixie-security\nComponents: main\n' \
	>"$e/apt/sources.list.d/a.sources"
printf 'deb http://main.example/debian trixie main\n' >"$e/apt/sources.list.d/b.list"
t "the security archive is not taken for the main one" test "$(debian_mirror "$e")" = http://main.example/debian
e=$(mk_etc none)
t "no sources at all: Debian's default archive" test "$(debian_mirror "$e")" = http://deb.debian.org/debian
t "RPIBSP_DEBIAN_MIRROR wins" test "$(RPIBSP_DEBIAN_MIRROR=http://x.example/debian/ debian_mirror "$e")" = http://x.example/debian

# A normal user's PATH has no sbin directories; lib.sh adds them so installed tools are found.
t "lib.sh puts the sbin directories on a normal user's PATH" \
	env -i PATH=/usr/bin:/bin HOME="$tmp" bash -c ". '$RPIBSP_ROOT/scripts/lib.sh' && command -v depmod >/dev/null && command -v mkfs.ext4 >/dev/null"
fails_naming() { # fails_naming WORD CMD...: CMD fails and its output names WORD
	local word=$1 out
	shift
	if out=$("$@" 2>&1); then return 1; fi
	grep -q "$word" <<<"$out"
}
t "no HOME and no RPIBSP_CACHE: lib.sh fails, naming HOME" \
	fails_naming HOME env -i PATH=/usr/bin:/bin bash -c ". '$RPIBSP_ROOT/scripts/lib.sh'"
t "make with an empty HOME fails, naming HOME" fails_naming HOME env -i PATH=/usr/bin:/bin HOME= make -s -C "$RPIBSP_ROOT" setup
t "setup.sh --check passes on this host" "$RPIBSP_ROOT/scripts/setup.sh" --check

# --- 2. Clean roots ---------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "not ok - the clean-root checks need root (chroot, debootstrap): run the suite as root"
	tap_end
	exit 1
fi
command -v debootstrap >/dev/null || apt-get -y -q install --no-install-recommends debootstrap >/dev/null 2>&1 || true
t "debootstrap is available" bash -c 'command -v debootstrap >/dev/null'
export RPIBSP_FRESH_APT_CACHE=${RPIBSP_FRESH_APT_CACHE:-/var/cache/rpibsp-fresh-apt}
kb=$(kernel_build_dir bsp)
mods=$(find "$RPIBSP_OUT/modules-staging/lib/modules" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n1 || true)
if [ ! -f "$kb/arch/arm64/boot/Image" ] || [ -z "$mods" ] || [ ! -d "$RPIBSP_OUT/rootfs-extra" ]; then
	notok "a kernel build, staged modules and userland in $RPIBSP_OUT for the image step (run 'make image' first)"
	tap_end
	exit 1
fi

for dist in ${RPIBSP_HOST_DISTS-bookworm trixie}; do
	r=/var/tmp/rpibsp-host-$dist
	roots+=("$r")
	start=$SECONDS
	if ! "$fr" create "$dist" "$r" >"$logs/$dist-create.log" 2>&1; then
		notok "$dist: clean root created (log: $logs/$dist-create.log)"
		continue
	fi
	ok "$dist: clean root created ($((SECONDS - start)) s)"
	inroot() { "$fr" run "$r" "$@"; }
	t "$dist: deb822 sources only, no rustup or cargo, no HOME cache" \
		bash -c "[ ! -e '$r/etc/apt/sources.list' ] && [ -f '$r/etc/apt/sources.list.d/debian.sources' ] &&
			[ ! -e '$r/home/dev/.cargo' ] && [ ! -e '$r/home/dev/.cache/rpi-bsp' ] && ! chroot '$r' sh -c 'command -v cargo'"

	inroot scripts/setup.sh --check >"$logs/$dist-check.log" 2>&1 && rc=0 || rc=$?
	t "$dist: setup.sh --check on the bare root fails (status $rc) and names what is missing" \
		bash -c "[ $rc -eq 1 ] && grep -q '^missing: command clang-19' '$logs/$dist-check.log' &&
			grep -q 'missing: command patch' '$logs/$dist-check.log'"

	start=$SECONDS
	inroot scripts/setup.sh >"$logs/$dist-setup.log" 2>&1 && rc=0 || rc=$?
	t "$dist: setup.sh as a normal user with sudo, no terminal, installs everything ($((SECONDS - start)) s)" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$logs/$dist-setup.log" | tail -n 15
	t "$dist: setup.sh --check passes afterwards" inroot scripts/setup.sh --check
	t "$dist: a second setup.sh does nothing" bash -c "'$fr' run '$r' scripts/setup.sh 2>&1 | grep -qx '>>> toolchain complete'"

	# The image step with an empty download cache, on this host's kernel build (no compile).
	# (At a path the user can reach: the host's may be under /root.)
	mkdir -p "$r/opt/rpibsp-kbuild" "$r/home/dev/stage"
	mount --bind -o ro "$kb" "$r/opt/rpibsp-kbuild"
	cp -a "$mods" "$RPIBSP_OUT/rootfs-extra" "$RPIBSP_OUT/boot/overlays/rpibsp.dtbo" "$r/home/dev/stage/"
	chroot "$r" chown -R dev:dev /home/dev/stage
	start=$SECONDS
	inroot env RPIBSP_KBUILD=/opt/rpibsp-kbuild RPIBSP_OUT=/home/dev/out bash -c "
		set -euo pipefail
		mkdir -p /home/dev/out && cp -a /home/dev/stage/rootfs-extra /home/dev/out/
		scripts/rootfs.sh /home/dev/out/rootfs /home/dev/stage/${mods##*/}
		scripts/image.sh /home/dev/out/rootfs /home/dev/stage/rpibsp.dtbo" \
		>"$logs/$dist-image.log" 2>&1 && rc=0 || rc=$?
	t "$dist: rootfs and SD image built with an empty download cache ($((SECONDS - start)) s)" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$logs/$dist-image.log" | tail -n 15
	t "$dist: the image, its bmap and checksum are there" \
		test -s "$r/home/dev/out/sdcard.img" -a -s "$r/home/dev/out/sdcard.img.bmap" -a -s "$r/home/dev/out/sdcard.img.sha256"
	t "$dist: the firmware and busybox came through apt with deb822 sources" \
		bash -c "ls '$r/home/dev/.cache/rpi-bsp/dl/' | grep -q raspi-firmware && ls '$r/home/dev/.cache/rpi-bsp/dl/' | grep -q busybox-static"
	umount "$r/opt/rpibsp-kbuild" 2>/dev/null || true
	"$fr" destroy "$r" >/dev/null 2>&1 || notok "$dist: clean root removed"
done
tap_end
