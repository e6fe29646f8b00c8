"""The run config's `model` section as an unfitted synth model.

`run`'s preflight and `prefect-synth check` build the model here before any server starts, and the
train step (`tasks.train`) trains the same one: one conversion for both. The run config names its
keys as the library's settings (synth.configs), so the conversion is by name: a key of the run config
that the library lacks must be listed in RUN_ONLY, or `settings` fails (tests/tasks/test_estimator.py
checks every kind).
"""
from __future__ import annotations

from typing import Any

from tasks.kinds.base import ModelSection
from synth.models import model_kind

# run-config keys that are the pipeline's, not the model's
RUN_ONLY = {"kind", "epochs"}
RUN_ONLY_TRAINING = {"checkpoint_every", "checkpoint_dir", "keep_checkpoints"}


def settings(model: ModelSection) -> Any:
    """The library settings dataclass (ACTGANConfig, DGANConfig) of a run's `model` section; what the
    section leaves out (e.g. DGAN's Adam β) stays at the kind's own default.

    Raises:
        ConfigError: a setting the model refuses (e.g. a batch size that is not a multiple of pac).
    """
    values = model.model_dump(exclude=RUN_ONLY)
    training = {k: v for k, v in values.pop("training").items() if k not in RUN_ONLY_TRAINING}
    return model_kind(model.kind).settings({**values, "training": {**training, "epochs": model.epochs}})


def synth_model(model: ModelSection):
    """The unfitted synth model a run's `model` section describes (raises as `settings`)."""
    return model_kind(model.kind).estimator()(settings(model))
