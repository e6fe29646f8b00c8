"""SequenceTransformer: Sequences ↔ the three encoded blocks DGAN trains on.

- attributes (N, Da): the attribute table through a TableTransformer (the tabular encoders: modes
  for numbers, one-hot or binary codes for categories, missing values modelled);
- additional attributes (N, Dx): with per-example scaling (minmax encoding only), each continuous
  feature's midpoint and half-range within its example, min-max scaled over the examples;
- features (N, T, Df): per step, each continuous feature either min-max scaled (globally, then
  within its example; `FeatureEncoding.MINMAX`) or a scalar within a mode plus a one-hot of the mode
  (mode-specific normalization as for tables, the modes fitted over all steps; `FeatureEncoding.MODES`),
  each discrete one one-hot or binary; with variable lengths a two-way generation flag
  [continues, ends here]. Steps past an example's end are all zeros.

A continuous feature whose values pile up on a few exact points (a zero amount, a cap) also gets,
per step, a one-hot state [continuous, point 1, ..., point k] (the tabular encoders' rule, over
all steps): a step on a point comes back as exactly that value, and only the continuous steps set
the scales (the global range and each example's midpoint and half-range, or the modes), so the
points take none of the scalar's resolution; the scalar of a step on a point is the centre (of its
mode), never decoded.

Min-max scaled values live in [0, 1] (sigmoid outputs) or [-1, 1] (tanh outputs), as `normalization`
says; a scalar within a mode is a tanh output whatever `normalization` is.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np
import pyarrow as pa

from synth.configs import FeatureEncoding, Normalization
from synth.errors import DataError
from synth.schema import ColumnKind, column_kind
from synth.serialization import schema_from_text, schema_to_text
from synth.timeseries.features import ModeFeature, ScaledFeature
from synth.timeseries.sequences import Sequences
from synth.transforms import TableTransformer
from synth.transforms.categorical import CategoricalColumn
from synth.transforms.layout import Layout, Span, SpanKind
from synth.transforms.table import check_tails
from synth.transforms.tails import Tail

FLAG = "__generation_flag__"


class SequenceTransformer:
    def __init__(self, max_sequence_len: int, normalization: Normalization = Normalization.ZERO_ONE,
                 feature_scaling: bool = True, example_scaling: bool = True, binary_cutoff: int = 150,
                 seed: int = 0, point_share: float = 0.05, max_points: int = 10,
                 feature_encoding: FeatureEncoding = FeatureEncoding.MINMAX, tail: Tail | str = Tail.AUTO,
                 tails: Mapping[str, Tail | str] | None = None):
        self.max_sequence_len = max_sequence_len
        self.normalization = Normalization(normalization)
        self.feature_scaling = feature_scaling
        self.example_scaling = example_scaling  # minmax only: mode-encoded features are never scaled per example
        self.binary_cutoff = binary_cutoff
        self.seed = seed
        self.point_share = point_share  # for attributes and features alike
        self.max_points = max_points
        self.feature_encoding = FeatureEncoding(feature_encoding)
        self.tail = Tail(tail)  # long tails: attributes, and minmax-scaled continuous features
        self.tails = {name: Tail(kind) for name, kind in (tails or {}).items()}

    # -- fit ---------------------------------------------------------------------------------------
    def fit(self, seqs: Sequences) -> "SequenceTransformer":
        attribute_names, feature_names = seqs.attributes.schema.names, seqs.features.schema.names
        unknown = [name for name in self.tails if name not in attribute_names + feature_names]
        if unknown:
            raise DataError(f"model.column_transforms.{unknown[0]}: '{unknown[0]}' is neither an attribute "
                            f"({attribute_names}) nor a feature ({feature_names})")
        check_tails(seqs.features.schema, {n: k for n, k in self.tails.items() if n in feature_names})
        self.attributes_ = TableTransformer(
            seed=self.seed, binary_cutoff=self.binary_cutoff, point_share=self.point_share,
            max_points=self.max_points, tail=self.tail,
            tails={n: k for n, k in self.tails.items() if n in attribute_names}).fit(seqs.attributes)
        self.feature_schema_ = seqs.features.schema.remove_metadata()
        self.features_ = [self._make_feature(f) for f in self.feature_schema_]
        rng = np.random.default_rng(self.seed)
        offsets = seqs.offsets
        for feature in self.features_:
            column = seqs.features.column(feature.name)
            if isinstance(feature, CategoricalColumn):
                feature.fit(column, rng)
                continue
            x = feature.read(column)
            feature.fit_points(x, offsets)
            continuous = (feature.states(x) == 0) & feature.has_continuous_
            if isinstance(feature, ModeFeature):
                feature.fit_modes(x[continuous], rng)
                continue
            if self.feature_scaling:
                rest = feature.fit_tail(x[continuous])
                feature.low_, feature.high_ = (float(rest.min()), float(rest.max())) if len(rest) else (0.0, 0.0)
            else:
                feature.low_, feature.high_ = 0.0, 1.0
            if self.example_scaling:
                mid, half, seen = _example_ranges(feature.unit(x), continuous, offsets)
                if seen.any():
                    feature.mid_range_ = (float(mid[seen].min()), float(mid[seen].max()))
                    feature.half_range_ = (float(half[seen].min()), float(half[seen].max()))
                else:
                    feature.mid_range_, feature.half_range_ = (0.0, 0.0), (0.0, 0.0)
        self.variable_length_ = bool((seqs.lengths < self.max_sequence_len).any())
        self._build_layouts()
        return self

    def _make_feature(self, f: pa.Field):
        if column_kind(f.name, f.type) in (ColumnKind.DISCRETE, ColumnKind.BOOLEAN):
            return CategoricalColumn(f.name, f.type, self.binary_cutoff)
        if self.feature_encoding is FeatureEncoding.MODES:
            return ModeFeature(f.name, f.type, self.point_share, self.max_points)
        return ScaledFeature(f.name, f.type, self.point_share, self.max_points,
                             self.tails.get(f.name, self.tail) if self.feature_scaling else Tail.NONE)

    @property
    def _scalar(self) -> SpanKind:
        return SpanKind.UNIT if self.normalization is Normalization.ZERO_ONE else SpanKind.SCALAR

    @property
    def continuous(self) -> list[ScaledFeature]:
        return [f for f in self.features_ if isinstance(f, ScaledFeature)]

    @property
    def example_scaled(self) -> dict[str, int]:
        """Continuous features scaled within each example, by name: feature i's midpoint and half-range
        are additional attributes 2i and 2i + 1. Mode-encoded features never are."""
        scaled = [f for f in self.continuous if not isinstance(f, ModeFeature)] if self.example_scaling else []
        return {f.name: i for i, f in enumerate(scaled)}

    def _build_layouts(self) -> None:
        spans, start = [], 0
        for feature in self.features_:
            if isinstance(feature, CategoricalColumn):
                blocks = [(b.kind, b.width, b.role) for b in feature.spans]
            elif isinstance(feature, ModeFeature):
                blocks = [(SpanKind.SCALAR, 1, "value")]
                if feature.mode_width:
                    blocks.append((SpanKind.ONE_HOT, feature.mode_width, "mode"))
            else:
                blocks = [(self._scalar, 1, "value")]
            if not isinstance(feature, CategoricalColumn) and feature.state_width:
                blocks.append((SpanKind.ONE_HOT, feature.state_width, "state"))
            for kind, width, role in blocks:
                spans.append(Span(feature.name, kind, start, width, role))
                start += width
        if self.variable_length_:
            spans.append(Span(FLAG, SpanKind.ONE_HOT, start, 2, "flag"))
        self.feature_layout_ = Layout(tuple(spans))
        extra = []
        for name, i in self.example_scaled.items():
            extra += [Span(name, self._scalar, 2 * i, 1, "midpoint"),
                      Span(name, self._scalar, 2 * i + 1, 1, "half_range")]
        self.additional_layout_ = Layout(tuple(extra))
        self.__dict__.pop("_spans", None)  # a refit may change the layout

    @cached_property
    def _spans(self) -> dict[tuple[str, str], Span]:
        return {(s.column, s.role): s for s in self.feature_layout_.spans}

    def _block(self, name: str) -> slice:
        """Positions of all of feature `name`'s spans (contiguous; empty for a constant category)."""
        spans = [s for s in self.feature_layout_.spans if s.column == name]
        return slice(spans[0].start, spans[-1].end) if spans else slice(0, 0)

    @property
    def attribute_dim(self) -> int:
        return self.attributes_.output_dim

    @property
    def additional_dim(self) -> int:
        return self.additional_layout_.width

    @property
    def feature_dim(self) -> int:
        return self.feature_layout_.width

    # -- transform ---------------------------------------------------------------------------------
    def transform(self, seqs: Sequences) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(attributes (N, Da), additional attributes (N, Dx), features (N, T, Df)), float32."""
        n, T = len(seqs.lengths), self.max_sequence_len
        offsets = seqs.offsets
        attributes = (self.attributes_.transform(seqs.attributes) if self.attributes_.columns_
                      else np.zeros((n, 0), dtype=np.float32))
        rows = np.zeros((int(seqs.lengths.sum()), self.feature_dim), dtype=np.float32)
        additional = np.zeros((n, self.additional_dim), dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        example_scaled = self.example_scaled
        for feature in self.features_:
            column = seqs.features.column(feature.name)
            if isinstance(feature, CategoricalColumn):
                rows[:, self._block(feature.name)] = feature.transform(column, rng)
                continue
            x = feature.read(column)
            state = feature.states(x)
            continuous = (state == 0) & feature.has_continuous_
            value = self._spans[feature.name, "value"].start
            if isinstance(feature, ModeFeature):
                scalar, mode = feature.encode(x, continuous, rng)
                rows[:, value] = scalar
                if feature.mode_width:
                    rows[:, self._spans[feature.name, "mode"].slice] = np.eye(feature.mode_width)[mode]
            elif feature.name in example_scaled:
                j = example_scaled[feature.name]
                scaled, ranges = self._example_scale(feature, x, continuous, seqs)
                rows[:, value], additional[:, 2 * j:2 * j + 2] = scaled, ranges
            else:
                rows[:, value] = self._to_range(np.where(continuous, feature.unit(x), 0.5))  # off it: the centre
            if feature.state_width:
                rows[:, self._spans[feature.name, "state"].slice] = np.eye(feature.state_width)[state]
        if self.variable_length_:
            flag, last = self._spans[FLAG, "flag"].start, offsets[1:] - 1
            rows[:, flag] = 1.0
            rows[last, flag], rows[last, flag + 1] = 0.0, 1.0
        features = np.zeros((n, T, self.feature_dim), dtype=np.float32)
        features[seqs.example_index, seqs.step_index] = rows
        return attributes.astype(np.float32), additional, features

    def _example_scale(self, feature: ScaledFeature, x: np.ndarray, continuous: np.ndarray,
                       seqs: Sequences) -> tuple[np.ndarray, np.ndarray]:
        """(per-step values (sum(lengths),), per-example [midpoint, half-range] (N, 2)) in the output range."""
        u = feature.unit(x)
        mid, half, seen = _example_ranges(u, continuous, seqs.offsets)
        # an example with no continuous step: the lowest seen range, never decoded
        mid, half = np.where(seen, mid, feature.mid_range_[0]), np.where(seen, half, feature.half_range_[0])
        step_mid, step_half = np.repeat(mid, seqs.lengths), np.repeat(half, seqs.lengths)
        scaled = continuous & (step_half > 0)
        s = np.where(scaled, (u - step_mid) / np.where(scaled, step_half, 1), 0.0)
        value = s if self._scalar is SpanKind.SCALAR else (s + 1) / 2
        ranges = np.stack([self._to_range(_minmax(mid, feature.mid_range_)),
                           self._to_range(_minmax(half, feature.half_range_))], axis=1)
        return value, ranges

    def _to_range(self, unit: np.ndarray) -> np.ndarray:
        return unit if self.normalization is Normalization.ZERO_ONE else 2 * unit - 1

    def _from_range(self, value: np.ndarray) -> np.ndarray:
        return value if self.normalization is Normalization.ZERO_ONE else (value + 1) / 2

    # -- inverse -----------------------------------------------------------------------------------
    def lengths(self, features: np.ndarray) -> np.ndarray:
        """(N,) sequence lengths read from the generation flag: up to and including the first 'ends'."""
        n, T, _ = features.shape
        if not self.variable_length_:
            return np.full(n, T, dtype=np.int64)
        ends = features[:, :, -2:].argmax(-1) == 1
        return np.where(ends.any(1), ends.argmax(1) + 1, T).astype(np.int64)

    def inverse_transform(self, attributes: np.ndarray, additional: np.ndarray, features: np.ndarray,
                          lengths: np.ndarray) -> tuple[pa.Table, pa.Table]:
        """(attribute table (N rows), feature table (sum(lengths) rows, example-major))."""
        attribute_table = self.attributes_.inverse_transform(attributes)
        example = np.repeat(np.arange(len(lengths)), lengths)
        step = np.arange(int(lengths.sum())) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        rows = features[example, step]  # (sum(lengths), Df)
        arrays, example_scaled = [], self.example_scaled
        for feature in self.features_:
            if isinstance(feature, CategoricalColumn):
                arrays.append(feature.inverse(rows[:, self._block(feature.name)]))
                continue
            value = rows[:, self._spans[feature.name, "value"].start].astype(np.float64)
            state = self._argmax(rows, feature.name, "state")
            if isinstance(feature, ModeFeature):
                arrays.append(feature.output(feature.decode(value, self._argmax(rows, feature.name, "mode")), state))
                continue
            if feature.name in example_scaled:
                j = example_scaled[feature.name]
                mid = _unminmax(self._from_range(np.clip(additional[:, 2 * j], *self._bounds)), feature.mid_range_)
                half = _unminmax(self._from_range(np.clip(additional[:, 2 * j + 1], *self._bounds)),
                                 feature.half_range_)
                s = value if self._scalar is SpanKind.SCALAR else 2 * value - 1
                unit = np.clip(s, -1, 1) * half[example] + mid[example]
            else:
                unit = self._from_range(value)
            arrays.append(feature.values(unit, state))
        return attribute_table, pa.Table.from_arrays(arrays, schema=self.feature_schema_)

    def _argmax(self, rows: np.ndarray, name: str, role: str) -> np.ndarray:
        """(rows,) the hot position of feature `name`'s one-hot `role` (0 where it has none)."""
        span = self._spans.get((name, role))
        return rows[:, span.slice].argmax(1) if span else np.zeros(len(rows), dtype=np.int64)

    @property
    def _bounds(self) -> tuple[float, float]:
        return (0.0, 1.0) if self.normalization is Normalization.ZERO_ONE else (-1.0, 1.0)

    # -- state -------------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "max_sequence_len": self.max_sequence_len, "normalization": self.normalization.value,
            "feature_scaling": self.feature_scaling, "example_scaling": self.example_scaling,
            "binary_cutoff": self.binary_cutoff, "seed": self.seed, "variable_length": self.variable_length_,
            "point_share": self.point_share, "max_points": self.max_points,
            "feature_encoding": self.feature_encoding.value,
            "tail": self.tail.value, "tails": {name: kind.value for name, kind in self.tails.items()},
            "attributes": self.attributes_.state(),
            "feature_schema": schema_to_text(self.feature_schema_),
            "features": {f.name: f.state() for f in self.features_},
        }

    @classmethod
    def from_state(cls, state: dict) -> "SequenceTransformer":
        self = cls(state["max_sequence_len"], Normalization(state["normalization"]), state["feature_scaling"],
                   state["example_scaling"], state["binary_cutoff"], state["seed"],
                   state.get("point_share", 0.05), state.get("max_points", 0),  # none before point masses
                   FeatureEncoding(state.get("feature_encoding", "minmax")),  # minmax before modes
                   state.get("tail", "none"), state.get("tails"))  # none before tail maps
        self.variable_length_ = state["variable_length"]
        self.attributes_ = TableTransformer.from_state(state["attributes"])
        self.feature_schema_ = schema_from_text(state["feature_schema"])
        self.features_ = [self._make_feature(f) for f in self.feature_schema_]
        for feature in self.features_:
            feature.load_state(state["features"][feature.name])
        self._build_layouts()
        return self


def _example_ranges(unit: np.ndarray, keep: np.ndarray,
                    offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-example midpoint and half-range of the unit-scaled values `keep` selects (NaN-free, every
    example non-empty), and whether the example has any (where not, midpoint and half-range are 0)."""
    low = np.minimum.reduceat(np.where(keep, unit, np.inf), offsets[:-1])
    high = np.maximum.reduceat(np.where(keep, unit, -np.inf), offsets[:-1])
    seen = np.isfinite(low)
    low, high = np.where(seen, low, 0.0), np.where(seen, high, 0.0)
    return (high + low) / 2, (high - low) / 2, seen


def _minmax(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    low, high = bounds
    return (x - low) / (high - low) if high > low else np.zeros_like(x)


def _unminmax(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    low, high = bounds
    return low + np.clip(x, 0, 1) * (high - low)
