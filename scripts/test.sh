#!/usr/bin/env bash
# Run the test suite in the project's virtual environment (created on first use by setup.sh, with the
# Airflow environment beside it).
#
#   scripts/test.sh                     # whole suite
#   scripts/test.sh tests/synth -k gp   # any pytest arguments
#
# Exits with pytest's own status (5, "no tests collected", counts as a failure).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/setup.sh
# tests/airflow drive a real Airflow in its own environment (no Prefect there): built in the background
# while the other tests run (they run last, and wait for it; its log: .venv-airflow-setup.log)
mkdir -p .venv
export SYNTH_AIRFLOW_SETUP_STATUS="$repo_root/.venv/airflow-setup.status"
rm -f "$SYNTH_AIRFLOW_SETUP_STATUS"
(scripts/setup.sh airflow >"$repo_root/.venv-airflow-setup.log" 2>&1; echo $? >"$SYNTH_AIRFLOW_SETUP_STATUS") &

export PREFECT_SERVER_ANALYTICS_ENABLED=false
.venv/bin/python -m pytest -q "$@" && status=0 || status=$?
wait  # the Airflow setup, if the tests did not need it
exit $status
