#!/usr/bin/env bash
# Fills in the sha256 of linux-<version>.tar.xz in the rpibsp tree's
# linux.hash, from kernel.org's signed sha256sums.asc.
#
# Usage: update-kernel-hash.sh [-s SUMS_FILE] [-n] [-v VERSION] [-f HASH_FILE]
#   -s FILE  use this copy of sha256sums.asc instead of downloading it from
#            https://cdn.kernel.org/pub/linux/kernel/v<major>.x/sha256sums.asc
#   -n       do not check its PGP signature (by default gpg must report a
#            good signature: import the signers' keys first, e.g.
#            gpg --locate-keys torvalds@kernel.org gregkh@kernel.org)
#   -v VER   kernel version (default: BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE
#            of configs/rpibsp_rpi4_64_defconfig)
#   -f FILE  hash file to rewrite (default: board/rpibsp/patches/linux/linux.hash)
set -euo pipefail

die() {
	printf 'update-kernel-hash: %s\n' "$*" >&2
	exit 1
}

TREE="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
SUMS=""
CHECK_SIGNATURE=true
VERSION=""
HASH_FILE="${TREE}/board/rpibsp/patches/linux/linux.hash"

while getopts "s:nv:f:" opt; do
	case "${opt}" in
	s) SUMS="${OPTARG}" ;;
	n) CHECK_SIGNATURE=false ;;
	v) VERSION="${OPTARG}" ;;
	f) HASH_FILE="${OPTARG}" ;;
	*) die "usage: $0 [-s SUMS_FILE] [-n] [-v VERSION] [-f HASH_FILE]" ;;
	esac
done

if [ -z "${VERSION}" ]; then
	VERSION="$(sed -n 's/^BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="\(.*\)"$/\1/p' \
		"${TREE}/configs/rpibsp_rpi4_64_defconfig")"
fi
[[ "${VERSION}" =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || die "bad kernel version '${VERSION}'"
[ -f "${HASH_FILE}" ] || die "${HASH_FILE} does not exist"
TARBALL="linux-${VERSION}.tar.xz"
URL="https://cdn.kernel.org/pub/linux/kernel/v${VERSION%%.*}.x/sha256sums.asc"

WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

if [ -z "${SUMS}" ]; then
	SUMS="${WORK}/sha256sums.asc"
	if command -v curl >/dev/null; then
		curl -fsSL -o "${SUMS}" "${URL}" || die "cannot download ${URL}"
	elif command -v wget >/dev/null; then
		wget -q -O "${SUMS}" "${URL}" || die "cannot download ${URL}"
	else
		die "neither curl nor wget: download ${URL} and pass it with -s"
	fi
fi
[ -f "${SUMS}" ] || die "${SUMS} does not exist"

if "${CHECK_SIGNATURE}"; then
	command -v gpg >/dev/null || die "gpg is needed to check ${SUMS} (or pass -n)"
	# The status lines tell a good signature from a bad or unverifiable one.
	gpg --batch --status-fd 1 --verify "${SUMS}" 2>/dev/null >"${WORK}/status" || true
	grep -q '^\[GNUPG:\] GOODSIG ' "${WORK}/status" ||
		die "no good PGP signature on ${SUMS} (import the kernel.org keys, or pass -n)"
fi

HASH="$(awk -v f="${TARBALL}" '$2 == f { print $1 }' "${SUMS}")"
[ -n "${HASH}" ] || die "${TARBALL} is not listed in ${SUMS}"
[ "$(printf '%s\n' "${HASH}" | wc -l)" -eq 1 ] || die "${TARBALL} is listed more than once in ${SUMS}"
[[ "${HASH}" =~ ^[0-9a-f]{64}$ ]] || die "malformed sha256 '${HASH}' for ${TARBALL}"

# Keep the license hashes, replace everything about the tarball.
{
	printf '# From %s\n' "${URL/cdn.kernel.org/www.kernel.org}"
	printf 'sha256  %s  %s\n' "${HASH}" "${TARBALL}"
	printf '\n# Licenses hashes\n'
	grep -E '^sha256[[:space:]]+[0-9a-f]{64}[[:space:]]+(COPYING|LICENSES/)' "${HASH_FILE}"
} >"${WORK}/linux.hash"
mv "${WORK}/linux.hash" "${HASH_FILE}"
printf 'update-kernel-hash: %s: sha256 %s\n' "${TARBALL}" "${HASH}"
