"""Real servers on loopback for tests: start one as a child in its own process group, wait until it
answers, stop it with its children; a free port; the S3 tests' dummy credentials and moto server."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's prefect and mlflow scripts
START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 420


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s:\n{log.read_text()[-3000:]}")


def start(args: list[str], log: Path, env: dict, cwd: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)  # its own group: stopped with its children


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# The stack's servers are locked: Prefect with its basic-auth string, MLflow with its basic-auth app
# (an admin, the refresh's `synth-runner` and a read-only `viewer`). Dummy secrets that no log,
# artifact, param, tag or report may show (tests/servers/test_auth.py).
PREFECT_AUTH = "synth-runner:prefect-dummy-SECRET-1a2b3c"
MLFLOW_USERS = {"admin": "mlflow-admin-dummy-SECRET-4d5e6f", "synth-runner": "mlflow-runner-dummy-SECRET-7a8b9c",
                "viewer": "mlflow-viewer-dummy-SECRET-0d1e2f"}
MLFLOW_SECRET_KEY = "mlflow-csrf-dummy-SECRET-3e4f5a"  # signs the auth app's CSRF tokens (server side only)
MLFLOW_AUTH_INI = """[mlflow]
default_permission = READ
database_uri = sqlite:///{db}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""


def mlflow_call(uri: str, user: str | None, method: str, path: str, body: dict | None = None) -> dict:
    """One MLflow REST call as `user` (None: no credentials); HTTPError on a refusal."""
    import base64
    import json

    request = urllib.request.Request(f"{uri}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if user is not None:
        token = base64.b64encode(f"{user}:{MLFLOW_USERS[user]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@dataclass
class Stack:
    prefect_api: str
    prefect_ui: str
    mlflow_uri: str
    env: dict  # what a client of these servers needs in its environment: the runner's credentials
    home: Path
    processes: list

    def worker(self, name: str) -> subprocess.Popen:
        """A process worker of the `local-process` pool, one flow run at a time, started in the repo root."""
        log = self.home / f"worker-{name}.log"
        process = start([str(BIN / "prefect"), "worker", "start", "--pool", "local-process", "--name", name,
                         "--limit", "1"], log, self.env, REPO)
        self.processes.append(process)
        return process


def tiny_actgan_config(source: Path, output: Path, epochs: int = 3) -> dict:
    return {"source": {"path": str(source)},
            "model": {"kind": "actgan", "epochs": epochs, "seed": 0, "embedding_dim": 16, "generator_dims": [32],
                      "critic_dims": [32], "pac": 10, "training": {"batch_size": 100}},
            "report": {"bootstrap": 0, "gate": {"enabled": False}},
            "output": {"path": str(output)}}


def wait_final(client, flow_run_id, timeout_s: float = RUN_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.read_flow_run(flow_run_id)
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} not finished after {timeout_s} s (state {run.state})")


# -- S3 (moto) -----------------------------------------------------------------------------------------

SECRET = "dummy-SECRET-d0-not-leak-9f8e7d"
ACCESS_KEY = "AKIADUMMYTESTKEY0001"


def start_moto(tmp_path_factory, name: str, **env) -> tuple[str, object]:
    """moto's S3 server (environment `env`) on a free loopback port; returns its endpoint and process."""
    home = tmp_path_factory.mktemp(name)
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    child_env.update(PYTHONUNBUFFERED="1", **env)
    process = start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    home / "moto.log", child_env, home)
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", process, home / "moto.log", timeout_s=60)
    except BaseException:
        stop(process)
        raise
    return f"http://127.0.0.1:{port}", process


def s3_client_env(monkeypatch, endpoint: str) -> None:
    """Points the AWS SDK's own credential chain at `endpoint` with the dummy keys, and nowhere else."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never look for instance credentials
