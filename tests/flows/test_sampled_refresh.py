"""The refresh flow on an input it trains on a sample of (`source.sample_rows`), writing its output in
chunks: real Prefect engine, real MLflow store, real Parquet."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from flows.cli import main
from tests.support.pipeline import mixed_table, write_config

ROWS = 3_000
SAMPLED = {"sample_rows": 800, "sample_seed": 3, "batch_rows": 500}


def sampled_config(tmp_path, source, output, **extra):
    config = write_config(tmp_path, source, output, **extra)
    tree = yaml.safe_load(open(config))
    tree["source"].update(SAMPLED)
    tree["sample"] = {"num_rows": 2_500, "chunk_rows": 1_000}
    open(config, "w").write(yaml.safe_dump(tree))
    return config


def write_source(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(mixed_table(ROWS), path, row_group_size=700)
    return path


def test_a_sampled_refresh_trains_on_the_sample_and_writes_chunks(tmp_path, prefect_api, mlflow_store):
    import mlflow

    source = write_source(tmp_path)
    first, second = tmp_path / "a" / "synth.parquet", tmp_path / "b" / "synth.parquet"
    assert main(["run", sampled_config(tmp_path, source, first)]) == 0
    assert main(["run", sampled_config(tmp_path, source, second)]) == 0

    written = pq.ParquetFile(first)
    assert written.metadata.num_rows == 2_500 and written.metadata.num_row_groups == 3  # 1,000-row chunks
    assert pq.read_table(first).equals(pq.read_table(second))  # same seeds, same file
    assert sorted(p.name for p in first.parent.iterdir()) == ["synth.contract.yaml", "synth.parquet", "synth.report"]

    report = json.loads((tmp_path / "a" / "synth.report" / "report.json").read_text())
    assert report["counts"]["rows_real_total"] + report["counts"]["rows_holdout_total"] == 800  # the sample
    sampling = report["sampling"]
    assert sampling["input"]["source_rows"] == ROWS and sampling["input"]["sample_rows"] == 800
    assert sampling["validation"] == {"scope": "full", "rows_checked": ROWS}
    assert sampling["synthetic"] == {"rows_written": 2_500, "units_written": 2_500, "chunks": 3,
                                     "rows_scored": 2_500}

    run = mlflow.MlflowClient().get_run(pq.read_schema(first).metadata[b"prefect_synth.mlflow_run_id"].decode())
    assert run.data.tags["synth.data_rows"] == str(ROWS) and run.data.tags["synth.training_sample_rows"] == "800"
    validation = json.loads(open(mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="validation/validation.json")).read())
    assert (validation["scope"], validation["rows_checked"], validation["gx_rows"]) == ("full", ROWS, 800)


def test_a_failed_gate_leaves_no_staged_file_and_the_previous_output(tmp_path, prefect_api, mlflow_store, capsys):
    source = write_source(tmp_path)
    output = tmp_path / "out" / "gated.parquet"
    output.parent.mkdir()
    output.write_bytes(b"previous published output")
    strict = {"gate": {"min_overall": 0.999}, "bootstrap": 0}
    assert main(["run", sampled_config(tmp_path, source, output, report=strict)]) != 0
    assert "quality gate failed, nothing published" in capsys.readouterr().err
    assert output.read_bytes() == b"previous published output"
    assert sorted(p.name for p in output.parent.iterdir()) == ["gated.parquet", "gated.report"]  # no staged file


def test_a_sampled_time_series_refresh_trains_on_whole_examples(tmp_path, prefect_api, mlflow_store):
    rng = np.random.default_rng(0)
    n, steps = 60, 6
    frame = pd.DataFrame({"sensor": np.repeat([f"s{i:02d}" for i in range(n)], steps),
                          "step": np.tile(np.arange(steps), n), "site": np.repeat(rng.choice(["a", "b"], n), steps),
                          "reading": rng.normal(10, 2, n * steps)})
    source = tmp_path / "series.parquet"
    pq.write_table(pa.Table.from_pandas(frame.sample(frac=1, random_state=0), preserve_index=False), source,
                   row_group_size=100)  # rows shuffled: an example's rows lie in several batches
    output = tmp_path / "series_synth.parquet"
    model = {"kind": "dgan", "epochs": 1, "example_id": "sensor", "time_column": "step",
             "attribute_columns": ["site"], "feature_columns": ["reading"], "max_sequence_len": steps,
             "sample_len": 2, "training": {"batch_size": 9}}
    config = write_config(tmp_path, source, output, model=model)
    assert main(["run", config, "--set", "source.sample_rows=30", "--set", "source.batch_rows=100",
                 "--set", "sample.chunk_rows=100"]) == 0
    synthetic = pq.ParquetFile(output)
    assert synthetic.metadata.num_row_groups == 4  # 16 sequences of up to 6 steps per 100-row chunk
    ids = pq.read_table(output).column("sensor").to_pylist()
    assert list(dict.fromkeys(ids)) == [f"synthetic-{i:02d}" for i in range(n)]  # as many as the input has
    report = json.loads((tmp_path / "series_synth.report" / "report.json").read_text())
    assert report["sampling"]["input"]["source_examples"] == n
    assert report["counts"]["rows_real_total"] + report["counts"]["rows_holdout_total"] == 30 * steps
