"""The fidelity report: how closely a synthetic table matches the real one, as a JSON-ready dict."""
from __future__ import annotations

import json
import os
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from synth.errors import ConfigError, DataError
from synth.fidelity.metrics import (
    CATEGORICAL_KINDS,
    MAX_CATEGORIES_FOR_ASSOCIATION,
    NUMERIC_KINDS,
    column_shape,
    correlation_matrices,
    correlation_note,
    cramers_v,
    numeric_values,
    optional_float,
    too_many_categories,
)
from synth.schema import ColumnKind, ColumnSpec

REPORT_VERSION = 1


def fidelity_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    specs: list[ColumnSpec],
    max_rows: int = 50_000,
    seed: int = 0,
) -> dict:
    """Compare a synthetic table with the real one, column by column and pair by pair.

    Both tables are first subsampled to at most `max_rows` rows (without replacement, from
    `numpy.random.default_rng(seed)`), so the report is deterministic for a given seed.

    Every number is a plain float or int; a value that is undefined is None, never NaN, so
    `json.dumps(report, allow_nan=False)` works. Keys (stable; a change bumps `version`):

    - `version` (int): 1.
    - `summary`: scores in [0, 1], 1 meaning indistinguishable by these metrics.
        - `column_shapes`: mean of `columns[*].score`.
        - `column_pairs`: mean of the `score` of every defined entry of `correlations` and
          `associations`; None when no pair could be compared.
        - `overall`: mean of `column_shapes` and `column_pairs` (just `column_shapes` when
          `column_pairs` is None).
    - `counts`: `rows_real`, `rows_synthetic` (rows compared), `rows_real_total`,
      `rows_synthetic_total` (rows given), `columns`, `pairs_compared`, `pairs_skipped`.
    - `settings`: `max_rows`, `seed`.
    - `columns`: one entry per spec, in order:
        - `name`, `kind` (a ColumnKind value), `metric` (`"ks_complement"` for continuous and
          datetime columns, `"tv_complement"` for discrete and boolean ones);
        - `similarity`: 1 − KS statistic or 1 − total variation distance, on non-missing values
          (datetimes as integer microseconds); 0 when only one side has values, None when neither has;
        - `missing_rate_real`, `missing_rate_synthetic`, `missing_rate_difference` (absolute);
        - `score`: `similarity × (1 − missing_rate_difference)` (similarity None counts as 1).
    - `correlations`: one entry per pair of numeric columns (continuous, boolean as 0/1, datetime):
        - `columns` ([a, b]); `pearson_real`, `pearson_synthetic`, `pearson_difference` (absolute);
          `spearman_real`, `spearman_synthetic`, `spearman_difference`; all None where undefined;
        - `score`: 1 − `pearson_difference` / 2, None when undefined;
        - `note`: None, or why the pair was skipped (e.g. a constant column).
    - `associations`: one entry per pair of categorical columns (discrete or boolean) with at least
      one discrete column:
        - `columns`; `cramers_v_real`, `cramers_v_synthetic`, `cramers_v_difference` (absolute);
        - `score`: 1 − `cramers_v_difference`, None when undefined; `note` as above (also set when
          a column has more than 50 categories, where the pair is skipped).

    Raises:
        DataError: a side has zero rows or lacks a column named in `specs` (the message says which).
        ConfigError: `max_rows` is below 1.
    """
    if max_rows < 1:
        raise ConfigError(f"report max_rows must be at least 1, got {max_rows}")
    if not specs:
        raise DataError("fidelity report: no columns to compare")
    for side, frame in (("real", real), ("synthetic", synthetic)):
        _check_side(side, frame, specs)
    real_rows, synthetic_rows = subsample_pair(real, synthetic, specs, max_rows, seed)

    columns = [_column_entry(real_rows, synthetic_rows, spec) for spec in specs]
    correlations = _correlation_entries(real_rows, synthetic_rows, specs)
    associations = _association_entries(real_rows, synthetic_rows, specs)

    pair_scores = [p["score"] for p in correlations + associations if p["score"] is not None]
    column_shapes = float(np.mean([c["score"] for c in columns]))
    column_pairs = float(np.mean(pair_scores)) if pair_scores else None
    overall = column_shapes if column_pairs is None else (column_shapes + column_pairs) / 2
    return {
        "version": REPORT_VERSION,
        "summary": {"column_shapes": column_shapes, "column_pairs": column_pairs, "overall": overall},
        "counts": {
            "rows_real": len(real_rows),
            "rows_synthetic": len(synthetic_rows),
            "rows_real_total": len(real),
            "rows_synthetic_total": len(synthetic),
            "columns": len(columns),
            "pairs_compared": len(pair_scores),
            "pairs_skipped": len(correlations) + len(associations) - len(pair_scores),
        },
        "settings": {"max_rows": int(max_rows), "seed": int(seed)},
        "columns": columns,
        "correlations": correlations,
        "associations": associations,
    }


def subsample_pair(
    real: pd.DataFrame, synthetic: pd.DataFrame, specs: list[ColumnSpec], max_rows: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The spec columns of both tables, each cut to at most `max_rows` seeded random rows (index reset)."""
    rng = np.random.default_rng(seed)
    names = [spec.name for spec in specs]
    return _subsample(real[names], max_rows, rng), _subsample(synthetic[names], max_rows, rng)


def write_report(report: dict, html: str, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into `out_dir`, each atomically; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = _write_text_atomic(out_dir / "report.json", json.dumps(report, indent=2, allow_nan=False) + "\n")
    html_path = _write_text_atomic(out_dir / "report.html", html)
    return json_path, html_path


def summary_markdown(report: dict, max_columns: int = 20) -> str:
    """A short Markdown summary: the three scores and the lowest-scoring columns."""
    summary, counts = report["summary"], report["counts"]
    lines = [
        "# Fidelity summary",
        "",
        "| score | value |",
        "|---|---|",
        *(f"| {key} | {_fmt(summary[key])} |" for key in ("overall", "column_shapes", "column_pairs")),
        "",
        f"Compared {counts['rows_real']} real and {counts['rows_synthetic']} synthetic rows, "
        f"{counts['columns']} columns, {counts['pairs_compared']} column pairs "
        f"({counts['pairs_skipped']} skipped).",
        "",
    ]
    worst = sorted(report["columns"], key=lambda c: c["score"])[:max_columns]
    if len(worst) < len(report["columns"]):
        lines += [f"The {len(worst)} lowest-scoring of {len(report['columns'])} columns:", ""]
    lines += ["| column | kind | similarity | missing-rate difference | score |", "|---|---|---|---|---|"]
    lines += [
        f"| {_md_cell(c['name'])} | {c['kind']} | {_fmt(c['similarity'])} | "
        f"{_fmt(c['missing_rate_difference'])} | {_fmt(c['score'])} |"
        for c in worst
    ]
    return "\n".join(lines) + "\n"


def _check_side(side: str, frame: pd.DataFrame, specs: list[ColumnSpec]) -> None:
    missing = [spec.name for spec in specs if spec.name not in frame.columns]
    if missing:
        raise DataError(f"fidelity report: the {side} data lacks column(s) {missing}")
    if len(frame) == 0:
        raise DataError(f"fidelity report: the {side} data has zero rows")


def _subsample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    rows = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def _column_entry(real: pd.DataFrame, synthetic: pd.DataFrame, spec: ColumnSpec) -> dict:
    shape = column_shape(real[spec.name], synthetic[spec.name], spec)
    return {
        "name": spec.name,
        "kind": spec.kind.value,
        "metric": shape.metric,
        "similarity": shape.similarity,
        "missing_rate_real": shape.missing_rate_real,
        "missing_rate_synthetic": shape.missing_rate_synthetic,
        "missing_rate_difference": shape.missing_rate_difference,
        "score": shape.score,
    }


def _correlation_entries(real: pd.DataFrame, synthetic: pd.DataFrame, specs: list[ColumnSpec]) -> list[dict]:
    numeric = [spec for spec in specs if spec.kind in NUMERIC_KINDS]
    if len(numeric) < 2:
        return []
    real_numeric = pd.DataFrame({s.name: numeric_values(real[s.name], s.kind) for s in numeric})
    synthetic_numeric = pd.DataFrame({s.name: numeric_values(synthetic[s.name], s.kind) for s in numeric})
    pearson_real, spearman_real = correlation_matrices(real_numeric)
    pearson_synthetic, spearman_synthetic = correlation_matrices(synthetic_numeric)

    entries = []
    for a, b in combinations([s.name for s in numeric], 2):
        pearson = (optional_float(pearson_real.at[a, b]), optional_float(pearson_synthetic.at[a, b]))
        spearman = (optional_float(spearman_real.at[a, b]), optional_float(spearman_synthetic.at[a, b]))
        pearson_difference = _abs_difference(*pearson)
        entries.append({
            "columns": [a, b],
            "pearson_real": pearson[0],
            "pearson_synthetic": pearson[1],
            "pearson_difference": pearson_difference,
            "spearman_real": spearman[0],
            "spearman_synthetic": spearman[1],
            "spearman_difference": _abs_difference(*spearman),
            "score": None if pearson_difference is None else 1.0 - pearson_difference / 2,
            "note": None if pearson_difference is not None
            else correlation_note(real_numeric, synthetic_numeric, a, b),
        })
    return entries


def _association_entries(real: pd.DataFrame, synthetic: pd.DataFrame, specs: list[ColumnSpec]) -> list[dict]:
    categorical = [spec for spec in specs if spec.kind in CATEGORICAL_KINDS]
    too_wide = {s.name for s in categorical
                if too_many_categories(real[s.name]) or too_many_categories(synthetic[s.name])}
    entries = []
    for spec_a, spec_b in combinations(categorical, 2):
        if ColumnKind.DISCRETE not in (spec_a.kind, spec_b.kind):
            continue  # two booleans are already compared by their correlation
        a, b = spec_a.name, spec_b.name
        wide = next((n for n in (a, b) if n in too_wide), None)
        if wide is None:
            v_real, v_synthetic = cramers_v(real[a], real[b]), cramers_v(synthetic[a], synthetic[b])
        else:
            v_real = v_synthetic = None
        difference = _abs_difference(v_real, v_synthetic)
        if wide is not None:
            note = f"skipped: column '{wide}' has more than {MAX_CATEGORIES_FOR_ASSOCIATION} categories"
        elif difference is None:
            note = "skipped: a column is constant or empty where both are present"
        else:
            note = None
        entries.append({
            "columns": [a, b],
            "cramers_v_real": v_real,
            "cramers_v_synthetic": v_synthetic,
            "cramers_v_difference": difference,
            "score": None if difference is None else 1.0 - difference,
            "note": note,
        })
    return entries


def _abs_difference(real: float | None, synthetic: float | None) -> float | None:
    return None if real is None or synthetic is None else abs(real - synthetic)


def _write_text_atomic(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|")
