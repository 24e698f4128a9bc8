#!/usr/bin/env bash
# Device-tree suite: builds dts/ (overlays + merged DTBs), checks the merged
# trees property by property, the __overrides__ parameters (applied the way
# the Raspberry Pi firmware applies them), the emulation overlay, and
# validates bindings and merged trees with dtschema, including negative
# cases that the validator must reject. TAP output; exit 1 on any failure.
#
# Environment: RPIBSP_OUT, RPIBSP_CACHE, RPIBSP_KSRC, RPIBSP_KBUILD (see
# /work/main/dts/Makefile for what each is used for).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
dts="$repo/dts"

. "$repo/scripts/lib.sh"
export RPIBSP_OUT RPIBSP_CACHE
# The kernel source (dt-bindings, schemas) and build (base DTBs): tests/run-all.sh exports both;
# run alone, the BSP kernel's cached trees (`make kernel`).
RPIBSP_KSRC=${RPIBSP_KSRC:-$(kernel_src_dir)}
RPIBSP_KBUILD=${RPIBSP_KBUILD:-$(kernel_build_dir bsp)}
export RPIBSP_KSRC RPIBSP_KBUILD
venv="$RPIBSP_CACHE/venv"
py="$venv/bin/python"
boards=(bcm2837-rpi-3-b bcm2837-rpi-3-b-plus bcm2711-rpi-4-b)
gpio_path=/soc/gpio@7e200000

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() {
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
	if [[ $# -gt 1 && -n "$2" ]]; then printf '%s\n' "$2" | sed 's/^/#   /'; fi
}
# check NAME CMD... : pass when CMD succeeds; its output is shown on failure
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else nok "$name" "$out"; fi
}
# expect NAME EXPECTED ACTUAL
expect() {
	if [[ "$2" == "$3" ]]; then ok "$1"; else nok "$1" "expected '$2', got '$3'"; fi
}
get() { fdtget "$@" 2>&1 || true; }
phandle_of() { fdtget -t u "$1" "$2" phandle 2>/dev/null || echo "none"; }
# pinconf TREE PIN_NODE: "brcm,pins brcm,function brcm,pull"
pinconf() {
	echo "$(get -t u "$1" "$2" brcm,pins) $(get -t u "$1" "$2" brcm,function) $(get -t u "$1" "$2" brcm,pull)"
}

# Base DTBs: the kernel build's (they carry __symbols__: the broadcom
# Makefile sets DTC_FLAGS := -@), or compiled from the kernel source.
dtb_dir="$RPIBSP_KBUILD/arch/arm64/boot/dts/broadcom"
make_vars=(KSRC="$RPIBSP_KSRC" OUT="$RPIBSP_OUT" CACHE="$RPIBSP_CACHE" DTB_DIR="$dtb_dir")
have_kbuild=1
for b in "${boards[@]}"; do [[ -f "$dtb_dir/$b.dtb" ]] || have_kbuild=0; done
if [[ $have_kbuild -eq 1 ]]; then
	echo "# base DTBs: $dtb_dir"
	base() { echo "$dtb_dir/$1.dtb"; }
else
	echo "# base DTBs: not in $dtb_dir, compiled from $RPIBSP_KSRC (BASE_FROM_SRC=1)"
	make_vars+=(BASE_FROM_SRC=1)
	base() { echo "$RPIBSP_OUT/dts/base/$1.dtb"; }
fi

# --- setup -----------------------------------------------------------------

check "dtschema venv (pinned, idempotent)" make -s -C "$dts" "${make_vars[@]}" venv

# --- build -----------------------------------------------------------------

if out=$(make -B -C "$dts" "${make_vars[@]}" all 2>&1); then
	ok "make -C dts all"
else
	nok "make -C dts all" "$out"
	echo "1..$n"
	exit 1
fi
ovl="$RPIBSP_OUT/boot/overlays/rpibsp.dtbo"
emu="$RPIBSP_OUT/boot/overlays/rpibsp-emu.dtbo"
for f in "$ovl" "$emu"; do
	check "output exists: ${f#"$RPIBSP_OUT"/}" test -s "$f"
done
for b in "${boards[@]}"; do
	for f in "$RPIBSP_OUT/dtb/$b-rpibsp.dtb" "$RPIBSP_OUT/dtb/$b-rpibsp-emu.dtb"; do
		check "output exists: ${f#"$RPIBSP_OUT"/}" test -s "$f"
	done
done

# zero dtc warnings (the build fails on any; also check the logs directly)
for o in rpibsp rpibsp-emu; do
	log="$RPIBSP_OUT/dts/$o.dtc.log"
	if [[ -f "$log" && ! -s "$log" ]]; then
		ok "dtc: zero warnings for $o.dts"
	else
		nok "dtc: zero warnings for $o.dts" "$(cat "$log" 2>/dev/null || echo "no log")"
	fi
done
n_checks=$(make -s -C "$dts" "${make_vars[@]}" print-dtc-flags | wc -w)
echo "# dtc checks enabled by name: $n_checks ($(dtc --version))"
if [[ $n_checks -ge 60 ]]; then ok "dtc: all checks enabled"; else nok "dtc: all checks enabled" "only $n_checks"; fi

# the gate works: a dtc warning fails the build
mkdir -p "$tmp/warnsrc"
cp "$dts/rpibsp-emu.dts" "$tmp/warnsrc/"
sed 's|rpibsp_devicemodel: rpibsp-devicemodel {|rpibsp_devicemodel: rpibsp-devicemodel@0 {|' \
	"$dts/rpibsp.dts" > "$tmp/warnsrc/rpibsp.dts"
if out=$(make -s -C "$dts" "${make_vars[@]}" OUT="$tmp/warn" SRC_DIR="$tmp/warnsrc" overlays 2>&1); then
	nok "a dtc warning (unit address without reg) fails the build" "$out"
elif grep -q 'unit_address_vs_reg' <<< "$out" && [[ ! -e "$tmp/warn/boot/overlays/rpibsp.dtbo" ]]; then
	ok "a dtc warning (unit address without reg) fails the build"
else
	nok "a dtc warning (unit address without reg) fails the build" "$out"
fi

# the kernel's own (newer) dtc must agree, when a kernel build is around
kdtc="$RPIBSP_KBUILD/scripts/dtc/dtc"
if [[ -x "$kdtc" ]]; then
	check "kernel dtc ($("$kdtc" --version | sed 's/Version: //')): zero warnings" \
		make -s -C "$dts" "${make_vars[@]}" OUT="$tmp/kdtc" DTC="$kdtc" overlays
else
	ok "kernel dtc: zero warnings # SKIP no kernel build at $RPIBSP_KBUILD"
fi

# The strict name checks flag the overlay format's own names; everything that
# reaches the live tree (node and property names) must pass them.
strict_log="$tmp/strict.log"
for o in rpibsp rpibsp-emu; do
	dtc -@ -I dts -O dtb -Wnode_name_chars_strict -Wproperty_name_chars_strict \
		-o /dev/null "$RPIBSP_OUT/dts/$o.pp.dts" 2>> "$strict_log" || true
done
bad=$(grep -v -E '/(__overlay__|__overrides__|__symbols__|__fixups__|__local_fixups__)(:[a-z_]+)?: Character' "$strict_log" || true)
if [[ -z "$bad" ]]; then ok "node/property names in the tree pass dtc's strict name checks"; else nok "node/property names in the tree pass dtc's strict name checks" "$bad"; fi

# --- overlay shape (firmware-loadable) ---------------------------------------

expect "overlay root compatible is brcm,bcm2835" "brcm,bcm2835" "$(get "$ovl" / compatible)"
expect "fragment@0 targets &gpio (phandle fixup)" "/fragment@0:target:0" \
	"$(get "$ovl" /__fixups__ gpio | tr ' ' '\n' | grep -x '/fragment@0:target:0' || true)"
expect "fragment@1 target-path is /" "/" "$(get "$ovl" /fragment@1 target-path)"
check "overlay built with -@ (has __symbols__)" fdtget "$ovl" /__symbols__ rpibsp_led
check "overlay has __overrides__" fdtget -l "$ovl" /__overrides__

# --- per board: merge, names, properties, pinctrl -----------------------------

for b in "${boards[@]}"; do
	m="$RPIBSP_OUT/dtb/$b-rpibsp.dtb"
	bd=$(base "$b")
	check "$b: fdtoverlay applies rpibsp.dtbo" fdtoverlay -i "$bd" -o "$tmp/$b.dtb" "$ovl"
	check "$b: build output equals a fresh fdtoverlay merge" cmp "$m" "$tmp/$b.dtb"

	collide=""
	for node in $(fdtget -l "$ovl" /fragment@1/__overlay__); do
		fdtget -l "$bd" "/$node" >/dev/null 2>&1 && collide+=" /$node"
	done
	for node in $(fdtget -l "$ovl" /fragment@0/__overlay__); do
		fdtget -l "$bd" "$gpio_path/$node" >/dev/null 2>&1 && collide+=" $gpio_path/$node"
	done
	expect "$b: overlay node names do not collide with the base tree" "" "$collide"
	expect "$b: base /leds untouched" "$(get "$bd" /leds compatible) $(fdtget -l "$bd" /leds | tr '\n' ' ')" \
		"$(get "$m" /leds compatible) $(fdtget -l "$m" /leds | tr '\n' ' ')"

	gph=$(phandle_of "$m" "$(get "$m" /__symbols__ gpio)")
	expect "$b: &gpio is $gpio_path" "$gpio_path" "$(get "$m" /__symbols__ gpio)"

	# buttons
	for spec in "on 17 148 on" "off 18 149 off"; do
		read -r which pin code action <<< "$spec"
		nd="/rpibsp-button-$which"
		pins="$gpio_path/rpibsp-button-$which-pins"
		expect "$b: $nd compatible" "rpibsp,gpio-button" "$(get "$m" "$nd" compatible)"
		expect "$b: $nd gpios = <&gpio $pin GPIO_ACTIVE_LOW>" "$gph $pin 1" "$(get -t u "$m" "$nd" gpios)"
		expect "$b: $nd linux,code" "$code" "$(get -t u "$m" "$nd" linux,code)"
		expect "$b: $nd label" "rpibsp-button-$which" "$(get "$m" "$nd" label)"
		expect "$b: $nd debounce-interval" "20" "$(get -t u "$m" "$nd" debounce-interval)"
		expect "$b: $nd rpibsp,debounce-mode" "stable" "$(get "$m" "$nd" rpibsp,debounce-mode)"
		expect "$b: $nd rpibsp,led-action" "$action" "$(get "$m" "$nd" rpibsp,led-action)"
		expect "$b: $nd status" "okay" "$(get "$m" "$nd" status)"
		expect "$b: $nd no wakeup-source by default" "absent" \
			"$(fdtget "$m" "$nd" wakeup-source >/dev/null 2>&1 && echo present || echo absent)"
		expect "$b: $nd pinctrl-names" "default" "$(get "$m" "$nd" pinctrl-names)"
		expect "$b: $nd pinctrl-0 -> $pins" "$(phandle_of "$m" "$pins")" "$(get -t u "$m" "$nd" pinctrl-0)"
		expect "$b: $pins brcm,pins/function/pull = $pin/input/pull-up" "$pin 0 2" "$(pinconf "$m" "$pins")"
	done

	# LED
	nd=/rpibsp-led
	pins="$gpio_path/rpibsp-led-pins"
	expect "$b: $nd compatible" "rpibsp,gpio-led" "$(get "$m" "$nd" compatible)"
	expect "$b: $nd gpios = <&gpio 4 GPIO_ACTIVE_HIGH>" "$gph 4 0" "$(get -t u "$m" "$nd" gpios)"
	expect "$b: $nd linux,default-trigger" "rpibsp-button" "$(get "$m" "$nd" linux,default-trigger)"
	expect "$b: $nd default-state" "off" "$(get "$m" "$nd" default-state)"
	expect "$b: $nd label" "rpibsp-led" "$(get "$m" "$nd" label)"
	expect "$b: $nd pinctrl-0 -> $pins" "$(phandle_of "$m" "$pins")" "$(get -t u "$m" "$nd" pinctrl-0)"
	expect "$b: $pins brcm,pins/function/pull = 4/output/none" "4 1 0" "$(pinconf "$m" "$pins")"

	# devicemodel
	nd=/rpibsp-devicemodel
	expect "$b: $nd compatible" "rpibsp,devicemodel" "$(get "$m" "$nd" compatible)"
	g=$(get "$m" "$nd" rpibsp,greeting)
	v=$(get -t u "$m" "$nd" rpibsp,value)
	if [[ -n "$g" && ${#g} -le 31 && "$g" != Error* ]]; then ok "$b: $nd rpibsp,greeting '$g' (<= 31 bytes)"; else nok "$b: $nd rpibsp,greeting" "$g"; fi
	if [[ "$v" =~ ^[0-9]+$ && $v -le 1000000 ]]; then ok "$b: $nd rpibsp,value $v (<= 1000000)"; else nok "$b: $nd rpibsp,value" "$v"; fi

	# pins 4/17/18 are not claimed by anything else enabled in the base tree
	claims=$("$py" "$here/pinclaims.py" "$m" "$gpio_path" --exclude-prefix rpibsp- | awk '$1==4||$1==17||$1==18')
	expect "$b: GPIO 4/17/18 not claimed by enabled base-tree nodes" "" "$claims"
	ours=$("$py" "$here/pinclaims.py" "$m" "$gpio_path" | awk '$1==4||$1==17||$1==18' | sort | awk '{print $1, $2}' | tr '\n' ' ')
	expect "$b: GPIO 4/17/18 claimed by our nodes (gpios + pinctrl)" \
		"17 /rpibsp-button-on 17 /rpibsp-button-on 18 /rpibsp-button-off 18 /rpibsp-button-off 4 /rpibsp-led 4 /rpibsp-led " "$ours"
done

# --- emulation overlay ---------------------------------------------------------

gpiosim="$RPIBSP_KSRC/drivers/gpio/gpio-sim.c"
if [[ -f "$gpiosim" ]]; then
	miss=""
	for s in '.compatible = "gpio-simulator"' '"ngpios"' '"gpio-sim,label"'; do
		grep -qF "$s" "$gpiosim" || miss+=" $s"
	done
	expect "gpio-sim.c (kernel source) matches 'gpio-simulator' and reads ngpios, gpio-sim,label" "" "$miss"
else
	nok "gpio-sim.c present in $RPIBSP_KSRC" "missing $gpiosim"
fi
for b in "${boards[@]}"; do
	m="$RPIBSP_OUT/dtb/$b-rpibsp-emu.dtb"
	check "$b: rpibsp-emu.dtbo applies after rpibsp.dtbo" \
		fdtoverlay -i "$RPIBSP_OUT/dtb/$b-rpibsp.dtb" -o "$tmp/$b-emu.dtb" "$emu"
	check "$b: emu build output equals a fresh merge" cmp "$m" "$tmp/$b-emu.dtb"
	check "$b: rpibsp-emu.dtbo does not apply without rpibsp.dtbo" \
		bash -c "! fdtoverlay -i '$(base "$b")' -o '$tmp/x.dtb' '$emu' 2>/dev/null"
	bank=/gpio-simulator/bank0
	expect "$b: /gpio-simulator compatible" "gpio-simulator" "$(get "$m" /gpio-simulator compatible)"
	expect "$b: sim bank: gpio-controller, #gpio-cells 2, ngpios 32, label rpibsp-sim" "yes 2 32 rpibsp-sim" \
		"$(fdtget "$m" $bank gpio-controller >/dev/null 2>&1 && echo yes || echo no) $(get -t u "$m" $bank '#gpio-cells') $(get -t u "$m" $bank ngpios) $(get "$m" $bank gpio-sim,label)"
	sph=$(phandle_of "$m" $bank)
	gph=$(phandle_of "$m" "$gpio_path")
	expect "$b: button-on gpios = <&sim 17 GPIO_ACTIVE_LOW>" "$sph 17 1" "$(get -t u "$m" /rpibsp-button-on gpios)"
	expect "$b: button-off gpios = <&sim 18 GPIO_ACTIVE_LOW>" "$sph 18 1" "$(get -t u "$m" /rpibsp-button-off gpios)"
	expect "$b: LED stays on <&gpio 4 GPIO_ACTIVE_HIGH>" "$gph 4 0" "$(get -t u "$m" /rpibsp-led gpios)"
	expect "$b: emu keeps the other button properties" "148 149 on off" \
		"$(get -t u "$m" /rpibsp-button-on linux,code) $(get -t u "$m" /rpibsp-button-off linux,code) $(get "$m" /rpibsp-button-on rpibsp,led-action) $(get "$m" /rpibsp-button-off rpibsp,led-action)"
done

# --- __overrides__ ------------------------------------------------------------

dtp=("$py" "$dts/scripts/dtparams.py")
check "__overrides__: every target resolves to an existing overlay node/property declared by its binding" \
	"${dtp[@]}" check "$ovl" "$dts/bindings"
"${dtp[@]}" list "$ovl" > "$tmp/params.tsv"
echo "# __overrides__: $(cut -f1 "$tmp/params.tsv" | sort -u | wc -l) parameters, $(wc -l < "$tmp/params.tsv") targets"
pin_params_ok=1
for p in on_pin off_pin led_pin; do
	props=$(awk -F'\t' -v p="$p" '$1==p {print $4":"$5}' "$tmp/params.tsv" | sort | tr '\n' ' ')
	[[ "$props" == "brcm,pins:0 gpios:4 " ]] || { pin_params_ok=0; echo "#   $p targets: $props"; }
done
if [[ $pin_params_ok -eq 1 ]]; then ok "__overrides__: pin parameters move both the gpios cell and brcm,pins"; else nok "__overrides__: pin parameters move both the gpios cell and brcm,pins"; fi

# the checker itself must catch a bad target (typo in a target property)
sed 's/"linux,code:0"/"linux,cod:0"/' "$dts/rpibsp.dts" > "$tmp/badparam.dts"
cpp -nostdinc -undef -D__DTS__ -x assembler-with-cpp -I "$RPIBSP_KSRC/include" -o "$tmp/badparam.pp.dts" "$tmp/badparam.dts"
dtc -@ -q -I dts -O dtb -o "$tmp/badparam.dtbo" "$tmp/badparam.pp.dts"
if out=$("${dtp[@]}" check "$tmp/badparam.dtbo" "$dts/bindings" 2>&1); then
	nok "__overrides__ checker rejects a target with a misspelt property" "$out"
else
	ok "__overrides__ checker rejects a target with a misspelt property"
fi

# Apply parameters the way the firmware does (patch the overlay, then merge)
# and check the merged tree. Each case: "p=v[;p=v]|node|property|fdtget-type|expected".
cases=(
	"on_pin=22|/rpibsp-button-on|gpios|u|GPH 22 1"
	"on_pin=22|$gpio_path/rpibsp-button-on-pins|brcm,pins|u|22"
	"off_pin=23|/rpibsp-button-off|gpios|u|GPH 23 1"
	"off_pin=23|$gpio_path/rpibsp-button-off-pins|brcm,pins|u|23"
	"led_pin=27|/rpibsp-led|gpios|u|GPH 27 0"
	"led_pin=27|$gpio_path/rpibsp-led-pins|brcm,pins|u|27"
	"on_pin=22|/rpibsp-button-off|gpios|u|GPH 18 1"
	"on_code=30|/rpibsp-button-on|linux,code|u|30"
	"off_code=0x31|/rpibsp-button-off|linux,code|u|49"
	"on_label=power|/rpibsp-button-on|label|s|power"
	"off_label=stop|/rpibsp-button-off|label|s|stop"
	"on_action=toggle|/rpibsp-button-on|rpibsp,led-action|s|toggle"
	"off_action=none|/rpibsp-button-off|rpibsp,led-action|s|none"
	"active_low=0|/rpibsp-button-on|gpios|u|GPH 17 0"
	"active_low=0|/rpibsp-button-off|gpios|u|GPH 18 0"
	"pull=down|$gpio_path/rpibsp-button-on-pins|brcm,pull|u|1"
	"pull=off|$gpio_path/rpibsp-button-off-pins|brcm,pull|u|0"
	"pull=2|$gpio_path/rpibsp-button-off-pins|brcm,pull|u|2"
	"debounce=50|/rpibsp-button-on|debounce-interval|u|50"
	"debounce=50|/rpibsp-button-off|debounce-interval|u|50"
	"debounce_mode=fast|/rpibsp-button-on|rpibsp,debounce-mode|s|fast"
	"debounce_mode=fast|/rpibsp-button-off|rpibsp,debounce-mode|s|fast"
	"wakeup|/rpibsp-button-on|wakeup-source|s|"
	"wakeup=on|/rpibsp-button-off|wakeup-source|s|"
	"buttons=off|/rpibsp-button-on|status|s|disabled"
	"buttons=off|/rpibsp-button-off|status|s|disabled"
	"led_label=status|/rpibsp-led|label|s|status"
	"led_active_low=1|/rpibsp-led|gpios|u|GPH 4 1"
	"led_trigger=heartbeat|/rpibsp-led|linux,default-trigger|s|heartbeat"
	"led_default_state=keep|/rpibsp-led|default-state|s|keep"
	"led_retain_suspended|/rpibsp-led|retain-state-suspended|s|"
	"led_retain_shutdown=yes|/rpibsp-led|retain-state-shutdown|s|"
	"led=off|/rpibsp-led|status|s|disabled"
	"greeting=hello world|/rpibsp-devicemodel|rpibsp,greeting|s|hello world"
	"value=1000000|/rpibsp-devicemodel|rpibsp,value|u|1000000"
	"devicemodel=off|/rpibsp-devicemodel|status|s|disabled"
	"wakeup=off|/rpibsp-button-on|wakeup-source|s|ABSENT"
	"led_trigger=heartbeat|/rpibsp-led|default-state|s|off"
)
declare -A exercised=()
i=0
for b in "${boards[@]}"; do
	gph=$(phandle_of "$RPIBSP_OUT/dtb/$b-rpibsp.dtb" "$gpio_path")
	for c in "${cases[@]}"; do
		IFS='|' read -r params node prop typ want <<< "$c"
		want=${want//GPH/$gph}
		i=$((i + 1))
		IFS=';' read -r -a plist <<< "$params"
		for p in "${plist[@]}"; do exercised[${p%%=*}]=1; done
		if ! out=$("${dtp[@]}" apply "$ovl" "$tmp/p$i.dtbo" "${plist[@]}" 2>&1) ||
			! out=$(fdtoverlay -i "$(base "$b")" -o "$tmp/p$i.dtb" "$tmp/p$i.dtbo" 2>&1); then
			nok "$b: [dtparams.py model of the firmware] param $params -> $node $prop" "$out"
			continue
		fi
		if [[ "$want" == ABSENT ]]; then
			got=$(fdtget "$tmp/p$i.dtb" "$node" "$prop" >/dev/null 2>&1 && echo PRESENT || echo ABSENT)
		else
			got=$(get -t "$typ" "$tmp/p$i.dtb" "$node" "$prop")
		fi
		expect "$b: [dtparams.py model of the firmware] param $params -> $node $prop = '$want'" "$want" "$got"
	done
	# a parameter-modified tree (case 1: on_pin=22) for dt-validate below
	if [[ "$b" == "${boards[0]}" ]]; then cp "$tmp/p1.dtb" "$tmp/params-sample.dtb"; fi
done
missing=""
while IFS= read -r p; do
	[[ -n "${exercised[$p]:-}" ]] || missing+=" $p"
done < <(cut -f1 "$tmp/params.tsv" | sort -u)
expect "every __overrides__ parameter is exercised" "" "$missing"
check "[dtparams.py model of the firmware] unknown parameter is rejected" bash -c "! '$py' '$dts/scripts/dtparams.py' apply '$ovl' '$tmp/u.dtbo' no_such_param=1 2>/dev/null"
check "[dtparams.py model of the firmware] non-numeric value for an integer parameter is rejected" \
	bash -c "! '$py' '$dts/scripts/dtparams.py' apply '$ovl' '$tmp/u.dtbo' on_pin=banana 2>/dev/null"

# --- dtschema -----------------------------------------------------------------

if out=$(make -C "$dts" "${make_vars[@]}" schema 2>&1); then
	ok "processed schema: kernel bindings + rpibsp bindings + rpibsp vendor prefix"
	echo "$out" | grep -E '^dt-mk-schema' | sed 's/^/# /' || true
else
	nok "processed schema: kernel bindings + rpibsp bindings + rpibsp vendor prefix" "$out"
fi
schema="$RPIBSP_OUT/dts/schema/processed-schema.json"
check "dt-doc-validate, yamllint and binding examples" make -s -C "$dts" "${make_vars[@]}" check-bindings

if out=$(make -s -C "$dts" "${make_vars[@]}" validate 2>&1); then
	ok "dt-validate: zero diagnostics on rpibsp nodes in all merged trees"
else
	nok "dt-validate: zero diagnostics on rpibsp nodes in all merged trees" "$out"
fi
echo "$out" | grep '^# ' || true

# Negative cases, all in one dt-validate run: each must yield a diagnostic on
# the expected rpibsp node with the expected message.
neg_overlay() { # name sed-expression
	sed "$2" "$dts/rpibsp.dts" > "$tmp/neg-$1.dts"
	cpp -nostdinc -undef -D__DTS__ -x assembler-with-cpp -I "$RPIBSP_KSRC/include" \
		-o "$tmp/neg-$1.pp.dts" "$tmp/neg-$1.dts"
	dtc -@ -q -I dts -O dtb -o "$tmp/neg-$1.dtbo" "$tmp/neg-$1.pp.dts"
	fdtoverlay -i "$(base "${boards[0]}")" -o "$tmp/neg-$1.dtb" "$tmp/neg-$1.dtbo"
}
neg_param() { # name params...
	local name=$1
	shift
	"${dtp[@]}" apply "$ovl" "$tmp/neg-$name.dtbo" "$@"
	fdtoverlay -i "$(base "${boards[0]}")" -o "$tmp/neg-$name.dtb" "$tmp/neg-$name.dtbo"
}
negs=(
	"typo|/rpibsp-button-on|rpibsp,debounce-mod"
	"missing|/rpibsp-devicemodel|'rpibsp,value' is a required property"
	"ledtypo|/rpibsp-led|linux,default-triger"
	"debounce|/rpibsp-button-on|5000 is greater than the maximum of 1000"
	"mode|/rpibsp-button-off|'slow' is not one of"
	"greeting|/rpibsp-devicemodel|longer than 31 bytes' does not match"
	"value|/rpibsp-devicemodel|1000001 is greater than the maximum of 1000000"
	"action|/rpibsp-button-on|'blink' is not one of"
	"state|/rpibsp-led|'dim' is not one of"
	"compat|/rpibsp-led|failed to match any schema with compatible"
)
neg_overlay typo '0,/rpibsp,debounce-mode = "stable"/s//rpibsp,debounce-mod = "stable"/'
neg_overlay missing '/rpibsp,value = <42>;/d'
neg_overlay ledtypo 's/linux,default-trigger = "rpibsp-button"/linux,default-triger = "rpibsp-button"/'
neg_overlay compat 's/compatible = "rpibsp,gpio-led"/compatible = "rpibsp,gpio-lde"/'
neg_param debounce debounce=5000
neg_param mode debounce_mode=slow
neg_param greeting "greeting=this greeting is longer than 31 bytes"
neg_param value value=1000001
neg_param action on_action=blink
neg_param state led_default_state=dim
files=()
for c in "${negs[@]}"; do files+=("$tmp/neg-${c%%|*}.dtb"); done
"$venv/bin/dt-validate" -m -s "$schema" --json-output "$tmp/neg.json" "$tmp/params-sample.dtb" "${files[@]}" 2>/dev/null || true
"$py" "$dts/scripts/dtv-report.py" "$tmp/neg.json" > "$tmp/neg.txt" || true
for c in "${negs[@]}"; do
	IFS='|' read -r name node msg <<< "$c"
	if grep -F "OURS neg-$name.dtb $node:" "$tmp/neg.txt" | grep -qF -- "$msg"; then
		ok "dt-validate rejects negative case '$name' ($node: $msg)"
	else
		nok "dt-validate rejects negative case '$name' ($node: $msg)" "$(grep -F "neg-$name.dtb" "$tmp/neg.txt" || echo "no diagnostics")"
	fi
done
expect "dt-validate accepts a parameter-modified tree (on_pin=22)" "" \
	"$(grep -F 'OURS params-sample.dtb' "$tmp/neg.txt" || true)"

echo "1..$n"
echo "# dts: $((n - failed)) passed, $failed failed"
[[ $failed -eq 0 ]]
