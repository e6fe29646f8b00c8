"""How the plan describes a column: its role and its encoding in a fitted model, in words.

`prefect-synth check` prints one row per input column; each kind's section (`plan_columns`) builds the
rows from its fitted transformer with the helpers here.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from synth.schema import column_kind

CONSTANT = "constant: not encoded, comes back as its one value"


@dataclass(frozen=True)
class ColumnPlan:
    """One input column: what the model makes of it."""

    name: str
    arrow_type: str
    kind: str       # continuous | discrete | datetime | boolean
    role: str       # column (tables); example id | time | attribute | feature | step | unused (series)
    encoding: str   # how it is encoded, in words
    width: int      # encoded values (series features: per step)


def column(f: pa.Field, role: str, encoding: str, width: int) -> ColumnPlan:
    return ColumnPlan(f.name, str(f.type), column_kind(f.name, f.type).value, role, encoding, width)


def encoding(transformer, name: str) -> tuple[str, int]:
    """How a TableTransformer encodes column `name`, and its width."""
    from synth.transforms.categorical import CategoricalColumn
    from synth.transforms.tails import Tail

    spans = [s for s in transformer.layout_.spans if s.column == name]
    width = sum(s.width for s in spans)
    fitted = transformer.column(name)
    if isinstance(fitted, CategoricalColumn):
        return categories(fitted, width)
    if not spans:
        return CONSTANT, 0
    modes = sum(s.width for s in spans if s.role == "mode")
    text = f"mode-specific normalisation: 1 value + {modes}-mode one-hot" if modes else "constant value"
    if modes and fitted.tail_.kind is not Tail.NONE:  # a long tail, learned on a log or quantile scale
        text = f"{fitted.tail_.describe()}, then {text}"
    states = [s.width for s in spans if s.role == "state"]
    if states:
        k = len(fitted.points_)
        parts = ["continuous"] if fitted.has_continuous_ else []
        parts += [f"{k} exact point mass{'es' if k > 1 else ''}"] if k else []
        parts += ["missing"] if fitted.has_missing_ else []
        text = (text + " + " if fitted.has_continuous_ else "") + f"{states[0]}-state one-hot ({', '.join(parts)})"
    return text, width


def categories(fitted, width: int) -> tuple[str, int]:
    """A categorical column's encoding in words: one-hot or binary code, and how many categories."""
    k = len(fitted.categories_)
    if not width:
        return CONSTANT, 0
    missing = " (missing counts as one)" if None in fitted.categories_ else ""
    if fitted.binary:
        return f"binary code: {k:,} categories{missing} in {width} bits", width
    return f"one-hot: {k:,} categories{missing}", width


def count_of(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
