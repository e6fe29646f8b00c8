"""Fidelity and privacy of synthetic data against the real data, with reference points, as JSON and HTML.

Pure numpy/pandas/scipy/torch (matplotlib, loaded lazily, for the HTML plots). The metrics build the
report dict (report.py, and the modules it calls); render/ turns it into HTML and text. The public
names below are imported on first use, so that `synth.fidelity.scores` (the score registry) can be
read, or extended, before the modules that read it are loaded.
"""
from __future__ import annotations

import importlib

_PUBLIC = {"REPORT_VERSION": "report", "build_report": "report", "fidelity_report": "report",
           "write_report": "report", "render_html": "render", "summary_markdown": "render",
           "summary_text": "render"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'synth.fidelity' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
