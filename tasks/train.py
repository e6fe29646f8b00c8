"""Train: turn the run's model settings into a synth model and fit it, reporting every epoch."""
from __future__ import annotations

import warnings
from typing import Callable

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from tqdm.auto import tqdm

from flows.config import ActganModelConfig, DganModelConfig
from synth.models import model_class
from synth.tabular import ACTGANConfig
from synth.tabular.conditions import ConditionMode
from synth.training import EpochStats, Lipschitz, WGANConfig


def wgan_config(model: ActganModelConfig | DganModelConfig) -> WGANConfig:
    t = model.training
    return WGANConfig(epochs=model.epochs, batch_size=t.batch_size, critic_steps=t.critic_steps,
                      generator_lr=t.generator_lr, critic_lr=t.critic_lr, lipschitz=Lipschitz(t.lipschitz),
                      gp_lambda=t.gp_lambda, clip_value=t.clip_value, device=t.device, amp=t.amp)


def synth_model(model: ActganModelConfig | DganModelConfig):
    """The unfitted synth model a run's `model` section describes (DGAN: NotAvailableError for now)."""
    cls = model_class(model.kind)
    if model.kind == "actgan":
        return cls(ACTGANConfig(embedding_dim=model.embedding_dim, generator_dims=tuple(model.generator_dims),
                                critic_dims=tuple(model.critic_dims), pac=model.pac,
                                conditioning=ConditionMode(model.conditioning),
                                reconstruction_loss_coef=model.reconstruction_loss_coef,
                                binary_encoder_cutoff=model.binary_encoder_cutoff,
                                mixture_fit_rows=model.mixture_fit_rows, seed=model.seed,
                                training=wgan_config(model)))
    raise AssertionError(f"unhandled model kind {model.kind}")  # model_class already refused it


@task(name="train", cache_policy=NO_CACHE)
def train(table: pa.Table, model: ActganModelConfig | DganModelConfig,
          on_epoch: Callable[[EpochStats], None] | None = None):
    """Fit the configured model on `table`; `on_epoch` receives each epoch's diagnostics."""
    logger = get_run_logger()
    estimator = synth_model(model)
    every = max(model.epochs // 10, 1)
    with tqdm(total=model.epochs, desc=f"training {model.kind}", unit="epoch", disable=None) as bar:
        def report(stats: EpochStats) -> None:
            if on_epoch is not None:
                on_epoch(stats)
            bar.update(1)
            bar.set_postfix(W=f"{stats.wasserstein:.3f}", G=f"{stats.generator_loss:.3f}",
                            D=f"{stats.critic_loss:.3f}")
            if stats.epoch % every == 0 or stats.epoch == model.epochs:
                logger.info("epoch %d/%d: wasserstein %.4f, gp %.4f, critic %.4f, generator %.4f (%.2fs)",
                            stats.epoch, model.epochs, stats.wasserstein, stats.gradient_penalty,
                            stats.critic_loss, stats.generator_loss, stats.seconds)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(table, callback=report)
    for warning in caught:  # e.g. an ID-like column: the user should see it in the run log
        if issubclass(warning.category, UserWarning):
            logger.warning("%s", warning.message)
    return estimator
