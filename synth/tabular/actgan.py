"""ACTGAN: a conditional tabular WGAN-GP (after CTGAN, Xu et al. 2019, and gretel's ACTGAN).

    model = ACTGAN(ACTGANConfig(training=WGANConfig(epochs=300))).fit(table)
    synthetic = model.sample(1000)          # a pandas DataFrame with the input's columns
    model.save("model/"); ACTGAN.load("model/")
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
import torch.nn.functional as F

from synth.device import resolve_device
from synth.errors import ConfigError, DataError
from synth.io import check_trainable
from synth.serialization import config_from_dict, config_to_dict, load_state, read_model, save_model
from synth.tabular.networks import Generator, PackedCritic
from synth.tabular.sampler import Condition, ConditionSampler, RowIndex
from synth.training import Critic, EpochStats, WGANConfig, train_wgan
from synth.transforms import Layout, TableTransformer


@dataclass(frozen=True)
class ACTGANConfig:
    embedding_dim: int = 128                 # size of the generator's noise vector
    generator_dims: tuple[int, ...] = (256, 256)
    critic_dims: tuple[int, ...] = (256, 256)
    pac: int = 10                            # rows per critic input; batch_size must be a multiple
    log_frequency: bool = True               # condition on log-frequency so rare categories get trained
    max_modes: int = 10                      # Gaussian modes per continuous column, at most
    mode_weight_threshold: float = 0.005     # drop modes lighter than this
    mixture_fit_rows: int = 250_000          # rows subsampled to fit each column's mixture
    gumbel_tau: float = 0.2
    seed: int = 0
    training: WGANConfig = field(default_factory=WGANConfig)

    def __post_init__(self):
        if self.training.batch_size % self.pac:
            raise ConfigError(f"training.batch_size={self.training.batch_size} is not a multiple of "
                              f"pac={self.pac}: the critic scores packs of pac rows")


class ACTGAN:
    kind = "actgan"

    def __init__(self, config: ACTGANConfig = ACTGANConfig()):
        self.config = config

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, data: pa.Table | pd.DataFrame,
            callback: Callable[[EpochStats], None] | None = None) -> "ACTGAN":
        """Learn the table. `callback` receives each epoch's diagnostics."""
        table = _as_table(data)
        check_trainable(table)
        if table.num_rows < 2:
            raise DataError(f"the table has {table.num_rows} row: at least 2 are needed to learn anything")
        cfg = self.config
        device = self.device_ = resolve_device(cfg.training.device)
        self.transformer_ = TableTransformer(cfg.max_modes, cfg.mode_weight_threshold,
                                             cfg.mixture_fit_rows, cfg.seed).fit(table)
        encoded = torch.as_tensor(self.transformer_.transform(table), device=device)  # (N, D)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(cfg.seed)  # weight init and dropout; every other draw uses `rng`
            rng = torch.Generator(device=device).manual_seed(cfg.seed)
            self.sampler_ = ConditionSampler(self.transformer_, cfg.log_frequency, device)
            self.generator_ = Generator(cfg.embedding_dim + self.sampler_.width, cfg.generator_dims,
                                        self.transformer_.output_dim).to(device)
            critic = PackedCritic(self.transformer_.output_dim + self.sampler_.width, cfg.critic_dims,
                                  cfg.pac).to(device)
            game = _TableGame(self, encoded, RowIndex(self.transformer_, self.sampler_, table), critic, rng)
            self.history_ = train_wgan(game, cfg.training, device, rng, callback)
        return self

    # -- sample --------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_table(self, num_rows: int, seed: int | None = None) -> pa.Table:
        """`num_rows` synthetic rows as an Arrow table with the training data's exact schema."""
        self._check_fitted()
        if num_rows < 1:
            raise ConfigError(f"num_rows={num_rows}: must be at least 1")
        device = self.device_
        rng = torch.Generator(device=device).manual_seed(self.config.seed if seed is None else seed)
        self.generator_.eval()
        chunks = []
        batch = self.config.training.batch_size
        for start in range(0, num_rows, batch):
            n = min(batch, num_rows - start)
            condition = self.sampler_.draw(n, rng, training=False) if self.sampler_.enabled else None
            raw = self._generate(n, condition, rng)
            chunks.append(self.layout.activate(raw, self.config.gumbel_tau, generator=rng).float().cpu())
        self.generator_.train()
        return self.transformer_.inverse_transform(torch.cat(chunks).numpy())

    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        """`num_rows` synthetic rows as a DataFrame; the same seed gives the same rows."""
        return self.sample_table(num_rows, seed).to_pandas()

    def _generate(self, n: int, condition: Condition | None, rng: torch.Generator) -> torch.Tensor:
        noise = torch.randn(n, self.config.embedding_dim, device=self.device_, generator=rng)
        if condition is not None:
            noise = torch.cat([noise, condition.vector], dim=1)
        return self.generator_(noise)  # (n, D) raw

    @property
    def layout(self) -> Layout:
        return self.transformer_.layout_

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Config, transform state and diagnostics as JSON; generator weights as safetensors."""
        self._check_fitted()
        meta = {"config": config_to_dict(self.config), "transformer": self.transformer_.state(),
                "history": [{"epoch": s.epoch, **s.as_dict()} for s in self.history_]}
        return save_model(directory, self.kind, meta, {"generator": self.generator_})

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> "ACTGAN":
        """Load a saved model (on the CPU by default, wherever it was trained); never unpickles."""
        doc, tensors = read_model(directory)
        if doc.get("kind") != cls.kind:
            raise DataError(f"model {directory}: kind {doc.get('kind')!r}, expected {cls.kind!r}")
        config = config_from_dict(ACTGANConfig, doc["config"])
        self = cls(config)
        self.device_ = resolve_device(device)
        self.transformer_ = TableTransformer.from_state(doc["transformer"])
        self.sampler_ = ConditionSampler(self.transformer_, config.log_frequency, self.device_)
        self.generator_ = Generator(config.embedding_dim + self.sampler_.width, config.generator_dims,
                                    self.transformer_.output_dim)
        load_state(self.generator_, tensors, "generator")
        self.generator_.to(self.device_)
        self.history_ = [EpochStats(**h) for h in doc.get("history", [])]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise RuntimeError("this ACTGAN is not fitted yet: call fit() or ACTGAN.load()")


class _TableGame:
    """The adversarial game of ACTGAN, as the shared training loop sees it."""

    def __init__(self, model: ACTGAN, encoded: torch.Tensor, rows: RowIndex, critic: PackedCritic,
                 rng: torch.Generator):
        self.model, self.encoded, self.rows, self.rng = model, encoded, rows, rng
        self.generator = model.generator_
        cfg = model.config
        self.critics = [Critic(critic, cfg.training.gp_lambda, pac=cfg.pac)]
        self.batch = cfg.training.batch_size
        self.steps_per_epoch = max(len(encoded) // self.batch, 1)
        self.conditional = model.sampler_.enabled
        self.log_softmax_index = _one_hot_positions(model.layout, model.sampler_.columns, encoded.device)

    def condition_batch(self) -> Condition | None:
        return self.model.sampler_.draw(self.batch, self.rng) if self.conditional else None

    def real_batch(self):
        condition = self.condition_batch()
        if condition is None:
            return [self.encoded[self.rows.uniform(self.batch, self.rng, self.encoded.device)]], None
        real = self.encoded[self.rows.matching(condition.category, self.rng)]  # (B, D)
        return [torch.cat([real, condition.vector], dim=1)], condition

    def fake_batch(self, condition: Condition | None):
        raw = self.model._generate(self.batch, condition, self.rng)
        fake = self.model.layout.activate(raw, self.model.config.gumbel_tau, generator=self.rng)
        if condition is None:
            return [fake], None
        return [torch.cat([fake, condition.vector], dim=1)], self._condition_loss(raw, condition)

    def _condition_loss(self, raw: torch.Tensor, condition: Condition) -> torch.Tensor:
        """Cross-entropy of the generator's logits for the conditioned column against its category."""
        log_probs = torch.zeros_like(raw)
        for index in self.log_softmax_index:  # (n_spans, width) per width group
            log_probs[:, index] = F.log_softmax(raw[:, index], dim=-1)
        picked = log_probs.gather(1, condition.position.unsqueeze(1))  # (B, 1)
        return -picked.mean()


def _one_hot_positions(layout: Layout, columns: list[str], device) -> list[torch.Tensor]:
    """Index tensors of the conditioned columns' one-hot spans, grouped by width."""
    by_width: dict[int, list[list[int]]] = {}
    for span in layout.spans:
        if span.column in columns and span.role == "value":
            by_width.setdefault(span.width, []).append(list(range(span.start, span.end)))
    return [torch.tensor(v, dtype=torch.long, device=device) for _, v in sorted(by_width.items())]


def _as_table(data: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(f"expected a pyarrow Table or pandas DataFrame, got {type(data).__name__}")
