"""The sections of the time-series report, each scoring the synthetic, holdout and time-shuffled sides
against the real one (series/report.py lists the keys each returns)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from synth.fidelity.learned.probes import Init, ProbeConfig, intra_op_threads, predict, train_probe
from synth.fidelity.metrics import (detection_score, finite_or_none, ks_complement, rank_auc, tv_complement,
                                    tv_distance)
from synth.fidelity.series.profile import STATISTICS, Profile

SIDES = ("synthetic", "holdout", "shuffled")  # what each score compares with real
MAX_LENGTH_BINS = 30  # one bin per length up to this many distinct lengths, then equal-width bins
TRAIN_FRACTION = 0.7  # the discriminator's training share of each side
# the discriminator: full-batch Adam, which converges on a few thousand vectors in a fraction of a second
DISCRIMINATOR = ProbeConfig(hidden_dim=32, steps=300, batch_size=None, learning_rate=1e-2, weight_decay=1e-3,
                            init=Init.NORMAL)


def entry(score, real: Profile, others: dict[str, Profile | None]) -> dict:
    """{side: score(real, other)}; None for a side not given or a score that is undefined."""
    return {side: None if other is None else finite_or_none(score(real, other)) for side, other in others.items()}


def mean_entry(entries: list[dict]) -> dict:
    values = {side: [e[side] for e in entries if e[side] is not None] for side in SIDES}
    return {side: float(np.mean(v)) if v else None for side, v in values.items()}


def acf_section(real: Profile, others: dict, names: list[str], lags: int) -> dict:
    features = {}
    for f, name in enumerate(names):
        curves = {"real": _curve(real, f), **{s: None if p is None else _curve(p, f) for s, p in others.items()}}
        error = {s: None if curves[s] is None else _curve_error(curves["real"], curves[s]) for s in SIDES}
        score = {s: None if e is None else float(np.clip(1.0 - e, 0.0, 1.0)) for s, e in error.items()}
        features[name] = {"curves": curves, "error": error, "score": score}
    return {"lags": list(range(1, lags + 1)), "features": features,
            "error": mean_entry([v["error"] for v in features.values()]),
            "score": mean_entry([v["score"] for v in features.values()])}


def _curve(profile: Profile, f: int) -> list[float | None]:
    counts, sums = profile.acf_defined[:, f].sum(axis=0), profile.acf[:, f].sum(axis=0)  # (L,), (L,)
    return [float(s / c) if c else None for s, c in zip(sums, counts)]


def _curve_error(real: list, other: list) -> float | None:
    """Mean |other - real| over the lags both curves define (up to 2: autocorrelations lie in [-1, 1])."""
    gaps = [abs(a - b) for a, b in zip(real, other) if a is not None and b is not None]
    return float(np.mean(gaps)) if gaps else None


def correlation_score(real: Profile, other: Profile) -> float | None:
    upper = np.triu_indices(real.correlation.shape[0], k=1)
    gaps = np.abs(real.correlation[upper] - other.correlation[upper])
    return 1.0 - np.nanmean(gaps) / 2 if (~np.isnan(gaps)).any() else None


def length_section(real: Profile, others: dict) -> dict:
    sides = {"real": real, "synthetic": others["synthetic"], "holdout": others["holdout"]}  # shuffled: real's
    every = np.concatenate([p.lengths for p in sides.values() if p is not None])
    low, high = int(every.min()), int(every.max())
    edges = (np.arange(low, high + 2) - 0.5 if high - low < MAX_LENGTH_BINS
             else np.linspace(low, high + 1, MAX_LENGTH_BINS + 1))

    def complement(real: Profile, other: Profile) -> float:
        shares = [np.histogram(p.lengths, edges)[0] / len(p.lengths) for p in (real, other)]
        return 1.0 - tv_distance(shares[0], shares[1])

    return {"score": entry(complement, real, others),
            "stats": {s: None if p is None else {"min": int(p.lengths.min()), "median": float(np.median(p.lengths)),
                                                 "max": int(p.lengths.max())} for s, p in sides.items()},
            "histogram": {"edges": [float(e) for e in edges],
                          **{s: None if p is None else np.histogram(p.lengths, edges)[0].tolist()
                             for s, p in sides.items()}}}


def per_sequence_section(real: Profile, others: dict, names: list[str]) -> dict:
    def score(stat: str, f: int):
        return lambda r, o: ks_complement(r.statistics[stat][:, f], o.statistics[stat][:, f], needs_real=True)

    features = {name: {stat: entry(score(stat, f), real, others) for stat in STATISTICS}
                for f, name in enumerate(names)}
    return {"features": features, "score": mean_entry([e for entries in features.values() for e in entries.values()])}


def attribute_section(real: Profile, others: dict, kinds: dict[str, bool]) -> dict:
    def score(name: str, continuous: bool):
        if continuous:
            return lambda r, o: ks_complement(r.attributes[name].to_numpy(float), o.attributes[name].to_numpy(float),
                                              needs_real=True)
        return lambda r, o: tv_complement(r.attributes[name], o.attributes[name], needs_real=True)

    marginals = {name: {"metric": "ks_complement" if continuous else "tv_complement",
                        "score": entry(score(name, continuous), real, others)} for name, continuous in kinds.items()}
    return {"marginals": marginals, "score": mean_entry([m["score"] for m in marginals.values()])}


def dependence_section(real: Profile, others: dict, attributes: list[str], names: list[str]) -> dict:
    pairs = []
    for attribute in attributes:
        for f, feature in enumerate(names):
            values = real.continuous[:, f][~np.isnan(real.continuous[:, f])]
            scale = values.std() if values.size and values.std() > 0 else 1.0
            score = entry(lambda r, o: _dependence_score(r, o, attribute, f, scale), real, others)
            pairs.append({"attribute": attribute, "feature": feature, "score": score})
    return {"pairs": pairs, "score": mean_entry([p["score"] for p in pairs])}


def _dependence_score(real: Profile, other: Profile, attribute: str, f: int, scale: float) -> float | None:
    real_means = _category_means(real, attribute, f).dropna()
    if real_means.empty:
        return None
    gaps = (real_means - _category_means(other, attribute, f).reindex(real_means.index)).abs() / scale
    weights = real.attributes[attribute].value_counts().reindex(real_means.index).to_numpy(float)
    return 1.0 - min(float((gaps.fillna(1.0).to_numpy() * weights).sum() / weights.sum()), 1.0)


def _category_means(profile: Profile, attribute: str, f: int) -> pd.Series:
    """Per category of `attribute`, the mean over sequences of the per-sequence mean of feature `f`."""
    return pd.Series(profile.statistics["mean"][:, f]).groupby(profile.attributes[attribute].to_numpy(object)).mean()


def discrete_section(real: Profile, others: dict) -> dict:
    def score(name: str, of):
        return lambda r, o: tv_complement(of(r, name), of(o, name), needs_real=True)

    features = {name: {"frequencies": entry(score(name, lambda p, n: p.discrete[n]), real, others),
                       "transitions": entry(score(name, _transitions), real, others)}
                for name in real.discrete.columns}
    return {"features": features, "score": mean_entry([e for entries in features.values() for e in entries.values()])}


def _transitions(profile: Profile, name: str) -> pd.Series:
    """'a -> b' for each pair of consecutive steps within a sequence."""
    values = profile.discrete[name].astype(str).to_numpy(dtype=object)
    same = profile.codes[1:] == profile.codes[:-1]
    return pd.Series(values[:-1][same] + " -> " + values[1:][same], dtype=object)


def discriminative_section(real: Profile, others: dict, categorical: list[str], continuous: list[str],
                           max_examples: int, seed: int) -> dict:
    categories = {n: np.asarray(real.attributes[n].dropna().unique(), dtype=object) for n in categorical}
    reference = _vectors(real, categories, continuous)
    auc = {}
    with intra_op_threads(DISCRIMINATOR.threads):
        for index, (side, other) in enumerate(others.items()):
            rng = np.random.default_rng([seed, 10 + index])  # one per side: giving a holdout changes no other score
            auc[side] = None if other is None else finite_or_none(_discriminator_auc(
                _standardize(reference, reference), _standardize(_vectors(other, categories, continuous), reference),
                max_examples, rng))
    return {"auc": auc, "score": {s: None if a is None else detection_score(a) for s, a in auc.items()}}


def _vectors(profile: Profile, categories: dict[str, np.ndarray], continuous: list[str]) -> np.ndarray:
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


def _classifier_scores(train: np.ndarray, labels: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """Fit the discriminator probe on `train` and return its logits on `test`."""
    x, y = torch.as_tensor(train, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.float32)  # (n, D), (n,)
    network = train_probe(x, y, F.binary_cross_entropy_with_logits, 1, seed, DISCRIMINATOR)
    return predict(network, torch.as_tensor(test, dtype=torch.float32))  # (n_test,)
