#!/bin/bash
# flash.sh - write an SD-card image to a removable card: safely, fast, verified.
#
#   flash.sh [options] IMAGE DEVICE
#   flash.sh --list [--all]
#
# Run `flash.sh --help` for the full description, the safety rules, the exit
# codes and the environment variables that exist as test hooks.
set -euo pipefail
shopt -s nullglob

PROG=flash.sh

# The real system views.  Only with --test-mode may the test hooks (see
# --help and apply_test_hooks) replace them; flash.sh then writes to loop
# devices only.
SYSFS=/sys
LSBLK=lsblk
MOUNTINFO=/proc/self/mountinfo
SWAPS=/proc/swaps
AFTER_WRITE_HOOK=
HOOK_VARS=(FLASH_SYSFS FLASH_LSBLK FLASH_MOUNTINFO FLASH_SWAPS FLASH_TEST_AFTER_WRITE)

# The system's python3 (the one bmap-tools runs on), not a per-user shim.
PY=python3
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; fi

# The Python helpers live in scripts/flash/ beside the (real) flash.sh.
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
HELPERS=${SELF%/*}/scripts/flash

# A disk holding a file system mounted on one of these, or active swap, is
# never written, whatever the options.
PROTECTED_MOUNTS=(/ /boot /boot/efi /boot/firmware /usr /var /home)

usage() {
	cat <<'EOF'
Usage: flash.sh [options] IMAGE DEVICE
       flash.sh --list [--all]

Write the SD-card image IMAGE to the whole disk DEVICE (e.g. /dev/sdb,
/dev/mmcblk0), then read it back and verify it.

IMAGE may be a plain image or compressed with xz, gzip or zstd; the format is
detected from the file's content, not its name.  If IMAGE.bmap (or, for
foo.img.xz, foo.img.bmap) exists, bmaptool copies only the mapped blocks.
If IMAGE.sha256 exists, the image is checked against it before writing.

Options:
  -l, --list       list candidate devices (removable USB/MMC disks) and exit
      --all        with --list: list every disk, with the reason it is not a
                   candidate
  -y, --yes        do not ask for the typed confirmation
  -f, --force      allow a disk that is not removable or not on USB/MMC
                   (never allows the system disk, a partition, a disk in use)
  -n, --dry-run    do every check, print what would be done, write nothing
      --no-verify  skip the read-back verification (not recommended)
      --bmap FILE  use FILE as the block map
      --no-bmap    ignore any .bmap file and copy the whole image
      --test-mode  honour the FLASH_* test hooks (below); only loop devices
                   backed by regular files are accepted as DEVICE
  -h, --help       show this help

Safety rules (all checked before anything is written):
  * DEVICE must be a block device and a whole disk, not a partition, not a
    device-mapper/RAID/LVM/LUKS device, not read-only, with a medium in it.
  * The disk holding /, /boot, /boot/efi, /boot/firmware, /usr, /var, /home
    or active swap is refused, whatever the options.  Partitions, device-
    mapper, LVM, LUKS, RAID and loop layers are followed down to the disks.
  * A disk whose partitions are used by device-mapper/RAID, or which the kernel
    reports as in use (exclusive open fails), is refused.
  * Without --force, DEVICE must be removable and on USB or MMC/SD.
  * DEVICE must be at least as large as the uncompressed image (bmap
    ImageSize, xz index, or a decompress-and-count pass for gzip/zstd).
  * The image must not be stored on DEVICE itself.
  * Mounted partitions of DEVICE are unmounted; if that fails: refused.
  * Unless --yes, the device (model, size, serial, transport) is shown and its
    name must be typed; without a terminal on stdin and without --yes: refused.
  * Right before writing, the disk must still be the same one (device number,
    size, kernel diskseq); bmaptool then opens it exclusively.

Writing: always bmaptool copy.  With a bmap it reads the image itself (under a
name that tells it the compression flash.sh found in the content) and writes
the mapped blocks; without one, flash.sh decompresses the image and streams
it into bmaptool copy --nobmap, which writes all of it (through pv if
installed).  Verification (default): the written length is read back with the
cache bypassed and its SHA-256 compared with the (decompressed) image; with a
bmap, bmaptool checks the image against the bmap checksums while copying, and
the mapped ranges read back from the card are checked against them again (or,
for a bmap without checksums, against the image).

Exit status: 0 done (or dry run), 1 refused or failed, 2 usage error,
3 verification failed, 128+N killed by signal N (130 for Ctrl-C).

Test hooks (environment, for tests/flash/run.sh).  They are honoured only
with --test-mode, and then DEVICE must be a loop device backed by a regular
file, as the real /sys says (not FLASH_SYSFS).  If one is set (non-empty)
without --test-mode, flash.sh refuses to run (exit 1), so that a leaked
variable can neither fake the checks nor run a command as root.
  FLASH_SYSFS=DIR          sysfs root instead of /sys (removable, partition,
                           slaves, holders, dev, ro, diskseq are read here)
  FLASH_LSBLK=CMD          executable run instead of lsblk (flash.sh calls it
                           with -P -b ... pairs output)
  FLASH_MOUNTINFO=FILE     instead of /proc/self/mountinfo
  FLASH_SWAPS=FILE         instead of /proc/swaps
  FLASH_TEST_AFTER_WRITE=CMD  shell command run after writing and before
                           verifying, with FLASH_DEVICE set (used to corrupt a
                           block and prove that verification catches it)
EOF
}

# ---------------------------------------------------------------- messages --

REPORTED=0
PHASE=check # check -> unmount -> write -> verify -> done
JOB_PID=
TMP=
DEV_REAL=

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }

fail() { # fail CODE MESSAGE...
	local code=$1
	shift
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	REPORTED=1
	exit "$code"
}

refuse() {
	printf '%s: REFUSED: %s\n' "$PROG" "$*" >&2
	if [[ $PHASE == check || $PHASE == unmount ]]; then
		printf '%s: nothing was written.\n' "$PROG" >&2
	fi
	REPORTED=1
	exit 1
}

usage_error() {
	printf '%s: %s\nTry: %s --help\n' "$PROG" "$*" "$PROG" >&2
	REPORTED=1
	exit 2
}

human() { # bytes -> "29.7 GiB"
	if (($1 < 1024)); then
		printf '%s bytes' "$1"
		return 0
	fi
	numfmt --to=iec-i --suffix=B --format='%.1f' -- "$1" | sed 's/\([KMGTPE]iB\)$/ \1/'
}

pkg_of() { # tool -> Debian package
	case ${1##*/} in
	*lsblk | blockdev) echo util-linux ;;
	umount | losetup) echo mount ;;
	xz) echo xz-utils ;;
	gzip) echo gzip ;;
	zstd) echo zstd ;;
	bmaptool) echo bmap-tools ;;
	python3) echo python3 ;;
	pv) echo pv ;;
	sed) echo sed ;;
	od | dd | sha256sum | stat | head | tee | wc | numfmt | readlink | mkfifo | mktemp | sync | cat) echo coreutils ;;
	*) echo "(unknown)" ;;
	esac
}

need() {
	local t
	for t in "$@"; do
		command -v -- "$t" >/dev/null 2>&1 ||
			fail 1 "required tool '$t' not found: install the Debian package '$(pkg_of "$t")' (apt-get install $(pkg_of "$t"))"
	done
}

# ------------------------------------------------- jobs, signals, cleanup --

# Run "$@" (a function or command) in the background in its own process group
# and wait for it, so that a signal reaches our trap at once and the trap can
# stop the whole job (decompressor, bmaptool, dd ...).
run_job() {
	local rc=0
	set -m
	"$@" &
	JOB_PID=$!
	set +m
	wait "$JOB_PID" || rc=$?
	JOB_PID=
	return "$rc"
}

kill_job() {
	if [[ -n $JOB_PID ]]; then
		kill -TERM -- "-$JOB_PID" 2>/dev/null || kill -TERM "$JOB_PID" 2>/dev/null || true
		wait "$JOB_PID" 2>/dev/null || true
		JOB_PID=
	fi
}

phase_consequence() {
	case $PHASE in
	check) echo "nothing was written." ;;
	unmount) echo "nothing was written (some partitions may have been unmounted)." ;;
	write) echo "$DEV_REAL is only PARTLY WRITTEN and will not boot; run flash.sh again to rewrite it." ;;
	verify) echo "the image was written to $DEV_REAL but NOT VERIFIED; run flash.sh again to be sure." ;;
	*) echo "the image was written and verified." ;;
	esac
}

on_signal() { # NAME EXITCODE
	trap '' INT TERM HUP
	printf '\n' >&2
	msg "INTERRUPTED (SIG$1): stopping ..."
	kill_job
	msg "INTERRUPTED (SIG$1): $(phase_consequence)"
	REPORTED=1
	exit "$2"
}

on_exit() {
	local rc=$?
	trap '' INT TERM HUP
	kill_job
	if [[ -n $TMP ]]; then rm -rf -- "$TMP"; fi
	if ((rc != 0 && !REPORTED)); then
		msg "FAILED (exit status $rc) during the $PHASE step: $(phase_consequence)"
	fi
	return "$rc"
}

# ------------------------------------------------------------ lsblk / sysfs --

declare -A LB=() # one lsblk -P record

parse_pairs() { # 'KEY="value" KEY2="value"' -> LB
	local line=$1 raw val
	local re='^([A-Za-z0-9_:.-]+)="([^"]*)"[[:space:]]*(.*)$'
	LB=()
	while [[ $line =~ $re ]]; do
		raw=${BASH_REMATCH[2]}
		printf -v val '%b' "$raw"
		val=${val%"${val##*[![:space:]]}"} # trim trailing blanks (models)
		LB[${BASH_REMATCH[1]}]=$val
		line=${BASH_REMATCH[3]}
	done
}

LB_COLS=NAME,TYPE,SIZE,TRAN,RM,HOTPLUG,RO,MODEL,VENDOR,SERIAL

lsblk_disk() { # /dev/X -> LB (lsblk -d record of that device)
	local out
	out=$("$LSBLK" -P -b -d -o "$LB_COLS" -- "$1" 2>/dev/null) || out=
	parse_pairs "${out%%$'\n'*}"
}

sys_name_of_majmin() { # MAJ:MIN -> kernel name, via SYSFS/dev/block
	local p="$SYSFS/dev/block/$1"
	[[ -e $p ]] || return 1
	p=$(readlink -f -- "$p") || return 1
	printf '%s\n' "${p##*/}"
}

sys_attr() { # NAME ATTR -> value or empty
	local f="$SYSFS/class/block/$1/$2"
	if [[ -r $f ]]; then
		local v
		v=$(<"$f")
		printf '%s' "$v"
	fi
}

# Mount table, parsed once.
MI_MM=()
MI_MP=()
MI_SRC=()
read_mountinfo() {
	local line i mp src
	local -a f
	MI_MM=()
	MI_MP=()
	MI_SRC=()
	[[ -r $MOUNTINFO ]] || fail 1 "cannot read the mount table $MOUNTINFO"
	while IFS= read -r line; do
		read -r -a f <<<"$line"
		((${#f[@]} >= 7)) || continue
		i=6
		while ((i < ${#f[@]})) && [[ ${f[i]} != - ]]; do i=$((i + 1)); done
		printf -v mp '%b' "${f[4]}"
		printf -v src '%b' "${f[i + 2]:-}"
		MI_MM+=("${f[2]}")
		MI_MP+=("$mp")
		MI_SRC+=("$src")
	done <"$MOUNTINFO"
}

# collect_disks NAME: append to RES the whole disk(s) under block device NAME,
# following slaves (dm, md, LVM, LUKS), partitions and loop backing files.
RES=()
UNRESOLVED=()
collect_disks() {
	local n=$1 depth=${2:-0} base s had=0 p bf mm
	((depth <= 20)) || return 0
	base="$SYSFS/class/block/$n"
	if [[ ! -e $base ]]; then
		UNRESOLVED+=("$n")
		return 0
	fi
	for s in "$base"/slaves/*; do
		had=1
		collect_disks "${s##*/}" $((depth + 1))
	done
	if [[ -r $base/loop/backing_file ]]; then
		bf=$(<"$base/loop/backing_file")
		if [[ -e $bf ]] && mm=$(stat -L -c '%Hd:%Ld' -- "$bf" 2>/dev/null); then
			collect_majmin "$mm" "" $((depth + 1)) quiet
		fi
	fi
	((had)) && return 0
	if [[ -e $base/partition ]]; then
		p=$(readlink -f -- "$base")
		p=${p%/*}
		RES+=("${p##*/}")
	else
		RES+=("$n")
	fi
}

# collect_majmin MAJ:MIN SOURCE [DEPTH] [quiet]: the disks under a file
# system's device number (or, for anonymous devices such as btrfs, under the
# block device it was mounted from).
collect_majmin() {
	local mm=$1 src=$2 depth=${3:-0} quiet=${4:-} nm i
	if [[ $mm != 0:* ]] && nm=$(sys_name_of_majmin "$mm"); then
		collect_disks "$nm" "$depth"
		return 0
	fi
	if [[ -z $src ]]; then
		for i in "${!MI_MM[@]}"; do
			if [[ ${MI_MM[i]} == "$mm" ]]; then
				src=${MI_SRC[i]}
				break
			fi
		done
	fi
	if [[ -n $src && -b $src ]]; then
		mm=$(stat -L -c '%Hr:%Lr' -- "$src")
		if nm=$(sys_name_of_majmin "$mm"); then
			collect_disks "$nm" "$depth"
			return 0
		fi
	fi
	# Not backed by a block device (tmpfs, overlay, nfs ...) or unknown.
	if [[ -z $quiet && $src == /dev/* ]]; then UNRESOLVED+=("$src"); fi
	return 0
}

declare -A PROT=() # disk name -> what it holds
find_protected_disks() {
	local i p d line fname mm
	PROT=()
	for i in "${!MI_MP[@]}"; do
		for p in "${PROTECTED_MOUNTS[@]}"; do
			[[ ${MI_MP[i]} == "$p" ]] || continue
			RES=()
			UNRESOLVED=()
			collect_majmin "${MI_MM[i]}" "${MI_SRC[i]}"
			for d in "${RES[@]}"; do PROT[$d]+="${PROT[$d]:+, }$p"; done
			if ((${#UNRESOLVED[@]})); then
				msg "warning: could not find the disk holding $p (${UNRESOLVED[*]})"
			fi
		done
	done
	[[ -r $SWAPS ]] || fail 1 "cannot read the swap table $SWAPS"
	{
		read -r _ || true
		while read -r fname _; do
			printf -v fname '%b' "$fname"
			RES=()
			UNRESOLVED=()
			if [[ -b $fname ]]; then
				collect_majmin "$(stat -L -c '%Hr:%Lr' -- "$fname")" "$fname"
			elif [[ -e $fname ]]; then
				mm=$(stat -L -c '%Hd:%Ld' -- "$fname")
				collect_majmin "$mm" ""
			else
				UNRESOLVED+=("$fname")
			fi
			for d in "${RES[@]}"; do PROT[$d]+="${PROT[$d]:+, }swap ($fname)"; done
			if ((${#UNRESOLVED[@]})); then
				msg "warning: could not find the disk holding swap ${UNRESOLVED[*]}"
			fi
		done
	} <"$SWAPS"
}

partitions_of() { # disk name -> PARTS (kernel names)
	local p d
	PARTS=()
	for p in "$SYSFS/class/block/$1"/*/partition; do
		d=${p%/partition}
		PARTS+=("${d##*/}")
	done
}

# assess_disk NAME DEVPATH: HARD (never allowed) and SOFT (allowed with
# --force) reasons against writing to that disk; leaves its lsblk record in LB.
HARD=()
SOFT=()
TRAN=
REMOVABLE=0
assess_disk() {
	local n=$1 path=$2 parent p h type ro
	HARD=()
	SOFT=()
	lsblk_disk "$path"
	type=${LB[TYPE]:-}
	if [[ -e $SYSFS/class/block/$n/partition || $type == part ]]; then
		parent=$(readlink -f -- "$SYSFS/class/block/$n")
		parent=${parent%/*}
		parent=${parent##*/}
		HARD+=("$path is a partition (of /dev/$parent), not a whole disk; give the whole disk, e.g. /dev/$parent")
	elif [[ -n $type && $type != disk && $type != loop ]]; then
		HARD+=("$path is a '$type' device, not a whole disk")
	elif [[ -z $type ]]; then
		HARD+=("lsblk ($LSBLK) knows nothing about $path")
	fi
	if [[ -n ${PROT[$n]:-} ]]; then
		HARD+=("$path is a SYSTEM DISK: it holds ${PROT[$n]}")
	fi
	partitions_of "$n"
	for p in "$n" "${PARTS[@]}"; do
		for h in "$SYSFS/class/block/$p/holders"/*; do
			HARD+=("/dev/$p is in use by ${h##*/} (device-mapper/LVM/LUKS/RAID); deactivate that first")
		done
	done
	ro=$(sys_attr "$n" ro)
	if [[ $ro == 1 || ${LB[RO]:-0} == 1 ]]; then
		HARD+=("$path is read-only (write-protect switch on the card or adapter?)")
	fi
	if [[ ${LB[SIZE]:-} == 0 ]]; then
		HARD+=("$path has no medium (size 0)")
	fi
	TRAN=${LB[TRAN]:-}
	if [[ -z $TRAN && $n == mmcblk* ]]; then TRAN=mmc; fi
	REMOVABLE=0
	if [[ $(sys_attr "$n" removable) == 1 ]]; then
		REMOVABLE=1
	elif [[ $TRAN == mmc && $(sys_attr "$n" device/type) == SD ]]; then
		REMOVABLE=1 # SD card in a built-in slot
	fi
	if [[ $TRAN != usb && $TRAN != mmc ]]; then
		SOFT+=("$path is not a USB or MMC/SD device (transport: ${TRAN:-none})")
	fi
	if ((!REMOVABLE)); then
		SOFT+=("$path is not a removable device")
	fi
	return 0
}

# -------------------------------------------------------------------- list --

do_list() {
	local all=$1 line n path shown=0 hidden=0 note
	local -a rows=()
	need "$LSBLK" numfmt
	read_mountinfo
	find_protected_disks
	while IFS= read -r line; do
		parse_pairs "$line"
		n=${LB[NAME]:-}
		[[ -n $n ]] || continue
		[[ ${LB[TYPE]:-} == disk || ($all == 1 && ${LB[TYPE]:-} == loop) ]] || continue
		path=/dev/$n
		assess_disk "$n" "$path"
		note=
		if ((${#HARD[@]} + ${#SOFT[@]})); then
			if ((!all)); then
				hidden=$((hidden + 1))
				continue
			fi
			if ((${#HARD[@]})); then note=${HARD[0]#"$path "}; else note=${SOFT[0]#"$path "}; fi
		fi
		rows+=("$(printf '%-16s %10s  %-5s %-4s %-28s %-20s %s' "$path" "$(human "${LB[SIZE]:-0}")" \
			"${TRAN:--}" "$( ((REMOVABLE)) && echo yes || echo no)" \
			"$(printf '%s %s' "${LB[VENDOR]:-}" "${LB[MODEL]:-}" | sed 's/^ *//;s/^$/-/')" \
			"${LB[SERIAL]:--}" "$note")")
		shown=$((shown + 1))
	done < <("$LSBLK" -P -b -d -o "$LB_COLS" || fail 1 "$LSBLK failed")
	if ((shown)); then
		printf '%-16s %10s  %-5s %-4s %-28s %-20s %s\n' DEVICE SIZE TRAN RM MODEL SERIAL "$( ((all)) && echo NOTE)"
		printf '%s\n' "${rows[@]}"
	else
		echo "No removable USB/MMC disk found."
	fi
	if ((hidden)); then echo "($hidden other disk(s) are not candidates; see: $PROG --list --all)"; fi
}

# ------------------------------------------------------------------- image --

COMP=none
IMG_SIZE=0
detect_image() {
	local magic
	if [[ ! -e $IMAGE ]]; then
		if [[ -L $IMAGE ]]; then refuse "image '$IMAGE' is missing (dangling symlink)"; fi
		refuse "image '$IMAGE' is missing (no such file)"
	fi
	[[ -f $IMAGE ]] || refuse "image '$IMAGE' is not a regular file ($(stat -L -c %F -- "$IMAGE"))"
	if ! { : <"$IMAGE"; } 2>/dev/null || ! head -c 1 -- "$IMAGE" >/dev/null 2>&1; then
		refuse "image '$IMAGE' is not readable (permission denied or I/O error)"
	fi
	IMG_SIZE=$(stat -L -c %s -- "$IMAGE")
	((IMG_SIZE > 0)) || refuse "image '$IMAGE' is empty"
	magic=$(head -c 6 -- "$IMAGE" | od -An -tx1 | tr -d ' \n')
	case $magic in
	fd377a585a00) COMP=xz ;;
	1f8b*) COMP=gz ;;
	28b52ffd*) COMP=zst ;;
	425a68*) refuse "image '$IMAGE' is bzip2-compressed; only xz, gzip and zstd are supported (bunzip2 it first)" ;;
	504b0304*) refuse "image '$IMAGE' is a zip archive; unzip it first" ;;
	*) COMP=none ;;
	esac
}

comp_label() {
	case $COMP in
	none) echo "plain" ;;
	gz) echo "gzip-compressed" ;;
	*) echo "$COMP-compressed" ;;
	esac
}

emit_image() { # the uncompressed image on stdout
	case $COMP in
	none) cat -- "$IMAGE" ;;
	xz) xz -dc -T0 -- "$IMAGE" ;;
	gz) gzip -dc -- "$IMAGE" ;;
	zst) zstd -dcq -- "$IMAGE" ;;
	esac
}

decompressor() {
	case $COMP in
	xz) echo xz ;;
	gz) echo gzip ;;
	zst) echo zstd ;;
	esac
}

# One pass over the uncompressed image: its length and SHA-256.
measure_image() {
	local hp rc=0
	rm -f -- "$TMP/m.fifo"
	mkfifo -- "$TMP/m.fifo"
	sha256sum <"$TMP/m.fifo" >"$TMP/m.sha" &
	hp=$!
	emit_image | tee -- "$TMP/m.fifo" | wc -c >"$TMP/m.len" || rc=$?
	if ! wait "$hp"; then rc=1; fi
	return "$rc"
}

LEN=0
SRC_HASH=
MEASURED=0
do_measure() {
	msg "reading the whole $(comp_label) image to find its uncompressed size and checksum ..."
	run_job measure_image || refuse "cannot decompress '$IMAGE' with $(decompressor): the image is corrupt or truncated"
	LEN=$(<"$TMP/m.len")
	SRC_HASH=$(cut -c1-64 "$TMP/m.sha")
	MEASURED=1
	((LEN > 0)) || refuse "image '$IMAGE' decompresses to nothing"
}

BMAP=
BMAP_SIZE=0
BMAP_MAPPED=0
find_bmap() {
	local c
	if ((NO_BMAP)); then
		BMAP=
		return 0
	fi
	if [[ -z $BMAP ]]; then
		for c in "$IMAGE.bmap" "${IMAGE%.*}.bmap"; do
			if [[ $c != "$IMAGE.bmap" && $IMAGE != *.xz && $IMAGE != *.gz && $IMAGE != *.zst && $IMAGE != *.gzip ]]; then
				continue
			fi
			if [[ -f $c ]]; then
				BMAP=$c
				break
			fi
		done
	fi
	[[ -n $BMAP ]] || return 0
	[[ -f $BMAP && -r $BMAP ]] || refuse "bmap file '$BMAP' is missing or unreadable"
	BMAP_SIZE=$(sed -n 's:.*<ImageSize>[[:space:]]*\([0-9][0-9]*\)[[:space:]]*</ImageSize>.*:\1:p' -- "$BMAP" | head -n1)
	BMAP_MAPPED=$(sed -n 's:.*<MappedBlocksCount>[[:space:]]*\([0-9][0-9]*\)[[:space:]]*</MappedBlocksCount>.*:\1:p' -- "$BMAP" | head -n1)
	local bs
	bs=$(sed -n 's:.*<BlockSize>[[:space:]]*\([0-9][0-9]*\)[[:space:]]*</BlockSize>.*:\1:p' -- "$BMAP" | head -n1)
	[[ -n $BMAP_SIZE && -n $bs ]] || refuse "'$BMAP' is not a valid bmap file (no ImageSize/BlockSize)"
	BMAP_MAPPED=$((${BMAP_MAPPED:-0} * bs))
	if [[ $COMP == none ]] && ((BMAP_SIZE != IMG_SIZE)); then
		refuse "bmap '$BMAP' does not belong to '$IMAGE': it describes $BMAP_SIZE bytes, the image has $IMG_SIZE"
	fi
}

# IMAGE.sha256 beside the image: "HASH" or "HASH  name" lines (sha256sum).
check_sidecar_sha256() {
	local sumf="$IMAGE.sha256" expected='' h name base actual
	[[ -f $sumf ]] || return 0
	base=${IMAGE##*/}
	while read -r h name; do
		h=${h,,}
		[[ $h =~ ^[0-9a-f]{64}$ ]] || continue
		name=${name#\*}
		if [[ -z $name || ${name##*/} == "$base" ]]; then
			expected=$h
			break
		fi
		[[ -n $expected ]] || expected=$h
	done <"$sumf"
	[[ -n $expected ]] || refuse "'$sumf' contains no SHA-256 checksum"
	msg "checking '$IMAGE' against $sumf ..."
	run_job sha256_file || fail 1 "cannot read '$IMAGE'"
	actual=$(cut -c1-64 "$TMP/f.sha")
	if [[ $actual == "$expected" ]]; then
		if [[ $COMP == none ]]; then SRC_HASH=$actual; fi
		msg "image checksum OK ($sumf)"
		return 0
	fi
	if [[ $COMP != none ]]; then
		# Some publishers give the checksum of the uncompressed image.
		((MEASURED)) || do_measure
		if [[ $SRC_HASH == "$expected" ]]; then
			msg "image checksum OK ($sumf matches the uncompressed image)"
			return 0
		fi
	fi
	refuse "'$IMAGE' does not match $sumf (expected $expected, got $actual): the download is corrupt or the checksum belongs to another file"
}

sha256_file() { sha256sum <"$IMAGE" >"$TMP/f.sha"; }

# --------------------------------------------------------------- test mode --

# The FLASH_* hooks replace the system views flash.sh judges a disk by, or run
# a command as root.  Set without --test-mode they are refused rather than
# ignored: whoever set them expects flash.sh to see something else than it
# would, and a root tool should not guess which of the two was meant.
apply_test_hooks() {
	local v
	local -a set=()
	for v in "${HOOK_VARS[@]}"; do
		if [[ -n ${!v:-} ]]; then set+=("$v"); fi
	done
	if ((!TEST_MODE)); then
		((${#set[@]} == 0)) || refuse "test hook(s) set in the environment: ${set[*]}; flash.sh honours them only with --test-mode (loop devices only), so that a leaked variable cannot make a disk look like a card or run a command; unset them (env -u ${set[0]} ...) and run flash.sh again"
		return 0
	fi
	msg "TEST MODE (--test-mode): only a loop device backed by a regular file is accepted as DEVICE"
	SYSFS=${FLASH_SYSFS:-$SYSFS}
	LSBLK=${FLASH_LSBLK:-$LSBLK}
	MOUNTINFO=${FLASH_MOUNTINFO:-$MOUNTINFO}
	SWAPS=${FLASH_SWAPS:-$SWAPS}
	AFTER_WRITE_HOOK=${FLASH_TEST_AFTER_WRITE:-}
	for v in "${set[@]}"; do msg "test mode: hook $v=${!v} is active"; done
}

# test_mode_target_check DEVICE: with --test-mode, DEVICE must be a whole loop
# device (major 7) bound to a regular file.  Judged from the real /sys, never
# from FLASH_SYSFS, so no hook can turn a real disk into a target.
TEST_LOOP_MM=
test_mode_target_check() {
	local dev=$1 mm sysd bf why="test mode (--test-mode) writes only to loop devices backed by a regular file"
	[[ -b $dev ]] || refuse "$dev is not a block device; $why"
	mm=$(stat -L -c '%Hr:%Lr' -- "$dev" 2>/dev/null) || refuse "cannot stat $dev; $why"
	sysd=/sys/dev/block/$mm
	if [[ ${mm%%:*} != 7 || ! -r $sysd/loop/backing_file ]]; then
		refuse "$dev (device $mm) is not a loop device (/sys/dev/block/$mm/loop/backing_file is missing); $why"
	fi
	bf=$(<"$sysd/loop/backing_file")
	if [[ -z $bf || ! -f $bf || -b $bf ]]; then
		refuse "loop device $dev is backed by '${bf:-nothing}', not by a regular file; $why"
	fi
	if [[ -n $TEST_LOOP_MM && $mm != "$TEST_LOOP_MM" ]]; then
		refuse "$dev is now device $mm, not the loop device $TEST_LOOP_MM checked before; run flash.sh again"
	fi
	TEST_LOOP_MM=$mm
}

# ------------------------------------------------------------------ target --

DEV_NAME=
DEV_MM=
DEV_SEQ=
DEV_SIZE=0
TGT_MMS=()
TGT_MOUNTS=()
resolve_target() {
	[[ -e $DEV ]] || refuse "$DEV does not exist (not a block device)"
	[[ -b $DEV ]] || refuse "$DEV is not a block device (it is a $(stat -L -c %F -- "$DEV"))"
	DEV_REAL=$(readlink -f -- "$DEV")
	DEV_MM=$(stat -L -c '%Hr:%Lr' -- "$DEV")
	DEV_NAME=$(sys_name_of_majmin "$DEV_MM") || DEV_NAME=${DEV_REAL##*/}
	[[ -e $SYSFS/class/block/$DEV_NAME ]] || refuse "$DEV (device $DEV_MM) is unknown to the kernel ($SYSFS/class/block)"
	DEV_SEQ=$(sys_attr "$DEV_NAME" diskseq)
	if ((TEST_MODE)); then test_mode_target_check "$DEV_REAL"; fi
}

# After the confirmation: is it still the same disk and medium?  The kernel
# gives every newly attached disk or medium a new diskseq number.
same_device_check() {
	local mm seq size
	mm=$(stat -L -c '%Hr:%Lr' -- "$DEV_REAL" 2>/dev/null) || mm=
	seq=$(sys_attr "$DEV_NAME" diskseq)
	size=$(blockdev --getsize64 "$DEV_REAL" 2>/dev/null) || size=
	if [[ $mm != "$DEV_MM" || $seq != "$DEV_SEQ" || $size != "$DEV_SIZE" ]]; then
		refuse "$DEV_REAL changed since it was checked (card or reader replaced?); run flash.sh again"
	fi
	if ((TEST_MODE)); then test_mode_target_check "$DEV_REAL"; fi
}

find_target_mounts() {
	local p i mm
	TGT_MMS=("$DEV_MM")
	partitions_of "$DEV_NAME"
	for p in "${PARTS[@]}"; do
		mm=$(sys_attr "$p" dev)
		if [[ -n $mm ]]; then TGT_MMS+=("$mm"); fi
	done
	TGT_MOUNTS=()
	for i in "${!MI_MM[@]}"; do
		mm=${MI_MM[i]}
		if [[ $mm == 0:* && -b ${MI_SRC[i]} ]]; then mm=$(stat -L -c '%Hr:%Lr' -- "${MI_SRC[i]}"); fi
		for p in "${TGT_MMS[@]}"; do
			if [[ $mm == "$p" ]]; then
				TGT_MOUNTS+=("${MI_MP[i]}")
				break
			fi
		done
	done
}

image_on_target() { # FILE -> true if FILE is stored on the target disk
	local mm d
	mm=$(stat -L -c '%Hd:%Ld' -- "$1") || return 1
	RES=()
	UNRESOLVED=()
	collect_majmin "$mm" "" 0 quiet
	for d in "${RES[@]}"; do [[ $d == "$DEV_NAME" ]] && return 0; done
	return 1
}

# Exclusive open: the kernel refuses it while anything is mounted from the
# disk, it is swap, or a RAID/LVM/dm layer or another program holds it.
excl_check() {
	local st=''
	st=$("$PY" "$HELPERS/excl_open.py" "$DEV_REAL" 2>&1) || true
	st=${st%%$'\n'*}
	case $st in
	free) return 0 ;;
	busy) refuse "the kernel reports $DEV_REAL as in use (a mounted file system, swap, RAID/LVM/LUKS, or another program holds it)" ;;
	*) refuse "cannot open $DEV_REAL exclusively: ${st:-no answer from $HELPERS/excl_open.py}" ;;
	esac
}

unmount_target() {
	local mp out
	local -a sorted
	((${#TGT_MOUNTS[@]})) || return 0
	mapfile -t sorted < <(printf '%s\n' "${TGT_MOUNTS[@]}" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
	for mp in "${sorted[@]}"; do
		msg "unmounting $mp"
		if ! out=$(umount -- "$mp" 2>&1); then
			refuse "cannot unmount $mp ($out); close the programs using it and try again"
		fi
	done
}

# ------------------------------------------------------------ write/verify --

DIRECT_R=0
NEED_HASH=0

# With a bmap: bmaptool reads the image itself.  It picks the decompressor
# from the file name; flash.sh knows the format from the content, so bmaptool
# gets a link whose name says so.
write_bmap() {
	local ext='' link
	case $COMP in
	xz) ext=.xz ;;
	gz) ext=.gz ;;
	zst) ext=.zst ;;
	esac
	link="$TMP/image.img$ext"
	ln -sf -- "$(readlink -f -- "$IMAGE")" "$link"
	local -a args=(copy --bmap "$BMAP")
	((VERIFY)) || args+=(--no-verify)
	bmaptool "${args[@]}" "$link" "$DEV_REAL"
}

# Without a bmap: flash.sh decompresses (format from the content) and streams
# the whole image into bmaptool copy --nobmap; when the read-back needs the
# image's SHA-256, it is taken from the same stream on the way.
write_full() {
	local hp='' rc=0
	local -a prog=(cat)
	local -a copy=(bmaptool copy --nobmap /dev/stdin "$DEV_REAL")
	if command -v pv >/dev/null 2>&1; then prog=(pv -pterab -s "$LEN"); fi
	if ((NEED_HASH)); then
		rm -f -- "$TMP/w.fifo"
		mkfifo -- "$TMP/w.fifo"
		sha256sum <"$TMP/w.fifo" >"$TMP/w.sha" &
		hp=$!
		emit_image | tee -- "$TMP/w.fifo" | "${prog[@]}" | "${copy[@]}" || rc=$?
		if ! wait "$hp" && ((rc == 0)); then rc=1; fi
	else
		emit_image | "${prog[@]}" | "${copy[@]}" || rc=$?
	fi
	return "$rc"
}

verify_dd() {
	local ss alen flags=count_bytes
	ss=$(blockdev --getss "$DEV_REAL")
	alen=$(((LEN + ss - 1) / ss * ss))
	if ((DIRECT_R)); then flags=direct,count_bytes; fi
	dd if="$DEV_REAL" bs=4M iflag="$flags" count="$alen" status=progress |
		{
			head -c "$LEN"
			cat >/dev/null
		} | sha256sum >"$TMP/v.sha"
}

# The mapped ranges, read back from the card, against the bmap's checksums or
# (for a bmap without them) against the image.
verify_bmap() {
	if grep -q 'chksum="\|sha1="' -- "$BMAP"; then
		"$PY" "$HELPERS/bmap_verify.py" "$BMAP" "$DEV_REAL" checksum >"$TMP/v.out"
	else
		emit_image | "$PY" "$HELPERS/bmap_verify.py" "$BMAP" "$DEV_REAL" image >"$TMP/v.out"
	fi
}

flush_dev() { blockdev --flushbufs "$DEV_REAL" >/dev/null 2>&1 || true; }

# -------------------------------------------------------------------- main --

YES=0
FORCE=0
DRY=0
VERIFY=1
LIST=0
ALL=0
NO_BMAP=0
TEST_MODE=0
IMAGE=
DEV=

parse_args() {
	local -a pos=()
	while (($#)); do
		case $1 in
		-h | --help)
			usage
			exit 0
			;;
		-l | --list) LIST=1 ;;
		--all) ALL=1 ;;
		-y | --yes) YES=1 ;;
		-f | --force) FORCE=1 ;;
		-n | --dry-run) DRY=1 ;;
		--no-verify) VERIFY=0 ;;
		--no-bmap) NO_BMAP=1 ;;
		--test-mode) TEST_MODE=1 ;;
		--bmap)
			(($# >= 2)) || usage_error "--bmap needs a file"
			BMAP=$2
			shift
			;;
		--bmap=*) BMAP=${1#--bmap=} ;;
		--)
			shift
			pos+=("$@")
			break
			;;
		-*) usage_error "unknown option '$1'" ;;
		*) pos+=("$1") ;;
		esac
		shift
	done
	if ((LIST)); then
		((${#pos[@]} == 0)) || usage_error "--list takes no IMAGE/DEVICE"
		return 0
	fi
	((${#pos[@]} == 2)) || usage_error "need IMAGE and DEVICE"
	IMAGE=${pos[0]}
	DEV=${pos[1]}
	if [[ -n $BMAP ]] && ((NO_BMAP)); then usage_error "--bmap and --no-bmap exclude each other"; fi
}

show_plan() {
	local mp p
	{
		echo
		echo "  Target:     $DEV_REAL ($DEV_NAME)"
		echo "  Model:      $(printf '%s %s' "${LB[VENDOR]:-}" "${LB[MODEL]:-}" | sed 's/^ *//;s/^$/(unknown)/')"
		echo "  Size:       $(human "$DEV_SIZE") ($DEV_SIZE bytes)"
		echo "  Serial:     ${LB[SERIAL]:-(none)}"
		echo "  Transport:  ${TRAN:-(none)}, $( ((REMOVABLE)) && echo removable || echo NOT removable)"
		if ((${#PARTS[@]})); then
			"$LSBLK" -P -b -o NAME,SIZE,FSTYPE,LABEL -- "$DEV_REAL" 2>/dev/null | while IFS= read -r p; do
				parse_pairs "$p"
				[[ ${LB[NAME]:-} != "$DEV_NAME" ]] || continue
				printf '  Contains:   %s %s %s %s\n' "${LB[NAME]:-}" "$(human "${LB[SIZE]:-0}")" "${LB[FSTYPE]:-}" "${LB[LABEL]:+\"${LB[LABEL]}\"}"
			done
		fi
		for mp in "${TGT_MOUNTS[@]}"; do echo "  Mounted:    $mp (will be unmounted)"; done
		echo "  Image:      $IMAGE ($(comp_label), $(human "$LEN") = $LEN bytes to write)"
		if [[ -n $BMAP ]]; then
			echo "  Method:     bmaptool copy, block map $BMAP ($(human "$BMAP_MAPPED") mapped)"
		else
			echo "  Method:     bmaptool copy --nobmap: the whole image, $(comp_label)$([[ $COMP == none ]] || echo ", decompressed with $(decompressor)")"
		fi
		if ((!VERIFY)); then
			echo "  Verify:     DISABLED (--no-verify)"
		elif [[ -n $BMAP ]]; then
			echo "  Verify:     bmap checksums while copying, then read back the mapped ranges"
		else
			echo "  Verify:     read back $LEN bytes and compare SHA-256"
		fi
		echo
	} >&2
}

main() {
	parse_args "$@"
	trap on_exit EXIT
	trap 'on_signal INT 130' INT
	trap 'on_signal TERM 143' TERM
	trap 'on_signal HUP 129' HUP

	# 0. Test hooks: refused without --test-mode; with it, only a loop device
	# backed by a file may be the target (judged from the real /sys).
	apply_test_hooks
	if ((TEST_MODE && !LIST)); then test_mode_target_check "$DEV"; fi

	if ((LIST)); then
		do_list "$ALL"
		exit 0
	fi

	need "$LSBLK" blockdev umount dd sha256sum stat od head tee wc numfmt readlink mkfifo mktemp sync sed bmaptool "$PY"
	local h
	for h in excl_open.py bmap_verify.py; do
		[[ -r $HELPERS/$h ]] || fail 1 "helper $HELPERS/$h is missing: flash.sh needs the scripts/flash/ directory of the repository beside it"
	done
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/flash.XXXXXX")

	# 1. The image.
	detect_image
	if [[ $COMP != none ]]; then need "$(decompressor)"; fi
	find_bmap

	# 2. The target.
	resolve_target
	read_mountinfo
	find_protected_disks
	assess_disk "$DEV_NAME" "$DEV_REAL"
	if ((${#HARD[@]})); then
		refuse "$(printf '%s; ' "${HARD[@]}" | sed 's/; $//')"
	fi
	if ((${#SOFT[@]})); then
		if ((!FORCE)); then
			refuse "$(printf '%s; ' "${SOFT[@]}" | sed 's/; $//') -- if you are sure this is the card, add --force"
		fi
		msg "warning (--force): $(printf '%s; ' "${SOFT[@]}" | sed 's/; $//')"
	fi
	local f
	for f in "$IMAGE" ${BMAP:+"$BMAP"}; do
		if image_on_target "$f"; then
			refuse "'$f' is stored on $DEV_REAL itself; copy it elsewhere first"
		fi
	done
	find_target_mounts
	if ! DEV_SIZE=$(blockdev --getsize64 "$DEV_REAL" 2>"$TMP/err"); then
		refuse "cannot read the size of $DEV_REAL: $(<"$TMP/err")"
	fi
	((DEV_SIZE > 0)) || refuse "$DEV_REAL has no medium (size 0)"

	# 3. Sizes.
	if [[ -n $BMAP ]]; then
		LEN=$BMAP_SIZE
	elif [[ $COMP == none ]]; then
		LEN=$IMG_SIZE
	elif [[ $COMP == xz ]]; then
		LEN=$(xz --robot --list -- "$IMAGE" 2>/dev/null | sed -n 's/^totals\t[0-9]*\t[0-9]*\t[0-9]*\t\([0-9]*\).*/\1/p') || LEN=
		[[ -n $LEN ]] || refuse "'$IMAGE' is not a valid xz file (xz --list fails)"
	else
		do_measure
	fi
	((LEN > 0)) || refuse "image '$IMAGE' decompresses to nothing"
	if ((DEV_SIZE < LEN)); then
		refuse "$DEV_REAL is too small: $(human "$DEV_SIZE") ($DEV_SIZE bytes) < image $(human "$LEN") ($LEN bytes, uncompressed)"
	fi

	# 4. The image's own checksum file.
	check_sidecar_sha256

	show_plan
	if ((DRY)); then
		if ((${#TGT_MOUNTS[@]} == 0)); then excl_check; fi
		{
			echo "Dry run: nothing was written. Would:"
			for f in "${TGT_MOUNTS[@]}"; do echo "  - unmount $f"; done
			if [[ -n $BMAP ]]; then
				echo "  - bmaptool copy --bmap $BMAP $( ((VERIFY)) || echo '--no-verify ')$IMAGE $DEV_REAL"
			elif [[ $COMP == none ]]; then
				echo "  - write all $LEN bytes of $IMAGE to $DEV_REAL with bmaptool copy --nobmap"
			else
				echo "  - decompress $IMAGE with $(decompressor) and write all $LEN bytes to $DEV_REAL with bmaptool copy --nobmap"
			fi
			if ((VERIFY)); then echo "  - read back and verify"; fi
			echo "  - sync"
		} >&2
		exit 0
	fi

	# 5. Confirmation.
	if ((!YES)); then
		[[ -t 0 ]] || refuse "standard input is not a terminal, so the device name cannot be typed to confirm; use --yes to skip the confirmation"
		local answer=
		printf 'ALL DATA ON %s WILL BE DESTROYED.\nType the device name "%s" to continue, anything else aborts: ' "$DEV_REAL" "$DEV_NAME" >&2
		IFS= read -r answer || answer=
		answer=${answer//[[:space:]]/}
		if [[ $answer != "$DEV_NAME" && $answer != "/dev/$DEV_NAME" && $answer != "$DEV" ]]; then
			refuse "confirmation '$answer' does not match '$DEV_NAME'"
		fi
	fi

	# 6. Unmount and make sure the kernel agrees the disk is free.
	PHASE=unmount
	unmount_target
	excl_check # bmaptool then opens the device exclusively itself
	same_device_check
	if ((VERIFY)) && [[ -z $BMAP && -z $SRC_HASH ]]; then NEED_HASH=1; fi

	# 7. Write.
	PHASE='write'
	local rc=0 t0=$SECONDS
	if [[ -n $BMAP ]]; then
		msg "writing the mapped blocks to $DEV_REAL with bmaptool copy --bmap ..."
		run_job write_bmap || rc=$?
	else
		msg "writing $(human "$LEN") to $DEV_REAL with bmaptool copy --nobmap (the whole image) ..."
		run_job write_full || rc=$?
	fi
	((rc == 0)) || fail 1 "writing to $DEV_REAL failed (exit status $rc): $(phase_consequence)"
	if ((NEED_HASH)); then SRC_HASH=$(cut -c1-64 "$TMP/w.sha"); fi
	sync -- "$DEV_REAL" 2>/dev/null || sync
	msg "written in $((SECONDS - t0)) s"

	if [[ -n $AFTER_WRITE_HOOK ]]; then
		msg "running test hook FLASH_TEST_AFTER_WRITE"
		FLASH_DEVICE=$DEV_REAL bash -c "$AFTER_WRITE_HOOK" || fail 1 "test hook FLASH_TEST_AFTER_WRITE failed"
	fi

	# 8. Verify (reading from the card, not from the page cache).
	if ((VERIFY)); then
		PHASE=verify
		flush_dev
		if dd if="$DEV_REAL" of=/dev/null bs="$(blockdev --getss "$DEV_REAL")" count=1 iflag=direct status=none 2>/dev/null; then DIRECT_R=1; fi
		t0=$SECONDS
		if [[ -n $BMAP ]]; then
			msg "verifying the mapped ranges read back from $DEV_REAL ..."
			rc=0
			run_job verify_bmap || rc=$?
			if ((rc == 1)); then
				fail 3 "VERIFICATION FAILED: $(<"$TMP/v.out") -- the card does not hold the image (faulty or fake card?); do not use it"
			elif ((rc != 0)); then
				fail 1 "verification could not run (exit status $rc): $(<"$TMP/v.out")"
			fi
			msg "verified: $(<"$TMP/v.out")"
		else
			msg "verifying: reading back $(human "$LEN") from $DEV_REAL ..."
			run_job verify_dd || fail 1 "reading back $DEV_REAL failed: $(phase_consequence)"
			local got
			got=$(cut -c1-64 "$TMP/v.sha")
			if [[ $got != "$SRC_HASH" ]]; then
				fail 3 "VERIFICATION FAILED: $DEV_REAL holds sha256 $got, the image is $SRC_HASH -- the card does not hold the image (faulty or fake card?); do not use it"
			fi
			msg "verified: sha256 $got ($LEN bytes$( ((DIRECT_R)) || echo ', cache flushed, no O_DIRECT'))"
		fi
		msg "verified in $((SECONDS - t0)) s"
	fi

	sync -- "$DEV_REAL" 2>/dev/null || sync
	flush_dev
	kill_job
	PHASE='done'
	if ((VERIFY)); then
		msg "Done: '$IMAGE' written to $DEV_REAL and verified. The card can be removed now."
	else
		msg "Done: '$IMAGE' written to $DEV_REAL (NOT verified, --no-verify). The card can be removed now."
	fi
}

main "$@"
