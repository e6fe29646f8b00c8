"""Fidelity and privacy of synthetic data against the real data, with reference points, as JSON and HTML.

Pure numpy/pandas/scipy/torch (matplotlib, loaded lazily, for the HTML plots).
"""
from synth.fidelity.html import render_html
from synth.fidelity.report import (REPORT_VERSION, build_report, fidelity_report, summary_markdown, summary_text,
                                   write_report)

__all__ = ["REPORT_VERSION", "build_report", "fidelity_report", "render_html", "summary_markdown", "summary_text",
           "write_report"]
