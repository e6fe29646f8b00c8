"""Fidelity of synthetic data: per-column and pairwise similarity to the real data, as JSON and HTML.

Pure numpy/pandas/scipy (matplotlib, loaded lazily, for the HTML plots).
"""
from synth.fidelity.html import render_html
from synth.fidelity.report import REPORT_VERSION, fidelity_report, summary_markdown, write_report

__all__ = ["REPORT_VERSION", "fidelity_report", "render_html", "summary_markdown", "write_report"]
