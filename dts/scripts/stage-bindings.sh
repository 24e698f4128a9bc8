#!/usr/bin/env bash
# Stage a binding tree for dtschema: the kernel's Documentation/devicetree/
# bindings as a symlink farm, our bindings linked in at their upstream
# locations, and vendor-prefixes.yaml replaced by a copy that also registers
# the "rpibsp" prefix (what an upstream submission would add).
#
# dtschema resolves "/schemas/..." references relative to the directory the
# checked file lives in, so our bindings must sit inside such a tree for
# dt-doc-validate to resolve e.g. /schemas/input/input.yaml.
#
# usage: stage-bindings.sh KERNEL_BINDINGS_DIR OUR_BINDINGS_DIR STAGE_DIR
set -euo pipefail

kbind=$1
ours=$2
stage=$3

[[ -f "$kbind/vendor-prefixes.yaml" ]] || {
	echo "stage-bindings: no vendor-prefixes.yaml in $kbind" >&2
	exit 1
}

rm -rf "$stage"
mkdir -p "$(dirname "$stage")"
cp -rs "$(realpath "$kbind")" "$stage"

ours=$(realpath "$ours")
while IFS= read -r -d '' f; do
	rel=${f#"$ours"/}
	mkdir -p "$stage/$(dirname "$rel")"
	ln -sfn "$f" "$stage/$rel"
done < <(find "$ours" -name '*.yaml' -print0)

vp="$stage/vendor-prefixes.yaml"
rm -f "$vp"
if grep -q '"^rpibsp,\.\*":' "$kbind/vendor-prefixes.yaml"; then
	cp "$kbind/vendor-prefixes.yaml" "$vp"
else
	# Insert in alphabetical order among the plain "^vendor,.*" entries.
	awk '
		!done && match($0, /^  "\^[a-z0-9][a-z0-9-]*,\.\*":$/) {
			v = substr($0, 5); sub(/,.*/, "", v)
			if (v > "rpibsp") {
				print "  \"^rpibsp,.*\":"
				print "    description: rpibsp Raspberry Pi board support project"
				done = 1
			}
		}
		{ print }
		END { if (!done) exit 1 }
	' "$kbind/vendor-prefixes.yaml" > "$vp"
fi
grep -q '"^rpibsp,\.\*":' "$vp"
