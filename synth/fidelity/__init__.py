"""Fidelity and privacy of synthetic data against the real data, with reference points, as JSON and HTML.

Pure numpy/pandas/scipy/torch (matplotlib, loaded lazily, for the HTML plots). The metrics build the
report dict (report.py, and the modules it calls); render/ turns it into HTML and text.
"""
from synth.fidelity.render import render_html, summary_markdown, summary_text
from synth.fidelity.report import REPORT_VERSION, build_report, fidelity_report, write_report

__all__ = ["REPORT_VERSION", "build_report", "fidelity_report", "render_html", "summary_markdown", "summary_text",
           "write_report"]
