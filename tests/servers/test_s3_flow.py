"""The refresh flow with its source, output, report, contract and checkpoints on a real S3-compatible
server (moto on loopback): published as a version switched in by its pointer, never half; a failed
gate leaves the published version and no staged one; the same input and config twice publish once;
a later run resumes from the checkpoint kept in the bucket."""
from __future__ import annotations

import json
import threading

import mlflow
import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main
from synth import storage
from synth.checkpoint import LATEST
from tests.support.servers import SECRET
from tests.support.pipeline import TINY_MODEL, mixed_table

pytestmark = pytest.mark.slow


def _config(tmp_path, bucket: str, **extra) -> str:
    model = {**TINY_MODEL, "epochs": 2, "training": {**TINY_MODEL["training"], "checkpoint_every": 1,
                                                     "keep_checkpoints": True}}  # a later run resumes
    tree = {"source": {"path": f"s3://{bucket}/in/diamonds.parquet"}, "model": model,
            "output": {"path": f"s3://{bucket}/out/diamonds_synth.parquet"},
            "sample": {"num_rows": 250}, "report": {"gate": {"enabled": False}, "bootstrap": 0}, **extra}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tree))
    return str(path)


def _upload(bucket: str, table, key: str = "in/diamonds.parquet") -> None:
    fs, _ = storage.resolve(f"s3://{bucket}")
    pq.write_table(table, f"{bucket}/{key}", filesystem=fs)


def _run_id(uri: str) -> str:
    return storage.current_version(uri).metadata["prefect_synth.mlflow_run_id"]


def test_refresh_on_s3_publishes_a_version_and_keeps_everything_in_the_bucket(
        tmp_path, bucket, prefect_api, mlflow_store, capsys):
    source = mixed_table(400)
    _upload(bucket, source)
    output = f"s3://{bucket}/out/diamonds_synth.parquet"
    config = _config(tmp_path, bucket)

    assert main(["run", config]) == 0
    first = storage.current_version(output)
    assert first.version and first.num_rows == 250
    synthetic = storage.read_published(output)
    assert synthetic.num_rows == 250
    assert synthetic.schema.remove_metadata().equals(source.schema.remove_metadata())
    assert first.metadata["prefect_synth.model_kind"] == "actgan"
    assert len(first.metadata["prefect_synth.data_hash"]) >= 16
    # the report, the inferred contract and the checkpoints live beside the output, in the bucket
    report = json.loads(storage.read_bytes(f"s3://{bucket}/out/diamonds_synth.report/report.json"))
    assert report["summary"]["overall"] > 0
    assert storage.read_bytes(f"s3://{bucket}/out/diamonds_synth.report/report.html").startswith(b"<!")
    assert b"carat" in storage.read_bytes(f"s3://{bucket}/out/diamonds_synth.contract.yaml")
    fetched = tmp_path / "checkpoint"
    assert storage.get_dir(f"s3://{bucket}/out/diamonds_synth.checkpoints", fetched)
    assert json.loads((fetched / LATEST).read_text())["epoch"] == 2
    assert not any(p.name.startswith("s3") for p in tmp_path.rglob("*")), "an s3:// URI was used as a local path"
    # the MLflow run records no credential
    run = mlflow.MlflowClient().get_run(first.metadata["prefect_synth.mlflow_run_id"])
    assert SECRET not in json.dumps({**run.data.params, **run.data.tags})

    # the same input and config again: nothing to do, nothing published
    capsys.readouterr()
    assert main(["run", config]) == 0
    assert "nothing to do" in capsys.readouterr().out

    # `prefect-synth report` reads s3:// as the flow does: the source and the published version
    out = tmp_path / "cli-report"
    assert main(["report", "--real", f"s3://{bucket}/in/diamonds.parquet", "--synthetic", output,
                 "--out", str(out)]) == 0
    cli = json.loads((out / "report.json").read_text())
    assert cli["counts"]["rows_real_total"] == 400 and cli["counts"]["rows_synthetic_total"] == 250
    assert storage.current_version(output) == first

    # two more epochs: trains only those, from the checkpoint in the bucket, and publishes a new version
    assert main(["run", config, "--set", "model.epochs=4"]) == 0
    second = storage.current_version(output)
    assert second.version > first.version
    steps = [m.step for m in mlflow.MlflowClient().get_metric_history(_run_id(output), "wasserstein")]
    assert sorted(steps) == [3, 4]
    assert mlflow.MlflowClient().get_run(_run_id(output)).data.tags["synth.resumed_from_epoch"] == "2"
    assert storage.list_versions(output) == [first.version, second.version]
    assert storage.read_published(output).num_rows == 250

    # a published output is a source like any other: its current version's files, not the listing
    chained = f"s3://{bucket}/out/chained.parquet"
    assert main(["run", config, "--set", f"source.path={output}", "--set", f"output.path={chained}",
                 "--set", "sample.num_rows=100", "--set", "source.sample_rows=200",
                 "--set", "model.training.keep_checkpoints=false"]) == 0
    assert storage.read_published(chained).num_rows == 100
    # by default a published run's checkpoints are removed from the bucket: pointer and versions
    assert not storage.get_dir(f"s3://{bucket}/out/chained.checkpoints", tmp_path / "gone")
    assert storage.list_versions(f"s3://{bucket}/out/chained.checkpoints") == []
    assert storage.read_published(chained).schema.remove_metadata().equals(source.schema.remove_metadata())


def test_failed_gate_on_s3_keeps_the_published_version_and_leaves_no_staged_one(
        tmp_path, bucket, prefect_api, mlflow_store, capsys):
    _upload(bucket, mixed_table(400))
    output = f"s3://{bucket}/out/diamonds_synth.parquet"
    assert main(["run", _config(tmp_path, bucket)]) == 0
    before = storage.current_version(output)
    published = storage.read_published(output)

    # a reader polling the output while the failing run stages its version sees the published one only
    seen, stop = [], threading.Event()

    def read_while_running():
        while not stop.is_set():
            table = storage.read_published(output)
            seen.append((table.num_rows, table.schema.metadata[b"prefect_synth.mlflow_run_id"]))

    reader = threading.Thread(target=read_while_running, daemon=True)
    reader.start()
    impossible = {"gate": {"enabled": True, "min_overall": 0.9999}, "bootstrap": 0}
    _upload(bucket, mixed_table(400).slice(0, 380))  # new data (inside the stored contract): not skipped
    try:
        assert main(["run", _config(tmp_path, bucket, report=impossible)]) == 1
    finally:
        stop.set()
        reader.join(30)
    assert "quality gate failed, nothing published" in capsys.readouterr().err
    assert storage.current_version(output) == before
    assert storage.read_published(output).equals(published)
    assert storage.list_versions(output) == [before.version]  # the staged version was deleted
    assert seen and set(seen) == {(250, before.metadata["prefect_synth.mlflow_run_id"].encode())}


def test_missing_bucket_fails_before_training_and_names_it(tmp_path, bucket, prefect_api, mlflow_store, capsys):
    _upload(bucket, mixed_table(400))
    config = _config(tmp_path, bucket, output={"path": "s3://no-such-bucket-here/out/x.parquet"})
    assert main(["run", config]) == 1
    err = capsys.readouterr().err
    assert "output.path" in err and "no such bucket 'no-such-bucket-here'" in err
    assert SECRET not in err
