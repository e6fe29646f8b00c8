"""The run configuration: one pydantic model that is both the YAML file and the flow's parameter.

The Prefect UI renders `RefreshConfig` as a form, so every field carries a title-worthy description
and bounds; unknown keys are errors everywhere (extra="forbid").
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synth.configs import ACTGANConfig, DGANConfig, WGANConfig, config_to_dict
from synth.errors import ConfigError
from synth.models import KINDS

# the library's defaults (synth.configs), the one place they are written; the fields below read them
_T, _A, _D = WGANConfig(), ACTGANConfig(), DGANConfig()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    path: str = Field(description="Parquet file, or a directory of Parquet files / hive partitions.")
    columns: list[str] | None = Field(None, description="Columns to read (default: all).")
    sample_rows: int | None = Field(
        None, ge=2, description="Train on a uniform random sample of this many rows (dgan, long layout: this "
                                "many whole examples), drawn while the input streams by in record batches, so "
                                "it never has to fit in memory. The holdout is taken from the sample. Default: "
                                "read the whole input. An input with fewer rows (examples) is taken whole.")
    sample_seed: int = Field(0, ge=0, description="Seed of the training sample: the same data and seed give "
                                                  "the same sample.")
    batch_rows: int = Field(131_072, ge=100, le=10_000_000,
                            description="Rows per record batch while the input is streamed (sampling, full "
                                        "validation): memory grows with it.")
    pandas_index: Literal["auto", "drop", "keep"] = Field(
        "auto", description="Columns that pandas' metadata names as the DataFrame index (df.to_parquet() "
                            "stores a filtered frame's index as __index_level_0__). auto: drop unnamed ones "
                            "(__index_level_N__), keep named ones (e.g. a date set as index) as data; drop: drop "
                            "them all; keep: keep them all as data. Ignored when source.columns is set.")


class TrainingConfig(_Strict):
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


def _check_eval_every(model: Any) -> None:
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


ACTGAN_EVAL_EVERY = 5  # model selection on by default for tables: see docs/BENCHMARKS.md, issue 14


class ActganModelConfig(_Strict):
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
        _check_eval_every(self)
        return self


# the training keys whose DGAN default (synth.configs) differs from the shared TrainingConfig's
DGAN_TRAINING_DEFAULTS = {name: value for name, value in config_to_dict(_D.training).items()
                          if name in TrainingConfig.model_fields and value != config_to_dict(_T)[name]}


class DganModelConfig(_Strict):
    """DoppelGANger for time series; defaults are gretel's DGANConfig, except batches of 256 and 200 epochs
    (measured on weather: docs/BENCHMARKS.md, issue 14)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="DoppelGANger (time series)")

    kind: Literal["dgan"] = Field("dgan", description="Model family: dgan for time series.")
    epochs: int = Field(_D.training.epochs, ge=1, le=100_000, description="Passes over the training examples.")
    seed: int = Field(_D.seed, ge=0, description="Seed for training and sampling: same seed, same output.")
    layout: Literal["long", "wide"] = Field(
        _D.layout, description="long: one row per time step (id, time, attributes, features); "
                               "wide: one row per example, one column per step of a single feature.")
    example_id: str | None = Field(_D.example_id,
        description="long: the column that identifies one sequence (example).")
    time_column: str | None = Field(_D.time_column, description="long: the column that orders the steps of a sequence.")
    attribute_columns: list[str] = Field(default_factory=list,
                                         description="Columns constant within an example (e.g. station, month).")
    feature_columns: list[str] = Field(default_factory=list, description=(
        "long: columns that vary over time; wide: the step columns in order. Default: every other column."))
    max_sequence_len: int | None = Field(_D.max_sequence_len, ge=1, description="Longest sequence, in steps "
                                                                                "(default: the longest in the data).")
    sample_len: int = Field(_D.sample_len, ge=1,
        description="Steps emitted per LSTM cell; must divide max_sequence_len.")
    split_sequences: bool = Field(_D.split_sequences,
        description="Cut sequences longer than max_sequence_len into windows "
                    "instead of refusing them.")
    max_gap: int = Field(_D.max_gap, ge=0,
        description="Missing feature values in runs up to this long are interpolated; "
                    "examples with a longer gap are dropped (and counted).")
    feature_encoding: Literal["minmax", "modes"] = Field(
        _D.feature_encoding.value,
        description="How continuous features are encoded per step. minmax: min-max scaled (see "
                    "normalization, apply_feature_scaling, apply_example_scaling); modes: mode-specific "
                    "normalization as for tables, a scalar within a mode plus a one-hot of the mode, the "
                    "modes fitted over all steps. With modes, normalization and both scaling keys do not "
                    "apply to continuous features (apply_example_scaling is ignored, not refused). Point "
                    "masses work with both.")
    normalization: Literal["zero_one", "minus_one_one"] = Field(
        _D.normalization.value, description="Range of scaled continuous values: [0, 1] (sigmoid) or [-1, 1] (tanh); "
                                            "feature_encoding minmax only.")
    apply_feature_scaling: bool = Field(_D.apply_feature_scaling,
        description="Min-max scale continuous features over all data "
                    "(feature_encoding minmax only).")
    apply_example_scaling: bool = Field(_D.apply_example_scaling,
        description="Also scale each example by its own midpoint and "
                    "half-range, generated as extra attributes "
                    "(feature_encoding minmax only).")
    binary_encoder_cutoff: int = Field(_D.binary_encoder_cutoff, ge=2,
        description="Discrete columns with this many categories or "
                    "more are binary-coded instead of one-hot.")
    point_mass_min_share: PointMassShare = _D.point_mass_min_share
    max_point_masses: MaxPointMasses = _D.max_point_masses
    tail_transform: TailTransform = _D.tail_transform.value
    column_transforms: ColumnTransforms = Field(default_factory=dict)
    attribute_noise_dim: int = Field(_D.attribute_noise_dim, ge=1,
        description="Noise size of the attribute generators.")
    feature_noise_dim: int = Field(_D.feature_noise_dim, ge=1, description="Noise size per LSTM cell.")
    attribute_num_layers: int = Field(_D.attribute_num_layers, ge=1, description="Layers of the attribute MLPs.")
    attribute_num_units: int = Field(_D.attribute_num_units, ge=1, description="Units per layer of the attribute MLPs.")
    feature_num_layers: int = Field(_D.feature_num_layers, ge=1, description="LSTM layers of the feature generator.")
    feature_num_units: int = Field(_D.feature_num_units, ge=1, description="LSTM units of the feature generator.")
    critic_num_layers: int = Field(_D.critic_num_layers, ge=1, description="Layers of both critics.")
    critic_num_units: int = Field(_D.critic_num_units, ge=1, description="Units per layer of both critics.")
    use_attribute_critic: bool = Field(_D.use_attribute_critic,
        description="Train an auxiliary critic on attributes alone.")
    attribute_gp_lambda: float = Field(_D.attribute_gp_lambda, ge=0,
        description="Gradient-penalty coefficient of the attribute critic.")
    attribute_loss_coef: float = Field(_D.attribute_loss_coef, ge=0,
        description="Weight of the attribute critic in the generator loss.")
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig(**DGAN_TRAINING_DEFAULTS))

    @model_validator(mode="before")
    @classmethod
    def _dgan_training_defaults(cls, data: Any) -> Any:
        """A `training` section that sets some keys keeps DoppelGANger's defaults for the others (not
        ACTGAN's, which TrainingConfig's own defaults are)."""
        if isinstance(data, dict) and isinstance(data.get("training"), dict):
            data = {**data, "training": {**DGAN_TRAINING_DEFAULTS, **data["training"]}}
        return data

    @model_validator(mode="after")
    def _check(self) -> "DganModelConfig":
        if self.layout == "long" and not (self.example_id and self.time_column):
            raise ValueError("layout long needs example_id and time_column")
        if self.max_sequence_len is not None and self.max_sequence_len % self.sample_len:
            raise ValueError(f"max_sequence_len={self.max_sequence_len} is not divisible by "
                             f"sample_len={self.sample_len}")
        _check_eval_every(self)
        return self


ModelConfig = Annotated[Union[ActganModelConfig, DganModelConfig], Field(discriminator="kind")]


class ValidationConfig(_Strict):
    contract: str | None = Field(
        None, description="Schema contract YAML. Default: inferred on the first run (from the whole input), "
                          "stored beside the output.")
    scope: Literal["full", "sample"] = Field(
        "full", description="What is checked when training on a sample (source.sample_rows). full: every row "
                            "of the input, batch by batch (Arrow types from the schema; nulls, ranges and "
                            "allowed values added up with pyarrow.compute), plus Great Expectations on the "
                            "training sample. sample: the training sample only. Without a sample both check "
                            "the whole input. The validation summary states the scope and rows checked.")
    accept_schema: bool = Field(
        False, description="Accept the input's schema as it is now: infer a new contract from this input instead "
                           "of checking it against the stored one, and store it when the run succeeds (the CLI's "
                           "`run --accept-schema`). Use it once, after an intended schema change.")

    @model_validator(mode="after")
    def _own_contract_is_never_replaced(self) -> "ValidationConfig":
        if self.accept_schema and self.contract is not None:
            raise ValueError(f"accept_schema (--accept-schema) cannot accept a new schema: the contract is your own "
                             f"file at {self.contract} (validation.contract), which is never overwritten; edit it "
                             "to accept the change, and run without --accept-schema")
        return self


class SampleConfig(_Strict):
    num_rows: int | None = Field(None, ge=1, description="Rows (actgan) or sequences (dgan) to generate "
                                                          "(default: as many as the input has).")
    conditions: dict[str, str | int | float | bool] | None = Field(
        None, description="Only generate rows with these column values, e.g. {cut: Ideal} (actgan), or "
                          "sequences with these attribute values (dgan).")
    chunk_rows: int = Field(200_000, ge=100, le=10_000_000,
                            description="Synthetic rows generated and written per chunk (dgan: as many whole "
                                        "sequences as fit); memory grows with it, not with num_rows. Each chunk "
                                        "has a seed of its own: the same seed and chunk_rows give the same file.")


class GateConfig(_Strict):
    """Thresholds that decide whether a refresh publishes (and moves the MLflow `champion` alias).
    A threshold set to null is not checked."""

    enabled: bool = Field(True, description="Apply the gate; false publishes whatever the scores.")
    min_overall: float | None = Field(0.7, ge=0, le=1, description="Minimum overall score (shapes and pairs).")
    min_column_shapes: float | None = Field(0.7, ge=0, le=1, description="Minimum column-shapes score.")
    min_column_pairs: float | None = Field(0.6, ge=0, le=1, description="Minimum column-pair-trends score.")
    min_structure: float | None = Field(None, ge=0, le=1, description="Minimum 2-D structure (PCA) score.")
    min_detection: float | None = Field(None, ge=0, le=1, description="Minimum detection score "
                                                                      "(1 = a classifier cannot tell).")
    min_series: float | None = Field(None, ge=0, le=1, description="Minimum time-series overall score (dgan).")
    max_exact_copy_rate: float | None = Field(0.05, ge=0, le=1, description="Maximum share of synthetic rows "
                                                                          "that copy a training row exactly.")
    min_dcr_holdout_share: float | None = Field(
        0.3, ge=0, le=1, description="Minimum share of synthetic rows that are no closer to the training data "
                                     "than to the holdout (distance to closest record; 0.5 is ideal).")
    min_pairs_margin: float | None = Field(
        0.0, ge=-1, le=1, description="The pair-trend score must beat the independent-columns baseline (each "
                                       "column drawn on its own: no dependence) by more than this; 0 = beat it. "
                                       "The score taken is the low end of its 90 % bootstrap interval (report."
                                       "bootstrap 0: the score itself), so a model that learned no dependence "
                                       "does not pass on a lucky draw. Empty = not checked.")
    max_detection_auc: float | None = Field(
        0.99, ge=0.5, le=1, description="Maximum AUC of the classifier telling synthetic rows from real ones "
                                        "(0.5: it cannot tell; 1: every row gives itself away).")
    max_acf_error_ratio: float | None = Field(
        1.0, gt=0, description="Time series (dgan): the synthetic autocorrelation error at most this times "
                                "that of the real sequences time-shuffled (a model that learned no temporal "
                                "order); 1 = no worse than shuffled. Skipped for tables, and when the real "
                                "sequences have almost no autocorrelation.")


class ReportConfig(_Strict):
    max_rows: int = Field(50_000, ge=100, description="Rows of each side compared in the table sections.")
    holdout_fraction: float = Field(0.1, ge=0, lt=0.5, description="Share of the real data (of the examples, "
                                    "for time series) held back from training, for reference points and privacy.")
    target: str | None = Field(None, description="A column to predict for the utility section "
                                                 "(train on synthetic, test on real).")
    bootstrap: int = Field(20, ge=0, le=1000, description="Bootstrap resamples for the confidence intervals.")
    gate: GateConfig = Field(default_factory=GateConfig)


class OutputConfig(_Strict):
    path: str = Field(description="Where the synthetic Parquet is published: a local path or s3://bucket/key.")
    report_dir: str | None = Field(None, description="Where report.json/html go (default: <output>.report/).")
    skip_unchanged: bool = Field(
        True, description="Do nothing (train nothing, publish nothing) when the current output was published "
                          "from the same input data and the same config; false refreshes it anyway.")
    file_mode: str | None = Field(
        None, pattern=r"^0?[0-7]{3}$",
        description="Permission bits of the published local files (output, report, contract) in octal, e.g. "
                    "'0640'. Default: what a plain file write gets under the umask (0644 under the usual 0022). "
                    "s3:// objects have no mode: bucket policies decide.")

    @property
    def mode(self) -> int | None:
        """`file_mode` as a number (None: the umask's)."""
        return None if self.file_mode is None else int(self.file_mode, 8)


class TrackingConfig(_Strict):
    experiment: str | None = Field(None, description="MLflow experiment (default: the output file's stem).")


def _model_as_form(schema: dict[str, Any]) -> None:
    """Publish `model` as a plain anyOf: the Prefect UI draws an anyOf of objects as a form with a
    switch between the two kinds, but a oneOf with a discriminator only as raw JSON. Validation in
    Python still goes by the discriminator; the server's schema check accepts exactly the same values
    (each kind's `kind` is a constant and unknown keys are refused)."""
    model = schema["properties"]["model"]
    if "oneOf" in model:
        model["anyOf"] = model.pop("oneOf")
        model.pop("discriminator", None)


class RefreshConfig(_Strict):
    """One synthetic refresh: read `source`, validate, train `model`, sample, report, publish `output`."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Run configuration",
                              json_schema_extra=_model_as_form)

    source: SourceConfig
    model: ModelConfig
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    output: OutputConfig
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    def config_hash(self) -> str:
        """Short stable hash of the whole configuration (what was asked for, not the data); whether an
        unchanged output is skipped is not part of what was asked for."""
        text = json.dumps(self.model_dump(mode="json", exclude={"output": {"skip_unchanged"},
                                                                "validation": {"accept_schema"}}), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def series_spec(self):
        """The time-series columns of a long-layout dgan run (for the report), else None."""
        from synth.fidelity.series import SeriesSpec
        m = self.model
        if m.kind != "dgan" or m.layout != "long":
            return None
        return SeriesSpec(m.example_id, m.time_column, tuple(m.attribute_columns), tuple(m.feature_columns))

    def gate_thresholds(self):
        """The quality gate's thresholds, or None when the gate is off."""
        from synth.fidelity.gate import GateThresholds
        gate = self.report.gate
        return GateThresholds(**gate.model_dump(exclude={"enabled"})) if gate.enabled else None

    def check_columns(self, names: list[str]) -> None:
        """Every column the config names must be in the input: one ConfigError naming all that are not."""
        m = self.model
        named = {"report.target": [self.report.target] if self.report.target else [],
                 "sample.conditions": list(self.sample.conditions or {})}
        named["model.column_transforms"] = list(m.column_transforms)
        if m.kind == "dgan":
            named.update({"model.example_id": [m.example_id] if m.example_id else [],
                          "model.time_column": [m.time_column] if m.time_column else [],
                          "model.attribute_columns": list(m.attribute_columns),
                          "model.feature_columns": list(m.feature_columns)})
        missing = [f"{key} '{name}'" for key, columns in named.items() for name in columns if name not in names]
        if missing:
            raise ConfigError(f"{', '.join(missing)}: not a column of the input (its columns are {names})")

    def flat(self) -> dict[str, Any]:
        """`{"model.epochs": 300, ...}`: the configuration as dotted keys (MLflow params)."""
        return flatten(self.model_dump(mode="json"))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def load_config(path: str | Path, overrides: list[str] = ()) -> RefreshConfig:
    """Read a YAML run configuration and apply `key.path=value` overrides.

    Raises:
        ConfigError: the file is missing or not YAML, a key is unknown, or a value breaks a rule.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config {path}: no such file")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path}: not valid YAML ({e})") from e
    if not isinstance(tree, dict):
        raise ConfigError(f"config {path}: the top level must be a mapping of keys")
    for item in overrides:
        apply_override(tree, item)
    return parse_config(tree, source=str(path))


def apply_override(tree: dict[str, Any], item: str) -> None:
    """Set `a.b.c=value` in a nested dict; the value is parsed as YAML (numbers, lists, booleans)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key.path=value")
    parts = key.strip().split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: '{part}' is not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {item!r}: value is not valid YAML ({e})") from e


def parse_config(tree: dict[str, Any], source: str = "config") -> RefreshConfig:
    try:
        return RefreshConfig.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(f"{source}: invalid configuration\n{format_validation_error(e)}") from e


def format_validation_error(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in KINDS))
        if err["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key")
        elif err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            lines.append(f"  {loc}.kind: unknown model kind {ctx.get('tag')!r} "
                         f"(expected one of {ctx.get('expected_tags')})")
        elif err["type"] == "union_tag_not_found":
            lines.append(f"  {loc}.kind: missing (expected one of {', '.join(KINDS)})")
        else:
            lines.append(f"  {loc or '(top level)'}: {err['msg']}")
    return "\n".join(lines)
