"""What every model kind's run-config section shares: the strict pydantic base, the WGAN training
settings, the point-mass and tail fields, and `ModelSection`, the questions the layers above ask a
kind's section instead of comparing kind names (which columns it names, what preflight reads of the
input, how the plan describes each column).

Defaults are read from the library's dataclasses (synth.configs), the one place they are written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from synth.configs import WGANConfig

if TYPE_CHECKING:
    from synth.storage import ParquetSource
    from tasks.kinds.columns import ColumnPlan

_T = WGANConfig()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingConfig(Strict):
    """WGAN settings shared by every model kind."""

    batch_size: int = Field(_T.batch_size, ge=2, description="Rows (or examples) per training step.")
    generator_lr: float = Field(_T.generator_lr, gt=0, description="Adam learning rate of the generator.")
    critic_lr: float = Field(_T.critic_lr, gt=0, description="Adam learning rate of the critic.")
    critic_steps: int = Field(_T.critic_steps, ge=1, le=100, description="Critic rounds per generator step.")
    generator_steps: int = Field(_T.generator_steps, ge=1, le=100,
        description="Generator rounds after each set of critic rounds.")
    reuse_fakes: bool = Field(
        _T.reuse_fakes,
        description="The generator round trains on the fakes of the last critic round (made with gradients) "
                    "instead of drawing new ones: one generator pass per step fewer, about 18 % less time "
                    "per ACTGAN epoch, but on diamonds about 0.01 lower judge quality at equal time.")
    lipschitz: Literal["gradient_penalty", "weight_clipping"] = Field(
        _T.lipschitz.value, description="How the critic is kept 1-Lipschitz.")
    gp_lambda: float = Field(_T.gp_lambda, ge=0, description="Gradient-penalty coefficient λ.")
    clip_value: float = Field(_T.clip_value, gt=0, description="Weight-clipping bound (weight_clipping only).")
    device: Literal["auto", "cpu", "cuda"] = Field(_T.device, description="Where to train: auto = CUDA if present.")
    amp: bool = Field(_T.amp, description="Mixed precision (bfloat16 autocast) on CUDA.")
    checkpoint_every: int = Field(
        0, ge=0, description="Save a checkpoint every this many epochs (and after the last one); 0 = never. "
                             "A run that is killed, retried or started again on the same data and settings "
                             "resumes from the latest checkpoint and still trains `epochs` in all.")
    checkpoint_dir: str | None = Field(
        None, description="Where checkpoints go; only the latest is kept (default: <output path without "
                          "suffix>.checkpoints/).")
    max_minutes: float | None = Field(
        _T.max_minutes, gt=0,
        description="Time budget for training, in minutes from its start (transform fit included): "
                    "training stops after the last epoch that fits and the run goes on to sampling "
                    "with the model as trained so far. Empty = no limit.")
    keep_checkpoints: bool = Field(
        False, description="Keep the checkpoints after a run that published (they take a few MB to tens of "
                           "MB each); by default they are removed once the output is published, and kept after a "
                           "failed or interrupted run so that a rerun resumes.")
    max_critic_grad_norm: float = Field(
        _T.max_critic_grad_norm, gt=0,
        description="Divergence guard: a critic step whose gradient norm (all critic weights, "
                    "penalty included) exceeds this stops training with an error naming the epoch, as "
                    "does a NaN or infinite loss; the last good checkpoint is kept. Healthy runs peak "
                    "below about 50 (about 100 with gp_lambda 100); exploding ones reach 1e6 and more.")
    eval_every: int = Field(
        _T.eval_every, ge=0,
        description="Model selection (default: 5 for actgan with at least 5 epochs, else 0): every "
                    "this many epochs, score the generator on a validation split "
                    "held back from the training data (the report's column shapes and pair trends on at "
                    "most 10,000 rows), keep the best-scoring state and stop after `patience` evaluations "
                    "without improvement; `epochs` becomes a cap. 0 = off: the last epoch is kept. At "
                    "most `epochs`.")
    patience: int = Field(_T.patience, ge=1,
        description="Model selection: evaluations without a better validation score "
                    "before training stops.")
    validation_fraction: float = Field(
        _T.validation_fraction, gt=0, lt=1,
        description="Model selection: share of the training rows held back to score on (at most "
                    "10,000 rows); separate from the report's holdout. Used only with eval_every.")
    ema_decay: float = Field(
        _T.ema_decay, ge=0, lt=1,
        description="Model selection: also keep an exponential moving average of the generator's "
                    "weights (updated after every epoch, this much of the old average kept) and "
                    "score it at each evaluation; the better of the two is kept. 0 = no average. "
                    "Used only with eval_every.")


def check_eval_every(model: Any) -> None:
    if model.training.eval_every > model.epochs:
        raise ValueError(f"training.eval_every={model.training.eval_every} is larger than epochs={model.epochs}: "
                         "no evaluation would happen; lower training.eval_every (0 turns model selection off)")


# Point masses, the same settings for both model kinds.
PointMassShare = Annotated[float, Field(
    gt=0, le=1, description="A numeric value held by at least this share of a column's rows (dgan: of a feature's "
                            "steps) is a point mass: generated exactly, at its learned rate (zeros, caps, floors, "
                            "defaults).")]
MaxPointMasses = Annotated[int, Field(ge=0, le=64, description="Point masses per numeric column at most (the "
                                                               "heaviest); 0 turns them off.")]
# Long tails, the same settings for both model kinds (dgan: attributes and continuous features).
TailTransform = Annotated[Literal["auto", "none"], Field(
    description="Long tails: a numeric column (dgan: attribute or feature) whose continuous part (point masses "
                "aside) has a |skewness| above 2 is learned on a log scale (values ≥ 0, when that brings the "
                "|skewness| to 1 or less), else on a quantile scale (its empirical CDF mapped to a normal), and "
                "mapped back exactly. none: every column on its own scale. Dates and times are never transformed.")]
ColumnTransforms = Annotated[dict[str, Literal["auto", "none", "log", "quantile"]], Field(
    description="Force a numeric column's scale, e.g. {price: log}: auto (the rule of tail_transform), none, "
                "log (values ≥ 0 only) or quantile (at least 2 distinct values). Columns not named follow "
                "tail_transform.")]


@dataclass(frozen=True)
class Inspected:
    """The input as far as a preflight reads it (footers, and a long series' id and time columns)."""

    source: ParquetSource
    schema: pa.Schema          # the columns the run reads
    rows: int                  # rows in the whole input (footers)
    units: int                 # rows, or examples (long dgan), in the whole input: the default output size
    units_read: int            # of those, the ones a run reads: all, or source.sample_rows of them
    unit: str                  # "rows" or "examples"
    max_sequence_len: int | None = None  # dgan: the length the model will use


def units_read(config: Any, units: int) -> int:
    """Rows (examples) the run reads: all, or `source.sample_rows` of them."""
    sample = config.source.sample_rows
    return units if sample is None else min(sample, units)


class ModelSection(Strict):
    """A model kind's `model` section of the run config. Each kind subclasses it in its own module of
    `tasks.kinds` (named as its entry in synth.models.KINDS), with `kind: Literal["<name>"]` and its
    fields, and answers the questions below; the layers above ask these instead of comparing names."""

    output_noun: ClassVar[str | None] = None  # what one synthetic unit is called in the plan, beside rows

    def named_columns(self) -> dict[str, list[str]]:
        """Every input column this section names, by the key that names it (each must exist)."""
        return {"model.column_transforms": list(getattr(self, "column_transforms", {}))}

    def series_spec(self):
        """The time-series columns the report compares as sequences, or None for a table."""
        return None

    def timing_update(self, data: Inspected) -> dict[str, Any]:
        """Settings a plan's timing fit on a small sample overrides so that it measures the real run."""
        return {}

    def inspect(self, config: Any, source: ParquetSource, schema: pa.Schema, rows: int) -> Inspected:
        """What preflight reads of the input beyond its footers, with the kind's own checks.

        Raises:
            ConfigError, DataError: as the model's fit would, later.
        """
        raise NotImplementedError

    def plan_columns(self, schema: pa.Schema, model: Any) -> tuple[list[ColumnPlan], str]:
        """Each input column's role, encoding and width in the fitted `model`; the encoded totals in words."""
        raise NotImplementedError
