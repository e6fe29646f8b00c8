"""The Airflow tests need the Airflow environment (.venv-airflow, built by `scripts/setup.sh airflow`,
which `scripts/test.sh` runs): without it they skip, unless SYNTH_REQUIRE_AIRFLOW=1 (set by .ci/run)
makes that a failure."""
from __future__ import annotations

import os

import pytest

from tests.support import airflow


@pytest.fixture(scope="session")
def af(tmp_path_factory) -> airflow.Airflow:
    """Airflow with a migrated SQLite metadata database in a temporary AIRFLOW_HOME."""
    if not airflow.available():
        message = f"no Airflow environment at {airflow.VENV} (build it with: scripts/setup.sh airflow)"
        if os.environ.get("SYNTH_REQUIRE_AIRFLOW") == "1":
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path_factory.mktemp("airflow-home")
    instance = airflow.Airflow(home, airflow.airflow_env(home))
    migrated = instance.run(["db", "migrate"], timeout=600)
    assert migrated.returncode == 0, migrated.stdout[-3000:]
    return instance
