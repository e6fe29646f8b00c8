"""Bad input ends with a non-zero exit, a message naming the cause, and the previous output intact."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main
from tests.support.pipeline import mixed_table, write_config

PREVIOUS = b"previous published output"


def _with_column(table: pa.Table, name: str, values) -> pa.Table:
    return table.append_column(name, pa.array(values))


def _source(tmp_path, case: str) -> str:
    path = tmp_path / "in.parquet"
    table = mixed_table(50)
    if case == "missing file":
        return str(tmp_path / "nope.parquet")
    if case == "not parquet":
        path.write_text("carat,price\n1,2\n")
        return str(path)
    if case == "zero rows":
        table = table.slice(0, 0)
    if case == "all-null column":
        table = _with_column(table, "empty", pa.nulls(50, pa.float64()))
    if case == "infinite value":
        values = np.ones(50)
        values[7] = -np.inf
        table = _with_column(table, "ratio", values)
    if case == "nested column":
        table = _with_column(table, "tags", [["a"]] * 50)
    pq.write_table(table, path)
    return str(path)


@pytest.mark.parametrize("case, expected", [
    ("missing file", "no such file"),
    ("not parquet", "is not a Parquet file"),
    ("zero rows", "zero rows"),
    ("all-null column", "'empty'"),
    ("infinite value", "'ratio'"),
    ("nested column", "'tags'"),
])
def test_bad_data(case, expected, tmp_path, prefect_api, mlflow_store, capsys):
    output = tmp_path / "out.parquet"
    output.write_bytes(PREVIOUS)
    assert main(["run", write_config(tmp_path, _source(tmp_path, case), output)]) != 0
    err = capsys.readouterr().err
    assert expected in err, err
    assert output.read_bytes() == PREVIOUS


@pytest.mark.parametrize("overrides, expected", [
    (["--set", "model.epochz=3"], "model.epochz: unknown key"),
    (["--set", "sourc.path=x"], "sourc: unknown key"),
    (["--set", "model.kind=gan"], "model.kind"),
    (["--set", "source.columns=[carat, nope]"], "'nope'"),
    (["--set", "model.epochs=-1"], "model.epochs"),
    (["--set", "model.training.batch_size=25"], "pac"),
    (["--set", "model.training.checkpoint_every=1", "--set", "model.training.checkpoint_dir=/dev/null/ckpt"],
     "model.training.checkpoint_dir /dev/null/ckpt: cannot be written, '/dev/null' is a file"),  # before training
])
def test_bad_config(overrides, expected, tmp_path, prefect_api, mlflow_store, capsys):
    source = tmp_path / "in.parquet"
    pq.write_table(mixed_table(50), source)
    output = tmp_path / "out.parquet"
    output.write_bytes(PREVIOUS)
    assert main(["run", write_config(tmp_path, source, output), *overrides]) != 0
    err = capsys.readouterr().err
    assert expected in err, err
    assert output.read_bytes() == PREVIOUS


def test_missing_config_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "absent.yaml")]) != 0
    assert "absent.yaml" in capsys.readouterr().err


def test_example_configs_parse():
    from tasks.config import load_config

    weather = load_config("configs/weather.yaml")
    assert weather.model.kind == "dgan" and weather.model.sample_len == 4
    assert load_config("configs/diamonds.yaml").model.kind == "actgan"
    assert yaml.safe_load(open("configs/weather.yaml"))["model"]["attribute_columns"] == ["origin", "month"]
