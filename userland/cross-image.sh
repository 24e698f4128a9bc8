#!/usr/bin/env bash
# cross (cross-rs 0.2.5) for the aarch64 userland, with rootful Podman and a locally built image:
# no Docker daemon and no container registry are needed (neither exists on the project's machines).
#
#   ./cross-image.sh [image]        prepare: podman, runc, debootstrap (apt) and cross 0.2.5
#                                   (crates.io) if missing; the images localhost/rpibsp-debian:bookworm
#                                   (debootstrap --variant=minbase, podman import) and
#                                   localhost/rpibsp-cross-aarch64:bookworm (cross/Containerfile);
#                                   the rustup toolchain link rpibsp-cross. RPIBSP_CROSS_REBUILD=1
#                                   rebuilds existing images.
#   ./cross-image.sh cross ARGS...  runs `cross +rpibsp-cross ARGS...` with the settings below, e.g.
#       ./cross-image.sh cross build --release --locked --target aarch64-unknown-linux-gnu -p rpibsp-verify
#   ./cross-image.sh env            prints those settings as `export` lines (to run cross by hand)
#
# The settings, and why (each was needed on these machines; see the README):
#  - CONTAINERS_CONF=$RPIBSP_OUT/cross/containers.conf (written here): runtime "runc" and explicit
#    ulimits. Debian's default runtime crun 1.8.1 refuses the host's hybrid cgroup layout ("cgroups
#    in hybrid mode not supported, drop all controllers from cgroupv2", also with
#    --cgroups=disabled), and without CAP_SYS_RESOURCE no runtime can raise RLIMIT_NOFILE and
#    RLIMIT_NPROC to podman's defaults ("setrlimit `RLIMIT_NOFILE`: Operation not permitted"), so
#    the limits are the hard limits podman itself runs with (nproc at most 32768: podman lowers
#    its own hard RLIMIT_NPROC to that).
#  - CROSS_CONTAINER_ENGINE=podman: a docker CLI without a daemon may be on PATH, and cross
#    prefers docker.
#  - `cross +rpibsp-cross` with CROSS_CUSTOM_TOOLCHAIN=1: cross 0.2.5 does not recognise the active
#    toolchain in `rustup toolchain list` (rustup >= 1.28 prints "(active, default)") and runs
#    `rustup toolchain add <it> --profile minimal` on every run (offline: fails; online: updates
#    the host's stable toolchain), then `rustup target add aarch64-unknown-linux-gnu` and
#    `rustup component add rust-src`. rpibsp-cross is a rustup link to the active toolchain's
#    directory (removing it with `rustup toolchain uninstall rpibsp-cross` removes only the link);
#    as a non-active toolchain it is found in the list, and CROSS_CUSTOM_TOOLCHAIN=1 skips the
#    target and component installs. rustup downloads nothing. The build itself uses the image's
#    Debian cargo/rustc 1.96 with libstd-rust-web-dev:arm64 (cross puts the mounted rustup
#    toolchain last in PATH), the same compiler as build.sh.
#  - RPIBSP_DRIVERS_DIR=../drivers (mounted by Cross.toml) and CARGO_TARGET_DIR (default
#    $RPIBSP_OUT/cross-target; cross mounts it at /target).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${RPIBSP_OUT:-$repo/out}"
jobs="${RPIBSP_JOBS:-2}"
suite=bookworm
mirror="${RPIBSP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base_image="localhost/rpibsp-debian:$suite"
image="localhost/rpibsp-cross-aarch64:$suite"
cross_version=0.2.5
toolchain=rpibsp-cross

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

say() { echo "cross-image: $*" >&2; }
die() { say "$*"; exit 1; }

write_containers_conf() {
    local nofile nproc
    nofile=$(ulimit -Hn)
    nproc=$(ulimit -Hu)
    if [ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ]; then nofile=1048576; fi
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
    mkdir -p "$out/cross"
    cat >"$out/cross/containers.conf" <<EOF
# Written by userland/cross-image.sh (see there for why).
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF="$out/cross/containers.conf"
}

# rustup toolchain names that cross 0.2.5 looks up for `cross +rpibsp-cross`: the name itself (for
# `cargo +rpibsp-cross metadata`) and the name with the host part of the active toolchain's name.
link_toolchain() {
    command -v rustup >/dev/null 2>&1 || die "rustup not found (cross needs it)"
    local sysroot name suffix
    sysroot=$(cd "$here" && rustc --print sysroot)
    name=$(basename "$sysroot")
    suffix=${name#*-}
    [ "$suffix" = "$name" ] && suffix=
    case "$sysroot" in
        "${RUSTUP_HOME:-$HOME/.rustup}"/toolchains/*) ;;
        *) die "the active rustc ($sysroot) is not a rustup toolchain" ;;
    esac
    for n in "$toolchain" ${suffix:+"$toolchain-$suffix"}; do
        local link="${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$n"
        if [ "$(readlink "$link" 2>/dev/null)" != "$sysroot" ]; then
            [ -L "$link" ] && rustup toolchain uninstall "$n" >/dev/null
            rustup toolchain link "$n" "$sysroot"
            say "rustup toolchain $n -> $sysroot"
        fi
    done
}

setup_env() {
    [ "$(id -u)" = 0 ] || die "run as root (rootful podman is what this was tested with)"
    write_containers_conf
    export CROSS_CONTAINER_ENGINE=podman
    export CROSS_CUSTOM_TOOLCHAIN=1
    export RPIBSP_DRIVERS_DIR="${RPIBSP_DRIVERS_DIR:-$repo/drivers}"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$out/cross-target}"
}

prepare() {
    [ "$(id -u)" = 0 ] || die "run as root (rootful podman, debootstrap)"
    local missing=()
    for p in podman runc debootstrap; do
        command -v "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "apt-get install ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
    fi
    # Not `cross --version`: inside a cargo workspace that runs the whole rustup check below
    # (`rustup toolchain add stable-...`), i.e. it would update the host's stable toolchain.
    if ! cargo install --list | grep -q "^cross v$cross_version:"; then
        say "cargo install cross $cross_version"
        cargo install cross --version "$cross_version" --locked -j "$jobs" >&2
    fi
    setup_env

    if [ "${RPIBSP_CROSS_REBUILD:-0}" = 1 ] || ! podman image exists "$base_image"; then
        local dir
        dir=$(mktemp -d /var/tmp/rpibsp-debootstrap.XXXXXX)
        trap 'rm -rf "$dir"' EXIT
        say "debootstrap --variant=minbase $suite ($mirror)"
        debootstrap --variant=minbase "$suite" "$dir/rootfs" "$mirror" >&2
        tar --numeric-owner -C "$dir/rootfs" -c . |
            podman import --change 'CMD ["/bin/bash"]' - "$base_image" >&2
        rm -rf "$dir"
        trap - EXIT
    fi
    if [ "${RPIBSP_CROSS_REBUILD:-0}" = 1 ] || ! podman image exists "$image"; then
        say "podman build $image"
        podman build --build-arg BASE="$base_image" -t "$image" -f "$here/cross/Containerfile" "$here/cross" >&2
    fi
    link_toolchain
    say "ready: ./cross-image.sh cross build --release --locked --target aarch64-unknown-linux-gnu -p rpibsp-verify"
}

case "${1:-image}" in
    image)
        prepare
        ;;
    cross)
        shift
        setup_env
        podman image exists "$image" || die "no image $image: run ./cross-image.sh first"
        link_toolchain
        command -v cross >/dev/null 2>&1 || die "cross not installed: run ./cross-image.sh first"
        cd "$here"
        # RUSTFLAGS would replace the crt-static flags of .cargo/config.toml (cross passes it on).
        exec env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS cross "+$toolchain" "$@"
        ;;
    env)
        setup_env
        for v in CONTAINERS_CONF CROSS_CONTAINER_ENGINE CROSS_CUSTOM_TOOLCHAIN RPIBSP_DRIVERS_DIR CARGO_TARGET_DIR; do
            printf 'export %s=%q\n' "$v" "${!v}"
        done
        echo "# then, in userland/: cross +$toolchain build --release --locked --target aarch64-unknown-linux-gnu -p rpibsp-verify"
        ;;
    *)
        sed -n '2,13p' "$0" >&2
        exit 2
        ;;
esac
