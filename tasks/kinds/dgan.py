"""The `model` section of a DoppelGANger run (model.kind: dgan): time series, long (one row per step)
or wide (one row per example, one column per step)."""
from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import ConfigDict, Field, model_validator

from synth.configs import DGANConfig, WGANConfig, config_to_dict
from synth.errors import ConfigError
from synth.schema import ColumnKind, column_kind
from tasks.kinds.base import (ColumnTransforms, Inspected, MaxPointMasses, ModelSection, PointMassShare,
                              TailTransform, TrainingConfig, check_eval_every, units_read)
from tasks.kinds.columns import ColumnPlan, categories, column, count_of, encoding

_T, _D = WGANConfig(), DGANConfig()
STAND_IN = "__preflight_steps__"  # a zero feature: lets the model's sequence checks run on id + time alone

# the training keys whose DGAN default (synth.configs) differs from the shared TrainingConfig's
DGAN_TRAINING_DEFAULTS = {name: value for name, value in config_to_dict(_D.training).items()
                          if name in TrainingConfig.model_fields and value != config_to_dict(_T)[name]}


class DganModelConfig(ModelSection):
    """DoppelGANger for time series; defaults are gretel's DGANConfig, except batches of 256 and 200 epochs
    (measured on weather: docs/BENCHMARKS.md, issue 14)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="DoppelGANger (time series)")
    output_noun: ClassVar[str] = "sequences"

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
        check_eval_every(self)
        return self

    def named_columns(self) -> dict[str, list[str]]:
        return {**super().named_columns(),
                "model.example_id": [self.example_id] if self.example_id else [],
                "model.time_column": [self.time_column] if self.time_column else [],
                "model.attribute_columns": list(self.attribute_columns),
                "model.feature_columns": list(self.feature_columns)}

    def series_spec(self):
        from synth.fidelity.series import SeriesSpec

        if self.layout != "long":
            return None
        return SeriesSpec(self.example_id, self.time_column, tuple(self.attribute_columns),
                          tuple(self.feature_columns))

    def timing_update(self, data: Inspected) -> dict[str, Any]:
        # the run's length, even if the sample's longest sequence is shorter
        return {"max_sequence_len": data.max_sequence_len}

    def inspect(self, config: Any, source, schema: pa.Schema, rows: int) -> Inspected:
        """Wide: the step columns against max_sequence_len. Long: the model's own sequence checks
        (`Sequences.from_table`) on the id and time columns alone."""
        from synth.timeseries.sequences import GapWarning, Sequences, SequenceSpec

        spec = SequenceSpec(self.layout, self.example_id, self.time_column, tuple(self.attribute_columns),
                            tuple(self.feature_columns)).resolve(schema)
        if self.layout == "wide":
            steps = len(spec.feature_columns)
            if self.max_sequence_len not in (None, steps):  # as DGAN.fit says it
                raise ConfigError(f"max_sequence_len={self.max_sequence_len}, but the wide input has {steps} step "
                                  "columns: leave max_sequence_len unset or make it equal")
            _check_divisible(steps, self.sample_len)
            return Inspected(source, schema, rows, rows, units_read(config, rows), "rows", steps)
        table = _id_and_time(source, schema, spec, config.source.batch_rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GapWarning)  # the stand-in has no gaps; real gaps need the features
            seqs = Sequences.from_table(table, SequenceSpec("long", spec.example_id, spec.time_column, (),
                                                            tuple(table.column_names[2:])),
                                        self.max_sequence_len, self.max_gap, self.split_sequences)
        longest = self.max_sequence_len or int(seqs.lengths.max())
        _check_divisible(longest, self.sample_len)
        examples = seqs.preparation.examples_in
        return Inspected(source, schema, rows, examples, units_read(config, examples), "examples", longest)

    def plan_columns(self, schema: pa.Schema, model: Any) -> tuple[list[ColumnPlan], str]:
        from synth.timeseries.sequences import WIDE_FEATURE

        spec, t = model.spec_, model.transformer_
        return [_column_plan(f, spec, t, WIDE_FEATURE) for f in schema], _encoded(model)


SECTION = DganModelConfig


def _column_plan(f: pa.Field, spec, t, wide_feature: str) -> ColumnPlan:
    if f.name == spec.example_id:
        return column(f, "example id", "not encoded: identifies a sequence (synthetic ids are new)", 0)
    if f.name == spec.time_column:
        return column(f, "time", "not encoded: continues at the data's most common step", 0)
    if f.name in spec.attribute_columns:
        return column(f, "attribute", *encoding(t.attributes_, f.name))
    if f.name in spec.feature_columns:
        wide = spec.layout == "wide"
        role = f"step {spec.feature_columns.index(f.name) + 1}" if wide else "feature"
        text, width = feature_encoding(t, wide_feature if wide else f.name)
        return column(f, role, f"the one feature at this step, {text}" if wide else text, width)
    return column(f, "unused", "not modelled: not the id, time, an attribute or a feature", 0)


def _encoded(model) -> str:
    t = model.transformer_
    flag = " (with a 2-wide end-of-sequence flag)" if t.variable_length_ else ""
    return (f"{t.attribute_dim} attribute values + {t.additional_dim} generated scaling values per example; "
            f"{count_of(t.feature_dim, 'feature value')} per step{flag} × {model.max_sequence_len_} steps")


def feature_encoding(transformer, name: str) -> tuple[str, int]:
    """How a SequenceTransformer encodes feature `name` at each step, and its width per step."""
    from synth.transforms.categorical import CategoricalColumn

    width = sum(s.width for s in transformer.feature_layout_.spans if s.column == name)
    feature = next(f for f in transformer.features_ if f.name == name)
    if isinstance(feature, CategoricalColumn):
        return categories(feature, width)
    modes = sum(s.width for s in transformer.feature_layout_.spans if s.column == name and s.role == "mode")
    if transformer.feature_encoding.value == "modes":
        text = f"mode-specific normalisation: 1 value + {modes}-mode one-hot" if modes else "1 value in one mode"
    else:
        bounds = "[0, 1]" if transformer.normalization.value == "zero_one" else "[-1, 1]"
        text = f"min-max scaled to {bounds}"
        if feature.tail_.kind.value != "none":  # a long tail, scaled on a log or quantile scale
            text = f"{feature.tail_.describe()}, then {text}"
    if name in transformer.example_scaled:
        text += ", per example too (midpoint, half-range: 2 generated values)"
    k = len(feature.points_)
    if k:
        states = (["continuous"] if feature.has_continuous_ else []) + [f"{k} exact point mass{'es' if k > 1 else ''}"]
        text += f" + {feature.n_states}-state one-hot ({', '.join(states)})"
    return text, width


def _id_and_time(source, schema: pa.Schema, spec, batch_rows: int) -> pa.Table:
    """The example-id and time columns, and stand-in features the sequence checks accept: a zero
    column, and any date/time feature as nulls of its type so that the model's own check refuses it."""
    columns = [spec.example_id, spec.time_column]
    fields = pa.schema([schema.field(c) for c in columns])
    table = pa.Table.from_batches(list(source.batches(columns, batch_rows)), schema=fields)
    dated = [c for c in spec.feature_columns if column_kind(c, schema.field(c).type) is ColumnKind.DATETIME]
    for name in dated:
        table = table.append_column(schema.field(name), pa.nulls(table.num_rows, schema.field(name).type))
    return table.append_column(STAND_IN, pa.array(np.zeros(table.num_rows, dtype=np.int8)))


def _check_divisible(steps: int, sample_len: int) -> None:
    if steps % sample_len:  # as DGAN.fit says it
        raise ConfigError(f"max_sequence_len={steps} (the longest sequence) is not divisible by "
                          f"sample_len={sample_len}: set max_sequence_len to a multiple of sample_len")
