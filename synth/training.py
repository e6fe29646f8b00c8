"""The one WGAN training loop, shared by every model.

A model describes its adversarial game as a `WGANProblem` (generator, critics, how to draw a real
batch and how to make fakes); `train_wgan` runs critic rounds and generator rounds, keeps the
critics Lipschitz by gradient penalty or weight clipping, and reports per-epoch diagnostics
through a callback.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Callable, Protocol, Sequence

import torch
from torch import nn

from synth.device import autocast
from synth.errors import ConfigError


class Lipschitz(str, Enum):
    GRADIENT_PENALTY = "gradient_penalty"  # WGAN-GP (Gulrajani et al., 2017)
    WEIGHT_CLIPPING = "weight_clipping"    # the original WGAN (Arjovsky et al., 2017)


@dataclass(frozen=True)
class WGANConfig:
    epochs: int = 300
    batch_size: int = 500
    critic_steps: int = 1          # critic rounds per generator step
    generator_steps: int = 1       # generator rounds after each set of critic rounds
    generator_lr: float = 2e-4
    critic_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    generator_weight_decay: float = 1e-6
    critic_weight_decay: float = 1e-6
    lipschitz: Lipschitz = Lipschitz.GRADIENT_PENALTY
    gp_lambda: float = 10.0        # gradient-penalty coefficient of the main critic
    clip_value: float = 0.01       # weight-clipping bound, used only with WEIGHT_CLIPPING
    device: str = "auto"           # auto = CUDA if present, else CPU
    amp: bool = False              # bfloat16 autocast on CUDA
    cuda_graphs: bool = True       # on CUDA, replay each training step as one captured graph

    def __post_init__(self):
        for name in ("epochs", "batch_size", "critic_steps", "generator_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name}={getattr(self, name)}: must be at least 1")
        for name in ("generator_lr", "critic_lr"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"training.{name}={getattr(self, name)}: must be positive")


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

    def as_dict(self) -> dict[str, float]:
        d = asdict(self)
        d.pop("epoch")
        return d


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


def train_wgan(problem: WGANProblem, config: WGANConfig, device: torch.device,
               rng: torch.Generator | None = None,
               callback: Callable[[EpochStats], None] | None = None,
               start_epoch: int = 0,
               progress: Callable[[int, int, int], None] | None = None) -> list[EpochStats]:
    """Train `problem` for `config.epochs` epochs; returns the per-epoch diagnostics.

    `callback` receives each epoch's EpochStats; `progress` is called after every step with
    (epoch, step, steps_per_epoch), without synchronizing the device.
    """
    graphed = config.cuda_graphs and device.type == "cuda"
    # fused: one kernel per optimizer step; capturable: its step count lives on the GPU (graph replay)
    opt = dict(betas=config.betas, fused=device.type in ("cpu", "cuda"), capturable=graphed)
    g_opt = torch.optim.Adam(problem.generator.parameters(), lr=config.generator_lr,
                             weight_decay=config.generator_weight_decay, **opt)
    c_params = [p for c in problem.critics for p in c.network.parameters()]
    c_opt = torch.optim.Adam(c_params, lr=config.critic_lr, weight_decay=config.critic_weight_decay, **opt)
    clipping = config.lipschitz is Lipschitz.WEIGHT_CLIPPING

    def step() -> torch.Tensor:  # (6,): critic sums (W, gp, loss, grad norm), generator sums (loss, grad norm)
        critic = sum(_critic_step(problem, c_opt, c_params, config, device, rng, clipping)
                     for _ in range(config.critic_steps))
        generator = sum(_generator_step(problem, g_opt, config, device) for _ in range(config.generator_steps))
        return torch.cat([critic, generator])

    run_step = CudaGraphStep(step, rng) if graphed else step
    history: list[EpochStats] = []
    for epoch in range(start_epoch + 1, config.epochs + 1):
        started = time.perf_counter()
        totals = torch.zeros(6, device=device)  # summed on device; one host sync per epoch
        for i in range(problem.steps_per_epoch):
            totals += run_step()
            if progress is not None:
                progress(epoch, i + 1, problem.steps_per_epoch)
        steps = problem.steps_per_epoch
        means = (totals / torch.tensor([steps * config.critic_steps] * 4 + [steps * config.generator_steps] * 2,
                                       device=device)).tolist()
        stats = EpochStats(epoch, means[0], means[1], means[2], means[4], means[3], means[5],
                           time.perf_counter() - started)
        history.append(stats)
        if callback is not None:
            callback(stats)
    return history


class CudaGraphStep:
    """Runs a training step eagerly a few times, then captures it as one CUDA graph and replays it.

    A small-MLP GAN step is hundreds of tiny kernels; launched one by one from Python the GPU sits
    idle between them. A replayed graph launches them all at once. The step must keep its tensors'
    shapes and devices, and draw randomness only from `rng` or the default CUDA generator.
    """

    def __init__(self, step: Callable[[], torch.Tensor], rng: torch.Generator | None, warmup: int = 3):
        self.step, self.rng, self.warmup = step, rng, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.calls = 0
        self.eager = False

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        if self.calls <= self.warmup:  # eager, on a side stream (lets cuBLAS and autograd settle)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.step()
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.eager:
            return self.step()
        if self.graph is None:
            graph = torch.cuda.CUDAGraph()
            if self.rng is not None:
                graph.register_generator_state(self.rng)
            try:
                with torch.cuda.graph(graph):
                    self.out = self.step()
            except RuntimeError as e:  # an op that cannot be captured: train eagerly, slower but right
                warnings.warn(f"CUDA graph capture failed ({str(e).splitlines()[0]}); training goes on "
                              "without graphs (set training.cuda_graphs=false to skip the attempt)",
                              RuntimeWarning, stacklevel=2)
                torch.cuda.synchronize()
                self.eager = True
                return self.step()
            self.graph = graph
        self.graph.replay()
        return self.out


def _critic_step(problem, optimizer, params, config, device, rng, clipping) -> torch.Tensor:
    real_inputs, condition = problem.real_batch()
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
    grad_norm = nn.utils.clip_grad_norm_(params, math.inf)
    optimizer.step()
    if clipping:
        with torch.no_grad():
            for p in params:
                p.clamp_(-config.clip_value, config.clip_value)
    return torch.stack([distance, penalty, loss.detach().float(), grad_norm.float()])


def _generator_step(problem, optimizer, config, device) -> torch.Tensor:
    condition = problem.condition_batch()
    _set_requires_grad(problem.critics, False)  # no critic weight gradients in the generator step
    with autocast(device, config.amp):
        fake_inputs, extra = problem.fake_batch(condition, True)
        loss = torch.zeros((), device=device)
        for critic, fake in zip(problem.critics, fake_inputs):
            loss = loss - critic.loss_weight * critic.network(fake).mean()
        if extra is not None:
            loss = loss + extra
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    _set_requires_grad(problem.critics, True)
    grad_norm = nn.utils.clip_grad_norm_(problem.generator.parameters(), math.inf)
    optimizer.step()
    return torch.stack([loss.detach().float(), grad_norm.float()])


def _set_requires_grad(critics: Sequence[Critic], flag: bool) -> None:
    for critic in critics:
        for p in critic.network.parameters():
            p.requires_grad_(flag)
