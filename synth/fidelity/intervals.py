"""The 90 % intervals the report puts beside its numbers, each computed one way in one place.

- `spread_interval`: a score ± 1.645 standard deviations of its resampled values (their bootstrap
  standard error): the table, structure and series scores. Resampling with replacement adds ties that
  bias these similarity scores downwards, so the spread is used, not the resampled percentiles.
- `percentile_interval`: the 5th and 95th percentiles of a statistic over resamples of the test rows,
  the fitted model held fixed: the detection AUC (`resampled_auc_interval`) and the utility R².
- `share_interval`: a share ± 1.645 standard errors (normal approximation): utility accuracy,
  privacy's exact-copy rate and holdout share.
- `hanley_mcneil_interval`: an AUC ± 1.645 Hanley–McNeil standard errors: the membership-inference
  AUC, whose two sides are distances, not a model's scores on test rows.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from synth.fidelity.metrics import rank_auc

Z90 = 1.645  # the standard normal's 95th percentile: ± this many standard errors is a 90 % interval


def spread_interval(point: float | None, draws: list[float]) -> list[float] | None:
    """point ± 1.645 sample standard deviations of `draws`, within [0, 1]; None without a point or 2 draws."""
    if point is None or len(draws) < 2:
        return None
    half = Z90 * float(np.std(draws, ddof=1))
    return [max(point - half, 0.0), min(point + half, 1.0)]


def share_interval(share: float, n: int) -> list[float] | None:
    """share ± 1.645 standard errors of a share measured on n rows, within [0, 1]; None without rows."""
    if n < 1:
        return None
    half = Z90 * float(np.sqrt(share * (1 - share) / n))
    return [max(share - half, 0.0), min(share + half, 1.0)]


def percentile_interval(statistic: Callable[[np.ndarray], float | None], n: int, rng: np.random.Generator,
                        rounds: int) -> list[float] | None:
    """5th and 95th percentiles of `statistic(rows)` over `rounds` resamples (with replacement) of n rows;
    resamples where it is None are left out, and None when every one is."""
    draws = [statistic(rows) for rows in (rng.integers(0, n, n) for _ in range(rounds))]
    draws = [d for d in draws if d is not None]
    if not draws:
        return None
    return [float(np.percentile(draws, 5)), float(np.percentile(draws, 95))]


def resampled_auc_interval(scores: np.ndarray, positive: np.ndarray, rng: np.random.Generator,
                           rounds: int) -> list[float] | None:
    """`percentile_interval` of the test AUC (the model fixed); a resample with one class is left out."""
    def auc(rows: np.ndarray) -> float | None:
        labels = positive[rows]
        return None if labels.all() or not labels.any() else rank_auc(scores[rows], labels)

    return percentile_interval(auc, len(scores), rng, rounds)


def hanley_mcneil_interval(auc: float | None, n_pos: int, n_neg: int) -> list[float] | None:
    """auc ± 1.645 standard errors by Hanley and McNeil (1982), within [0, 1]; None without an AUC or a side."""
    if auc is None or n_pos < 1 or n_neg < 1:
        return None
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc ** 2) + (n_neg - 1) * (q2 - auc ** 2)) / (n_pos * n_neg)
    half = Z90 * float(np.sqrt(max(variance, 0.0)))
    return [max(auc - half, 0.0), min(auc + half, 1.0)]
