"""`prefect-synth report` on Parquet files: both files written, gate exit codes, bad input refused whole."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pa.table({"x": x, "y": 2 * x + rng.normal(size=n) * 0.1, "kind": rng.choice(["a", "b", "c"], n)})


@pytest.fixture
def files(tmp_path):
    paths = {}
    for seed, name in enumerate(("real", "synthetic", "holdout")):
        paths[name] = tmp_path / f"{name}.parquet"
        pq.write_table(_table(400 if name != "holdout" else 100, seed), paths[name])
    return paths


def test_report_on_any_pair_of_tables(files, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "--real", str(files["real"]), "--synthetic", str(files["synthetic"]),
                 "--holdout", str(files["holdout"]), "--target", "kind", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["scores"]["overall"]["holdout"] > 0.8 and report["utility"]["target"] == "kind"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "| overall |" in capsys.readouterr().out


def test_a_config_gate_decides_the_exit_code(files, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"source": {"path": str(files["real"])}, "model": {"kind": "actgan"},
                                      "output": {"path": str(tmp_path / "o.parquet")},
                                      "report": {"gate": {"min_overall": 0.999}}}))
    out = tmp_path / "report"
    assert main(["report", "--real", str(files["real"]), "--synthetic", str(files["synthetic"]),
                 "--config", str(config), "--out", str(out)]) == 1
    assert "quality gate failed: overall" in capsys.readouterr().err
    assert json.loads((out / "report.json").read_text())["gate"]["passed"] is False


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop_columns(["y"]), "lacks column(s) ['y']"),
    (lambda t: t.append_column("z", pa.array(np.zeros(t.num_rows))), "has column(s) ['z']"),
    (lambda t: t.set_column(2, "kind", pa.array(np.zeros(t.num_rows))), "another type: kind"),
])
def test_bad_synthetic_data_exits_non_zero_and_writes_nothing(files, tmp_path, capsys, change, message):
    pq.write_table(change(pq.read_table(files["synthetic"])), files["synthetic"])
    out = tmp_path / "report"
    assert main(["report", "--real", str(files["real"]), "--synthetic", str(files["synthetic"]),
                 "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_empty_synthetic_and_oversized_holdout_are_refused(files, tmp_path, capsys):
    pq.write_table(pq.read_table(files["synthetic"]).slice(0, 0), files["synthetic"])
    assert main(["report", "--real", str(files["real"]), "--synthetic", str(files["synthetic"]),
                 "--out", str(tmp_path / "r")]) == 2
    assert "zero rows" in capsys.readouterr().err
    assert main(["report", "--real", str(files["holdout"]), "--synthetic", str(files["real"]),
                 "--holdout", str(files["real"]), "--out", str(tmp_path / "r")]) == 2
    assert "larger than the real data" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
