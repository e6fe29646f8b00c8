"""Idempotent refreshes: the same input and config publish once, however the runs are started; two runs
of one dataset started together cannot both publish (the dataset lock, then the data hash)."""
from __future__ import annotations

import time

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.support.pipeline import TINY_MODEL, mixed_table, start_refresh, write_config

pytestmark = pytest.mark.slow


def _published_by(output) -> str:
    return pq.read_metadata(output).metadata[b"prefect_synth.mlflow_run_id"].decode()


def test_same_partition_twice_publishes_once(tmp_path, prefect_api, mlflow_store, capsys):
    import mlflow

    partition = tmp_path / "in" / "day=2026-11-22"
    partition.mkdir(parents=True)
    pq.write_table(mixed_table(400), partition / "part-0.parquet")
    output = tmp_path / "out" / "synth.parquet"
    config = write_config(tmp_path, partition, output, sample={"num_rows": 250})

    assert main(["run", config]) == 0
    first, mtime = _published_by(output), output.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", config]) == 0
    assert f"nothing to do: {output} was already published from this input and config (MLflow run {first})" \
        in capsys.readouterr().out
    assert output.stat().st_mtime_ns == mtime and _published_by(output) == first
    skipped = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`synth.skipped` = 'unchanged'",
                                 output_format="list")
    assert len(skipped) == 1 and skipped[0].data.tags["synth.published_by"] == first

    # new rows in the partition: a new input, refreshed
    pq.write_table(mixed_table(400).slice(0, 390), partition / "part-0.parquet")
    assert main(["run", config]) == 0
    second = _published_by(output)
    assert second != first
    # unchanged again, but the user asks for a refresh anyway
    assert main(["run", config, "--set", "output.skip_unchanged=false"]) == 0
    third = _published_by(output)
    assert third not in (first, second)
    assert main(["run", config]) == 0 and _published_by(output) == third  # the same config, as far as skipping goes


def test_two_runs_started_together_publish_once(tmp_path):
    import mlflow

    source, output = tmp_path / "in.parquet", tmp_path / "out" / "synth.parquet"
    pq.write_table(mixed_table(400), source)
    config = write_config(tmp_path, source, output, model={**TINY_MODEL, "epochs": 5}, sample={"num_rows": 250})
    # the tracking store exists before the runs, as on any deployment: two processes creating one
    # sqlite schema at the same moment is a race of the test's setup, not of the refresh
    mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()
    runs = [start_refresh(config, tmp_path, name) for name in ("a", "b")]
    deadline = time.monotonic() + 600
    for process, log in runs:
        process.wait(max(1.0, deadline - time.monotonic()))
        assert process.returncode == 0, log.read_text()[-3000:]
    logs = [log.read_text() for _, log in runs]
    published = [text for text in logs if f"published 250 rows to {output}" in text]
    skipped = [text for text in logs if f"nothing to do: {output} was already published" in text]
    assert len(published) == 1 and len(skipped) == 1, "\n-----\n".join(t[-2000:] for t in logs)

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        client = mlflow.MlflowClient()
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        assert len(runs) == 2
        publisher = _published_by(output)
        (skipper,) = [r for r in runs if r.info.run_id != publisher]
        assert skipper.data.tags["synth.skipped"] == "unchanged"
        assert skipper.data.tags["synth.published_by"] == publisher
        versions = client.search_model_versions()
        assert [v.run_id for v in versions] == [publisher]  # one champion registered, not two
    finally:
        mlflow.set_tracking_uri(None)
