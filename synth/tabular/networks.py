"""Generator and critic for tables (CTGAN's shapes: residual generator, packed critic)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class Residual(nn.Module):
    """concat(ReLU(BN(Linear(x))), x): each layer widens the representation."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.norm = nn.BatchNorm1d(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(self.norm(self.linear(x))), x], dim=1)  # (B, out + in)


class Generator(nn.Module):
    def __init__(self, input_dim: int, hidden: Sequence[int], output_dim: int):
        super().__init__()
        layers, width = [], input_dim
        for size in hidden:
            layers.append(Residual(width, size))
            width += size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, output_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(z))  # (B, D) raw, activated by the Layout


class PackedCritic(nn.Module):
    """Scores packs of `pac` rows at once (PacGAN), which makes mode collapse visible to the critic."""

    def __init__(self, input_dim: int, hidden: Sequence[int], pac: int, dropout: float = 0.5):
        super().__init__()
        self.pac = pac
        layers, width = [], input_dim * pac
        for size in hidden:
            layers += [nn.Linear(width, size), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.reshape(-1, self.pac * x.shape[1]))  # (B/pac, 1)
