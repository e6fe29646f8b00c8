"""The synthetic-refresh flow end to end: real Prefect engine, real MLflow store, real Parquet."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from synth.storage import read_metadata
from tests.support.pipeline import RELATIVE_OFF, mixed_table, write_config

@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(mixed_table(), path)
    return path


def test_refresh_end_to_end(tmp_path, source, prefect_api, mlflow_store, capsys):
    import mlflow

    output = tmp_path / "out" / "synth.parquet"
    config = write_config(tmp_path, source, output)
    assert main(["run", config, "--set", "sample.num_rows=250"]) == 0

    real, synthetic = pq.read_table(source), pq.read_table(output)
    assert synthetic.num_rows == 250
    assert synthetic.schema.remove_metadata() == real.schema.remove_metadata()  # same columns, same Arrow types
    assert set(synthetic.column("shop").to_pylist()) == {"main"}
    prices = synthetic.column("price").to_numpy()
    assert prices.min() >= 300 and prices.max() <= 19999
    meta = read_metadata(output)
    run_id = meta["prefect_synth.mlflow_run_id"]
    assert meta["prefect_synth.model_kind"] == "actgan"
    assert len(meta["prefect_synth.config_hash"]) == 12

    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.epochs"] == "3"
    assert run.data.tags["prefect.flow_name"] == "synthetic-refresh"
    assert run.data.tags["prefect.flow_run_id"]
    history = client.get_metric_history(run_id, "wasserstein")
    assert [m.step for m in history] == [1, 2, 3]
    assert "report.overall" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id, "report")}
    assert {"report/report.json", "report/report.html"} <= artifacts
    assert {a.path for a in client.list_artifacts(run_id, "validation")} == {"validation/validation.json"}

    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    rows = model.predict(pd.DataFrame({"num_rows": [37]}))
    assert len(rows) == 37 and list(rows.columns) == real.column_names
    good = model.predict(pd.DataFrame({"num_rows": [20]}), params={"conditions": '{"cut": "Good"}'})
    assert len(good) == 20 and set(good["cut"]) == {"Good"}
    assert (output.parent / "synth.contract.yaml").exists()  # inferred on this first successful run


def test_model_selection_through_the_flow(tmp_path, source, prefect_api, mlflow_store):
    import mlflow

    output = tmp_path / "selected.parquet"
    config = write_config(tmp_path, source, output)
    assert main(["run", config, "--set", "model.training.eval_every=1", "--set", "model.training.patience=5"]) == 0
    run_id = read_metadata(output)["prefect_synth.mlflow_run_id"]
    client = mlflow.MlflowClient()
    scores = {m.step: m.value for m in client.get_metric_history(run_id, "validation_score")}
    assert sorted(scores) == [1, 2, 3]  # a metric series, one point per evaluation
    selected = int(client.get_run(run_id).data.tags["synth.selected_epoch"])
    assert scores[selected] == max(scores.values())
    report = json.loads(open(client.download_artifacts(run_id, "report/report.json", str(tmp_path))).read())
    assert report["training"]["validation"]["selected_epoch"] == selected


def test_conditions_in_the_run_config(tmp_path, source, prefect_api, mlflow_store):
    output = tmp_path / "only_d.parquet"
    config = write_config(tmp_path, source, output)
    assert main(["run", config, "--set", "model.epochs=1", "--set", "sample.conditions={color: D}"]) == 0
    assert set(pq.read_table(output).column("color").to_pylist()) == {"D"}


def test_same_seed_same_parquet(tmp_path, source, prefect_api, mlflow_store):
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert main(["run", write_config(tmp_path, source, first), "--set", "model.epochs=1"]) == 0
    assert main(["run", write_config(tmp_path, source, second), "--set", "model.epochs=1"]) == 0
    assert pq.read_table(first).equals(pq.read_table(second))


def test_dgan_refresh_end_to_end(tmp_path, prefect_api, mlflow_store):
    """A long-format time series through the whole flow: sequences come back with the input's schema."""
    rng = np.random.default_rng(0)
    n, steps = 40, 6
    frame = pd.DataFrame({
        "sensor": np.repeat([f"s{i:02d}" for i in range(n)], steps),
        "step": np.tile(np.arange(steps), n),
        "site": np.repeat(rng.choice(["north", "south"], n), steps),
        "reading": rng.normal(10, 2, n * steps),
    })
    frame.loc[7, "reading"] = np.nan  # one short gap: interpolated, reported
    source = tmp_path / "series.parquet"
    frame.to_parquet(source, index=False)
    output = tmp_path / "series_synth.parquet"
    model = {"kind": "dgan", "epochs": 2, "example_id": "sensor", "time_column": "step",
             "attribute_columns": ["site"], "feature_columns": ["reading"], "max_sequence_len": steps,
             "sample_len": 2, "training": {"batch_size": 20}}
    assert main(["run", write_config(tmp_path, source, output, model=model)]) == 0
    synthetic = pq.read_table(output)
    assert synthetic.schema.equals(pq.read_table(source).schema.remove_metadata(), check_metadata=False)
    assert synthetic.num_rows == n * steps
    assert set(synthetic.column("site").to_pylist()) <= {"north", "south"}
    report = json.loads((tmp_path / "series_synth.report" / "report.json").read_text())
    assert report["preparation"]["interpolated_values"] == 1
    assert "sensor" not in [c["name"] for c in report["columns"]]
    assert report["kind"] == "series" and report["series"]["acf"]  # the time-series section
    assert report["counts"]["rows_holdout"] > 0  # whole examples held back


def test_a_failed_gate_publishes_nothing_and_keeps_the_champion(tmp_path, source, prefect_api, mlflow_store,
                                                                 capsys):
    import mlflow

    output = tmp_path / "gated.parquet"
    lenient = {"gate": {"min_overall": 0.05, "min_column_shapes": 0.05, "min_column_pairs": 0.05,
                        "max_exact_copy_rate": 0.5, "min_dcr_holdout_share": 0.0, **RELATIVE_OFF},
               "bootstrap": 0}
    assert main(["run", write_config(tmp_path, source, output, report=lenient)]) == 0
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("gated", "champion")
    before = output.read_bytes()
    model = mlflow.pyfunc.load_model("models:/gated@champion")
    assert len(model.predict(pd.DataFrame({"num_rows": [7]}))) == 7

    strict = {"gate": {"min_overall": 0.999}, "bootstrap": 0}
    assert main(["run", write_config(tmp_path, source, output, report=strict)]) != 0
    err = capsys.readouterr().err
    assert "quality gate failed, nothing published (overall " in err and "< 0.999" in err
    assert output.read_bytes() == before
    assert client.get_model_version_by_alias("gated", "champion").version == champion.version
    [failed] = client.search_runs([client.get_experiment_by_name("gated").experiment_id],
                                  "tags.`synth.quality_gate` = 'failed'")
    assert failed.info.status == "FAILED"
    report = json.loads((tmp_path / "gated.report" / "report.json").read_text())
    assert report["gate"]["passed"] is False  # the report of the failed run says why

    # the same input and config as the first run: published again only when asked (else nothing to do)
    assert main(["run", write_config(tmp_path, source, output, report=lenient),
                 "--set", "output.skip_unchanged=false"]) == 0
    assert int(client.get_model_version_by_alias("gated", "champion").version) == int(champion.version) + 1
