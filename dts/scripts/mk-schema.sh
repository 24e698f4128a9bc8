#!/usr/bin/env bash
# Build (or reuse) the processed dtschema schema of a staged binding tree.
# The result is cached under CACHE_DIR, keyed by the dtschema version and
# the content of every staged *.yaml, then copied to OUT_JSON.
# usage: mk-schema.sh VENV STAGE_DIR CACHE_DIR OUT_JSON
set -euo pipefail

venv=$1
stage=$2
cache=$3
out=$4

version=$("$venv/bin/dt-mk-schema" --version)
key=$(
	cd "$stage"
	{
		echo "dtschema $version"
		find -L . -name '*.yaml' -print0 | sort -z | xargs -0 sha256sum
	} | sha256sum | cut -c1-32
)
cached="$cache/processed-$key.json"

if [[ ! -s "$cached" ]]; then
	mkdir -p "$cache"
	list=$(mktemp)
	tmp=$(mktemp "$cache/.processed-$key.XXXXXX")
	trap 'rm -f "$list" "$tmp"' EXIT
	find -L "$stage" -name '*.yaml' ! -name 'processed-schema*' | sort > "$list"
	echo "dt-mk-schema: processing $(wc -l < "$list") schemas (cached as $cached)"
	"$venv/bin/dt-mk-schema" -j "@$list" > "$tmp"
	mv "$tmp" "$cached"
	# keep the cache small: the three most recent processed schemas
	find "$cache" -maxdepth 1 -name 'processed-*.json' -printf '%T@ %p\n' |
		sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f --
fi
mkdir -p "$(dirname "$out")"
cp "$cached" "$out"
