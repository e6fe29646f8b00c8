"""`prefect-synth init`: a starting run config for a Parquet dataset, every key listed with its description.

The model kind is guessed from the first rows: a time series (dgan, long layout) when a column
identifies sequences and another orders their steps, else a table (actgan). The guessed keys and
the required ones are set; every other key is commented out at its default, under its description.
"""
from __future__ import annotations

import textwrap
import typing
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel

from tasks.config import parse_config
from synth import storage
from synth.errors import DataError
from synth.schema import ColumnKind, column_kind

HEAD_ROWS = 50_000          # rows read to guess the kind: the first ones, where whole sequences are likely
MIN_ROWS_PER_EXAMPLE = 3    # fewer steps per id (median) is not a series worth a sequence model
REGULAR_STEP_SHARE = 0.5    # an integer time column must step by one most common amount this often
TIME_NAMES = ("time", "date", "day", "hour", "minute", "second", "step", "tick", "period", "week", "ts", "t")
COMMENT_WIDTH = 100

_SECTIONS = {  # what each top-level section is for (the pydantic classes carry no docstring of their own)
    "source": "The input: a Parquet file or directory, local or s3://.",
    "model": "The model: model.kind picks the family (actgan: tables, dgan: time series); the other keys are its.",
    "validation": "Schema checks of the input (Arrow types, Great Expectations) before training.",
    "sample": "What is generated.",
    "report": "The fidelity and privacy report, and the quality gate that decides whether to publish.",
    "output": "Where the synthetic data is published.",
    "tracking": "MLflow tracking.",
}


@dataclass(frozen=True)
class SeriesGuess:
    """A long time series found in the first rows."""

    example_id: str
    time_column: str
    attribute_columns: tuple[str, ...]
    feature_columns: tuple[str, ...]
    examples: int       # distinct ids in the rows looked at
    rows: int           # rows looked at


def starting_config(data_path: str) -> str:
    """A commented YAML run config for the Parquet file or directory `data_path`.

    Raises:
        DataError: the path is missing, not Parquet, or has no columns or rows.
    """
    from tasks.preflight import open_source

    with storage.store_errors(data_path, "input"):
        source = open_source(data_path, None)
        head = _head(source)
    storage.check_not_empty(source, head)  # the first rows: none in them, none in the input
    series = guess_series(head)
    model: dict = {"kind": "actgan"}
    if series is not None:
        model = {"kind": "dgan", "example_id": series.example_id, "time_column": series.time_column,
                 "attribute_columns": list(series.attribute_columns),
                 "feature_columns": list(series.feature_columns)}
    tree = {"source": {"path": data_path}, "model": model,
            "output": {"path": storage.beside(data_path, "_synth.parquet")}}
    config = parse_config(tree, source="the starting config")
    return _header(data_path, series) + "\n".join(_render(config, tree, 0)) + "\n"


def guess_series(head: pa.Table) -> SeriesGuess | None:
    """The (id, time) pair that makes `head` a long time series, or None for a table.

    A pair qualifies when the id repeats (a median of at least MIN_ROWS_PER_EXAMPLE rows per id),
    (id, time) is unique, the time values recur across ids (at least two rows per value on average:
    a time stamp unique to each row is a table's, not a series'), and the time is a date/timestamp or
    an integer that mostly steps by one amount. Dates and time-like names come first, then the pair
    with the most ids.
    """
    kinds = {f.name: _kind(f) for f in head.schema}
    ids = [f.name for f in head.schema if kinds[f.name] is ColumnKind.DISCRETE
           or (kinds[f.name] is ColumnKind.CONTINUOUS and pa.types.is_integer(f.type))]
    times = [f.name for f in head.schema if (kinds[f.name] is ColumnKind.DATETIME
             or (kinds[f.name] is ColumnKind.CONTINUOUS and pa.types.is_integer(f.type)))
             and 2 * pc.count_distinct(head.column(f.name)).as_py() <= head.num_rows]
    found = []
    for example_id in ids:
        examples = _examples(head, example_id)
        if examples is None:
            continue
        for time in times:
            if time != example_id and _orders_steps(head, example_id, time, kinds[time]):
                dated = kinds[time] is ColumnKind.DATETIME or _time_like(time)
                found.append(((dated, examples), example_id, time))
    if not found:
        return None
    (_, examples), example_id, time = max(found, key=lambda item: item[0])
    constant = _constant_within(head, example_id, [n for n in head.column_names if n not in (example_id, time)])
    attributes = tuple(n for n in head.column_names if n in constant)
    features = tuple(n for n in head.column_names if n not in (example_id, time) and n not in constant
                     and kinds[n] not in (None, ColumnKind.DATETIME))  # dates cannot be features
    if not features:
        return None
    return SeriesGuess(example_id, time, attributes, features, examples, head.num_rows)


def _head(source) -> pa.Table:
    batches, rows = [], 0
    for batch in source.batches(batch_rows=HEAD_ROWS):
        batches.append(batch)
        rows += batch.num_rows
        if rows >= HEAD_ROWS:
            break
    return pa.Table.from_batches(batches, schema=source.schema()).slice(0, HEAD_ROWS)


def _kind(f: pa.Field) -> ColumnKind | None:
    try:
        return column_kind(f.name, f.type)
    except DataError:  # a type no model takes: `check` names it
        return None


def _examples(head: pa.Table, column: str) -> int | None:
    """Distinct ids, if `column` repeats enough to identify sequences; else None."""
    values = head.column(column)
    if values.null_count:
        return None
    counts = pc.value_counts(values).field("counts").to_numpy()
    if len(counts) < 2 or np.median(counts) < MIN_ROWS_PER_EXAMPLE:
        return None
    return len(counts)


def _orders_steps(head: pa.Table, example_id: str, time: str, kind: ColumnKind) -> bool:
    """(example_id, time) is unique, and an integer time steps regularly within each example."""
    if head.column(time).null_count:
        return False
    ordered = head.select([example_id, time]).sort_by([(example_id, "ascending"), (time, "ascending")])
    same = pc.equal(ordered.column(example_id).slice(1), ordered.column(example_id).slice(0, ordered.num_rows - 1))
    same = same.to_numpy(zero_copy_only=False)
    if kind is ColumnKind.DATETIME:
        ticks = pc.cast(ordered.column(time), pa.int64()) if not pa.types.is_date32(head.schema.field(time).type) \
            else pc.cast(pc.cast(ordered.column(time), pa.int32()), pa.int64())
    else:
        ticks = pc.cast(ordered.column(time), pa.int64())
    steps = np.diff(ticks.to_numpy(zero_copy_only=False))[same]
    if len(steps) == 0 or (steps == 0).any():
        return False  # one row per example, or two rows at one time
    if kind is ColumnKind.DATETIME:
        return True
    _, counts = np.unique(steps, return_counts=True)
    return counts.max() >= REGULAR_STEP_SHARE * len(steps)


def _time_like(name: str) -> bool:
    words = name.lower().replace("-", "_").split("_")
    return any(w in TIME_NAMES for w in words)


def _constant_within(head: pa.Table, example_id: str, names: list[str]) -> set[str]:
    """Columns whose value (null included) never changes within an example."""
    if not names:
        return set()
    counted = head.group_by(example_id).aggregate([(n, "count_distinct", pc.CountOptions(mode="all"))
                                                   for n in names])
    return {n for n in names if pc.max(counted.column(f"{n}_count_distinct")).as_py() == 1}


# ---------------------------------------------------------------- YAML


def _header(data_path: str, series: SeriesGuess | None) -> str:
    if series is None:
        guess = "Guessed: a table (no column identifies sequences that another orders): model.kind actgan."
    else:
        guess = (f"Guessed: a time series (model.kind dgan, long layout): '{series.example_id}' identifies "
                 f"{series.examples:,} sequences in the first {series.rows:,} rows, ordered by "
                 f"'{series.time_column}'; attributes are the columns constant within every sequence there.")
    lines = [f"prefect-synth run configuration for {data_path}, written by `prefect-synth init`.", guess,
             "Every key is listed under its description; a commented-out key takes the default shown. "
             "Paths are relative to the directory the run starts in.",
             "Next: `prefect-synth check CONFIG` checks the data and prints the plan; "
             "`prefect-synth run CONFIG` runs it."]
    return "".join(_comment(line, 0) for line in lines) + "\n"


def _render(node: BaseModel, given: dict, depth: int) -> list[str]:
    """YAML lines for `node`: keys in `given` set, every other key commented out at its value."""
    lines = []
    indent = "  " * depth
    for name, field in type(node).model_fields.items():
        value = getattr(node, name)
        is_set = name in given
        about = field.description or (_SECTIONS.get(name) if depth == 0 else None) or \
            (type(value).__doc__ if isinstance(value, BaseModel) else None)
        if depth == 0 and lines:
            lines.append("")  # a blank line between the top-level sections
        if about:
            lines += _comment(_with_choices(about, field.annotation), depth).splitlines()
        if isinstance(value, BaseModel):
            lines.append(f"{indent}{'' if is_set else '# '}{name}:")
            lines += _render(value, given.get(name) or {}, depth + 1)
        else:
            lines.append(f"{indent}{'' if is_set else '# '}{name}: {_yaml(value)}")
    return lines


def _with_choices(text: str, annotation) -> str:
    choices = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
    if len(choices) < 2:
        return text
    return f"{text} (one of: {', '.join(str(c) for c in choices)})"


def _comment(text: str, depth: int) -> str:
    indent = "  " * depth
    wrapped = textwrap.wrap(" ".join(text.split()), COMMENT_WIDTH - len(indent) - 2)
    return "".join(f"{indent}# {line}\n" for line in wrapped)


def _yaml(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()

