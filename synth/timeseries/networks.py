"""DoppelGANger's networks: attribute MLPs, a batch-of-steps LSTM, and MLP critics."""
from __future__ import annotations

import torch
from torch import nn


def mlp(input_dim: int, output_dim: int, layers: int, units: int, batch_norm: bool) -> nn.Sequential:
    """`layers` × (Linear, ReLU[, BatchNorm]) then a Linear head."""
    body, width = [], input_dim
    for _ in range(layers):
        body += [nn.Linear(width, units), nn.ReLU()]
        if batch_norm:
            body.append(nn.BatchNorm1d(units))
        width = units
    body.append(nn.Linear(width, output_dim))
    return nn.Sequential(*body)


class SequenceGenerator(nn.Module):
    """Noise → attributes → additional attributes → features, sample_len steps per LSTM cell.

    Downstream networks see the attributes detached (as in DoppelGANger): the attribute MLP learns
    only from how its output is scored, not from what the feature LSTM would prefer to receive.
    Outputs are raw; the model's layouts activate them.
    """

    def __init__(self, attribute_dim: int, additional_dim: int, feature_dim: int, max_sequence_len: int,
                 sample_len: int, attribute_noise_dim: int = 10, feature_noise_dim: int = 10,
                 attribute_num_layers: int = 3, attribute_num_units: int = 100,
                 feature_num_layers: int = 1, feature_num_units: int = 100):
        super().__init__()
        self.attribute_dim, self.additional_dim, self.feature_dim = attribute_dim, additional_dim, feature_dim
        self.cells, self.sample_len = max_sequence_len // sample_len, sample_len
        self.attribute_noise_dim, self.feature_noise_dim = attribute_noise_dim, feature_noise_dim
        self.attribute = (mlp(attribute_noise_dim, attribute_dim, attribute_num_layers, attribute_num_units, True)
                          if attribute_dim else None)
        self.additional = (mlp(attribute_noise_dim + attribute_dim, additional_dim, attribute_num_layers,
                               attribute_num_units, True) if additional_dim else None)
        self.lstm = nn.LSTM(attribute_dim + additional_dim + feature_noise_dim, feature_num_units,
                            num_layers=feature_num_layers, batch_first=True)
        self.head = nn.Linear(feature_num_units, sample_len * feature_dim)

    def attributes(self, noise: torch.Tensor) -> torch.Tensor:
        """(B, Da) raw attributes."""
        if self.attribute is None:
            return noise.new_zeros(len(noise), 0)
        return self.attribute(noise)

    def additional_attributes(self, noise: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        """(B, Dx) raw additional attributes given activated attributes."""
        if self.additional is None:
            return noise.new_zeros(len(noise), 0)
        return self.additional(torch.cat([noise, attributes.detach()], dim=1))

    def features(self, noise: torch.Tensor, attributes: torch.Tensor, additional: torch.Tensor) -> torch.Tensor:
        """(B, T, Df) raw features; noise is (B, cells, feature_noise_dim)."""
        context = torch.cat([attributes, additional], dim=1).detach()
        inputs = torch.cat([context[:, None, :].expand(-1, self.cells, -1), noise], dim=2)
        hidden, _ = self.lstm(inputs)  # (B, cells, units)
        return self.head(hidden).reshape(len(noise), self.cells * self.sample_len, self.feature_dim)


class Critic(nn.Module):
    """An MLP critic on flattened inputs (gretel: 5 layers of 200 units, ReLU)."""

    def __init__(self, input_dim: int, layers: int = 5, units: int = 200):
        super().__init__()
        self.body = mlp(input_dim, 1, layers, units, batch_norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, 1)
