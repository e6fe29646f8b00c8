"""The encoded layout: one frozen description of which columns of the encoded matrix mean what.

The output activation, the conditional loss, the condition sampler and the inverse transform all
read this one description instead of re-walking the columns with start/end counters.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import torch
import torch.nn.functional as F


class SpanKind(str, Enum):
    SCALAR = "scalar"    # one value in [-1, 1]: tanh
    ONE_HOT = "one_hot"  # a category among `width`: (gumbel-)softmax


@dataclass(frozen=True)
class Span:
    column: str
    kind: SpanKind
    start: int
    width: int
    role: str = "value"  # value | mode | missing: what the span encodes for its column

    @property
    def end(self) -> int:
        return self.start + self.width

    @property
    def slice(self) -> slice:
        return slice(self.start, self.end)


@dataclass(frozen=True)
class SoftmaxGroup:
    """All one-hot spans of one width, gathered so one softmax call activates them together."""

    width: int
    index: torch.Tensor  # (n_spans, width) positions in the encoded row


@dataclass(frozen=True, eq=False)
class Layout:
    spans: tuple[Span, ...]

    @property
    def width(self) -> int:
        return self.spans[-1].end if self.spans else 0

    @cached_property
    def scalar_index(self) -> torch.Tensor:
        return torch.tensor([s.start for s in self.spans if s.kind is SpanKind.SCALAR], dtype=torch.long)

    @cached_property
    def softmax_groups(self) -> tuple[SoftmaxGroup, ...]:
        by_width: dict[int, list[Span]] = {}
        for s in self.spans:
            if s.kind is SpanKind.ONE_HOT:
                by_width.setdefault(s.width, []).append(s)
        return tuple(
            SoftmaxGroup(w, torch.tensor([list(range(s.start, s.end)) for s in spans], dtype=torch.long))
            for w, spans in sorted(by_width.items())
        )

    def activate(self, raw: torch.Tensor, tau: float = 0.2, hard: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Generator output → encoded rows: tanh on scalars, gumbel-softmax on one-hots.

        `hard=True` returns exact one-hots (sampling); training uses the soft relaxation.
        """
        out = torch.empty_like(raw)  # (B, D)
        scalars = self.scalar_index.to(raw.device)
        out[:, scalars] = torch.tanh(raw[:, scalars])
        for group in self.softmax_groups:
            index = group.index.to(raw.device)
            logits = raw[:, index]  # (B, n_spans, width)
            probs = gumbel_softmax(logits, tau, generator)
            if hard:
                probs = F.one_hot(probs.argmax(-1), group.width).to(raw.dtype)
            out[:, index] = probs
        return out


def gumbel_softmax(logits: torch.Tensor, tau: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Softmax of (logits + Gumbel noise) / tau over the last dim, with an explicit generator."""
    uniform = torch.rand(logits.shape, device=logits.device, dtype=logits.dtype, generator=generator)
    gumbel = -torch.log((-torch.log(uniform.clamp_min(1e-10))).clamp_min(1e-10))
    return torch.softmax((logits + gumbel) / tau, dim=-1)
