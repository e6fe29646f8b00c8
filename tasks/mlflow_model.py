"""A fitted synth model as an MLflow pyfunc: `predict(DataFrame({"num_rows": [n], "seed": [s]}))` -> rows.

`params={"conditions": '{"cut": "Ideal"}'}` (a JSON object, as text) makes every row meet the conditions.

Logged as "models from code": MLflow copies this file into the model folder and runs it on load, so
not even this wrapper is pickled. The fitted model travels as the folder `model.save()` wrote
(model.json + weights.safetensors) under the artifact key `MODEL_ARTIFACT`.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel, PythonModelContext

from synth.models import load_model

MODEL_ARTIFACT = "model"  # key of the saved-model folder in `artifacts=`


class SyntheticSampler(PythonModel):
    """Samples synthetic rows: one block of `num_rows` per input row, seeded by the optional `seed`."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = load_model(context.artifacts[MODEL_ARTIFACT])

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        conditions = _conditions(params)
        blocks = [self.model.sample(_num_rows(request), seed=_seed(request), conditions=conditions)
                  for request in model_input.to_dict("records")]
        if not blocks:
            raise ValueError("predict: the input has no rows; send one row with a num_rows column")
        return pd.concat(blocks, ignore_index=True)


def _num_rows(request: dict[str, Any]) -> int:
    value = request.get("num_rows")
    if value is None or isinstance(value, float) and math.isnan(value) or int(value) < 1:
        raise ValueError(f"predict: num_rows must be a whole number >= 1, got {value!r}")
    return int(value)


def _conditions(params: dict[str, Any] | None) -> dict[str, Any] | None:
    text = (params or {}).get("conditions") or ""
    if not text:
        return None
    try:
        conditions = json.loads(text)
    except ValueError as e:
        raise ValueError(f"predict: params.conditions must be a JSON object, got {text!r}") from e
    if not isinstance(conditions, dict):
        raise ValueError(f"predict: params.conditions must be a JSON object, got {text!r}")
    return conditions


def _seed(request: dict[str, Any]) -> int | None:
    value = request.get("seed")
    if value is None or isinstance(value, float) and math.isnan(value):
        return None  # a missing seed in a mixed batch arrives as NaN
    return int(value)


set_model(SyntheticSampler())
