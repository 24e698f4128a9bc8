#!/usr/bin/env bash
# Every shell script in the tree is shellcheck-clean (settings in .shellcheckrc).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v shellcheck >/dev/null || {
	echo "not ok 1 - shellcheck is installed (apt-get install shellcheck)"
	exit 1
}
n=0 failed=0
while IFS= read -r -d '' f; do
	n=$((n + 1))
	if out=$(shellcheck "$f" 2>&1); then
		echo "ok $n - shellcheck $f"
	else
		echo "not ok $n - shellcheck $f"
		printf '%s\n' "$out" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done < <({ git ls-files -co --exclude-standard -- '*.sh' flash.sh .ci/run 'rootfs/etc/init.d/*' \
	'rootfs/usr/share/rpibsp/*' 'rootfs/usr/share/udhcpc/*'; } | sort -u | tr '\n' '\0')
echo "1..$n"
[ "$failed" -eq 0 ]
