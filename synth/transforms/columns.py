"""Per-column encoders. Each turns one Arrow column into a block of the encoded matrix and back.

- `NumericColumn`: integers, floats, decimals, dates and timestamps. Values that pile up on a few
  exact points (zero amounts, caps, defaults) are point masses, kept as states of a one-hot
  [continuous, point 1, ..., point k, missing] that come back as exactly those values. The other
  values become floats (times as counts of their coarsest exact unit), then mode-specific
  normalization: a Bayesian Gaussian mixture picks the modes, each value is a scalar within its
  mode plus a one-hot of the mode. A long-tailed continuous part is first put on a log or quantile
  scale (`synth.transforms.tails`). Integers come back rounded and inside the continuous part's
  range; times come back on their unit grid, in the input's exact Arrow type.
- `CategoricalColumn` (synth.transforms.categorical): strings, dictionaries and booleans, one-hot,
  with missing as a category.
A column with a single value (and no missing) has width 0 and comes back constant.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.transforms.layout import SpanKind
from synth.transforms.modes import fit_modes, sample_modes
from synth.transforms.points import exact_keys, point_masses, point_states, refuse_transform
from synth.transforms.tails import Tail, TailMap, fit_tail

MAX_CATEGORIES = 100_000  # distinct values a categorical column may have; more is refused


class IdentifierColumnWarning(UserWarning):
    """A string column with about one distinct value per row: likely an ID, not a category."""


_TIME_UNITS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)  # day .. ns, in ns
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@dataclass(frozen=True)
class BlockSpan:
    """A span relative to its column's block."""

    kind: SpanKind
    width: int
    role: str


@dataclass
class NumericColumn:
    """A number, date or timestamp column: point masses as states, the rest by mode-specific normalization.

    Values that each hold at least `point_share` of the observed rows (a zero amount, a cap, a default)
    are point masses: the state one-hot says "continuous, on point i, or missing", and a row on a
    point comes back as exactly that value. The scalar and mode one-hot encode the continuous rest;
    rows off it carry the centre of the mode their value falls in (scalar 0), ignored when decoding.

    The mixture is fitted on the continuous part after a scale map (`tail`, see
    `synth.transforms.tails`): `auto` applies the rule there (|skewness| ≤ 1: none; else log where
    every value is ≥ 0 and the log scale has |skewness| ≤ 1; else quantile); `none`, `log` and
    `quantile` force one. Dates and times are never mapped (forcing a map on one is a DataError), and
    neither is a constant continuous part. Decoded values are mapped back, then clipped and rounded.
    """

    name: str
    arrow_type: pa.DataType
    max_modes: int = 10
    weight_threshold: float = 0.005
    fit_rows: int = 250_000
    point_share: float = 0.05     # a value held by this share of the observed rows or more is a point mass
    max_points: int = 10          # point masses at most (the heaviest); 0: none
    tail: Tail = Tail.AUTO        # the continuous part's scale: auto (the rule), none, log or quantile
    # fitted state
    points_: np.ndarray = field(default_factory=lambda: np.zeros(0))  # exact values, ascending: int64 for
    #                               integers and times (raw, in the type's unit), float64 otherwise
    has_continuous_: bool = True  # some observed values are off the points
    has_missing_: bool = False
    state_counts_: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # fit rows per state
    offset_: float = 0.0          # continuous values are raw - offset (times: counts of time_step_ past origin_)
    origin_: int = 0              # times: raw = origin + count * time_step, in exact int64
    time_step_: int = 1
    low_: float = 0.0             # range of the continuous part (raw; times in counts): decoded values stay in it
    high_: float = 0.0
    means_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stds_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weights_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tail_: TailMap = field(default_factory=TailMap)  # maps raw values to the mixture's scale (none: _scaled)

    @property
    def is_time(self) -> bool:
        return pa.types.is_timestamp(self.arrow_type) or pa.types.is_date(self.arrow_type)

    @property
    def is_integer(self) -> bool:
        return pa.types.is_integer(self.arrow_type) or self.is_time

    @property
    def n_modes(self) -> int:
        return len(self.means_)

    @property
    def n_states(self) -> int:
        """States of a value, in this order: [continuous] + one per point + [missing]."""
        return int(self.has_continuous_) + len(self.points_) + int(self.has_missing_)

    @property
    def spans(self) -> list[BlockSpan]:
        out = []
        if self.n_modes:
            out += [BlockSpan(SpanKind.SCALAR, 1, "value"), BlockSpan(SpanKind.ONE_HOT, self.n_modes, "mode")]
        if self.n_states > 1:
            out.append(BlockSpan(SpanKind.ONE_HOT, self.n_states, "state"))
        return out

    def _read(self, column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """(exact values, missing mask): int64 for integers and times (raw), float64 otherwise."""
        missing = column.is_null().to_numpy(zero_copy_only=False)
        if self.is_integer:
            storage = pa.int32() if pa.types.is_date32(self.arrow_type) else pa.int64()
            # unchecked: uint64 past int64's range wraps, one-to-one, and wraps back when decoded
            ints = pc.fill_null(pc.cast(column, storage, safe=False), 0)
            return ints.to_numpy(zero_copy_only=False).astype(np.int64), missing
        values = pc.fill_null(pc.cast(column, pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        nan = np.isnan(values)  # a float NaN (not null) is missing too: it comes back as null
        if nan.any():
            missing, values = missing | nan, np.where(nan, 0.0, values)
        return values, missing

    def _scaled(self, exact: np.ndarray) -> np.ndarray:
        """Exact values as floats on the continuous part's scale (times: counts of time_step_ past origin_)."""
        if self.is_time:  # subtract and divide in int64 first: ns since 1970 do not fit float64's 53 bits
            return ((exact - self.origin_) // self.time_step_).astype(np.float64) - self.offset_
        return exact.astype(np.float64) - self.offset_

    def _to_mixture_scale(self, exact: np.ndarray) -> np.ndarray:
        """Exact values on the mixture's scale: `_scaled`, or the tail map of the raw values."""
        if self.tail_.kind is Tail.NONE:
            return self._scaled(exact)
        return self.tail_.forward(exact.astype(np.float64))

    def _from_mixture_scale(self, x: np.ndarray) -> np.ndarray:
        """The mixture's scale back to raw values (times: counts), before clipping and rounding."""
        if self.tail_.kind is Tail.NONE:
            return x + self.offset_
        return self.tail_.inverse(x)

    def _on_points(self, exact: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """(N,) whether each value is exactly one of the points."""
        return np.isin(exact_keys(exact), exact_keys(self.points_)) & ~missing

    def _states(self, exact: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """(N,) index of each value's state: continuous, on a point, or missing."""
        state = point_states(exact, self.points_, self.has_continuous_)
        if self.has_missing_:
            state[missing] = self.n_states - 1
        return state

    def check_tail(self) -> None:
        """What `tail` asks of the column's type alone: a date or time is never mapped (DataError)."""
        if self.is_time and self.tail not in (Tail.AUTO, Tail.NONE):
            self._refuse_tail("it is a date/time column, which is never transformed (it keeps its exact unit "
                              "grid)", "remove it from model.column_transforms")

    def fit(self, column: pa.ChunkedArray, rng: np.random.Generator) -> None:
        self.check_tail()
        exact, missing = self._read(column)
        observed = np.flatnonzero(~missing)
        self.points_ = point_masses(exact[_subsample(observed, self.fit_rows, rng)], self.point_share,
                                    self.max_points)
        rest = np.flatnonzero(~missing & ~self._on_points(exact, missing))
        self.has_continuous_, self.has_missing_ = len(rest) > 0, bool(missing.any())
        self.state_counts_ = np.bincount(self._states(exact, missing), minlength=self.n_states)
        self.offset_, self.origin_, self.time_step_ = 0.0, 0, 1
        if self.is_time and len(rest):  # the grid of the continuous part (points are kept exactly)
            self.origin_ = int(exact[rest].min())
            self.time_step_ = _time_step(exact[rest] - self.origin_, self.arrow_type)
        x = self._scaled(exact[rest])
        self.low_, self.high_ = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
        self.offset_ = self.low_
        self.tail_ = TailMap()
        if self.low_ == self.high_:
            if self.tail is Tail.QUANTILE:
                self._refuse_tail("quantile needs at least 2 distinct values, but " + self._constant_part(len(rest)))
            self.means_, self.stds_, self.weights_ = np.zeros(0), np.zeros(0), np.zeros(0)
            return
        fitted = exact[_subsample(rest, self.fit_rows, rng)]
        if not self.is_time:
            self._fit_tail(np.append(fitted.astype(np.float64), [self.low_, self.high_]))  # the whole range
        x = self._to_mixture_scale(fitted)
        self.means_, self.stds_, self.weights_ = fit_modes(x, self.max_modes, self.weight_threshold)

    def _constant_part(self, continuous_rows: int) -> str:
        if continuous_rows:
            return f"the continuous part (the values off its point masses) is the constant {self.low_:.6g}"
        if len(self.points_) == 1:
            return f"the column is the constant {self.points_[0]:.6g}"
        return f"every value is one of its {len(self.points_)} point masses"

    def _fit_tail(self, x: np.ndarray) -> None:
        """The scale map of the continuous part (raw floats, with its extremes)."""
        if self.is_integer and max(abs(self.low_), abs(self.high_)) >= 2**53:  # floats lose such integers
            if self.tail in (Tail.LOG, Tail.QUANTILE):
                self._refuse_tail(f"its values reach {max(abs(self.low_), abs(self.high_)):.6g}, past the 2^53 "
                                  "a float holds exactly, so the round trip could not be exact")
            return
        try:
            self.tail_ = fit_tail(x, self.tail)
        except ValueError as e:
            self._refuse_tail(f"in the continuous part (the values off its point masses), {e}")

    def _refuse_tail(self, cause: str, advice: str = "choose another transform, or auto") -> None:
        raise refuse_transform(self.name, self.tail, "column", cause, advice)

    @property
    def condition_counts(self) -> np.ndarray:
        """Rows per state, for conditioning on the state span like on a category."""
        return self.state_counts_

    def condition_codes(self, column: pa.ChunkedArray) -> np.ndarray:
        """Each value's state: its category in the state span."""
        return self._states(*self._read(column))

    def point_codes(self, column: pa.ChunkedArray) -> np.ndarray:
        """Each value's state where it is a point mass, -1 elsewhere (continuous or missing)."""
        exact, missing = self._read(column)
        return np.where(self._on_points(exact, missing), self._states(exact, missing), -1)

    def transform(self, column: pa.ChunkedArray, rng: np.random.Generator) -> np.ndarray:
        exact, missing = self._read(column)
        state = self._states(exact, missing)
        blocks = []
        if self.n_modes:
            x = self._to_mixture_scale(exact)
            mode = sample_modes(x, self.means_, self.stds_, self.weights_, rng)  # (N,)
            scalar = (x - self.means_[mode]) / (4 * self.stds_[mode])  # not clipped: exactly invertible
            scalar[state != 0] = 0.0  # off the continuous part (state 0): the mode's centre, never decoded
            blocks += [scalar[:, None], np.eye(self.n_modes)[mode]]
        if self.n_states > 1:
            blocks.append(np.eye(self.n_states)[state])
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(exact), 0))

    def inverse(self, block: np.ndarray) -> pa.Array:
        n = len(block)
        state = block[:, -self.n_states:].argmax(1) if self.n_states > 1 else np.zeros(n, dtype=np.int64)
        if self.n_modes:
            mode = block[:, 1:1 + self.n_modes].argmax(1)
            x = block[:, 0] * 4 * self.stds_[mode] + self.means_[mode]
        else:
            x = np.zeros(n)
        values = np.clip(self._from_mixture_scale(x), self.low_, self.high_)
        if self.is_integer:
            values = np.round(values)
        if self.is_integer:
            values = values.astype(np.int64)
            if self.is_time:  # back onto the data's time grid, in exact int64
                values = values * self.time_step_ + self.origin_
        point = state - int(self.has_continuous_)  # an index into points_ on a point
        on_point = (point >= 0) & (point < len(self.points_))
        if on_point.any():
            values = np.where(on_point, self.points_[np.where(on_point, point, 0)], values)
        missing = state == self.n_states - 1 if self.has_missing_ else np.zeros(n, dtype=bool)
        if self.is_integer:
            storage = pa.int32() if pa.types.is_date32(self.arrow_type) else pa.int64()
            return pa.array(values, mask=missing).cast(storage, safe=False).cast(self.arrow_type, safe=False)
        return pa.array(values, mask=missing).cast(self.arrow_type)

    def state(self) -> dict:
        return {"points": self.points_.tolist(), "has_continuous": self.has_continuous_,
                "has_missing": self.has_missing_, "state_counts": self.state_counts_.tolist(),
                "offset": self.offset_, "origin": self.origin_, "time_step": self.time_step_,
                "low": self.low_, "high": self.high_, "means": self.means_.tolist(), "stds": self.stds_.tolist(),
                "weights": self.weights_.tolist(), "tail": self.tail_.state()}

    def load_state(self, state: dict) -> None:
        self.points_ = np.asarray(state.get("points", []), dtype=np.int64 if self.is_integer else np.float64)
        self.has_continuous_, self.has_missing_ = state.get("has_continuous", True), state["has_missing"]
        # a model saved before point masses: [observed, missing] counts, missing only when it has a span
        counts = state["state_counts"] if "state_counts" in state else state["missing_counts"][:1 + self.has_missing_]
        self.state_counts_ = np.asarray(counts, dtype=np.int64)
        self.offset_ = state["offset"]
        self.origin_, self.time_step_ = int(state["origin"]), int(state["time_step"])
        self.low_, self.high_ = state["low"], state["high"]
        self.means_, self.stds_ = np.asarray(state["means"]), np.asarray(state["stds"])
        self.weights_ = np.asarray(state["weights"])
        self.tail_ = TailMap().load_state(state["tail"]) if "tail" in state else TailMap()  # none before tails


def _time_step(relative: np.ndarray, arrow_type: pa.DataType) -> int:
    """Coarsest unit (day, hour, ..., ns), in the column's own unit, that every value is a multiple of."""
    if pa.types.is_date32(arrow_type):
        return 1
    per_unit = _UNIT_NS[arrow_type.unit] if pa.types.is_timestamp(arrow_type) else 10**6  # date64 is ms
    ints = relative.astype(np.int64)
    for unit_ns in _TIME_UNITS:
        if unit_ns % per_unit == 0:
            step = unit_ns // per_unit
            if not np.any(ints % step):
                return int(step)
    return 1


def _subsample(rows: np.ndarray, most: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(rows, most, replace=False) if len(rows) > most else rows
