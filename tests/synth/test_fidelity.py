"""Fidelity report: scores that move when the synthetic data is wrong, stable JSON, a safe HTML page."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synth.errors import DataError
from synth.fidelity import fidelity_report, render_html, summary_markdown, write_report
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


def test_identical_data_scores_one(real, specs):
    report = fidelity_report(real, real.copy(), specs)
    assert report["summary"] == pytest.approx({"column_shapes": 1.0, "column_pairs": 1.0, "overall": 1.0})
    assert all(c["score"] == pytest.approx(1.0) for c in report["columns"])
    assert report["counts"]["pairs_compared"] > 0


def test_shifted_continuous_column_scores_lower_on_that_column(real, specs):
    synthetic = real.assign(income=real["income"] + 10.0)
    report = fidelity_report(real, synthetic, specs)
    assert _column(report, "income")["similarity"] < 0.7
    assert all(c["score"] == pytest.approx(1.0) for c in report["columns"] if c["name"] != "income")
    assert report["summary"]["column_shapes"] < 0.96


def test_permuted_categories_score_lower_on_that_column(real, specs):
    relabel = {"gold": "silver", "silver": "bronze", "bronze": "gold"}
    report = fidelity_report(real, real.assign(segment=real["segment"].map(relabel)), specs)
    assert _column(report, "segment")["similarity"] < 0.8
    assert _column(report, "member")["similarity"] == pytest.approx(1.0)


def test_shifted_datetime_column_scores_lower(real, specs):
    report = fidelity_report(real, real.assign(joined=real["joined"] + pd.Timedelta(days=200)), specs)
    assert _column(report, "joined")["similarity"] < 0.7


def test_independent_columns_keep_shapes_but_lose_pairs(real, specs):
    report = fidelity_report(real, _independent_columns(real), specs)
    assert report["summary"]["column_shapes"] > 0.98
    assert report["summary"]["column_pairs"] < 0.8
    income_spend = next(p for p in report["correlations"] if p["columns"] == ["income", "spend"])
    assert income_spend["pearson_real"] > 0.9 and income_spend["pearson_difference"] > 0.8
    segment_member = next(p for p in report["associations"] if p["columns"] == ["segment", "member"])
    assert segment_member["cramers_v_difference"] > 0.3


def test_json_keys_are_stable_and_nan_free(real, specs):
    synthetic = _independent_columns(real).assign(spend=np.nan)  # forces None similarities and notes
    report = fidelity_report(real, synthetic, specs)
    json.dumps(report, allow_nan=False)
    assert list(report) == ["version", "summary", "counts", "settings", "columns", "correlations", "associations"]
    assert report["version"] == 1
    assert set(report["summary"]) == {"column_shapes", "column_pairs", "overall"}
    assert set(report["counts"]) == {"rows_real", "rows_synthetic", "rows_real_total", "rows_synthetic_total",
                                     "columns", "pairs_compared", "pairs_skipped"}
    assert set(report["settings"]) == {"max_rows", "seed"}
    assert {tuple(c) for c in report["columns"]} == {(
        "name", "kind", "metric", "similarity", "missing_rate_real", "missing_rate_synthetic",
        "missing_rate_difference", "score")}
    assert {tuple(p) for p in report["correlations"]} == {(
        "columns", "pearson_real", "pearson_synthetic", "pearson_difference", "spearman_real",
        "spearman_synthetic", "spearman_difference", "score", "note")}
    assert {tuple(p) for p in report["associations"]} == {(
        "columns", "cramers_v_real", "cramers_v_synthetic", "cramers_v_difference", "score", "note")}
    numbers = [v for c in report["columns"] for v in c.values() if not isinstance(v, str)]
    assert all(v is None or type(v) is float for v in numbers)  # plain floats, not numpy scalars


def test_constant_column_pair_is_skipped_with_a_note(real, specs):
    specs = specs + [ColumnSpec("rate", ColumnKind.CONTINUOUS, "double")]
    report = fidelity_report(real.assign(rate=1.5), real.assign(rate=1.5), specs)
    assert _column(report, "rate")["score"] == pytest.approx(1.0)
    rate_pairs = [p for p in report["correlations"] if "rate" in p["columns"]]
    assert rate_pairs and all(p["score"] is None and "'rate'" in p["note"] for p in rate_pairs)
    assert report["summary"]["column_pairs"] == pytest.approx(1.0)
    assert report["counts"]["pairs_skipped"] >= len(rate_pairs)
    json.dumps(report, allow_nan=False)


def test_column_all_missing_in_synthetic_scores_zero(real, specs):
    report = fidelity_report(real, real.assign(spend=np.nan), specs)
    spend = _column(report, "spend")
    assert spend["similarity"] == 0.0 and spend["score"] == 0.0
    assert spend["missing_rate_real"] == pytest.approx(0.05)
    assert spend["missing_rate_synthetic"] == 1.0
    assert all(p["score"] is None for p in report["correlations"] if "spend" in p["columns"])
    json.dumps(report, allow_nan=False)


def test_missing_rate_gap_lowers_the_score(real, specs):
    synthetic = real.copy()
    synthetic.loc[::4, "income"] = np.nan
    income = _column(fidelity_report(real, synthetic, specs), "income")
    assert income["missing_rate_difference"] == pytest.approx(0.25)
    assert income["score"] < 0.8


@pytest.mark.parametrize("side", ["real", "synthetic"])
def test_zero_rows_is_a_data_error_naming_the_side(real, specs, side):
    frames = {"real": real, "synthetic": real.copy()}
    frames[side] = frames[side].iloc[:0]
    with pytest.raises(DataError, match=f"the {side} data has zero rows"):
        fidelity_report(frames["real"], frames["synthetic"], specs)


def test_missing_column_is_a_data_error_naming_the_side(real, specs):
    with pytest.raises(DataError, match="synthetic data lacks column.*segment"):
        fidelity_report(real, real.drop(columns="segment"), specs)


def test_subsampling_is_seeded(real, specs):
    synthetic = _independent_columns(real)
    first = fidelity_report(real, synthetic, specs, max_rows=300, seed=1)
    assert first["counts"]["rows_real"] == 300 and first["counts"]["rows_real_total"] == ROWS
    assert fidelity_report(real, synthetic, specs, max_rows=300, seed=1) == first
    assert fidelity_report(real, synthetic, specs, max_rows=300, seed=2) != first


def test_html_is_self_contained_and_shows_no_raw_values(real, specs):
    synthetic = _independent_columns(real)
    report = fidelity_report(real, synthetic, specs)
    html = render_html(report, real, synthetic, specs)
    assert '<img src="data:image/png;base64,' in html
    assert html.count("<img ") == len(specs) + 1  # one plot per column, one set of heatmaps
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
    report = fidelity_report(wide, wide, specs, max_rows=200)
    html = render_html(report, wide, wide, specs)
    assert html.count("<img ") == 24 + 1
    assert "first 24 of 25 columns" in html


def test_write_report_writes_both_files_atomically(real, specs, tmp_path):
    report = fidelity_report(real, real, specs, max_rows=200)
    out_dir = tmp_path / "nested" / "report"
    write_report(report, "<html>old</html>", out_dir)
    json_path, html_path = write_report(report, "<html>new</html>", out_dir)
    assert json.loads(json_path.read_text()) == report
    assert html_path.read_text() == "<html>new</html>"
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.html", "report.json"]  # no temp files left


def test_summary_markdown_lists_scores_and_columns(real, specs):
    markdown = summary_markdown(fidelity_report(real, _independent_columns(real), specs))
    assert "| column_pairs |" in markdown and "| customer_id | discrete |" in markdown


def test_fidelity_package_imports_no_orchestration_or_plotting():
    code = ("import sys, synth.fidelity; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('prefect', 'mlflow', 'great_expectations', 'matplotlib')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
