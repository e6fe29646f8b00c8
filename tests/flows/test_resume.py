"""A refresh killed with SIGKILL mid-training resumes from its checkpoint when started again; a time
budget ends training early and the run still samples and publishes; checkpoint settings."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tasks.config import parse_config
from synth.checkpoint import MODEL_DIR, latest_checkpoint
from synth.errors import ConfigError
from synth.models import load_model
from tasks.train import checkpointing
from tests.support.pipeline import TINY_MODEL, mixed_table, start_refresh, write_config

EPOCHS, EVERY, KILL_AFTER = 40, 5, 10


def _logged_model(run_id: str, into: Path):
    """The synth model inside the run's MLflow pyfunc model."""
    import mlflow

    pyfunc = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model", dst_path=str(into)))
    return load_model(pyfunc / "artifacts" / "model")


def _checkpoint_epoch(directory: Path) -> int:
    try:
        found = latest_checkpoint(directory)
    except Exception:  # mid-replace: read again on the next poll
        return 0
    return found[0] if found else 0


def test_a_refresh_killed_mid_training_resumes_where_it_stopped(tmp_path):
    import mlflow

    source, output, checkpoints = tmp_path / "in.parquet", tmp_path / "out" / "synth.parquet", tmp_path / "ckpt"
    pq.write_table(mixed_table(600), source)  # 5 steps per epoch
    model = {**TINY_MODEL, "epochs": EPOCHS,
             "training": {"batch_size": 100, "checkpoint_every": EVERY, "checkpoint_dir": str(checkpoints)}}
    config = write_config(tmp_path, source, output, model=model)

    first, first_log = start_refresh(config, tmp_path, "first")
    deadline = time.monotonic() + 120
    while _checkpoint_epoch(checkpoints) < KILL_AFTER:
        assert first.poll() is None, f"the first run ended before it was killed:\n{first_log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "no checkpoint of epoch 10 within 120 s"
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    killed_at = _checkpoint_epoch(checkpoints)
    assert first.returncode == -signal.SIGKILL
    assert KILL_AFTER <= killed_at < EPOCHS, "killed too late to test resuming: make the epochs slower"
    assert not output.exists(), "a killed run published"

    second, second_log = start_refresh(config, tmp_path, "second")
    try:
        second.wait(timeout=180)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    log = second_log.read_text()
    assert second.returncode == 0, log[-3000:]
    assert output.exists()
    resumed = [int(line.split("resumed from epoch ")[1].split()[0]) for line in log.splitlines()
               if "resumed from epoch " in line]
    assert len(resumed) == 1 and resumed[0] >= killed_at, log[-3000:]

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        run_id = pq.read_metadata(output).metadata[b"prefect_synth.mlflow_run_id"].decode()
        steps = [m.step for m in mlflow.MlflowClient().get_metric_history(run_id, "wasserstein")]
        assert sorted(steps) == list(range(resumed[0] + 1, EPOCHS + 1))  # the second run trained only these
        final = _logged_model(run_id, tmp_path / "logged")
    finally:
        mlflow.set_tracking_uri(None)
    assert [s.epoch for s in final.history_] == list(range(1, EPOCHS + 1))
    assert final.stopped_early_ is None


def test_a_time_budget_stops_training_and_the_run_still_publishes(tmp_path, prefect_api, mlflow_store, caplog):
    source, output = tmp_path / "in.parquet", tmp_path / "budget.parquet"
    pq.write_table(mixed_table(), source)
    model = {**TINY_MODEL, "epochs": 50, "training": {"batch_size": 100, "max_minutes": 0.0001,
                                                      "checkpoint_every": 10,
                                                      "checkpoint_dir": str(tmp_path / "ckpt")}}
    assert main(["run", write_config(tmp_path, source, output, model=model)]) == 0

    assert pq.read_table(output).num_rows == 400  # sampled and published
    assert "training stopped after epoch 1 of 50: the time budget (training.max_minutes=0.0001)" in caplog.text
    run_id = pq.read_metadata(output).metadata[b"prefect_synth.mlflow_run_id"].decode()
    published = _logged_model(run_id, tmp_path / "logged")
    assert [s.epoch for s in published.history_] == [1]
    assert published.stopped_early_.startswith("training stopped after epoch 1 of 50")
    epoch, path = latest_checkpoint(tmp_path / "ckpt")  # the next run goes on from here
    assert epoch == 1 and load_model(path / MODEL_DIR).history_ == published.history_
    report = json.loads((tmp_path / "budget.report" / "report.json").read_text())
    assert report["training"]["epochs"] == 1


def _model(**training):
    tree = {"source": {"path": "in.parquet"}, "output": {"path": "out/synth.parquet"},
            "model": {**TINY_MODEL, "training": {"batch_size": 100, **training}}}
    return parse_config(tree).model


def test_checkpoint_settings():
    assert checkpointing(_model(), "out/synth.parquet") is None  # off by default
    beside = checkpointing(_model(checkpoint_every=5), "out/synth.parquet")
    assert Path(beside.directory) == Path("out/synth.checkpoints") and beside.every == 5
    assert checkpointing(_model(checkpoint_every=5, checkpoint_dir="/x/ck"), None).directory == "/x/ck"
    on_s3 = checkpointing(_model(checkpoint_every=5), "s3://bucket/out/synth.parquet")
    assert on_s3.directory == "s3://bucket/out/synth.checkpoints"  # beside the output, in the bucket
    with pytest.raises(ConfigError, match="training.checkpoint_every=5 needs training.checkpoint_dir"):
        checkpointing(_model(checkpoint_every=5), None)
    for bad in ({"checkpoint_every": -1}, {"max_minutes": 0}, {"max_critic_grad_norm": 0}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            _model(**bad)
