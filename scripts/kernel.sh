#!/usr/bin/env bash
# The Rust-enabled BSP kernel, offline: fetch Debian's source package, apply the patch series,
# configure with the BSP fragment and build Image, modules and DTBs.
#
#   scripts/kernel.sh source           prepare the patched source; prints its directory
#   scripts/kernel.sh build [VARIANT]  configure and build (VARIANT: bsp (default), debug, or
#                                      buildroot: the Buildroot tree's kernel, a one-off check);
#                                      prints the build directory
#   scripts/kernel.sh builddir [VARIANT]  print the build directory without building
#   scripts/kernel.sh configure [VARIANT]  only configure (and check) it; prints the .config
#   scripts/kernel.sh check-defaults CONFIG FRAGMENT...  no option left at an allnoconfig value
#
# The source and build trees live in $RPIBSP_CACHE/kernel: the source keyed by kernel/source.env,
# each build by the source and the config fragments, so a fresh clone reuses an unchanged build.
# A change of the patch series is applied to the source in place and rebuilt incrementally (kbuild
# tracks what changed); any other change gives a new tree.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fetch_deb() {
	apt_fetch "$KERNEL_DEB_SUITE" main "$KERNEL_DEB_PACKAGE" "$KERNEL_DEB_VERSION" "$KERNEL_DEB_SHA256"
}

unpack_source() { # unpack_source <dir>: Debian's source of the release (with Debian's patches), verified
	local dir=$1 deb tmp
	deb=$(fetch_deb)
	tmp=$dir.tmp
	rm -rf "$tmp" && mkdir -p "$tmp/deb"
	msg "unpacking Linux $KERNEL_VERSION into $dir"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/deb" "./$KERNEL_TARBALL"
	echo "$KERNEL_TARBALL_SHA256  $tmp/deb/$KERNEL_TARBALL" | sha256sum -c --status ||
		die "the source tarball in $deb does not match KERNEL_TARBALL_SHA256"
	mkdir -p "$tmp/linux"
	tar -x -C "$tmp/linux" --strip-components=1 -f "$tmp/deb/$KERNEL_TARBALL"
	rm -rf "$tmp/deb"
	grep -q "^VERSION = ${KERNEL_VERSION%%.*}\$" "$tmp/linux/Makefile" ||
		die "the unpacked source is not Linux $KERNEL_VERSION"
	mkdir -p "$tmp/linux/.rpibsp-applied"
	rm -rf "$dir"
	mv "$tmp/linux" "$dir"
	rmdir "$tmp"
}

# The source tree with the current patch series.  The series that was applied last is kept in
# .rpibsp-applied/; when the series changes, the old one is reversed (last patch first) and the
# new one applied, so only the touched files change.  A failure leaves a clean tree behind: the
# next run starts from a fresh unpack.
prepare_source() {
	local src want p applied
	local -a old new
	src=$(kernel_src_dir)
	want=$(kernel_series_hash)
	applied=$src/.rpibsp-applied
	if [ -f "$applied/hash" ] && [ "$(cat "$applied/hash")" = "$want" ]; then
		printf '%s\n' "$src"
		return
	fi
	[ -d "$applied" ] || unpack_source "$src"
	if [ ! -f "$applied/hash" ] && compgen -G "$applied/*.patch" >/dev/null; then
		# An interrupted update: the tree's state is unknown.
		unpack_source "$src"
	fi
	rm -f "$applied/hash"
	mapfile -t old < <(find "$applied" -maxdepth 1 -name '*.patch' | LC_ALL=C sort -r)
	for p in "${old[@]}"; do
		msg "reversing the previous ${p##*/}"
		if ! patch -d "$src" -p1 -R --batch --fuzz=0 --no-backup-if-mismatch -s <"$p" >&2; then
			warn "cannot reverse ${p##*/}: starting from a fresh source tree"
			unpack_source "$src"
			break
		fi
		rm -f "$p"
	done
	mapfile -t new < <(kernel_patches)
	for p in "${new[@]}"; do
		msg "applying ${p#"$RPIBSP_ROOT/"}"
		if ! patch -d "$src" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch -s <"$p" >&2; then
			rm -rf "$src"
			die "patch ${p#"$RPIBSP_ROOT/"} does not apply to Linux $KERNEL_VERSION (with the patches before it)"
		fi
		cp "$p" "$applied/"
	done
	echo "$want" >"$applied/hash"
	printf '%s\n' "$src"
}

configure() { # configure <src> <build> <variant>
	local src=$1 b=$2 variant=$3 f line name val bad=0
	local -a kv frags
	mapfile -t kv < <(kmake_vars)
	mapfile -t frags < <(kernel_fragments "$variant")
	# The offline build starts from allnoconfig; the Buildroot tree from arm64's defconfig
	# (BR2_LINUX_KERNEL_USE_ARCH_DEFAULT_CONFIG).
	local base=allnoconfig
	[ "$variant" != buildroot ] || base=defconfig
	make -s -C "$src" O="$b" "${kv[@]}" "$base" >&2
	"$src/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" "${frags[@]}" >/dev/null
	make -s -C "$src" O="$b" "${kv[@]}" olddefconfig >&2
	# Every option the fragments ask for must have survived (a missing dependency drops it silently).
	# A later fragment may override an earlier one (the debug variant's LOCALVERSION): the last wins.
	local -A last=()
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			last[${line%%=*}]=$f
		done < <(grep -E '^CONFIG_' "$f")
	done
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			[ "${last[${line%%=*}]}" = "$f" ] || continue
			case "$line" in
			CONFIG_*=n) grep -q "^${line%%=*}=" "$b/.config" && { warn "${f##*/}: $line was overridden" && bad=1; } ;;
			CONFIG_*=*)
				name=${line%%=*} val=${line#*=}
				grep -qxF "$name=$val" "$b/.config" || {
					warn "${f##*/}: $line did not take effect (now: $(grep "^$name=\|^# $name is not set" "$b/.config" || echo unset))"
					bad=1
				}
				;;
			esac
		done < <(grep -E '^CONFIG_' "$f")
	done
	[ "$bad" -eq 0 ] || die "the kernel configuration does not match the fragments (see above): fix the fragment"
	[ "$base" != allnoconfig ] || check_defaults "$src" "$b/.config" "${frags[@]}"
}

# check_defaults <src> <config> <fragment>...: no number or string option keeps a value that
# allnoconfig chose (with everything off) where Kconfig's default under the final choices differs,
# unless a fragment sets it.  Example: CONFIG_DRIVER_DEFERRED_PROBE_TIMEOUT is 0 without modules,
# 10 with them; allnoconfig leaves 0.  The check: drop every such unpinned value and let
# olddefconfig fill in the defaults again; what changes is a leftover.
check_defaults() {
	local src=$1 config=$2 t bad
	shift 2
	local -a kv
	mapfile -t kv < <(kmake_vars)
	t=$(mktemp -d)
	cat "$@" | grep -oE '^CONFIG_[A-Za-z0-9_]+' | sed 's/$/=/' | sort -u >"$t/pinned"
	grep -E '^CONFIG_[A-Za-z0-9_]+=("|0x|-?[0-9])' "$config" | grep -vFf "$t/pinned" >"$t/before" || true
	grep -vxFf "$t/before" "$config" >"$t/.config" || true
	if ! make -s -C "$src" O="$t" "${kv[@]}" olddefconfig >"$t/log" 2>&1; then
		cat "$t/log" >&2
		rm -rf "$t"
		die "cannot recompute the configuration's defaults (make olddefconfig failed; see above)"
	fi
	grep -E '^CONFIG_[A-Za-z0-9_]+=("|0x|-?[0-9])' "$t/.config" | grep -vFf "$t/pinned" >"$t/after" || true
	bad=$({ diff "$t/before" "$t/after" || true; } | sed -n 's/^< //p' | while IFS= read -r line; do
		printf '%s (default now: %s)\n' "$line" "$(grep "^${line%%=*}=" "$t/after" | cut -d= -f2- || echo unset)"
	done)
	rm -rf "$t"
	[ -z "$bad" ] || die "allnoconfig left these options at values that are not their defaults in this configuration: \
$(echo "$bad" | tr '\n' ';' | sed 's/;$//'); set each in kernel/bsp.config"
}

build() {
	local variant=${1:-bsp} src b
	local -a kv
	src=$(prepare_source)
	b=$(kernel_build_dir "$variant")
	# The build is current when it was made from this patch series (the configuration is in b's name).
	if [ -f "$b/.rpibsp-built" ] && [ "$(cat "$b/.rpibsp-built")" = "$(cat "$src/.rpibsp-applied/hash")" ]; then
		printf '%s\n' "$b"
		return
	fi
	mapfile -t kv < <(kmake_vars)
	mkdir -p "$b"
	make -s -C "$src" O="$b" "${kv[@]}" rustavailable >&2 ||
		die "the kernel's 'make rustavailable' failed: run scripts/setup.sh (rustc-web, rust-web-src, bindgen, clang-19)"
	if [ ! -f "$b/.rpibsp-configured" ]; then
		configure "$src" "$b" "$variant"
		touch "$b/.rpibsp-configured"
	fi
	# Progress: the expected number of kbuild steps is a measured one, from the last cold build of
	# this variant in the cache or else from kernel/build-steps.env (measured here); the wall time
	# of the last cold build is shown when there is one.
	local start=$SECONDS kind=incremental expected="" prev=""
	if [ ! -f "$b/vmlinux" ]; then
		kind=cold
		expected=$(cat "$RPIBSP_CACHE"/kernel/build-"$variant"-*/build-steps 2>/dev/null | tail -n1 || true)
		if [ -z "$expected" ]; then
			expected=$(sed -n "s/^KBUILD_STEPS_${variant^^}=//p" "$RPIBSP_ROOT/kernel/build-steps.env")
		fi
		prev=$(cat "$RPIBSP_CACHE"/kernel/build-"$variant"-*/build-cold.time 2>/dev/null | tail -n1 | cut -d, -f1 || true)
	fi
	msg "building the $variant kernel ($kind: Image, modules, DTBs) in $b${prev:+; the last cold build here took $prev}"
	# The broadcom DTBs are built with -@ (arch/arm64/boot/dts/broadcom/Makefile), so they carry the
	# __symbols__ the firmware and fdtoverlay need to apply our overlays.
	progress_run "kernel ($variant, $kind)" "$b/build.log" "$expected" \
		make -C "$src" O="$b" "${kv[@]}" -j"$RPIBSP_JOBS" Image modules dtbs || {
		tail -n 40 "$b/build.log" >&2
		die "kernel build failed (full log: $b/build.log)"
	}
	[ "$kind" = incremental ] || progress_steps "$b/build.log" >"$b/build-steps"
	# The wall-clock time of this build, for the benchmarks' whole-system figures: build.time is the
	# last build, build-cold.time the last one from an empty tree (no vmlinux yet; an interrupted
	# cold build that is resumed counts as incremental), build-incremental.time the last other one.
	echo "$((SECONDS - start)) s wall, $kind, -j$RPIBSP_JOBS on $(nproc) CPUs, $(date -u +%FT%TZ)" |
		tee "$b/build-$kind.time" >"$b/build.time"
	cp "$src/.rpibsp-applied/hash" "$b/.rpibsp-built"
	printf '%s\n' "$b"
}

case "${1:-}" in
source) prepare_source ;;
build) build "${2:-bsp}" ;;
builddir) kernel_build_dir "${2:-bsp}" ;;
configure)
	# configure [VARIANT]: only the configuration and its checks (e.g. the Buildroot kernel's:
	# arm64 defconfig + kernel/bsp.config + kernel/net.config), in a scratch directory.
	cb=$RPIBSP_CACHE/kernel/configure-${2:-bsp}
	rm -rf "$cb" && mkdir -p "$cb"
	configure "$(prepare_source)" "$cb" "${2:-bsp}"
	printf '%s\n' "$cb/.config"
	;;
check-defaults)
	# check-defaults CONFIG FRAGMENT...: the allnoconfig-leftover check of configure, on any .config.
	[ $# -ge 3 ] || die "usage: scripts/kernel.sh check-defaults CONFIG FRAGMENT..."
	check_defaults "$(prepare_source)" "${@:2}"
	;;
fetch) fetch_deb ;;
*)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
