"""Train: turn the run's model settings into a synth model and fit it, reporting every epoch."""
from __future__ import annotations

import warnings
from typing import Callable

import pyarrow as pa
from tqdm.auto import tqdm

from tasks.kinds.base import ModelSection
from tasks.estimator import synth_model
from synth import storage
from synth.checkpoint import Checkpointing
from synth.errors import ConfigError
from synth.training import EpochStats
from tasks import log


def checkpointing(model: ModelSection, output_path: str | None) -> Checkpointing | None:
    """Where and how often to checkpoint: `training.checkpoint_dir`, else `<output without suffix>.checkpoints/`."""
    t = model.training
    if not t.checkpoint_every:
        return None
    if t.checkpoint_dir:
        return Checkpointing(t.checkpoint_dir, t.checkpoint_every)
    if output_path is None:
        raise ConfigError(f"training.checkpoint_every={t.checkpoint_every} needs training.checkpoint_dir "
                          "(or an output path to put the checkpoints beside)")
    return Checkpointing(storage.beside(output_path, ".checkpoints"), t.checkpoint_every)


def train(table: pa.Table, model: ModelSection,
          on_epoch: Callable[[EpochStats], None] | None = None, output_path: str | None = None):
    """Fit the configured model on `table`; `on_epoch` receives each epoch's diagnostics.

    With `training.checkpoint_every`, checkpoints go to `training.checkpoint_dir` or beside
    `output_path`, and a retried or restarted run on the same data and settings resumes from the
    latest one (`estimator.resumed_from_`: its epoch, else None).
    """
    estimator = synth_model(model)
    checkpoint = checkpointing(model, output_path)
    every = max(model.epochs // 10, 1)
    resume_logged = False
    with tqdm(total=model.epochs, desc=f"training {model.kind}", unit="epoch", disable=None) as bar:
        def report(stats: EpochStats) -> None:
            nonlocal resume_logged
            if estimator.resumed_from_ and not resume_logged:  # set by fit before its first epoch
                _log_resumed(estimator, checkpoint)
                resume_logged = True
            if on_epoch is not None:
                on_epoch(stats)
            bar.n = stats.epoch  # a resumed run starts part-way
            bar.refresh()
            bar.set_postfix(W=f"{stats.wasserstein:.3f}", G=f"{stats.generator_loss:.3f}",
                            D=f"{stats.critic_loss:.3f}")
            if stats.epoch % every == 0 or stats.epoch == model.epochs:
                log.info("epoch %d/%d: wasserstein %.4f, gp %.4f, critic %.4f, generator %.4f (%.2fs)",
                            stats.epoch, model.epochs, stats.wasserstein, stats.gradient_penalty,
                            stats.critic_loss, stats.generator_loss, stats.seconds)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(table, callback=report, checkpoint=checkpoint)
    if estimator.resumed_from_ is not None and estimator.resumed_from_ >= model.epochs:
        _log_resumed(estimator, checkpoint)  # nothing left to train: no epoch reported it
    for warning in caught:  # an ID-like column, gaps filled, a time budget spent: the user should see it
        if issubclass(warning.category, UserWarning):
            log.warning("%s", warning.message)
    _log_selection(estimator)
    scales = getattr(estimator.transformer_, "scales", dict)()  # a table transformer's per-column scales
    if scales:
        log.info("long tails learned on another scale: %s", "; ".join(f"{n}: {s}" for n, s in scales.items()))
    preparation = getattr(estimator, "preparation_", None)
    if preparation is not None:
        log.info("Sequences: %d in, %d used; %d split into windows; %d missing values interpolated; "
                    "%d dropped for gaps longer than %d steps", preparation.examples_in, preparation.examples_used,
                    preparation.split_examples, preparation.interpolated_values, preparation.dropped_examples,
                    model.max_gap)
    return estimator


def _log_selection(estimator) -> None:
    """The epoch model selection kept, and what scoring cost (its share of the training time)."""
    if getattr(estimator, "selected_epoch_", None) is None:
        return
    scores = dict(estimator.validation_history_)
    training = sum(s.seconds for s in estimator.history_) + estimator.selection_seconds_
    log.info("model selection: kept epoch %d (validation score %.4f, best of %d evaluations); scoring took "
                "%.1fs, %.1f%% of the training time", estimator.selected_epoch_, scores[estimator.selected_epoch_],
                len(scores), estimator.selection_seconds_, 100 * estimator.selection_seconds_ / max(training, 1e-9))


def _log_resumed(estimator, checkpoint: Checkpointing) -> None:
    done, epochs = estimator.resumed_from_, estimator.config.training.epochs
    left = f"training epochs {done + 1} to {epochs}" if done < epochs else "nothing left to train"
    log.info("resumed from epoch %d (checkpoint in %s): %s", done, checkpoint.directory, left)
