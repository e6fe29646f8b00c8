"""TableTransformer: an Arrow table ↔ the encoded float matrix, with one Layout for all of it."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pyarrow as pa

from synth.errors import DataError
from synth.schema import ColumnKind, column_kind
from synth.serialization import schema_from_text, schema_to_text
from synth.transforms.categorical import CategoricalColumn
from synth.transforms.columns import NumericColumn
from synth.transforms.layout import Layout, Span
from synth.transforms.tails import Tail

Column = NumericColumn | CategoricalColumn


class TableTransformer:
    """Fit per-column encoders on a table; `transform` → (N, D) float32; `inverse_transform` → table.

    Args:
        max_modes: most Gaussian modes per continuous column.
        weight_threshold: modes lighter than this are dropped.
        fit_rows: rows subsampled to fit each column's mixture.
        seed: seeds the subsample, the mixtures and the mode draws.
        binary_cutoff: discrete columns with this many categories or more get a binary code.
        point_share: a numeric value held by at least this share of its column's observed rows is a
            point mass, encoded as a state and generated exactly.
        max_points: most point masses per numeric column (the heaviest); 0 turns them off.
        tail: the scale of every numeric column's continuous part not named in `tails`: auto (the rule
            of `synth.transforms.tails`) or none.
        tails: per numeric column, auto, none, log or quantile (see `NumericColumn`).
    """

    def __init__(self, max_modes: int = 10, weight_threshold: float = 0.005, fit_rows: int = 250_000,
                 seed: int = 0, binary_cutoff: int = 500, point_share: float = 0.05, max_points: int = 10,
                 tail: Tail | str = Tail.AUTO, tails: Mapping[str, Tail | str] | None = None):
        self.max_modes = max_modes
        self.weight_threshold = weight_threshold
        self.fit_rows = fit_rows
        self.seed = seed
        self.binary_cutoff = binary_cutoff
        self.point_share = point_share
        self.max_points = max_points
        self.tail = Tail(tail)
        self.tails = {name: Tail(kind) for name, kind in (tails or {}).items()}

    def fit(self, table: pa.Table) -> "TableTransformer":
        rng = np.random.default_rng(self.seed)
        self.schema_ = table.schema.remove_metadata()
        check_tails(self.schema_, self.tails)
        self.columns_ = [self._make_column(f) for f in self.schema_]
        for column in self.columns_:
            column.fit(table.column(column.name), rng)
        self.layout_ = self._build_layout()
        return self

    def _make_column(self, f: pa.Field) -> Column:
        kind = column_kind(f.name, f.type)
        if kind in (ColumnKind.DISCRETE, ColumnKind.BOOLEAN):
            return CategoricalColumn(f.name, f.type, self.binary_cutoff)
        return NumericColumn(f.name, f.type, self.max_modes, self.weight_threshold, self.fit_rows, self.point_share,
                             self.max_points, self.tails.get(f.name, self.tail))

    def _build_layout(self) -> Layout:
        spans, start = [], 0
        for column in self.columns_:
            for s in column.spans:
                spans.append(Span(column.name, s.kind, start, s.width, s.role))
                start += s.width
        return Layout(tuple(spans))

    @property
    def output_dim(self) -> int:
        return self.layout_.width

    def column(self, name: str) -> Column:
        return next(c for c in self.columns_ if c.name == name)

    def scales(self) -> dict[str, str]:
        """The numeric columns learned on a log or quantile scale, each with its map in words."""
        return {c.name: c.tail_.describe() for c in self.columns_
                if isinstance(c, NumericColumn) and c.tail_.kind is not Tail.NONE}

    def transform(self, table: pa.Table, seed: int | None = None) -> np.ndarray:
        rng = np.random.default_rng(self.seed if seed is None else seed)
        # one float32 matrix filled column by column: only one column's float64 block exists at a time
        # (concatenating every block first took about five times the matrix's memory at its peak)
        out = np.empty((table.num_rows, self.output_dim), dtype=np.float32)  # (N, D)
        start = 0
        for c in self.columns_:
            block = c.transform(table.column(c.name), rng)
            out[:, start:start + block.shape[1]] = block
            start += block.shape[1]
        assert start == self.output_dim, "column widths disagree with the layout"
        return out

    def inverse_transform(self, matrix: np.ndarray) -> pa.Table:
        arrays, start = [], 0
        for column in self.columns_:
            width = sum(s.width for s in column.spans)
            arrays.append(column.inverse(matrix[:, start:start + width]))
            start += width
        return pa.Table.from_arrays(arrays, schema=self.schema_)

    def state(self) -> dict:
        """JSON-ready fitted state (no pickle): settings, exact Arrow schema, per-column state."""
        return {
            "max_modes": self.max_modes, "weight_threshold": self.weight_threshold,
            "fit_rows": self.fit_rows, "seed": self.seed, "binary_cutoff": self.binary_cutoff,
            "point_share": self.point_share, "max_points": self.max_points,
            "tail": self.tail.value, "tails": {name: kind.value for name, kind in self.tails.items()},
            "schema": schema_to_text(self.schema_),
            "columns": {c.name: c.state() for c in self.columns_},
        }

    @classmethod
    def from_state(cls, state: dict) -> "TableTransformer":
        self = cls(state["max_modes"], state["weight_threshold"], state["fit_rows"], state["seed"],
                   state["binary_cutoff"], state.get("point_share", 0.05), state.get("max_points", 0),
                   state.get("tail", "none"), state.get("tails"))  # none: saved before tail maps
        self.schema_ = schema_from_text(state["schema"])
        self.columns_ = [self._make_column(f) for f in self.schema_]
        for column in self.columns_:
            column.load_state(state["columns"][column.name])
        self.layout_ = self._build_layout()
        return self


def check_tails(schema: pa.Schema, tails: Mapping[str, Tail | str]) -> None:
    """Every column named in `tails` must be a numeric column of `schema` that can take its map as far
    as its type says (dates and times only auto or none); the values are checked when fitted.

    Raises:
        DataError: naming `model.column_transforms.<column>` and why.
    """
    for name, kind in tails.items():
        if name not in schema.names:
            raise DataError(f"model.column_transforms.{name}: the table has no column '{name}' (its columns are "
                            f"{schema.names})")
        kind_of = column_kind(name, schema.field(name).type)
        if kind_of in (ColumnKind.DISCRETE, ColumnKind.BOOLEAN):
            raise DataError(f"model.column_transforms.{name}: '{name}' is a {kind_of.value} column "
                            f"({schema.field(name).type}); transforms apply to numeric columns only")
        NumericColumn(name, schema.field(name).type, tail=Tail(kind)).check_tail()
