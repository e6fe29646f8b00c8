"""The model kinds: what every layer above asks about a kind, in one registry.

    kind = model_kind("dgan")
    kind.estimator()(kind.settings({"sample_len": 4, "training": {"epochs": 50}}))   # an unfitted DGAN
    kind.steps_per_epoch(units=1_000, batch_size=256)

A new kind is its package (the estimator with the fit/sample/save/load methods ACTGAN and DGAN share,
and its settings dataclass), one `ModelKind` entry here, and its run-config section in
`tasks/kinds/<name>.py` (found by this entry's name): docs/ARCHITECTURE.md, "Model kinds". The run
config's conversion, the plan, the config error messages and the models' own training games read it
from here instead of comparing names.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from synth.configs import ACTGANConfig, DGANConfig, config_from_dict, config_to_dict
from synth.errors import ConfigError, DataError


@dataclass(frozen=True)
class ModelKind:
    name: str
    config: type                 # the settings dataclass (synth.configs), all defaults valid
    estimator_path: str          # "module:Class", imported on first use (torch is heavy)
    unit: str                    # what a row of training data is to the model: "rows" or "examples"
    clamps_batch: bool = False   # the batch is at most the number of units (DGAN, as gretel's)
    title: str = ""

    def estimator(self) -> type:
        module, name = self.estimator_path.split(":")
        return getattr(importlib.import_module(module), name)

    def defaults(self) -> Any:
        """The settings dataclass with every default (training included)."""
        return self.config()

    def settings(self, values: Mapping[str, Any]) -> Any:
        """The settings dataclass from plain values named as its fields (nested: `training`), the
        others at this kind's defaults; enums by value, tuples as lists.

        Raises:
            ValueError: a name that is no field of the settings (a run-config key nobody maps).
            ConfigError: a value the settings refuse.
        """
        base = config_to_dict(self.defaults())
        _check_names(self.config, values, self.name)
        merged = {**base, **values}
        if "training" in values:
            _check_names(type(self.defaults().training), values["training"], f"{self.name}.training")
            merged["training"] = {**base["training"], **values["training"]}
        return config_from_dict(self.config, merged)

    def batch(self, units: int, batch_size: int) -> int:
        """The batch the model trains with on `units` rows or examples."""
        return min(batch_size, units) if self.clamps_batch else batch_size

    def steps_per_epoch(self, units: int, batch_size: int) -> int:
        """Training steps in one epoch, as the model counts them: whole batches of rows (ACTGAN's
        _TableGame), or about one pass over the examples (DGAN's _SequenceGame)."""
        if self.clamps_batch:
            return max(round(units / self.batch(units, batch_size)), 1)
        return max(units // batch_size, 1)


KINDS: dict[str, ModelKind] = {
    "actgan": ModelKind("actgan", ACTGANConfig, "synth.tabular.actgan:ACTGAN", "rows", title="ACTGAN (tables)"),
    "dgan": ModelKind("dgan", DGANConfig, "synth.timeseries.dgan:DGAN", "examples", clamps_batch=True,
                      title="DoppelGANger (time series)"),
}


def model_kind(name: str) -> ModelKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"model.kind={name!r}: unknown model kind (expected one of {', '.join(KINDS)})") from None


def model_class(kind: str) -> type:
    return model_kind(kind).estimator()


def load_model(directory: str | Path, device: str = "cpu"):
    """Load a model saved with `model.save(directory)`, whatever its kind."""
    from synth.serialization import MODEL_JSON

    path = Path(directory) / MODEL_JSON
    try:
        kind = json.loads(path.read_text())["kind"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"model {directory}: no readable {MODEL_JSON} ({e})") from e
    return model_class(kind).load(directory, device=device)


def _check_names(cls: type, values: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"{where}: no such setting {', '.join(unknown)} in {cls.__name__}")
