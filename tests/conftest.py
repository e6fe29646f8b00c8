"""Shared fixtures: one real Prefect test API for the session, a private MLflow store per test."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
# a temporary Prefect API gets 20 s to start by default: too little on a busy 2-core machine
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # two workers on two cores: one torch thread each (and in the children they start), as two
    # 2-thread torch processes on two cores stall each other
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"

import pytest  # noqa: E402

SHARED_SERVERS = ("airflow", "servers")  # folders whose tests share one session's servers: the longest


def pytest_collection_modifyitems(config, items):
    """Under xdist (scripts/test.sh: `-n 2 --dist loadgroup`), each file runs on one worker, and each
    folder of SHARED_SERVERS as a whole on one worker, so no module's or server's setup runs twice.
    Those two folders come first: they take longest, and the other worker runs the rest meanwhile."""
    def folder(item) -> str:
        parts = Path(item.path).relative_to(config.rootpath).parts
        return parts[1] if len(parts) > 2 else ""

    items.sort(key=lambda item: SHARED_SERVERS.index(folder(item)) if folder(item) in SHARED_SERVERS else 9)
    for item in items:
        group = folder(item) if folder(item) in SHARED_SERVERS else Path(item.path).relative_to(config.rootpath).as_posix()
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def prefect_api():
    """A real (ephemeral, sqlite) Prefect API for the whole test session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A real MLflow sqlite store in a temporary folder; returns its tracking URI."""
    import mlflow

    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts under ./mlruns for sqlite stores
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)
