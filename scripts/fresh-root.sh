#!/usr/bin/env bash
# A clean Debian root filesystem that looks like a new user's machine, for the fresh-machine
# check (scripts/fresh-check.sh) and the host suite (tests/host): debootstrap --variant=minbase,
# apt sources in deb822 form only (/etc/apt/sources.list.d/debian.sources, as Debian's container
# images and new installs ship them), no rustup, no cargo, nothing of the BSP's cache, a normal
# user "dev" with passwordless sudo and a clone of the repository in its home.
#
#   scripts/fresh-root.sh create DIST DIR   make the root (DIST: bookworm or trixie); needs root
#   scripts/fresh-root.sh run DIR CMD...    run CMD as the user "dev" in DIR's ~/rpi-bsp, the way a
#                                           user's login shell would (PATH without the sbin
#                                           directories, no terminal, no standard input)
#   scripts/fresh-root.sh destroy DIR       unmount and remove it
#
# The root's /proc, /sys, /dev and /dev/pts are the host's (bind mounts, needed by apt, QEMU and
# loop devices).  When $RPIBSP_FRESH_APT_CACHE is set, its .debs seed the root's own apt cache
# and the root's new ones go back there when it is removed (debootstrap's --cache-dir too), to
# spare repeated downloads of the same .debs: it is apt's cache, not the BSP's.  The host's extra CA certificates (/usr/local/share/ca-certificates)
# are installed in the root, so that HTTPS works behind the same proxy as the host.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MOUNTS=(proc sys dev dev/pts)

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root (debootstrap, chroot and bind mounts): run it with sudo"; }

mounted() { findmnt -rn -o TARGET | grep -qxF "$1"; }

mount_all() {
	local dir=$1 m
	for m in "${MOUNTS[@]}"; do
		mkdir -p "$dir/$m"
		mounted "$dir/$m" || mount --bind "/$m" "$dir/$m"
	done
}

# The shared .debs go into a root's own apt cache when it is made, and the new ones come back when
# it is removed: copies (hard links where possible), never a shared directory, so that roots in
# use at the same time do not fight over apt's lock.
seed_apt_cache() {
	local dir=$1 c=${RPIBSP_FRESH_APT_CACHE:-}
	[ -n "$c" ] && [ -d "$c" ] || return 0
	mkdir -p "$dir/var/cache/apt/archives"
	find "$c" -maxdepth 1 -name '*.deb' -exec cp -l -n -t "$dir/var/cache/apt/archives/" {} + 2>/dev/null ||
		find "$c" -maxdepth 1 -name '*.deb' -exec cp -n -t "$dir/var/cache/apt/archives/" {} +
}
harvest_apt_cache() {
	local dir=$1 c=${RPIBSP_FRESH_APT_CACHE:-}
	[ -n "$c" ] && [ -d "$dir/var/cache/apt/archives" ] || return 0
	mkdir -p "$c"
	find "$dir/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -n -t "$c/" {} + || true
}

umount_all() {
	local dir=$1 t
	[ -d "$dir" ] || return 0
	# Deepest first; a lazy unmount so that a process still leaving does not keep them busy.
	{ findmnt -rn -o TARGET | grep -F "$(realpath "$dir")/" || true; } | sort -r | while read -r t; do
		umount -l "$t" || warn "cannot unmount $t"
	done
}

create() {
	local dist=$1 dir=$2 mirror security
	need_root "creating a clean root"
	case "$dist" in bookworm | trixie) ;; *) die "unknown DIST '$dist' (bookworm or trixie)" ;; esac
	command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
	[ ! -e "$dir" ] || destroy "$dir"
	mirror=$(debian_mirror /etc)
	security=${mirror%/debian}/debian-security
	msg "debootstrap $dist (minbase) into $dir from $mirror"
	mkdir -p "$dir"
	local -a cache=()
	if [ -n "${RPIBSP_FRESH_APT_CACHE:-}" ]; then
		mkdir -p "$RPIBSP_FRESH_APT_CACHE"
		cache=(--cache-dir="$(realpath "$RPIBSP_FRESH_APT_CACHE")")
	fi
	debootstrap "${cache[@]}" --variant=minbase --include=ca-certificates,git,make,sudo "$dist" "$dir" "$mirror" \
		>"$dir.debootstrap.log" 2>&1 || {
		tail -n 20 "$dir.debootstrap.log" >&2
		die "debootstrap $dist failed (log: $dir.debootstrap.log)"
	}
	rm -f "$dir/etc/apt/sources.list"
	cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $dist $dist-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $dist-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	# No service may start inside the root while packages are installed.
	printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
	chmod 0755 "$dir/usr/sbin/policy-rc.d"
	if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
		cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
		chroot "$dir" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in $dir"
	fi
	cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
	chroot "$dir" useradd -m -s /bin/bash dev
	echo 'dev ALL=(ALL) NOPASSWD: ALL' >"$dir/etc/sudoers.d/dev"
	chmod 0440 "$dir/etc/sudoers.d/dev"
	# The repository as a user would have it: a clone of the committed tree.
	seed_apt_cache "$dir"
	git clone -q --no-hardlinks "$RPIBSP_ROOT" "$dir/home/dev/rpi-bsp"
	chroot "$dir" chown -R dev:dev /home/dev
	mount_all "$dir"
	msg "clean $dist root ready: $dir"
}

run() {
	local dir=$1
	shift
	need_root "running in a clean root"
	[ -d "$dir/home/dev/rpi-bsp" ] || die "$dir is not a root made by '$0 create'"
	mount_all "$dir"
	# A login environment as a new user gets it from Debian: /etc/profile's PATH for a normal user
	# (no sbin directories), HOME, no terminal, nothing on standard input.
	chroot "$dir" /usr/bin/env -i HOME=/home/dev USER=dev LOGNAME=dev SHELL=/bin/bash LANG=C.UTF-8 \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games \
		setpriv --reuid=dev --regid=dev --init-groups \
		/bin/bash -c 'cd ~/rpi-bsp && exec "$@"' bash "$@" </dev/null
}

destroy() {
	local dir=$1
	need_root "removing a clean root"
	umount_all "$dir"
	harvest_apt_cache "$dir"
	if findmnt -rn -o TARGET | grep -qF "$(realpath "$dir")/"; then
		die "$dir still has mounts; not removing it"
	fi
	rm -rf --one-file-system "$dir" "$dir.debootstrap.log"
}

case "${1:-}" in
create)
	[ $# -eq 3 ] || die "usage: $0 create DIST DIR"
	create "$2" "$3"
	;;
run)
	[ $# -ge 3 ] || die "usage: $0 run DIR CMD..."
	run "${@:2}"
	;;
destroy)
	[ $# -eq 2 ] || die "usage: $0 destroy DIR"
	destroy "$2"
	;;
*)
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
