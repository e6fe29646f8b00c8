#!/usr/bin/env bash
# The end-to-end demo: build the environment, write two real datasets, refresh a synthetic copy of each.
#
#   scripts/demo.sh                            # from any directory
#   scripts/demo.sh --set model.epochs=2       # extra arguments go to every `prefect-synth run`
#
# Writes data/ (inputs), out/ (synthetic Parquet + reports) and mlflow.db at the repo root. Prefect
# runs go to PREFECT_API_URL if set, else to a temporary local API backed by ~/.prefect/prefect.db.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/setup.sh
export PATH="$repo_root/.venv/bin:$PATH"
export PREFECT_SERVER_ANALYTICS_ENABLED=false

python scripts/make_demo_data.py data

# Runs one config; any failure ends the demo with the run's exit status.
refresh() {
    local config="$1"
    shift
    echo
    echo "== prefect-synth run $config${*:+ $*}"
    local status=0
    prefect-synth run "$config" "$@" || status=$?
    if (( status != 0 )); then
        echo "demo: prefect-synth run $config failed (exit $status)" >&2
        exit "$status"
    fi
}

refresh configs/diamonds.yaml "$@"
refresh configs/weather.yaml "$@"

cat <<MSG

Demo finished.
Run from the repo root:
  Synthetic data and reports:  out/
  MLflow runs:                 .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db
                               then open http://127.0.0.1:5000
  Prefect runs:                .venv/bin/prefect flow-run ls
                               or: .venv/bin/prefect server start, then open http://127.0.0.1:4200
                               (without PREFECT_API_URL, runs are kept in ~/.prefect/prefect.db)
MSG
