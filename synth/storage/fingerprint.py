"""The data fingerprint: a digest of a table's values that does not depend on how they are stored,
for a table in memory or a source streamed one column block at a time."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from synth.storage.sources import ParquetSource
from synth.tables import type_family

FINGERPRINT_BLOCK_ROWS = 1 << 16  # rows hashed per step: bounds the copies made on a table of any size


def table_fingerprint(table: pa.Table) -> str:
    """A 16-hex-digit digest of a table's column names, type families and values.

    It depends on the data only: not on chunking, schema metadata, dictionary order, the bytes
    under null slots or the physical encoding (string or large_string, int32 or int64, a timestamp's
    unit, date32 or date64: see `synth.tables.type_family`), so the same data gives the same digest
    however it is stored, and one changed value (or null), a renamed column or a new time zone a
    different one. Each column is hashed in fixed row blocks, decoded, null-free and cast to one type
    per family (`_canonical`), through Arrow IPC, which writes any array's values in one canonical
    layout. A float32 column equals a float64 one exactly when its values, widened (exactly) to
    float64, do.
    """
    digest = _fingerprint_start(table.num_rows, table.schema)
    for column in table.columns:
        for start in range(0, table.num_rows, FINGERPRINT_BLOCK_ROWS):
            _fingerprint_block(digest, column.slice(start, FINGERPRINT_BLOCK_ROWS))
    return digest.hexdigest()


def source_fingerprint(source: ParquetSource) -> str:
    """`table_fingerprint` of the whole source, streamed: one column at a time, one block at a time.

    The digest is the same as for the source read whole; memory stays at one block of one column.
    """
    schema = source.schema()
    digest = _fingerprint_start(source.count_rows(), schema)
    for name in schema.names:
        arrays = (batch.column(0) for batch in source.batches([name], FINGERPRINT_BLOCK_ROWS))
        for block in _fixed_blocks(arrays, FINGERPRINT_BLOCK_ROWS):
            _fingerprint_block(digest, block)
    return digest.hexdigest()


def _fingerprint_start(rows: int, schema: pa.Schema):
    digest = hashlib.blake2b(digest_size=8)
    digest.update(json.dumps([rows, [[f.name, type_family(f.type)] for f in schema]]).encode())
    return digest


def _fingerprint_block(digest, block: pa.Array | pa.ChunkedArray) -> None:
    if pa.types.is_dictionary(block.type):  # hash values, not codes into a per-chunk dictionary
        block = block.cast(block.type.value_type)
    values = block.combine_chunks() if isinstance(block, pa.ChunkedArray) else block
    nulls = pc.indices_nonzero(values.is_null())  # where the nulls are, as plain uint64
    present = _canonical(values).drop_null()  # safe casts look at valid slots only
    digest.update(str(present.type).encode())  # int64 or uint64, a timestamp's unit: the bytes' meaning
    if pa.types.is_boolean(present.type):  # bit-packed: bits past the end are not guaranteed zero
        present = present.cast(pa.uint8())
    for array in (nulls, present):
        digest.update(pa.record_batch([array], names=["v"]).serialize())


def _canonical(values: pa.Array) -> pa.Array:
    """`values` cast to the one type of their family that holds them exactly, chosen by the (non-null)
    values alone, never by how they were stored: large_string, large_binary, float64 (exact for any
    narrower float), decimal256 of the same scale; int64, or uint64 past its range; date32, or date64
    for part days; a timestamp in the coarsest unit that holds every instant of the block."""
    t = values.type
    if type_family(t) == "string":
        candidates = [pa.large_string()]
    elif type_family(t) == "binary":
        candidates = [pa.large_binary()]
    elif pa.types.is_integer(t):
        candidates = [pa.int64(), pa.uint64()]
    elif pa.types.is_floating(t):
        candidates = [pa.float64()]
    elif pa.types.is_decimal(t):
        candidates = [pa.decimal256(76, t.scale)]
    elif pa.types.is_date(t):
        candidates = [pa.date32(), pa.date64()]
    elif pa.types.is_timestamp(t):
        units = ["s", "ms", "us", "ns"]
        candidates = [pa.timestamp(unit, t.tz) for unit in units[:units.index(t.unit) + 1]]
    else:
        return values
    for target in candidates[:-1]:
        try:
            return values.cast(target)  # a safe cast: it refuses to truncate or overflow
        except pa.ArrowInvalid:
            continue
    return values.cast(candidates[-1])


def _fixed_blocks(arrays: Iterable[pa.Array], size: int) -> Iterator[pa.ChunkedArray]:
    """The concatenation of `arrays`, re-cut into blocks of exactly `size` (the last one shorter)."""
    pending: list[pa.Array] = []
    held = 0
    for array in arrays:
        if pa.types.is_dictionary(array.type):  # chunks may carry different dictionaries
            array = array.cast(array.type.value_type)
        pending.append(array)
        held += len(array)
        while held >= size:
            joined = pa.chunked_array(pending, type=array.type)
            yield joined.slice(0, size)
            pending, held = list(joined.slice(size).chunks), held - size
    if held:
        yield pa.chunked_array(pending)
