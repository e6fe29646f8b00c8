"""A 1-D variational Gaussian mixture with a Dirichlet-process prior, fitted on weighted points.

Mode-specific normalization only ever needs one-dimensional mixtures, so this replaces a general
N-dimensional implementation (scikit-learn's BayesianGaussianMixture) with vectorized 1-D updates
on the column's distinct values weighted by their counts — the same fixed point, a fraction of the
work. Columns with very many distinct values are first reduced to equal-count bins.

Model: stick-breaking weights with concentration `concentration`; Normal-Gamma priors on each
component's mean and precision centred on the data (the priors scikit-learn uses by default).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma


@dataclass(frozen=True)
class Mixture:
    means: np.ndarray    # (K,)
    stds: np.ndarray     # (K,)
    weights: np.ndarray  # (K,) summing to 1


def fit_mixture(x: np.ndarray, max_components: int = 10, concentration: float = 1e-3,
                max_iter: int = 100, tol: float = 1e-6, max_points: int = 20_000) -> Mixture:
    """Fit the mixture to the 1-D sample `x` (no NaN)."""
    points, counts = _compress(np.asarray(x, dtype=np.float64), max_points)
    k = int(min(max_components, len(points)))
    n = counts.sum()
    mean0 = float((points * counts).sum() / n)
    var0 = float((counts * (points - mean0) ** 2).sum() / n) or 1.0
    resp = _initial_responsibilities(points, counts, k)
    previous = None
    for _ in range(max_iter):
        post = _m_step(points, counts, resp, mean0, var0, concentration)
        resp = _e_step(points, post)
        state = np.concatenate([post["m"], post["n_k"] / n])
        if previous is not None and np.max(np.abs(state - previous)) < tol * (1 + np.abs(previous).max()):
            break
        previous = state
    post = _m_step(points, counts, resp, mean0, var0, concentration)
    alpha, beta = post["alpha"], post["beta"]
    total = alpha + beta
    weights = alpha / total * np.concatenate([[1.0], np.cumprod(beta[:-1] / total[:-1])])
    stds = np.sqrt(post["w_inv"] / post["nu"])
    return Mixture(post["m"], stds, weights / weights.sum())


def _compress(x: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values with counts; past `max_points` distinct values, equal-count bins (bin means)."""
    values, counts = np.unique(x, return_counts=True)
    if len(values) <= max_points:
        return values, counts.astype(np.float64)
    ordered = np.sort(x)
    edges = np.linspace(0, len(ordered), max_points + 1).astype(np.int64)
    sums = np.add.reduceat(ordered, edges[:-1])
    sizes = np.diff(edges).astype(np.float64)
    return sums / sizes, sizes


def _initial_responsibilities(points: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """Hard assignments from a few 1-D k-means iterations started at weighted quantiles."""
    cdf = np.cumsum(counts) / counts.sum()
    centers = np.interp((np.arange(k) + 0.5) / k, cdf, points)
    for _ in range(10):
        label = np.abs(points[:, None] - centers[None, :]).argmin(1)
        mass = np.bincount(label, weights=counts, minlength=k)
        sums = np.bincount(label, weights=counts * points, minlength=k)
        centers = np.where(mass > 0, sums / np.maximum(mass, 1e-12), centers)
    return np.eye(k)[label]


def _m_step(points, counts, resp, mean0, var0, concentration) -> dict:
    w = resp * counts[:, None]                       # (P, K)
    n_k = w.sum(0) + 10 * np.finfo(float).eps        # (K,)
    xbar = (w * points[:, None]).sum(0) / n_k
    s_k = (w * (points[:, None] - xbar) ** 2).sum(0) / n_k
    beta0, nu0 = 1.0, 1.0
    beta_k = beta0 + n_k
    m = (beta0 * mean0 + n_k * xbar) / beta_k
    nu = nu0 + n_k
    w_inv = var0 + n_k * s_k + beta0 * n_k / beta_k * (xbar - mean0) ** 2
    tail = np.concatenate([np.cumsum(n_k[::-1])[-2::-1], [0.0]])  # Σ_{j>k} n_j
    return {"n_k": n_k, "m": m, "beta_k": beta_k, "nu": nu, "w_inv": w_inv,
            "alpha": 1.0 + n_k, "beta": concentration + tail}


def _e_step(points, post) -> np.ndarray:
    alpha, beta = post["alpha"], post["beta"]
    d_sum = digamma(alpha + beta)
    log_weight = digamma(alpha) - d_sum + np.concatenate([[0.0], np.cumsum(digamma(beta) - d_sum)[:-1]])
    precision = post["nu"] / post["w_inv"]            # E[λ]
    log_precision = digamma(post["nu"] / 2) + np.log(2 / post["w_inv"])  # E[log λ]
    sq = (points[:, None] - post["m"][None, :]) ** 2  # (P, K)
    log_rho = log_weight + 0.5 * log_precision - 0.5 * (1 / post["beta_k"] + precision * sq)
    log_rho -= log_rho.max(1, keepdims=True)
    rho = np.exp(log_rho)
    return rho / rho.sum(1, keepdims=True)
