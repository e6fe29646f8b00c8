"""Holding back real data the model never trains on: rows for tables, whole examples for time series."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.errors import DataError


def split_holdout(table: pa.Table, fraction: float, seed: int = 0,
                  group: str | None = None) -> tuple[pa.Table, pa.Table | None]:
    """(training part, holdout part or None): a seeded random `fraction` of the rows, or of the
    distinct values of `group` (every row of a held-back example goes to the holdout)."""
    if fraction <= 0:
        return table, None
    rng = np.random.default_rng(seed)
    if group is None:
        units, codes = table.num_rows, None
    else:
        codes = pc.dictionary_encode(table.column(group)).combine_chunks().indices.to_numpy().astype(np.int64)
        units = int(codes.max()) + 1 if len(codes) else 0
    held = int(round(fraction * units))
    what = "rows" if group is None else f"examples ('{group}')"
    if held < 1 or units - held < 2:
        raise DataError(f"report.holdout_fraction={fraction}: the input has {units} {what}, too few to hold "
                        f"{max(held, 1)} back and still train on at least 2; lower it (0 turns the holdout off)")
    chosen = np.zeros(units, dtype=bool)
    chosen[rng.choice(units, held, replace=False)] = True
    mask = chosen if codes is None else chosen[codes]
    return table.filter(pa.array(~mask)), table.filter(pa.array(mask))
