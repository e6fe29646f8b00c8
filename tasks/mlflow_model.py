"""A fitted synth model as an MLflow pyfunc: `predict(DataFrame({"num_rows": [n], "seed": [s]}))` -> rows.

Conditions make every row meet given column values, in either of two forms:
- `params={"conditions": '{"cut": "Ideal"}'}`: a JSON object, as text, for every input row;
- a `conditions` column of mappings, one per input row: `DataFrame({"num_rows": [5, 5],
  "conditions": [{"cut": "Ideal"}, {"cut": "Fair"}]})`; a row's mapping is added to the params'
  conditions (the row's value wins for a column in both), a missing one (None) adds nothing.

A mapping cannot go in `params`: MLflow 3.17 checks params against the signature before `predict`
runs, a param is a scalar or an Object with fixed keys, and the keys here are each model's columns,
so `params={"conditions": {...}}` is refused by MLflow ("Value must be a scalar"). `predict` itself
takes a mapping in either place (as when the class is used without MLflow's checks).

Logged as "models from code": MLflow copies this file into the model folder and runs it on load, so
not even this wrapper is pickled. The fitted model travels as the folder `model.save()` wrote
(model.json + weights.safetensors) under the artifact key `MODEL_ARTIFACT`.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
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
        shared = _conditions((params or {}).get("conditions"), "params.conditions")
        blocks = [self._sample(request, shared) for request in model_input.to_dict("records")]
        if not blocks:
            raise ValueError("predict: the input has no rows; send one row with a num_rows column")
        return pd.concat(blocks, ignore_index=True)

    def _sample(self, request: dict[str, Any], shared: dict[str, Any] | None) -> pd.DataFrame:
        own = _conditions(request.get("conditions"), "the conditions column")
        conditions = {**shared, **own} if shared and own else own or shared
        return self.model.sample(_num_rows(request), seed=_seed(request), conditions=conditions)


def _num_rows(request: dict[str, Any]) -> int:
    value = request.get("num_rows")
    if value is None or isinstance(value, float) and math.isnan(value) or int(value) < 1:
        raise ValueError(f"predict: num_rows must be a whole number >= 1, got {value!r}")
    return int(value)


def _conditions(value: Any, where: str) -> dict[str, Any] | None:
    """A mapping, or a JSON object as text, as a dict; None for no conditions (None, NaN, "" or {})."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError as e:
            raise ValueError(f"predict: {where} must be a mapping or a JSON object, got {value!r}") from e
    if not isinstance(value, Mapping):
        raise ValueError(f"predict: {where} must be a mapping or a JSON object, got {value!r}")
    return dict(value) or None


def _seed(request: dict[str, Any]) -> int | None:
    value = request.get("seed")
    if value is None or isinstance(value, float) and math.isnan(value):
        return None  # a missing seed in a mixed batch arrives as NaN
    return int(value)


set_model(SyntheticSampler())
