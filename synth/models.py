"""Model kinds by name, and loading any saved model."""
from __future__ import annotations

import json
from pathlib import Path

from synth.errors import ConfigError, DataError
from synth.serialization import MODEL_JSON

KINDS = ("actgan", "dgan")


def model_class(kind: str):
    if kind == "actgan":
        from synth.tabular import ACTGAN
        return ACTGAN
    if kind == "dgan":
        from synth.timeseries import DGAN
        return DGAN
    raise ConfigError(f"model.kind={kind!r}: unknown model kind (expected one of {', '.join(KINDS)})")


def load_model(directory: str | Path, device: str = "cpu"):
    """Load a model saved with `model.save(directory)`, whatever its kind."""
    path = Path(directory) / MODEL_JSON
    try:
        kind = json.loads(path.read_text())["kind"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"model {directory}: no readable {MODEL_JSON} ({e})") from e
    return model_class(kind).load(directory, device=device)
