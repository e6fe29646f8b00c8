#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv/ at the repo root.
#
#   scripts/setup.sh            # from any directory; needs python3 (>= 3.11) and pip
#   PYTHON=python3.12 scripts/setup.sh
#   scripts/setup.sh airflow    # the Airflow environment instead, in .venv-airflow/ (no Prefect)
#
# Installs the project editable with its prefect, test and demo extras, under the pins in
# constraints.txt; with `airflow`, with its airflow extra (Airflow 3.3 and Prefect 3.8 have no common
# pip resolution, so each orchestrator has its own environment).
# A stamp file named after a hash of pyproject.toml + constraints.txt makes a second run a no-op;
# editing either file triggers a reinstall.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

python="${PYTHON:-python3}"
venv=".venv" extras="prefect,test,demo" command="prefect-synth"
case "${1:-}" in
    "") ;;
    airflow) venv=".venv-airflow" extras="airflow" command="airflow" ;;
    *) echo "setup: unknown environment '$1' (expected nothing, or airflow)" >&2; exit 2 ;;
esac

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

if [[ -f "$stamp" && -x "$venv/bin/$command" ]]; then
    exit 0  # already installed for these exact pins
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
echo "setup: installing prefect-synth and its dependencies into $venv (a few minutes the first time)"
start=$SECONDS
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[$extras]"

rm -f "$venv"/.installed-*
touch "$stamp"
echo "setup: done in $((SECONDS - start))s; activate with: source $venv/bin/activate"
