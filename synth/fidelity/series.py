"""The time-series section of the fidelity report: does synthetic data keep the real temporal structure?

Input is long format (one row per step). Each score sits beside two reference points: `holdout` (unseen
real sequences against the real ones: about the best a model can reach) and `shuffled` (the real sequences,
steps permuted within each: marginals kept, temporal structure gone). A score *entry* is `{"synthetic": float,
"holdout": float | None, "shuffled": float}` in [0, 1], 1 meaning like real, None where undefined (no holdout,
too few values). The dict holds aggregates and curves only, never a row.
`synth.fidelity.render.render_series_html` renders it as HTML.

Keys of `series_report`'s dict (plain floats/ints/None, so `json.dumps(allow_nan=False)` works):

- `version` (1); `notes` (list of str: what was skipped and why). Each section has a `score` entry.
- `settings`: `max_lag`, `lags` (compared: min(max_lag, longest real sequence - 1)), `max_examples`, `seed`,
  `sampled` ({real, synthetic, holdout: bool | None}: that side had more sequences and was sampled).
- `counts`: `sequences`, `sequences_total`, `steps`: {real, synthetic, holdout: int | None}.
- `summary`: {section: entry} for each section below, and `overall`, the mean of the defined ones.
- `acf`: `lags`; `features`: {feature: {`curves` ({real, synthetic, holdout, shuffled: list of float | None,
  the mean over sequences of each one's autocorrelation}), `error` (mean over lags of |curve - real curve|,
  lower is better, up to 2), `score` (1 - error, clipped to [0, 1])}}; `error`: the mean over features
  of their errors (an entry whose `shuffled` side is the ACF error of a model that learned no temporal
  order: the baseline the quality gate's `max_acf_error_ratio` divides by).
- `correlation`: 1 - (mean |difference| of the upper triangle of the feature correlation matrix, all steps) / 2.
- `lengths`: `score` (1 - total variation of the length histograms), `stats` ({real, synthetic, holdout:
  {min, median, max}}), `histogram` (`edges`, and real, synthetic, holdout: counts per bin).
- `per_sequence`: `features`: {feature: {mean, std, min, max: entry}}: 1 - KS statistic between the
  distributions over sequences of that per-sequence statistic.
- `attributes`: `marginals`: {attribute: {`metric` ("tv_complement" | "ks_complement"), `score`}}.
- `dependence`: `pairs`: [{`attribute`, `feature`, `score`}] per discrete attribute and continuous feature:
  1 - min(error, 1), error the mean |difference| of the per-category mean of per-sequence means, in real
  feature std units, weighted by real category frequency (a category the side lacks counts as 1).
- `discrete_features`: `features`: {feature: {`frequencies`, `transitions`}}: 1 - total variation of the
  per-step categories and of the (step, next step) pairs.
- `discriminative`: `auc` (test AUC of a small MLP telling that side's sequences from real ones; 0.5 is
  best) and `score` (1 - 2 max(AUC - 0.5, 0)).
- `intervals`: {section: [low, high] or None} for acf, correlation, lengths, per_sequence, attributes,
  dependence and overall: the synthetic score ± 1.645 standard errors over 10 resamples of whole
  sequences of both sides (the classifier and discrete-feature scores held at their values).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats

from synth.errors import ConfigError, DataError
from synth.fidelity.metrics import MAX_CATEGORIES_FOR_ASSOCIATION, rank_auc, total_variation

REPORT_VERSION = 1
SIDES = ("synthetic", "holdout", "shuffled")  # what each score compares with real
STATISTICS = ("mean", "std", "min", "max")  # per-sequence statistics
MAX_LENGTH_BINS = 30  # one bin per length up to this many distinct lengths, then equal-width bins
CONSTANT_TOLERANCE = 1e-12  # centred sum of squares, relative to the raw one, below which a sequence is constant
HIDDEN_UNITS = 32
TRAINING_STEPS = 300  # full-batch Adam: converges on a few thousand vectors in a fraction of a second
LEARNING_RATE, WEIGHT_DECAY = 1e-2, 1e-3
TRAIN_FRACTION = 0.7


@dataclass(frozen=True)
class SeriesSpec:
    """Which columns of the long-format input play which part."""

    example_id: str                          # identifies a sequence
    time_column: str                         # orders the steps of a sequence (numbers or timestamps)
    attribute_columns: tuple[str, ...] = ()  # constant within a sequence
    feature_columns: tuple[str, ...] = ()    # varying over time; empty: every column with no other role


@dataclass(frozen=True)
class _Profile:
    """One side's sequences, steps in time order, with what the metrics need computed once."""

    codes: np.ndarray                  # (steps,) sequence index of each step, non-decreasing
    lengths: np.ndarray                # (N,) steps per sequence
    attributes: pd.DataFrame           # (N, A) one row per sequence; continuous attributes as float
    continuous: np.ndarray             # (steps, F) continuous features, NaN where missing
    discrete: pd.DataFrame             # (steps, D) discrete features
    statistics: dict[str, np.ndarray]  # STATISTICS name -> (N, F), NaN where a sequence has no values
    acf: np.ndarray                    # (N, F, L) autocorrelation at lags 1..L, 0 where undefined
    acf_defined: np.ndarray            # (N, F, L) the sequence is longer than the lag and not constant
    correlation: np.ndarray            # (F, F) over all steps, NaN where undefined


def series_report(real: pd.DataFrame, synthetic: pd.DataFrame, spec: SeriesSpec,
                  holdout: pd.DataFrame | None = None, max_lag: int = 24, max_examples: int = 5_000,
                  seed: int = 0) -> dict:
    """Compare synthetic sequences with real ones, beside a holdout and a time-shuffled baseline.

    Args:
        real: the training sequences, long format.
        synthetic: the generated sequences, same columns.
        spec: which column is the id, the time, the attributes and the features.
        holdout: real sequences the model never saw, or None (its entries are then None).
        max_lag: the largest autocorrelation lag compared.
        max_examples: sequences per side; a larger side is sampled down (seeded).
        seed: seeds every random choice: the same seed gives the same dict.

    Returns:
        A JSON-ready dict of aggregates and curves; its keys are in the module docstring.

    Raises:
        DataError: a column is missing on some side, or a side has no sequences.
        ConfigError: max_lag or max_examples below 1.
    """
    if max_lag < 1 or max_examples < 1:
        raise ConfigError(f"max_lag={max_lag} and max_examples={max_examples} must both be at least 1")
    spec = _resolve(spec, real)
    frames = {"real": real, "synthetic": synthetic, "holdout": holdout}
    read = {side: None if frame is None else _read(frame, spec, side, max_examples, np.random.default_rng([seed, i]))
            for i, (side, frame) in enumerate(frames.items())}
    kinds = {c: _is_continuous(read["real"][0][c]) for c in (*spec.attribute_columns, *spec.feature_columns)}
    lags = min(max_lag, int(read["real"][0][spec.example_id].value_counts().max()) - 1)
    profiles = {side: None if r is None else _profile(r[0], spec, kinds, side, lags) for side, r in read.items()}
    real_profile = profiles["real"]
    others = {"synthetic": profiles["synthetic"], "holdout": profiles["holdout"],
              "shuffled": _shuffled(real_profile, lags, np.random.default_rng([seed, 3]))}
    continuous = [c for c in spec.feature_columns if kinds[c]]
    attribute_kinds = {c: kinds[c] for c in spec.attribute_columns}
    notes = [] if len(continuous) >= 2 else ["fewer than two continuous features: no correlation score"]
    categorical = [n for n, c in attribute_kinds.items() if not c]
    grouped = [n for n in categorical if real_profile.attributes[n].nunique() <= MAX_CATEGORIES_FOR_ASSOCIATION]
    notes += [f"attribute {n!r} has more than {MAX_CATEGORIES_FOR_ASSOCIATION} categories: left out of the "
              "dependence and discriminative scores" for n in categorical if n not in grouped]
    sections = {
        "acf": _acf_section(real_profile, others, continuous, lags),
        "correlation": {"score": _entry(_correlation_score, real_profile, others)},
        "lengths": _length_section(real_profile, others),
        "per_sequence": _per_sequence_section(real_profile, others, continuous),
        "attributes": _attribute_section(real_profile, others, attribute_kinds),
        "dependence": _dependence_section(real_profile, others, grouped, continuous),
        "discrete_features": _discrete_section(real_profile, others),
        "discriminative": _discriminative_section(real_profile, others, grouped,
                                                  [n for n, c in attribute_kinds.items() if c], max_examples, seed),
    }
    summary = {name: section["score"] for name, section in sections.items()}
    summary["overall"] = _mean_entry(list(summary.values()))
    intervals = _intervals(read["real"][0], read["synthetic"][0], spec, kinds, lags, continuous, attribute_kinds,
                           grouped, summary, np.random.default_rng([seed, 4]))
    return {
        "version": REPORT_VERSION,
        "settings": {"max_lag": max_lag, "lags": lags, "max_examples": max_examples, "seed": seed,
                     "sampled": {side: None if r is None else r[1] for side, r in read.items()}},
        "counts": {"sequences": {s: None if p is None else len(p.lengths) for s, p in profiles.items()},
                   "sequences_total": {side: None if r is None else r[2] for side, r in read.items()},
                   "steps": {s: None if p is None else len(p.codes) for s, p in profiles.items()}},
        "summary": summary, "intervals": intervals, **sections, "notes": notes,
    }


class QuickSeriesScore:
    """A fast series score against one real side profiled once, for model selection during training:
    the mean of the synthetic scores of the ACF, correlation, lengths, per-sequence and attribute
    sections (no classifier, no discrete-feature transitions, no intervals)."""

    def __init__(self, real: pd.DataFrame, spec: SeriesSpec, max_lag: int = 24, max_examples: int = 5_000,
                 seed: int = 0):
        self.spec, self.max_examples, self.seed = _resolve(spec, real), max_examples, seed
        frame = _read(real, self.spec, "real", max_examples, np.random.default_rng([seed, 0]))[0]
        self.kinds = {c: _is_continuous(frame[c]) for c in (*self.spec.attribute_columns, *self.spec.feature_columns)}
        self.lags = min(max_lag, int(frame[self.spec.example_id].value_counts().max()) - 1)
        self.real = _profile(frame, self.spec, self.kinds, "real", self.lags)
        self.continuous = [c for c in self.spec.feature_columns if self.kinds[c]]

    def __call__(self, synthetic: pd.DataFrame) -> float:
        frame = _read(synthetic, self.spec, "synthetic", self.max_examples, np.random.default_rng([self.seed, 1]))[0]
        others = {"synthetic": _profile(frame, self.spec, self.kinds, "synthetic", self.lags),
                  "holdout": None, "shuffled": None}
        attributes = {c: self.kinds[c] for c in self.spec.attribute_columns}
        entries = [_acf_section(self.real, others, self.continuous, self.lags)["score"],
                   _entry(_correlation_score, self.real, others), _length_section(self.real, others)["score"],
                   _per_sequence_section(self.real, others, self.continuous)["score"],
                   _attribute_section(self.real, others, attributes)["score"]]
        defined = [e["synthetic"] for e in entries if e["synthetic"] is not None]
        return float(np.mean(defined)) if defined else 0.0


BOOTSTRAP_ROUNDS = 10  # resamples of whole sequences behind the intervals
RESAMPLED = ("acf", "correlation", "lengths", "per_sequence", "attributes", "dependence")


def _intervals(real: pd.DataFrame, synthetic: pd.DataFrame, spec: SeriesSpec, kinds: dict, lags: int,
               continuous: list[str], attribute_kinds: dict, grouped: list[str], summary: dict,
               rng: np.random.Generator) -> dict:
    """90 % intervals of the synthetic scores: ± 1.645 standard errors over resamples of whole sequences
    of both sides. The classifier and discrete-feature sections are held at their values (retraining the
    classifier per resample would cost more than the rest of the section)."""
    draws = {name: [] for name in (*RESAMPLED, "overall")}
    for _ in range(BOOTSTRAP_ROUNDS):
        r = _profile(_resample(real, spec.example_id, rng), spec, kinds, "real", lags)
        o = {"synthetic": _profile(_resample(synthetic, spec.example_id, rng), spec, kinds, "synthetic", lags),
             "holdout": None, "shuffled": None}
        scores = {
            "acf": _acf_section(r, o, continuous, lags)["score"],
            "correlation": _entry(_correlation_score, r, o),
            "lengths": _length_section(r, o)["score"],
            "per_sequence": _per_sequence_section(r, o, continuous)["score"],
            "attributes": _attribute_section(r, o, attribute_kinds)["score"],
            "dependence": _dependence_section(r, o, grouped, continuous)["score"],
        }
        parts = [scores[n]["synthetic"] if n in scores else summary[n]["synthetic"]
                 for n in summary if n != "overall"]
        for name, entry in scores.items():
            if entry["synthetic"] is not None:
                draws[name].append(entry["synthetic"])
        defined = [v for v in parts if v is not None]
        if defined:
            draws["overall"].append(float(np.mean(defined)))
    out = {}
    for name, values in draws.items():
        point = summary[name]["synthetic"]
        if point is None or len(values) < 2:
            out[name] = None
            continue
        half = 1.645 * float(np.std(values, ddof=1))
        out[name] = [max(point - half, 0.0), min(point + half, 1.0)]
    return out


def _resample(frame: pd.DataFrame, example_id: str, rng: np.random.Generator) -> pd.DataFrame:
    """Whole sequences drawn with replacement, each draw under a new id (the frame is sorted by id, time)."""
    codes, _ = pd.factorize(frame[example_id])
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[starts, len(codes)])
    chosen = rng.integers(0, len(starts), len(starts))
    rows = np.concatenate([np.arange(starts[c], starts[c] + lengths[c]) for c in chosen])
    out = frame.iloc[rows].copy()
    out[example_id] = np.repeat(np.arange(len(chosen)), lengths[chosen])
    return out


# ---- reading: each side's steps sorted by (id, time), with per-sequence statistics and ACF ----

def _resolve(spec: SeriesSpec, real: pd.DataFrame) -> SeriesSpec:
    named = {spec.example_id, spec.time_column, *spec.attribute_columns}
    features = spec.feature_columns or tuple(c for c in real.columns if c not in named)
    if not features:
        raise DataError("real data has no feature columns: every column is the id, the time or an attribute")
    return SeriesSpec(spec.example_id, spec.time_column, tuple(spec.attribute_columns), tuple(features))


def _read(frame: pd.DataFrame, spec: SeriesSpec, side: str, max_examples: int,
          rng: np.random.Generator) -> tuple[pd.DataFrame, bool, int]:
    """Check the columns, sample whole sequences down to `max_examples`, sort the steps by (id, time)."""
    for column in (spec.example_id, spec.time_column, *spec.attribute_columns, *spec.feature_columns):
        if column not in frame.columns:
            raise DataError(f"{side} data has no column {column!r} (it has {list(frame.columns)[:20]})")
    frame = frame[frame[spec.example_id].notna()]
    ids = np.asarray(pd.unique(frame[spec.example_id]), dtype=object)
    if len(ids) == 0:
        raise DataError(f"{side} data has no sequences: column {spec.example_id!r} has no values")
    if len(ids) > max_examples:
        frame = frame[frame[spec.example_id].isin(ids[rng.choice(len(ids), max_examples, replace=False)])]
    return frame.sort_values([spec.example_id, spec.time_column], kind="stable"), len(ids) > max_examples, len(ids)


def _is_continuous(series: pd.Series) -> bool:
    """Numbers (not booleans) and timestamps are continuous, as in `synth.schema.column_kind`."""
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return numeric or pd.api.types.is_datetime64_any_dtype(series)


def _as_float(series: pd.Series, side: str) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):  # seconds since the epoch
        return ((series - pd.Timestamp(0, tz=series.dt.tz)) / pd.Timedelta(seconds=1)).to_numpy(float)
    try:
        return pd.to_numeric(series).to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise DataError(f"{side} data: column {series.name!r} is not numeric, unlike the real one") from error


def _profile(frame: pd.DataFrame, spec: SeriesSpec, kinds: dict[str, bool], side: str, lags: int) -> _Profile:
    codes = pd.factorize(frame[spec.example_id])[0]  # rows are sorted by id: codes never decrease
    attributes = frame[list(spec.attribute_columns)].iloc[_starts(codes)].reset_index(drop=True)
    for name in spec.attribute_columns:
        if kinds[name]:
            attributes[name] = _as_float(attributes[name], side)
    names = [c for c in spec.feature_columns if kinds[c]]
    continuous = np.column_stack([_as_float(frame[c], side) for c in names]) if names else np.zeros((len(codes), 0))
    discrete = frame[[c for c in spec.feature_columns if not kinds[c]]].reset_index(drop=True)
    return _build(codes, attributes, continuous, discrete, lags)


def _starts(codes: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])


def _build(codes: np.ndarray, attributes: pd.DataFrame, continuous: np.ndarray, discrete: pd.DataFrame,
           lags: int) -> _Profile:
    starts = _starts(codes)
    lengths = np.diff(np.r_[starts, len(codes)])
    observed = ~np.isnan(continuous)                                    # (steps, F)
    counts = np.add.reduceat(observed.astype(float), starts, axis=0)    # (N, F)
    filled = np.where(observed, continuous, 0.0)
    means = _divide(np.add.reduceat(filled, starts, axis=0), counts)    # (N, F)
    centred = np.where(observed, continuous - means[codes], 0.0)        # (steps, F), missing steps add nothing
    squares = np.add.reduceat(centred ** 2, starts, axis=0)             # (N, F)
    statistics = {"mean": means, "std": np.sqrt(_divide(squares, counts)),  # fmin/fmax skip missing steps
                  "min": np.fmin.reduceat(continuous, starts, axis=0),
                  "max": np.fmax.reduceat(continuous, starts, axis=0)}
    varies = squares > CONSTANT_TOLERANCE * np.add.reduceat(filled ** 2, starts, axis=0)  # (N, F)
    defined = varies[:, :, None] & (lengths[:, None, None] > np.arange(1, lags + 1))        # (N, F, L)
    acf = np.where(defined, _autocorrelation(centred, codes, starts, squares, lags), 0.0)
    correlation = pd.DataFrame(continuous).corr(min_periods=2).to_numpy()
    return _Profile(codes, lengths, attributes, continuous, discrete, statistics, acf, defined, correlation)


def _autocorrelation(centred: np.ndarray, codes: np.ndarray, starts: np.ndarray, squares: np.ndarray,
                     lags: int) -> np.ndarray:
    """(N, F, L) autocorrelation of each sequence at lags 1..L, from steps laid end to end; NaN if constant."""
    sums = np.zeros(squares.shape + (lags,))                            # (N, F, L)
    for lag in range(1, lags + 1):
        product = np.zeros_like(centred)                                # (steps, F); pairs across sequences stay 0
        product[:-lag] = centred[:-lag] * centred[lag:] * (codes[lag:] == codes[:-lag])[:, None]
        sums[:, :, lag - 1] = np.add.reduceat(product, starts, axis=0)
    return _divide(sums, np.broadcast_to(squares[:, :, None], sums.shape))


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is not positive."""
    return np.divide(numerator, denominator, out=np.full(np.shape(numerator), np.nan), where=denominator > 0)


def _shuffled(real: _Profile, lags: int, rng: np.random.Generator) -> _Profile:
    """The real sequences with each one's steps in random order (whole steps move: features stay together)."""
    order = np.lexsort((rng.random(len(real.codes)), real.codes))
    return _build(real.codes, real.attributes, real.continuous[order], real.discrete.iloc[order].reset_index(drop=True),
                  lags)


# ---- sections ----

def _entry(score, real: _Profile, others: dict[str, _Profile | None]) -> dict:
    """{side: score(real, other)}; None for a side not given or a score that is undefined."""
    return {side: None if other is None else _plain(score(real, other)) for side, other in others.items()}


def _plain(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _mean_entry(entries: list[dict]) -> dict:
    values = {side: [e[side] for e in entries if e[side] is not None] for side in SIDES}
    return {side: float(np.mean(v)) if v else None for side, v in values.items()}


def _acf_section(real: _Profile, others: dict, names: list[str], lags: int) -> dict:
    features = {}
    for f, name in enumerate(names):
        curves = {"real": _curve(real, f), **{s: None if p is None else _curve(p, f) for s, p in others.items()}}
        error = {s: None if curves[s] is None else _curve_error(curves["real"], curves[s]) for s in SIDES}
        score = {s: None if e is None else float(np.clip(1.0 - e, 0.0, 1.0)) for s, e in error.items()}
        features[name] = {"curves": curves, "error": error, "score": score}
    return {"lags": list(range(1, lags + 1)), "features": features,
            "error": _mean_entry([v["error"] for v in features.values()]),
            "score": _mean_entry([v["score"] for v in features.values()])}


def _curve(profile: _Profile, f: int) -> list[float | None]:
    counts, sums = profile.acf_defined[:, f].sum(axis=0), profile.acf[:, f].sum(axis=0)  # (L,), (L,)
    return [float(s / c) if c else None for s, c in zip(sums, counts)]


def _curve_error(real: list, other: list) -> float | None:
    """Mean |other - real| over the lags both curves define (up to 2: autocorrelations lie in [-1, 1])."""
    gaps = [abs(a - b) for a, b in zip(real, other) if a is not None and b is not None]
    return float(np.mean(gaps)) if gaps else None


def _correlation_score(real: _Profile, other: _Profile) -> float | None:
    upper = np.triu_indices(real.correlation.shape[0], k=1)
    gaps = np.abs(real.correlation[upper] - other.correlation[upper])
    return 1.0 - np.nanmean(gaps) / 2 if (~np.isnan(gaps)).any() else None


def _length_section(real: _Profile, others: dict) -> dict:
    sides = {"real": real, "synthetic": others["synthetic"], "holdout": others["holdout"]}  # shuffled: real's
    every = np.concatenate([p.lengths for p in sides.values() if p is not None])
    low, high = int(every.min()), int(every.max())
    edges = (np.arange(low, high + 2) - 0.5 if high - low < MAX_LENGTH_BINS
             else np.linspace(low, high + 1, MAX_LENGTH_BINS + 1))

    def complement(real: _Profile, other: _Profile) -> float:
        shares = [np.histogram(p.lengths, edges)[0] / len(p.lengths) for p in (real, other)]
        return 1.0 - 0.5 * np.abs(shares[0] - shares[1]).sum()

    return {"score": _entry(complement, real, others),
            "stats": {s: None if p is None else {"min": int(p.lengths.min()), "median": float(np.median(p.lengths)),
                                                 "max": int(p.lengths.max())} for s, p in sides.items()},
            "histogram": {"edges": [float(e) for e in edges],
                          **{s: None if p is None else np.histogram(p.lengths, edges)[0].tolist()
                             for s, p in sides.items()}}}


def _per_sequence_section(real: _Profile, others: dict, names: list[str]) -> dict:
    features = {name: {stat: _entry(lambda r, o: _ks_complement(r.statistics[stat][:, f], o.statistics[stat][:, f]),
                                    real, others) for stat in STATISTICS} for f, name in enumerate(names)}
    return {"features": features, "score": _mean_entry([e for entries in features.values() for e in entries.values()])}


def _ks_complement(real: np.ndarray, other: np.ndarray) -> float | None:
    real, other = real[~np.isnan(real)], other[~np.isnan(other)]
    if real.size == 0:
        return None
    return 1.0 - float(stats.ks_2samp(real, other, method="asymp").statistic) if other.size else 0.0  # D, not p


def _tv_complement(real: pd.Series, other: pd.Series) -> float | None:
    real, other = real.dropna(), other.dropna()
    if real.empty:
        return None
    return 1.0 - total_variation(real, other) if not other.empty else 0.0


def _attribute_section(real: _Profile, others: dict, kinds: dict[str, bool]) -> dict:
    def score(name: str, continuous: bool):
        return lambda r, o: (_ks_complement(r.attributes[name].to_numpy(float), o.attributes[name].to_numpy(float))
                             if continuous else _tv_complement(r.attributes[name], o.attributes[name]))

    marginals = {name: {"metric": "ks_complement" if continuous else "tv_complement",
                        "score": _entry(score(name, continuous), real, others)} for name, continuous in kinds.items()}
    return {"marginals": marginals, "score": _mean_entry([m["score"] for m in marginals.values()])}


def _dependence_section(real: _Profile, others: dict, attributes: list[str], names: list[str]) -> dict:
    pairs = []
    for attribute in attributes:
        for f, feature in enumerate(names):
            values = real.continuous[:, f][~np.isnan(real.continuous[:, f])]
            scale = values.std() if values.size and values.std() > 0 else 1.0
            score = _entry(lambda r, o: _dependence_score(r, o, attribute, f, scale), real, others)
            pairs.append({"attribute": attribute, "feature": feature, "score": score})
    return {"pairs": pairs, "score": _mean_entry([p["score"] for p in pairs])}


def _dependence_score(real: _Profile, other: _Profile, attribute: str, f: int, scale: float) -> float | None:
    real_means = _category_means(real, attribute, f).dropna()
    if real_means.empty:
        return None
    gaps = (real_means - _category_means(other, attribute, f).reindex(real_means.index)).abs() / scale
    weights = real.attributes[attribute].value_counts().reindex(real_means.index).to_numpy(float)
    return 1.0 - min(float((gaps.fillna(1.0).to_numpy() * weights).sum() / weights.sum()), 1.0)


def _category_means(profile: _Profile, attribute: str, f: int) -> pd.Series:
    """Per category of `attribute`, the mean over sequences of the per-sequence mean of feature `f`."""
    return pd.Series(profile.statistics["mean"][:, f]).groupby(profile.attributes[attribute].to_numpy(object)).mean()


def _discrete_section(real: _Profile, others: dict) -> dict:
    def score(name: str, of):
        return lambda r, o: _tv_complement(of(r, name), of(o, name))

    features = {name: {"frequencies": _entry(score(name, lambda p, n: p.discrete[n]), real, others),
                       "transitions": _entry(score(name, _transitions), real, others)}
                for name in real.discrete.columns}
    return {"features": features, "score": _mean_entry([e for entries in features.values() for e in entries.values()])}


def _transitions(profile: _Profile, name: str) -> pd.Series:
    """'a -> b' for each pair of consecutive steps within a sequence."""
    values = profile.discrete[name].astype(str).to_numpy(dtype=object)
    same = profile.codes[1:] == profile.codes[:-1]
    return pd.Series(values[:-1][same] + " -> " + values[1:][same], dtype=object)


# ---- discriminative score ----

def _discriminative_section(real: _Profile, others: dict, categorical: list[str], continuous: list[str],
                            max_examples: int, seed: int) -> dict:
    categories = {n: np.asarray(real.attributes[n].dropna().unique(), dtype=object) for n in categorical}
    reference = _vectors(real, categories, continuous)
    auc = {}
    with _one_torch_thread():
        for index, (side, other) in enumerate(others.items()):
            rng = np.random.default_rng([seed, 10 + index])  # one per side: giving a holdout changes no other score
            auc[side] = None if other is None else _plain(_discriminator_auc(
                _standardize(reference, reference), _standardize(_vectors(other, categories, continuous), reference),
                max_examples, rng))
    return {"auc": auc, "score": {s: None if a is None else 1.0 - 2.0 * max(a - 0.5, 0.0) for s, a in auc.items()}}


def _vectors(profile: _Profile, categories: dict[str, np.ndarray], continuous: list[str]) -> np.ndarray:
    """(N, D): per-sequence statistics, ACF, length, continuous attributes and one-hot discrete ones."""
    n = len(profile.lengths)
    parts = [profile.statistics[s] for s in STATISTICS] + [profile.acf.reshape(n, -1), profile.lengths[:, None]]
    parts += [profile.attributes[name].to_numpy(float)[:, None] for name in continuous]
    parts += [profile.attributes[name].to_numpy(object)[:, None] == values[None, :]  # one-hot
              for name, values in categories.items()]
    return np.hstack([np.asarray(p, dtype=float) for p in parts])


def _standardize(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Centre and scale each column by the real vectors' mean and std; missing values become 0 (the mean)."""
    observed = ~np.isnan(reference)
    count = np.maximum(observed.sum(axis=0), 1)
    mean = np.where(observed, reference, 0.0).sum(axis=0) / count
    std = np.sqrt((np.where(observed, reference - mean, 0.0) ** 2).sum(axis=0) / count)
    scaled = (vectors - mean) / np.where(std > 0, std, 1.0)
    return np.where(np.isnan(scaled), 0.0, scaled)


def _discriminator_auc(real: np.ndarray, other: np.ndarray, max_examples: int,
                       rng: np.random.Generator) -> float | None:
    """Test AUC of an MLP trained on a balanced, seeded 70/30 split of real (0) against other (1) sequences."""
    n = min(len(real), len(other), max_examples)
    if n < 4:  # the training and the test split each need two of each class
        return None
    vectors = np.vstack([real[rng.choice(len(real), n, replace=False)],
                         other[rng.choice(len(other), n, replace=False)]])  # (2n, D) balanced
    labels = np.r_[np.zeros(n), np.ones(n)]
    train = np.zeros(2 * n, dtype=bool)
    for offset in (0, n):
        train[offset + rng.permutation(n)[: int(TRAIN_FRACTION * n)]] = True
    scores = _classifier_scores(vectors[train], labels[train], vectors[~train], int(rng.integers(2**31)))
    positive = labels[~train] == 1
    return rank_auc(scores, positive)


@contextmanager
def _one_torch_thread():
    """One intra-op thread for the tiny discriminator: as fast alone, and on a busy machine spinning OpenMP
    threads stall each other (weather data on 2 shared cores: 30 s with 2 threads, 2 s with 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _classifier_scores(train: np.ndarray, labels: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """Fit a one-hidden-layer MLP (full-batch Adam, CPU) and return its logits on `test`."""
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(train, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.float32)  # (n, D), (n,)
    hidden_w = (torch.randn(x.shape[1], HIDDEN_UNITS, generator=generator) / x.shape[1] ** 0.5).requires_grad_()
    output_w = (torch.randn(HIDDEN_UNITS, generator=generator) / HIDDEN_UNITS ** 0.5).requires_grad_()
    hidden_b, output_b = torch.zeros(HIDDEN_UNITS, requires_grad=True), torch.zeros((), requires_grad=True)

    def logits(inputs: torch.Tensor) -> torch.Tensor:
        return torch.relu(inputs @ hidden_w + hidden_b) @ output_w + output_b  # (n,)

    optimizer = torch.optim.Adam([hidden_w, hidden_b, output_w, output_b], lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    for _ in range(TRAINING_STEPS):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(logits(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        return logits(torch.as_tensor(test, dtype=torch.float32)).numpy()
