"""Shared fixtures: one real Prefect test API for the session, a private MLflow store per test."""
from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
# a temporary Prefect API gets 20 s to start by default: too little on a busy 2-core machine
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """The Airflow tests last: scripts/test.sh builds their environment while the others run."""
    items.sort(key=lambda item: "/tests/airflow/" in str(item.path).replace(os.sep, "/"))


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
