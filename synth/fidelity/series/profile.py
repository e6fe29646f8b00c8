"""Reading one side of a time-series comparison: each side's steps sorted by (id, time), profiled once
with what the series metrics need (per-sequence statistics, autocorrelations, the correlation matrix)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.errors import DataError

STATISTICS = ("mean", "std", "min", "max")  # per-sequence statistics
CONSTANT_TOLERANCE = 1e-12  # centred sum of squares, relative to the raw one, below which a sequence is constant


@dataclass(frozen=True)
class SeriesSpec:
    """Which columns of the long-format input play which part."""

    example_id: str                          # identifies a sequence
    time_column: str                         # orders the steps of a sequence (numbers or timestamps)
    attribute_columns: tuple[str, ...] = ()  # constant within a sequence
    feature_columns: tuple[str, ...] = ()    # varying over time; empty: every column with no other role


@dataclass(frozen=True)
class Profile:
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


def resolve_spec(spec: SeriesSpec, real: pd.DataFrame) -> SeriesSpec:
    named = {spec.example_id, spec.time_column, *spec.attribute_columns}
    features = spec.feature_columns or tuple(c for c in real.columns if c not in named)
    if not features:
        raise DataError("real data has no feature columns: every column is the id, the time or an attribute")
    return SeriesSpec(spec.example_id, spec.time_column, tuple(spec.attribute_columns), tuple(features))


def read_side(frame: pd.DataFrame, spec: SeriesSpec, side: str, max_examples: int,
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


def is_continuous(series: pd.Series) -> bool:
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


def profile_side(frame: pd.DataFrame, spec: SeriesSpec, kinds: dict[str, bool], side: str, lags: int) -> Profile:
    codes = pd.factorize(frame[spec.example_id])[0]  # rows are sorted by id: codes never decrease
    attributes = frame[list(spec.attribute_columns)].iloc[sequence_starts(codes)].reset_index(drop=True)
    for name in spec.attribute_columns:
        if kinds[name]:
            attributes[name] = _as_float(attributes[name], side)
    names = [c for c in spec.feature_columns if kinds[c]]
    continuous = np.column_stack([_as_float(frame[c], side) for c in names]) if names else np.zeros((len(codes), 0))
    discrete = frame[[c for c in spec.feature_columns if not kinds[c]]].reset_index(drop=True)
    return _build(codes, attributes, continuous, discrete, lags)


def sequence_starts(codes: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])


def _build(codes: np.ndarray, attributes: pd.DataFrame, continuous: np.ndarray, discrete: pd.DataFrame,
           lags: int) -> Profile:
    starts = sequence_starts(codes)
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
    return Profile(codes, lengths, attributes, continuous, discrete, statistics, acf, defined, correlation)


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


def shuffled(real: Profile, lags: int, rng: np.random.Generator) -> Profile:
    """The real sequences with each one's steps in random order (whole steps move: features stay together)."""
    order = np.lexsort((rng.random(len(real.codes)), real.codes))
    return _build(real.codes, real.attributes, real.continuous[order], real.discrete.iloc[order].reset_index(drop=True),
                  lags)


def resample(frame: pd.DataFrame, example_id: str, rng: np.random.Generator) -> pd.DataFrame:
    """Whole sequences drawn with replacement, each draw under a new id (the frame is sorted by id, time)."""
    codes, _ = pd.factorize(frame[example_id])
    starts = sequence_starts(codes)
    lengths = np.diff(np.r_[starts, len(codes)])
    chosen = rng.integers(0, len(starts), len(starts))
    rows = np.concatenate([np.arange(starts[c], starts[c] + lengths[c]) for c in chosen])
    out = frame.iloc[rows].copy()
    out[example_id] = np.repeat(np.arange(len(chosen)), lengths[chosen])
    return out
