"""Real servers on loopback for the deployment tests: a Prefect server (sqlite) with basic auth, an
MLflow tracking server (sqlite + local artifact root) with its basic-auth app, and process workers
holding the runner's credentials, each a child process on a free port,
stopped at the end of the session. The deployments come from deployments/prefect.yaml via
scripts/deploy.sh, exactly as a user registers them. The S3 tests get a moto S3 server (`s3_endpoint`,
one per test module) and a fresh `bucket` on it.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from flows.recovery import FILE_LEASES
from tests.support.servers import (BIN, MLFLOW_AUTH_INI, MLFLOW_SECRET_KEY, MLFLOW_USERS, PREFECT_AUTH, REPO, Stack, free_port,
                                  mlflow_call, s3_client_env, start, start_moto, stop, wait_http)

@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("servers")
    prefect_port, mlflow_port = free_port(), free_port()
    api = f"http://127.0.0.1:{prefect_port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PREFECT_HOME=str(home / "prefect"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_API_URL=api, PREFECT_UI_API_URL=api,
               PREFECT_SERVER_API_PORT=str(prefect_port), PREFECT_WORKER_QUERY_SECONDS="2",
               PREFECT_WORKER_PREFETCH_SECONDS="0",
               PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
               MLFLOW_TRACKING_URI=f"http://127.0.0.1:{mlflow_port}", GX_ANALYTICS_ENABLED="false",
               PYTHONUNBUFFERED="1",  # the clients (CLI, deploy.sh, workers, flows) hold the runner's credentials
               PREFECT_API_AUTH_STRING=PREFECT_AUTH, MLFLOW_TRACKING_USERNAME="synth-runner",
               MLFLOW_TRACKING_PASSWORD=MLFLOW_USERS["synth-runner"])
    client_only = ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    server_env = {k: v for k, v in env.items() if k not in client_only}
    (home / "mlflow-auth.ini").write_text(MLFLOW_AUTH_INI.format(db=home / "mlflow-auth.db"))
    processes = []
    try:
        prefect = start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                        home / "prefect-server.log", {**server_env, "PREFECT_SERVER_API_AUTH_STRING": PREFECT_AUTH,
                         "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": FILE_LEASES},
                        home)
        processes.append(prefect)
        mlflow = start([str(BIN / "mlflow"), "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
                        "--port", str(mlflow_port), "--workers", "1",
                        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
                        "--artifacts-destination", str(home / "mlflow-artifacts")],
                       home / "mlflow-server.log", {**server_env, "MLFLOW_AUTH_CONFIG_PATH": str(home / "mlflow-auth.ini"),
                                                    "MLFLOW_AUTH_ADMIN_PASSWORD": MLFLOW_USERS["admin"],
                                                    "MLFLOW_FLASK_SERVER_SECRET_KEY": MLFLOW_SECRET_KEY}, home)
        processes.append(mlflow)
        wait_http(f"{api}/health", prefect, home / "prefect-server.log")
        wait_http(f"http://127.0.0.1:{mlflow_port}/health", mlflow, home / "mlflow-server.log")
        for user in ("synth-runner", "viewer"):  # the admin creates the two users; READ is everyone's default
            mlflow_call(env["MLFLOW_TRACKING_URI"], "admin", "POST", "/api/2.0/mlflow/users/create",
                        {"username": user, "password": MLFLOW_USERS[user]})
        # this test process reads the MLflow server as the viewer (MlflowClient takes these from the environment)
        os.environ.update(MLFLOW_TRACKING_USERNAME="viewer", MLFLOW_TRACKING_PASSWORD=MLFLOW_USERS["viewer"])
        deploy = subprocess.run([str(REPO / "scripts" / "deploy.sh")], env=env, cwd=REPO, capture_output=True,
                                text=True, timeout=300)
        assert deploy.returncode == 0, f"deploy.sh failed:\n{deploy.stdout[-3000:]}\n{deploy.stderr[-3000:]}"
        yield Stack(api, f"http://127.0.0.1:{prefect_port}", env["MLFLOW_TRACKING_URI"], env, home, processes)
    finally:
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
        for process in reversed(processes):
            stop(process)


@pytest.fixture(scope="session")
def workers(stack):
    """Two process workers of `local-process`, one run at a time each."""
    return [stack.worker("worker-a"), stack.worker("worker-b")]


@pytest.fixture(scope="session")
def prefect_client(stack):
    """A sync Prefect client of the stack's server (not the session's test harness)."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(stack.prefect_api, auth_string=PREFECT_AUTH) as client:
        yield client


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict[str, Path]:
    """A small table and a small set of weather-like sequences (the columns the weather deployment names)."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    n = 300
    pq.write_table(pa.table({
        "carat": np.round(rng.gamma(2.0, 0.4, n), 2),
        "cut": rng.choice(["Fair", "Good", "Ideal"], n, p=[0.2, 0.3, 0.5]),
        "price": rng.integers(300, 20000, n).astype(np.int32),
    }), folder / "table.parquet")
    days, hours = 40, 8
    hour = np.tile(np.arange(hours), days)
    station_day = np.repeat(np.arange(days), hours)
    phase = rng.uniform(0, 2 * np.pi, days)[station_day]
    weather = pd.DataFrame({
        "station_day": station_day, "hour": hour,
        "origin": np.repeat(rng.choice(["EWR", "JFK", "LGA"], days), hours),
        "month": np.repeat(rng.integers(1, 13, days), hours),
        **{name: np.sin(hour / 3 + phase) * scale + rng.normal(0, 0.1, days * hours)
           for name, scale in [("temp", 10), ("dewp", 8), ("humid", 20), ("wind_speed", 5), ("precip", 0.1),
                               ("visib", 2)]},
    })
    pq.write_table(pa.Table.from_pandas(weather, preserve_index=False), folder / "weather.parquet")
    return {"table": folder / "table.parquet", "weather": folder / "weather.parquet", "folder": folder}


# -- S3 (moto) for tests/servers/test_s3*.py -------------------------------------------------------------

@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A moto S3 server for the test module; its endpoint URL."""
    endpoint, process = start_moto(tmp_path_factory, "moto")
    yield endpoint
    stop(process)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> str:
    """A fresh, empty bucket on the server; the client environment points at it."""
    s3_client_env(monkeypatch, s3_endpoint)
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin = pafs.S3FileSystem(endpoint_override=s3_endpoint.removeprefix("http://"), scheme="http",
                              allow_bucket_creation=True)
    admin.create_dir(name)
    return name
