"""tasks/tracking.py against a real MLflow sqlite store, and the logged pyfunc against a real ACTGAN."""
from __future__ import annotations

import dataclasses

import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from safetensors import safe_open

from tasks.config import RefreshConfig
from synth.storage import table_fingerprint
from synth.models import load_model
from synth.tabular import ACTGAN, ACTGANConfig
from synth.training import EpochStats, WGANConfig
from tasks import mlflow_model, tracking
from tests.support.storage import read_all


def make_config(**tracking_section) -> RefreshConfig:
    return RefreshConfig.model_validate({
        "source": {"path": "data/people.parquet"},
        "model": {"kind": "actgan", "epochs": 3, "generator_dims": [32, 16]},
        "output": {"path": "out/people_synthetic.parquet"},
        "tracking": tracking_section,
    })


def epoch_stats(epoch: int) -> EpochStats:
    return EpochStats(epoch=epoch, wasserstein=1.0 / epoch, gradient_penalty=0.1 * epoch, critic_loss=-1.0,
                      generator_loss=0.5, critic_grad_norm=2.0, generator_grad_norm=3.0, seconds=0.25)


@pytest.fixture(scope="module")
def training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(18, 90, 200),
        "income": rng.lognormal(10, 0.5, 200),
        "city": rng.choice(["Oslo", "Lima", "Pune"], 200),
    })


@pytest.fixture(scope="module")
def saved_model(training_frame, tmp_path_factory) -> Path:
    """A real ACTGAN, one epoch at toy sizes, saved the way the flow saves it."""
    config = ACTGANConfig(embedding_dim=8, generator_dims=(16,), critic_dims=(16,), pac=5, max_modes=3,
                          training=WGANConfig(epochs=1, batch_size=50, device="cpu"))
    directory = tmp_path_factory.mktemp("model") / "actgan"
    ACTGAN(config).fit(training_frame).save(directory)
    return directory


def test_start_run_tags_the_flow_run_and_logs_the_config_as_params(mlflow_store):
    config = make_config()
    started = datetime.now(timezone.utc)
    run_id = tracking.start_run(config, {"prefect.flow_run_id": "flow-run-1", "prefect.flow_name": "refresh",
                                          "prefect.deployment_name": "nightly", "prefect.flow_run_name": "witty-otter"},
                                 "prefect.flow_run_id")

    run = MlflowClient().get_run(run_id)
    assert re.fullmatch(r"people_synthetic-actgan-\d{8}-\d{4}", run.info.run_name)
    assert run.info.run_name in {tracking.run_name("people_synthetic", "actgan", started + timedelta(minutes=m))
                                 for m in (0, 1)}  # the start minute, even if a minute turned meanwhile
    assert run.data.tags["prefect.flow_run_name"] == "witty-otter"
    experiment = MlflowClient().get_experiment(run.info.experiment_id)
    assert experiment.name == "people_synthetic"  # the output's stem when none is configured
    assert run.info.status == "RUNNING"
    assert {key: run.data.tags[key] for key in (
        "prefect.flow_run_id", "prefect.flow_name", "prefect.deployment_name",
        "synth.model_kind", "synth.config_hash", "synth.dataset")} == {
        "prefect.flow_run_id": "flow-run-1", "prefect.flow_name": "refresh",
        "prefect.deployment_name": "nightly", "synth.model_kind": "actgan",
        "synth.config_hash": config.config_hash(), "synth.dataset": "people_synthetic"}
    assert run.data.params == {key: str(value) for key, value in config.flat().items()}
    assert run.data.params["model.generator_dims"] == "[32, 16]"


def test_start_run_outside_a_deployment_uses_the_configured_experiment(mlflow_store):
    run_id = tracking.start_run(make_config(experiment="nightly-people"))

    run = MlflowClient().get_run(run_id)
    assert MlflowClient().get_experiment(run.info.experiment_id).name == "nightly-people"
    assert not any(key.startswith("prefect.") for key in run.data.tags)  # no orchestrator named: none of its tags
    assert run.info.run_name.startswith("people_synthetic-actgan-")  # named after the dataset, not the experiment


def test_run_names_read_dataset_kind_and_utc_start_minute():
    oslo = timezone(timedelta(hours=1))
    assert tracking.run_name("diamonds_synth", "actgan", datetime(2026, 11, 23, 3, 15, 59, tzinfo=oslo)) == (
        "diamonds_synth-actgan-20261123-0215")


def test_tag_data_tags_the_run_with_the_input_fingerprint_and_size(mlflow_store):
    table = pa.table({"id": [1, 2, 3], "city": ["Oslo", None, "Lima"]})
    run_id = tracking.start_run(make_config())

    assert tracking.tag_data(run_id, table) == table_fingerprint(table)
    tags = MlflowClient().get_run(run_id).data.tags
    assert (tags["synth.data_hash"], tags["synth.data_rows"], tags["synth.data_columns"]) == (
        table_fingerprint(table), "3", "2")


def fingerprint_table(rows: int = 300) -> pa.Table:
    """Every kind of column the models take, with nulls in each."""
    rng = np.random.default_rng(0)
    def holes(values):
        return [None if i % 7 == 3 else v for i, v in enumerate(values)]
    return pa.table({
        "price": pa.array(holes(rng.integers(300, 20_000, rows).tolist()), pa.int32()),
        "carat": holes(np.round(rng.gamma(2.0, 0.4, rows), 2).tolist()),
        "cut": pa.array(holes(rng.choice(["Fair", "Good", "Ideal"], rows).tolist())).dictionary_encode(),
        "color": holes(rng.choice(["D", "E", "F"], rows).tolist()),
        "certified": holes((rng.random(rows) > 0.4).tolist()),
        "sold_at": pa.array(pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC")),
    })


def test_table_fingerprint_follows_the_values_not_the_file_or_the_chunking(tmp_path):
    table = fingerprint_table()
    fingerprint = table_fingerprint(table)
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint)

    pq.write_table(table, tmp_path / "data.parquet", row_group_size=40)  # read back in 8 chunks
    assert table_fingerprint(read_all(tmp_path / "data.parquet")) == fingerprint
    assert table_fingerprint(read_all(tmp_path / "data.parquet")) == fingerprint
    assert table_fingerprint(pa.Table.from_batches(table.to_batches(max_chunksize=13))) == fingerprint
    assert table_fingerprint(pa.concat_tables([table.slice(0, 101), table.slice(101)])) == fingerprint
    assert table_fingerprint(table.replace_schema_metadata({"origin": "elsewhere"})) == fingerprint


@pytest.mark.parametrize(("column", "row", "value"), [
    ("price", 0, 301), ("carat", 5, 9.99), ("cut", 1, "Fair"), ("color", 2, "D"), ("certified", 4, None),
    ("price", 3, 0),  # a null becomes the zero stored under it
])
def test_table_fingerprint_changes_with_one_value(column, row, value):
    table = fingerprint_table()
    values = table.column(column).to_pylist()
    assert values[row] != value
    values[row] = value
    changed = table.set_column(table.schema.get_field_index(column), table.schema.field(column),
                               pa.array(values).cast(table.schema.field(column).type))
    assert table_fingerprint(changed) != table_fingerprint(table)


def test_table_fingerprint_changes_with_a_column_name_or_type():
    table = fingerprint_table()
    assert table_fingerprint(table.rename_columns(["cost", *table.column_names[1:]])) != table_fingerprint(table)
    assert table_fingerprint(table.set_column(0, "price", table.column("price").cast(pa.float64()))) != (
        table_fingerprint(table))


def test_a_retried_start_reuses_the_running_run_and_a_finished_one_is_not_reused(mlflow_store):
    first = tracking.start_run(make_config(), {"prefect.flow_run_id": "flow-run-2"}, "prefect.flow_run_id")
    assert tracking.start_run(make_config(), {"prefect.flow_run_id": "flow-run-2"}, "prefect.flow_run_id") == first
    tracking.end_run(first, "FAILED")

    second = tracking.start_run(make_config(), {"prefect.flow_run_id": "flow-run-2"}, "prefect.flow_run_id")
    assert second != first
    assert MlflowClient().get_run(first).info.status == "FAILED"
    assert tracking.start_run(make_config(), {"prefect.flow_run_id": "flow-run-3"}, "prefect.flow_run_id") not in (first, second)


def test_epoch_logger_writes_one_point_per_epoch_for_every_diagnostic(mlflow_store):
    run_id = tracking.start_run(make_config(), {"prefect.flow_run_id": "flow-run-4"}, "prefect.flow_run_id")
    log_epoch = tracking.epoch_logger(run_id)
    for epoch in (1, 2, 3):
        log_epoch(epoch_stats(epoch))

    client = MlflowClient()
    assert set(client.get_run(run_id).data.metrics) == set(epoch_stats(1).as_dict())
    history = client.get_metric_history(run_id, "wasserstein")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
        (1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3))]
    assert [m.step for m in client.get_metric_history(run_id, "gradient_penalty")] == [1, 2, 3]


def test_end_run_marks_the_status_and_rejects_unknown_ones(mlflow_store):
    run_id = tracking.start_run(make_config())
    with pytest.raises(ValueError, match="status"):
        tracking.end_run(run_id, "DONE")
    tracking.end_run(run_id, "FINISHED")

    run = MlflowClient().get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None


def test_epoch_logger_writes_the_validation_score_on_evaluation_epochs_only(mlflow_store):
    run_id = tracking.start_run(make_config(), {"prefect.flow_run_id": "flow-run-5"}, "prefect.flow_run_id")
    log_epoch = tracking.epoch_logger(run_id)
    for epoch in (1, 2, 3, 4):
        stats = epoch_stats(epoch)
        log_epoch(dataclasses.replace(stats, validation_score=0.5 + epoch / 10) if epoch % 2 == 0 else stats)

    history = MlflowClient().get_metric_history(run_id, "validation_score")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(2, 0.7), (4, pytest.approx(0.9))]


def test_metrics_tags_and_artifacts_land_on_the_run(mlflow_store, tmp_path):
    run_id = tracking.start_run(make_config())
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / "report.json").write_text('{"score": 0.9}')
    (report_dir / "report.html").write_text("<html></html>")
    contract = tmp_path / "contract.yaml"
    contract.write_text("columns: []\n")

    tracking.log_metrics(run_id, {"fidelity.score": 0.9, "rows": 200})
    tracking.set_tag(run_id, "synth.output", Path("out/x.parquet"))
    tracking.log_artifacts(run_id, report_dir, "report")
    tracking.log_artifacts(run_id, contract, "validation")
    with pytest.raises(FileNotFoundError):
        tracking.log_artifacts(run_id, tmp_path / "missing", "report")

    client = MlflowClient()
    run = client.get_run(run_id)
    assert run.data.metrics == {"fidelity.score": 0.9, "rows": 200.0}
    assert run.data.tags["synth.output"] == "out/x.parquet"
    assert sorted(f.path for f in client.list_artifacts(run_id, "report")) == [
        "report/report.html", "report/report.json"]
    assert [f.path for f in client.list_artifacts(run_id, "validation")] == ["validation/contract.yaml"]


def test_without_a_tracking_uri_runs_go_to_sqlite_in_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow.set_tracking_uri(None)
    (tmp_path / "mlruns" / "0").mkdir(parents=True)  # old file-store data makes MLflow pick ./mlruns
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    try:
        run_id = tracking.start_run(make_config())
        assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
        assert MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(run_id).info.run_id == run_id
    finally:
        mlflow.set_tracking_uri(None)


def test_logged_model_samples_rows_holds_no_pickle_and_loads_in_a_fresh_process(
        mlflow_store, saved_model, training_frame):
    run_id = tracking.start_run(make_config())
    uri = tracking.log_model(run_id, saved_model, registered_name="people-synthesizer")

    model = mlflow.pyfunc.load_model(uri)
    rows = model.predict(pd.DataFrame({"num_rows": [50]}))
    assert len(rows) == 50
    assert list(rows.columns) == list(training_frame.columns)
    assert set(rows["city"]) <= {"Oslo", "Lima", "Pune"}
    seeded = model.predict(pd.DataFrame({"num_rows": [20], "seed": [7]}))
    pd.testing.assert_frame_equal(seeded, load_model(saved_model).sample(20, seed=7))
    assert not seeded.equals(model.predict(pd.DataFrame({"num_rows": [20], "seed": [8]})))
    assert len(model.predict(pd.DataFrame({"num_rows": [3, 4], "seed": [1, 2]}))) == 7

    logged = MlflowClient().get_logged_model(uri.removeprefix("models:/"))
    assert logged.source_run_id == run_id
    assert logged.experiment_id == MlflowClient().get_run(run_id).info.experiment_id
    [version] = MlflowClient().search_model_versions("name = 'people-synthesizer'")
    assert (version.source, version.run_id) == (uri, run_id)
    assert logged.status == LoggedModelStatus.READY
    root = Path(logged.artifact_location.removeprefix("file://"))
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    weights = f"artifacts/{saved_model.name}/weights.safetensors"
    assert "python_model.pkl" not in files
    assert {"MLmodel", "mlflow_model.py", f"artifacts/{saved_model.name}/model.json", weights} <= files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".pt", ".pth", ".joblib"))]
    for name in files - {weights}:  # text only: a pickle (protocol 2+) opens with 0x80, never valid UTF-8
        (root / name).read_text(encoding="utf-8")
    with safe_open(root / weights, framework="pt") as tensors:
        assert list(tensors.keys())
    assert tracking.MODEL_ARTIFACT == mlflow_model.MODEL_ARTIFACT

    # A fresh process has only the installed packages, none of this test's imports.
    script = textwrap.dedent(f"""
        import mlflow, pandas as pd
        rows = mlflow.pyfunc.load_model({uri!r}).predict(pd.DataFrame({{"num_rows": [12], "seed": [3]}}))
        print(len(rows), ",".join(rows.columns))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_store})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["12", "age,income,city"]


def test_create_run_link_publishes_a_prefect_link_artifact(mlflow_store, prefect_api):
    from prefect import flow
    from prefect.artifacts import Artifact

    from flows import prefect_tasks

    run_id = tracking.start_run(make_config())

    @flow
    def refresh():
        prefect_tasks.create_run_link(run_id)

    refresh()
    artifact = Artifact.get("mlflow-run")
    assert artifact is not None and artifact.type == "markdown"
    assert f"]({mlflow_store})" in artifact.data
    assert run_id in artifact.description and "mlflow ui --backend-store-uri" in artifact.description


@pytest.mark.parametrize(("uri", "page"), [
    ("http://mlflow:5000/", "http://mlflow:5000/#/experiments/3/runs/abc"),
    ("https://mlflow.example.org", "https://mlflow.example.org/#/experiments/3/runs/abc"),
    ("sqlite:////srv/mlflow.db", "sqlite:////srv/mlflow.db"),
])
def test_run_page_links_the_ui_of_a_server_and_names_a_local_store(uri, page):
    assert tracking.run_page(uri, "3", "abc") == page


def test_a_logged_dgan_samples_sequences_with_given_attributes(mlflow_store, tmp_path):
    """num_rows counts sequences for a DGAN; conditions fix attribute values."""
    from synth.timeseries import DGAN, DGANConfig
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"unit": np.repeat(np.arange(30), 4), "step": np.tile(np.arange(4), 30),
                          "line": np.repeat(rng.choice(["a", "b"], 30), 4), "load": rng.normal(0, 1, 120)})
    config = DGANConfig(example_id="unit", time_column="step", attribute_columns=("line",), sample_len=2,
                        training=WGANConfig(epochs=1, batch_size=10, device="cpu"))
    directory = DGAN(config).fit(frame).save(tmp_path / "dgan")
    run_id = tracking.start_run(make_config())
    model = mlflow.pyfunc.load_model(tracking.log_model(run_id, directory))
    rows = model.predict(pd.DataFrame({"num_rows": [5], "seed": [1]}), params={"conditions": '{"line": "b"}'})
    assert list(rows.columns) == list(frame.columns)
    assert rows["unit"].nunique() == 5 and len(rows) == 20 and set(rows["line"]) == {"b"}


def test_conditions_as_json_text_in_params_or_as_a_mapping_per_row(mlflow_store, saved_model):
    run_id = tracking.start_run(make_config())
    model = mlflow.pyfunc.load_model(tracking.log_model(run_id, saved_model))

    as_text = model.predict(pd.DataFrame({"num_rows": [30]}), params={"conditions": '{"city": "Lima"}'})
    assert len(as_text) == 30 and set(as_text["city"]) == {"Lima"}
    per_row = model.predict(pd.DataFrame({"num_rows": [10, 20, 5], "seed": [1, 2, 3],
                                          "conditions": [{"city": "Pune"}, None, {"city": "Oslo"}]}),
                            params={"conditions": '{"city": "Lima"}'})  # a row's own mapping wins
    assert per_row["city"].tolist() == ["Pune"] * 10 + ["Lima"] * 20 + ["Oslo"] * 5
    mapped = model.predict(pd.DataFrame({"num_rows": [12], "seed": [4], "conditions": [{"city": "Oslo"}]}))
    pd.testing.assert_frame_equal(mapped, load_model(saved_model).sample(12, seed=4, conditions={"city": "Oslo"}))
    unconditioned = model.predict(pd.DataFrame({"num_rows": [200], "seed": [5]}))
    assert unconditioned["city"].nunique() > 1  # so the conditions above were not luck

    # MLflow checks params before predict: a mapping where text is declared never reaches the model
    with pytest.raises(mlflow.exceptions.MlflowException, match="Value must be a scalar"):
        model.predict(pd.DataFrame({"num_rows": [5]}), params={"conditions": {"city": "Lima"}})
    with pytest.raises(mlflow.exceptions.MlflowException, match="Expected data to be a dict"):
        model.predict(pd.DataFrame({"num_rows": [5], "conditions": ["Lima"]}))
    with pytest.raises(Exception, match="no such column"):
        model.predict(pd.DataFrame({"num_rows": [5], "conditions": [{"town": "Lima"}]}))


def _loaded_sampler(directory: Path) -> mlflow_model.SyntheticSampler:
    sampler = mlflow_model.SyntheticSampler()
    sampler.model = load_model(directory)
    return sampler


def test_the_sampler_itself_takes_a_mapping_in_params_too(saved_model):
    """Without MLflow's signature check (the class used directly) a mapping in params works as well."""
    sampler = _loaded_sampler(saved_model)
    rows = sampler.predict(None, pd.DataFrame({"num_rows": [8]}), params={"conditions": {"city": "Pune"}})
    assert set(rows["city"]) == {"Pune"}
    with pytest.raises(ValueError, match="params.conditions must be a mapping or a JSON object"):
        sampler.predict(None, pd.DataFrame({"num_rows": [8]}), params={"conditions": "Pune"})
    with pytest.raises(ValueError, match="the conditions column must be a mapping or a JSON object"):
        sampler.predict(None, pd.DataFrame({"num_rows": [8], "conditions": ['["Pune"]']}))


def _register(frame: pd.DataFrame, directory: Path, register_champion=tracking.register_champion) -> str:
    config = ACTGANConfig(embedding_dim=8, generator_dims=(16,), critic_dims=(16,), pac=5, max_modes=3,
                          training=WGANConfig(epochs=1, batch_size=50, device="cpu"))
    ACTGAN(config).fit(frame).save(directory)
    run_id = tracking.start_run(make_config())
    return register_champion(run_id, tracking.log_model(run_id, directory), "people")


def test_a_champion_trained_on_other_columns_says_which_in_the_run_log(
        mlflow_store, prefect_api, training_frame, tmp_path, caplog):
    from prefect import flow

    from flows.prefect_tasks import register_champion

    @flow
    def register(frame: pd.DataFrame, directory: Path) -> str:  # as the refresh flow registers: a task
        return _register(frame, directory, register_champion)

    with caplog.at_level("WARNING"):
        assert register(training_frame, tmp_path / "first") == "1"
        assert register(training_frame.sample(frac=1.0, random_state=1), tmp_path / "same") == "2"
    assert not [r for r in caplog.records if "columns" in r.getMessage()]  # the same columns: nothing to say

    changed = training_frame.rename(columns={"city": "town"}).assign(age=training_frame["age"].astype(float))
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert register(changed, tmp_path / "renamed") == "3"
    [record] = [r for r in caplog.records if "columns" in r.getMessage()]
    assert (record.levelname, record.name) == ("WARNING", "prefect.task_runs")  # the task run's log
    assert record.getMessage() == (
        "model version 3 of people was trained on other columns than the champion it replaces (version 2): "
        "added town (large_string); removed city (large_string); retyped age (int64 -> double) "
        "(a renamed column is one removed and one added)")
    client = MlflowClient()
    assert client.get_model_version("people", "3").tags["synth.columns_changed"] == record.getMessage()
    assert "synth.columns_changed" not in client.get_model_version("people", "2").tags
    assert int(client.get_model_version_by_alias("people", "champion").version) == 3


def test_columns_change_names_what_was_added_removed_and_retyped():
    before = {"a": "int64", "b": "string", "c": "double"}
    assert tracking.columns_change(before, dict(before)) == ""
    assert tracking.columns_change(before, {"a": "int64", "b": "large_string", "c": "double", "d": "bool"}) == (
        "added d (bool); retyped b (string -> large_string)")
    assert tracking.columns_change(before, {"a": "int64"}) == "removed b (string), c (double)"
    assert tracking.columns_change(None, before) == ""  # an unreadable side: nothing to compare


def _model_files(location: str) -> list[Path]:
    folder = Path(location.removeprefix("file://"))
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_keep_model_versions_prunes_the_oldest_with_their_files_but_never_the_champion_or_the_runs(
        mlflow_store, saved_model):
    """Five nights with keep 2: versions 1–3 go, with their logged model files and their runs' report files;
    their runs stay, tagged. A champion older than the newest two (pointed back by hand) is kept as well."""
    client = MlflowClient()
    registered = []
    for night in range(5):
        run_id = tracking.start_run(make_config())
        (saved_model.parent / "report").mkdir(exist_ok=True)
        (saved_model.parent / "report" / "report.json").write_text("{}")
        tracking.log_artifacts(run_id, saved_model.parent / "report", "report")
        uri = tracking.log_model(run_id, saved_model)
        registered.append((run_id, uri, client.get_logged_model(uri.removeprefix("models:/")).artifact_location))
        assert tracking.register_champion(run_id, uri, "people", keep_versions=2) == str(night + 1)
        tracking.end_run(run_id, outcome="published")
    assert sorted(int(v.version) for v in client.search_model_versions("name = 'people'")) == [4, 5]
    assert str(client.get_model_version_by_alias("people", "champion").version) == "5"
    for run_id, uri, location in registered[:3]:
        assert _model_files(location) == [] and client.list_artifacts(run_id) == []  # the bulk of a night is gone
        run = client.get_run(run_id)  # ... its run, params and tags stay
        assert run.info.status == "FINISHED" and run.data.params and "tracking.keep_model_versions" in run.data.tags[
            "synth.pruned"]
    for run_id, uri, location in registered[3:]:
        assert _model_files(location) and [a.path for a in client.list_artifacts(run_id)] == ["report"]
        assert "synth.pruned" not in client.get_run(run_id).data.tags
    mlflow.pyfunc.load_model("models:/people/4")

    client.set_registered_model_alias("people", "champion", "4")  # rolled back by hand
    run_id = tracking.start_run(make_config())
    tracking.register_champion(run_id, tracking.log_model(run_id, saved_model), "people")  # no pruning asked
    client.set_registered_model_alias("people", "champion", "4")
    assert tracking.prune_model_versions("people", 1) == ["5"]
    assert sorted(int(v.version) for v in client.search_model_versions("name = 'people'")) == [4, 6]
    with pytest.raises(ValueError, match="keep >= 1"):
        tracking.prune_model_versions("people", 0)


def test_retention_settings_are_not_part_of_the_config_hash():
    base = make_config()
    kept = RefreshConfig.model_validate({**base.model_dump(), "output": {**base.output.model_dump(), "keep_versions": 7},
                                         "tracking": {"keep_model_versions": 7}})
    assert kept.config_hash() == base.config_hash()
    assert kept.output.keep_versions == 7 and kept.tracking.keep_model_versions == 7
