#!/usr/bin/env bash
# The fresh-machine check: the README's two commands, exactly as written, in a clean Debian root
# (scripts/fresh-root.sh: debootstrap minbase, deb822 apt sources, a normal user with sudo, no
# rustup, no cargo, an empty ~/.cache/rpi-bsp), with pass/fail and the wall time of each step.
#
#   scripts/fresh-check.sh [--keep] DIST [STEP...]     (make fresh-check DIST=bookworm|trixie)
#     DIST   bookworm (Debian 12) or trixie (Debian 13)
#     STEP   make        the README's first command, cold
#            make-warm   `make` again (the warm figure)
#            make-test   the README's second command (after `make`: its warm figure; alone: cold)
#            default: make make-warm make-test
#     --keep keep the root afterwards (default: removed when every step passed)
#
# Needs root (or sudo) for debootstrap and chroot.  The root lives in $RPIBSP_FRESH_DIR (default
# /var/tmp/rpibsp-fresh/DIST); logs and the report in $RPIBSP_OUT/fresh-DIST/.  It checks the
# committed tree (a clone of HEAD), not uncommitted changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

keep=false
[ "${1:-}" = --keep ] && { keep=true && shift; }
[ $# -ge 1 ] || die "usage: $0 [--keep] DIST [STEP...] (DIST: bookworm or trixie)"
dist=$1
shift
steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(make make-warm make-test)
for s in "${steps[@]}"; do
	case "$s" in make | make-warm | make-test) ;; *) die "unknown step '$s' (make, make-warm, make-test)" ;; esac
done
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "the fresh-machine check needs root (debootstrap, chroot): run it as root"
	opts=()
	$keep && opts=(--keep)
	exec sudo --preserve-env=RPIBSP_OUT,RPIBSP_FRESH_DIR,RPIBSP_FRESH_APT_CACHE,RPIBSP_DEBIAN_MIRROR "$0" \
		"${opts[@]}" "$dist" "${steps[@]}"
fi
if [ -n "$(git -C "$RPIBSP_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	warn "the tree has uncommitted changes: the check runs the committed HEAD ($(git -C "$RPIBSP_ROOT" rev-parse --short HEAD))"
fi
command -v debootstrap >/dev/null || {
	msg "installing debootstrap"
	apt-get -y -q install --no-install-recommends debootstrap >/dev/null || die "cannot install debootstrap"
}

root=${RPIBSP_FRESH_DIR:-/var/tmp/rpibsp-fresh/$dist}
out=$RPIBSP_OUT/fresh-$dist
mkdir -p "$out"
report=$out/report.txt
fr=$RPIBSP_ROOT/scripts/fresh-root.sh

# stamp LOG: copies standard input to LOG with each line prefixed by the step's elapsed time.
stamp() {
	local start=$SECONDS line
	while IFS= read -r line; do
		printf '[%3d:%02d] %s\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)) "$line"
	done >"$1"
}

{
	echo "fresh-machine check: Debian $dist, $(git -C "$RPIBSP_ROOT" rev-parse --short HEAD), $(date -u +%FT%TZ)"
	echo "host: $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB"
} | tee "$report"

t0=$SECONDS
"$fr" create "$dist" "$root" 2>&1 | stamp "$out/create.log" || {
	tail -n 20 "$out/create.log" >&2
	die "could not make the clean $dist root (log: $out/create.log)"
}
printf '%-10s %-4s %8s\n' "step" "" "wall" | tee -a "$report"
printf '%-10s %-4s %5d:%02d\n' create ok $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)) | tee -a "$report"

failed=0
for s in "${steps[@]}"; do
	case "$s" in
	make | make-warm) cmd=(make) ;;
	make-test) cmd=(make test) ;;
	esac
	t0=$SECONDS rc=0
	"$fr" run "$root" "${cmd[@]}" 2>&1 | stamp "$out/$s.log" || rc=$?
	secs=$((SECONDS - t0))
	if [ "$rc" -eq 0 ]; then res=ok; else res=FAIL failed=$((failed + 1)); fi
	printf '%-10s %-4s %5d:%02d   %s\n' "$s" "$res" $((secs / 60)) $((secs % 60)) "${cmd[*]}" | tee -a "$report"
	# Milestones inside the step, with their times: the toolchain, the kernel builds, the tests' total.
	grep -E '>>> (toolchain complete|installing|kernel \([a-z]+, [a-z]+\): (done|FAILED))|^[0-9]+ passed, [0-9]+ failed' \
		"$out/$s.log" | sed 's/^/             /' | tee -a "$report" || true
	if [ "$rc" -ne 0 ]; then
		echo "             last lines of $out/$s.log:" | tee -a "$report"
		tail -n 15 "$out/$s.log" | sed 's/^/             | /' | tee -a "$report"
		# Every failure must say why: an exit without an error line is a defect of its own.
		grep -qiE 'error|not ok|fail' "$out/$s.log" ||
			echo "             (the step failed WITHOUT saying why: a defect)" | tee -a "$report"
		break
	fi
done

if [ "$failed" -eq 0 ] && ! $keep; then
	"$fr" destroy "$root"
else
	echo "root kept for inspection: $root (remove: $fr destroy $root)" | tee -a "$report"
fi
echo "report: $report"
[ "$failed" -eq 0 ]
