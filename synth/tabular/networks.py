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


class Dropout(nn.Module):
    """Inverted dropout whose mask comes from random bytes (p in steps of 1/256).

    The same as nn.Dropout for p = 0.5 (and within 1/512 of p otherwise), but about 3× cheaper on
    CPU: torch draws a Bernoulli mask one float at a time, while 8 mask bits come out of each random
    64-bit word here. The critic applies it to every hidden activation of every step.
    """

    def __init__(self, p: float):
        super().__init__()
        self.threshold = round(256 * p)  # a unit is dropped where its byte is below this
        self.scale = 256 / (256 - self.threshold) if self.threshold < 256 else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        n = x.numel()
        words = torch.randint(-2**63, 2**63 - 1, ((n + 7) // 8,), dtype=torch.int64, device=x.device)
        keep = words.view(torch.uint8)[:n].reshape(x.shape) >= self.threshold
        return x * keep.to(x.dtype).mul_(self.scale)  # a float mask: no bool casts in the backward


class PackedCritic(nn.Module):
    """Scores packs of `pac` rows at once (PacGAN), which makes mode collapse visible to the critic."""

    def __init__(self, input_dim: int, hidden: Sequence[int], pac: int, dropout: float = 0.5):
        super().__init__()
        self.pac = pac
        layers, width = [], input_dim * pac
        for size in hidden:
            layers += [nn.Linear(width, size), nn.LeakyReLU(0.2), Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.reshape(-1, self.pac * x.shape[1]))  # (B/pac, 1)
