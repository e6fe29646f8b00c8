"""Locked doors: the stack's Prefect server (basic auth) and MLflow server (its basic-auth app) refuse
a client without credentials; MLflow's read-only `viewer` cannot write, and the refresh's
`synth-runner` cannot delete what it does not own. (That a whole refresh passes both doors with the
runner's credentials and leaves none of them behind: test_deployments.py.)"""
from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from tests.support.servers import BIN, mlflow_call

pytestmark = pytest.mark.slow


def _refused(call) -> int:
    with pytest.raises(urllib.error.HTTPError) as refused:
        call()
    return refused.value.code


def test_a_client_without_credentials_is_refused_by_each_server(stack):
    flows = urllib.request.Request(f"{stack.prefect_api}/flows/filter", method="POST", data=b"{}",
                                   headers={"Content-Type": "application/json"})
    assert _refused(lambda: urllib.request.urlopen(flows, timeout=30)) == 401
    assert _refused(lambda: mlflow_call(stack.mlflow_uri, None, "GET",
                                        "/api/2.0/mlflow/experiments/search?max_results=5")) == 401

    # the Prefect CLI without the auth string: refused, and it says so
    env = {k: v for k, v in stack.env.items() if k != "PREFECT_API_AUTH_STRING"}
    listed = subprocess.run([str(BIN / "prefect"), "deployment", "ls"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode != 0 and "401" in listed.stdout + listed.stderr
    with_auth = subprocess.run([str(BIN / "prefect"), "deployment", "ls"], env={**stack.env, "COLUMNS": "250"},
                               capture_output=True, text=True, timeout=120)
    assert with_auth.returncode == 0 and "diamonds-nightly" in with_auth.stdout


def test_the_viewer_only_reads_and_the_runner_cannot_delete_what_it_does_not_own(stack):
    uri, name = stack.mlflow_uri, uuid.uuid4().hex[:8]
    admins = mlflow_call(uri, "admin", "POST", "/api/2.0/mlflow/experiments/create", {"name": f"admins-{name}"})
    runners = mlflow_call(uri, "synth-runner", "POST", "/api/2.0/mlflow/experiments/create",
                          {"name": f"runners-{name}"})
    run = mlflow_call(uri, "synth-runner", "POST", "/api/2.0/mlflow/runs/create",
                      {"experiment_id": runners["experiment_id"]})["run"]["info"]["run_id"]

    # the runner: writes its own experiment, cannot delete the admin's
    mlflow_call(uri, "synth-runner", "POST", "/api/2.0/mlflow/runs/log-parameter",
                {"run_id": run, "key": "written_by", "value": "runner"})
    assert _refused(lambda: mlflow_call(uri, "synth-runner", "POST", "/api/2.0/mlflow/experiments/delete",
                                        {"experiment_id": admins["experiment_id"]})) == 403

    # the viewer: reads the runner's run, writes nothing to it, deletes nothing
    seen = mlflow_call(uri, "viewer", "GET", f"/api/2.0/mlflow/runs/get?run_id={run}")
    assert seen["run"]["data"]["params"] == [{"key": "written_by", "value": "runner"}]
    assert _refused(lambda: mlflow_call(uri, "viewer", "POST", "/api/2.0/mlflow/runs/log-parameter",
                                        {"run_id": run, "key": "tampered", "value": "1"})) == 403
    assert _refused(lambda: mlflow_call(uri, "viewer", "POST", "/api/2.0/mlflow/experiments/delete",
                                        {"experiment_id": runners["experiment_id"]})) == 403
    assert _refused(lambda: mlflow_call(uri, "viewer", "POST", "/api/2.0/mlflow/runs/delete", {"run_id": run})) == 403
    after = mlflow_call(uri, "admin", "GET", f"/api/2.0/mlflow/runs/get?run_id={run}")["run"]
    assert after["info"]["lifecycle_stage"] == "active" and json.dumps(after["data"]["params"]).count("tampered") == 0
