"""The encoded layout: one frozen description of which columns of the encoded matrix mean what.

The output activation, the conditional and reconstruction losses, the condition samplers and the
inverse transform all read this one description instead of re-walking columns with start/end
counters. Spans of one kind (and, for one-hots, one width) are gathered into index tensors once,
so each is activated or scored with a single vectorized call.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import torch
import torch.nn.functional as F


class SpanKind(str, Enum):
    SCALAR = "scalar"    # one value in [-1, 1]: tanh
    UNIT = "unit"        # one value in [0, 1]: sigmoid
    ONE_HOT = "one_hot"  # a category among `width`: (gumbel-)softmax
    BINARY = "binary"    # `width` independent bits of a category code: sigmoid


@dataclass(frozen=True)
class Span:
    column: str
    kind: SpanKind
    start: int
    width: int
    role: str = "value"  # value | mode | state (numeric: continuous, a point mass or missing)

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
    def columns(self) -> tuple[str, ...]:
        """Columns that have at least one span, in order."""
        return tuple(dict.fromkeys(s.column for s in self.spans))

    @cached_property
    def position_column(self) -> torch.Tensor:
        """(D,) index into `columns` of the column each encoded position belongs to."""
        index = {name: i for i, name in enumerate(self.columns)}
        return torch.tensor([index[s.column] for s in self.spans for _ in range(s.width)], dtype=torch.long)

    def _positions(self, kind: SpanKind) -> torch.Tensor:
        return torch.tensor([p for s in self.spans if s.kind is kind for p in range(s.start, s.end)],
                            dtype=torch.long)

    @cached_property
    def scalar_index(self) -> torch.Tensor:
        return self._positions(SpanKind.SCALAR)

    @cached_property
    def binary_index(self) -> torch.Tensor:
        return self._positions(SpanKind.BINARY)

    @cached_property
    def sigmoid_index(self) -> torch.Tensor:
        """Positions activated by a sigmoid: unit scalars and binary code bits."""
        return torch.tensor([p for s in self.spans if s.kind in (SpanKind.UNIT, SpanKind.BINARY)
                             for p in range(s.start, s.end)], dtype=torch.long)

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

    def to(self, device: torch.device) -> "DeviceLayout":
        return DeviceLayout(self, device)

    def activate(self, raw: torch.Tensor, tau: float | None = 0.2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """See DeviceLayout.activate (convenience for one-off calls; models keep a DeviceLayout)."""
        return self.to(raw.device).activate(raw, tau, generator)


class DeviceLayout:
    """A Layout's index tensors, built once on one device, with the operations that use them.

    One-hot spans are padded to a common width so one softmax activates all of them (few ops per
    step matter: a small-MLP GAN step is bound by per-op overhead on CPUs and by launches on GPUs).
    Activated pieces are concatenated as [scalars | bits | padded one-hots] and put back into layout
    order with a single gather.
    """

    PAD_LOGIT = -1e9          # padding logit: softmax gives it 0, and 0 * log-prob stays finite
    MAX_PADDED_WIDTH = 64     # wider one-hot spans get a group of their own instead of padding all

    def __init__(self, layout: Layout, device: torch.device):
        self.layout = layout
        self.width = layout.width
        self.scalar_index = layout.scalar_index.to(device)
        self.binary_index = layout.binary_index.to(device)
        self.sigmoid_index = layout.sigmoid_index.to(device)
        self.position_column = layout.position_column.to(device)
        spans = [s for s in layout.spans if s.kind is SpanKind.ONE_HOT]
        narrow = [s for s in spans if s.width <= self.MAX_PADDED_WIDTH]
        groups = [narrow] if narrow else []
        groups += [[s] for s in spans if s.width > self.MAX_PADDED_WIDTH]
        # each group: (n_spans, width) positions into [raw | pad column]; pads point at the pad column
        self.groups = []
        order = layout.scalar_index.tolist() + layout.sigmoid_index.tolist()
        for group in groups:
            w = max(s.width for s in group)
            rows = [list(range(s.start, s.end)) + [layout.width] * (w - s.width) for s in group]
            self.groups.append(torch.tensor(rows, dtype=torch.long, device=device))
            order += [p for row in rows for p in row]
        # where each layout position sits in the concatenated pieces (pads are never read back)
        where = torch.empty(layout.width, dtype=torch.long)
        for i, p in enumerate(order):
            if p < layout.width:
                where[p] = i
        self.restore = where.to(device)

    def _padded(self, x: torch.Tensor, fill: float) -> torch.Tensor:
        return torch.cat([x, x.new_full((x.shape[0], 1), fill)], dim=1)  # (B, D + 1)

    def activate(self, raw: torch.Tensor, tau: float | None = 0.2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Generator output → encoded rows: tanh on scalars, sigmoid on unit scalars and bits,
        gumbel-softmax on one-hots (a plain softmax when `tau` is None)."""
        raw = raw.float()  # under autocast the logits may be bfloat16; the encoded rows are float32
        pieces = [torch.tanh(_columns(raw, self.scalar_index))]
        if len(self.sigmoid_index):
            pieces.append(torch.sigmoid(_columns(raw, self.sigmoid_index)))
        if self.groups:
            logits = self._padded(raw, self.PAD_LOGIT)
            for index in self.groups:
                if tau is None:
                    probs = torch.softmax(_columns(logits, index), dim=-1)
                else:
                    probs = gumbel_softmax(_columns(logits, index), tau, generator)  # (B, n_spans, width)
                pieces.append(probs.reshape(len(raw), -1))
        return _columns(torch.cat(pieces, dim=1), self.restore)  # (B, D)

    def reconstruction_loss(self, raw: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """How far the generator's output is from `target` at the positions `mask` selects.

        Squared error for scalars, binary cross-entropy for bits, cross-entropy for one-hots (a
        one-hot span counts when its first position is selected); summed per row, averaged over rows.
        """
        raw = raw.float()
        s, b = self.scalar_index, self.binary_index
        loss = ((torch.tanh(_columns(raw, s)) - _columns(target, s)) ** 2 * _columns(mask, s)).sum()
        if len(b):
            bce = F.binary_cross_entropy_with_logits(_columns(raw, b), _columns(target, b), reduction="none")
            loss = loss + (bce * _columns(mask, b)).sum()
        if self.groups:
            logits, wanted = self._padded(raw, self.PAD_LOGIT), self._padded(target, 0.0)
            for index in self.groups:
                log_probs = F.log_softmax(_columns(logits, index), dim=-1)  # (B, n, w)
                cross_entropy = -(log_probs * _columns(wanted, index)).sum(-1)  # (B, n)
                loss = loss + (cross_entropy * _columns(mask, index[:, 0])).sum()
        return loss / raw.shape[0]


def _columns(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[:, index] for a 1-D or 2-D index. index_select's backward (an index_add) costs about a third
    of advanced indexing's (an accumulating index_put), and a training step does several."""
    if index.dim() == 1:
        return x.index_select(1, index)  # (B, n)
    return x.index_select(1, index.reshape(-1)).reshape(len(x), *index.shape)  # (B, n, w)


def gumbel_softmax(logits: torch.Tensor, tau: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Softmax of (logits + Gumbel noise) / tau over the last dim, with an explicit generator."""
    uniform = torch.rand(logits.shape, device=logits.device, dtype=logits.dtype, generator=generator)
    gumbel = -torch.log((-torch.log(uniform.clamp_min(1e-10))).clamp_min(1e-10))
    return torch.softmax((logits + gumbel) / tau, dim=-1)
