"""Durations and sizes as a person reads them, for logs and plans."""
from __future__ import annotations


def duration(seconds: float) -> str:
    """`0.4 ms`, `12 ms`, `3.2 s`, `14 min`, `2.5 h`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.0095 else f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def size(nbytes: float) -> str:
    """`512 B`, `3.4 kB`, `1.2 GB` (powers of 1,000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")
