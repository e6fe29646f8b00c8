"""The point-mass settings from the run config reach both models (seen in `prefect-synth check`'s plan)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.support.pipeline import write_config


@pytest.fixture
def zero_inflated(tmp_path):
    rng = np.random.default_rng(0)
    amount = np.where(rng.random(600) < 0.4, 0.0, rng.gamma(2.0, 10.0, 600))
    path = tmp_path / "amounts.parquet"
    pq.write_table(pa.table({"amount": amount, "kind": rng.choice(["a", "b"], 600)}), path)
    return path


def _plan(tmp_path, source, capsys, *overrides: str) -> str:
    config = write_config(tmp_path, source, tmp_path / "out.parquet")
    args = ["check", config, "--set", "model.training.batch_size=100"]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 0
    return capsys.readouterr().out


def test_point_mass_settings_reach_the_model(tmp_path, zero_inflated, capsys):
    assert "1 exact point mass" in _plan(tmp_path, zero_inflated, capsys)
    assert "point mass" not in _plan(tmp_path, zero_inflated, capsys, "model.max_point_masses=0")
    assert "point mass" not in _plan(tmp_path, zero_inflated, capsys, "model.point_mass_min_share=0.5")


def test_a_bad_point_mass_share_is_refused_naming_the_key(tmp_path, zero_inflated, capsys):
    config = write_config(tmp_path, zero_inflated, tmp_path / "out.parquet")
    assert main(["check", config, "--set", "model.point_mass_min_share=0"]) == 2
    assert "model.point_mass_min_share" in capsys.readouterr().err
