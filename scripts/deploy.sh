#!/usr/bin/env bash
# Register the deployments of deployments/prefect.yaml with a Prefect server, creating the work pools
# they name first (Prefect's `deploy` stops, with no message under --no-prompt, when a pool is missing).
#
#   PREFECT_API_URL=http://127.0.0.1:4200/api scripts/deploy.sh
#   PREFECT_API_AUTH_STRING=user:password ...        # a server with basic auth (infra/README.md)
#   prefect worker start --pool local-process          # then, in the repo root, a worker
#
# Pools: local-process (process), docker-pool (docker), k8s-gpu (kubernetes, with the GPU base job
# template infra/kubernetes/gpu-base-job-template.json). Existing pools are left as they are.
# Then the two automations that bring back a run whose process or machine died (flows/recovery.py),
# created or updated in place:
#   SYNTH_HEARTBEAT_GRACE_SECONDS=600   # no heartbeat for this long: the run is marked Crashed
#   SYNTH_CRASH_RETRIES=2               # a crashed run is scheduled again this many times at most
# Uses the venv's prefect and python if there is one (scripts/setup.sh), else those on PATH.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
prefect="prefect"
python="python3"
[[ -x .venv/bin/prefect ]] && prefect=".venv/bin/prefect" && python=".venv/bin/python"

if [[ -z "${PREFECT_API_URL:-}" ]]; then
    echo "deploy: set PREFECT_API_URL to your Prefect server's API, e.g. http://127.0.0.1:4200/api" >&2
    exit 2
fi

# A server with basic auth (PREFECT_SERVER_API_AUTH_STRING) answers 401 without PREFECT_API_AUTH_STRING:
# say so once, rather than a pool command failing silently below.
# (The credentials reach curl on a file descriptor, never on its command line.)
status="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' \
    -K <(printf 'user = "%s"\n' "${PREFECT_API_AUTH_STRING:-}") "${PREFECT_API_URL%/}/work_pools/filter" || true)"
if [[ "$status" == 401 ]]; then
    echo "deploy: the Prefect server at $PREFECT_API_URL asks for credentials:" \
         "set PREFECT_API_AUTH_STRING to its user:password${PREFECT_API_AUTH_STRING:+ (the one set was refused)}" >&2
    exit 2
fi

pool() {  # name type [base job template]
    if "$prefect" work-pool inspect "$1" >/dev/null 2>&1; then
        echo "deploy: work pool $1 exists"
        return
    fi
    "$prefect" work-pool create "$1" --type "$2" ${3:+--base-job-template "$3"} >/dev/null
    echo "deploy: created work pool $1 ($2)"
}

pool local-process process
pool docker-pool docker
pool k8s-gpu kubernetes infra/kubernetes/gpu-base-job-template.json

"$prefect" --no-prompt deploy --prefect-file deployments/prefect.yaml --all
exec "$python" -m flows.recovery
