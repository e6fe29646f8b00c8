"""The Airflow tests need the Airflow environment (.venv-airflow, built by `scripts/setup.sh airflow`):
without it they skip, unless SYNTH_REQUIRE_AIRFLOW=1, where they fail instead. When
SYNTH_AIRFLOW_SETUP_STATUS names a file, the environment is being built in the background and the
tests wait for that file (the build's exit status)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support import airflow

SETUP_WAIT_S = 1800


def _wait_for_setup() -> None:
    """scripts/test.sh builds the Airflow environment in the background: wait for it to finish."""
    status = os.environ.get("SYNTH_AIRFLOW_SETUP_STATUS")
    if not status:
        return
    deadline = time.monotonic() + SETUP_WAIT_S
    while not Path(status).exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the Airflow environment was not built in {SETUP_WAIT_S} s")
        time.sleep(2)
    if Path(status).read_text().strip() != "0":
        log = airflow.REPO / ".venv-airflow-setup.log"
        pytest.fail(f"scripts/setup.sh airflow failed:\n{log.read_text()[-3000:] if log.exists() else ''}")


@pytest.fixture(scope="session")
def af(tmp_path_factory) -> airflow.Airflow:
    """Airflow with a migrated SQLite metadata database in a temporary AIRFLOW_HOME."""
    _wait_for_setup()
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
