"""Detection: a classifier telling `other` rows from real ones, tested on held-out rows.

`detection(real, other, encoder)` returns:
- `auc`: test ROC AUC (0.5 = chance); `score`: 1 − 2·max(auc − 0.5, 0), 1 = indistinguishable;
- `giveaways`: up to 10 `{"column", "auc_drop"}`, largest drop first: the test AUC lost when all the
  feature positions of that column are shuffled together across rows (permutation importance);
- `auc_ci`: 5th and 95th percentiles of the test AUC over 200 resamples of the test rows (the model
  fixed); `score_ci`: the score at those two AUCs;
- `rows_per_side` (rows used from each side), `test_rows_per_side`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from synth.errors import DataError
from synth.fidelity.encode import EncodedTable, TableEncoder
from synth.fidelity.intervals import resampled_auc_interval
from synth.fidelity.learned.probes import (PROBE, TEST_RESAMPLES, ProbeConfig, check_max_rows, intra_op_threads,
                                           predict, probe_features, subsample, train_probe)
from synth.fidelity.metrics import detection_score, rank_auc


def detection(real: EncodedTable, other: EncodedTable, encoder: TableEncoder, max_rows: int = 20_000,
              seed: int = 0, probe: ProbeConfig = PROBE) -> dict:
    """Train a classifier to tell `other` rows from `real` rows and report how well it does, and why.

    Both sides are cut to the same number of rows, min(len(real), len(other), max_rows), so the classes
    are balanced; `probe.test_fraction` of each side is held out for the AUC and the permutation importance.

    Args:
        real: the real table, encoded.
        other: the synthetic table (or a reference sample), encoded by the same encoder.
        encoder: the encoder fitted on the real data.
        max_rows: most rows taken from each side.
        seed: seeds the subsample, the split, the network and the shuffles.
        probe: the network and its training.

    Returns:
        `auc`, `score`, `giveaways`, `rows_per_side`, `test_rows_per_side` (see the module docstring).

    Raises:
        ConfigError: `max_rows` is below 2.
        DataError: a side has fewer than 2 rows.
    """
    check_max_rows(max_rows, 2)
    per_side = min(len(real), len(other), max_rows)
    if per_side < 2:
        raise DataError(f"detection needs at least 2 rows on each side, got {len(real)} real and {len(other)} other")
    rng = np.random.default_rng(seed)
    real_x, other_x = (probe_features(encoder, subsample(t, per_side, rng), probe.feature_clip) for t in (real, other))
    n_test = min(per_side - 1, max(1, round(per_side * probe.test_fraction)))  # rows are shuffled: the head is random
    train_x = torch.cat([real_x[n_test:], other_x[n_test:]])  # (2·(per_side − n_test), d)
    labels = torch.cat([torch.zeros(per_side - n_test, 1), torch.ones(per_side - n_test, 1)])  # 1 = other
    test_x = torch.cat([real_x[:n_test], other_x[:n_test]])  # (2·n_test, d)
    test_labels = np.repeat([False, True], n_test)
    with intra_op_threads(probe.threads):
        network = train_probe(train_x, labels, F.binary_cross_entropy_with_logits, 1, seed, probe)
        test_scores = predict(network, test_x)[:, 0]
        auc = rank_auc(test_scores, test_labels)
        auc_ci = resampled_auc_interval(test_scores, test_labels, rng, TEST_RESAMPLES)
        drops = _permutation_drops(network, test_x, test_labels, auc, encoder.feature_columns(), rng, probe)
    ranked = sorted(drops.items(), key=lambda item: -item[1])[: probe.top_giveaways]
    return {
        "auc": auc,
        "score": detection_score(auc),
        "auc_ci": auc_ci,
        "score_ci": [detection_score(auc_ci[1]), detection_score(auc_ci[0])],
        "giveaways": [{"column": name, "auc_drop": drop} for name, drop in ranked],
        "rows_per_side": int(per_side),
        "test_rows_per_side": int(n_test),
    }


def _permutation_drops(network: nn.Module, test_x: torch.Tensor, labels: np.ndarray, auc: float,
                       feature_columns: list[str], rng: np.random.Generator, probe: ProbeConfig) -> dict[str, float]:
    """For each source column: the mean AUC lost when all its feature positions are shuffled together."""
    owners = np.asarray(feature_columns)
    drops = {}
    for name in dict.fromkeys(feature_columns):  # source columns, in feature order
        positions = torch.from_numpy(np.flatnonzero(owners == name))
        shuffled_aucs = []
        for _ in range(probe.permutation_repeats):
            shuffled = test_x.clone()
            order = torch.from_numpy(rng.permutation(len(test_x)))
            shuffled[:, positions] = test_x[:, positions][order]  # rows of this column moved as one block
            shuffled_aucs.append(rank_auc(predict(network, shuffled)[:, 0], labels))
        drops[name] = auc - float(np.mean(shuffled_aucs))
    return drops
