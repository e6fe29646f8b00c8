"""Column shapes and pair trends on encoded tables, vectorized so a report on 1M rows stays fast.

- shapes: KS complement for numbers (continuous, datetime), TV complement for categories (discrete,
  boolean), each discounted by the missing-rate gap;
- pairs: numbers × numbers by Pearson correlation (score 1 − |Δρ|/2); categories × categories by
  contingency (1 − TV of the joint frequencies); numbers × categories by binned contingency, the
  bins being the real data's deciles (plus a missing bin). Pairs with a column of more than
  `MAX_PAIR_CATEGORIES` categories are skipped with a note.

`compare(real, other)` scores one table against the real one; the report calls it for the
synthetic data, the holdout and the independent-columns baseline, and on bootstrap resamples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.fidelity.encode import EncodedTable, TableEncoder
from synth.fidelity.metrics import finite_or_none, ks_complement, tv_complement

MAX_PAIR_CATEGORIES = 50
BINS = 10


@dataclass(frozen=True)
class PairPlan:
    """Which pairs are compared, how, and the real data's bins for numeric columns (fixed across sides)."""

    numeric_pairs: list[tuple[int, int]]
    categorical_pairs: list[tuple[int, int]]
    mixed_pairs: list[tuple[int, int]]        # (numeric j, categorical k)
    skipped: list[tuple[str, str, str]]       # (a, b, note)
    edges: list[np.ndarray]                   # per numeric column: inner bin edges from real deciles


def plan_pairs(encoder: TableEncoder, real: EncodedTable) -> PairPlan:
    p, q = len(encoder.numeric_specs), len(encoder.categorical_specs)
    wide = {k for k in range(q) if len(encoder.categories_[k]) > MAX_PAIR_CATEGORIES}
    edges = []
    for j in range(p):
        observed = real.numeric[:, j][~np.isnan(real.numeric[:, j])]
        edges.append(np.unique(np.quantile(observed, np.linspace(0, 1, BINS + 1)[1:-1])) if len(observed)
                     else np.zeros(0))
    numeric_pairs = [(a, b) for a in range(p) for b in range(a + 1, p)]
    categorical_pairs, mixed_pairs, skipped = [], [], []
    names_n, names_c = encoder.numeric_names, encoder.categorical_names
    note = f"skipped: more than {MAX_PAIR_CATEGORIES} categories"
    for a in range(q):
        for b in range(a + 1, q):
            if a in wide or b in wide:
                skipped.append((names_c[a], names_c[b], note))
            else:
                categorical_pairs.append((a, b))
    for j in range(p):
        for k in range(q):
            if k in wide:
                skipped.append((names_n[j], names_c[k], note))
            else:
                mixed_pairs.append((j, k))
    return PairPlan(numeric_pairs, categorical_pairs, mixed_pairs, skipped, edges)


def column_scores(encoder: TableEncoder, real: EncodedTable, other: EncodedTable) -> list[dict]:
    """Per column, in the encoder's order (numbers, then categories): similarity, missing rates, score."""
    out = []
    for j, spec in enumerate(encoder.numeric_specs):
        r, o = real.numeric[:, j], other.numeric[:, j]
        out.append(_entry(spec.name, "ks_complement", ks_complement(r, o),
                          float(np.isnan(r).mean()), float(np.isnan(o).mean())))
    for k, spec in enumerate(encoder.categorical_specs):
        r, o = real.codes[:, k], other.codes[:, k]
        size = encoder.n_codes(k)
        entry = _entry(spec.name, "tv_complement", tv_complement(r[r >= 0], o[o >= 0], size=size),
                       float((r < 0).mean()), float((o < 0).mean()))
        seen = np.unique(r[(r >= 0) & (r < size - 1)])  # the real categories present (not "other")
        entry["categories_real"] = int(len(seen))
        entry["categories_other"] = int(np.isin(seen, o).sum())
        out.append(entry)
    return out


def pair_scores(encoder: TableEncoder, plan: PairPlan, real: EncodedTable, other: EncodedTable) -> list[dict]:
    """One entry per compared pair: metric, real and other value (correlations), score."""
    out = []
    if plan.numeric_pairs:
        corr_r, corr_o = _pairwise_pearson(real.numeric), _pairwise_pearson(other.numeric)
        for a, b in plan.numeric_pairs:
            r, o = corr_r[a, b], corr_o[a, b]
            defined = np.isfinite(r) and np.isfinite(o)
            out.append({"columns": [encoder.numeric_names[a], encoder.numeric_names[b]], "metric": "correlation",
                        "real": finite_or_none(r), "other": finite_or_none(o),
                        "score": float(1 - abs(r - o) / 2) if defined else None,
                        "note": None if defined else "skipped: correlation undefined (a constant or empty column)"})
    for a, b in plan.categorical_pairs:
        size_b = encoder.n_codes(b) + 1
        joint_r = (real.codes[:, a] + 1) * size_b + (real.codes[:, b] + 1)
        joint_o = (other.codes[:, a] + 1) * size_b + (other.codes[:, b] + 1)
        score = tv_complement(joint_r, joint_o, size=(encoder.n_codes(a) + 1) * size_b)
        out.append({"columns": [encoder.categorical_names[a], encoder.categorical_names[b]], "metric": "contingency",
                    "real": None, "other": None, "score": score, "note": None})
    for j, k in plan.mixed_pairs:
        size_k = encoder.n_codes(k) + 1
        bins = len(plan.edges[j]) + 2  # deciles + missing
        joint_r = _binned(real.numeric[:, j], plan.edges[j]) * size_k + real.codes[:, k] + 1
        joint_o = _binned(other.numeric[:, j], plan.edges[j]) * size_k + other.codes[:, k] + 1
        out.append({"columns": [encoder.numeric_names[j], encoder.categorical_names[k]],
                    "metric": "binned_contingency", "real": None, "other": None,
                    "score": tv_complement(joint_r, joint_o, size=bins * size_k), "note": None})
    return out


def summarize(columns: list[dict], pairs: list[dict]) -> dict:
    """column_shapes, column_pairs (None without pairs) and overall (their mean)."""
    shapes = float(np.mean([c["score"] for c in columns])) if columns else None
    defined = [p["score"] for p in pairs if p["score"] is not None]
    pairs_score = float(np.mean(defined)) if defined else None
    parts = [s for s in (shapes, pairs_score) if s is not None]
    return {"column_shapes": shapes, "column_pairs": pairs_score,
            "overall": float(np.mean(parts)) if parts else None}


def compare(encoder: TableEncoder, plan: PairPlan, real: EncodedTable, other: EncodedTable) -> dict:
    columns = column_scores(encoder, real, other)
    pairs = pair_scores(encoder, plan, real, other)
    return {"columns": columns, "pairs": pairs, "summary": summarize(columns, pairs)}


def independent_columns(table: EncodedTable, rows: int, rng: np.random.Generator) -> EncodedTable:
    """Each column drawn on its own from `table`'s rows (with replacement): marginals kept, relations gone."""
    n = len(table)
    numeric = np.stack([table.numeric[rng.integers(0, n, rows), j] for j in range(table.numeric.shape[1])], 1) \
        if table.numeric.shape[1] else np.zeros((rows, 0))
    codes = np.stack([table.codes[rng.integers(0, n, rows), k] for k in range(table.codes.shape[1])], 1) \
        if table.codes.shape[1] else np.zeros((rows, 0), dtype=np.int64)
    return EncodedTable(numeric, codes)


# -- helpers ---------------------------------------------------------------------------------------------

def _entry(name: str, metric: str, similarity: float | None, missing_real: float, missing_other: float) -> dict:
    gap = abs(missing_real - missing_other)
    return {"name": name, "metric": metric, "similarity": similarity, "missing_rate_real": missing_real,
            "missing_rate_other": missing_other, "missing_rate_difference": gap,
            "score": (1.0 if similarity is None else similarity) * (1.0 - gap)}


def _binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index per value: 0 for missing, 1.. for the decile bins."""
    out = np.searchsorted(edges, values, side="right") + 1
    out[np.isnan(values)] = 0
    return out


def _pairwise_pearson(x: np.ndarray) -> np.ndarray:
    """(p, p) Pearson correlations over pairwise-complete rows; NaN where undefined. Matrix products only."""
    present = ~np.isnan(x)                            # (n, p)
    # standardize each column first: raw moments of large values (µs timestamps) would cancel badly
    x0 = np.where(present, x, 0.0)
    n = np.maximum(present.sum(axis=0), 1)
    mean = x0.sum(axis=0) / n
    std = np.sqrt(np.where(present, (x0 - mean) ** 2, 0.0).sum(axis=0) / n)
    z = np.where(present, (x0 - mean) / np.where(std > 0, std, 1.0), 0.0)
    weight = present.astype(np.float64)
    count = weight.T @ weight                         # (p, p) rows where both are present
    sum_a = z.T @ weight                              # Σ z_a over rows where b is present
    sum_sq = (z ** 2).T @ weight
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_a, sq_a = sum_a / count, sum_sq / count
        var_a = sq_a - mean_a ** 2
        cov = (z.T @ z) / count - mean_a * mean_a.T
        corr = cov / np.sqrt(var_a * var_a.T)
    corr[(count < 2) | (var_a < 1e-10) | (var_a.T < 1e-10)] = np.nan
    return np.clip(corr, -1.0, 1.0)

