#!/usr/bin/env bash
# The SD-card image: layout and contents of both partitions, .bmap and .sha256 consistent,
# reproducible (a second build from the same tree gives the same bytes), small, and it boots on
# the emulated Pi 3B and 4B from the card with the three drivers bound, the buttons switching the
# LED and the on-board verification passing.  Issue 17 (real-board readiness): config.txt's board
# filters through a model of the firmware's filters (firmware_filters.py), the same for the
# Buildroot config.txt files; cmdline.txt mounts the root by PARTUUID (the disk signature) and
# names no console; the emulated 4B with its card slot numbered after the WiFi SDIO host holding
# another card still finds its root (and the old root=/dev/mmcblk0p2 does not: negative control);
# with the firmware's 8250.nr_uarts=1 before cmdline.txt, the login console is on the mini UART,
# the device the device tree's stdout-path names.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$RPIBSP_ROOT/tests/lib/tap.sh"
. "$RPIBSP_ROOT/scripts/qemu-board.sh"

img=$RPIBSP_OUT/sdcard.img
work=$RPIBSP_OUT/tests/image
rm -rf "$work" && mkdir -p "$work"
[ -f "$img" ] || {
	notok "image exists at $img (run 'make image')"
	tap_end
	exit 1
}
krel=$(cat "$(kernel_build_dir bsp)/include/config/kernel.release")
size=$(stat -c %s "$img")
echo "# image: $size bytes; $(tr '\n' ';' <"$RPIBSP_OUT/sdcard.img.sizes")"
t "image is well under 100 MiB" test "$size" -lt $((100 * 1024 * 1024))
t "image size is a power of two (QEMU's SD card needs it)" test $((size & (size - 1))) -eq 0
t ".sha256 matches the image" bash -c "cd '$RPIBSP_OUT' && sha256sum -c --status sdcard.img.sha256"
bmaptool -q copy "$img" "$work/copy.img" 2>"$work/bmap.err" || true
t ".bmap reproduces the image (bmaptool copy + cmp)" cmp -s "$img" "$work/copy.img"
rm -f "$work/copy.img"

# Partition table: MBR, p1 FAT (0x0c, bootable), p2 Linux.
python3 - "$img" >"$work/parts" <<'PY'
import struct, sys
mbr = open(sys.argv[1], "rb").read(512)
assert mbr[510:512] == b"\x55\xaa", "no MBR signature"
for i in range(4):
    e = mbr[446 + 16 * i: 462 + 16 * i]
    boot, ptype = e[0], e[4]
    start, count = struct.unpack("<II", e[8:16])
    if ptype:
        print(i + 1, hex(ptype), boot == 0x80, start * 512, count * 512)
PY
echo "# partitions (n type bootable offset size): $(tr '\n' ';' <"$work/parts")"
t "partition 1 is FAT32 LBA (0xc) and bootable" grep -qx '1 0xc True [0-9]* [0-9]*' "$work/parts"
t "partition 2 is Linux (0x83)" grep -qx '2 0x83 False [0-9]* [0-9]*' "$work/parts"
boot_off=$(awk '$1 == 1 {print $4}' "$work/parts")
root_off=$(awk '$1 == 2 {print $4}' "$work/parts")
root_size=$(awk '$1 == 2 {print $5}' "$work/parts")

export MTOOLS_SKIP_CHECK=1
mdir -b -i "$img@@$boot_off" ::/ >"$work/boot.list" 2>&1 || true
mdir -b -i "$img@@$boot_off" ::/overlays >>"$work/boot.list" 2>&1 || true
for f in bootcode.bin start.elf fixup.dat start4.elf fixup4.dat Image config.txt cmdline.txt \
	bcm2837-rpi-3-b.dtb bcm2837-rpi-3-b-plus.dtb bcm2711-rpi-4-b.dtb overlays/rpibsp.dtbo; do
	t "boot partition has $f" grep -q "/$f\$" "$work/boot.list"
done
t "no emulation overlay on the card" bash -c "! grep -q 'rpibsp-emu' '$work/boot.list'"
mtype -i "$img@@$boot_off" ::/config.txt >"$work/config.txt"
t "config.txt: 64-bit, UART, dtoverlay=rpibsp" bash -c "grep -qx arm_64bit=1 '$work/config.txt' && grep -qx enable_uart=1 '$work/config.txt' && grep -qx dtoverlay=rpibsp '$work/config.txt'"

# config.txt's board filters, through a model of the firmware's conditional filters
# (firmware_filters.py: [all], [none], the [piN] model filters with their overlaps, [board-type=N]):
# each supported board gets its mainline device tree, every other board none.
filters=$RPIBSP_ROOT/tests/image/firmware_filters.py
# model_tap PREFIX FILE: the model's PASS/FAIL lines in FILE as TAP lines.
model_tap() {
	local line
	while IFS= read -r line; do
		case $line in
		PASS\ *) ok "$1${line#PASS }" ;;
		FAIL\ *) notok "$1${line#FAIL }" ;;
		*) echo "# $line" ;;
		esac
	done <"$2"
}
# model_check NAME CONFIG TYPE=DTB...: the model's verdict on CONFIG as one TAP line.
model_check() {
	local name=$1 config=$2 rc=0
	shift 2
	python3 "$filters" check "$config" "$@" --others-none >"$work/model.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$name"
	else
		notok "$name (model exit $rc)"
		grep -v '^PASS ' "$work/model.out" | sed 's/^/#   /'
	fi
}
SUPPORTED=(0x8=bcm2837-rpi-3-b.dtb 0xD=bcm2837-rpi-3-b-plus.dtb 0x11=bcm2711-rpi-4-b.dtb)
rc=0
python3 "$filters" check "$work/config.txt" "${SUPPORTED[@]}" --others-none >"$work/filters.out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || notok "config.txt filter model runs (exit $rc: $(head -n1 "$work/filters.out"))"
model_tap "config.txt filter model: " "$work/filters.out"
t "config.txt: the boards are chosen by [board-type=...], no [pi3]/[pi3+]/[pi4] (they match CM3, 3A+, Pi 400, CM4)" \
	bash -c "grep -q '^\[board-type=' '$work/config.txt' && ! grep -qiE '^\[(pi[0-9]+\+?|cm4s?)\]' '$work/config.txt'"
t "config.txt: a comment lists the boards that are not supported" \
	bash -c "grep -i '^#.*not supported' -A2 '$work/config.txt' | grep -q 'CM4'"
t "boot partition: the only device trees are the three mainline ones (no firmware default name of another board)" \
	bash -c "[ \"\$(grep -v /overlays/ '$work/boot.list' | grep -c '\.dtb$')\" = 3 ]"
# The model is not vacuous: the filters this image used to have give unsupported boards a tree.
cat >"$work/config-old-filters.txt" <<'EOF'
arm_64bit=1
kernel=Image
enable_uart=1
[pi3]
device_tree=bcm2837-rpi-3-b.dtb
[pi3+]
device_tree=bcm2837-rpi-3-b-plus.dtb
[pi4]
device_tree=bcm2711-rpi-4-b.dtb
[all]
dtoverlay=rpibsp
EOF
python3 "$filters" check "$work/config-old-filters.txt" "${SUPPORTED[@]}" --others-none >"$work/filters-old.out" 2>&1 || true
t "filter model: the old [pi3]/[pi3+]/[pi4] filters are caught (CM3, 3A+, Pi 400 and CM4 get a device tree)" \
	bash -c "for b in 'CM3 (' '3A+ (' '400 (' 'CM4 ('; do grep -qF \"FAIL \$b\" '$work/filters-old.out' || exit 1; done"
# The Buildroot tree's config.txt files: the same filters, each for its own boards.
br=$RPIBSP_ROOT/buildroot/board/rpibsp
model_check "Buildroot config_3_64bit.txt (filter model): 3B and 3B+ get their mainline trees, no other board a tree" \
	"$br/config_3_64bit.txt" 0x8=bcm2837-rpi-3-b.dtb 0xD=bcm2837-rpi-3-b-plus.dtb
model_check "Buildroot config_4_64bit.txt (filter model): 4B gets its mainline tree, no other board a tree" \
	"$br/config_4_64bit.txt" 0x11=bcm2711-rpi-4-b.dtb

# cmdline.txt: the root by PARTUUID (the image's disk signature, partition 2), not by the probe
# order of the MMC hosts; no console= (Linux takes the device tree's stdout-path, whatever number
# the 8250 core gives the mini UART).
mtype -i "$img@@$boot_off" ::/cmdline.txt | tr -d '\r' >"$work/cmdline.txt"
signature=$(od -An -tx4 -j440 -N4 "$img" | tr -d ' ')
cmdline=$(head -n1 "$work/cmdline.txt")
echo "# cmdline.txt: $cmdline; MBR disk signature 0x$signature"
t "cmdline.txt is one line" test "$(wc -l <"$work/cmdline.txt")" -eq 1
t "cmdline.txt: root=PARTUUID=$signature-02 (the image's disk signature, partition 2)" \
	grep -qE "(^| )root=PARTUUID=$signature-02( |$)" "$work/cmdline.txt"
t "cmdline.txt: no root=/dev/mmcblk* (MMC hosts are numbered in probe order)" bash -c "! grep -q 'root=/dev/mmcblk' '$work/cmdline.txt'"
t "cmdline.txt: no console= (the console comes from the device tree's stdout-path)" bash -c "! grep -qE '(^| )console=' '$work/cmdline.txt'"
brsig=$(sed -n 's/^[[:space:]]*disk-signature[[:space:]]*=[[:space:]]*0x\([0-9a-fA-F]*\).*/\1/p' "$br/genimage.cfg.in" | tr 'A-F' 'a-f')
t "Buildroot: genimage disk-signature (0x${brsig:-none}) and cmdline.txt root=PARTUUID=$signature-02 agree with the image" \
	bash -c "[ '$brsig' = '$signature' ] && grep -qE '(^| )root=PARTUUID=$signature-02( |\$)' '$br/cmdline.txt'"
t "Buildroot cmdline.txt: no console=, no root=/dev/mmcblk*" bash -c "! grep -qE '(^| )console=|root=/dev/mmcblk' '$br/cmdline.txt'"

dd if="$img" of="$work/root.ext4" bs=1M iflag=skip_bytes,count_bytes skip="$root_off" count="$root_size" status=none
t "root filesystem checks clean (e2fsck -fn)" bash -c "e2fsck -fn '$work/root.ext4' >/dev/null 2>&1"
# A power cut must not cost the root filesystem (issue 17, item 3): ext4 with a journal, and the
# board's e2fsck (static, from Debian's e2fsck-static) that rcS runs before mounting it read-write.
t "root filesystem has a journal (has_journal)" bash -c "debugfs -R features '$work/root.ext4' 2>/dev/null | grep -qw has_journal"
rdump() {
	debugfs -R "dump $1 $2" "$work/root.ext4" >/dev/null 2>&1 || true
	[ -f "$2" ] || : >"$2"
}
rstat() { debugfs -R "stat $1" "$work/root.ext4" 2>/dev/null | grep -q "Type: $2"; }
rdump "/lib/modules/$krel/modules.dep" "$work/modules.dep"
rdump "/lib/modules/$krel/modules.alias" "$work/modules.alias"
for m in rpibsp_button rpibsp_led rpibsp_devicemodel; do
	t "rootfs has $m.ko in /lib/modules/$krel/extra with depmod data" grep -q "^extra/.*$m.ko:" "$work/modules.dep"
done
for c in rpibsp,gpio-button rpibsp,gpio-led rpibsp,devicemodel; do
	t "modules.alias autoloads $c" grep -q "of:N\*T\*C$c" "$work/modules.alias"
done
t "rootfs has /usr/bin/rpibsp-verify" rstat /usr/bin/rpibsp-verify regular
t "rootfs has /sbin/e2fsck (a file, not busybox) and /sbin/fsck.ext4" \
	bash -c "$(declare -f rstat); work='$work'; rstat /sbin/e2fsck regular && rstat /sbin/fsck.ext4 symlink"
t "rootfs has busybox and /sbin/init" bash -c "$(declare -f rstat); work='$work'; rstat /bin/busybox regular && rstat /sbin/init symlink"

# Reproducible: the same tree gives the same image.
rootfs=$RPIBSP_OUT/rootfs overlay=$RPIBSP_OUT/boot/overlays/rpibsp.dtbo
if RPIBSP_OUT=$work/rebuild "$RPIBSP_ROOT/scripts/image.sh" "$rootfs" "$overlay" >"$work/rebuild.log" 2>&1; then
	t "a second build gives the same image bytes" cmp -s "$img" "$work/rebuild/sdcard.img"
else
	notok "a second image build succeeds (log: $work/rebuild.log)"
fi
rm -rf "$work/rebuild"

# Boot from the card on the emulated boards and run the demo (drivers, buttons, LED, verify), with
# the card's own cmdline.txt (tests/qemu/boot.sh reads it, as the firmware would) and the console
# on the mini UART, where the device tree's stdout-path puts it.
# On raspi4b tests/qemu/boot.sh puts the card on the emmc2 controller, the 4B's card slot (QEMU
# itself would give it to the Arasan sdhci, the 4B's WiFi SDIO): check that Linux found it there.
# Each boots a card of its own (a copy of the image, in place): the power-cut check below boots the
# raspi3b's card again.
machines=(raspi3b raspi4b)
for m in "${machines[@]}"; do
	dtb=$RPIBSP_OUT/qemu/$m.dtb
	cp --sparse=always "$img" "$work/card-$m.img"
	if "$RPIBSP_ROOT/tests/qemu/boot.sh" --machine "$m" --dtb "$dtb" --sd "$work/card-$m.img" --sd-inplace \
		--guest-cmd /usr/share/rpibsp/demo --timeout 240 --log "$RPIBSP_OUT/logs/image-$m.log" >"$work/$m.out" 2>&1; then
		ok "$m boots from the card with its cmdline.txt (console from stdout-path) and the demo passes"
	else
		notok "$m boots from the card with its cmdline.txt (console from stdout-path) and the demo passes"
		sed 's/^/# /' "$work/$m.out" | tail -n 20
	fi
	grep -E 'demo: (driver|pressed|result)' "$RPIBSP_OUT/logs/image-$m.log" | tr -d '\r' | sed 's/^/# /' || true
	t "$m: the console (QEMU's second serial port: the mini UART) is ttyS1, stdout-path's serial1" \
		grep -q 'console \[ttyS1\] enabled' "$RPIBSP_OUT/logs/image-$m.log"
	if [ "$m" = raspi4b ]; then
		host=$(sed -n 's/.* \(mmc[0-9]*\): SDHCI controller on fe340000\.mmc.*/\1/p' "$RPIBSP_OUT/logs/image-$m.log" | head -n1)
		t "raspi4b: the card is on the emmc2 controller fe340000.mmc, as on the real 4B" \
			grep -q "mmcblk[0-9]*: ${host:-none}:" "$RPIBSP_OUT/logs/image-$m.log"
	fi
done

# --- The kernel configuration for real boards (issue 17, item 3), seen in the card boots above.
for m in "${machines[@]}"; do
	log=$RPIBSP_OUT/logs/image-$m.log
	t "$m: no KUnit suite runs on a product boot (CONFIG_KUNIT_DEFAULT_ENABLED=n; tests pass kunit.enable=1)" \
		bash -c "! grep -q 'KTAP version' '$log'"
	t "$m: rcS checked the root filesystem (e2fsck -p exited 0) before mounting it read-write" \
		grep -qE 'rpibsp: root filesystem check: e2fsck -p /dev/mmcblk[0-9]+p2 exited 0' "$log"
	grep -E 'demo: (SoC|CPU)' "$log" | tr -d '\r' | sed 's/^/# /' || true
done
t "raspi3b: the card slot (sdhost) transfers by DMA (bcm2835-dma)" grep -q 'sdhost-bcm2835 .*DMA enabled' \
	"$RPIBSP_OUT/logs/image-raspi3b.log"

# --- A power cut (issue 17, item 3).  Every emulated board above was stopped by killing QEMU with
# the root mounted read-write: a power cut.  The same card boots again: the kernel replays the
# journal, e2fsck -p passes, the board comes up, and afterwards the filesystem checks clean here.
card=$work/card-raspi3b.img
log=$RPIBSP_OUT/logs/image-raspi3b-powercut.log
if "$RPIBSP_ROOT/tests/qemu/boot.sh" --machine raspi3b --dtb "$RPIBSP_OUT/qemu/raspi3b.dtb" --sd "$card" --sd-inplace \
	--guest-cmd /bin/true --timeout 180 --log "$log" >"$work/powercut.out" 2>&1; then
	ok "raspi3b boots again from its card after a power cut"
else
	notok "raspi3b boots again from its card after a power cut"
	sed 's/^/# /' "$work/powercut.out" | tail -n 20
fi
tr -d '\r' <"$log" | grep -E 'EXT4-fs \(mmcblk0p2\)|rpibsp: root filesystem' | sed 's/^/# /' | head -n 6 || true
t "after the power cut: e2fsck -p at boot exited 0 or 1 (clean, or fixed what it may) and the root is read-write" \
	bash -c "grep -qE 'rpibsp: root filesystem check: e2fsck -p /dev/mmcblk0p2 exited [01]' '$log' && ! grep -q 'stays read-only' '$log'"
dd if="$card" of="$work/root-after.ext4" bs=1M iflag=skip_bytes,count_bytes skip="$root_off" count="$root_size" status=none
t "after two power cuts the card's root filesystem checks clean on the host (journal replayed: e2fsck -fn)" \
	bash -c "e2fsck -E journal_only -y '$work/root-after.ext4' >/dev/null 2>&1; e2fsck -fn '$work/root-after.ext4' >'$work/e2fsck-after.log' 2>&1"
rm -f "$work"/card-*.img "$work/root-after.ext4"

# --- The root does not depend on the MMC hosts' numbering (issue 17, item 1).
# On a real 4B the WiFi SDIO host (the Arasan sdhci, mmc@7e300000) very likely probes before the
# card slot (emmc2, waiting for the firmware-switched regulators), so the card is mmcblk1.  Here the
# emulated 4B gets a second card in the Arasan sdhci, and the device tree of this boot numbers the
# hosts that way (aliases mmc0 = Arasan, mmc1 = emmc2; the WiFi power sequence, switched through
# the firmware's GPIO expander that QEMU lacks, is dropped so that the Arasan probes at all).  The
# second card has a partition 2 that holds no filesystem: root=/dev/mmcblk0p2 finds it and panics
# (panic=-1: QEMU stops at once), root=PARTUUID= finds the card's own.
sdio_dtb=$work/raspi4b-sdio.dtb
cp "$RPIBSP_OUT/qemu/raspi4b.dtb" "$sdio_dtb"
arasan=/soc/mmc@7e300000 emmc2=/emmc2-bus@fe000000/mmc@7e340000
dtb_ok=true
for node in "$arasan" "$emmc2"; do
	if ! fdtget "$sdio_dtb" "$node" compatible >/dev/null 2>&1; then
		dtb_ok=false
		echo "# raspi4b.dtb has no $node"
	fi
done
if $dtb_ok; then
	fdtput -t s "$sdio_dtb" /aliases mmc0 "$arasan" || dtb_ok=false
	fdtput -t s "$sdio_dtb" /aliases mmc1 "$emmc2" || dtb_ok=false
	if fdtget "$sdio_dtb" "$arasan" mmc-pwrseq >/dev/null 2>&1; then
		fdtput -d "$sdio_dtb" "$arasan" mmc-pwrseq || dtb_ok=false
	fi
fi
# The second card: 4 MiB, its own disk signature, partition 1 FAT, partition 2 "Linux" but empty.
python3 -c '
import struct, sys
mbr = bytearray(512)
mbr[440:444] = struct.pack("<I", 0x0BADCAFE)
for i, (ptype, start, count) in enumerate(((0x0C, 2048, 2048), (0x83, 4096, 4096))):
    mbr[446 + 16 * i:462 + 16 * i] = bytes([0, 0, 0, 0, ptype, 0, 0, 0]) + struct.pack("<II", start, count)
mbr[510:512] = b"\x55\xaa"
with open(sys.argv[1], "wb") as f:
    f.write(mbr)
    f.truncate(4 * 1024 * 1024)
' "$work/sdio-card.img"
# numbering_boot NAME CARD: raspi4b from CARD with the second card in the Arasan sdhci.
numbering_boot() {
	"$RPIBSP_ROOT/tests/qemu/boot.sh" --machine raspi4b --dtb "$sdio_dtb" --sd "$2" --sdio "$work/sdio-card.img" \
		--guest-cmd /bin/true --append panic=-1 --timeout 180 --log "$RPIBSP_OUT/logs/image-$1.log" >"$work/$1.out" 2>&1
}
# mmc_host_of LOG CONTROLLER: the mmcN the kernel gave the controller (e.g. fe340000.mmc).
mmc_host_of() { tr -d '\r' <"$1" | sed -n "s/.* \(mmc[0-9]*\): SDHCI controller on $2.*/\1/p" | head -n1; }
if ! $dtb_ok; then
	notok "raspi4b with a second card in the WiFi SDIO host: the test device tree is made (aliases, no mmc-pwrseq)"
else
	log=$RPIBSP_OUT/logs/image-raspi4b-sdio.log
	what="raspi4b, the card slot numbered after the WiFi SDIO host holding another card: boots from the card"
	if numbering_boot raspi4b-sdio "$img"; then
		ok "$what"
	else
		notok "$what"
		sed 's/^/# /' "$work/raspi4b-sdio.out" | tail -n 20
	fi
	sdio_host=$(mmc_host_of "$log" fe300000.mmc) slot_host=$(mmc_host_of "$log" fe340000.mmc)
	echo "# WiFi SDIO host fe300000.mmc: ${sdio_host:-none}; card slot (emmc2) fe340000.mmc: ${slot_host:-none}"
	t "raspi4b-sdio: the other card is mmcblk0, in the WiFi SDIO host (mmc0, fe300000.mmc)" \
		bash -c "[ '$sdio_host' = mmc0 ] && tr -d '\r' <'$log' | grep -q '^\[[ 0-9.]*\] mmcblk0: mmc0:'"
	t "raspi4b-sdio: the card is mmcblk1, in the card slot (mmc1, emmc2 fe340000.mmc)" \
		bash -c "[ '$slot_host' = mmc1 ] && tr -d '\r' <'$log' | grep -q '^\[[ 0-9.]*\] mmcblk1: mmc1:'"
	t "raspi4b-sdio: the root is the card's partition 2, mmcblk1p2" \
		bash -c "tr -d '\r' <'$log' | grep -q 'EXT4-fs (mmcblk1p2): mounted filesystem' && grep -q 'VFS: Mounted root' '$log'"
	# Negative control: the same boot with the old cmdline.txt (root=/dev/mmcblk0p2) must fail,
	# on the other card's partition 2, or the test above proves nothing.
	old=$work/old-cmdline.img
	cp --sparse=always "$img" "$old"
	echo "console=ttyS1,115200 root=/dev/mmcblk0p2 rootfstype=ext4 rootwait ro" >"$work/old-cmdline.txt"
	if ! mcopy -o -i "$old@@$boot_off" "$work/old-cmdline.txt" ::/cmdline.txt 2>"$work/mcopy.err"; then
		notok "negative control: a card with the old cmdline.txt is made ($(head -n1 "$work/mcopy.err"))"
	elif numbering_boot raspi4b-sdio-old "$old"; then
		notok "negative control: the old root=/dev/mmcblk0p2 fails on this board (it booted: the test cannot tell)"
	else
		t "negative control: the old root=/dev/mmcblk0p2 fails on this board (the other card's partition 2 is no root)" \
			grep -qE 'Unable to mount root fs on "/dev/mmcblk0p2"|Cannot open root device "/dev/mmcblk0p2"' \
			"$RPIBSP_OUT/logs/image-raspi4b-sdio-old.log"
	fi
	rm -f "$old"
fi

# --- The serial console on a real board (issue 17, item 2): the firmware puts its own arguments
# before cmdline.txt, 8250.nr_uarts=1 among them, which makes the mini UART ttyS0 instead of
# ttyS1 (the boots above, without it, have it as ttyS1).  The card's command line names no
# console, so Linux takes stdout-path's device: the login prompt must be on the mini UART (QEMU's
# second serial port, here a TCP socket, logged in with rpibsp-hil as on a real board through a
# USB serial adapter) whatever its number.
hil=$RPIBSP_OUT/bin/rpibsp-hil
kernel=$(kernel_build_dir bsp)/arch/arm64/boot/Image
# shellcheck source=../lib/qemu-tcp.sh
. "$RPIBSP_ROOT/tests/lib/qemu-tcp.sh"
trap stop_qemu EXIT
trap 'exit 130' INT TERM
# start_console_board MACHINE LOG: QEMU from the card, the firmware's 8250.nr_uarts=1 before the
# card's cmdline.txt, the mini UART on a TCP server (port in $port, everything it says in LOG).
start_console_board() {
	local m=$1 clog=$2 card dtb=$RPIBSP_OUT/qemu/$1.dtb
	case $m in
	raspi4b) # as tests/qemu/boot.sh: the card in the emmc2 slot, the mini UART on a fixed clock
		card=(-drive "if=none,id=card,format=raw,snapshot=on,file=$img" -device "sd-card,drive=card,bus=/generic-sdhci/sd-bus")
		qemu_miniuart_dtb "$dtb" "$work/$m-console.dtb" || return 1
		dtb=$work/$m-console.dtb
		;;
	*) card=(-drive "if=sd,format=raw,snapshot=on,file=$img") ;;
	esac
	qemu_tcp_start "$work/$m-qemu.out" -M "$m" -kernel "$kernel" -dtb "$dtb" -display none -monitor none \
		-no-reboot -append "8250.nr_uarts=1 $cmdline" "${card[@]}" -serial "file:$work/$m-pl011.log" \
		-chardev "socket,id=miniuart,host=127.0.0.1,port=@PORT@,server=on,wait=off,logfile=$clog" \
		-serial chardev:miniuart
}
# console_value LOG KEY: the value of the last "KEY=value" line the board printed.
console_value() { tr -d '\r' <"$1" | sed -n "s/^$2=//p" | tail -n1; }
bad='Kernel panic|Internal error: Oops|Unable to handle kernel|BUG:|WARNING:|Call trace:'
for m in "${machines[@]}"; do
	clog=$RPIBSP_OUT/logs/image-console-$m.log
	what="$m: login prompt and shell on the mini UART (GPIO 14/15) with the firmware's 8250.nr_uarts=1 before cmdline.txt"
	rm -f "$clog"
	if [ ! -x "$hil" ]; then
		notok "$what (no $hil: run 'make userland')"
		continue
	fi
	if ! start_console_board "$m" "$clog"; then
		notok "$what (QEMU did not start: $(tail -n1 "$work/$m-qemu.out"))"
		continue
	fi
	dtb=$RPIBSP_OUT/qemu/$m.dtb
	rc=0
	# shellcheck disable=SC2016 # the commands are expanded on the board
	"$hil" --tcp "127.0.0.1:$port" --no-verify --boot-timeout 180 --poke-after 5 --deadline 300 \
		--log-dir "$work/$m-hil" \
		--cmd 'printf "cmdline=%s\n" "$(cat /proc/cmdline)"' \
		--cmd 'printf "console-active=%s\n" "$(cat /sys/class/tty/console/active)"' \
		--cmd 't=$(cat /sys/class/tty/console/active); printf "console-node=%s\n" "$(readlink -f /sys/class/tty/${t##* }/device/of_node)"' \
		--cmd 'printf "login-tty=%s\n" "$(readlink /proc/$$/fd/2)"' \
		--cmd 'printf "serial-ttys=%s\n" "$(cd /sys/class/tty && echo ttyS*)"' \
		>"$work/$m-hil.out" 2>&1 || rc=$?
	stop_qemu
	if [ "$rc" -eq 0 ]; then
		ok "$what"
	else
		notok "$what (rpibsp-hil exit $rc)"
		tail -n 15 "$work/$m-hil.out" | sed 's/^/#   /'
		if [ -s "$work/$m-pl011.log" ]; then
			echo "#   the PL011 had output:"
			tr -d '\r' <"$work/$m-pl011.log" | tail -n 5 | sed 's/^/#   /'
		fi
	fi
	active=$(console_value "$clog" console-active) node=$(console_value "$clog" console-node)
	ttys=$(console_value "$clog" serial-ttys) logintty=$(console_value "$clog" login-tty)
	# What the device tree names as stdout: stdout-path, an alias or a path, up to the ':'.
	sp=$(fdtget -t s "$dtb" /chosen stdout-path 2>/dev/null || true)
	sp=${sp%%:*}
	case $sp in
	/*) want=$sp ;;
	?*) want=$(fdtget -t s "$dtb" /aliases "$sp" 2>/dev/null || true) ;;
	*) want="" ;;
	esac
	echo "# $m: stdout-path ${sp:-none} -> ${want:-none}; console ${active:-none} (${node:-none}); login on ${logintty:-none}; serial ttys: ${ttys:-none}"
	t "$m: /proc/cmdline is the firmware's 8250.nr_uarts=1, then the card's cmdline.txt" \
		test "$(console_value "$clog" cmdline)" = "8250.nr_uarts=1 $cmdline"
	t "$m: the console is ttyS0, the only 8250 port (8250.nr_uarts=1 renumbers the mini UART, ttyS1 without it)" \
		test "${active##* }" = ttyS0 -a "$ttys" = ttyS0
	t "$m: the console's device is the node stdout-path names (${want:-none})" \
		test -n "$want" -a "$node" = "/sys/firmware/devicetree/base$want"
	t "$m: the login shell's terminal is that console (/dev/ttyS0)" test "$logintty" = /dev/ttyS0
	t "$m: no kernel oops/BUG/WARNING/panic on the console" bash -c "[ -s '$clog' ] && ! grep -qE '$bad' '$clog'"
done
tap_end
