#!/usr/bin/env bash
# Create or refresh the dtschema venv (idempotent; PyPI only when the pinned
# versions are not already installed).
# usage: venv.sh VENV_DIR     (DTSCHEMA_VERSION, YAMLLINT_VERSION, PYTHON)
set -euo pipefail

venv=$1
dtschema_version=${DTSCHEMA_VERSION:-2026.9}
yamllint_version=${YAMLLINT_VERSION:-1.38.0}
python=${PYTHON:-python3}

have() {
	[[ -x "$venv/bin/dt-validate" && -x "$venv/bin/yamllint" ]] || return 1
	[[ "$("$venv/bin/dt-validate" --version 2>/dev/null)" == "$dtschema_version" ]] || return 1
	"$venv/bin/python" - "$yamllint_version" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
sys.exit(0 if m.version("yamllint") == sys.argv[1] else 1)
PY
	"$venv/bin/python" -c 'import libfdt, ruamel.yaml' 2>/dev/null
}

if have; then
	echo "dtschema venv ok: $venv (dtschema $dtschema_version)"
	exit 0
fi

mkdir -p "$(dirname "$venv")"
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q \
	"dtschema==$dtschema_version" "yamllint==$yamllint_version"
have || { echo "venv.sh: $venv is incomplete after pip install" >&2; exit 1; }
echo "dtschema venv ready: $venv (dtschema $dtschema_version)"
