"""The one WGAN training loop, shared by every model.

A model describes its adversarial game as a `WGANProblem` (generator, critics, how to draw a real
batch and how to make fakes); `train_wgan` runs critic rounds and generator rounds, keeps the
critics Lipschitz by gradient penalty or weight clipping, and reports per-epoch diagnostics
through a callback. It also resumes from a `TrainingState`, hands one to a `Checkpoints` sink every
few epochs, stops as diverged on a NaN/Inf loss or an exploding critic gradient, and stops early,
gracefully, when the time budget `max_minutes` is spent.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Protocol, Sequence

import torch
from torch import nn

from synth.device import CudaGraphStep, autocast
from synth.errors import DataError, TrainingDiverged
from synth.configs import Lipschitz, WGANConfig  # noqa: F401  (their home; imported from here too)


@dataclass
class Critic:
    """One critic of the game: its network, its penalty weight and its weight in the generator loss."""

    network: nn.Module
    gp_lambda: float = 10.0
    loss_weight: float = 1.0
    pac: int = 1  # rows packed into one critic input; the penalty is taken per pack


class WGANProblem(Protocol):
    """What a model hands the loop. `real_batch` and `fake_batch` return one input per critic."""

    generator: nn.Module
    critics: Sequence[Critic]
    steps_per_epoch: int

    def real_batch(self) -> tuple[list[torch.Tensor], Any]:
        """Critic inputs from real data, and the conditioning the fakes must share."""

    def fake_batch(self, condition: Any, for_generator: bool) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Critic inputs from the generator for `condition`, and (for_generator) an extra generator loss."""

    def condition_batch(self) -> Any:
        """Conditioning for a generator step (fresh, drawn like real_batch's)."""


@dataclass(frozen=True)
class EpochStats:
    """Diagnostics of one epoch, averaged over its steps."""

    epoch: int                 # 1-based
    wasserstein: float         # E[D(real)] - E[D(fake)] of the main critic
    gradient_penalty: float
    critic_loss: float
    generator_loss: float
    critic_grad_norm: float
    generator_grad_norm: float
    seconds: float
    validation_score: float | None = None  # model selection's score, on evaluation epochs only

    def as_dict(self) -> dict[str, float]:
        """The diagnostics by name, without the epoch and without a missing validation score."""
        d = asdict(self)
        d.pop("epoch")
        if d["validation_score"] is None:
            d.pop("validation_score")
        return d


@dataclass
class TrainingState:
    """The loop's own state after `epoch` epochs: with the networks' weights, all a resumed run needs."""

    epoch: int                        # epochs done
    history: list[EpochStats]         # one entry per epoch done
    optimizers: dict[str, dict]       # "generator", "critic": Adam state dicts
    selection: dict | None = None     # Selection.state_dict(), with model selection


class Selection(Protocol):
    """Model selection as the loop sees it (see synth.selection.ModelSelection)."""

    stop_reason: str | None  # set once training should stop (no improvement for a while)

    def evaluate(self, epoch: int) -> float | None:
        """The validation score after `epoch` if it is an evaluation epoch, else None."""

    def state_dict(self) -> dict:
        """The selection's state as plain data, for a checkpoint."""


class Checkpoints(Protocol):
    """Where `train_wgan` hands its state every `every` epochs (see synth.checkpoint)."""

    every: int

    def save(self, state: TrainingState) -> None:
        """Write a checkpoint of the models as they are now, with `state`."""

    def describe(self) -> str:
        """Where the last complete checkpoint is, for a message (e.g. after divergence)."""


class TrainingStoppedEarly(UserWarning):
    """The time budget ended training before the configured number of epochs."""


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, pac: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(‖∇D(x̂)‖ − 1)²] on random interpolates x̂ of real and fake, one mixing weight per pack."""
    batch, width = real.shape
    alpha = torch.rand(batch // pac, 1, 1, device=real.device, generator=generator, dtype=real.dtype)
    alpha = alpha.expand(-1, pac, width).reshape(batch, width)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(mixed)
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grads.reshape(-1, pac * width).norm(2, dim=1)  # (B/pac,)
    return ((norms - 1) ** 2).mean()


def train_wgan(problem: WGANProblem, config: WGANConfig, device: torch.device, rng: torch.Generator | None = None,
               callback: Callable[[EpochStats], None] | None = None, start_epoch: int = 0,
               progress: Callable[[int, int, int], None] | None = None, resume: TrainingState | None = None,
               checkpoints: Checkpoints | None = None, started: float | None = None,
               selection: Selection | None = None) -> list[EpochStats]:
    """Train `problem` up to epoch `config.epochs`; returns the per-epoch diagnostics of every epoch.

    Args:
        callback: receives each epoch's EpochStats (not those of resumed epochs).
        start_epoch: epochs already done (without `resume`: the weights are as the caller left them).
        progress: called after every step with (epoch, step, steps_per_epoch), without a device sync.
        resume: a checkpoint's state: its optimizer moments are restored, training goes on after its
            epoch and the returned history starts with its history. The caller restores the weights.
        checkpoints: gets the state every `checkpoints.every` epochs, after the last epoch, and when
            the time budget stops training. A diverged epoch is never handed over.
        started: `time.monotonic()` when the time budget began (default: now).
        selection: scores the generator after each epoch (its `evaluate`); training stops once its
            `stop_reason` is set. Its state goes into every checkpoint; the caller restores it.

    Raises:
        TrainingDiverged: an epoch had a NaN/Inf loss or a critic step's gradient norm above
            `config.max_critic_grad_norm`; nothing of that epoch reaches `callback` or `checkpoints`.
    """
    started = time.monotonic() if started is None else started
    optimizers = _optimizers(problem, config, device)
    if resume is not None:
        for name, optimizer in optimizers.items():
            _load_optimizer(optimizer, resume.optimizers[name])
        start_epoch = resume.epoch
    run_step = _training_step(problem, optimizers, config, device, rng)
    history: list[EpochStats] = list(resume.history) if resume is not None else []
    for epoch in range(start_epoch + 1, config.epochs + 1):
        if selection is not None and selection.stop_reason:  # a resumed run that had already stopped
            break
        epoch_started = time.perf_counter()
        stats, peak_critic_norm = _run_epoch(run_step, problem.steps_per_epoch, epoch, config, device, progress)
        _check_divergence(stats, peak_critic_norm, config, checkpoints)
        if selection is not None:
            stats = replace(stats, validation_score=selection.evaluate(epoch))
        history.append(stats)
        if callback is not None:
            callback(stats)
        if _end_of_epoch(epoch, history, optimizers, config, checkpoints, selection, started, epoch_started):
            break
    return history


def _graphed(config: WGANConfig, device: torch.device) -> bool:
    return config.cuda_graphs and device.type == "cuda"


def _critic_parameters(problem: WGANProblem) -> list[nn.Parameter]:
    return [p for c in problem.critics for p in c.network.parameters()]


def _optimizers(problem: WGANProblem, config: WGANConfig, device: torch.device) -> dict[str, torch.optim.Adam]:
    """Adam for the generator and one for all critics together: the state a checkpoint keeps."""
    # fused: one kernel per optimizer step; capturable: its step count lives on the GPU (graph replay)
    opt = dict(betas=config.betas, fused=device.type in ("cpu", "cuda"), capturable=_graphed(config, device))
    generator = torch.optim.Adam(problem.generator.parameters(), lr=config.generator_lr,
                                 weight_decay=config.generator_weight_decay, **opt)
    critic = torch.optim.Adam(_critic_parameters(problem), lr=config.critic_lr,
                              weight_decay=config.critic_weight_decay, **opt)
    return {"generator": generator, "critic": critic}


def _training_step(problem: WGANProblem, optimizers: dict[str, torch.optim.Adam], config: WGANConfig,
                   device: torch.device, rng: torch.Generator | None) -> Callable[[], torch.Tensor]:
    """One step: `critic_steps` critic rounds, then `generator_steps` generator rounds; a CUDA graph
    when `config.cuda_graphs` on CUDA. It returns (7,): critic sums (W, gp, loss, grad norm),
    generator sums (loss, grad norm), the largest critic grad norm."""
    clipping = config.lipschitz is Lipschitz.WEIGHT_CLIPPING
    c_params = _critic_parameters(problem)
    c_opt, g_opt = optimizers["critic"], optimizers["generator"]

    def step() -> torch.Tensor:
        rounds, kept = [], None
        for i in range(config.critic_steps):
            keep = config.reuse_fakes and i == config.critic_steps - 1
            stats, kept = _critic_step(problem, c_opt, c_params, config, device, rng, clipping, keep)
            rounds.append(stats)
        critic = torch.stack(rounds)  # (critic_steps, 4)
        generator = sum(_generator_step(problem, g_opt, config, device, kept if j == 0 else None)
                        for j in range(config.generator_steps))
        return torch.cat([critic.sum(0), generator, critic[:, 3].max()[None]])

    return CudaGraphStep(step, rng) if _graphed(config, device) else step


def _run_epoch(run_step: Callable[[], torch.Tensor], steps: int, epoch: int, config: WGANConfig,
               device: torch.device, progress: Callable[[int, int, int], None] | None) -> tuple[EpochStats, float]:
    """`steps` training steps; their mean diagnostics, and the largest critic gradient norm of any step."""
    epoch_started = time.perf_counter()
    totals = torch.zeros(6, device=device)  # summed on device: a NaN/Inf of any step stays in the sum
    peak = torch.zeros(1, device=device)    # the largest critic gradient norm of any step
    for i in range(steps):
        out = run_step()
        totals += out[:6]
        peak = torch.maximum(peak, out[6:])
        if progress is not None:
            progress(epoch, i + 1, steps)
    divisors = torch.tensor([steps * config.critic_steps] * 4 + [steps * config.generator_steps] * 2 + [1],
                            device=device)
    means = (torch.cat([totals, peak]) / divisors).tolist()  # one host sync per epoch
    stats = EpochStats(epoch, means[0], means[1], means[2], means[4], means[3], means[5],
                       time.perf_counter() - epoch_started)
    return stats, means[6]


def _end_of_epoch(epoch: int, history: list[EpochStats], optimizers: dict[str, torch.optim.Adam],
                  config: WGANConfig, checkpoints: Checkpoints | None, selection: Selection | None,
                  started: float, epoch_started: float) -> bool:
    """Write a checkpoint when one is due; whether training stops (model selection, or the time budget)."""
    stop = selection is not None and bool(selection.stop_reason)
    out_of_time = (_out_of_time(config, started, time.perf_counter() - epoch_started)
                   and epoch < config.epochs and not stop)
    if checkpoints is not None and (epoch % checkpoints.every == 0 or epoch == config.epochs
                                    or out_of_time or stop):
        checkpoints.save(TrainingState(epoch, list(history),
                                       {name: o.state_dict() for name, o in optimizers.items()},
                                       selection.state_dict() if selection is not None else None))
    if out_of_time:
        warnings.warn(budget_message(config, epoch), TrainingStoppedEarly, stacklevel=3)
    return out_of_time or stop


def stopped_early(config: WGANConfig, history: Sequence[EpochStats],
                  selection: Selection | None = None) -> str | None:
    """Why a finished `train_wgan` ended before `config.epochs`: model selection's patience, or the time budget."""
    if history and history[-1].epoch < config.epochs:
        if selection is not None and selection.stop_reason:
            return selection.stop_reason
        return budget_message(config, history[-1].epoch)
    return None


def budget_message(config: WGANConfig, epoch: int) -> str:
    return (f"training stopped after epoch {epoch} of {config.epochs}: the time budget "
            f"(training.max_minutes={config.max_minutes:g}) would not fit another epoch; "
            f"the model as trained so far is used")


def _out_of_time(config: WGANConfig, started: float, epoch_seconds: float) -> bool:
    """Whether another epoch as long as the last one would end past the time budget."""
    if config.max_minutes is None:
        return False
    return time.monotonic() - started + epoch_seconds > 60 * config.max_minutes


_WATCHED = {"critic_loss": "critic loss", "generator_loss": "generator loss", "wasserstein": "Wasserstein estimate",
            "gradient_penalty": "gradient penalty", "critic_grad_norm": "critic gradient norm",
            "generator_grad_norm": "generator gradient norm"}


def _check_divergence(stats: EpochStats, peak_critic_norm: float, config: WGANConfig,
                      checkpoints: Checkpoints | None) -> None:
    """Raise TrainingDiverged naming the epoch, what went wrong and the settings to change."""
    reason = next((f"{label} {getattr(stats, name)}" for name, label in _WATCHED.items()
                   if not math.isfinite(getattr(stats, name))), None)
    if reason is None and not peak_critic_norm <= config.max_critic_grad_norm:
        reason = (f"critic gradient norm {peak_critic_norm:.3g} > training.max_critic_grad_norm="
                  f"{config.max_critic_grad_norm:g}")
    if reason is None:
        return
    lipschitz = ("lower training.clip_value" if config.lipschitz is Lipschitz.WEIGHT_CLIPPING
                 else "raise training.gp_lambda")
    kept = checkpoints.describe() if checkpoints is not None else \
        "no checkpoint is kept (training.checkpoint_every is 0)"
    raise TrainingDiverged(f"training diverged at epoch {stats.epoch} ({reason}): lower the learning rates "
                           f"(training.generator_lr={config.generator_lr:g}, training.critic_lr="
                           f"{config.critic_lr:g}), {lipschitz}, or change training.critic_steps="
                           f"{config.critic_steps}; {kept}")


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict) -> None:
    """Restore a checkpoint's per-parameter Adam state; the hyperparameters stay the config's."""
    groups = optimizer.state_dict()["param_groups"]
    if [len(g["params"]) for g in groups] != [len(g["params"]) for g in saved["param_groups"]]:
        raise DataError("the checkpoint's optimizer state is for other parameters than this model's")
    optimizer.load_state_dict({"state": saved["state"], "param_groups": groups})


def _critic_step(problem, optimizer, params, config, device, rng, clipping, keep: bool = False):
    """One critic round: its stats (W, gp, loss, grad norm), and with `keep` its fakes with their
    generator graph (and the generator's extra loss) for the generator round that follows."""
    real_inputs, condition = problem.real_batch()
    kept = None
    if keep:
        with autocast(device, config.amp):
            kept = problem.fake_batch(condition, True)
        fake_inputs = [fake.detach() for fake in kept[0]]
    else:
        with torch.no_grad(), autocast(device, config.amp):
            fake_inputs, _ = problem.fake_batch(condition, False)
    with autocast(device, config.amp):
        loss = torch.zeros((), device=device)
        gaps, penalties = [], []
        for critic, real, fake in zip(problem.critics, real_inputs, fake_inputs):
            scores = critic.network(torch.cat([real, fake]))  # one pass: fewer, larger matrix products
            n_real = len(real) // critic.pac
            gap = scores[:n_real].mean() - scores[n_real:].mean()
            loss = loss - critic.loss_weight * gap
            gaps.append(gap)
            if not clipping and critic.gp_lambda > 0:
                penalty = gradient_penalty(critic.network, real, fake, critic.pac, rng)
                loss = loss + critic.gp_lambda * penalty
                penalties.append(penalty)
    distance = gaps[0].detach().float()  # the main critic's Wasserstein estimate
    penalty = penalties[0].detach().float() if penalties else torch.zeros((), device=device)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = _grad_norm(params)
    optimizer.step()
    if clipping:
        with torch.no_grad():
            for p in params:
                p.clamp_(-config.clip_value, config.clip_value)
    return torch.stack([distance, penalty, loss.detach().float(), grad_norm.float()]), kept


def _generator_step(problem, optimizer, config, device, kept=None) -> torch.Tensor:
    """One generator round, on `kept` fakes (the critic round's) or on fresh ones."""
    _set_requires_grad(problem.critics, False)  # no critic weight gradients in the generator step
    with autocast(device, config.amp):
        fake_inputs, extra = kept if kept is not None else problem.fake_batch(problem.condition_batch(), True)
        loss = torch.zeros((), device=device)
        for critic, fake in zip(problem.critics, fake_inputs):
            loss = loss - critic.loss_weight * critic.network(fake).mean()
        if extra is not None:
            loss = loss + extra
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    _set_requires_grad(problem.critics, True)
    grad_norm = _grad_norm(problem.generator.parameters())
    optimizer.step()
    return torch.stack([loss.detach().float(), grad_norm.float()])


def _grad_norm(params) -> torch.Tensor:
    """The 2-norm of all gradients together (clip_grad_norm_ with no limit gives the same, at 4× the
    cost: it also scales every gradient by 1)."""
    return nn.utils.get_total_norm([p.grad for p in params if p.grad is not None], foreach=True)


def _set_requires_grad(critics: Sequence[Critic], flag: bool) -> None:
    for critic in critics:
        for p in critic.network.parameters():
            p.requires_grad_(flag)
