"""ACTGAN: a conditional tabular WGAN-GP (after CTGAN, Xu et al. 2019, and gretel's ACTGAN).

    model = ACTGAN(ACTGANConfig(training=WGANConfig(epochs=300))).fit(table)
    model.sample(1000)                                   # a pandas DataFrame with the input's columns
    model.sample(1000, conditions={"cut": "Ideal"})      # only rows meeting the condition
    model.fill(partial_frame)                            # complete the missing columns of given rows
    model.save("model/"); ACTGAN.load("model/")
    ACTGAN(config).fit(table, checkpoint=Checkpointing("ckpt/", every=10))  # resumes a killed fit
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch

from synth import selection as model_selection
from synth.checkpoint import Checkpointing, Checkpoints
from synth.device import resolve_device
from synth.configs import ACTGANConfig
from synth.models import model_kind
from synth.errors import ConfigError, DataError
from synth.serialization import config_from_dict, config_to_dict, load_state, read_model, save_model, saved_state
from synth.selection import ModelSelection, TableScorer, validation_split
from synth.tables import as_table, check_trainable
from synth.tabular.conditions import AnyConditions, Condition, ConditionMode, DiscreteConditions
from synth.tabular.networks import Generator, PackedCritic
from synth.training import Critic, EpochStats, stopped_early, train_wgan
from synth.transforms import TableTransformer


class ACTGAN:
    kind = "actgan"

    def __init__(self, config: ACTGANConfig = ACTGANConfig()):
        self.config = config

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, data: pa.Table | pd.DataFrame, callback: Callable[[EpochStats], None] | None = None,
            checkpoint: Checkpointing | None = None) -> "ACTGAN":
        """Learn the table. `callback` receives each epoch's diagnostics.

        With `checkpoint`, a checkpoint is written every `checkpoint.every` epochs, and a fit whose
        directory holds one of the same settings and data resumes from it (`resumed_from_` is its
        epoch, else None); `history_` covers every epoch. `stopped_early_` says why training ended
        before `training.epochs` (the time budget `training.max_minutes`, or model selection's
        `training.patience`), else None.

        With `training.eval_every`, a seeded `training.validation_fraction` of the rows is held back,
        the generator is scored on it every `eval_every` epochs (synth.selection) and the best-scoring
        state is kept: `selected_epoch_` is its epoch, `validation_history_` the (epoch, score) pairs;
        with `training.ema_decay` the moving average of the weights is a candidate too (`selected_average_`;
        `validation_candidates_` holds (epoch, weights' score, average's score)).

        Raises:
            TrainingDiverged: a NaN/Inf loss or an exploding critic gradient; the last good
                checkpoint is kept.
        """
        started = time.monotonic()
        table = as_table(data)
        check_trainable(table)
        if table.num_rows < 2:
            raise DataError(f"the table has {table.num_rows} row: at least 2 are needed to learn anything")
        cfg = self.config
        self.device_ = resolve_device(cfg.training.device)
        self.stopped_early_ = None
        model_selection.finish(self, None)
        checkpoints = Checkpoints.for_fit(checkpoint, self, table)  # keyed by the whole table, as given
        split = validation_split(table, cfg.training.validation_fraction, cfg.seed) \
            if cfg.training.eval_every else None
        training = split.training if split else table
        resumed = checkpoints.resume(cfg.training.epochs) if checkpoints else None
        self.resumed_from_ = resumed.epoch if resumed else None
        if resumed:  # the saved transform: exactly the encoding the saved weights learned
            with saved_state(resumed.path, self.kind):
                self.transformer_ = TableTransformer.from_state(resumed.model["transformer"])
        else:
            self.transformer_ = TableTransformer(cfg.max_modes, cfg.mode_weight_threshold, cfg.mixture_fit_rows,
                                                 cfg.seed, cfg.binary_encoder_cutoff, cfg.point_mass_min_share,
                                                 cfg.max_point_masses, cfg.tail_transform,
                                                 cfg.column_transforms).fit(training)
        encoded = torch.as_tensor(self.transformer_.transform(training), device=self.device_)  # (N, D)
        with torch.random.fork_rng(devices=[self.device_] if self.device_.type == "cuda" else []):
            torch.manual_seed(cfg.seed)  # weight init and dropout; every other draw uses `rng`
            rng = torch.Generator(device=self.device_).manual_seed(cfg.seed)
            self._build()
            if cfg.conditioning is ConditionMode.ANYWAY:
                self.conditions_.attach_rows(encoded)
            elif self.conditions_.enabled:
                self.conditions_.attach_rows(training)
            critic = PackedCritic(self.transformer_.output_dim + self.conditions_.width, cfg.critic_dims,
                                  cfg.pac).to(self.device_)
            selection = ModelSelection(TableScorer(split.validation, seed=cfg.seed),
                                       lambda n, seed: self._generate(n, None, seed), self.generator_,
                                       cfg.training.eval_every, cfg.training.patience,
                                       cfg.training.ema_decay) if split else None
            state = checkpoints.start(self, [critic], rng) if checkpoints else None  # restores a resumed fit
            if selection is not None and state is not None and state.selection is not None:
                selection.load_state_dict(state.selection)
            self.history_ = train_wgan(_TableGame(self, encoded, critic, rng), cfg.training, self.device_,
                                       rng, callback, resume=state, checkpoints=checkpoints, started=started,
                                       selection=selection)
        model_selection.finish(self, selection)
        self.stopped_early_ = stopped_early(cfg.training, self.history_, selection)
        return self

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

    # -- sample --------------------------------------------------------------------------------
    def sample_table(self, num_rows: int, seed: int | None = None,
                     conditions: dict[str, Any] | None = None) -> pa.Table:
        """`num_rows` synthetic rows with the training data's exact schema.

        `conditions` ({"column": value}) makes every row meet them exactly: with
        conditioning=anyway any columns, with single_discrete one discrete column (or one numeric
        column at one of its point masses).
        """
        self._check_fitted()
        if num_rows < 1:
            raise ConfigError(f"num_rows={num_rows}: must be at least 1")
        given = self._given({k: [v] * num_rows for k, v in conditions.items()}) if conditions else None
        return self._generate(num_rows, given, seed)

    def sample(self, num_rows: int, seed: int | None = None, conditions: dict[str, Any] | None = None) -> pd.DataFrame:
        """`num_rows` synthetic rows as a DataFrame; the same seed gives the same rows."""
        return self.sample_table(num_rows, seed, conditions).to_pandas()

    def fill(self, partial: pd.DataFrame | pa.Table, seed: int | None = None) -> pd.DataFrame:
        """Complete each row of `partial`: given (non-null) values stay, the other columns are generated."""
        self._check_fitted()
        table = as_table(partial)
        if table.num_rows < 1:
            raise ConfigError("fill: the partial table has no rows")
        given = self._given({name: table.column(name) for name in table.column_names})
        return self._generate(table.num_rows, given, seed).to_pandas()

    @torch.no_grad()
    def _generate(self, num_rows: int, given: pa.Table | None, seed: int | None) -> pa.Table:
        rng = torch.Generator(device=self.device_).manual_seed(self.config.seed if seed is None else seed)
        conditional = self.conditions_.enabled
        fixed = self.conditions_.given(given, rng) if given is not None and given.num_columns else None
        self.generator_.eval()
        chunks, batch = [], self.config.training.batch_size
        for start in range(0, num_rows, batch):
            n = min(batch, num_rows - start)
            if fixed is not None:
                condition = Condition(fixed.vector[start:start + n], fixed.target[start:start + n],
                                      fixed.mask[start:start + n])
            else:
                condition = self.conditions_.sampling(n, rng) if conditional else None
            raw = self._forward(n, condition, rng)
            chunks.append(self.layout_.activate(raw, self.config.gumbel_tau, rng).float().cpu())
        self.generator_.train()
        table = self.transformer_.inverse_transform(torch.cat(chunks).numpy())
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

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Config, transform state and diagnostics as JSON; generator weights as safetensors."""
        self._check_fitted()
        meta = {"config": config_to_dict(self.config), "transformer": self.transformer_.state(),
                "history": [{"epoch": s.epoch, **s.as_dict()} for s in self.history_],
                "stopped_early": getattr(self, "stopped_early_", None), **model_selection.saved(self)}
        return save_model(directory, self.kind, meta, {"generator": self.generator_})

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> "ACTGAN":
        """Load a saved model (on the CPU by default, wherever it was trained); never unpickles."""
        doc, tensors = read_model(directory, cls.kind)
        with saved_state(directory, cls.kind):
            self = cls(config_from_dict(ACTGANConfig, doc["config"]))
            self.device_ = resolve_device(device)
            self.transformer_ = TableTransformer.from_state(doc["transformer"])
            self._build()
            load_state(self.generator_, tensors, "generator")
            self.history_ = [EpochStats(**h) for h in doc.get("history", [])]
            self.stopped_early_ = doc.get("stopped_early")
            model_selection.load_saved(self, doc)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise RuntimeError("this ACTGAN is not fitted yet: call fit() or ACTGAN.load()")


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
