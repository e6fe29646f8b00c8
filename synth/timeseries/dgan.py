"""DGAN: DoppelGANger for time series (Lin et al., IMC 2020; after gretel-synthetics' PyTorch port).

    config = DGANConfig(example_id="station_day", time_column="hour", attribute_columns=("origin",),
                        feature_columns=("temp", "wind"), max_sequence_len=24, sample_len=4)
    model = DGAN(config).fit(long_table)
    model.sample(100)                                    # 100 sequences, long format like the input
    model.sample(100, conditions={"origin": "JFK"})      # every sequence with that attribute
    model.generate()                                     # as many sequences as trained on, as Arrow
    model.generate(attributes=pd.DataFrame({"origin": ["JFK", "LGA"]}))   # one sequence per given row
    model.save("model/"); DGAN.load("model/")
    DGAN(config).fit(long_table, checkpoint=Checkpointing("ckpt/", every=10))  # resumes a killed fit

Beyond gretel: conditional generation on given attributes, a seed for identical output, learned
variable lengths with masked ends (a generation flag), time values continued at the data's
cadence from starts drawn from the data, and short gaps interpolated / long-gap examples dropped.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch

from synth.configs import DGANConfig
from synth.errors import ConfigError
from synth.estimator import WGANEstimator
from synth.fidelity.series import SeriesSpec
from synth.models import model_kind
from synth.selection import SeriesScorer, Split, TableScorer, validation_split
from synth.serialization import config_from_dict, config_to_dict, schema_from_text, schema_to_text
from synth.tables import as_table, check_trainable
from synth.timeseries.networks import Critic as CriticNet
from synth.timeseries.networks import SequenceGenerator
from synth.timeseries.sequences import WIDE_FEATURE, Preparation, Sequences, SequenceSpec
from synth.timeseries.transform import SequenceTransformer
from synth.training import Critic


class DGAN(WGANEstimator):
    """Learns sequences (`fit`, as the model base: synth.estimator) and makes sequences like them
    (`sample`, `generate`, with given attributes). `sample(n)` counts sequences, not rows."""

    kind = "dgan"
    config_type = DGANConfig
    transformer_type = SequenceTransformer

    # -- fit: the steps the model base runs ----------------------------------------------------------
    def _prepare(self, table: pa.Table) -> tuple[Split | None, Sequences]:
        """The sequences of `table` and the shape they decide (`spec_`, `max_sequence_len_`, `schema_`,
        `batch_size_`, ...); the held-back examples are split off first. Model selection's score is
        the report's fast series sections (long input), or shapes and pairs (wide input)."""
        cfg = self.config
        spec = cfg.spec.resolve(table.schema)
        used = [c for c in (spec.example_id, spec.time_column) if c] + list(spec.attribute_columns) \
            + list(spec.feature_columns)
        check_trainable(table.select(used))
        split = validation_split(table, cfg.training.validation_fraction, cfg.seed,
                                 by=spec.example_id if spec.layout == "long" else None, examples=True) \
            if cfg.training.eval_every else None
        seqs = Sequences.from_table(split.training if split else table, spec, cfg.max_sequence_len, cfg.max_gap,
                                    cfg.split_sequences)
        self.spec_, self.max_sequence_len_, self.preparation_ = spec, self._sequence_len(spec, seqs), seqs.preparation
        self.batch_size_ = model_kind(self.kind).batch(len(seqs.lengths), cfg.training.batch_size)
        if self.batch_size_ < cfg.training.batch_size:  # as gretel does: a batch is at most all examples
            warnings.warn(f"training.batch_size={cfg.training.batch_size} is larger than the number of training "
                          f"examples ({len(seqs.lengths)}): each step uses all {self.batch_size_}", UserWarning,
                          stacklevel=3)
        self.schema_ = table.select(used).schema.remove_metadata()
        self.training_size_ = len(seqs.lengths)
        self._fit_times(seqs)
        self._resolve_device()
        return split, seqs

    def _sequence_len(self, spec: SequenceSpec, seqs: Sequences) -> int:
        """T: the configured length, or the longest sequence (long input), or the step columns (wide)."""
        cfg = self.config
        if spec.layout == "wide":
            T = len(spec.feature_columns)
            if cfg.max_sequence_len not in (None, T):
                raise ConfigError(f"max_sequence_len={cfg.max_sequence_len}, but the wide input has {T} step "
                                  "columns: leave max_sequence_len unset or make it equal")
        else:
            T = cfg.max_sequence_len or int(seqs.lengths.max())
        if T % cfg.sample_len:
            raise ConfigError(f"max_sequence_len={T} (the longest sequence) is not divisible by "
                              f"sample_len={cfg.sample_len}: set max_sequence_len to a multiple of sample_len")
        return T

    def _fit_transformer(self, seqs: Sequences) -> SequenceTransformer:
        cfg = self.config
        return SequenceTransformer(self.max_sequence_len_, cfg.normalization, cfg.apply_feature_scaling,
                                   cfg.apply_example_scaling, cfg.binary_encoder_cutoff, cfg.seed,
                                   cfg.point_mass_min_share, cfg.max_point_masses, cfg.feature_encoding,
                                   cfg.tail_transform, cfg.column_transforms).fit(seqs)

    def _encode(self, seqs: Sequences) -> list[torch.Tensor]:
        """(attributes (N, Da), additional attributes (N, Dx), features (N, T, Df))."""
        return [torch.as_tensor(a, device=self.device_) for a in self.transformer_.transform(seqs)]

    def _game(self, seqs: Sequences, encoded: list[torch.Tensor], rng: torch.Generator) -> "_SequenceGame":
        return _SequenceGame(self, *encoded, rng)

    def _scorer(self, split: Split) -> SeriesScorer | TableScorer:
        """Scores on the held-back examples: the series sections (long input), or shapes and pairs of the
        step columns (wide input: one row per example)."""
        spec, validation = self.spec_, split.validation.select(self.schema_.names)
        if spec.layout == "long":
            return SeriesScorer(validation, SeriesSpec(spec.example_id, spec.time_column,
                                                       tuple(spec.attribute_columns), tuple(spec.feature_columns)),
                                seed=self.config.seed)
        return TableScorer(validation, seed=self.config.seed)

    def _build(self) -> None:
        cfg, t = self.config, self.transformer_
        self.attribute_layout_ = t.attributes_.layout_.to(self.device_)
        self.additional_layout_ = t.additional_layout_.to(self.device_)
        self.feature_layout_ = t.feature_layout_.to(self.device_)
        self.generator_ = SequenceGenerator(
            t.attribute_dim, t.additional_dim, t.feature_dim, self.max_sequence_len_, cfg.sample_len,
            cfg.attribute_noise_dim, cfg.feature_noise_dim, cfg.attribute_num_layers, cfg.attribute_num_units,
            cfg.feature_num_layers, cfg.feature_num_units).to(self.device_)

    def _fit_times(self, seqs: Sequences) -> None:
        """The cadence (most common step between consecutive times) and the examples' start times."""
        self.cadence_, self.starts_, self.start_counts_ = None, [], []
        if seqs.times is None:
            return
        ticks = _time_ticks(seqs.times)
        offsets = seqs.offsets
        diffs = np.diff(ticks)
        inside = np.ones(len(diffs), dtype=bool)
        inside[offsets[1:-1] - 1] = False  # not across example boundaries
        diffs = diffs[inside]
        if len(diffs):
            values, counts = np.unique(diffs, return_counts=True)
            self.cadence_ = values[np.argmax(counts)].item()
        else:
            self.cadence_ = 1
        starts, counts = np.unique(ticks[offsets[:-1]], return_counts=True)
        self.starts_, self.start_counts_ = starts.tolist(), counts.tolist()

    # -- sample --------------------------------------------------------------------------------------
    def generate(self, n: int | None = None, attributes: pd.DataFrame | pa.Table | None = None,
                 seed: int | None = None) -> pa.Table:
        """`n` synthetic sequences (default: as many as trained on) in the input's layout and exact types.

        `attributes` (one row per sequence; all attribute columns or some of them) fixes the
        attributes: every sequence i has row i's values, and its features are generated for them.
        Columns left out are generated. The same seed gives the same output.
        """
        self._check_fitted()
        given = self._given(attributes) if attributes is not None else None
        if given is not None:
            if n is not None and n != given.num_rows:
                raise ConfigError(f"n={n} but {given.num_rows} attribute row(s) were given: one sequence per row")
            n = given.num_rows
        if n is None:
            n = self.training_size_
        if n < 1:
            raise ConfigError(f"n={n}: must be at least 1")
        return self._generate(n, given, self._seed(seed))

    def _sample(self, n: int, seed: int, conditions: dict[str, Any] | None) -> pa.Table:
        """`n` sequences, every one with the `conditions` attributes."""
        given = self._given(pd.DataFrame({k: [v] * n for k, v in conditions.items()})) if conditions else None
        return self._generate(n, given, seed)

    def _generate(self, n: int, given: pa.Table | None, seed: int) -> pa.Table:
        rng = self._sampling_rng(seed)
        fixed = self._encode_given(given, rng, seed) if given is not None else None

        def draw(start: int, size: int) -> tuple[torch.Tensor, ...]:
            return self._fake(size, rng, fixed[start:start + size] if fixed is not None else None)

        attrs, additional, features = self._in_batches(n, draw)
        lengths = self.transformer_.lengths(features)
        attribute_table, feature_table = self.transformer_.inverse_transform(attrs, additional, features, lengths)
        if given is not None:  # given values come back exactly as asked
            for name in given.column_names:
                i = attribute_table.schema.get_field_index(name)
                attribute_table = attribute_table.set_column(i, name, given.column(name))
        return self._assemble(attribute_table, feature_table, lengths, np.random.default_rng(seed))

    def _fake(self, n: int, rng: torch.Generator, attributes: torch.Tensor | None = None):
        """(attributes, additional attributes, features) activated; features masked past each sequence's end."""
        g, device = self.generator_, self.device_
        attribute_noise = torch.randn(n, g.attribute_noise_dim, device=device, generator=rng)
        feature_noise = torch.randn(n, g.cells, g.feature_noise_dim, device=device, generator=rng)
        if attributes is None:
            attributes = g.attributes(attribute_noise)
            if g.attribute_dim:
                attributes = self.attribute_layout_.activate(attributes, None)
        additional = g.additional_attributes(attribute_noise, attributes)
        if g.additional_dim:
            additional = self.additional_layout_.activate(additional, None)
        raw = g.features(feature_noise, attributes, additional)  # (n, T, Df)
        T, D = raw.shape[1], raw.shape[2]
        features = self.feature_layout_.activate(raw.reshape(n * T, D), None).reshape(n, T, D)
        if self.transformer_.variable_length_:
            flag = features[..., -2:].detach()
            ended = (flag[..., 1] > flag[..., 0]).float()  # (n, T): the sequence ends at this step
            alive = torch.cumprod(torch.cat([ended.new_ones(n, 1), 1 - ended[:, :-1]], dim=1), dim=1)
            features = features * alive[..., None]
        return attributes, additional, features

    def _given(self, attributes: pd.DataFrame | pa.Table) -> pa.Table:
        table = as_table(attributes)
        schema = self.transformer_.attributes_.schema_
        if table.num_rows < 1:
            raise ConfigError("attributes: no rows given")
        arrays, names = [], []
        for name in table.column_names:
            if name not in schema.names:
                raise ConfigError(f"attribute '{name}': not an attribute of this model "
                                  f"(attributes are {schema.names})")
            target = schema.field(name).type
            try:
                arrays.append(table.column(name).cast(target))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                raise ConfigError(f"attribute '{name}': value(s) do not fit its type {target} ({e})") from e
            names.append(name)
        given = pa.table(arrays, names=names)
        for name in names:
            column = self.transformer_.attributes_.column(name)
            if hasattr(column, "category_codes"):
                unseen = column.category_codes(given.column(name)) < 0
                if unseen.any():
                    value = given.column(name)[int(np.flatnonzero(unseen)[0])].as_py()
                    raise ConfigError(f"attribute '{name}': value {value!r} never occurs in the training data")
        return given

    def _encode_given(self, given: pa.Table, rng: torch.Generator, seed: int) -> torch.Tensor:
        """Encoded attributes: generated ones with the given columns put in."""
        t = self.transformer_.attributes_
        n = given.num_rows
        with torch.no_grad(), self._evaluating():
            drawn = self.attribute_layout_.activate(
                self.generator_.attributes(torch.randn(n, self.generator_.attribute_noise_dim,
                                                       device=self.device_, generator=rng)), None)
        table = t.inverse_transform(drawn.float().cpu().numpy())
        for name in given.column_names:
            table = table.set_column(table.schema.get_field_index(name), name, given.column(name))
        return torch.as_tensor(t.transform(table, seed=seed), device=self.device_)

    def _assemble(self, attributes: pa.Table, features: pa.Table, lengths: np.ndarray,
                  rng: np.random.Generator) -> pa.Table:
        spec, n = self.spec_, len(lengths)
        columns: dict[str, pa.Array | pa.ChunkedArray] = {}
        if spec.layout == "wide":
            values = features.column(WIDE_FEATURE).combine_chunks()
            example = np.repeat(np.arange(n), lengths)
            step = np.arange(int(lengths.sum())) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
            for k, name in enumerate(spec.feature_columns):
                at = np.full(n, -1)
                at[example[step == k]] = np.flatnonzero(step == k)
                taken = values.take(pa.array(np.where(at >= 0, at, 0)))
                columns[name] = pc.if_else(pa.array(at >= 0), taken, pa.nulls(n, taken.type))
            for name in spec.attribute_columns:
                columns[name] = attributes.column(name)
        else:
            example = pa.array(np.repeat(np.arange(n), lengths))
            columns[spec.example_id] = pc.take(self._ids(n), example)
            columns[spec.time_column] = self._times(lengths, rng)
            for name in spec.attribute_columns:
                columns[name] = attributes.column(name).take(example)
            for name in spec.feature_columns:
                columns[name] = features.column(name)
        arrays = [columns[f.name] for f in self.schema_]
        return pa.Table.from_arrays([a.cast(f.type) for a, f in zip(arrays, self.schema_)], schema=self.schema_)

    def _ids(self, n: int) -> pa.Array:
        target = self.schema_.field(self.spec_.example_id).type
        if pa.types.is_integer(target) or pa.types.is_floating(target):
            return pa.array(np.arange(n)).cast(target)
        width = len(str(n - 1))
        return pa.array([f"synthetic-{i:0{width}d}" for i in range(n)]).cast(target)

    def _times(self, lengths: np.ndarray, rng: np.random.Generator) -> pa.Array:
        counts = np.asarray(self.start_counts_, dtype=np.float64)
        starts = np.asarray(self.starts_)[rng.choice(len(counts), size=len(lengths), p=counts / counts.sum())]
        step = np.arange(int(lengths.sum())) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        ticks = np.repeat(starts, lengths) + step * np.asarray(self.cadence_, dtype=starts.dtype)
        return _from_ticks(ticks, self.schema_.field(self.spec_.time_column).type)

    # -- persistence ---------------------------------------------------------------------------------
    def _fitted_state(self) -> dict:
        return {"spec": config_to_dict(self.spec_), "max_sequence_len": self.max_sequence_len_,
                "training_size": self.training_size_, "schema": schema_to_text(self.schema_),
                "transformer": self.transformer_.state(),
                "times": {"cadence": self.cadence_, "starts": self.starts_, "counts": self.start_counts_},
                "preparation": self.preparation_.as_dict()}

    def _load_fitted_state(self, doc: dict) -> None:
        self.spec_ = config_from_dict(SequenceSpec, doc["spec"])
        self.max_sequence_len_, self.training_size_ = doc["max_sequence_len"], doc["training_size"]
        self.schema_ = schema_from_text(doc["schema"])
        self.transformer_ = SequenceTransformer.from_state(doc["transformer"])
        times = doc["times"]
        self.cadence_, self.starts_, self.start_counts_ = times["cadence"], times["starts"], times["counts"]
        self.preparation_ = Preparation(**doc.get("preparation", {}))


class _SequenceGame:
    """DGAN's adversarial game for the shared loop: a critic on everything, one on attributes only."""

    def __init__(self, model: DGAN, attributes: torch.Tensor, additional: torch.Tensor, features: torch.Tensor,
                 rng: torch.Generator):
        cfg = model.config
        self.model, self.rng = model, rng
        self.attributes, self.additional, self.features = attributes, additional, features
        self.generator = model.generator_
        n = len(features)
        self.batch = model.batch_size_
        self.steps_per_epoch = model_kind(model.kind).steps_per_epoch(n, cfg.training.batch_size)  # about one pass
        width = attributes.shape[1] + additional.shape[1]
        critic = CriticNet(width + features.shape[1] * features.shape[2], cfg.critic_num_layers,
                           cfg.critic_num_units).to(model.device_)
        self.critics = [Critic(critic, cfg.training.gp_lambda)]
        if cfg.use_attribute_critic and width:
            attribute_critic = CriticNet(width, cfg.critic_num_layers, cfg.critic_num_units).to(model.device_)
            self.critics.append(Critic(attribute_critic, cfg.attribute_gp_lambda, cfg.attribute_loss_coef))

    def _inputs(self, attributes, additional, features) -> list[torch.Tensor]:
        context = torch.cat([attributes, additional], dim=1)
        inputs = [torch.cat([context, features.flatten(1)], dim=1)]
        if len(self.critics) > 1:
            inputs.append(context)
        return inputs

    def condition_batch(self) -> None:
        return None

    def real_batch(self):
        rows = torch.randint(len(self.features), (self.batch,), device=self.features.device, generator=self.rng)
        return self._inputs(self.attributes[rows], self.additional[rows], self.features[rows]), None

    def fake_batch(self, condition, for_generator: bool):
        return self._inputs(*self.model._fake(self.batch, self.rng)), None


def _time_ticks(times: pa.Array) -> np.ndarray:
    """Times as numbers: int64 ticks of their own unit for dates and timestamps, else as they are."""
    t = times.type
    if pa.types.is_timestamp(t) or pa.types.is_date64(t):
        return pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False)
    if pa.types.is_date32(t):
        return pc.cast(times, pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
    if pa.types.is_integer(t):
        return pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False)
    return pc.cast(times, pa.float64()).to_numpy(zero_copy_only=False)


def _from_ticks(ticks: np.ndarray, target: pa.DataType) -> pa.Array:
    if pa.types.is_date32(target):
        return pa.array(ticks.astype(np.int32)).cast(target)
    if pa.types.is_timestamp(target) or pa.types.is_date64(target) or pa.types.is_integer(target):
        return pa.array(ticks.astype(np.int64)).cast(target)
    return pa.array(ticks.astype(np.float64)).cast(target)
