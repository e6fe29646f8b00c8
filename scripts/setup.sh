#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv/ at the repo root.
#
#   scripts/setup.sh            # from any directory; needs python3 (>= 3.11) and pip
#   PYTHON=python3.12 scripts/setup.sh
#
# Installs the project editable with its test and demo extras, under the pins in constraints.txt.
# A stamp file named after a hash of pyproject.toml + constraints.txt makes a second run a no-op;
# editing either file triggers a reinstall.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

python="${PYTHON:-python3}"
venv=".venv"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup: '$python' not found; install Python 3.11+ or set PYTHON=..." >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: $("$python" --version 2>&1) is too old; the project needs Python 3.11+" >&2
    exit 1
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi

stamp_hash="$(cat pyproject.toml constraints.txt | "$venv/bin/python" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')"
stamp="$venv/.installed-$stamp_hash"

if [[ -f "$stamp" && -x "$venv/bin/prefect-synth" ]]; then
    exit 0  # already installed for these exact pins
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
echo "setup: installing prefect-synth and its dependencies into $venv (a few minutes the first time)"
start=$SECONDS
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[test,demo]"

rm -f "$venv"/.installed-*
touch "$stamp"
echo "setup: done in $((SECONDS - start))s; activate with: source $venv/bin/activate"
