"""The report rendered for people: a self-contained HTML page with embedded PNG plots, and Markdown
and terminal summaries. Reads the report dict only (the page also plots row samples); no metric
module imports from here.

- page.py: `render_html`, the page, its score and column tables and the distribution plots;
- sections.py: the learned, privacy and training sections; series.py: the time-series section;
- text.py: `summary_markdown`, `summary_text`; base.py: colours, figures, PNG images, `fmt`.
"""
from synth.fidelity.render.base import fmt
from synth.fidelity.render.page import MAX_PLOTTED_ROWS, render_html
from synth.fidelity.render.series import render_series_html
from synth.fidelity.render.text import summary_markdown, summary_text

__all__ = ["MAX_PLOTTED_ROWS", "fmt", "render_html", "render_series_html", "summary_markdown", "summary_text"]
