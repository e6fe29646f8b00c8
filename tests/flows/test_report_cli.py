"""`prefect-synth report` on Parquet files: both files written, gate exit codes, bad input refused whole."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main
from tests.support.pipeline import RELATIVE_OFF


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
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["score", "synthetic", "holdout", "independent", "columns"]
    scores = report["scores"]
    for line, key in zip(lines[1:5], ("overall", "column_shapes", "column_pairs", "detection")):
        assert line.split()[1:] == [f"{scores[key][side]:.3f}" for side in ("synthetic", "holdout", "independent")]
    assert [line.split()[0] for line in lines[1:5]] == ["overall", "shapes", "pairs", "detection"]
    privacy = report["summary"]["privacy"]
    assert lines[5] == (f"privacy: exact copies {privacy['exact_copy_rate']:.3f}; holdout share "
                        f"{privacy['dcr_holdout_share']:.3f} (0.5 ideal, low: memorising); membership AUC "
                        f"{privacy['membership_auc']:.3f} (0.5: no leakage)")
    assert lines[6:] == ["gate: not applied (no --config)", f"wrote {out / 'report.json'} and {out / 'report.html'}"]


def test_a_config_gate_decides_the_exit_code(files, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"source": {"path": str(files["real"])}, "model": {"kind": "actgan"},
                                      "output": {"path": str(tmp_path / "o.parquet")},
                                      "report": {"gate": {"min_overall": 0.999, **RELATIVE_OFF}}}))
    out = tmp_path / "report"
    assert main(["report", "--real", str(files["real"]), "--synthetic", str(files["synthetic"]),
                 "--config", str(config), "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "quality gate failed: overall" in printed.err
    report = json.loads((out / "report.json").read_text())
    assert report["gate"]["passed"] is False
    lines = printed.out.splitlines()
    assert lines[0].split() == ["score", "synthetic", "independent", "columns"]  # no holdout, no holdout column
    assert lines[5] == (f"privacy: exact copies {report['summary']['privacy']['exact_copy_rate']:.3f}; "
                        "holdout share and membership AUC need a holdout (none given)")
    assert lines[6] == (f"gate: FAILED (overall {report['summary']['overall']:.4g} < 0.999); "
                        "not measured: dcr_holdout_share")


def test_a_passing_gate_and_a_gate_turned_off_say_so(files, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    tree = {"source": {"path": str(files["real"])}, "model": {"kind": "actgan"},
            "output": {"path": str(tmp_path / "o.parquet")}, "report": {"gate": {"min_overall": 0.1, **RELATIVE_OFF}}}
    args = ["report", "--real", str(files["real"]), "--synthetic", str(files["synthetic"]), "--holdout",
            str(files["holdout"]), "--config", str(config), "--out", str(tmp_path / "report")]
    config.write_text(yaml.safe_dump(tree))
    assert main(args) == 0
    assert "gate: passed" in capsys.readouterr().out.splitlines()
    tree["report"]["gate"]["enabled"] = False
    config.write_text(yaml.safe_dump(tree))
    assert main(args) == 0
    assert "gate: not applied (the config's gate is off)" in capsys.readouterr().out.splitlines()


def test_a_time_series_report_shows_the_series_score(tmp_path, capsys):
    rng = np.random.default_rng(0)
    def series(units: int) -> pa.Table:
        return pa.table({"unit": np.repeat(np.arange(units), 6), "step": np.tile(np.arange(6), units),
                         "load": rng.normal(size=units * 6)})
    for name, units in (("real", 60), ("synthetic", 60), ("holdout", 20)):
        pq.write_table(series(units), tmp_path / f"{name}.parquet")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"source": {"path": str(tmp_path / "real.parquet")},
                                      "model": {"kind": "dgan", "example_id": "unit", "time_column": "step"},
                                      "output": {"path": str(tmp_path / "o.parquet")},
                                      "report": {"gate": {"enabled": False}}}))
    out = tmp_path / "report"
    assert main(["report", "--real", str(tmp_path / "real.parquet"), "--synthetic",
                 str(tmp_path / "synthetic.parquet"), "--holdout", str(tmp_path / "holdout.parquet"),
                 "--config", str(config), "--out", str(out)]) == 0
    scores = json.loads((out / "report.json").read_text())["scores"]["series"]
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("series ")]
    assert line.split()[1:] == [f"{scores[side]:.3f}" for side in ("synthetic", "holdout", "independent")]


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
