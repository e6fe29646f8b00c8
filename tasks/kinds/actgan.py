"""The `model` section of an ACTGAN run (model.kind: actgan): tables, one row per record."""
from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from pydantic import ConfigDict, Field, model_validator

from synth.configs import ACTGANConfig
from tasks.kinds.base import (ColumnTransforms, Inspected, MaxPointMasses, ModelSection, PointMassShare,
                              TailTransform, TrainingConfig, check_eval_every, units_read)
from tasks.kinds.columns import ColumnPlan, column, encoding

_A = ACTGANConfig()

ACTGAN_EVAL_EVERY = 5  # model selection on by default for tables: see docs/BENCHMARKS.md, issue 14


class ActganModelConfig(ModelSection):
    model_config = ConfigDict(extra="forbid", frozen=True, title="ACTGAN (tables)")

    kind: Literal["actgan"] = Field("actgan", description="Model family: actgan for tables.")
    epochs: int = Field(_A.training.epochs, ge=1, le=100_000, description="Passes over the training data.")
    seed: int = Field(_A.seed, ge=0, description="Seed for training and sampling: same seed, same output.")
    embedding_dim: int = Field(_A.embedding_dim, ge=1, description="Size of the generator's noise vector.")
    generator_dims: list[int] = Field(list(_A.generator_dims), description="Hidden sizes of the residual generator.")
    critic_dims: list[int] = Field(list(_A.critic_dims), description="Hidden sizes of the critic.")
    pac: int = Field(_A.pac, ge=1, description="Rows packed into one critic input (PacGAN).")
    conditioning: Literal["single_discrete", "anyway"] = Field(
        _A.conditioning.value, description="Conditional vector: one discrete column (CTGAN's training-by-sampling) "
                                           "or any subset of columns, numeric included.")
    reconstruction_loss_coef: float = Field(_A.reconstruction_loss_coef, ge=0,
        description="Weight of reproducing the conditioned values.")
    binary_encoder_cutoff: int = Field(_A.binary_encoder_cutoff, ge=2,
        description="Discrete columns with this many categories or "
                    "more are binary-coded instead of one-hot.")
    mixture_fit_rows: int = Field(_A.mixture_fit_rows, ge=100, description="Rows subsampled to fit each continuous "
                                                                           "column's Gaussian mixture.")
    point_mass_min_share: PointMassShare = _A.point_mass_min_share
    max_point_masses: MaxPointMasses = _A.max_point_masses
    tail_transform: TailTransform = _A.tail_transform.value
    column_transforms: ColumnTransforms = Field(default_factory=dict)
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig(eval_every=ACTGAN_EVAL_EVERY))

    @model_validator(mode="before")
    @classmethod
    def _actgan_training_defaults(cls, data: Any) -> Any:
        """Model selection is on by default: every ACTGAN_EVAL_EVERY epochs when `epochs` is at least that
        (off below), unless `training.eval_every` is given (0 turns it off)."""
        if not isinstance(data, dict):
            return data
        training = data.get("training", {})
        if isinstance(training, dict) and "eval_every" not in training:
            try:
                epochs = int(data.get("epochs", ActganModelConfig.model_fields["epochs"].default))
            except (TypeError, ValueError):
                return data  # the field's own validation names the bad value
            # fewer epochs: nothing to choose from, and a run raised past it later starts afresh anyway
            # (selection holds back rows), while raising 2 to 4 epochs still resumes
            data = {**data, "training": {**training, "eval_every": ACTGAN_EVAL_EVERY if epochs >= ACTGAN_EVAL_EVERY else 0}}
        return data

    @model_validator(mode="after")
    def _check(self) -> "ActganModelConfig":
        check_eval_every(self)
        return self

    def inspect(self, config: Any, source, schema: pa.Schema, rows: int) -> Inspected:
        from synth.transforms.table import check_tails

        check_tails(schema, self.column_transforms)  # numeric, and not a date forced to a map
        return Inspected(source, schema, rows, rows, units_read(config, rows), "rows")

    def plan_columns(self, schema: pa.Schema, model: Any) -> tuple[list[ColumnPlan], str]:
        t = model.transformer_
        columns = [column(f, "column", *encoding(t, f.name)) for f in schema]
        condition = model.conditions_.width
        encoded = f"{t.output_dim} values per row" + (f", plus a conditional vector of {condition}"
                                                      if condition else "")
        return columns, encoded
SECTION = ActganModelConfig
