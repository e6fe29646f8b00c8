"""Privacy of synthetic rows: how close they sit to the training rows, against real rows the model never saw.

    encoder = TableEncoder(specs).fit(train_frame)
    section = privacy_report(encoder.encode(train_frame), encoder.encode(synthetic_frame),
                             encoder.encode(holdout_frame), encoder)

Distances are Euclidean on `encoder.features` (standardized numbers; two different categories at
distance 1). Every number is a plain float or int, None where undefined, never NaN; no row appears in
the output, only aggregates. Keys (stable; a change bumps `version`):

- `version` (int): 2 (1 had `closer_to_train`, the complement of `holdout_share`).
- `dcr`: distance to closest record.
    - `synthetic_to_train`: `p5`, `p50`, `mean` of the distance from each sampled synthetic row to its
      nearest training row (0: a copy).
    - `holdout_to_train`: the same from holdout rows, what a fresh real row looks like; None without holdout.
    - `ratio`: `p5`, `p50`, `mean`, synthetic over holdout (below 1: synthetic rows sit closer to the
      training rows than fresh real rows do); None without holdout, a value None where the holdout's is 0.
- Intervals (90 %): `holdout_share.ci` and `exact_copies.synthetic_in_train_ci` (normal approximation of
  a share), `membership_inference.auc_ci` (Hanley–McNeil standard error); None where the number is.
- `holdout_share`: `share` of sampled synthetic rows no closer to the training rows than to the holdout
  rows: their nearest holdout row is nearer than their nearest training row (ties count half), the
  training rows cut to as many as the holdout rows (`reference_rows` each; for time series, whole
  sequences on both sides); `ideal` 0.5; a model that copies its training rows scores 0. None without
  holdout. The summary's `dcr_holdout_share` and the gate's `min_dcr_holdout_share` are this number.
- `exact_copies`, over every row (64-bit hashes of the encoded values; categories unseen in training
  count as one "other"):
    - `synthetic_in_train`: share of synthetic rows equal to some training row;
    - `holdout_in_train`: the same for holdout rows, the rate the real data itself shows (duplicates);
      None without holdout.
- `membership_inference`: a nearest-neighbour attack: sampled training rows (members) and holdout rows
  (non-members), each scored by its distance to the closest synthetic row, nearer meaning "member".
    - `auc` (0.5: no leakage, 1: every member found) and `advantage` = 2·|auc − 0.5|; None without holdout;
    - `members`, `non_members`: rows scored (0 without holdout).
- `settings`: `max_rows`, `queries_per_side`, `seed`, `device`, `chunk_rows`, `feature_dims`, and `rows`:
  for `train`, `synthetic` and `holdout` (None without one), `total` rows given, `reference` rows searched
  against and `queries` rows searched from (both seeded random subsamples).
- `notes`: caveats in plain words (no holdout, subsampled references, a small holdout, duplicated real rows).

Cost: every table is cut to at most `max_rows` reference rows and `max_rows // 4` query rows, so the
five searches compare at most 5 · max_rows² / 4 pairs (0.5 billion at the default 20,000), in
`chunk_rows`² blocks on the GPU when there is one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from synth.device import resolve_device
from synth.errors import ConfigError, DataError
from synth.fidelity.encode import EncodedTable, TableEncoder
from synth.fidelity.intervals import hanley_mcneil_interval, share_interval
from synth.fidelity.metrics import rank_auc

PRIVACY_VERSION = 2
QUERY_FRACTION = 4  # queries per side are max_rows // 4: a quarter keeps 1M-row tables to seconds on 2 CPU cores
SMALL_HOLDOUT = 200  # fewer holdout rows than this: the share and the AUC get a "noisy" note
QUANTILES = {"p5": 0.05, "p50": 0.5}


@dataclass(frozen=True)
class _Sample:
    """One table's seeded random rows: `features` of the reference rows; the first `queries` also query."""

    total: int
    features: torch.Tensor  # (reference, d) float32 on the search device
    queries: int

    @property
    def reference(self) -> int:
        return len(self.features)

    @property
    def query_features(self) -> torch.Tensor:
        return self.features[: self.queries]  # (queries, d)

    def rows(self) -> dict:
        return {"total": self.total, "reference": self.reference, "queries": self.queries}


def privacy_report(train: EncodedTable, synthetic: EncodedTable, holdout: EncodedTable | None,
                   encoder: TableEncoder, max_rows: int = 20_000, seed: int = 0,
                   device: str = "auto", chunk_rows: int = 4096,
                   examples: dict[str, np.ndarray] | None = None) -> dict:
    """How near synthetic rows sit to the training rows, with holdout rows as the reference.

    Args:
        train: the real rows the model was trained on, encoded by `encoder` (fitted on them).
        synthetic: the generated rows, encoded by `encoder`.
        holdout: real rows the model never saw, encoded by `encoder`; None (or no rows) leaves the
            comparisons that need one as None, with a note.
        encoder: the fitted TableEncoder; distances are on its `features`.
        max_rows: reference rows per table; queries per table are `max_rows // 4` (seeded subsamples).
        seed: seeds every subsample; the same seed gives the same dict.
        device: "auto" (CUDA when present, else CPU), "cpu" or "cuda[:i]", for the distance searches.
        chunk_rows: query and reference rows per block, so no distance matrix exceeds chunk_rows².
        examples: for time series, the example id of each row of `train` and `holdout` (keys "train",
            "holdout"): their rows are then sampled by whole examples, so the training rows cut to the
            holdout's size are whole sequences too. Cut row by row instead, they would come from many
            more sequences than the holdout's and sit nearer to anything, a bias toward a low holdout share.

    Returns:
        The JSON-ready section whose keys the module docstring lists.

    Raises:
        DataError: train or synthetic has no rows, or the encoder has no columns.
        ConfigError: `max_rows` or `chunk_rows` is below 1.
    """
    _check(train, synthetic, encoder, max_rows, chunk_rows)
    holdout = holdout if holdout is not None and len(holdout) else None
    target = resolve_device(device)
    queries = max(1, max_rows // QUERY_FRACTION)
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    tables = {"train": train, "synthetic": synthetic, "holdout": holdout}
    samples = {side: _sample(table, encoder, max_rows, queries, rng, target, (examples or {}).get(side))
               for (side, table), rng in zip(tables.items(), generators) if table is not None}
    distances = _searches(samples, chunk_rows)
    exact = _exact_copies(train, synthetic, holdout)
    return {
        "version": PRIVACY_VERSION,
        "dcr": _dcr(distances["synthetic_to_train"], distances.get("holdout_to_train")),
        "holdout_share": _holdout_share(distances, samples),
        "exact_copies": exact,
        "membership_inference": _membership(distances.get("members"), distances.get("non_members")),
        "settings": {"max_rows": int(max_rows), "queries_per_side": queries, "seed": int(seed),
                     "device": str(target), "chunk_rows": int(chunk_rows),
                     "feature_dims": int(samples["train"].features.shape[1]),
                     "rows": {side: samples[side].rows() if side in samples else None for side in tables}},
        "notes": _notes(samples, exact),
    }


def privacy_summary(section: dict) -> dict:
    """The numbers a quality gate checks: `exact_copy_rate`, `dcr_holdout_share`, `membership_auc`
    (the last two None without holdout)."""
    return {"exact_copy_rate": section["exact_copies"]["synthetic_in_train"],
            "dcr_holdout_share": section["holdout_share"]["share"],
            "membership_auc": section["membership_inference"]["auc"]}


def nearest_distances(queries: np.ndarray, reference: np.ndarray, device: str = "auto",
                      chunk_rows: int = 4096) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row, searched in blocks.

    Args:
        queries: (n, d) rows to search from.
        reference: (m, d) rows to search among, m ≥ 1.
        device: as in `privacy_report`.
        chunk_rows: rows per block on either side.

    Returns:
        (n,) float64 distances.
    """
    target = resolve_device(device)
    queries, reference = (torch.as_tensor(np.asarray(rows, dtype=np.float32), device=target)
                          for rows in (queries, reference))
    return _nearest_by_part(queries, reference, [0, len(reference)], chunk_rows)[0]


def membership_auc(member_distances: np.ndarray, non_member_distances: np.ndarray) -> float | None:
    """Chance that a random member sits nearer the synthetic rows than a random non-member (ties half):
    the Mann–Whitney rank formula. None when a side is empty."""
    n_members, n_others = len(member_distances), len(non_member_distances)
    if not n_members or not n_others:
        return None
    distances = np.concatenate([member_distances, non_member_distances])
    return rank_auc(-distances, np.arange(len(distances)) < n_members)  # nearer scores higher


def _check(train: EncodedTable, synthetic: EncodedTable, encoder: TableEncoder, max_rows: int,
           chunk_rows: int) -> None:
    for name, value in (("max_rows", max_rows), ("chunk_rows", chunk_rows)):
        if value < 1:
            raise ConfigError(f"privacy {name} must be at least 1, got {value}")
    if not encoder.specs:
        raise DataError("privacy: the encoder has no columns to compare rows on")
    for side, table in (("train", train), ("synthetic", synthetic)):
        if len(table) == 0:
            raise DataError(f"privacy: the {side} data has zero rows")


def _sample(table: EncodedTable, encoder: TableEncoder, max_rows: int, queries: int,
            rng: np.random.Generator, target: torch.device, examples: np.ndarray | None = None) -> _Sample:
    """Up to `max_rows` rows in random order, so any prefix is itself a random subsample; with `examples`
    (an id per row), whole examples in random order, so any prefix is a random set of whole examples."""
    if examples is None:
        rows = rng.choice(len(table), size=min(len(table), max_rows), replace=False)
    else:
        if len(examples) != len(table):
            raise DataError(f"privacy: {len(examples)} example ids for {len(table)} rows")
        _, example = np.unique(examples, return_inverse=True)
        rank = rng.permutation(example.max() + 1)[example]  # a random place for each example
        rows = np.argsort(rank, kind="stable")[:max_rows]
    features = torch.from_numpy(encoder.features(table.take(rows))).to(target)
    return _Sample(len(table), features, min(len(rows), queries))


def _searches(samples: dict[str, _Sample], chunk_rows: int) -> dict[str, np.ndarray]:
    """Every nearest-neighbour distance the section needs, one (queries,) array per search."""
    train, synthetic, holdout = samples["train"], samples["synthetic"], samples.get("holdout")
    if holdout is None:
        return {"synthetic_to_train": _nearest_by_part(synthetic.query_features, train.features,
                                                       [0, train.reference], chunk_rows)[0]}
    equal = min(train.reference, holdout.reference)  # the same number of train and holdout rows to be near
    bounds = [0, equal, train.reference] if equal < train.reference else [0, equal]
    to_train = _nearest_by_part(synthetic.query_features, train.features, bounds, chunk_rows)  # (parts, n)

    def search(source: torch.Tensor, among: torch.Tensor) -> np.ndarray:
        return _nearest_by_part(source, among, [0, len(among)], chunk_rows)[0]

    return {
        "synthetic_to_train": to_train.min(axis=0),
        "synthetic_to_equal_train": to_train[0],
        "synthetic_to_equal_holdout": search(synthetic.query_features, holdout.features[:equal]),
        "holdout_to_train": search(holdout.query_features, train.features),
        "members": search(train.query_features, synthetic.features),
        "non_members": search(holdout.query_features, synthetic.features),
    }


def _nearest_by_part(queries: torch.Tensor, reference: torch.Tensor, bounds: list[int],
                     chunk_rows: int) -> np.ndarray:
    """(parts, n) float64: each query's distance to its nearest row in reference[bounds[i]:bounds[i + 1]].

    Blocks rank rows by ‖r‖² − 2·q·r (one matmul); the distance to the row found is then recomputed
    directly, so a copy is at exactly 0 (the expanded form leaves float32 rounding of ~1e-3)."""
    center = reference.mean(dim=0)  # distances ignore a shift; smaller norms round less
    queries, reference = queries - center, reference - center
    squared_norms = reference.square().sum(dim=1)  # (m,)
    out = np.empty((len(bounds) - 1, len(queries)))
    for start in range(0, len(queries), chunk_rows):
        chunk = queries[start:start + chunk_rows]  # (c, d)
        for part, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
            nearest = _nearest_index(chunk, reference, squared_norms, low, high, chunk_rows)  # (c,)
            gap = (chunk - reference[nearest]).norm(dim=1)  # (c,)
            out[part, start:start + len(chunk)] = gap.double().cpu().numpy()
    return out


def _nearest_index(chunk: torch.Tensor, reference: torch.Tensor, squared_norms: torch.Tensor,
                   low: int, high: int, chunk_rows: int) -> torch.Tensor:
    """(c,) index of each chunk row's nearest reference row within [low, high), one block at a time."""
    best = torch.full((len(chunk),), float("inf"), device=chunk.device)
    index = torch.zeros(len(chunk), dtype=torch.long, device=chunk.device)
    for block in range(low, high, chunk_rows):
        rows = slice(block, min(block + chunk_rows, high))
        # ‖q − r‖² = ‖q‖² + ‖r‖² − 2·q·r, and ‖q‖² does not change which row is nearest
        scores = torch.addmm(squared_norms[rows], chunk, reference[rows].T, alpha=-2)  # (c, b)
        value, position = scores.min(dim=1)
        closer = value < best
        best = torch.where(closer, value, best)
        index = torch.where(closer, position + block, index)
    return index


def _row_hashes(table: EncodedTable) -> np.ndarray:
    """(n,) uint64, equal for equal encoded rows; two different rows collide with odds ~n²/2⁶⁴ (1e-7 at 1M)."""
    numeric = table.numeric + 0.0  # −0.0 → 0.0
    numeric[np.isnan(numeric)] = np.nan  # one NaN bit pattern
    hashes = np.zeros(len(table), dtype=np.uint64)
    for column in (*numeric.T, *table.codes.T):
        column_hashes = pd.util.hash_array(np.ascontiguousarray(column))  # (n,) contiguous: twice as fast
        hashes = hashes * np.uint64(0x100000001B3) ^ column_hashes  # wraps around, as meant
    return hashes


def _exact_copies(train: EncodedTable, synthetic: EncodedTable, holdout: EncodedTable | None) -> dict:
    seen = np.sort(_row_hashes(train))  # (n_train,)

    def share_in_train(table: EncodedTable) -> float:
        hashes = _row_hashes(table)
        found = seen[np.searchsorted(seen, hashes).clip(max=len(seen) - 1)] == hashes
        return float(found.mean())

    rate = share_in_train(synthetic)
    return {"synthetic_in_train": rate, "synthetic_in_train_ci": share_interval(rate, len(synthetic)),
            "holdout_in_train": share_in_train(holdout) if holdout is not None else None}


def _stats(distances: np.ndarray) -> dict:
    stats = {key: float(np.quantile(distances, q)) for key, q in QUANTILES.items()}
    return stats | {"mean": float(distances.mean())}


def _dcr(synthetic: np.ndarray, holdout: np.ndarray | None) -> dict:
    ours = _stats(synthetic)
    if holdout is None:
        return {"synthetic_to_train": ours, "holdout_to_train": None, "ratio": None}
    reference = _stats(holdout)
    ratio = {key: ours[key] / reference[key] if reference[key] > 0 else None for key in ours}
    return {"synthetic_to_train": ours, "holdout_to_train": reference, "ratio": ratio}


def _holdout_share(distances: dict, samples: dict) -> dict:
    if "holdout" not in samples:
        return {"share": None, "ci": None, "ideal": 0.5, "reference_rows": 0}
    to_train, to_holdout = distances["synthetic_to_equal_train"], distances["synthetic_to_equal_holdout"]
    share = np.mean(to_holdout < to_train) + 0.5 * np.mean(to_train == to_holdout)
    return {"share": float(share), "ci": share_interval(float(share), len(to_train)), "ideal": 0.5,
            "reference_rows": min(samples["train"].reference, samples["holdout"].reference)}


def _membership(members: np.ndarray | None, non_members: np.ndarray | None) -> dict:
    if members is None or non_members is None:
        return {"auc": None, "auc_ci": None, "advantage": None, "members": 0, "non_members": 0}
    auc = membership_auc(members, non_members)
    return {"auc": auc, "auc_ci": hanley_mcneil_interval(auc, len(members), len(non_members)),
            "advantage": None if auc is None else 2 * abs(auc - 0.5),
            "members": len(members), "non_members": len(non_members)}


def _notes(samples: dict[str, _Sample], exact: dict) -> list[str]:
    notes = []
    holdout = samples.get("holdout")
    if holdout is None:
        notes.append("no holdout: the DCR reference, the holdout share and membership inference "
                     "need real rows the model never saw, so they are None")
    elif holdout.queries < SMALL_HOLDOUT:
        notes.append(f"only {holdout.queries} holdout rows: the holdout share and the membership AUC "
                     f"are noisy (about ±{1 / np.sqrt(holdout.queries):.2f})")
    cut = [f"{side} {s.reference:,} of {s.total:,}" for side, s in samples.items() if s.reference < s.total]
    if cut:
        notes.append(f"distances use random subsamples ({'; '.join(cut)} rows): a near-copy of a row left "
                     "out goes unseen there; the exact-copy rates cover every row")
    if exact["holdout_in_train"]:
        notes.append(f"{exact['holdout_in_train']:.1%} of holdout rows also appear in train: the real data "
                     "has duplicate rows, so some exact copies are expected")
    return notes
