"""The refresh pipeline's test inputs: a tiny model, a table of every column kind, a run config, and a
refresh started as a child process."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

REPO = Path(__file__).resolve().parents[2]

# the gate's relative checks off (pairs over the independent baseline, detection AUC, ACF ratio): tiny
# models in tests cannot pass them, and the tests that use this check the absolute thresholds
RELATIVE_OFF = {"min_pairs_margin": None, "max_detection_auc": None, "max_acf_error_ratio": None}

TINY_MODEL = {"kind": "actgan", "epochs": 3, "seed": 0, "embedding_dim": 16, "generator_dims": [32, 32],
              "critic_dims": [32, 32], "pac": 10, "training": {"batch_size": 100}}


def mixed_table(n: int = 400, seed: int = 0) -> pa.Table:
    """A diamonds-like table: numbers, a dictionary category, strings, booleans, timestamps, a constant."""
    rng = np.random.default_rng(seed)
    cut = rng.choice(["Fair", "Good", "Ideal"], n, p=[0.2, 0.3, 0.5])
    return pa.table({
        "carat": np.round(rng.gamma(2.0, 0.4, n), 2),
        "price": (rng.integers(300, 20000, n)).astype(np.int32),
        "cut": pa.array(cut).dictionary_encode(),
        "color": rng.choice(["D", "E", "F", "G"], n),
        "certified": rng.random(n) > 0.4,
        "sold_at": pa.array(pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")),
        "shop": ["main"] * n,  # constant: comes back constant
    })


def write_config(tmp_path, source, output, model=None, **extra) -> str:
    """Writes tmp_path/run.yaml (the tiny model, the gate off unless `report` is given); returns its path."""
    # tiny models fail the default gate; the gate has tests of its own (tests/flows/test_refresh_flow.py)
    extra.setdefault("report", {"gate": {"enabled": False}, "bootstrap": 0})
    tree = {"source": {"path": str(source)}, "model": model or dict(TINY_MODEL), "output": {"path": str(output)},
            **extra}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tree))
    return str(path)


@functools.lru_cache(maxsize=1)
def _migrated_prefect_db() -> Path:
    """A Prefect database with every migration applied, made once per test process. A child's new
    Prefect home starts from a copy, as a user's second run does: its temporary API then starts
    without migrating an empty database (about 10 s less per child on this 2-core machine)."""
    home = Path(tempfile.mkdtemp(prefix="prefect-migrated-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    done = subprocess.run([str(Path(sys.executable).with_name("prefect")), "server", "database", "upgrade", "-y"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home / "prefect.db"


def child_env(prefect_home: Path, mlflow_uri: str) -> dict[str, str]:
    """The environment of a refresh run as a child process: its own Prefect home (and temporary API)
    and MLflow store, this checkout importable."""
    prefect_home.mkdir(parents=True, exist_ok=True)
    if not (prefect_home / "prefect.db").exists():
        shutil.copyfile(_migrated_prefect_db(), prefect_home / "prefect.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="INFO", MLFLOW_TRACKING_URI=mlflow_uri,
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    return env


def _child_env(tmp_path: Path, name: str) -> dict[str, str]:
    # Each run has its own Prefect home (its temporary API's database). A SIGKILLed run leaves its
    # dataset lock (flows/locks.py) occupied in its home's database: a temporary API never revokes the
    # lease that died with it. The checkpoints and the MLflow store are shared, as on a real retry.
    return child_env(tmp_path / f"prefect-home-{name}", f"sqlite:///{tmp_path / 'mlflow.db'}")


def start_refresh(config: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """`flows.cli run config` as a child in its own process group and Prefect home; returns it and its log."""
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:  # a file, not a pipe: a full pipe would stall the child
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", config], cwd=tmp_path,
                                env=_child_env(tmp_path, name), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: the kill takes it all
    return proc, log
