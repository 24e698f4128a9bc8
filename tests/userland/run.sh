#!/usr/bin/env bash
# Userland test suite (TAP): host unit/integration tests of the Cargo workspace in userland/,
# clippy, the static aarch64 release build, and the aarch64 binaries run under qemu-user.
#
# Environment: RPIBSP_OUT (default <repo>/out; cargo builds in $RPIBSP_OUT/userland-target),
# RPIBSP_OFFLINE=1 (never touch the network; crates must already be in ~/.cargo),
# RPIBSP_NO_APT=1 (do not apt-get install qemu-user-static when qemu-aarch64 is missing).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${RPIBSP_OUT:-$repo/out}"
export CARGO_TARGET_DIR="$out/userland-target"
userland="$repo/userland"
target=aarch64-unknown-linux-gnu
logdir="$out/test-logs/userland"
mkdir -p "$logdir"

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

n=0
failed=0
skipped=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        tail -n 40 "$2" | sed 's/^/# /'
    fi
}
skip() {
    n=$((n + 1))
    skipped=$((skipped + 1))
    echo "ok $n - $1 # SKIP $2"
}
# run NAME LOG CMD...: one TAP line for a command, its output in LOG.
run() {
    local name="$1" log="$2"
    shift 2
    if "$@" >"$log" 2>&1; then ok "$name"; else not_ok "$name (log: $log)" "$log"; fi
}

cd "$userland"
offline=()
if [ "${RPIBSP_OFFLINE:-0}" = 1 ]; then
    offline=(--offline)
else
    # Downloads what Cargo.lock names once; afterwards everything below runs offline.
    run "cargo fetch --locked (crates for host and aarch64)" "$logdir/fetch.log" cargo fetch --locked
    offline=(--offline)
fi

test_log="$logdir/cargo-test.log"
if cargo test --workspace --locked "${offline[@]}" -j 2 >"$test_log" 2>&1; then
    ok "cargo test --workspace on the host"
else
    not_ok "cargo test --workspace on the host (log: $test_log)" "$test_log"
fi
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$test_log" | awk '{s += $4} END {print s + 0}')
echo "# host tests passed: $passed"
if [ "$passed" -ge 50 ]; then
    ok "host test count is plausible ($passed >= 50)"
else
    not_ok "host test count is plausible ($passed < 50: tests went missing?)" "$test_log"
fi

if cargo clippy --version >/dev/null 2>&1; then
    run "cargo clippy --all-targets -D warnings" "$logdir/clippy.log" \
        cargo clippy --workspace --all-targets --locked "${offline[@]}" -j 2 -- -D warnings
else
    skip "cargo clippy --all-targets -D warnings" "clippy is not installed for this toolchain"
fi

if cargo fmt --version >/dev/null 2>&1; then
    run "cargo fmt --check" "$logdir/fmt.log" cargo fmt --all --check
else
    skip "cargo fmt --check" "rustfmt is not installed for this toolchain"
fi

build_log="$logdir/aarch64-build.log"
if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/$target ]; then
    not_ok "aarch64 release build (Debian rustc with libstd-rust-web-dev:arm64 missing)"
elif env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS RUSTC=/usr/bin/rustc \
    cargo build --workspace --bins --release --locked "${offline[@]}" -j 2 --target "$target" \
    >"$build_log" 2>&1; then
    ok "aarch64 release build with RUSTC=/usr/bin/rustc"
else
    not_ok "aarch64 release build with RUSTC=/usr/bin/rustc (log: $build_log)" "$build_log"
fi

bindir="$CARGO_TARGET_DIR/$target/release"
for bin in rpibsp-verify rpibsp-hil; do
    f="$bindir/$bin"
    if [ ! -f "$f" ]; then
        not_ok "$bin is a static aarch64 ELF (not built)"
        continue
    fi
    desc="$(file -b "$f")"
    echo "# $bin: $desc ($(stat -c %s "$f") bytes)"
    if [[ "$desc" == *"ARM aarch64"* && "$desc" == *"statically linked"* ]] &&
        ! readelf -lW "$f" | grep -q INTERP && ! readelf -dW "$f" | grep -q NEEDED; then
        ok "$bin is a static aarch64 ELF"
    else
        not_ok "$bin is a static aarch64 ELF (file: $desc)"
    fi
done

qemu=""
for q in qemu-aarch64-static qemu-aarch64; do
    if command -v "$q" >/dev/null 2>&1; then qemu="$(command -v "$q")"; break; fi
done
if [ -z "$qemu" ] && [ "${RPIBSP_NO_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "# installing qemu-user-static for the aarch64 smoke tests"
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static \
        >"$logdir/apt.log" 2>&1; then
        qemu="$(command -v qemu-aarch64-static || true)"
    fi
fi
verify_bin="$bindir/rpibsp-verify"
if [ -z "$qemu" ]; then
    skip "aarch64 rpibsp-verify --help under qemu-user" "no qemu-aarch64 (apt-get install qemu-user-static)"
    skip "aarch64 rpibsp-verify reports a missing device tree" "no qemu-aarch64"
    skip "aarch64 rpibsp-hil --help under qemu-user" "no qemu-aarch64"
elif [ ! -f "$verify_bin" ]; then
    not_ok "aarch64 rpibsp-verify --help under qemu-user (binary missing)"
    not_ok "aarch64 rpibsp-verify reports a missing device tree (binary missing)"
    not_ok "aarch64 rpibsp-hil --help under qemu-user (binary missing)"
else
    help_log="$logdir/qemu-verify-help.log"
    if "$qemu" "$verify_bin" --help >"$help_log" 2>&1 && grep -q -- '--only' "$help_log" &&
        grep -q 'EXIT STATUS' "$help_log"; then
        ok "aarch64 rpibsp-verify --help under qemu-user"
    else
        not_ok "aarch64 rpibsp-verify --help under qemu-user" "$help_log"
    fi
    # A real run: no device tree at the given root must give exit 1 and say so in TAP.
    empty="$(mktemp -d)"
    run_log="$logdir/qemu-verify-run.log"
    rc=0
    "$qemu" "$verify_bin" --only overlay --format tap --devtree-root "$empty/none" \
        --sysfs-root "$empty" --dev-root "$empty" >"$run_log" 2>&1 || rc=$?
    rmdir "$empty"
    if [ "$rc" = 1 ] && grep -q '^not ok 1 - overlay: live device tree readable' "$run_log" &&
        grep -q 'cannot read the live device tree' "$run_log"; then
        ok "aarch64 rpibsp-verify reports a missing device tree"
    else
        not_ok "aarch64 rpibsp-verify reports a missing device tree (exit $rc)" "$run_log"
    fi
    hil_log="$logdir/qemu-hil-help.log"
    if "$qemu" "$bindir/rpibsp-hil" --help >"$hil_log" 2>&1 && grep -q -- '--qemu' "$hil_log"; then
        ok "aarch64 rpibsp-hil --help under qemu-user"
    else
        not_ok "aarch64 rpibsp-hil --help under qemu-user" "$hil_log"
    fi
fi

echo "1..$n"
echo "# $((n - failed - skipped)) passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
