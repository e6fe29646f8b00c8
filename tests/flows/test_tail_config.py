"""The long-tail settings from the run config reach the model (seen in `prefect-synth check`'s plan), and a
forced transform a column cannot take is refused naming `model.column_transforms.<column>`."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.support.pipeline import write_config


@pytest.fixture
def skewed(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "prices.parquet"
    pq.write_table(pa.table({"price": np.round(rng.lognormal(6, 1, 600), 2), "delta": rng.normal(0, 3, 600),
                             "kind": rng.choice(["a", "b"], 600)}), path)
    return path


def _check(tmp_path, source, capsys, *overrides: str) -> tuple[int, str, str]:
    config = write_config(tmp_path, source, tmp_path / "out.parquet")
    args = ["check", config, "--set", "model.training.batch_size=100"]
    for item in overrides:
        args += ["--set", item]
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _encoding(plan: str, column: str) -> str:
    return next(line for line in plan.splitlines() if line.strip().startswith(column + " "))


def test_tail_settings_reach_the_model(tmp_path, skewed, capsys):
    code, plan, _ = _check(tmp_path, skewed, capsys)
    assert code == 0 and "log (skew " in _encoding(plan, "price") and "skew" not in _encoding(plan, "delta")
    _, plan, _ = _check(tmp_path, skewed, capsys, "model.tail_transform=none",
                        "model.column_transforms={delta: quantile}")
    assert "quantile (skew " in _encoding(plan, "delta") and "skew" not in _encoding(plan, "price")


@pytest.mark.parametrize("setting, message", [
    ("{delta: log}", "model.column_transforms.delta=log: column 'delta' cannot take it"),  # negatives
    ("{kind: log}", "model.column_transforms.kind: 'kind' is a discrete column"),
    ("{nope: log}", "model.column_transforms 'nope': not a column of the input"),
    ("{price: lg}", "model.column_transforms.price"),
])
def test_a_transform_a_column_cannot_take_is_refused_naming_the_key(tmp_path, skewed, capsys, setting, message):
    code, _, err = _check(tmp_path, skewed, capsys, f"model.column_transforms={setting}")
    assert code == 2 and message in err
