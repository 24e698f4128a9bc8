#!/usr/bin/env bash
# Assembles the BSP's root filesystem tree (used by the emulated-board initramfs and by the SD
# image): busybox from Debian's busybox-static:arm64, e2fsck from its e2fsck-static:arm64, the
# files under rootfs/, the staged modules and the aarch64 userland tools.
#
#   scripts/rootfs.sh DIR MODULES_DIR
#     DIR          the tree to (re)create
#     MODULES_DIR  /lib/modules/<release> to copy (from scripts/modules.sh)
# Userland binaries are taken from $RPIBSP_OUT/rootfs-extra when present (userland/build.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: scripts/rootfs.sh DIR MODULES_DIR"
dir=$1 mods=$2
[ -d "$mods" ] || die "no modules directory $mods (run scripts/modules.sh)"

# Debian's busybox-static for arm64 (the binary) and for amd64 (only to list the applets of the
# same build configuration, since the arm64 binary cannot run here), pinned in scripts/packages.env.
bb_arm64=$(apt_fetch "$BUSYBOX_DEB_SUITE" main busybox-static "$BUSYBOX_DEB_VERSION" "$BUSYBOX_DEB_SHA256_ARM64" arm64)
bb_amd64=$(apt_fetch "$BUSYBOX_DEB_SUITE" main busybox-static "$BUSYBOX_DEB_VERSION" "$BUSYBOX_DEB_SHA256_AMD64" amd64)
e2fsck=$(apt_fetch "$E2FSCK_DEB_SUITE" main e2fsck-static "$E2FSCK_DEB_VERSION" "$E2FSCK_DEB_SHA256_ARM64" arm64)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$dir"
mkdir -p "$dir"
cp -a "$RPIBSP_ROOT/rootfs/." "$dir/"
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,mnt,lib/modules,var/log}
dpkg-deb -x "$bb_arm64" "$tmp/arm64"
dpkg-deb -x "$bb_amd64" "$tmp/amd64"
install -m 0755 "$tmp/arm64/bin/busybox" "$dir/bin/busybox"
# e2fsck (static) before busybox's applet links, so that fsck.ext4 and e2fsck are the real checker.
dpkg-deb -x "$e2fsck" "$tmp/e2fsck"
install -m 0755 "$tmp/e2fsck/sbin/e2fsck.static" "$dir/sbin/e2fsck"
ln -s e2fsck "$dir/sbin/fsck.ext4"
"$tmp/amd64/bin/busybox" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	[ -e "$dir/$applet" ] && continue
	case "$applet" in
	*/*) ln -s "$(dirname "$applet" | sed 's|[^/]*|..|g')/bin/busybox" "$dir/$applet" ;;
	*) ln -s bin/busybox "$dir/$applet" ;;
	esac
done
ln -sf sbin/init "$dir/init"

cp -a "$mods" "$dir/lib/modules/"
if [ -d "$RPIBSP_OUT/rootfs-extra" ]; then
	cp -a "$RPIBSP_OUT/rootfs-extra/." "$dir/"
fi
printf '%s\n' "$dir"
