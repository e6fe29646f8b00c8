#!/usr/bin/env bash
# Run the test suite in the project's virtual environment (created on first use by setup.sh).
#
#   scripts/test.sh                     # whole suite
#   scripts/test.sh tests/synth -k gp   # any pytest arguments
#
# Also builds the Airflow environment (.venv-airflow/, `setup.sh airflow`) that tests/airflow runs
# Airflow in; SYNTH_AIRFLOW_TESTS=0 leaves it out (those tests then skip).
# Exits with pytest's own status (5, "no tests collected", counts as a failure).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/setup.sh
if [[ "${SYNTH_AIRFLOW_TESTS:-1}" != 0 ]]; then
    scripts/setup.sh airflow  # after the first: pip's cache then holds what the two share
fi

export PREFECT_SERVER_ANALYTICS_ENABLED=false
# Two workers (SYNTH_TEST_WORKERS; 0 runs in this process): each test file on one worker, the tests
# sharing servers (tests/servers, tests/airflow) together; see tests/conftest.py.
exec .venv/bin/python -m pytest -q -n "${SYNTH_TEST_WORKERS:-2}" --dist loadgroup "$@"
