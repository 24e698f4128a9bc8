#!/usr/bin/env bash
# Creates or reuses the pinned labgrid venv and prints its path (PyPI only when it is missing or
# labgrid/requirements.txt changed).
#
#   labgrid/venv.sh            -> $RPIBSP_CACHE/venv-labgrid-<hash of requirements.txt and python>
#   PYTHON=python3.13 labgrid/venv.sh
#
# Everything comes from requirements.txt with --require-hashes --no-deps: labgrid and every
# dependency at the pinned version, each file checked against its hash; nothing unpinned.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../scripts/lib.sh"

python=${PYTHON:-python3}
req=$here/requirements.txt
command -v "$python" >/dev/null || die "no $python (Debian: python3, python3-venv)"
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key=$(content_hash "$req" "=$pyver")
venv=$RPIBSP_CACHE/venv-labgrid-$key

usable() {
	[ -x "$venv/bin/labgrid-client" ] && "$venv/bin/python" -c 'import labgrid, pytest, serial.rfc2217' 2>/dev/null
}

# The marker is written only after a complete install: an interrupted one is redone.
if ! { [ -f "$venv/.rpibsp-complete" ] && usable; }; then
	msg "labgrid venv: creating $venv (python $pyver, $(grep -c '^[a-zA-Z]' "$req") pinned packages from PyPI)"
	# Older venvs of this integration (other pins or python) go: one is enough.
	for old in "$RPIBSP_CACHE"/venv-labgrid-*; do
		[ -d "$old" ] && [ "$old" != "$venv" ] && rm -rf "$old"
	done
	rm -rf "$venv"
	mkdir -p "$RPIBSP_CACHE"
	"$python" -m venv "$venv" >&2 || die "cannot create a venv with $python (Debian: apt-get install python3-venv)"
	"$venv/bin/python" -m pip install --disable-pip-version-check -q --require-hashes --no-deps \
		-r "$req" >&2 || { rm -rf "$venv"; die "pip install -r $req failed"; }
	usable || { rm -rf "$venv"; die "$venv is incomplete after pip install"; }
	touch "$venv/.rpibsp-complete"
fi
printf '%s\n' "$venv"
