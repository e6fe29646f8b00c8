"""Scale maps for long-tailed numeric values: the scale a column's distribution is learned on.

A Gaussian mixture over a heavily skewed column spends its modes on the bulk and leaves the tail to
a few wide ones, and a generator's bounded output (tanh, 4 standard deviations of a mode) cannot
reach the far tail at all. A monotone map that makes the values roughly symmetric first fixes both,
and, being invertible, costs nothing in the round trip.

Maps (`TailMap`, `fit(x)`, `forward(x)`, `inverse(y)`, `state()`/`load_state()`):

- `none`: the identity.
- `log`: y = log(x + shift), for values ≥ 0 only (negatives are refused). shift is 0 when every value
  is positive (a lognormal becomes exactly normal) and half the smallest positive value when some are
  0, so zeros sit one step below the smallest positive values instead of at -inf.
- `quantile`: the empirical CDF at up to MAX_KNOTS quantiles (the minimum and maximum included),
  mapped to a standard normal score, with piecewise-linear interpolation between knots: monotone,
  and inverted by interpolating back. A constant (fewer than 2 distinct values) is refused.

Both directions clip to the fitted range, so `inverse` never leaves [min, max] of the fitted values,
and `inverse(forward(x))` is x up to float rounding for every x in that range.

The automatic rule (`Tail.AUTO`, `fit_tail`), on the values to be modelled (for a table column: its
continuous part, point masses removed):

1. |skewness| ≤ SKEW_LIMIT (2): `none`. Beyond 1 is the usual "highly skewed" line (Bulmer), but
   measured on diamonds (carat 1.1, price 1.6: 30 epochs, column shapes 0.934 on their own scale,
   0.913 with both on a log scale) the mixture's modes follow a moderate skew better than a map
   does; beyond 2 sit the tails that squash the rest (a 1,048 mph wind speed among values below 43,
   counts with a few very large ones), which the maps are for.
2. else, when every value is ≥ 0 and the log scale brings |skewness| to LOG_LIMIT (1) or less: `log`
   (amounts, prices, sizes: multiplicative spread, and a log scale keeps it readable).
3. else `quantile`: negatives, left skew, or a tail too heavy for a log (e.g. Pareto, or a log scale
   that is still skewed).

Skewness does not see symmetric heavy tails (a Student t with 2 degrees of freedom can have a sample
skewness near 0): force `quantile` for such a column in the config.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

from synth.configs import Tail, check_tail_settings  # noqa: F401  (their home)

SKEW_LIMIT = 2.0   # |sample skewness| up to this is left on its own scale
LOG_LIMIT = 1.0    # a log scale is taken when it brings |skewness| to this or less
MAX_KNOTS = 1000   # quantile map: knots at most (the CDF between them is linear)


@dataclass
class TailMap:
    """A fitted monotone map of 1-D values: `forward` to the modelled scale, `inverse` back."""

    kind: Tail = Tail.NONE
    low_: float = 0.0             # the fitted values' range: both directions clip to it
    high_: float = 0.0
    shift_: float = 0.0           # log: y = log(x + shift_)
    knots_: np.ndarray = field(default_factory=lambda: np.zeros(0))   # quantile: values, strictly ascending
    scores_: np.ndarray = field(default_factory=lambda: np.zeros(0))  # quantile: their normal scores
    skew_: tuple[float, float] = (0.0, 0.0)  # sample skewness before and after the map (diagnostics)

    def fit(self, x: np.ndarray) -> "TailMap":
        """Fit on the 1-D finite values `x`.

        Raises:
            ValueError: the map cannot take these values (log: a negative; quantile: fewer than 2
                distinct values); the message says why, for the caller to name its setting.
        """
        if self.kind is Tail.AUTO:
            raise ValueError("auto is a rule, not a map: use fit_tail")
        x = np.asarray(x, dtype=np.float64)
        self.low_, self.high_ = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
        if self.kind is Tail.LOG:
            if self.low_ < 0:
                raise ValueError(f"log needs values ≥ 0, but the minimum is {self.low_:.6g}")
            positive = x[x > 0]
            self.shift_ = 0.0 if self.low_ > 0 else (float(positive.min()) / 2 if len(positive) else 1.0)
        elif self.kind is Tail.QUANTILE:
            if self.low_ == self.high_:
                raise ValueError(f"quantile needs at least 2 distinct values, but every value is {self.low_:.6g}")
            self.knots_, self.scores_ = _quantile_knots(x)
        self.skew_ = (skewness(x), skewness(self.forward(x)))
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Values (clipped to the fitted range) on the modelled scale."""
        if self.kind is Tail.NONE:
            return np.asarray(x, dtype=np.float64)
        x = np.clip(x, self.low_, self.high_)
        if self.kind is Tail.LOG:
            return np.log(x + self.shift_)
        return np.interp(x, self.knots_, self.scores_)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Modelled values back on the original scale, inside the fitted range."""
        if self.kind is Tail.NONE:
            return np.asarray(y, dtype=np.float64)
        if self.kind is Tail.LOG:
            # clip first: exp of a far-off output would overflow (low_ + shift_ > 0: see fit)
            y = np.clip(y, np.log(self.low_ + self.shift_), np.log(self.high_ + self.shift_))
            return np.clip(np.exp(y) - self.shift_, self.low_, self.high_)
        return np.interp(y, self.scores_, self.knots_)  # outside the end scores: the end knots

    def describe(self) -> str:
        """In words, e.g. "log (skew 1.62 → 0.12)"."""
        if self.kind is Tail.NONE:
            return "none"
        return f"{self.kind.value} (skew {self.skew_[0]:.2f} → {self.skew_[1]:.2f})"

    def state(self) -> dict:
        return {"kind": self.kind.value, "low": self.low_, "high": self.high_, "shift": self.shift_,
                "knots": self.knots_.tolist(), "scores": self.scores_.tolist(), "skew": list(self.skew_)}

    def load_state(self, state: dict) -> "TailMap":
        self.kind = Tail(state["kind"])
        self.low_, self.high_, self.shift_ = state["low"], state["high"], state["shift"]
        self.knots_, self.scores_ = np.asarray(state["knots"]), np.asarray(state["scores"])
        self.skew_ = tuple(state["skew"])
        return self


def fit_tail(x: np.ndarray, asked: Tail = Tail.AUTO) -> TailMap:
    """The map `asked` for, fitted on `x`; with AUTO, the rule's choice (see the module docstring).

    Raises:
        ValueError: a forced map cannot take these values (see `TailMap.fit`).
    """
    if asked is not Tail.AUTO:
        return TailMap(asked).fit(x)
    identity = TailMap(Tail.NONE).fit(x)
    if abs(identity.skew_[0]) <= SKEW_LIMIT:
        return identity
    if identity.low_ >= 0:
        log = TailMap(Tail.LOG).fit(x)
        if abs(log.skew_[1]) <= LOG_LIMIT:
            return log
    return TailMap(Tail.QUANTILE).fit(x)


def skewness(x: np.ndarray) -> float:
    """Sample skewness m3 / m2^1.5 (0 for fewer than 3 values or no spread)."""
    if len(x) < 3:
        return 0.0
    centred = x - x.mean()
    m2 = float(np.mean(centred**2))
    return float(np.mean(centred**3) / m2**1.5) if m2 > 0 else 0.0


def _quantile_knots(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strictly ascending (knots, normal scores): the values at evenly spaced quantile levels in [0, 1]
    (observed values, never in between), each scored at the mean level it holds: a value held by many
    rows covers many levels and sits in the middle of its step of the CDF."""
    levels = np.linspace(0.0, 1.0, min(MAX_KNOTS, len(x)))
    knots, group = np.unique(np.quantile(x, levels, method="inverted_cdf"), return_inverse=True)
    level = np.bincount(group, weights=levels) / np.bincount(group)
    n = len(x)
    return knots, ndtri((level * (n - 1) + 0.5) / n)  # levels 0 and 1 → half a row inside (0, 1): finite
