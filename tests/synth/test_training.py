"""The shared WGAN loop: the gradient penalty, weight clipping, per-epoch diagnostics and the callback."""
from __future__ import annotations

import math
from dataclasses import fields

import pytest
import torch
from torch import nn

from synth.errors import ConfigError
from synth.training import Critic, EpochStats, Lipschitz, WGANConfig, gradient_penalty, train_wgan

WIDTH = 3


class PackedLinear(nn.Module):
    """A critic that is exactly linear in its packed input: its gradient is its weight, everywhere."""

    def __init__(self, width: int, pac: int, norm: float):
        super().__init__()
        self.pac = pac
        self.linear = nn.Linear(width * pac, 1)
        with torch.no_grad():
            self.linear.weight.mul_(norm / self.linear.weight.norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.reshape(-1, self.pac * x.shape[1]))  # (B/pac, 1)


def _batches(pac: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8 * pac, WIDTH, generator=g), torch.randn(8 * pac, WIDTH, generator=g) + 2


@pytest.mark.parametrize("pac", [1, 4])
def test_gradient_penalty_vanishes_for_a_unit_norm_linear_critic(pac):
    torch.manual_seed(0)
    real, fake = _batches(pac)
    penalty = gradient_penalty(PackedLinear(WIDTH, pac, norm=1.0), real, fake, pac)
    assert penalty.item() < 1e-10  # per-pack norms: per-row norms would be 1/sqrt(pac) and penalized


@pytest.mark.parametrize("pac", [1, 4])
def test_gradient_penalty_is_the_squared_distance_of_the_norm_from_one(pac):
    torch.manual_seed(0)
    real, fake = _batches(pac)
    penalty = gradient_penalty(PackedLinear(WIDTH, pac, norm=3.0), real, fake, pac)
    assert penalty.item() == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_is_positive_for_a_nonlinear_critic_and_differentiable():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(WIDTH, 16), nn.Tanh(), nn.Linear(16, 1))
    real, fake = _batches(1)
    penalty = gradient_penalty(critic, real, fake, 1, generator=torch.Generator().manual_seed(0))
    assert penalty.item() > 0
    penalty.backward()  # create_graph=True: the penalty trains the critic
    first = critic[0].weight.grad
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0


class ShiftProblem:
    """A minimal game: the generator maps noise to 2-D points, the real data sits around (3, 3)."""

    def __init__(self, batch: int = 32, steps_per_epoch: int = 3, seed: int = 0):
        torch.manual_seed(seed)
        self.rng = torch.Generator().manual_seed(seed)
        self.batch, self.steps_per_epoch = batch, steps_per_epoch
        self.generator = nn.Linear(4, 2)
        self.critics = [Critic(nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)))]
        self.generator_calls = 0

    def condition_batch(self):
        return None

    def real_batch(self):
        return [torch.randn(self.batch, 2, generator=self.rng) * 0.5 + 3], None

    def fake_batch(self, condition, for_generator=True):
        self.generator_calls += 1
        return [self.generator(torch.randn(self.batch, 4, generator=self.rng))], None


def _train(config: WGANConfig, **kwargs) -> tuple[ShiftProblem, list[EpochStats]]:
    problem = ShiftProblem()
    return problem, train_wgan(problem, config, torch.device("cpu"), torch.Generator().manual_seed(0), **kwargs)


def test_weight_clipping_keeps_every_critic_weight_in_bounds():
    config = WGANConfig(epochs=2, batch_size=32, lipschitz=Lipschitz.WEIGHT_CLIPPING, clip_value=0.01,
                        critic_lr=1e-2)
    problem, history = _train(config)
    weights = torch.cat([p.detach().flatten() for p in problem.critics[0].network.parameters()])
    assert weights.abs().max() <= 0.01
    assert (weights.abs() == 0.01).any()  # the bound was reached, so clipping did the work
    assert all(s.gradient_penalty == 0 for s in history)


def test_epoch_stats_and_callback():
    seen: list[EpochStats] = []
    problem, history = _train(WGANConfig(epochs=3, batch_size=32, critic_steps=2), callback=seen.append)
    assert [s.epoch for s in history] == [1, 2, 3]
    assert seen == history  # once per epoch, in order
    for stats in history:
        values = [getattr(stats, f.name) for f in fields(stats) if f.name != "validation_score"]
        assert all(math.isfinite(v) for v in values), stats
        assert stats.gradient_penalty > 0 and stats.critic_grad_norm > 0 and stats.generator_grad_norm > 0
        assert set(stats.as_dict()) == {f.name for f in fields(stats)} - {"epoch", "validation_score"}
    # 3 epochs x 3 steps x (2 critic rounds + 1 generator round)
    assert problem.generator_calls == 3 * 3 * 3
    # the generator step froze the critic only while it ran
    assert all(p.requires_grad for p in problem.critics[0].network.parameters())


def test_fresh_fakes_cost_one_generator_pass_more_per_step():
    problem, _ = _train(WGANConfig(epochs=3, batch_size=32, critic_steps=2, generator_steps=2))
    assert problem.generator_calls == 3 * 3 * (2 + 2)
    problem, _ = _train(WGANConfig(epochs=3, batch_size=32, critic_steps=2, generator_steps=2, reuse_fakes=True))
    assert problem.generator_calls == 3 * 3 * (2 + 1)  # only the first generator round reuses


@pytest.mark.parametrize("reuse", [True, False])
def test_the_generator_learns_with_reused_and_with_fresh_fakes(reuse):
    problem = ShiftProblem(steps_per_epoch=10)
    config = WGANConfig(epochs=40, batch_size=32, generator_lr=2e-2, critic_lr=2e-2, reuse_fakes=reuse)

    def distance() -> float:  # of the generated points' mean from the real mean (3, 3)
        with torch.no_grad():
            return float((problem.generator(torch.randn(2000, 4)).mean(0) - 3).norm())

    untrained = distance()
    train_wgan(problem, config, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert untrained > 2.5 and distance() < 0.5 * untrained


def test_training_moves_both_networks_and_resumes_at_start_epoch():
    problem = ShiftProblem()
    before_g = [p.detach().clone() for p in problem.generator.parameters()]
    before_c = [p.detach().clone() for p in problem.critics[0].network.parameters()]
    history = train_wgan(problem, WGANConfig(epochs=4, batch_size=32), torch.device("cpu"),
                         torch.Generator().manual_seed(0), start_epoch=2)
    assert [s.epoch for s in history] == [3, 4]
    assert any(not torch.equal(a, b) for a, b in zip(before_g, problem.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_c, problem.critics[0].network.parameters()))


def test_training_is_deterministic_given_the_seeds():
    config = WGANConfig(epochs=2, batch_size=32)
    first, _ = _train(config)
    again, _ = _train(config)
    for a, b in zip(first.generator.parameters(), again.generator.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("batch_size", 0), ("critic_steps", 0), ("generator_steps", -1),
    ("generator_lr", 0.0), ("critic_lr", -1e-3),
])
def test_config_rejects_out_of_range_values(field, value):
    with pytest.raises(ConfigError, match=f"training.{field}="):
        WGANConfig(**{field: value})
