#!/bin/bash
# Checks are written as: check NAME eval 'CONDITION' -- the single quotes defer
# the expansion to the moment of the check on purpose.
# shellcheck disable=SC2016
#
# tests/flash/run.sh - TAP test suite for flash.sh (project issue #10).
#
# Needs root and loop devices: every write goes to a loop device backed by a
# file under a temporary directory.  Where a removable USB/MMC card has to be
# simulated, flash.sh runs with --test-mode and its test hooks point it at a
# fake sysfs tree (a copy of the loop device's real attributes with
# removable=1, plus fake dm devices) and at tests/flash/fake-lsblk (the real
# lsblk with the loop device shown as a USB card reader).  Without loop devices
# the suite fails; it never passes vacuously.  The hooks themselves are tested
# too: refused without --test-mode, and with it no target but a loop device
# backed by a file, however the faked views describe it.
#
# Also lints flash.sh and these scripts (shellcheck) and the Python helpers in
# scripts/flash/ and tests/flash/ (py_compile, pyflakes3).
#
# Environment (from the top-level runner; defaults for a manual run):
#   RPIBSP_OUT, RPIBSP_CACHE, RPIBSP_KSRC, RPIBSP_KBUILD - not needed here.
#   FLASH_UNDER_TEST - a modified copy of flash.sh to test instead; it needs
#                      scripts/flash/ beside it, as flash.sh does.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FLASH=${FLASH_UNDER_TEST:-$ROOT/flash.sh} # override: to try a modified copy
export RPIBSP_OUT=${RPIBSP_OUT:-$ROOT/out}

N=0
FAILS=0
RC=0
W=
LOOPS=()
MOUNTS=()
BGPIDS=()

ok() {
	N=$((N + 1))
	echo "ok $N - $1"
}

notok() { # name [diagnostic lines...]
	N=$((N + 1))
	FAILS=$((FAILS + 1))
	echo "not ok $N - $1"
	shift
	local l
	for l in "$@"; do echo "# $l"; done
	if [[ -n $W && -f $W/out ]]; then
		echo "# --- flash.sh output (last 15 lines), exit status $RC:"
		tail -n 15 "$W/out" | sed 's/^/#   /'
	fi
}

check() { # name command...  (ok if the command succeeds)
	local name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}

cleanup() {
	local p m l
	set +e
	for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	for m in "${MOUNTS[@]}"; do mountpoint -q "$m" && umount "$m"; done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	if [[ -n $W ]]; then rm -rf -- "$W"; fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT TERM

bail() { # prerequisite missing: one failing check, then stop
	notok "$1" "${@:2}"
	echo "1..$N"
	exit 1
}

# ---------------------------------------------------------------- helpers --

newloop() { # VAR FILE SIZE_MIB: attach FILE (created) to a loop device, name in VAR
	local dev
	truncate -s "$3M" "$2"
	dev=$(losetup -f --show -P "$2") || return 1
	LOOPS+=("$dev")
	printf -v "$1" '%s' "$dev"
}

le32() {
	local v=$1
	printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $(((v >> 8) & 255)) $(((v >> 16) & 255)) $(((v >> 24) & 255))
}

mbr_entry() { # TYPE(hex) START SECTORS
	# shellcheck disable=SC2059 # the format is built from escapes on purpose
	printf "\\x00\\xfe\\xff\\xff\\x$1\\xfe\\xff\\xff$(le32 "$2")$(le32 "$3")"
}

write_mbr() { # FILE: two partitions, 1-7 MiB (FAT32 LBA) and 8-14 MiB (swap)
	{
		head -c 446 /dev/zero
		mbr_entry 0c 2048 12288
		mbr_entry 82 16384 12288
		head -c 32 /dev/zero
		printf '\x55\xaa'
	} | dd of="$1" conv=notrunc status=none
}

# fake_sys DIR DISK REMOVABLE: a sysfs tree with DISK (and its partitions)
# copied from the real /sys, with the removable flag set as given.
fake_sys() {
	local dir=$1 disk=$2 rm=$3 real=/sys/class/block/$2 p pn a
	mkdir -p "$dir/class/block" "$dir/dev/block" "$dir/devices/virtual/block/$disk/slaves" "$dir/devices/virtual/block/$disk/holders"
	for a in dev size ro diskseq; do
		if [[ -e $real/$a ]]; then cat "$real/$a" >"$dir/devices/virtual/block/$disk/$a"; fi
	done
	echo "$rm" >"$dir/devices/virtual/block/$disk/removable"
	ln -s "../../devices/virtual/block/$disk" "$dir/class/block/$disk"
	ln -s "../../devices/virtual/block/$disk" "$dir/dev/block/$(cat "$real/dev")"
	for p in "$real"/*/partition; do
		[[ -e $p ]] || continue
		pn=${p%/partition}
		pn=${pn##*/}
		mkdir -p "$dir/devices/virtual/block/$disk/$pn/holders" "$dir/devices/virtual/block/$disk/$pn/slaves"
		for a in dev size ro partition; do cat "$real/$pn/$a" >"$dir/devices/virtual/block/$disk/$pn/$a"; done
		ln -s "../../devices/virtual/block/$disk/$pn" "$dir/class/block/$pn"
		ln -s "../../devices/virtual/block/$disk/$pn" "$dir/dev/block/$(cat "$real/$pn/dev")"
	done
}

# fake_dm DIR NAME MAJ:MIN DISK PART: a device-mapper device NAME stacked on
# partition PART of DISK (slaves/ and holders/ links, as the kernel makes them).
fake_dm() {
	local dir=$1 name=$2 mm=$3 disk=$4 part=$5
	mkdir -p "$dir/devices/virtual/block/$name/slaves" "$dir/devices/virtual/block/$name/holders"
	echo "$mm" >"$dir/devices/virtual/block/$name/dev"
	echo 0 >"$dir/devices/virtual/block/$name/removable"
	ln -s "../../$disk/$part" "$dir/devices/virtual/block/$name/slaves/$part"
	ln -s "../../../$name" "$dir/devices/virtual/block/$disk/$part/holders/$name"
	ln -s "../../devices/virtual/block/$name" "$dir/class/block/$name"
	ln -s "../../devices/virtual/block/$name" "$dir/dev/block/$mm"
}

devsha() { # DEV [LEN]: SHA-256 of the first LEN bytes (default: all), page cache bypassed
	local dev=$1 len=${2:-} size
	size=$(blockdev --getsize64 "$dev")
	len=${len:-$size}
	dd if="$dev" bs=1M iflag=direct,count_bytes count="$size" status=none |
		{
			head -c "$len"
			cat >/dev/null
		} | sha256sum | cut -c1-64
}

fill() { # DEV: overwrite the whole device with 0xA5 bytes
	dd if="$W/pattern" of="$1" bs=1M count="$(($(blockdev --getsize64 "$1") >> 20))" oflag=direct conv=fsync status=none
}

# run flash.sh with stdin from /dev/null; output in $W/out, status in RC
flash() {
	RC=0
	"$FLASH" "$@" >"$W/out" 2>&1 </dev/null || RC=$?
}

# FE: environment for the fake view of disk $1 (removable flag $2 = sysfs
# tree sys-$1-rm$2, transport $3)
fake_env() {
	FE=(FLASH_SYSFS="$W/sys-$1-rm${2:-1}" FLASH_LSBLK="$HERE/fake-lsblk" FAKE_LSBLK_DISK="$1" FAKE_LSBLK_TRAN="${3:-usb}" FAKE_LSBLK_RM="${2:-1}")
}

flash_fake() { # DISK REMOVABLE TRAN flash-args...
	fake_env "$1" "$2" "$3"
	shift 3
	RC=0
	env "${FE[@]}" "$FLASH" --test-mode "$@" >"$W/out" 2>&1 </dev/null || RC=$?
}

has() { grep -q -- "$1" "$W/out"; }

refused() { # PATTERN DEV SHA_BEFORE: non-zero, message, nothing written
	((RC != 0)) && has "$1" && has "nothing was written" && [[ $(devsha "$2") == "$3" ]]
}

written() { # DEV LEN SHA: exit 0, "verified", and the device really holds it
	((RC == 0)) && has "and verified" && [[ $(devsha "$1" "$2") == "$3" ]]
}

holders_of() { # DEV DIR: pids of processes that have DEV open or run from DIR
	local p f a
	local -a args
	find /proc/[0-9]*/fd -maxdepth 1 -lname "$1" 2>/dev/null | cut -d/ -f3
	for f in /proc/[0-9]*/cmdline; do
		mapfile -d '' args 2>/dev/null <"$f" || continue
		for a in "${args[@]}"; do
			if [[ $a == "$2"* ]]; then
				p=${f#/proc/}
				echo "${p%%/*}"
				break
			fi
		done
	done
}

# ------------------------------------------------------------ prerequisites --

echo "# flash.sh test suite: $FLASH"
[[ $(id -u) == 0 ]] || bail "running as root" "the suite needs root (loop devices, mounts)"
for t in losetup partx lsblk blockdev bmaptool xz gzip zstd python3 script setpriv mkfs.ext2 mountpoint shellcheck sha256sum; do
	command -v "$t" >/dev/null 2>&1 || bail "tool $t available" "install it (see the flash.sh section of the README)"
done
W=$(mktemp -d /tmp/flash-test.XXXXXX)
if ! newloop LW "$W/lw.img" 16; then
	bail "loop devices available" "losetup -f --show failed: loop devices are unavailable here, so flash.sh cannot be tested"
fi
newloop LS "$W/ls.img" 4 || bail "second loop device"
truncate -s 16M "$W/lp.img"
write_mbr "$W/lp.img"
newloop LP "$W/lp.img" 16 || bail "third loop device"
# The kernel may lack partition-table parsers; partx reads the table itself
# and adds the partitions with BLKPG.
if [[ ! -b ${LP}p2 ]]; then partx -a "$LP" 2>/dev/null || true; fi
for i in $(seq 50); do
	[[ -b ${LP}p2 ]] && break
	sleep 0.1
done
[[ -b ${LP}p1 && -b ${LP}p2 ]] || bail "partitions on loop device" "${LP}p1/p2 did not appear (partx -a)"
ok "loop devices available ($LW, $LP with partitions, $LS)"
nw=${LW#/dev/}
np=${LP#/dev/}

check "shellcheck clean: flash.sh and the test scripts" \
	shellcheck -x "$FLASH" "$HERE/run.sh" "$HERE/fake-lsblk" "$HERE/slow-xz"

# The Python helpers are files of their own, linted here; the shell scripts
# carry no inline Python (no "-c" programs, no heredocs fed to python).
PYFILES=("$(dirname "$(readlink -f "$FLASH")")"/scripts/flash/*.py "$HERE"/*.py)
pylint_ok() { # diagnostics as TAP comments
	local f
	for f in "${PYFILES[@]}"; do
		[[ -f $f ]] || {
			echo "# Python helper not found: $f"
			return 1
		}
	done
	if ! command -v pyflakes3 >/dev/null 2>&1; then
		echo "# pyflakes3 is missing: apt-get install pyflakes3"
		return 1
	fi
	{ PYTHONPYCACHEPREFIX=$W/pycache /usr/bin/python3 -m py_compile "${PYFILES[@]}" && pyflakes3 "${PYFILES[@]}"; } 2>&1 | sed 's/^/# /'
}
check "Python helpers compile and are pyflakes-clean (${#PYFILES[@]} files)" pylint_ok
no_inline_python() {
	! grep -nE '(python3?|PY"?) +-c|<<.?PY' "$FLASH" "$HERE/run.sh" "$HERE/fake-lsblk" "$HERE/slow-xz" | sed 's/^/# /' | grep .
}
check "no inline Python left in flash.sh and the test scripts" no_inline_python

# Fake sysfs views.
fake_sys "$W/sys-$nw-rm1" "$nw" 1
fake_sys "$W/sys-$nw-rm0" "$nw" 0
fake_sys "$W/sys-$np-rm1" "$np" 1
fake_sys "$W/sys-$np-dm-rm1" "$np" 1
fake_dm "$W/sys-$np-dm-rm1" dm-250 250:250 "$np" "${np}p1"
fake_sys "$W/sys-$np-hold-rm1" "$np" 1
fake_dm "$W/sys-$np-hold-rm1" dm-251 250:251 "$np" "${np}p2"

# Images.
head -c 16M /dev/zero | tr '\0' '\245' >"$W/pattern"
# Mixed content: random, zeros, text.  Little random data, because xz is
# slow on it and the machine may be busy.
{
	head -c 384K /dev/urandom
	head -c 1M /dev/zero
	seq 1 300000
	head -c 128K /dev/urandom
	head -c 512K /dev/zero
} >"$W/plain.img"
LEN=$(stat -c %s "$W/plain.img")
SHA=$(sha256sum <"$W/plain.img" | cut -c1-64)
# Compressed copies under misleading names: the format must come from the content.
xz -c -1 -T1 "$W/plain.img" >"$W/xz-image.img"
gzip -c "$W/plain.img" >"$W/gz-image.bin"
zstd -q -c "$W/plain.img" >"$W/zst-image.xz"
{
	head -c 100000 /dev/urandom
	seq 1 400000
} >"$W/odd.img"
truncate -s 3000001 "$W/odd.img"
# 6 MiB, mostly zeros: compresses to far less than the 4 MiB device.
head -c 64K /dev/urandom >"$W/big.img"
truncate -s 6M "$W/big.img"
xz -c -1 -T1 "$W/big.img" >"$W/big.img.xz"
gzip -c "$W/big.img" >"$W/big.img.gz"
zstd -q -c "$W/big.img" >"$W/big.img.zst"
bmaptool -q create -o "$W/big.img.zst.bmap" "$W/big.img"
# A sparse image with a block map: 2 mapped ranges in 8 MiB.
truncate -s 8M "$W/sparse.img"
head -c 300000 /dev/urandom | dd of="$W/sparse.img" bs=1M seek=1 conv=notrunc status=none
head -c 70000 /dev/urandom | dd of="$W/sparse.img" bs=1K seek=5000 conv=notrunc status=none
bmaptool -q create -o "$W/sparse.img.bmap" "$W/sparse.img"
xz -c -1 -T1 "$W/sparse.img" >"$W/sparse.img.xz" # bmap found as sparse.img.bmap
SP_LEN=$(stat -c %s "$W/sparse.img")
SP_SHA=$(sha256sum <"$W/sparse.img" | cut -c1-64)
cp "$W/sparse.img" "$W/nock.img"
bmaptool -q create --no-checksum -o "$W/nock.img.bmap" "$W/nock.img"
# 12 MiB for the interruption tests (slow decompressor).
seq 1 1500000 >"$W/slow.raw"
truncate -s 12M "$W/slow.raw"
xz -c -0 -T1 "$W/slow.raw" >"$W/slow.img"
mkdir -p "$W/slowbin"
ln -s "$HERE/slow-xz" "$W/slowbin/xz"

# -------------------------------------------------------------- basics --

flash --help
check "--help exits 0 and documents the test hooks and --test-mode" eval '((RC == 0)) && has FLASH_SYSFS && has FLASH_LSBLK && has FLASH_TEST_AFTER_WRITE && has --test-mode'

fake_env "$nw" 1 usb
RC=0
env "${FE[@]}" "$FLASH" --test-mode --list >"$W/out" 2>&1 || RC=$?
check "--list shows the fake removable USB card with size, model, transport" \
	eval '((RC == 0)) && grep -q "^$LW .*16.0 MiB *usb *yes *Fake SD Reader *FAKE0001" "$W/out"'
ROOTSRC=$(findmnt -n -v -o SOURCE / || true)
ROOTDISK=
if [[ $ROOTSRC == /dev/* && -b $ROOTSRC ]]; then
	ROOTDISK=/dev/$(lsblk -n -d -o PKNAME "$ROOTSRC" 2>/dev/null | head -n1)
	[[ $ROOTDISK != /dev/ ]] || ROOTDISK=$ROOTSRC
fi
RC=0
"$FLASH" --list --all >"$W/out" 2>&1 || RC=$?
if [[ -n $ROOTDISK ]]; then
	check "--list --all marks the real root disk $ROOTDISK as SYSTEM DISK" eval '((RC == 0)) && grep -q "^$ROOTDISK .*SYSTEM DISK" "$W/out"'
else
	ok "--list --all marks the real root disk as SYSTEM DISK # SKIP / is not on a block device here ($ROOTSRC)"
fi

# ---------------------------------------------------------------- refusals --

H_LW=$(devsha "$LW")
H_LP=$(devsha "$LP")
H_LS=$(devsha "$LS")

# ------------------------------------------------- test hooks, --test-mode --
# The hooks change what flash.sh (a root tool) believes about disks, or run a
# command: without --test-mode they are refused before anything is looked at;
# with it, only a loop device backed by a regular file (according to the real
# /sys) may be the target, whatever the faked views say.

# (a) Without --test-mode.  Each command below would write the image to $LW
# if the hooks were honoured (the fake view shows it as a removable USB card).
fake_env "$nw" 1 usb
RC=0
env "${FE[@]}" FLASH_TEST_AFTER_WRITE="touch '$W/hook-ran'" "$FLASH" --yes "$W/plain.img" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
check "hooks set without --test-mode: refused before any check, nothing written, no hook command run" \
	eval 'refused "test hook(s) set in the environment: FLASH_SYSFS FLASH_LSBLK FLASH_TEST_AFTER_WRITE;" "$LW" "$H_LW" &&
		has "only with --test-mode" && ! has "Target:" && [[ ! -e $W/hook-ran ]]'
: >"$W/empty"
for hook in FLASH_SYSFS="$W/sys-$nw-rm1" FLASH_LSBLK="$HERE/fake-lsblk" FLASH_MOUNTINFO="$W/empty" \
	FLASH_SWAPS="$W/empty" FLASH_TEST_AFTER_WRITE="touch '$W/hook-ran'"; do
	RC=0
	env FAKE_LSBLK_DISK="$nw" "$hook" "$FLASH" --force --yes "$W/plain.img" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
	check "${hook%%=*} alone without --test-mode: refused (exit 1), nothing written" \
		eval '((RC == 1)) && refused "test hook(s) set in the environment: ${hook%%=*};" "$LW" "$H_LW" && [[ ! -e $W/hook-ran ]]'
done
RC=0
env "${FE[@]}" "$FLASH" --list >"$W/out" 2>&1 </dev/null || RC=$?
check "hooks set without --test-mode: --list refused too" eval '((RC == 1)) && has "test hook(s) set" && ! has "Fake SD Reader"'
RC=0
env FLASH_SYSFS= FLASH_TEST_AFTER_WRITE= "$FLASH" --force --yes --no-verify "$W/plain.img" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
check "control: hook variables set but empty are not hooks (the write goes ahead)" \
	eval '((RC == 0)) && [[ $(devsha "$LW" "$LEN") == "$SHA" ]]'
fill "$LW"
H_LW=$(devsha "$LW")

# (b) --test-mode with a target that is not a loop device backed by a file.
# The faked views describe each one as a removable USB card; the refusal must
# come from the real /sys, before anything is checked or written.
tm_refused() { # PATTERN: refused by the test-mode rule, before the disk checks
	((RC == 1)) && has "REFUSED: .*$1" && has "writes only to loop devices backed by a regular file" &&
		has "nothing was written" && ! has "Target:" && ! has "Dry run"
}
if [[ -n $ROOTDISK ]]; then
	rd=${ROOTDISK#/dev/}
	# The real system disk, described by the hooks as a removable USB card
	# that is even a loop device (fake loop/backing_file), with no mounts and
	# no swap.  --dry-run: even if the rule were broken, nothing is written.
	fake_sys "$W/sys-$rd-rm1" "$rd" 1
	mkdir -p "$W/sys-$rd-rm1/devices/virtual/block/$rd/loop"
	echo "$W/lw.img" >"$W/sys-$rd-rm1/devices/virtual/block/$rd/loop/backing_file"
	fake_env "$rd" 1 usb
	RC=0
	env "${FE[@]}" FLASH_MOUNTINFO="$W/empty" FLASH_SWAPS="$W/empty" "$FLASH" --test-mode --dry-run --force --yes "$W/plain.img" "$ROOTDISK" >"$W/out" 2>&1 </dev/null || RC=$?
	check "--test-mode: the real system disk $ROOTDISK, faked as a removable USB loop card, is refused (real /sys: not a loop device)" \
		tm_refused "$ROOTDISK (device [0-9:]*) is not a loop device"
else
	ok "--test-mode: the real system disk is refused # SKIP / is not on a block device here ($ROOTSRC)"
fi
# A block device node of a SCSI disk (8:240, sdp; present or not).
mknod "$W/fake-sdp" b 8 240
fake_env "$nw" 1 usb
RC=0
env "${FE[@]}" "$FLASH" --test-mode --force --yes "$W/plain.img" "$W/fake-sdp" >"$W/out" 2>&1 </dev/null || RC=$?
check "--test-mode: a non-loop block device node (8:240) is refused" tm_refused "fake-sdp (device 8:240) is not a loop device"
RC=0
env "${FE[@]}" "$FLASH" --test-mode --force --yes "$W/plain.img" /dev/null >"$W/out" 2>&1 </dev/null || RC=$?
check "--test-mode: /dev/null is refused" tm_refused "/dev/null is not a block device"
RC=0
env "${FE[@]}" "$FLASH" --test-mode --force --yes "$W/plain.img" "${LP}p1" >"$W/out" 2>&1 </dev/null || RC=$?
check "--test-mode: a partition of a loop device (not a loop device itself) is refused" \
	eval 'tm_refused "${LP}p1 (device [0-9:]*) is not a loop device" && [[ $(devsha "$LP") == "$H_LP" ]]'
# A loop device whose backing "file" is a block device ($LS): writing to it
# would write to that device.  Faked as a removable USB card; a real write
# (no --dry-run) is attempted, so a broken rule would show in $LS.
if LB=$(losetup -f --show "$LS"); then
	LOOPS+=("$LB")
	nb=${LB#/dev/}
	fake_sys "$W/sys-$nb-rm1" "$nb" 1
	fake_env "$nb" 1 usb
	RC=0
	env "${FE[@]}" "$FLASH" --test-mode --yes "$W/odd.img" "$LB" >"$W/out" 2>&1 </dev/null || RC=$?
	check "--test-mode: a loop device backed by a block device ($LB on $LS) is refused, nothing written" \
		eval 'tm_refused "loop device $LB is backed by .$LS., not by a regular file" && [[ $(devsha "$LS") == "$H_LS" ]]'
	losetup -d "$LB" && unset 'LOOPS[-1]'
else
	notok "--test-mode: loop device on a block device" "losetup -f --show $LS failed"
fi

if [[ -n $ROOTDISK ]]; then
	# --dry-run: even if the refusal were broken, nothing would be written.
	flash --dry-run --force --yes "$W/plain.img" "$ROOTDISK"
	check "refuses the real root disk $ROOTDISK (holds /), even with --force" eval '((RC == 1)) && has "SYSTEM DISK: it holds /"'
else
	ok "refuses the real root disk # SKIP / is not on a block device here ($ROOTSRC)"
fi

# / on a (fake) dm device whose slave is partition 1 of the target.
printf '900 1 250:250 / / rw,relatime - ext4 /dev/mapper/fakeroot rw\n' >"$W/mi-root"
fake_env "$np" 1 usb
FE[0]=FLASH_SYSFS=$W/sys-$np-dm-rm1
RC=0
env "${FE[@]}" FLASH_MOUNTINFO="$W/mi-root" "$FLASH" --test-mode --force --yes "$W/plain.img" "$LP" >"$W/out" 2>&1 </dev/null || RC=$?
check "refuses the disk holding / through partition + device-mapper slave (fake sysfs), even with --force" \
	refused "SYSTEM DISK: it holds /" "$LP" "$H_LP"

printf '901 1 %s / /boot rw,relatime - vfat %sp1 rw\n' "$(cat "/sys/class/block/${np}p1/dev")" "$LP" >"$W/mi-boot"
fake_env "$np" 1 usb
RC=0
env "${FE[@]}" FLASH_MOUNTINFO="$W/mi-boot" "$FLASH" --test-mode --force --yes "$W/plain.img" "$LP" >"$W/out" 2>&1 </dev/null || RC=$?
check "refuses the disk holding /boot on one of its partitions" refused "SYSTEM DISK: it holds /boot" "$LP" "$H_LP"

printf 'Filename\tType\tSize\tUsed\tPriority\n%sp2\tpartition\t6140\t0\t-2\n' "$LP" >"$W/swaps"
RC=0
env "${FE[@]}" FLASH_SWAPS="$W/swaps" "$FLASH" --test-mode --force --yes "$W/plain.img" "$LP" >"$W/out" 2>&1 </dev/null || RC=$?
check "refuses the disk holding active swap" refused "SYSTEM DISK: it holds swap" "$LP" "$H_LP"

FE[0]=FLASH_SYSFS=$W/sys-$np-hold-rm1
RC=0
env "${FE[@]}" "$FLASH" --test-mode --force --yes "$W/plain.img" "$LP" >"$W/out" 2>&1 </dev/null || RC=$?
check "refuses a disk whose partition is held by device-mapper" refused "${np}p2 is in use by dm-251" "$LP" "$H_LP"

flash --force --yes "$W/plain.img" "${LP}p1"
check "refuses a partition instead of a whole disk, even with --force" refused "is a partition (of $LP)" "$LP" "$H_LP"

flash --force --yes "$W/big.img" "$LS"
check "refuses a device smaller than a plain image" refused "is too small" "$LS" "$H_LS"
flash --force --yes "$W/big.img.xz" "$LS"
check "refuses a device smaller than the uncompressed xz image (compressed file fits)" \
	eval 'refused "is too small" "$LS" "$H_LS" && has "6291456 bytes, uncompressed"'
flash --force --yes "$W/big.img.gz" "$LS"
check "refuses a device smaller than the uncompressed gzip image (decompress-count)" \
	eval 'refused "is too small" "$LS" "$H_LS" && has "6291456 bytes, uncompressed"'
flash --force --yes "$W/big.img.zst" "$LS"
check "refuses a device smaller than the bmap ImageSize (zstd image + bmap)" \
	eval 'refused "is too small" "$LS" "$H_LS" && has "6291456 bytes, uncompressed"'

flash_fake "$nw" 0 usb --yes "$W/plain.img" "$LW"
check "refuses a non-removable disk without --force" refused "is not a removable device" "$LW" "$H_LW"
flash_fake "$nw" 1 sata --yes "$W/plain.img" "$LW"
check "refuses a non-USB/MMC disk without --force" refused "is not a USB or MMC/SD device (transport: sata)" "$LW" "$H_LW"
flash --yes "$W/plain.img" "$LW"
check "refuses a real loop device (real sysfs/lsblk: not removable, no transport) without --force" \
	refused "add --force" "$LW" "$H_LW"

flash --force --yes "$W/does-not-exist.img" "$LW"
check "refuses a missing image" refused "is missing" "$LW" "$H_LW"

cp "$W/plain.img" "$W/unreadable.img"
chmod 000 "$W/unreadable.img"
RC=0
# Root reads anything; drop the capabilities that allow it, so the file is
# really unreadable for flash.sh.
setpriv --bounding-set -dac_override,-dac_read_search --inh-caps -dac_override,-dac_read_search -- \
	"$FLASH" --force --yes "$W/unreadable.img" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
check "refuses an unreadable image" refused "is not readable" "$LW" "$H_LW"

flash --force --yes "$W/plain.img" "$W/pattern"
check "refuses a DEVICE that is a regular file" eval 'refused "is not a block device (it is a regular file)" "$LW" "$H_LW" && [[ $(head -c 4 "$W/pattern" | od -An -tx1 | tr -d " ") == a5a5a5a5 ]]'
flash --force --yes "$W/plain.img" /dev/null
check "refuses a DEVICE that is a character device (/dev/null)" refused "is not a block device (it is a character special file)" "$LW" "$H_LW"

flash_fake "$nw" 1 usb "$W/plain.img" "$LW"
check "refuses without a terminal on stdin and without --yes" refused "standard input is not a terminal" "$LW" "$H_LW"

mkdir -p "$W/nozstd"
cp -s /usr/bin/* "$W/nozstd/" 2>/dev/null || true
cp -s /usr/sbin/* "$W/nozstd/" 2>/dev/null || true
rm -f "$W/nozstd/zstd"
RC=0
PATH=$W/nozstd "$FLASH" --force --yes "$W/zst-image.xz" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
check "missing zstd: message names the tool and the Debian package" \
	eval '((RC != 0)) && has "required tool .zstd. not found: install the Debian package .zstd." && [[ $(devsha "$LW") == "$H_LW" ]]'
RC=0
FLASH_LSBLK=$W/no/lsblk "$FLASH" --test-mode --force --yes "$W/plain.img" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
check "missing lsblk: message names the tool and util-linux" eval '((RC != 0)) && has "lsblk. not found: install the Debian package .util-linux."'

printf '%s  plain.img\n' "$(printf '0%.0s' {1..64})" >"$W/plain.img.sha256"
flash_fake "$nw" 1 usb --yes "$W/plain.img" "$LW"
check "refuses an image that does not match its .sha256 file" refused "does not match $W/plain.img.sha256" "$LW" "$H_LW"
rm -f "$W/plain.img.sha256"

# ------------------------------------------------------------------ writes --

write_case() { # name image [flash args...]
	local name=$1 img=$2
	shift 2
	fill "$LW"
	flash_fake "$nw" 1 usb --yes "$@" "$img" "$LW"
	check "$name" written "$LW" "$LEN" "$SHA"
}
write_case "plain image written and verified byte-exact (fake USB card)" "$W/plain.img"
check "plain image without bmap: written by bmaptool copy --nobmap (no dd path)" \
	eval 'has "with bmaptool copy --nobmap" && has "bmaptool: info: no bmap given, copy entire image"'
write_case "xz image (detected by content) written and verified byte-exact" "$W/xz-image.img"
write_case "gzip image (detected by content) written and verified byte-exact" "$W/gz-image.bin"
write_case "zstd image (named .xz, detected by content) written and verified byte-exact" "$W/zst-image.xz"

sha256sum "$W/plain.img" | sed "s:$W/::" >"$W/plain.img.sha256"
write_case "image with a matching .sha256 file written" "$W/plain.img"
check ".sha256 file was checked" has "image checksum OK"
rm -f "$W/plain.img.sha256"
cp "$W/xz-image.img" "$W/sum.img.xz"
sha256sum <"$W/plain.img" | sed 's/-$/sum.img/' >"$W/sum.img.xz.sha256"
write_case ".sha256 of the uncompressed image accepted for an xz image" "$W/sum.img.xz"

fill "$LW"
flash --force --yes "$W/odd.img" "$LW"
check "odd-sized image (not a multiple of 512) via real loop device with --force, verified" \
	written "$LW" 3000001 "$(sha256sum <"$W/odd.img" | cut -c1-64)"

# bmap: the mapped ranges are written, the holes are left alone.
fill "$LW"
flash_fake "$nw" 1 usb --yes "$W/sparse.img.xz" "$LW"
bmap_ok() {
	((RC == 0)) && has "and verified" && has "bmaptool: info: copying image" &&
		cmp -s <(dd if="$LW" bs=1M count=1 skip=1 iflag=direct status=none | head -c 300000) <(dd if="$W/sparse.img" bs=1M count=1 skip=1 status=none | head -c 300000) &&
		cmp -s <(dd if="$LW" bs=1K count=70 skip=5000 iflag=direct status=none) <(dd if="$W/sparse.img" bs=1K count=70 skip=5000 status=none) &&
		[[ $(dd if="$LW" bs=1M count=1 iflag=direct status=none | sha256sum) == "$(head -c 1M "$W/pattern" | sha256sum)" ]]
}
check "bmap path: xz image + foo.img.bmap via bmaptool, mapped ranges written and verified, holes untouched" bmap_ok
check "bmap path: read-back of mapped ranges reported" has "verified: ok 2 ranges"
fill "$LW"
flash_fake "$nw" 1 usb --yes "$W/nock.img" "$LW"
check "bmap without checksums: mapped ranges verified against the image" eval '((RC == 0)) && has "and verified" && has "verified: ok 2 ranges"'
fill "$LW"
flash_fake "$nw" 1 usb --yes --no-bmap "$W/sparse.img" "$LW"
check "--no-bmap: the whole image (holes included) is written and verified" written "$LW" "$SP_LEN" "$SP_SHA"
check "--no-bmap: written by bmaptool copy --nobmap" has "bmaptool: info: no bmap given, copy entire image"

# ------------------------------------------------------------ verification --

fill "$LW"
fake_env "$nw" 1 usb
RC=0
# Corrupt the loop device's backing file behind the block device's page
# cache: a verification that reads the cache instead of the device misses it.
# The device is kept open meanwhile (like udev or a file manager may do), so
# the kernel does not drop that cache when flash.sh's writer closes it.
exec {hold}<"$LW"
env "${FE[@]}" FLASH_TEST_AFTER_WRITE="printf 'CORRUPTED' | dd of='$W/lw.img' bs=1 seek=2097200 conv=notrunc,fsync status=none" \
	"$FLASH" --test-mode --yes "$W/plain.img" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
check "full-copy path: a block corrupted after the write is caught (exit 3)" eval '((RC == 3)) && has "VERIFICATION FAILED" && ! has "and verified"'

fill "$LW"
RC=0
env "${FE[@]}" FLASH_TEST_AFTER_WRITE="printf 'CORRUPTED' | dd of='$W/lw.img' bs=1 seek=1048700 conv=notrunc,fsync status=none" \
	"$FLASH" --test-mode --yes "$W/sparse.img.xz" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
exec {hold}<&-
check "bmap path: a mapped block corrupted behind the page cache after the write is caught (exit 3)" eval '((RC == 3)) && has "VERIFICATION FAILED" && has "MISMATCH in blocks 256-"'

fill "$LW"
RC=0
env "${FE[@]}" FLASH_TEST_AFTER_WRITE="printf 'CORRUPTED' | dd of='$W/lw.img' bs=1 seek=$((LEN + 4096)) conv=notrunc,fsync status=none" \
	"$FLASH" --test-mode --yes "$W/plain.img" "$LW" >"$W/out" 2>&1 </dev/null || RC=$?
check "control: the same hook writing past the image does not fail verification" written "$LW" "$LEN" "$SHA"

# A device that fails in the middle of the write: a 16 MiB loop device whose
# backing file lives on a 2 MiB tmpfs, so writes past ~2 MiB get I/O errors.
mkdir -p "$W/tiny"
if mount -t tmpfs -o size=2m flash-test-tiny "$W/tiny"; then
	MOUNTS+=("$W/tiny")
	if newloop LE "$W/tiny/le.img" 16; then
		flash --force --yes "$W/plain.img" "$LE"
		check "write error in the middle (device runs out of space): clear message, exit 1" \
			eval '((RC == 1)) && has "writing to $LE failed" && has "PARTLY WRITTEN"'
		losetup -d "$LE" && unset 'LOOPS[-1]'
	else
		notok "write error in the middle: loop device on tmpfs"
	fi
	umount "$W/tiny" || true
else
	notok "write error in the middle: could not mount a tmpfs"
fi

# ------------------------------------------------------------ interruption --
# flash.sh is started with SIGINT at its default disposition: a shell that
# runs this suite in the background would hand it down ignored, and an
# ignored SIGINT cannot be trapped.

interrupt_case() { # SIGNAL TARGET(group|script) EXPECTED_RC
	local sig=$1 how=$2 want=$3 pid i left
	fill "$LW"
	fake_env "$nw" 1 usb
	RC=0
	: >"$W/out" # before the background start: no stale "writing" from an earlier run
	set -m
	env --default-signal=INT "${FE[@]}" PATH="$W/slowbin:$PATH" "$FLASH" --test-mode --yes "$W/slow.img" "$LW" >"$W/out" 2>&1 </dev/null &
	pid=$!
	set +m
	BGPIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		if has "writing"; then break; fi
		sleep 0.1
	done
	sleep 1
	# (flash.sh may have ended already: then the check below fails, the suite goes on)
	if [[ $how == group ]]; then kill "-$sig" -- "-$pid" || true; else kill "-$sig" "$pid" || true; fi
	wait "$pid" || RC=$?
	BGPIDS=()
	sleep 0.3
	left=$(holders_of "$LW" "$W/slowbin" | tr '\n' ' ')
	if ((RC == want)) && has "INTERRUPTED (SIG$sig)" && has "PARTLY WRITTEN" && [[ -z $left ]]; then
		ok "SIG$sig to the $how mid-copy: message, exit $want, no process left"
	else
		notok "SIG$sig to the $how mid-copy: message, exit $want, no process left" "leftover processes: ${left:-none}"
	fi
}
interrupt_case INT group 130
interrupt_case TERM script 143

# A real Ctrl-C: typed on a terminal (pty from script(1)) after confirming.
fill "$LW"
fake_env "$nw" 1 usb
RC=0
: >"$W/out"
{
	printf '%s\n' "$nw"
	for ((i = 0; i < 100; i++)); do
		if has "writing"; then break; fi
		sleep 0.1
	done
	sleep 1
	printf '\003'
	sleep 3
} | env --default-signal=INT "${FE[@]}" PATH="$W/slowbin:$PATH" script -qec "$(printf '%q ' "$FLASH" --test-mode "$W/slow.img" "$LW")" /dev/null >"$W/out" 2>&1 || RC=$?
sleep 0.3
left=$(holders_of "$LW" "$W/slowbin" | tr '\n' ' ')
check "Ctrl-C typed on the terminal mid-copy: message, exit 130, no process left" \
	eval '((RC == 130)) && has "INTERRUPTED (SIGINT)" && has "PARTLY WRITTEN" && [[ -z ${left// /} ]]'

# ----------------------------------------------------------------- dry run --

fill "$LW"
H_LW=$(devsha "$LW")
flash_fake "$nw" 1 usb --dry-run "$W/xz-image.img" "$LW"
check "--dry-run prints the plan, exits 0 and writes nothing" eval '((RC == 0)) && has "Dry run: nothing was written" && [[ $(devsha "$LW") == "$H_LW" ]]'

# ------------------------------------------------------------ confirmation --

confirm_run() { # ANSWER
	fake_env "$nw" 1 usb
	RC=0
	printf '%s\n' "$1" | env "${FE[@]}" script -qec "$(printf '%q ' "$FLASH" --test-mode "$W/plain.img" "$LW")" /dev/null >"$W/out" 2>&1 || RC=$?
}
confirm_run "sdz"
check "confirmation prompt: wrong device name typed -> refused, nothing written" \
	eval 'refused "confirmation .sdz. does not match" "$LW" "$H_LW" && has "Fake SD Reader" && has "FAKE0001" && has "Type the device name"'
confirm_run "$nw"
check "confirmation prompt: right device name typed -> written and verified" written "$LW" "$LEN" "$SHA"

# The card is replaced while the prompt waits: the kernel's diskseq of the
# disk changes (simulated in the fake sysfs), so the write must not happen.
fill "$LW"
H_LW=$(devsha "$LW")
seqf=$W/sys-$nw-rm1/devices/virtual/block/$nw/diskseq
if [[ -f $seqf ]]; then
	seq0=$(cat "$seqf")
	fake_env "$nw" 1 usb
	RC=0
	: >"$W/out"
	{
		for ((i = 0; i < 100; i++)); do
			if has "Type the device name"; then break; fi
			sleep 0.1
		done
		echo $((seq0 + 1000)) >"$seqf"
		printf '%s\n' "$nw"
		sleep 0.5
	} | env "${FE[@]}" script -qec "$(printf '%q ' "$FLASH" --test-mode "$W/plain.img" "$LW")" /dev/null >"$W/out" 2>&1 || RC=$?
	echo "$seq0" >"$seqf"
	check "card replaced while the prompt waits (diskseq changed) -> refused, nothing written" \
		refused "changed since it was checked" "$LW" "$H_LW"
else
	ok "card replaced while the prompt waits # SKIP this kernel has no diskseq in sysfs"
fi

# ------------------------------------------------------------------ mounts --

mkdir -p "$W/mnt"
MOUNTS+=("$W/mnt")
# Mounted read-only in the end, so that nothing (atime ...) changes the
# device behind the checks' back.
if ! { mkfs.ext2 -q -F "${LP}p1" && mount "${LP}p1" "$W/mnt" && cp "$W/plain.img" "$W/mnt/onit.img" &&
	umount "$W/mnt" && mount -o ro "${LP}p1" "$W/mnt"; } >"$W/out" 2>&1; then
	bail "ext2 file system on a partition of the loop device, mounted" "$(cat "$W/out")"
fi
H_LP=$(devsha "$LP")
flash_fake "$np" 1 usb --yes "$W/mnt/onit.img" "$LP"
check "refuses an image stored on the target itself" refused "is stored on $LP itself" "$LP" "$H_LP"

(cd "$W/mnt" && exec sleep 60) &
busy=$!
BGPIDS+=("$busy")
sleep 0.2
flash_fake "$np" 1 usb --yes "$W/plain.img" "$LP"
check "a mounted partition that cannot be unmounted (busy) -> refused, still mounted" \
	eval 'refused "cannot unmount $W/mnt" "$LP" "$H_LP" && mountpoint -q "$W/mnt"'
kill "$busy"
wait "$busy" 2>/dev/null || true
BGPIDS=()

grep -v -F " $W/mnt " /proc/self/mountinfo >"$W/mi-hidden"
fake_env "$np" 1 usb
RC=0
env "${FE[@]}" FLASH_MOUNTINFO="$W/mi-hidden" "$FLASH" --test-mode --yes "$W/plain.img" "$LP" >"$W/out" 2>&1 </dev/null || RC=$?
check "a mount flash.sh cannot see is still caught by the kernel's exclusive-open check" \
	eval 'refused "the kernel reports $LP as in use" "$LP" "$H_LP" && mountpoint -q "$W/mnt"'

flash_fake "$np" 1 usb --yes "$W/plain.img" "$LP"
check "a mounted partition of the target is unmounted, then the image written and verified" \
	eval 'written "$LP" "$LEN" "$SHA" && has "unmounting $W/mnt" && ! mountpoint -q "$W/mnt"'

echo "1..$N"
echo "# elapsed ${SECONDS}s"
if ((FAILS)); then
	echo "# $FAILS of $N checks FAILED"
	exit 1
fi
echo "# all $N checks passed"
