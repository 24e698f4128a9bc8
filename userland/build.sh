#!/usr/bin/env bash
# Builds the BSP's userland for the top-level Makefile:
#   $RPIBSP_OUT/rootfs-extra/usr/bin/rpibsp-verify  aarch64, statically linked (on-board checks)
#   $RPIBSP_OUT/bin/rpibsp-hil                      host binary (laptop-side HIL runner)
# Cargo's build directory is $RPIBSP_OUT/userland-target (CARGO_TARGET_DIR), never userland/.
#
# The aarch64 build uses Debian's rustc (/usr/bin/rustc, with libstd-rust-web-dev:arm64) and
# aarch64-linux-gnu-gcc with glibc's libc.a (libc6-dev-arm64-cross); the host build uses the
# cargo/rustc on PATH. Set RPIBSP_OFFLINE=1 to forbid network access (crates must be cached).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${RPIBSP_OUT:-$(cd "$here/.." && pwd)/out}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$out/userland-target}"
target_rustc="${RPIBSP_TARGET_RUSTC:-/usr/bin/rustc}"
jobs="${RPIBSP_JOBS:-2}"
target=aarch64-unknown-linux-gnu

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

cargo_flags=(--locked --release -j "$jobs")
if [ "${RPIBSP_OFFLINE:-0}" = 1 ]; then
    cargo_flags+=(--offline)
fi

cd "$here"

echo "userland: aarch64 rpibsp-verify (static) with $target_rustc" >&2
# RUSTFLAGS from the environment would replace the crt-static flags of .cargo/config.toml.
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS RUSTC="$target_rustc" \
    cargo build "${cargo_flags[@]}" --target "$target" -p rpibsp-verify

echo "userland: host rpibsp-hil" >&2
cargo build "${cargo_flags[@]}" -p rpibsp-hil

verify_bin="$CARGO_TARGET_DIR/$target/release/rpibsp-verify"
if readelf -lW "$verify_bin" | grep -q 'INTERP'; then
    echo "userland: $verify_bin is dynamically linked (RUSTFLAGS overriding crt-static?)" >&2
    exit 1
fi
if ! readelf -hW "$verify_bin" | grep -q 'AArch64'; then
    echo "userland: $verify_bin is not an AArch64 executable" >&2
    exit 1
fi

install -D -m 0755 "$verify_bin" "$out/rootfs-extra/usr/bin/rpibsp-verify"
install -D -m 0755 "$CARGO_TARGET_DIR/release/rpibsp-hil" "$out/bin/rpibsp-hil"
echo "userland: installed $out/rootfs-extra/usr/bin/rpibsp-verify and $out/bin/rpibsp-hil" >&2
