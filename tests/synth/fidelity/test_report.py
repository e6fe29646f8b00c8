"""Fidelity report: scores that move when the synthetic data is wrong, stable JSON, a safe HTML page."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synth.errors import DataError
from synth.fidelity import build_report, fidelity_report, render_html, summary_markdown, summary_text, write_report
from synth.schema import ColumnKind, ColumnSpec

ROWS = 2_000
SENTINEL = 61.2345678912  # one raw value of a continuous column that must not appear in the HTML text


@pytest.fixture
def specs() -> list[ColumnSpec]:
    return [
        ColumnSpec("income", ColumnKind.CONTINUOUS, "double"),
        ColumnSpec("spend", ColumnKind.CONTINUOUS, "double"),
        ColumnSpec("segment", ColumnKind.DISCRETE, "string"),
        ColumnSpec("member", ColumnKind.BOOLEAN, "bool"),
        ColumnSpec("joined", ColumnKind.DATETIME, "timestamp[us, tz=UTC]"),
        ColumnSpec("customer_id", ColumnKind.DISCRETE, "string"),
    ]


@pytest.fixture
def real() -> pd.DataFrame:
    """Strongly related columns: spend follows income, segment and membership follow income too."""
    rng = np.random.default_rng(42)
    income = rng.normal(50.0, 10.0, ROWS)
    spend = 0.8 * income + rng.normal(0.0, 2.0, ROWS)
    frame = pd.DataFrame({
        "income": income,
        "spend": spend,
        "segment": np.where(income > 60, "gold", np.where(income > 45, "silver", "bronze")),
        "member": income + rng.normal(0.0, 3.0, ROWS) > 52,
        "joined": pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(income * 10, unit="D"),
        "customer_id": [f"cust-{i:06d}" for i in range(ROWS)],
    })
    frame.loc[::20, "spend"] = np.nan  # 5% missing
    frame.loc[7, "income"] = SENTINEL
    return frame


def _independent_columns(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column permuted on its own: the same marginals, every relation between columns gone."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: rng.permutation(frame[name].to_numpy()) for name in frame.columns})


def _column(report: dict, name: str) -> dict:
    return next(c for c in report["columns"] if c["name"] == name)


def _pair(report: dict, a: str, b: str) -> dict:
    return next(p for p in report["pairs"] if set(p["columns"]) == {a, b})


def _fresh(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    """Another draw from the real data's generator (what a perfect model would produce)."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50.0, 10.0, rows)
    return pd.DataFrame({
        "income": income, "spend": 0.8 * income + rng.normal(0.0, 2.0, rows),
        "segment": np.where(income > 60, "gold", np.where(income > 45, "silver", "bronze")),
        "member": income + rng.normal(0.0, 3.0, rows) > 52,
        "joined": pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(income * 10, unit="D"),
        "customer_id": [f"cust-{i:06d}" for i in range(rows)],
    })


def test_identical_data_scores_one_on_shapes_and_pairs(real, specs):
    report = fidelity_report(real, real, specs, bootstrap=0)
    assert report["summary"]["column_shapes"] == pytest.approx(1.0)
    assert report["summary"]["column_pairs"] == pytest.approx(1.0)
    assert all(c["score"] == pytest.approx(1.0) for c in report["columns"])
    assert report["counts"]["pairs_compared"] > 0


def test_holdout_scores_near_the_top_and_independent_columns_fall_on_pairs_and_detection(real, specs):
    holdout = _fresh(seed=8)
    report = fidelity_report(real, _fresh(), specs, holdout)
    scores = report["scores"]
    for key in ("overall", "column_shapes", "column_pairs", "structure", "detection"):
        assert scores[key]["holdout"] > 0.85, (key, scores[key])
        assert scores[key]["synthetic"] > 0.85, (key, scores[key])  # a fresh draw is as good as real
    assert scores["column_shapes"]["independent"] > 0.9  # marginals kept...
    assert scores["column_pairs"]["independent"] < scores["column_pairs"]["holdout"] - 0.1  # ...relations gone
    assert scores["detection"]["independent"] < scores["detection"]["holdout"] - 0.3
    for key in ("overall", "column_shapes", "column_pairs", "structure", "detection"):
        assert scores[key]["ci_low"] <= scores[key]["synthetic"] <= scores[key]["ci_high"], (key, scores[key])
    assert scores["detection"]["ci_high"] - scores["detection"]["ci_low"] > 0  # a real interval, not a point


def test_shifted_continuous_column_scores_lower_on_that_column(real, specs):
    synthetic = real.assign(income=real["income"] + 10.0)
    report = fidelity_report(real, synthetic, specs, bootstrap=0)
    assert _column(report, "income")["similarity"] < 0.7
    assert all(c["score"] == pytest.approx(1.0) for c in report["columns"] if c["name"] != "income")
    assert report["summary"]["column_shapes"] < 0.96
    assert report["detection"]["synthetic"]["giveaways"][0]["column"] == "income"


def test_permuted_categories_score_lower_on_that_column(real, specs):
    relabel = {"gold": "bronze", "silver": "gold", "bronze": "silver"}
    report = fidelity_report(real, real.assign(segment=real["segment"].map(relabel)), specs, bootstrap=0)
    assert _column(report, "segment")["similarity"] < 0.8
    assert _column(report, "member")["similarity"] == pytest.approx(1.0)


def test_shifted_datetime_column_scores_lower(real, specs):
    report = fidelity_report(real, real.assign(joined=real["joined"] + pd.Timedelta(days=200)), specs, bootstrap=0)
    assert _column(report, "joined")["similarity"] < 0.7


def test_independent_columns_keep_shapes_but_lose_pairs(real, specs):
    report = fidelity_report(real, _independent_columns(real), specs, bootstrap=0)
    assert report["summary"]["column_shapes"] > 0.98
    assert report["summary"]["column_pairs"] < 0.8
    income_spend = _pair(report, "income", "spend")
    assert income_spend["metric"] == "correlation" and income_spend["real"] > 0.9
    assert abs(income_spend["real"] - income_spend["synthetic"]) > 0.8
    assert _pair(report, "segment", "member")["score"] < 0.8           # contingency
    assert _pair(report, "income", "segment")["metric"] == "binned_contingency"
    assert _pair(report, "income", "segment")["score"] < 0.7


def test_json_keys_are_stable_and_nan_free(real, specs):
    report = fidelity_report(real, _independent_columns(real), specs, _fresh(500), target="segment")
    json.dumps(report, allow_nan=False)
    assert list(report) == ["version", "kind", "summary", "scores", "counts", "settings", "notes", "columns",
                            "pairs", "structure", "detection", "utility", "privacy", "series", "training"]
    assert report["version"] == 3
    assert set(report["scores"]) == {"overall", "column_shapes", "column_pairs", "structure", "detection"}
    assert set(report["scores"]["overall"]) == {"synthetic", "ci_low", "ci_high", "holdout", "independent"}
    assert set(report["summary"]["privacy"]) == {"exact_copy_rate", "dcr_holdout_share", "membership_auc"}
    assert report["utility"]["target"] == "segment"
    u = report["utility"]
    assert u["synthetic_ci"][0] <= u["synthetic"] <= u["synthetic_ci"][1] and u["real_ci"][0] <= u["real"]
    low, high = report["privacy"]["holdout_share"]["ci"]
    assert low <= report["summary"]["privacy"]["dcr_holdout_share"] <= high
    assert report["summary"]["privacy"]["dcr_holdout_share"] == report["privacy"]["holdout_share"]["share"]


def test_constant_column_pair_is_skipped_with_a_note(real, specs):
    real = real.assign(rate=1.5)
    specs = specs + [ColumnSpec("rate", ColumnKind.CONTINUOUS, "double")]
    report = fidelity_report(real, real, specs, bootstrap=0)
    assert _column(report, "rate")["score"] == pytest.approx(1.0)
    rate_pairs = [p for p in report["pairs"] if "rate" in p["columns"] and p["metric"] == "correlation"]
    assert rate_pairs and all(p["score"] is None and "constant" in p["note"] for p in rate_pairs)
    assert report["summary"]["column_pairs"] == pytest.approx(1.0)


def test_column_all_missing_in_synthetic_scores_zero(real, specs):
    report = fidelity_report(real, real.assign(spend=np.nan), specs, bootstrap=0)
    spend = _column(report, "spend")
    assert spend["similarity"] == 0.0 and spend["score"] == 0.0
    assert spend["missing_rate_real"] == pytest.approx(0.05)
    assert spend["missing_rate_synthetic"] == 1.0
    assert all(p["score"] is None for p in report["pairs"] if "spend" in p["columns"] and p["metric"] == "correlation")


def test_missing_rate_gap_lowers_the_score(real, specs):
    synthetic = real.copy()
    synthetic.loc[: ROWS // 4 - 1, "income"] = np.nan
    report = fidelity_report(real, synthetic, specs, bootstrap=0)
    income = _column(report, "income")
    assert income["missing_rate_difference"] == pytest.approx(0.25)
    assert income["score"] < 0.8


def test_copied_training_rows_fail_the_privacy_gate(real, specs):
    from synth.fidelity.gate import GateThresholds, evaluate_gate
    report = fidelity_report(real, real.sample(frac=1.0, random_state=0), specs, _fresh(500), bootstrap=0)
    assert report["summary"]["privacy"]["exact_copy_rate"] > 0.99
    result = evaluate_gate(report, GateThresholds())
    assert not result.passed
    assert any(f.startswith("exact_copy_rate 1 >") for f in result.failures), result.failures
    fresh = fidelity_report(real, _fresh(), specs, _fresh(500, seed=9), bootstrap=0)
    assert evaluate_gate(fresh, GateThresholds()).passed, evaluate_gate(fresh, GateThresholds()).failures


def test_the_holdout_share_is_one_number_under_one_name_in_summary_section_gate_and_html(real, specs):
    """Copies sit nearer the training rows than the holdout: a share below 0.5, the same in every place (the
    training rows are cut to the holdout's 500, so only a quarter of the copies find their original)."""
    from synth.fidelity.gate import GateThresholds, evaluate_gate
    report = fidelity_report(real, real.sample(frac=1.0, random_state=0), specs, _fresh(500), bootstrap=0)
    share = report["summary"]["privacy"]["dcr_holdout_share"]
    assert share == report["privacy"]["holdout_share"]["share"] and share < 0.4
    gate = evaluate_gate(report, GateThresholds(min_dcr_holdout_share=0.45))
    [check] = [c for c in gate.checks if c.name == "dcr_holdout_share"]
    assert (check.value, check.status) == (share, "failed")
    html = render_html(report, real, real, specs)
    assert f"{share:.3f}" in html and "holdout share" in html
    assert f"holdout share {share:.3f}" in summary_text(report)


@pytest.mark.parametrize("side", ["real", "synthetic"])
def test_zero_rows_is_a_data_error_naming_the_side(real, specs, side):
    frames = {"real": real, "synthetic": real}
    frames[side] = real.iloc[:0]
    with pytest.raises(DataError, match=side):
        fidelity_report(frames["real"], frames["synthetic"], specs)


def test_missing_column_is_a_data_error_naming_the_side(real, specs):
    with pytest.raises(DataError, match="synthetic.*spend"):
        fidelity_report(real, real.drop(columns=["spend"]), specs)


def test_subsampling_is_seeded(real):
    table = pa.Table.from_pandas(real, preserve_index=False)
    other = pa.Table.from_pandas(_independent_columns(real), preserve_index=False)
    first = build_report(table, other, max_rows=300, seed=1, bootstrap=0)
    assert first["counts"]["rows_real"] == 300 and first["counts"]["rows_real_total"] == ROWS
    assert build_report(table, other, max_rows=300, seed=1, bootstrap=0) == first
    assert build_report(table, other, max_rows=300, seed=2, bootstrap=0) != first


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop_columns(["spend"]), "synthetic data lacks column\\(s\\) \\['spend'\\]"),
    (lambda t: t.append_column("extra", pa.array([1] * t.num_rows)), "has column\\(s\\) \\['extra'\\]"),
    (lambda t: t.set_column(0, "income", pa.array(["x"] * t.num_rows)), "another type: income"),
    (lambda t: t.slice(0, 0), "synthetic data has zero rows"),
])
def test_bad_synthetic_tables_are_refused_by_name(real, change, message):
    table = pa.Table.from_pandas(real, preserve_index=False)
    with pytest.raises(DataError, match=message):
        build_report(table, change(table))


def test_a_holdout_larger_than_the_data_is_refused(real):
    table = pa.Table.from_pandas(real, preserve_index=False)
    with pytest.raises(DataError, match="holdout .* is larger than the real data"):
        build_report(table.slice(0, 100), table, holdout=table)


def test_html_is_self_contained_and_shows_no_raw_values(real, specs):
    synthetic = _independent_columns(real)
    report = fidelity_report(real, synthetic, specs, _fresh(500), bootstrap=0)
    html = render_html(report, real, synthetic, specs)
    assert '<img src="data:image/png;base64,' in html
    assert html.count("<img ") == len(specs) + 2  # a plot per column, the heatmaps, the PCA densities
    for external in ("<script", "<link", 'src="http', "url("):
        assert external not in html
    for name in ("income", "customer_id", "segment"):
        assert name in html
    assert f"{report['summary']['overall']:.3f}" in html
    assert "61.2345678" not in html  # the sentinel income value
    assert "cust-0" not in html and "gold" not in html  # category labels only inside the PNGs


def test_html_caps_the_number_of_plots(real):
    wide = pd.DataFrame({f"c{i}": real["income"] + i for i in range(25)})
    specs = [ColumnSpec(name, ColumnKind.CONTINUOUS, "double") for name in wide]
    report = fidelity_report(wide.iloc[:200], wide.iloc[:200], specs, bootstrap=0)
    html = render_html(report, wide, wide, specs)
    assert html.count("<img ") == 24 + 2
    assert "first 24 of 25 columns" in html


def test_write_report_writes_both_files_atomically(real, specs, tmp_path):
    report = fidelity_report(real.iloc[:200], real.iloc[:200], specs, bootstrap=0)
    out_dir = tmp_path / "nested" / "report"
    write_report(report, "<html>old</html>", out_dir)
    json_path, html_path = write_report(report, "<html>new</html>", out_dir)
    assert json.loads(json_path.read_text()) == report
    assert html_path.read_text() == "<html>new</html>"
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.html", "report.json"]  # no temp files left


def test_summary_markdown_lists_scores_and_columns(real, specs):
    markdown = summary_markdown(fidelity_report(real, _independent_columns(real), specs, bootstrap=0))
    assert "| column_pairs |" in markdown and "| customer_id | discrete |" in markdown
    assert "holdout (best)" in markdown and "Privacy:" in markdown


def test_fidelity_package_imports_no_orchestration_or_plotting():
    code = ("import sys, synth.fidelity; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('prefect', 'mlflow', 'great_expectations', 'matplotlib')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
