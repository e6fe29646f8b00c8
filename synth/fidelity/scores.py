"""The report's headline scores by name, read by the report, the HTML, the gate and `compare`.

A score's key names it in `report["summary"]` and `report["scores"]`, in MLflow (`report.<key>`) and
in the gate's thresholds (`min_<key>`). A new score is one entry here plus its computation in
`synth.fidelity.report`; the summary text, the HTML's score table, the gate and `compare` follow.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Score:
    key: str
    label: str              # the HTML's score table
    short: str              # the summary text's and compare's column title
    every_report: bool = True   # False: only where it applies (series: time-series reports)
    headline: bool = True       # shown in the summary text and by `compare`


SCORES = (
    Score("overall", "overall (shapes and pairs)", "overall"),
    Score("column_shapes", "column shapes", "shapes"),
    Score("column_pairs", "column pair trends", "pairs"),
    Score("structure", "2-D structure (PCA)", "structure", headline=False),
    Score("detection", "detection (1 = indistinguishable)", "detection"),
    Score("series", "time series (autocorrelation, lengths, …)", "series", every_report=False),
)
EVERY_REPORT = tuple(s.key for s in SCORES if s.every_report)      # computed with reference points
HEADLINE = {s.key: s.short for s in SCORES if s.headline}           # {key: short name}, in order
LABELS = {s.key: s.label for s in SCORES if s.every_report}         # the HTML's score table
