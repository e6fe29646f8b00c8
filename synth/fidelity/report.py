"""The fidelity and privacy report: every score beside its reference points, as a JSON-ready dict.

    report = build_report(real, synthetic, holdout=holdout_table, target="price", history=model.history_)

Reference points, so a reader sees whether the model learned anything beyond marginals:
- `holdout`: real rows the model never trained on, scored like the synthetic ones (the best
  achievable on this data, sampling noise included);
- `independent`: each real column drawn on its own (marginals kept, every relation destroyed);
- `ci_low`/`ci_high`: a 90 % interval of the synthetic score, ± 1.645 bootstrap standard errors
  (rows of both sides resampled).

Keys of the report (version 3; stable, documented in README; version 2 had the privacy summary's
`dcr_share_closer_to_train`, the complement of today's `dcr_holdout_share`):
- `version`, `kind` ("table" or "series"), `summary` (headline numbers, also what the gate reads: the
  synthetic side of each score, `detection_auc` (the classifier's AUC), `privacy`, and for series
  `series`, `acf_error` and `acf_error_shuffled` (`series.acf.error`: synthetic and time-shuffled)),
  `scores` ({name: {synthetic, ci_low, ci_high, holdout, independent}} for overall, column_shapes,
  column_pairs, structure, detection), `counts`, `settings`, `notes` (plain-words caveats);
- `columns` (per column: kind, metric, similarity, missing rates, score, score_holdout,
  score_independent), `pairs` (per pair: metric, real and synthetic correlation where numeric,
  score, score_holdout, score_independent, note), `structure`, `detection` (each {synthetic,
  holdout, independent}), `utility` (None without a target), `privacy`, `series` (None for
  tables), `training` (None without a history).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from synth import storage
from synth.errors import ConfigError, DataError
from synth.fidelity import tabular
from synth.fidelity.encode import EncodedTable, TableEncoder
from synth.fidelity.health import training_health
from synth.fidelity.intervals import spread_interval
from synth.fidelity.learned.utility import utility
from synth.fidelity.privacy import privacy_report, privacy_summary
from synth.fidelity.scores import EVERY_REPORT, LEARNED
from synth.schema import ColumnSpec, schema_specs
from synth.tables import sample_rows

REPORT_VERSION = 3
SCORES = EVERY_REPORT  # the scores every report computes, with their reference points (synth.fidelity.scores)


def check_tables(real: pa.Table, synthetic: pa.Table, holdout: pa.Table | None = None,
                 ignore: tuple[str, ...] = ()) -> list[ColumnSpec]:
    """The specs both sides share; DataError naming what differs (missing, extra, retyped columns, empty)."""
    for side, table in (("real", real), ("synthetic", synthetic), ("holdout", holdout)):
        if table is None:
            continue
        if table.num_rows == 0:
            raise DataError(f"report: the {side} data has zero rows")
        if side == "real":
            continue
        missing = [n for n in real.column_names if n not in table.column_names]
        extra = [n for n in table.column_names if n not in real.column_names]
        if missing:
            raise DataError(f"report: the {side} data lacks column(s) {missing}")
        if extra:
            raise DataError(f"report: the {side} data has column(s) {extra} that the real data does not")
        retyped = [f"{n} ({table.schema.field(n).type} vs real {real.schema.field(n).type})"
                   for n in real.column_names
                   if not _same_kind_of_type(table.schema.field(n).type, real.schema.field(n).type)]
        if retyped:
            raise DataError(f"report: the {side} data has column(s) of another type: {', '.join(retyped)}")
    specs = [s for s in schema_specs(real.schema) if s.name not in ignore]
    if not specs:
        raise DataError("report: no columns to compare")
    return specs


def build_report(real: pa.Table, synthetic: pa.Table, holdout: pa.Table | None = None, *,
                 target: str | None = None, series: "SeriesSpec | None" = None, history: list | None = None,
                 max_rows: int = 50_000, bootstrap: int = 20, seed: int = 0, device: str = "auto") -> dict:
    """Check the tables, then score the synthetic data against the real (training) data.

    Args:
        real: the data the model was trained on.
        synthetic: the generated data, with the real data's columns and types.
        holdout: real rows the model never saw (reference points and privacy); optional.
        target: a column to predict for the utility section (train on synthetic, test on real).
        series: for time series, which columns are the id, the time, attributes and features.
        history: the training run's per-epoch diagnostics (EpochStats or dicts), for training health.
        max_rows: rows per side the table sections compare (seeded subsample).
        bootstrap: resamples for the confidence intervals (0: none).
    """
    if max_rows < 100:
        raise ConfigError(f"report max_rows must be at least 100, got {max_rows}")
    if holdout is not None and holdout.num_rows > real.num_rows:
        raise DataError(f"report: the holdout ({holdout.num_rows} rows) is larger than the real data "
                        f"({real.num_rows} rows): it should be a small held-back part of it")
    ignore = (series.example_id,) if series is not None else ()
    specs = check_tables(real, synthetic, holdout, ignore)
    if target is not None and target not in [s.name for s in specs]:
        raise ConfigError(f"report target '{target}': no such column (columns are {[s.name for s in specs]})")
    rng = np.random.default_rng(seed)
    frames = {side: sample_rows(table, max_rows, rng).to_pandas() for side, table in
              (("real", real), ("synthetic", synthetic), ("holdout", holdout)) if table is not None}
    report = fidelity_report(frames["real"], frames["synthetic"], specs, frames.get("holdout"), target=target,
                             bootstrap=bootstrap, seed=seed, device=device,
                             example_id=series.example_id if series is not None else None)
    report["counts"].update(rows_real_total=real.num_rows, rows_synthetic_total=synthetic.num_rows,
                            rows_holdout_total=holdout.num_rows if holdout is not None else 0)
    report["settings"]["max_rows"] = max_rows
    if series is not None:
        from synth.fidelity.series import series_report
        report["kind"] = "series"
        report["series"] = series_report(real.to_pandas(), synthetic.to_pandas(), series,
                                         holdout.to_pandas() if holdout is not None else None, seed=seed)
        report["summary"]["series"] = report["series"]["summary"]["overall"]["synthetic"]
        acf_error = report["series"]["acf"]["error"]
        report["summary"].update(acf_error=acf_error["synthetic"], acf_error_shuffled=acf_error["shuffled"])
        interval = report["series"]["intervals"]["overall"] or [None, None]
        report["scores"]["series"] = {"synthetic": report["series"]["summary"]["overall"]["synthetic"],
                                      "ci_low": interval[0], "ci_high": interval[1],
                                      "holdout": report["series"]["summary"]["overall"]["holdout"],
                                      "independent": report["series"]["summary"]["overall"]["shuffled"]}
    if history:
        report["training"] = training_health(history, report)
    return report


def _examples(example_id: str | None, frames: dict[str, pd.DataFrame | None]) -> dict[str, np.ndarray] | None:
    if example_id is None:
        return None
    return {side: frame[example_id].to_numpy() for side, frame in frames.items()
            if frame is not None and example_id in frame.columns}


def fidelity_report(real: pd.DataFrame, synthetic: pd.DataFrame, specs: list[ColumnSpec],
                    holdout: pd.DataFrame | None = None, *, target: str | None = None, bootstrap: int = 20,
                    seed: int = 0, device: str = "auto", example_id: str | None = None) -> dict:
    """The table sections on frames already cut to size (see build_report for the arguments);
    `example_id`: a time series' id column, so privacy compares whole sequences."""
    _check_frames(specs, {"real": real, "synthetic": synthetic, "holdout": holdout})
    rng = np.random.default_rng(seed)
    encoder = TableEncoder(specs).fit(real)
    r, s = encoder.encode(real), encoder.encode(synthetic)
    h = encoder.encode(holdout) if holdout is not None else None
    i = tabular.independent_columns(r, len(s), rng)
    plan = tabular.plan_pairs(encoder, r)
    sides = {"synthetic": s, "holdout": h, "independent": i}
    compared = {name: tabular.compare(encoder, plan, r, t) for name, t in sides.items() if t is not None}
    learned = {name: {score.key: score.compute()(r, t, encoder, seed=seed) for score in LEARNED}
               for name, t in sides.items() if t is not None}
    notes = []
    if h is None:
        notes.append("no holdout: scores have no real-vs-real reference, and the privacy section cannot "
                     "tell memorized rows from typical ones")
    intervals = _bootstrap(encoder, plan, r, s, compared["synthetic"]["summary"], bootstrap, rng)
    scores = _scores(compared, learned, intervals)
    report = {
        "version": REPORT_VERSION,
        "kind": "table",
        "summary": {**{key: scores[key]["synthetic"] for key in SCORES},
                    "detection_auc": learned["synthetic"]["detection"]["auc"]},
        "scores": scores,
        "counts": {"rows_real": len(real), "rows_synthetic": len(synthetic),
                   "rows_holdout": len(holdout) if holdout is not None else 0, "columns": len(specs),
                   **_pair_counts(plan, compared["synthetic"]["pairs"])},
        "settings": {"seed": int(seed), "bootstrap": int(bootstrap)},
        "notes": notes,
        "columns": _merge_columns(specs, compared),
        "pairs": _merge_pairs(compared, plan),
        **{score.key: {name: parts[score.key] for name, parts in learned.items()} for score in LEARNED},
        "utility": _utility(encoder, r, s, h, target, seed, notes) if target else None,
        "privacy": privacy_report(r, s, h, encoder, seed=seed, device=device, examples=_examples(
            example_id, {"train": real, "holdout": holdout})),
        "series": None,
        "training": None,
    }
    report["summary"]["privacy"] = privacy_summary(report["privacy"])
    return report


def _check_frames(specs: list[ColumnSpec], frames: dict[str, pd.DataFrame | None]) -> None:
    for side, frame in frames.items():
        if frame is None:
            continue
        missing = [s.name for s in specs if s.name not in frame.columns]
        if missing:
            raise DataError(f"report: the {side} data lacks column(s) {missing}")
        if len(frame) == 0:
            raise DataError(f"report: the {side} data has zero rows")


def _pair_counts(plan: tabular.PairPlan, pairs: list[dict]) -> dict:
    compared = sum(p["score"] is not None for p in pairs)
    return {"pairs_compared": compared, "pairs_skipped": len(plan.skipped) + len(pairs) - compared}


def _scores(compared: dict, learned: dict, intervals: dict) -> dict:
    out = {}
    for key in SCORES:
        values = {}
        for name in ("synthetic", "holdout", "independent"):
            if name not in compared:
                values[name] = None
            elif key in learned[name]:
                values[name] = learned[name][key]["score"]
            else:
                values[name] = compared[name]["summary"][key]
        if key in learned["synthetic"]:
            low, high = learned["synthetic"][key]["score_ci"]
        else:
            low, high = intervals.get(key, (None, None))
        out[key] = {"synthetic": values["synthetic"], "ci_low": low, "ci_high": high,
                    "holdout": values["holdout"], "independent": values["independent"]}
    return out


def _bootstrap(encoder, plan, real: EncodedTable, synthetic: EncodedTable, point: dict, rounds: int,
               rng: np.random.Generator) -> dict:
    """90 % intervals of the shape, pair and overall scores: the point ± 1.645 bootstrap standard errors.

    Resampling with replacement adds ties that bias these similarity scores downwards, so the
    percentiles of the resampled scores need not bracket the point; their spread is what is used.
    """
    if rounds < 2:
        return {}
    draws = {key: [] for key in ("overall", "column_shapes", "column_pairs")}
    for _ in range(rounds):
        r = real.take(rng.integers(0, len(real), len(real)))
        s = synthetic.take(rng.integers(0, len(synthetic), len(synthetic)))
        summary = tabular.compare(encoder, plan, r, s)["summary"]
        for key in draws:
            if summary[key] is not None:
                draws[key].append(summary[key])
    intervals = {key: spread_interval(point.get(key), values) for key, values in draws.items()}
    return {key: interval for key, interval in intervals.items() if interval is not None}


def _merge_columns(specs: list[ColumnSpec], compared: dict) -> list[dict]:
    kinds = {s.name: s.kind.value for s in specs}
    by_side = {name: {c["name"]: c for c in part["columns"]} for name, part in compared.items()}
    out = []
    for c in compared["synthetic"]["columns"]:
        entry = {"name": c["name"], "kind": kinds[c["name"]], "metric": c["metric"], "similarity": c["similarity"],
                 "missing_rate_real": c["missing_rate_real"], "missing_rate_synthetic": c["missing_rate_other"],
                 "missing_rate_difference": c["missing_rate_difference"], "score": c["score"],
                 "categories_real": c.get("categories_real"), "categories_synthetic": c.get("categories_other")}
        for side in ("holdout", "independent"):
            entry[f"score_{side}"] = by_side[side][c["name"]]["score"] if side in by_side else None
        out.append(entry)
    order = {s.name: k for k, s in enumerate(specs)}
    return sorted(out, key=lambda c: order[c["name"]])


def _merge_pairs(compared: dict, plan) -> list[dict]:
    out = []
    others = {side: part["pairs"] for side, part in compared.items() if side != "synthetic"}
    for k, p in enumerate(compared["synthetic"]["pairs"]):
        entry = {"columns": p["columns"], "metric": p["metric"], "real": p["real"], "synthetic": p["other"],
                 "score": p["score"], "note": p["note"]}
        for side in ("holdout", "independent"):
            entry[f"score_{side}"] = others[side][k]["score"] if side in others else None
        out.append(entry)
    out += [{"columns": [a, b], "metric": None, "real": None, "synthetic": None, "score": None, "note": note,
             "score_holdout": None, "score_independent": None} for a, b, note in plan.skipped]
    return out


def _utility(encoder, real, synthetic, holdout, target, seed, notes) -> dict:
    if holdout is None:
        # without rows the generator never saw, test on a part of the training data: say so
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(real))
        cut = int(0.7 * len(real))
        notes.append("utility: no holdout, so models are tested on training rows the generator saw; "
                     "train-on-synthetic scores may be optimistic")
        return utility(real.take(order[:cut]), synthetic, real.take(order[cut:]), encoder, target, seed=seed)
    return utility(real, synthetic, holdout, encoder, target, seed=seed)


def _same_kind_of_type(a: pa.DataType, b: pa.DataType) -> bool:
    """Equal up to representation: string/large_string/dictionary of strings, and int widths, count as one."""
    def family(t: pa.DataType) -> str:
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return "string"
        if pa.types.is_integer(t):
            return "integer"
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            return "float"
        return str(t)
    return a == b or family(a) == family(b)


def write_report(report: dict, html: str, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into `out_dir`, each atomically; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"  # serialize first: a failure writes nothing
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    storage.write_bytes(json_path, text.encode("utf-8"))  # each atomically, with the umask's mode
    storage.write_bytes(html_path, html.encode("utf-8"))
    return json_path, html_path
