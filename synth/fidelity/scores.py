"""The report's headline scores by name, read by the report, the HTML, the gate and `compare`.

A score's key names it in `report["summary"]` and `report["scores"]`, in MLflow (`report.<key>`) and
in the gate's thresholds (`min_<key>`). A new score is its metric plus one entry here:

- a score of the side-by-side comparison (`tabular.compare`'s summary: shapes, pairs) needs only
  the entry, once its metric adds the key to that summary;
- a learned score names its section's function (`section`, "module:function", called per side as
  `fn(real, side, encoder, seed=seed)` and returning at least `score` and `score_ci`): the report
  computes it for the synthetic, holdout and independent sides and keeps the section under the key.

The summary text, the HTML's score table, the gate and `compare` follow from the entry.
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
    section: str | None = None  # a learned score's "module:function" (imported when a report is built)

    def compute(self):
        """The learned section's function (`section`), imported on first use (torch is heavy)."""
        import importlib

        module, name = self.section.split(":")
        return getattr(importlib.import_module(module), name)


SCORES = (
    Score("overall", "overall (shapes and pairs)", "overall"),
    Score("column_shapes", "column shapes", "shapes"),
    Score("column_pairs", "column pair trends", "pairs"),
    Score("structure", "2-D structure (PCA)", "structure", headline=False,
          section="synth.fidelity.learned.structure:structure"),
    Score("detection", "detection (1 = indistinguishable)", "detection",
          section="synth.fidelity.learned.detection:detection"),
    Score("series", "time series (autocorrelation, lengths, …)", "series", every_report=False),
)


def views(scores: tuple[Score, ...]) -> tuple[tuple[str, ...], dict[str, str], dict[str, str], tuple[Score, ...]]:
    """What the report, the HTML, the gate and `compare` read of the registry."""
    return (tuple(s.key for s in scores if s.every_report),     # computed with reference points
            {s.key: s.short for s in scores if s.headline},      # {key: short name}, in order
            {s.key: s.label for s in scores if s.every_report},  # the HTML's score table
            tuple(s for s in scores if s.section))               # learned: computed by their own sections


EVERY_REPORT, HEADLINE, LABELS, LEARNED = views(SCORES)
