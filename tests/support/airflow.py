"""Airflow in tests: its own environment (.venv-airflow, built by `scripts/setup.sh airflow`; no
Prefect), a metadata database in a temporary AIRFLOW_HOME, and the `airflow` command run in it."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("SYNTH_AIRFLOW_VENV", REPO / ".venv-airflow"))
DAGS = REPO / "synth_airflow" / "example_dags"


def available() -> bool:
    return (VENV / "bin" / "airflow").is_file()


@dataclass
class Airflow:
    home: Path
    env: dict[str, str]

    def run(self, args: list[str], timeout: float = 900, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`airflow <args>` in the Airflow environment; stdout and stderr together."""
        return subprocess.run([str(VENV / "bin" / "airflow"), *args], cwd=cwd or self.home, timeout=timeout,
                              env={**self.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)

    def python(self, code: str, *args: str, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`python -c code args` in the Airflow environment; stdout and stderr apart."""
        return subprocess.run([str(VENV / "bin" / "python"), "-c", code, *args], cwd=self.home, timeout=timeout,
                              env={**self.env, **(env or {})}, capture_output=True, text=True)


def airflow_env(home: Path) -> dict[str, str]:
    """A loopback-only Airflow on SQLite in `home`, reading the example DAGs from this checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "PREFECT_", "MLFLOW_", "AWS_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(DAGS), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__PARALLELISM="2", AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
               AIRFLOW__API_AUTH__JWT_SECRET="test-only-jwt", AIRFLOW__API__SECRET_KEY="test-only-key",
               GX_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1", PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return env
