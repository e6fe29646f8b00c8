"""Model selection during training: score the generator on held-back data, keep the best state, stop early.

    split = validation_split(table, fraction=0.1, seed=0)       # (training rows, validation rows)
    selection = ModelSelection(TableScorer(split.validation), sample, generator, eval_every=5, patience=4,
                               ema_decay=0.8)
    train_wgan(..., selection=selection)                        # evaluates every 5 epochs, may stop early
    finish(model, selection)                                    # the generator as at its best evaluation
    # sequences: validation_split(table, 0.1, 0, by="id") and SeriesScorer(split.validation, spec)

The score is a fast version of the report's, on a fixed-seed sample as large as the validation data:
for tables the column shapes and pair trends (synth.fidelity.tabular) on at most MAX_ROWS rows; for
sequences the ACF, correlation, lengths, per-sequence and attribute sections (synth.fidelity.series)
on at most MAX_EXAMPLES examples. The validation data is held back from training and is not the
report's holdout, so the report stays honest. A moving average of the generator's state is a
second candidate at each evaluation. A model plugs in with a `Scorer` and a `sample(n, seed)` function.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import nn

from synth.errors import DataError
from synth.fidelity.encode import TableEncoder
from synth.fidelity.series import QuickSeriesScore, SeriesSpec
from synth.fidelity.tabular import compare, plan_pairs
from synth.schema import schema_specs

MAX_ROWS = 10_000        # rows scored per evaluation (validation and sample): keeps scoring cheap
MAX_EXAMPLES = 2_000     # sequences scored per evaluation
MIN_ROWS = 50            # fewer validation rows (or MIN_EXAMPLES sequences): scores are noisy; warned
MIN_EXAMPLES = 10
SAMPLE_SEED = 1_000_003  # one fixed seed for every evaluation's sample: scores differ by the weights only


class ValidationTooSmall(UserWarning):
    """The validation split has fewer rows (sequences) than scores are reliable on."""


@dataclass(frozen=True)
class Split:
    training: pa.Table
    validation: pa.Table


def validation_split(table: pa.Table, fraction: float, seed: int, by: str | None = None,
                     examples: bool = False) -> Split:
    """Hold back a seeded random `fraction` of the rows (at most MAX_ROWS) for selection; with `by`, an
    example-id column, a fraction of the examples (at most MAX_EXAMPLES), each with all its rows;
    with `examples`, rows are examples (sequences in wide layout).

    Raises:
        DataError: fewer than 2 rows (examples) would be left to train on.
    """
    units = np.asarray(pd.unique(table.column(by).to_pandas()), dtype=object) if by else None
    n = table.num_rows if by is None else len(units)
    examples = examples or by is not None
    what, cap, low = ("examples", MAX_EXAMPLES, MIN_EXAMPLES) if examples else ("rows", MAX_ROWS, MIN_ROWS)
    held = min(max(round(fraction * n), 1), cap)
    if n - held < 2:
        raise DataError(f"the data has {n} {what}: too few to hold back a validation split "
                        f"(training.validation_fraction={fraction:g}) and still train; set training.eval_every=0")
    if held < low:
        warnings.warn(f"the validation split has {held} {what} (training.validation_fraction={fraction:g} of {n}): "
                      f"fewer than {low}, so model selection scores are noisy; it scores on what is there",
                      ValidationTooSmall, stacklevel=4)  # the caller of the model's fit
    order = np.random.default_rng(seed).permutation(n)
    if by is None:
        return Split(table.take(np.sort(order[held:])), table.take(np.sort(order[:held])))
    validation = pa.array(table.column(by).to_pandas().isin(set(units[order[:held]])).to_numpy())
    return Split(table.filter(pc.invert(validation)), table.filter(validation))


class Scorer(Protocol):
    rows: int  # how many rows (examples) to sample per evaluation

    def score(self, synthetic: pa.Table) -> float:
        """Similarity of `synthetic` to the validation data, in [0, 1], higher is better."""


class TableScorer:
    """The report's column shapes and pair trends against validation rows; the overall mean is the score."""

    def __init__(self, validation: pa.Table, max_rows: int = MAX_ROWS, seed: int = 0):
        if validation.num_rows > max_rows:
            rows = np.random.default_rng(seed).choice(validation.num_rows, max_rows, replace=False)
            validation = validation.take(np.sort(rows))
        frame = validation.to_pandas()
        self.encoder = TableEncoder(schema_specs(validation.schema)).fit(frame)
        self.real = self.encoder.encode(frame)
        self.plan = plan_pairs(self.encoder, self.real)
        self.rows = validation.num_rows

    def score(self, synthetic: pa.Table) -> float:
        summary = compare(self.encoder, self.plan, self.real, self.encoder.encode(synthetic.to_pandas()))["summary"]
        return float(summary["overall"])


class SeriesScorer:
    """The report's fast series sections (ACF, lengths, per-sequence statistics, attributes) against
    validation sequences in long format; `rows` is the number of sequences to sample."""

    def __init__(self, validation: pa.Table, spec: SeriesSpec, seed: int = 0):
        self.quick = QuickSeriesScore(validation.to_pandas(), spec, max_examples=MAX_EXAMPLES, seed=seed)
        self.rows = min(len(pd.unique(validation.column(spec.example_id).to_pandas())), MAX_EXAMPLES)

    def score(self, synthetic: pa.Table) -> float:
        return self.quick(synthetic.to_pandas())


class ModelSelection:
    """Scores the generator every `eval_every` epochs, keeps its best state, and says when to stop.

    With `ema_decay`, an exponential moving average of the generator's state (updated after every
    epoch) is scored too at each evaluation, and kept when it scores better than the weights.
    `train_wgan` calls `evaluate(epoch)` after each epoch and stops when `stop_reason` is set. The
    state is plain data for checkpoints (`state_dict` / `load_state_dict`): JSON-able fields, and
    the best and average states as dicts of CPU tensors under "best_generator" and "average_generator".
    """

    def __init__(self, scorer: Scorer, sample: Callable[[int, int], pa.Table], generator: nn.Module,
                 eval_every: int, patience: int, ema_decay: float = 0.0):
        self.scorer, self.sample, self.generator = scorer, sample, generator
        self.eval_every, self.patience, self.ema_decay = eval_every, patience, ema_decay
        self.candidates: list[tuple[int, float, float | None]] = []  # (epoch, weights' score, average's score)
        self.best_score = -np.inf
        self.best_epoch: int | None = None
        self.best_is_average = False
        self.best_state: dict[str, torch.Tensor] | None = None
        self.average: dict[str, torch.Tensor] | None = None  # the EMA state, on the generator's device
        self.seconds = 0.0  # spent scoring, for the cost share

    @property
    def history(self) -> list[tuple[int, float]]:
        """(epoch, score of the better candidate) of every evaluation."""
        return [(epoch, max(s for s in (weights, average) if s is not None))
                for epoch, weights, average in self.candidates]

    @property
    def since_best(self) -> int:
        """Evaluations since the best one."""
        return sum(1 for epoch, *_ in self.candidates if self.best_epoch is not None and epoch > self.best_epoch)

    @property
    def stop_reason(self) -> str | None:
        if self.best_epoch is None or self.since_best < self.patience:
            return None
        return (f"training stopped at epoch {self.candidates[-1][0]}: the validation score did not improve over "
                f"{self.best_score:.4f} (epoch {self.best_epoch}) in {self.patience} evaluations "
                f"(training.patience={self.patience}, every {self.eval_every} epochs); the best state is used")

    def evaluate(self, epoch: int) -> float | None:
        """Score the generator (and its average) if `epoch` is an evaluation epoch; keep the best state.

        Returns the better candidate's score, or None on epochs without evaluation."""
        started = time.perf_counter()
        if self.ema_decay:
            self._update_average()
        if epoch % self.eval_every:
            self.seconds += time.perf_counter() - started
            return None
        weights = self._score()
        average = self._score_average() if self.ema_decay else None
        self.candidates.append((epoch, weights, average))
        use_average = average is not None and average > weights
        score = average if use_average else weights
        if score > self.best_score:
            self.best_score, self.best_epoch, self.best_is_average = score, epoch, use_average
            state = self.average if use_average else self.generator.state_dict()
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
        self.seconds += time.perf_counter() - started
        return score

    def restore_best(self) -> None:
        """Load the best state into the generator (nothing happens before the first evaluation)."""
        if self.best_state is not None:
            self.generator.load_state_dict(self.best_state)

    def _score(self) -> float:
        return self.scorer.score(self.sample(self.scorer.rows, SAMPLE_SEED))

    @torch.no_grad()
    def _update_average(self) -> None:
        state = self.generator.state_dict()
        if self.average is None:
            self.average = {k: v.detach().clone() for k, v in state.items()}
            return
        for k, v in state.items():
            if v.is_floating_point():
                self.average[k].lerp_(v, 1 - self.ema_decay)
            else:  # e.g. BatchNorm's batch count
                self.average[k].copy_(v)

    def _score_average(self) -> float:
        """The average's score: its state is loaded for sampling, then the weights are put back in place."""
        current = {k: v.detach().clone() for k, v in self.generator.state_dict().items()}
        self.generator.load_state_dict(self.average)
        try:
            return self._score()
        finally:
            self.generator.load_state_dict(current)

    # -- checkpoints --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-able fields, plus the best and average states as CPU tensors (when there are any)."""
        doc = {"candidates": [list(c) for c in self.candidates], "best_epoch": self.best_epoch,
               "best_score": self.best_score if self.best_epoch is not None else None,
               "best_is_average": self.best_is_average, "seconds": self.seconds}
        for name, state in (("best_generator", self.best_state), ("average_generator", self.average)):
            if state is not None:
                doc[name] = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
        return doc

    def load_state_dict(self, state: dict) -> None:
        self.candidates = [(int(e), float(w), None if a is None else float(a)) for e, w, a in state["candidates"]]
        self.best_epoch = state["best_epoch"]
        self.best_score = -np.inf if state["best_score"] is None else float(state["best_score"])
        self.best_is_average = bool(state.get("best_is_average", False))
        self.seconds = float(state.get("seconds", 0.0))
        best, average = state.get("best_generator"), state.get("average_generator")
        self.best_state = {k: v.clone() for k, v in best.items()} if best is not None else None
        device = next(self.generator.parameters()).device
        self.average = {k: v.to(device, copy=True) for k, v in average.items()} if average is not None else None


# -- the fitted model's attributes ----------------------------------------------------------------------------

def finish(model, selection: ModelSelection | None) -> None:
    """Give `model` its selection attributes; with a selection, its generator gets the best state.

    `selected_epoch_` (None without selection), `selected_average_` (the moving average was kept),
    `validation_history_` [(epoch, score)], `validation_candidates_` [(epoch, weights' score,
    average's score)], `selection_seconds_` (time spent scoring), `patience_stopped_` (training ended
    for want of improvement: it is finished, unlike a run that spent its time budget)."""
    model.selected_epoch_ = model.selected_average_ = None
    model.validation_history_, model.validation_candidates_, model.selection_seconds_ = [], [], 0.0
    model.patience_stopped_ = False
    if selection is None:
        return
    model.patience_stopped_ = selection.stop_reason is not None
    selection.restore_best()
    model.selected_epoch_, model.selected_average_ = selection.best_epoch, selection.best_is_average
    model.validation_history_, model.validation_candidates_ = selection.history, list(selection.candidates)
    model.selection_seconds_ = selection.seconds


def saved(model) -> dict:
    """What a saved model keeps of its selection (the scores are in its history)."""
    return {"selected_epoch": getattr(model, "selected_epoch_", None),
            "selected_average": getattr(model, "selected_average_", None)}


def load_saved(model, doc: dict) -> None:
    """Set a loaded model's selection attributes from `saved`'s fields and its history."""
    model.selected_epoch_, model.selected_average_ = doc.get("selected_epoch"), doc.get("selected_average")
    model.validation_history_ = [(s.epoch, s.validation_score) for s in model.history_
                                 if s.validation_score is not None]
