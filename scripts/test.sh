#!/usr/bin/env bash
# Run the test suite in the project's virtual environment (created on first use by setup.sh).
#
#   scripts/test.sh                     # whole suite
#   scripts/test.sh tests/synth -k gp   # any pytest arguments
#
# Exits with pytest's own status (5, "no tests collected", counts as a failure).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/setup.sh

export PREFECT_SERVER_ANALYTICS_ENABLED=false
exec .venv/bin/python -m pytest -q "$@"
