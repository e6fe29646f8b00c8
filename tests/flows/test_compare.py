"""`prefect-synth compare`: real refresh runs in a real MLflow store, read back and listed."""
from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from flows.cli import main
from tasks.config import RefreshConfig
from synth.storage import table_fingerprint
from tasks import tracking
from tests.support.pipeline import RELATIVE_OFF, TINY_MODEL, mixed_table, write_config
from tests.support.storage import read_all

LENIENT = {"gate": {"min_overall": 0.05, "min_column_shapes": 0.05, "min_column_pairs": 0.05,
                    "max_exact_copy_rate": 0.5, "min_dcr_holdout_share": 0.0, **RELATIVE_OFF}, "bootstrap": 0}
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


def cells(header: str, line: str) -> dict[str, str]:
    """A table line by column title; cells are two or more spaces apart (a trailing empty one is "")."""
    titles, values = (re.split(r"\s{2,}", text.strip()) for text in (header, line))
    return dict(zip(titles, values + [""] * (len(titles) - len(values))))


def test_compare_lists_the_last_runs_newest_first_with_scores_gate_and_champion(
        tmp_path, source, prefect_api, mlflow_store, capsys):
    output, model = tmp_path / "gems.parquet", dict(TINY_MODEL, epochs=1)
    assert main(["run", write_config(tmp_path, source, output, model=model, report=LENIENT)]) == 0
    assert main(["run", write_config(tmp_path, source, output, model=model, report=STRICT)]) == 1
    client = MlflowClient()
    experiment = client.get_experiment_by_name("gems")
    failed, passed = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])

    header, failed_line, passed_line, footer = compare(capsys, "gems", "--last", "5")
    assert re.split(r"\s{2,}", header.strip()) == ["run", "started (UTC)", "outcome", "kind", "epochs", "data",
                                                   "config", "overall", "shapes", "pairs", "detection",
                                                   "holdout share", "gate", "version", "failure"]
    assert failed_line.startswith(f"  {failed.info.run_name} ")
    assert passed_line.startswith(f"* {passed.info.run_name} ")  # the champion
    failed_cells, passed_cells = cells(header, failed_line), cells(header, passed_line)
    assert [failed_cells[k] for k in ("outcome", "kind", "epochs", "gate", "version")] == [
        "gate failed", "actgan", "1", "failed", "-"]  # not registered
    assert [passed_cells[k] for k in ("outcome", "kind", "epochs", "gate", "version", "failure")] == [
        "published", "actgan", "1", "passed", "1", ""]
    assert failed_cells["failure"].startswith("quality gate failed, nothing published (overall ")
    assert failed_cells["failure"].endswith("…") and len(failed_cells["failure"]) <= 70  # shortened
    assert passed_cells["overall"] == f"{passed.data.metrics['report.overall']:.3f}"
    assert failed_cells["overall"] == f"{failed.data.metrics['report.overall']:.3f}"
    share = passed.data.metrics["report.privacy.dcr_holdout_share"]  # the gate's number, under the gate's name
    assert passed_cells["holdout share"] == f"{share:.3f}"
    assert footer == "* champion: models:/gems@champion (version 1)"

    [_, only, _] = compare(capsys, "gems", "--last", "1")
    assert only.split() == failed_line.split()

    listed = json.loads("\n".join(compare(capsys, "gems", "--json")))
    assert listed["champion_version"] == 1
    assert [(r["run_id"], r["gate"], r["champion"], r["outcome"], r["status"]) for r in listed["runs"]] == [
        (failed.info.run_id, "failed", False, "gate", "FAILED"), (passed.info.run_id, "passed", True, "published",
                                                                  "FINISHED")]
    newest = listed["runs"][0]
    assert newest["failure"] == failed.data.tags["synth.failure"]  # in full
    assert "< 0.999" in newest["failure"] and "report.html" in newest["failure"]
    assert listed["runs"][1]["failure"] is None
    assert newest["run_name"].startswith("gems-actgan-") and newest["epochs"] == 1
    assert newest["scores"]["overall"] == failed.data.metrics["report.overall"]
    assert listed["runs"][1]["scores"]["privacy.dcr_holdout_share"] == share
    assert newest["config_hash"] == failed.data.tags["synth.config_hash"]
    assert {r["data_hash"] for r in listed["runs"]} == {table_fingerprint(read_all(source))}
    assert failed.data.tags["prefect.flow_run_name"] and failed.data.tags["synth.data_rows"] == "400"


def test_a_run_that_failed_before_the_gate_has_no_scores_gate_or_version(mlflow_store, capsys):
    config = RefreshConfig.model_validate({"source": {"path": "in.parquet"}, "model": {"kind": "dgan",
                                           "example_id": "id", "time_column": "t"},
                                           "output": {"path": "out/series.parquet"}})
    tracking.end_run(tracking.start_run(config), "FAILED")

    header, line, footer = compare(capsys, "series")
    assert header.split() == ["run", "started", "(UTC)", "outcome", "kind", "epochs", "data", "config", "gate",
                              "version"]  # no score or failure columns: no run has one
    assert line.split()[3:] == ["failed", "dgan", str(config.model.epochs), "-", config.config_hash(), "-", "-"]  # no outcome tag
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


def test_each_outcome_reads_as_such_with_the_failure_that_stopped_the_run(
        tmp_path, source, prefect_api, mlflow_store, capsys):
    """Published, skipped, gate failure and validation failure, each written by the real flow."""
    output, model = tmp_path / "gems.parquet", dict(TINY_MODEL, epochs=1)
    lenient = write_config(tmp_path, source, output, model=model, report=LENIENT)
    assert main(["run", lenient]) == 0  # published
    assert main(["run", lenient]) == 0  # the same input and config: skipped
    assert main(["run", write_config(tmp_path, source, output, model=model, report=STRICT)]) == 1  # gate
    table = pq.read_table(source)
    retyped = table.set_column(table.schema.get_field_index("price"), "price", table["price"].cast("float64"))
    pq.write_table(retyped, source)
    assert main(["run", write_config(tmp_path, source, output, model=model, report=LENIENT)]) == 1  # validation

    header, *lines, footer = compare(capsys, "gems")
    rows = [cells(header, line) for line in lines]
    assert [row["outcome"] for row in rows] == ["validation failed", "gate failed", "skipped", "published"]
    validation, gate, skipped, published = rows
    assert validation["failure"].startswith("the data breaks its schema contract (")
    assert gate["failure"].startswith("quality gate failed, nothing published (overall ")
    assert skipped["failure"] == published["failure"] == ""
    assert [row["gate"] for row in rows] == ["-", "failed", "-", "passed"]
    assert [row["overall"] == "-" for row in rows] == [True, False, True, False]  # scored only when trained
    assert [row["version"] for row in rows] == ["-", "-", "-", "1"]
    assert footer == "* champion: models:/gems@champion (version 1)"

    runs = json.loads("\n".join(compare(capsys, "gems", "--json")))["runs"]
    assert [(r["outcome"], r["status"]) for r in runs] == [
        ("validation", "FAILED"), ("gate", "FAILED"), ("skipped", "FINISHED"), ("published", "FINISHED")]
    client = MlflowClient()
    assert [r["failure"] for r in runs] == [client.get_run(r["run_id"]).data.tags.get("synth.failure")
                                            for r in runs]
    assert "contract.yaml" in runs[0]["failure"] and "1 failure(s)" in runs[0]["failure"]
    assert "overall " in runs[1]["failure"] and "< 0.999" in runs[1]["failure"]
    assert runs[2]["failure"] is None and runs[3]["failure"] is None


@pytest.mark.parametrize("status, tags, outcome", [
    ("FINISHED", {"synth.skipped": "unchanged"}, "skipped"),
    ("FAILED", {"synth.quality_gate": "failed"}, "gate failed"),
    ("FINISHED", {"synth.quality_gate": "passed"}, "published"),
    ("FAILED", {}, "failed"),
    ("KILLED", {}, "interrupted"),
])
def test_runs_logged_before_the_outcome_tag_read_from_their_older_tags(mlflow_store, capsys, status, tags,
                                                                      outcome):
    config = RefreshConfig.model_validate({"source": {"path": "in.parquet"}, "model": {"kind": "actgan"},
                                           "output": {"path": "out/gems.parquet"}})
    run_id = tracking.start_run(config)
    for key, value in tags.items():
        MlflowClient().set_tag(run_id, key, value)
    MlflowClient().set_terminated(run_id, status)

    header, line, _ = compare(capsys, "gems")
    assert cells(header, line)["outcome"] == outcome
    assert "failure" not in header  # no run has a message


def test_a_newer_outcome_tag_wins_and_an_error_shows_its_message(mlflow_store, capsys):
    config = RefreshConfig.model_validate({"source": {"path": "in.parquet"}, "model": {"kind": "actgan"},
                                           "output": {"path": "out/gems.parquet"}})
    run_id = tracking.start_run(config)
    MlflowClient().set_tag(run_id, "synth.quality_gate", "passed")
    tracking.end_run(run_id, "FAILED", "error", "OSError: [Errno 28] No space left on device")

    header, line, _ = compare(capsys, "gems")
    assert cells(header, line)["outcome"] == "error"
    assert cells(header, line)["failure"] == "OSError: [Errno 28] No space left on device"


def test_a_run_from_before_the_rename_shows_its_holdout_share_not_its_complement(mlflow_store, capsys):
    config = RefreshConfig.model_validate({"source": {"path": "in.parquet"}, "model": {"kind": "actgan"},
                                           "output": {"path": "out/gems.parquet"}})
    run_id = tracking.start_run(config)
    MlflowClient().log_metric(run_id, "report.privacy.dcr_share_closer_to_train", 0.25)
    tracking.end_run(run_id, "FINISHED")

    header, line, _ = compare(capsys, "gems")
    assert cells(header, line)["holdout share"] == "0.750"
    [run] = json.loads("\n".join(compare(capsys, "gems", "--json")))["runs"]
    assert run["scores"] == {"privacy.dcr_holdout_share": 0.75}
