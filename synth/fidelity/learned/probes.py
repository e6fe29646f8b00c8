"""The small network behind the learned scores (detection, utility) and the series discriminator:
a one-hidden-layer MLP trained on the CPU with Adam, from a seed alone, and what it is fed.

Two initialisations are kept, each bound to the report numbers computed with it (`Init`).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from synth.errors import ConfigError
from synth.fidelity.encode import EncodedTable, TableEncoder

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
TEST_RESAMPLES = 200  # resamples of the test rows behind the detection AUC's and the utility R²'s intervals


class Init(Enum):
    """How a probe's network is laid out and its weights start."""

    LINEAR = "linear"  # nn.Linear layers at PyTorch's default init, from the global RNG forked and seeded
    NORMAL = "normal"  # weights N(0, 1/fan_in) from a seeded generator, zero biases; one logit per row, (n,)


@dataclass(frozen=True)
class ProbeConfig:
    """The small network behind `detection` and `utility`, and how it is trained."""

    hidden_dim: int = 64
    steps: int = 200  # Adam steps, fixed, so the run time does not depend on the data
    batch_size: int | None = 4096  # rows per step (all of them when fewer, or None): a few large mini-batches
    learning_rate: float = 1e-2
    weight_decay: float = 0.0  # Adam's L2 penalty
    init: Init = Init.LINEAR
    feature_clip: float = 10.0  # standardized inputs clipped to ±this: a wild synthetic value must not swamp it
    test_fraction: float = 0.3  # detection: held-out share of each side
    permutation_repeats: int = 3  # detection: shuffles per column, averaged
    top_giveaways: int = 10
    threads: int | None = 1  # torch threads while fitting (None: as set): as fast, and no OpenMP stalls when busy


PROBE = ProbeConfig()


def train_probe(features: torch.Tensor, targets: torch.Tensor, loss: Loss, n_outputs: int, seed: int,
                probe: ProbeConfig) -> nn.Module:
    """A 1-hidden-layer MLP fitted with Adam for `probe.steps` steps on seeded mini-batches (CPU).

    Args:
        features: (n, d) float32 inputs.
        targets: what `loss` compares the network's output with, row by row.
        loss: e.g. `F.binary_cross_entropy_with_logits`, `F.cross_entropy`, `F.mse_loss`.
        n_outputs: outputs per row (Init.NORMAL: 1, as a vector).
        seed: seeds the initial weights and the mini-batches.
        probe: the network and its training.
    """
    network = _network(features.shape[1], n_outputs, seed, probe)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=probe.learning_rate, weight_decay=probe.weight_decay)
    full_batch = probe.batch_size is None or len(features) <= probe.batch_size
    for _ in range(probe.steps):
        rows = slice(None) if full_batch else torch.randint(len(features), (probe.batch_size,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss(network(features[rows]), targets[rows]).backward()
        optimizer.step()
    return network.eval()


@torch.no_grad()
def predict(network: nn.Module, features: torch.Tensor) -> np.ndarray:
    return network(features).numpy()  # (n, outputs), or (n,) for Init.NORMAL


@contextmanager
def intra_op_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch intra-op threads (None: unchanged), restoring them after.

    One thread is as fast for these tiny networks, and on a busy machine spinning OpenMP threads stall
    each other (weather data on 2 shared cores: 30 s with 2 threads, 2 s with 1)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def probe_features(encoder: TableEncoder, table: EncodedTable, clip: float,
                   keep: np.ndarray | None = None) -> torch.Tensor:
    """(n, d) float32 encoder features (only the `keep` positions), clipped to ±`clip` (infinities too)."""
    features = encoder.features(table)
    if keep is not None:
        features = features[:, keep]
    return torch.from_numpy(np.clip(features, -clip, clip))


def subsample(table: EncodedTable, max_rows: int, rng: np.random.Generator) -> EncodedTable:
    """At most `max_rows` rows, in a seeded random order (so the first rows are a random subset too)."""
    return table.take(rng.permutation(len(table))[:max_rows])


def check_max_rows(max_rows: int, least: int) -> None:
    if max_rows < least:
        raise ConfigError(f"max_rows must be at least {least}, got {max_rows}")


def _network(inputs: int, n_outputs: int, seed: int, probe: ProbeConfig) -> nn.Module:
    if probe.init is Init.NORMAL:
        return _NormalMLP(inputs, probe.hidden_dim, torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, the caller's RNG left untouched
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(inputs, probe.hidden_dim), nn.ReLU(), nn.Linear(probe.hidden_dim, n_outputs))


class _NormalMLP(nn.Module):
    """One hidden ReLU layer and one logit per row; weights N(0, 1/fan_in) drawn from `generator`, zero biases."""

    def __init__(self, inputs: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.hidden_w = nn.Parameter(torch.randn(inputs, hidden, generator=generator) / inputs ** 0.5)
        self.hidden_b = nn.Parameter(torch.zeros(hidden))
        self.output_w = nn.Parameter(torch.randn(hidden, generator=generator) / hidden ** 0.5)
        self.output_b = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.hidden_w + self.hidden_b) @ self.output_w + self.output_b  # (n, d) -> (n,)
