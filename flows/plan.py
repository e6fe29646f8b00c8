"""Checks and plans made before any server starts: `run`'s preflight, `prefect-synth check`, `init`.

`preflight` raises what a run would refuse later (see `tasks.preflight`). `make_plan` then measures
what the run will cost: it draws a small uniform sample, fits the real model on it with the
configured sizes and device, times a few training steps (the transform fit excluded), reads the
encoded widths from the fitted layout, and samples and writes a few synthetic rows to size the
output. Nothing is written and no Prefect, MLflow or Great Expectations is imported.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import pyarrow as pa

from tasks.config import RefreshConfig
from flows.config_template import starting_config  # noqa: F401  (the CLI's `init`)
from tasks.kinds.base import Inspected
from tasks.kinds.columns import ColumnPlan, count_of
from tasks.preflight import check_training, inspect_input
from synth.chunked import estimate_output
from synth.models import model_kind
from synth.units import duration, size

PLAN_SAMPLE_ROWS = 5_000    # rows (whole examples' worth) the encoders are fitted on and the steps timed with
MAX_SAMPLE_STEPS = 50       # a small batch size shrinks the sample: at most this many steps per epoch on it
MIN_TIMED_STEPS = 5         # the steps are timed until this many ...
MIN_TIMED_SECONDS = 1.0     # ... or this long, whichever comes first
CUDA_WARMUP_STEPS = 4       # 3 eager steps and the graph capture (synth.device.CudaGraphStep): never timed
TIMING_EPOCHS = 10_000      # an upper bound only: the step clock stops the fit long before


def preflight(config: RefreshConfig) -> None:
    """Raise the ConfigError/DataError a run would raise later for its paths, input and settings."""
    inspect_input(config)


@dataclass(frozen=True)
class Plan:
    """What a run of a config will read, train and write, and about how long its training takes."""

    kind: str
    source: str
    source_rows: int
    source_units: int               # rows, or examples (long dgan)
    unit: str                       # "rows" or "examples"
    training_units: int             # after source.sample_rows and report.holdout_fraction
    holdout_fraction: float
    max_sequence_len: int | None    # dgan
    columns: tuple[ColumnPlan, ...]
    encoded: str                    # the encoded widths, in words
    fitted_on: str                  # the sample the encoders were fitted and the steps timed on, in words
    batch_size: int                 # as the model uses it (dgan: at most the training examples)
    steps_per_epoch: int
    epochs: int
    max_minutes: float | None
    device: str
    seconds_per_step: float
    steps_timed: int
    output_path: str
    output_units: int               # rows, or sequences (dgan)
    output_noun: str | None         # what an output unit is called beside rows ("sequences"), or None
    output_rows: int
    output_bytes: int
    notes: tuple[str, ...] = ()

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds_per_step * self.steps_per_epoch

    @property
    def training_seconds(self) -> float:
        """All epochs, or the time budget when it is shorter."""
        total = self.seconds_per_epoch * self.epochs
        return total if self.max_minutes is None else min(total, 60 * self.max_minutes)


def make_plan(config: RefreshConfig) -> Plan:
    """Preflight, then measure the run on a small sample (see the module docstring).

    Raises:
        ConfigError, DataError: as `preflight`, or as the model's fit on the sample.
    """
    data = inspect_input(config)
    training = check_training(config, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sample = _draw_sample(config, data, training)
        model, clock = _time_steps(config, data, sample)
        output_units = config.sample.num_rows or data.units
        output = estimate_output(lambda n, seed: model.sample_table(n, seed=seed), output_units, config.model.seed)
        output_rows, output_bytes = output.rows, output.bytes
    from synth.transforms.columns import IdentifierColumnWarning

    notes = tuple(dict.fromkeys(f"on the sample: {w.message}" for w in caught
                                if issubclass(w.category, IdentifierColumnWarning)))
    columns, encoded = config.model.plan_columns(data.schema, model)
    batch = _batch(config.model.kind, training, config.model.training.batch_size)
    what = f"{sample.num_rows:,} rows" if data.unit == "rows" else \
        f"{_count(sample, config.model.example_id):,} examples ({sample.num_rows:,} rows)"
    return Plan(
        kind=config.model.kind, source=config.source.path, source_rows=data.rows, source_units=data.units,
        unit=data.unit, training_units=training, holdout_fraction=config.report.holdout_fraction,
        max_sequence_len=data.max_sequence_len, columns=tuple(columns), encoded=encoded,
        fitted_on=f"a uniform sample of {what}", batch_size=batch,
        steps_per_epoch=steps_per_epoch(config.model.kind, training, config.model.training.batch_size),
        epochs=config.model.epochs, max_minutes=config.model.training.max_minutes, device=str(model.device_),
        seconds_per_step=clock.seconds_per_step, steps_timed=clock.steps, output_path=config.output.path,
        output_units=output_units, output_noun=config.model.output_noun, output_rows=output_rows,
        output_bytes=output_bytes, notes=notes)


def steps_per_epoch(kind: str, units: int, batch_size: int) -> int:
    """Training steps in one epoch, counted as the model of `kind` counts them (synth.models)."""
    return model_kind(kind).steps_per_epoch(units, batch_size)


def _batch(kind: str, units: int, batch_size: int) -> int:
    """The batch size the model of `kind` trains with on `units` (DGAN clamps it, as gretel does)."""
    return model_kind(kind).batch(units, batch_size)


# ---------------------------------------------------------------- measuring


def _draw_sample(config: RefreshConfig, data: Inspected, training: int) -> pa.Table:
    """A uniform sample: about PLAN_SAMPLE_ROWS rows, never fewer units than one batch, never more than
    MAX_SAMPLE_STEPS batches or the training units (so the model clamps its batch as the run will)."""
    from synth.sampling import draw_examples, draw_rows

    batch = _batch(config.model.kind, training, config.model.training.batch_size)
    rows_per_unit = data.rows / data.units
    wanted = max(batch, int(PLAN_SAMPLE_ROWS / rows_per_unit))
    units = min(training, wanted, MAX_SAMPLE_STEPS * batch)
    seed, batch_rows = config.source.sample_seed, config.source.batch_rows
    if data.unit == "examples":
        return draw_examples(data.source, config.model.example_id, units, seed, batch_rows=batch_rows).table
    return draw_rows(data.source, units, seed, batch_rows=batch_rows).table


class _Timed(Exception):
    """Raised from the epoch callback to end the timing fit: enough steps have been timed."""


class _StepClock:
    """An epoch callback that adds up the seconds and steps of timed epochs and stops the fit.

    Warm-up epochs are not timed: the first (lazy initialisation), and on CUDA those until the
    training step has been captured as a graph. A first CPU epoch that alone takes MIN_TIMED_SECONDS
    is timed: its one-off costs are a small share of it.
    """

    def __init__(self, steps_in_epoch, warmup_steps: int):
        self.steps_in_epoch, self.warmup_steps = steps_in_epoch, warmup_steps
        self.done = self.steps = 0
        self.seconds = 0.0

    def __call__(self, stats) -> None:
        steps = self.steps_in_epoch()
        warming = self.done < self.warmup_steps
        self.done += steps
        if warming and (self.warmup_steps > 1 or stats.seconds < MIN_TIMED_SECONDS):
            return
        self.seconds += stats.seconds
        self.steps += steps
        if self.steps >= MIN_TIMED_STEPS or self.seconds >= MIN_TIMED_SECONDS:
            raise _Timed

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps if self.steps else math.nan


def _time_steps(config: RefreshConfig, data: Inspected, sample: pa.Table):
    """The configured model fitted on `sample` for a few timed steps (no time budget, no checkpoints),
    and the clock that timed them."""
    from tasks.estimator import synth_model
    from synth.device import resolve_device

    m = config.model
    training = m.training.model_copy(update={"max_minutes": None, "checkpoint_every": 0})
    update = {"epochs": TIMING_EPOCHS, "training": training, **m.timing_update(data)}
    model = synth_model(m.model_copy(update=update))
    batch = m.training.batch_size

    def steps() -> int:  # examples: those the model kept after preparing the sample's sequences
        units = model.training_size_ if model_kind(m.kind).unit == "examples" else sample.num_rows
        return steps_per_epoch(m.kind, units, batch)
    warmup = CUDA_WARMUP_STEPS if resolve_device(m.training.device).type == "cuda" else 1
    clock = _StepClock(steps, warmup)
    try:
        model.fit(sample, callback=clock)
    except _Timed:
        pass  # the model stays as far as it trained: its layout and generator are all a plan needs
    return model, clock


def _count(table: pa.Table, column: str) -> int:
    import pyarrow.compute as pc

    return int(pc.count_distinct(table.column(column)).as_py())


# ---------------------------------------------------------------- columns


# ---------------------------------------------------------------- printing


def format_plan(plan: Plan) -> str:
    """The plan as a readable block of text."""
    unit = plan.unit
    lines = [f"input     {plan.source}: {plan.source_rows:,} rows, {len(plan.columns)} columns"
             + (f", {plan.source_units:,} examples" if unit == "examples" else "")
             + (f" of up to {plan.max_sequence_len} steps" if plan.max_sequence_len else "")]
    held = f" after holding back report.holdout_fraction={plan.holdout_fraction:g}" if plan.holdout_fraction else ""
    lines.append(f"training  {plan.training_units:,} {unit}{held}")
    lines.append(f"model     {plan.kind}: batch {plan.batch_size:,}, {count_of(plan.steps_per_epoch, 'step')} per "
                 f"epoch, {count_of(plan.epochs, 'epoch')}, on {plan.device}")
    lines.append(f"columns   encoders fitted on {plan.fitted_on}")
    lines += ["  " + line for line in _column_table(plan)]
    lines.append(f"          encoded: {plan.encoded}")
    lines += _time_lines(plan)
    lines.append(f"output    {plan.output_path}: {plan.output_rows:,} rows"
                 + (f" ({plan.output_units:,} {plan.output_noun})" if plan.output_noun else "")
                 + f", about {size(plan.output_bytes)} (a sample of it written as Parquet, scaled)")
    lines += [f"note      {note}" for note in plan.notes]
    return "\n".join(lines)


def _column_table(plan: Plan) -> list[str]:
    roles = any(c.role != "column" for c in plan.columns)  # tables: every column is just a column
    header = ("column", "type", "kind") + (("role",) if roles else ()) + ("width", "encoding")
    rows = [(c.name, c.arrow_type, c.kind) + ((c.role,) if roles else ()) + (str(c.width), c.encoding)
            for c in plan.columns]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    width_at = len(header) - 2
    return ["  ".join(cell.rjust(w) if i == width_at else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths)))
            + "  " + r[-1] for r in [header, *rows]]


def _time_lines(plan: Plan) -> list[str]:
    if plan.steps_timed == 0:
        return ["time      not measured: the timing fit ended before a step could be timed"]
    total = plan.seconds_per_epoch * plan.epochs
    lines = [f"time      about {duration(plan.seconds_per_step)} per step ({count_of(plan.steps_timed, 'step')} "
             f"timed on {plan.device}): {duration(plan.seconds_per_epoch)} per epoch, {duration(total)} for "
             f"{count_of(plan.epochs, 'epoch')}",
             "          (the transform fit, sampling and the report come on top)"]
    if plan.max_minutes is not None and total > 60 * plan.max_minutes:
        fit = max(int(60 * plan.max_minutes // plan.seconds_per_epoch), 1)  # the first epoch always runs
        lines.append(f"          training.max_minutes={plan.max_minutes:g} caps it: about {fit:,} of "
                     f"{plan.epochs:,} epochs fit in {duration(60 * plan.max_minutes)}")
    return lines


