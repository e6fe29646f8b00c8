"""Arrow tables as the models take them: the rules every training table must meet, its columns
checked against the configured ones, the logical type family of a column, and a uniform sample of
rows. Nothing here opens a file: `synth.storage` reads and writes them."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synth.errors import DataError
from synth.schema import ColumnKind, schema_specs


def as_table(data: pa.Table | pd.DataFrame) -> pa.Table:
    """A pyarrow Table as it is, or a DataFrame converted without its index."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(f"expected a pyarrow Table or pandas DataFrame, got {type(data).__name__}")


def sample_rows(table: pa.Table, rows: int, rng: np.random.Generator) -> pa.Table:
    """At most `rows` rows of `table`, drawn without replacement from `rng`, in their original order."""
    if table.num_rows <= rows:
        return table
    return table.take(pa.array(np.sort(rng.choice(table.num_rows, size=rows, replace=False))))


def duplicate_names(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def check_columns(names: list[str], wanted: Iterable[str] | None, source: str = "input") -> None:
    """DataError "<source>: configured column(s) [...] not in the data" unless every wanted column is in `names`
    (None: no columns were configured)."""
    missing = [c for c in wanted or () if c not in names]
    if missing:
        raise DataError(f"{source}: configured column(s) {missing} not in the data (columns are {names})")


def check_trainable(table: pa.Table, source: str = "input") -> None:
    """Rules every training table must meet: supported types, no all-null column, no ±inf.

    A constant column is allowed (it comes back constant).
    """
    health = ColumnHealth(table.schema, source)
    health.update(table)
    health.check()


class ColumnHealth:
    """`check_trainable` added up over record batches: null and ±inf counts per column.

    The schema is checked when it is made (duplicate names, unsupported types); `update` with each
    batch (or a whole table), then `check` raises the first broken rule, column by column in order.
    """

    def __init__(self, schema: pa.Schema, source: str = "input"):
        names = schema.names
        duplicates = duplicate_names(names)
        if duplicates:
            raise DataError(f"{source}: duplicate column name(s) {duplicates}")
        self.specs = schema_specs(schema)  # raises on unsupported types, naming the column
        self.source = source
        self.rows = 0
        self.nulls = dict.fromkeys(names, 0)
        self.infinities = dict.fromkeys(names, 0)
        self._text = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
        self._floating = {s.name for s, f in zip(self.specs, schema)
                          if s.kind is ColumnKind.CONTINUOUS and pa.types.is_floating(f.type)}

    def update(self, data: pa.RecordBatch | pa.Table) -> None:
        self.rows += data.num_rows
        for spec in self.specs:
            column = data.column(spec.name)
            self.nulls[spec.name] += column.null_count
            if spec.name in self._floating:
                self.infinities[spec.name] += pc.sum(pc.is_inf(column)).as_py() or 0
            if spec.name in self._text:
                try:  # Parquet readers do not check that a string column holds UTF-8
                    for chunk in getattr(column, "chunks", [column]):
                        chunk.validate(full=True)
                except pa.ArrowInvalid as e:
                    raise DataError(f"{self.source}: column '{spec.name}' holds text that is not valid UTF-8 "
                                    f"({e}); re-encode it, or read it as binary and drop it") from None

    def check(self) -> None:
        """Raises:
            DataError: a column is entirely null, or holds ±inf."""
        for spec in self.specs:
            if self.nulls[spec.name] == self.rows:
                raise DataError(f"{self.source}: column '{spec.name}' has only null values: nothing to learn from it")
            n_inf = self.infinities[spec.name]
            if n_inf:
                raise DataError(f"{self.source}: column '{spec.name}' has {n_inf} infinite value(s) (±inf); "
                                "replace or drop them before training")


def type_family(arrow_type: pa.DataType) -> str:
    """The logical type an Arrow type stores, whatever its physical encoding.

    `string`: string, large_string, string_view and dictionary<string> (pandas 2 writes the first,
    pandas 3 the second). `integer`: every int width, signed or not. `floating`: every float width.
    `decimal`: every precision and scale. `date`: date32 and date64. `timestamp` (or
    `timestamp[tz=Europe/Berlin]`): every unit of one time zone; another zone is another family.
    `binary`: binary, large_binary, binary_view. A dictionary of anything else stays
    `dictionary<family>` (a categorical, not a number); any other type is its own family.
    """
    t = arrow_type
    if pa.types.is_dictionary(t):
        values = type_family(t.value_type)
        return values if values == "string" else f"dictionary<{values}>"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "floating"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return f"timestamp[tz={t.tz}]" if t.tz is not None else "timestamp"
    return str(t)
