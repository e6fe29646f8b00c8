"""Sequences: a long or wide Arrow table split into examples, checked and cleaned for DGAN.

Long input has one row per time step: an example id, a time column that orders the steps,
attribute columns (constant within an example) and feature columns. Wide input has one row per
example and one column per step of a single feature; trailing nulls end a shorter sequence.

    seqs = Sequences.from_long(table, spec, max_len=24)
    seqs.attributes       # (N rows) attribute table
    seqs.features         # (sum(lengths) rows) feature table, examples one after another
    seqs.lengths          # (N,) steps per example
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.errors import ConfigError, DataError
from synth.schema import ColumnKind, column_kind

WIDE_FEATURE = "value"  # the name of the single feature of wide input, inside the model


class GapWarning(UserWarning):
    """Missing feature values were interpolated, or examples with long gaps were dropped."""


@dataclass(frozen=True)
class SequenceSpec:
    """Which columns of the input play which part."""

    layout: str = "long"                       # long | wide
    example_id: str | None = None              # long: identifies a sequence
    time_column: str | None = None             # long: orders the steps of a sequence
    attribute_columns: tuple[str, ...] = ()    # constant within an example
    feature_columns: tuple[str, ...] = ()      # long: varying over time; wide: the step columns, in order

    def __post_init__(self):
        if self.layout not in ("long", "wide"):
            raise ConfigError(f"layout={self.layout!r}: expected 'long' or 'wide'")
        if self.layout == "long" and (not self.example_id or not self.time_column):
            raise ConfigError("long input needs example_id and time_column")
        roles = [c for c in (self.example_id, self.time_column) if c] + list(self.attribute_columns) \
            + list(self.feature_columns)
        doubled = sorted({c for c in roles if roles.count(c) > 1})
        if doubled:
            raise ConfigError(f"column(s) {doubled} are given more than one role (id, time, attribute, feature)")

    def resolve(self, schema: pa.Schema) -> "SequenceSpec":
        """Check the columns exist; feature_columns default to every column with no other role."""
        named = [c for c in (self.example_id, self.time_column) if c] + list(self.attribute_columns)
        features = self.feature_columns or tuple(n for n in schema.names if n not in named)
        missing = [c for c in named + list(features) if c not in schema.names]
        if missing:
            raise ConfigError(f"column(s) {missing} not in the input (columns are {schema.names})")
        if not features:
            raise ConfigError("no feature columns: every column is the id, the time or an attribute")
        return SequenceSpec(self.layout, self.example_id, self.time_column, tuple(self.attribute_columns),
                            tuple(features))


@dataclass
class Preparation:
    """What cleaning did to the input; goes to the run log and the report."""

    examples_in: int = 0
    examples_used: int = 0
    split_examples: int = 0               # examples cut into windows of max_sequence_len
    interpolated_values: int = 0          # feature values filled by linear interpolation
    dropped_examples: int = 0             # examples with a gap longer than max_gap
    dropped_ids: list = field(default_factory=list)  # the first few, for the log

    def as_dict(self) -> dict:
        return {"examples_in": self.examples_in, "examples_used": self.examples_used,
                "split_examples": self.split_examples, "interpolated_values": self.interpolated_values,
                "dropped_examples": self.dropped_examples, "dropped_ids": [str(i) for i in self.dropped_ids]}


@dataclass
class Sequences:
    ids: list                 # (N,) example ids as Python values
    attributes: pa.Table      # (N rows)
    features: pa.Table        # (sum(lengths) rows), example-major
    lengths: np.ndarray       # (N,) int64
    times: pa.Array | None    # (sum(lengths),) time values (long input), else None
    preparation: Preparation = field(default_factory=Preparation)

    @property
    def offsets(self) -> np.ndarray:
        """(N + 1,) start row of each example in `features`."""
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    @property
    def step_index(self) -> np.ndarray:
        """(sum(lengths),) the step of each feature row within its example."""
        return np.arange(int(self.lengths.sum())) - np.repeat(self.offsets[:-1], self.lengths)

    @property
    def example_index(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    # -- readers ---------------------------------------------------------------------------------
    @classmethod
    def from_table(cls, table: pa.Table, spec: SequenceSpec, max_len: int | None, max_gap: int,
                   split: bool = False) -> "Sequences":
        spec = spec.resolve(table.schema)
        _check_kinds(table.schema, spec)
        if spec.layout == "wide":
            seqs = cls._from_wide(table, spec)
        else:
            seqs = cls._from_long(table, spec)
        seqs = seqs._fit_length(max_len, split, spec)
        seqs = seqs._fill_gaps(max_gap)
        prep = seqs.preparation
        if prep.dropped_examples or prep.interpolated_values:
            warnings.warn(f"missing feature values: {prep.interpolated_values} interpolated (gaps of at most "
                          f"{max_gap} steps); {prep.dropped_examples} example(s) dropped for longer gaps or "
                          "no values" + (f" (e.g. {[str(i) for i in prep.dropped_ids]})" if prep.dropped_ids else ""),
                          GapWarning, stacklevel=2)
        if len(seqs.lengths) < 2:
            raise DataError(f"the input has {len(seqs.lengths)} usable example(s): DGAN needs at least 2 "
                            "sequences to learn anything")
        return seqs

    @classmethod
    def _from_long(cls, table: pa.Table, spec: SequenceSpec) -> "Sequences":
        eid, time = spec.example_id, spec.time_column
        for name in (eid, time):
            nulls = table.column(name).null_count
            if nulls:
                raise DataError(f"column '{name}' has {nulls} missing value(s): every row needs an "
                                f"{'example id' if name == eid else 'time'}")
        table = table.sort_by([(eid, "ascending"), (time, "ascending")])
        codes = pc.dictionary_encode(table.column(eid)).combine_chunks().indices.to_numpy().astype(np.int64)
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        lengths = np.diff(np.r_[starts, len(codes)]).astype(np.int64)
        ids = table.column(eid).take(pa.array(starts)).to_pylist()
        times = table.column(time).combine_chunks()
        same = pc.equal(times.slice(1), times.slice(0, len(times) - 1)).to_numpy(zero_copy_only=False)
        same &= codes[1:] == codes[:-1]
        if same.any():
            row = int(np.flatnonzero(same)[0]) + 1
            raise DataError(f"example {table.column(eid)[row].as_py()!r} has two rows at time "
                            f"{times[row].as_py()!r} (column '{time}'): time stamps must be unique "
                            f"within an example ({int(same.sum())} duplicate(s) in all)")
        _check_no_nan_attributes(table, spec, np.repeat(np.asarray(ids, dtype=object), lengths))
        first = pa.array(np.repeat(starts, lengths))
        attributes = table.select(list(spec.attribute_columns)).take(pa.array(starts))
        for name in spec.attribute_columns:
            column = table.column(name)
            expected = column.take(first)
            differs = pc.fill_null(pc.not_equal(column, expected), False).to_numpy(zero_copy_only=False)
            differs |= (column.is_null().to_numpy(zero_copy_only=False)
                        != expected.is_null().to_numpy(zero_copy_only=False))
            if differs.any():
                row = int(np.flatnonzero(differs)[0])
                example = int(np.searchsorted(starts, row, side="right") - 1)
                changed = int(np.unique(np.repeat(np.arange(len(starts)), lengths)[differs]).size)
                raise DataError(f"attribute '{name}' changes within example {ids[example]!r} "
                                f"({expected[row].as_py()!r} then {column[row].as_py()!r}); attributes must be "
                                f"constant within an example ({changed} example(s) affected): make it a feature")
        return cls(ids, attributes, table.select(list(spec.feature_columns)), lengths, times,
                   Preparation(examples_in=len(ids)))

    @classmethod
    def _from_wide(cls, table: pa.Table, spec: SequenceSpec) -> "Sequences":
        steps = list(spec.feature_columns)
        types = {str(table.schema.field(c).type) for c in steps}
        if len({column_kind(c, table.schema.field(c).type) for c in steps}) > 1:
            raise DataError(f"wide input: the step columns {steps} must share one kind of type, found {sorted(types)}")
        _check_no_nan_attributes(table, spec, np.arange(table.num_rows))  # wide: an example is a row
        matrix_type = table.schema.field(steps[0]).type
        columns = [pc.cast(table.column(c), matrix_type) for c in steps]
        observed = np.stack([c.is_valid().to_numpy(zero_copy_only=False) for c in columns], axis=1)  # (N, T)
        lengths = np.where(observed.any(1), observed.shape[1] - np.argmax(observed[:, ::-1], axis=1), 0)
        keep = lengths > 0
        n_rows, lengths = len(lengths), lengths[keep].astype(np.int64)
        rows = np.flatnonzero(keep)
        # example-major values: row r's first lengths[r] steps
        take_rows = np.repeat(rows, lengths)
        take_steps = np.arange(int(lengths.sum())) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        flat = pa.concat_arrays([c.combine_chunks() for c in columns])  # step-major
        values = flat.take(pa.array(take_steps * n_rows + take_rows))
        features = pa.table({WIDE_FEATURE: values})
        prep = Preparation(examples_in=n_rows, dropped_examples=int((~keep).sum()),
                           dropped_ids=[int(i) for i in np.flatnonzero(~keep)[:5]])
        return cls([int(i) for i in rows], table.select(list(spec.attribute_columns)).take(pa.array(rows)),
                   features, lengths, None, prep)

    # -- cleaning --------------------------------------------------------------------------------
    def _fit_length(self, max_len: int | None, split: bool, spec: SequenceSpec) -> "Sequences":
        if max_len is None:
            return self
        long = self.lengths > max_len
        if not long.any():
            return self
        if not split:
            worst = int(np.argmax(self.lengths))
            raise DataError(f"{int(long.sum())} example(s) are longer than max_sequence_len={max_len} (longest: "
                            f"{self.ids[worst]!r} with {int(self.lengths[worst])} steps): raise max_sequence_len, "
                            "or set split_sequences: true to cut them into windows")
        # cut every example into consecutive windows of at most max_len steps
        pieces = np.maximum(-(-self.lengths // max_len), 1)
        owner = np.repeat(np.arange(len(self.lengths)), pieces)
        piece = np.arange(len(owner)) - np.repeat(np.r_[0, np.cumsum(pieces)[:-1]], pieces)
        lengths = np.minimum(self.lengths[owner] - piece * max_len, max_len).astype(np.int64)
        ids = [f"{self.ids[o]}#{p}" if pieces[o] > 1 else self.ids[o] for o, p in zip(owner, piece)]
        prep = self.preparation
        prep.split_examples = int(long.sum())
        return Sequences(ids, self.attributes.take(pa.array(owner)), self.features, lengths, self.times, prep)

    def _fill_gaps(self, max_gap: int) -> "Sequences":
        """Interpolate runs of at most `max_gap` missing continuous values; drop examples with longer runs."""
        prep = self.preparation
        offsets, n = self.offsets, len(self.lengths)
        bad = np.zeros(n, dtype=bool)
        filled: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in self.features.column_names:
            column = self.features.column(name)
            if column_kind(name, column.type) is not ColumnKind.CONTINUOUS:
                continue  # discrete features model missing as a category
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
            missing = np.isnan(values)  # nulls and NaN
            if not missing.any():
                continue
            runs = _missing_runs(missing, offsets)  # (start, stop, example)
            bad[runs[runs[:, 1] - runs[:, 0] > max_gap, 2]] = True
            bad[np.add.reduceat(~missing, offsets[:-1]) == 0] = True  # nothing to interpolate from
            filled[name] = (_interpolate(values, missing, offsets), missing)
        keep = ~bad
        kept_rows = np.repeat(keep, self.lengths)
        prep.interpolated_values = sum(int((m & kept_rows).sum()) for _, m in filled.values())
        prep.dropped_examples += int(bad.sum())
        prep.dropped_ids += [self.ids[i] for i in np.flatnonzero(bad)[:5]]
        prep.examples_used = int(keep.sum())
        if not filled:
            return self
        features = self.features
        for name, (values, _) in filled.items():
            i = features.schema.get_field_index(name)
            target = features.schema.field(i).type
            array = pa.array(np.round(values) if pa.types.is_integer(target) else values).cast(target)
            features = features.set_column(i, name, array)
        if not bad.any():
            return Sequences(self.ids, self.attributes, features, self.lengths, self.times, prep)
        rows = pa.array(kept_rows)
        times = self.times.filter(rows) if self.times is not None else None
        return Sequences([self.ids[i] for i in np.flatnonzero(keep)], self.attributes.filter(pa.array(keep)),
                         features.filter(rows), self.lengths[keep], times, prep)


def _check_no_nan_attributes(table: pa.Table, spec: SequenceSpec, example_of_row) -> None:
    """A NaN attribute is a computation's accident, not a value (a missing one is a null, which is
    modelled like any missing value): refuse it, naming the column and the examples."""
    for name in spec.attribute_columns:
        column = table.column(name)
        if not pa.types.is_floating(column.type):
            continue
        nan = pc.fill_null(pc.is_nan(column), False).to_numpy(zero_copy_only=False)
        if nan.any():
            examples = list(dict.fromkeys(example_of_row[np.flatnonzero(nan)]))
            raise DataError(f"attribute '{name}' is NaN in {len(examples)} example(s) (first: {examples[0]!r}); "
                            "an attribute must be a number or null (missing): replace NaN with null, or drop "
                            "those examples")


def _check_kinds(schema: pa.Schema, spec: SequenceSpec) -> None:
    for name in spec.feature_columns:
        kind = column_kind(name, schema.field(name).type)
        if kind is ColumnKind.DATETIME:
            raise DataError(f"feature column '{name}' holds dates/times: use it as time_column, or drop it")
    if spec.layout == "long":
        kind = column_kind(spec.time_column, schema.field(spec.time_column).type)
        if kind not in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME):
            raise DataError(f"time column '{spec.time_column}' has type {schema.field(spec.time_column).type}: "
                            "expected numbers, dates or timestamps")


def _missing_runs(missing: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(k, 3) [start, stop, example] of each run of missing values; runs end at example boundaries."""
    first = np.zeros(len(missing), dtype=bool)
    first[offsets[:-1][offsets[:-1] < len(missing)]] = True
    last = np.r_[first[1:], True]
    starts = np.flatnonzero(missing & (first | ~np.r_[False, missing[:-1]]))
    stops = np.flatnonzero(missing & (last | ~np.r_[missing[1:], False])) + 1
    example = np.searchsorted(offsets, starts, side="right") - 1
    return np.stack([starts, stops, example], axis=1).astype(np.int64)


def _interpolate(values: np.ndarray, missing: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Linear interpolation within each example; ends take the nearest observed value."""
    out = values.copy()
    for i in np.flatnonzero(np.add.reduceat(missing, offsets[:-1]) > 0):
        a, b = offsets[i], offsets[i + 1]
        seg, gap = out[a:b], missing[a:b]
        if gap.all():
            continue
        steps = np.arange(b - a)
        seg[gap] = np.interp(steps[gap], steps[~gap], seg[~gap])
    return out
