#!/usr/bin/env bash
# Packs a directory into a gzip'ed newc cpio archive for the kernel, reproducibly and without root:
# every file is owned by root, every timestamp is 0, /dev/console exists (the kernel opens it
# before devtmpfs is mounted).  Uses the kernel build's own usr/gen_init_cpio.
#
#   scripts/initramfs.sh DIR OUTPUT.cpio.gz [KDIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: scripts/initramfs.sh DIR OUTPUT.cpio.gz [KDIR]"
dir=$(cd "$1" && pwd) out=$2
kdir=${3:-$("$RPIBSP_ROOT/scripts/kernel.sh" builddir)}
gen=$kdir/usr/gen_init_cpio
[ -x "$gen" ] || die "$gen is missing: the kernel build (CONFIG_BLK_DEV_INITRD=y) provides it"

list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort) | while read -r p; do
		p=${p#.}
		f=$dir$p
		mode=$(stat -c %a "$f")
		if [ -L "$f" ]; then
			echo "slink $p $(readlink "$f") 0777 0 0"
		elif [ -d "$f" ]; then
			[ "$p" = /dev ] || echo "dir $p $mode 0 0"
		elif [ -f "$f" ]; then
			echo "file $p $f $mode 0 0"
		fi
	done
} >"$list"
mkdir -p "$(dirname "$out")"
"$gen" -t 0 "$list" | gzip -n -9 >"$out.tmp"
mv "$out.tmp" "$out"
printf '%s\n' "$out"
