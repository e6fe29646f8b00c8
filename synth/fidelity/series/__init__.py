"""The time-series section of the fidelity report (report.py: `series_report` and the keys of its dict;
sections.py: the scores; profile.py: reading and profiling each side's sequences)."""
from synth.fidelity.series.profile import SeriesSpec
from synth.fidelity.series.report import QuickSeriesScore, series_report

__all__ = ["QuickSeriesScore", "SeriesSpec", "series_report"]
