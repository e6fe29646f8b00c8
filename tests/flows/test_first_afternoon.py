"""What a new user hits first, through the CLI on files written the way users write them: pandas' index
columns, the mode of published files, and an output that would overwrite its own source."""
from __future__ import annotations

import json
import os
import stat
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tasks.config import parse_config
from synth.errors import ConfigError
from tasks.preflight import check_not_inside_source
from tests.support.pipeline import mixed_table, write_config


def _frame(n: int = 300) -> pd.DataFrame:
    frame = mixed_table(n).to_pandas()
    frame["cut"] = frame["cut"].astype(str)
    return frame


# ---------------------------------------------------------------- pandas' index columns


@pytest.mark.parametrize("how", ["filtered", "range", "named"])
def test_pandas_written_files_refresh_and_report(how, tmp_path, prefect_api, mlflow_store, capsys):
    frame = _frame()
    source = tmp_path / "in.parquet"
    if how == "filtered":  # an irregular index after a filter: stored as the column __index_level_0__
        frame[frame["carat"] > frame["carat"].median()].to_parquet(source)
        assert "__index_level_0__" in pq.read_schema(source).names
    elif how == "range":  # a RangeIndex: stored as metadata only
        frame.to_parquet(source)
    else:  # a named index the user set: kept as data by default
        frame.set_index("color").to_parquet(source)
    output = tmp_path / "out" / "synth.parquet"
    assert main(["run", write_config(tmp_path, source, output), "--set", "model.epochs=1"]) == 0
    synthetic = pq.read_table(output)
    assert "__index_level_0__" not in synthetic.column_names
    assert sorted(synthetic.column_names) == sorted(frame.columns)  # "named": color is back as a column

    report_dir = tmp_path / "report"
    assert main(["report", "--real", str(source), "--synthetic", str(output), "--out", str(report_dir)]) == 0
    report = json.loads((report_dir / "report.json").read_text())
    assert "__index_level_0__" not in [c["name"] for c in report["columns"]]


def test_pandas_index_kept_or_dropped_as_configured(tmp_path, prefect_api, mlflow_store):
    frame = _frame()
    source = tmp_path / "in.parquet"
    frame[frame["carat"] > frame["carat"].median()].to_parquet(source)
    kept, dropped = tmp_path / "kept.parquet", tmp_path / "dropped.parquet"
    config = write_config(tmp_path, source, kept)
    assert main(["run", config, "--set", "model.epochs=1", "--set", "source.pandas_index=keep"]) == 0
    assert "__index_level_0__" in pq.read_table(kept).column_names

    named = tmp_path / "named.parquet"
    frame.set_index("color").to_parquet(named)
    config = write_config(tmp_path, named, dropped)
    assert main(["run", config, "--set", "model.epochs=1", "--set", "source.pandas_index=drop"]) == 0
    assert "color" not in pq.read_table(dropped).column_names


def test_the_same_data_with_and_without_the_index_has_the_same_hash(tmp_path, prefect_api, mlflow_store, capsys):
    """A filtered frame written with its index, then rewritten with index=False: nothing to do the second time."""
    frame = _frame()
    rows = frame[frame["carat"] > frame["carat"].median()]
    source = tmp_path / "in.parquet"
    rows.to_parquet(source)
    output = tmp_path / "out.parquet"
    config = write_config(tmp_path, source, output)
    assert main(["run", config, "--set", "model.epochs=1"]) == 0
    published = output.stat().st_mtime_ns
    rows.to_parquet(source, index=False)
    capsys.readouterr()
    assert main(["run", config, "--set", "model.epochs=1"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert output.stat().st_mtime_ns == published


# ---------------------------------------------------------------- the mode of published files


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_published_files_get_the_umask_mode_or_the_configured_one(tmp_path, prefect_api, mlflow_store):
    source = tmp_path / "in.parquet"
    pq.write_table(mixed_table(300), source)
    output = tmp_path / "out" / "synth.parquet"
    published = [output, tmp_path / "out" / "synth.contract.yaml", tmp_path / "out" / "synth.report" / "report.json",
                 tmp_path / "out" / "synth.report" / "report.html"]
    previous = os.umask(0o022)
    try:
        assert main(["run", write_config(tmp_path, source, output), "--set", "model.epochs=1"]) == 0
        assert {str(p): oct(_mode(p)) for p in published} == {str(p): "0o644" for p in published}
        os.umask(0o027)  # a stricter umask is honoured too
        assert main(["run", write_config(tmp_path, source, output), "--set", "model.epochs=2"]) == 0
        assert oct(_mode(output)) == "0o640"
        assert main(["run", write_config(tmp_path, source, output), "--set", "model.epochs=3",
                     "--set", "output.file_mode='0604'"]) == 0
        assert {str(p): oct(_mode(p)) for p in published} == {str(p): "0o604" for p in published}
    finally:
        os.umask(previous)


def test_a_bad_file_mode_is_refused(tmp_path, capsys):
    source = tmp_path / "in.parquet"
    pq.write_table(mixed_table(50), source)
    assert main(["run", write_config(tmp_path, source, tmp_path / "o.parquet"), "--set", "output.file_mode=rw"]) != 0
    assert "output.file_mode" in capsys.readouterr().err


# ---------------------------------------------------------------- an output that would overwrite its source


@pytest.mark.parametrize("output", ["same", "inside-dir", "report-inside", "same-via-link"])
def test_an_output_over_the_source_is_refused_and_the_source_kept(output, tmp_path, capsys):
    source_dir = tmp_path / "data"
    source_dir.mkdir()
    file = source_dir / "part-0.parquet"
    pq.write_table(mixed_table(100), file)
    before = file.read_bytes()
    source, extra = str(file), {}
    if output == "same":
        target = str(file)
    elif output == "inside-dir":
        source, target = str(source_dir), str(source_dir / "synth.parquet")
    elif output == "report-inside":
        source, target = str(source_dir), str(tmp_path / "synth.parquet")
        extra = {"output.report_dir": str(source_dir / "report")}
    else:
        (tmp_path / "link").symlink_to(source_dir)
        target = str(tmp_path / "link" / "part-0.parquet")
    config = write_config(tmp_path, source, target)
    args = ["run", config] + [f"--set={k}={v}" for k, v in extra.items()]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "source" in err and ("is the source itself" in err or "lies inside the source" in err), err
    assert file.read_bytes() == before
    assert sorted(p.name for p in source_dir.iterdir()) == ["part-0.parquet"]  # nothing written beside it


@pytest.mark.parametrize("source, output, refused", [
    ("s3://bucket/data/x.parquet", "s3://bucket/data/x.parquet", True),
    ("s3://bucket/data/", "s3://bucket/data/synth.parquet", True),
    ("s3://bucket/out/x", "s3://bucket/out/x.parquet", True),  # an s3 output publishes under out/x/
    ("s3://bucket/data", "s3://bucket/data-synth/x.parquet", False),  # a sibling prefix, not inside
    ("s3://bucket/data/x.parquet", "s3://other/data/x.parquet", False),
])
def test_s3_outputs_are_checked_against_the_source_too(source, output, refused):
    config = parse_config({"source": {"path": source}, "model": {"kind": "actgan"}, "output": {"path": output}})
    if refused:
        with pytest.raises(ConfigError, match="source"):
            check_not_inside_source(config)
    else:
        check_not_inside_source(config)


def test_checkpoints_inside_the_source_are_refused(tmp_path):
    config = SimpleNamespace(
        source=SimpleNamespace(path=str(tmp_path)),
        output=SimpleNamespace(path=str(tmp_path.parent / "o.parquet"), report_dir=None),
        validation=SimpleNamespace(contract=None),
        model=SimpleNamespace(training=SimpleNamespace(checkpoint_dir=str(tmp_path / "ckpt"))))
    with pytest.raises(ConfigError, match="model.training.checkpoint_dir"):
        check_not_inside_source(config)


# ---------------------------------------------------------------- large requests are visible


def test_sampling_logs_an_estimate_first_then_progress_with_an_eta(tmp_path, prefect_api, mlflow_store, monkeypatch):
    import logging
    import re

    import tasks.sample

    monkeypatch.setattr(tasks.sample, "LOG_EVERY_SECONDS", 0.0)  # every chunk, instead of every 30 s
    source = tmp_path / "in.parquet"
    pq.write_table(mixed_table(300), source)
    output = tmp_path / "big.parquet"
    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("prefect.task_runs")  # the run log, as the Prefect UI shows it
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        assert main(["run", write_config(tmp_path, source, output), "--set", "model.epochs=1",
                     "--set", "sample.num_rows=40000", "--set", "sample.chunk_rows=4000"]) == 0
    finally:
        logger.removeHandler(handler)
    text = "\n".join(records)
    estimate = re.search(r"Sampling 40,000 synthetic rows: about (.+?) and ([\d.]+) (B|kB|MB) on disk", text)
    assert estimate, text
    assert text.index("Sampling 40,000") < text.index("Sampled 4,000 of 40,000 rows (10%), ETA")
    expected = float(estimate.group(2)) * {"B": 1, "kB": 1e3, "MB": 1e6}[estimate.group(3)]
    actual = output.stat().st_size
    assert actual / 3 < expected < actual * 3, (expected, actual)  # an estimate, not a guess


# ---------------------------------------------------------------- say what was tried


def test_a_missing_relative_path_names_the_absolute_path_and_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    config = tmp_path / "configs" / "run.yaml"
    config.write_text("source: {path: data/missing.parquet}\nmodel: {kind: actgan}\noutput: {path: out/x.parquet}\n")
    assert main(["run", "configs/run.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err  # one line
    assert f"looked for {tmp_path / 'data' / 'missing.parquet'}" in err
    assert f"relative to the working directory {tmp_path}" in err and "not to the config file" in err


def test_setting_one_dgan_training_key_keeps_the_other_dgan_defaults():
    """`--set model.training.device=cpu` on a dgan config used to turn batch 1,024 / lr 1e-3 into ACTGAN's 500 / 2e-4."""
    base = {"source": {"path": "x.parquet"}, "output": {"path": "o.parquet"},
            "model": {"kind": "dgan", "example_id": "id", "time_column": "t"}}
    untouched = parse_config(base).model.training
    one_key = parse_config({**base, "model": {**base["model"], "training": {"device": "cpu"}}}).model.training
    assert (one_key.batch_size, one_key.generator_lr, one_key.critic_lr) == (256, 1e-3, 1e-3)
    assert one_key.model_dump(exclude={"device"}) == untouched.model_dump(exclude={"device"})
    chosen = parse_config({**base, "model": {**base["model"], "training": {"batch_size": 64}}}).model.training
    assert (chosen.batch_size, chosen.generator_lr) == (64, 1e-3)
    actgan = parse_config({**base, "model": {"kind": "actgan", "training": {"device": "cpu"}}}).model.training
    assert (actgan.batch_size, actgan.generator_lr) == (500, 2e-4)
