"""Reversible transforms between data frames and the encoded matrices the networks see."""
from synth.transforms.layout import Layout, Span, SpanKind
from synth.transforms.table import TableTransformer

__all__ = ["Layout", "Span", "SpanKind", "TableTransformer"]
