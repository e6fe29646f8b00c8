"""`prefect-synth compare`: real refresh runs in a real MLflow store, read back and listed."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from flows.cli import main
from flows.config import RefreshConfig
from synth.io import read_table, table_fingerprint
from tasks import tracking
from tests.flows.test_refresh_flow import TINY_MODEL, mixed_table, write_config

LENIENT = {"gate": {"min_overall": 0.05, "min_column_shapes": 0.05, "min_column_pairs": 0.05,
                    "max_exact_copy_rate": 0.5, "min_dcr_holdout_share": 0.0}, "bootstrap": 0}
STRICT = {"gate": {"min_overall": 0.999}, "bootstrap": 0}


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(mixed_table(), path)
    return path


def compare(capsys, *args: str) -> list[str]:
    capsys.readouterr()
    assert main(["compare", *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_compare_lists_the_last_runs_newest_first_with_scores_gate_and_champion(
        tmp_path, source, prefect_api, mlflow_store, capsys):
    output, model = tmp_path / "gems.parquet", dict(TINY_MODEL, epochs=1)
    assert main(["run", write_config(tmp_path, source, output, model=model, report=LENIENT)]) == 0
    assert main(["run", write_config(tmp_path, source, output, model=model, report=STRICT)]) == 1
    client = MlflowClient()
    experiment = client.get_experiment_by_name("gems")
    failed, passed = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])

    header, failed_line, passed_line, footer = compare(capsys, "gems", "--last", "5")
    assert header.split() == ["run", "started", "(UTC)", "status", "kind", "epochs", "data", "config", "overall",
                              "shapes", "pairs", "detection", "gate", "version"]
    assert failed_line.startswith(f"  {failed.info.run_name} ")
    assert passed_line.startswith(f"* {passed.info.run_name} ")  # the champion
    assert failed_line.split()[3:6] == ["FAILED", "actgan", "1"]
    assert passed_line.split()[4:7] == ["FINISHED", "actgan", "1"]
    assert failed_line.split()[-2:] == ["failed", "-"]  # not registered
    assert passed_line.split()[-2:] == ["passed", "1"]
    assert f"{passed.data.metrics['report.overall']:.3f}" in passed_line.split()
    assert f"{failed.data.metrics['report.overall']:.3f}" in failed_line.split()
    assert footer == "* champion: models:/gems@champion (version 1)"

    [_, only, _] = compare(capsys, "gems", "--last", "1")
    assert only.split() == failed_line.split()

    listed = json.loads("\n".join(compare(capsys, "gems", "--json")))
    assert listed["champion_version"] == 1
    assert [(r["run_id"], r["gate"], r["champion"]) for r in listed["runs"]] == [
        (failed.info.run_id, "failed", False), (passed.info.run_id, "passed", True)]
    newest = listed["runs"][0]
    assert newest["run_name"].startswith("gems-actgan-") and newest["epochs"] == 1
    assert newest["scores"]["overall"] == failed.data.metrics["report.overall"]
    assert newest["config_hash"] == failed.data.tags["synth.config_hash"]
    assert {r["data_hash"] for r in listed["runs"]} == {table_fingerprint(read_table(source))}
    assert failed.data.tags["prefect.flow_run_name"] and failed.data.tags["synth.data_rows"] == "400"


def test_a_run_that_failed_before_the_gate_has_no_scores_gate_or_version(mlflow_store, capsys):
    config = RefreshConfig.model_validate({"source": {"path": "in.parquet"}, "model": {"kind": "dgan",
                                           "example_id": "id", "time_column": "t"},
                                           "output": {"path": "out/series.parquet"}})
    tracking.end_run.fn(tracking.start_run.fn(config, None, None, None), "FAILED")

    header, line, footer = compare(capsys, "series")
    assert header.split() == ["run", "started", "(UTC)", "status", "kind", "epochs", "data", "config", "gate",
                              "version"]  # no score columns: no run has one
    assert line.split()[3:] == ["FAILED", "dgan", "400", "-", config.config_hash(), "-", "-"]
    assert footer == "no champion yet: no run has passed the quality gate"


def test_an_unknown_dataset_exits_2_naming_it_and_the_experiments_there_are(mlflow_store, capsys):
    MlflowClient().create_experiment("gems")
    assert main(["compare", "gmes"]) == 2
    err = capsys.readouterr().err
    assert "no MLflow experiment named 'gmes'" in err and "experiments: Default, gems" in err


def test_a_missing_store_exits_2_and_is_not_created(tmp_path, capsys):
    store = tmp_path / "nowhere.db"
    assert main(["compare", "gems", "--tracking-uri", f"sqlite:///{store}"]) == 2
    assert f"no MLflow store at {store}" in capsys.readouterr().err
    assert not store.exists()


def test_last_must_be_a_positive_count(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["compare", "gems", "--last", "0"])
    assert exit.value.code == 2
    assert "--last" in capsys.readouterr().err
