"""ACTGAN: a conditional tabular WGAN-GP (after CTGAN, Xu et al. 2019, and gretel's ACTGAN).

    model = ACTGAN(ACTGANConfig(training=WGANConfig(epochs=300))).fit(table)
    model.sample(1000)                                   # a pandas DataFrame with the input's columns
    model.sample(1000, conditions={"cut": "Ideal"})      # only rows meeting the condition
    model.fill(partial_frame)                            # complete the missing columns of given rows
    model.save("model/"); ACTGAN.load("model/")
    ACTGAN(config).fit(table, checkpoint=Checkpointing("ckpt/", every=10))  # resumes a killed fit
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch

from synth.configs import ACTGANConfig
from synth.errors import ConfigError, DataError
from synth.estimator import WGANEstimator
from synth.models import model_kind
from synth.selection import Split, TableScorer, validation_split
from synth.tables import as_table, check_trainable
from synth.tabular.conditions import AnyConditions, Condition, ConditionMode, DiscreteConditions
from synth.tabular.networks import Generator, PackedCritic
from synth.training import Critic
from synth.transforms import TableTransformer


class ACTGAN(WGANEstimator):
    """Learns a table (`fit`, as the model base: synth.estimator) and makes rows like it (`sample`,
    with `conditions` on any columns (conditioning=anyway) or one discrete column; `fill`)."""

    kind = "actgan"
    count_name = "num_rows"  # as the message always said it
    config_type = ACTGANConfig
    transformer_type = TableTransformer

    # -- fit: the steps the model base runs ----------------------------------------------------------
    def _prepare(self, table: pa.Table) -> tuple[Split | None, pa.Table]:
        check_trainable(table)
        if table.num_rows < 2:
            raise DataError(f"the table has {table.num_rows} row: at least 2 are needed to learn anything")
        self._resolve_device()
        cfg = self.config
        split = validation_split(table, cfg.training.validation_fraction, cfg.seed) \
            if cfg.training.eval_every else None
        return split, (split.training if split else table)

    def _fit_transformer(self, training: pa.Table) -> TableTransformer:
        cfg = self.config
        return TableTransformer(cfg.max_modes, cfg.mode_weight_threshold, cfg.mixture_fit_rows, cfg.seed,
                                cfg.binary_encoder_cutoff, cfg.point_mass_min_share, cfg.max_point_masses,
                                cfg.tail_transform, cfg.column_transforms).fit(training)

    def _encode(self, training: pa.Table) -> torch.Tensor:
        return torch.as_tensor(self.transformer_.transform(training), device=self.device_)  # (N, D)

    def _build(self) -> None:
        """Everything derived from the config and the fitted transform: layout, conditions, generator."""
        cfg, device = self.config, self.device_
        self.layout_ = self.transformer_.layout_.to(device)
        if cfg.conditioning is ConditionMode.ANYWAY:
            self.conditions_ = AnyConditions(self.transformer_, self.layout_, device)
        else:
            self.conditions_ = DiscreteConditions(self.transformer_, cfg.log_frequency, device)
        self.generator_ = Generator(cfg.embedding_dim + self.conditions_.width, cfg.generator_dims,
                                    self.transformer_.output_dim).to(device)

    def _game(self, training: pa.Table, encoded: torch.Tensor, rng: torch.Generator) -> "_TableGame":
        cfg = self.config
        if cfg.conditioning is ConditionMode.ANYWAY:
            self.conditions_.attach_rows(encoded)
        elif self.conditions_.enabled:
            self.conditions_.attach_rows(training)
        critic = PackedCritic(self.transformer_.output_dim + self.conditions_.width, cfg.critic_dims,
                              cfg.pac).to(self.device_)
        return _TableGame(self, encoded, critic, rng)

    def _scorer(self, split: Split) -> TableScorer:
        return TableScorer(split.validation, seed=self.config.seed)

    # -- sample --------------------------------------------------------------------------------------
    def _sample(self, n: int, seed: int, conditions: dict[str, Any] | None) -> pa.Table:
        """`n` rows; with `conditions` (conditioning=anyway: any columns; single_discrete: one discrete
        column, or one numeric column at one of its point masses) every row meets them exactly."""
        given = self._given({k: [v] * n for k, v in conditions.items()}) if conditions else None
        return self._generate(n, given, seed)

    def fill(self, partial: pd.DataFrame | pa.Table, seed: int | None = None) -> pd.DataFrame:
        """Complete each row of `partial`: given (non-null) values stay, the other columns are generated."""
        self._check_fitted()
        table = as_table(partial)
        if table.num_rows < 1:
            raise ConfigError("fill: the partial table has no rows")
        given = self._given({name: table.column(name) for name in table.column_names})
        return self._generate(table.num_rows, given, self._seed(seed)).to_pandas()

    @torch.no_grad()
    def _generate(self, num_rows: int, given: pa.Table | None, seed: int) -> pa.Table:
        rng = self._sampling_rng(seed)
        fixed = self.conditions_.given(given, rng) if given is not None and given.num_columns else None

        def draw(start: int, n: int) -> list[torch.Tensor]:
            if fixed is not None:
                condition = Condition(fixed.vector[start:start + n], fixed.target[start:start + n],
                                      fixed.mask[start:start + n])
            else:
                condition = self.conditions_.sampling(n, rng) if self.conditions_.enabled else None
            return [self.layout_.activate(self._forward(n, condition, rng), self.config.gumbel_tau, rng)]

        (encoded,) = self._in_batches(num_rows, draw)
        table = self.transformer_.inverse_transform(encoded)
        if given is not None:  # conditioned values come back exactly as asked
            for name in given.column_names:
                i = table.schema.get_field_index(name)
                table = table.set_column(i, name, pc.coalesce(given.column(name), table.column(name)))
        return table

    def _forward(self, n: int, condition: Condition | None, rng: torch.Generator) -> torch.Tensor:
        noise = torch.randn(n, self.config.embedding_dim, device=self.device_, generator=rng)
        if condition is not None:
            noise = torch.cat([noise, condition.vector], dim=1)
        return self.generator_(noise)  # (n, D) raw

    def _given(self, columns: dict[str, Any]) -> pa.Table:
        """Condition values as a table with the training schema's types; ConfigError naming what is wrong."""
        schema = self.transformer_.schema_
        arrays, names = [], []
        for name, values in columns.items():
            if name not in schema.names:
                raise ConfigError(f"condition on column '{name}': no such column (columns are {schema.names})")
            target = schema.field(name).type
            try:
                array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
                array = array.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                raise ConfigError(f"condition on column '{name}': value(s) do not fit its type {target} ({e})") from e
            if name not in self.transformer_.layout_.columns:  # constant in training: only that value
                constant = self.transformer_.inverse_transform(
                    torch.zeros(1, self.transformer_.output_dim).numpy()).column(name)[0]
                if pc.any(pc.not_equal(array, constant)).as_py():
                    raise ConfigError(f"condition on column '{name}': it was constant ({constant}) in training")
            arrays.append(array)
            names.append(name)
        return pa.table(arrays, names=names)


class _TableGame:
    """The adversarial game of ACTGAN, as the shared training loop sees it."""

    def __init__(self, model: ACTGAN, encoded: torch.Tensor, critic: PackedCritic, rng: torch.Generator):
        self.model, self.encoded, self.rng = model, encoded, rng
        self.generator = model.generator_
        cfg = model.config
        self.critics = [Critic(critic, cfg.training.gp_lambda, pac=cfg.pac)]
        self.batch = cfg.training.batch_size
        self.steps_per_epoch = model_kind(model.kind).steps_per_epoch(len(encoded), self.batch)
        self.conditions = model.conditions_ if model.conditions_.enabled else None

    def condition_batch(self) -> Condition | None:
        return self.conditions.training(self.batch, self.rng) if self.conditions else None

    def real_batch(self):
        condition = self.condition_batch()
        if condition is None:
            rows = torch.randint(len(self.encoded), (self.batch,), device=self.encoded.device, generator=self.rng)
            return [self.encoded[rows]], None
        return [torch.cat([self.encoded[condition.rows], condition.vector], dim=1)], condition

    def fake_batch(self, condition: Condition | None, for_generator: bool):
        model = self.model
        raw = model._forward(self.batch, condition, self.rng)
        fake = model.layout_.activate(raw, model.config.gumbel_tau, self.rng)
        if condition is None:
            return [fake], None
        loss = None
        if for_generator:
            loss = model.config.reconstruction_loss_coef * model.layout_.reconstruction_loss(
                raw, condition.target, condition.mask)
        return [torch.cat([fake, condition.vector], dim=1)], loss
