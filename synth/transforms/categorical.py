"""`CategoricalColumn`, the encoder of strings, dictionaries and booleans (the numeric one and the
shared pieces are in `synth.transforms.columns`): one-hot, or a binary code from `binary_cutoff`
categories on, most frequent first; missing is a category."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.errors import DataError
from synth.transforms.columns import MAX_CATEGORIES, BlockSpan, IdentifierColumnWarning
from synth.transforms.layout import SpanKind


@dataclass
class CategoricalColumn:
    name: str
    arrow_type: pa.DataType
    binary_cutoff: int = 500      # this many categories or more: binary code instead of one-hot
    categories_: list = field(default_factory=list)  # None stands for missing; most frequent first
    counts_: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def frequencies_(self) -> np.ndarray:
        return self.counts_ / max(self.counts_.sum(), 1)

    @property
    def binary(self) -> bool:
        return len(self.categories_) >= self.binary_cutoff

    @property
    def n_bits(self) -> int:
        return max(int(np.ceil(np.log2(len(self.categories_)))), 1)

    @property
    def spans(self) -> list[BlockSpan]:
        if len(self.categories_) <= 1:
            return []
        if self.binary:
            return [BlockSpan(SpanKind.BINARY, self.n_bits, "value")]
        return [BlockSpan(SpanKind.ONE_HOT, len(self.categories_), "value")]

    def _codes(self, column: pa.ChunkedArray) -> tuple[np.ndarray, list]:
        """Codes into the column's own distinct values (missing = the last code), and those values."""
        plain = pc.cast(column, self.arrow_type.value_type) if pa.types.is_dictionary(self.arrow_type) else column
        encoded = pc.dictionary_encode(plain).combine_chunks()
        values = encoded.dictionary.to_pylist()
        codes = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, values + [None]

    def fit(self, column: pa.ChunkedArray, rng: np.random.Generator) -> None:
        codes, values = self._codes(column)
        counts = np.bincount(codes, minlength=len(values))
        keep = np.flatnonzero(counts)
        order = keep[np.argsort(-counts[keep], kind="stable")]  # most frequent first
        self.categories_ = [values[i] for i in order]
        self.counts_ = counts[order]
        distinct, rows = len(self.categories_), int(counts.sum())
        if distinct > MAX_CATEGORIES:
            raise DataError(f"column '{self.name}' has {distinct:,} distinct values in {rows:,} rows, more than the "
                            f"{MAX_CATEGORIES:,} a category can have: a column this wide is an identifier or free "
                            "text, which the model cannot learn and would only copy; drop it from source.columns")
        if distinct >= 50 and distinct >= 0.9 * rows:
            warnings.warn(f"column '{self.name}' looks like an identifier ({distinct} distinct values in {rows} "
                          "rows): it is modelled as a binary-coded category, so synthetic values are drawn from "
                          "the observed ones; drop it from source.columns if it carries no information",
                          IdentifierColumnWarning, stacklevel=2)
            self.binary_cutoff = min(self.binary_cutoff, distinct)

    @property
    def condition_counts(self) -> np.ndarray:
        return self.counts_

    def condition_codes(self, column: pa.ChunkedArray) -> np.ndarray:
        return self.category_codes(column)

    def category_codes(self, column: pa.ChunkedArray) -> np.ndarray:
        """Index of each value in categories_ (-1 for a value never seen in fit)."""
        codes, values = self._codes(column)
        lookup = {v: i for i, v in enumerate(self.categories_)}
        mapping = np.array([lookup.get(v, -1) for v in values], dtype=np.int64)
        return mapping[codes]

    def transform(self, column: pa.ChunkedArray, rng: np.random.Generator) -> np.ndarray:
        if len(self.categories_) <= 1:
            return np.zeros((len(column), 0))
        codes = self.category_codes(column)
        if (codes < 0).any():
            raise ValueError(f"column '{self.name}' has values not seen when the transform was fitted")
        if self.binary:
            return ((codes[:, None] >> np.arange(self.n_bits)) & 1).astype(np.float64)  # (N, bits)
        return np.eye(len(self.categories_))[codes]

    def inverse(self, block: np.ndarray) -> pa.Array:
        if not block.shape[1]:
            index = np.zeros(len(block), dtype=np.int64)
        elif self.binary:
            # codes past the last category (possible with n_bits bits) fall on the rarest one
            index = np.minimum(((block > 0.5) << np.arange(self.n_bits)).sum(1), len(self.categories_) - 1)
        else:
            index = block.argmax(1)
        plain_type = self.arrow_type.value_type if pa.types.is_dictionary(self.arrow_type) else self.arrow_type
        # Arrow has no take kernel for string_view: decode as string, then cast
        build_type = pa.string() if pa.types.is_string_view(plain_type) else plain_type
        # missing is a null index, not a null dictionary entry (Arrow's null_count sees only the former)
        is_missing = np.array([v is None for v in self.categories_], dtype=bool)
        code = np.cumsum(~is_missing) - 1  # index in categories_ -> index among the non-null ones
        dictionary = pa.array([v for v in self.categories_ if v is not None], type=build_type)
        indices = pa.array(code[index], type=pa.int32(), mask=is_missing[index])
        out = pa.DictionaryArray.from_arrays(indices, dictionary)
        if pa.types.is_dictionary(self.arrow_type):
            return out.cast(self.arrow_type)
        return out.dictionary_decode().cast(plain_type)

    def state(self) -> dict:
        return {"categories": self.categories_, "counts": self.counts_.tolist(), "binary_cutoff": self.binary_cutoff}

    def load_state(self, state: dict) -> None:
        self.binary_cutoff = state["binary_cutoff"]
        self.categories_ = list(state["categories"])
        self.counts_ = np.asarray(state["counts"], dtype=np.int64)
