"""Ctrl-C on `prefect-synth run`: a real SIGINT to the CLI's whole process group, as a terminal sends it."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.pipeline import child_env, mixed_table

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 90  # far beyond a clean exit; before the fix the process went on for 35-150 s


def _config(tmp_path: Path, epochs: int) -> Path:
    pq.write_table(mixed_table(2000), tmp_path / "in.parquet")
    tree = {"source": {"path": "in.parquet"},
            "model": {"kind": "actgan", "epochs": epochs, "embedding_dim": 16, "generator_dims": [32, 32],
                      "critic_dims": [32, 32], "training": {"batch_size": 100, "checkpoint_every": 2}},
            "output": {"path": "out/synth.parquet"},
            "report": {"gate": {"enabled": False}, "bootstrap": 0}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = child_env(tmp_path / "prefect-home", f"sqlite:///{tmp_path / 'mlflow.db'}")
    env.update(PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "run", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group, like a shell job


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _interrupt_during_training(tmp_path: Path, config: Path) -> tuple[subprocess.Popen, str, float, Path]:
    """Start a run, wait until training has written a checkpoint, send the terminal's Ctrl-C (SIGINT to the
    whole process group); returns the process, its output, the seconds it took to exit, the checkpoint pointer."""
    process = _start(tmp_path, str(config))
    pointer = tmp_path / "out" / "synth.checkpoints" / "latest.json"
    deadline = time.monotonic() + 240
    while not pointer.exists():  # training is under way once a checkpoint exists
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "training never wrote a checkpoint"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    interrupted = time.monotonic()
    output, _ = process.communicate(timeout=HANG_GUARD_S)
    return process, output, time.monotonic() - interrupted, pointer


@pytest.mark.slow
def test_ctrl_c_during_training_exits_at_once_with_one_line(tmp_path):
    import mlflow

    process, output, seconds, pointer = _interrupt_during_training(tmp_path, _config(tmp_path, epochs=5000))

    assert process.returncode == 130, output
    lines = [line for line in output.splitlines() if line.startswith("prefect-synth: interrupted")]
    assert len(lines) == 1, output
    assert re.search(r"interrupted during training \(epoch \d+ of 5000\)", lines[0]), lines[0]
    assert "resumes from the checkpoint of epoch" in lines[0] and "nothing was published" in lines[0]
    for noise in ("Traceback", "ConnectError", "Error logging to API", "Crash detected"):
        assert noise not in output, f"{noise!r} in the output:\n{output}"
    print(f"exited {seconds:.1f} s after SIGINT")

    port = int(re.search(r"temporary server on http://127\.0\.0\.1:(\d+)", output).group(1))
    assert not _port_open(port), "the temporary Prefect API outlived the run"
    assert not (tmp_path / "out" / "synth.parquet").exists()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")], "a staged file was left"
    assert pointer.exists(), "the checkpoint a rerun resumes from is kept"

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run, = client.search_runs([client.get_experiment_by_name("synth").experiment_id])
    assert run.info.status == "KILLED" and run.data.tags["synth.outcome"] == "interrupted"


@pytest.mark.slow
def test_a_rerun_after_ctrl_c_resumes_and_then_removes_the_checkpoints(tmp_path):
    config = _config(tmp_path, epochs=5000)
    process, _, _, pointer = _interrupt_during_training(tmp_path, config)
    assert process.returncode == 130

    saved = int(yaml.safe_load(pointer.read_text())["epoch"])
    # (at least 5 epochs: fewer would turn off model selection, a setting a checkpoint must match)
    rerun = _start(tmp_path, str(config), "--set", f"model.epochs={max(saved + 2, 5)}")
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output
    assert f"resumed from epoch {saved}" in output
    assert (tmp_path / "out" / "synth.parquet").exists()
    assert not (tmp_path / "out" / "synth.checkpoints").exists(), "a published run's checkpoints are removed"
