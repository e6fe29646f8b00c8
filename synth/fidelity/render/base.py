"""What every rendering of the report draws with: the two colours, figures without pyplot, images
inlined as PNG, and the number format the HTML and the text summaries share. (page.py lays the page
out; sections.py and series.py draw the learned, privacy, training and series sections; text.py
writes the Markdown and terminal summaries.)"""
from __future__ import annotations

import base64
import io
from html import escape

import numpy as np

REAL_COLOR, SYNTHETIC_COLOR = "#1f77b4", "#ff7f0e"


def new_figure(width: float, height: float, constrained: bool):
    """A matplotlib Figure drawn by the Agg canvas, without pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=80, layout="constrained" if constrained else None)
    FigureCanvasAgg(figure)
    return figure


def png_img(figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}">'


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def fmt_interval(interval) -> str:
    """[low, high] as "low – high"; a dash where there is none (None, or no low end)."""
    return "—" if not interval or interval[0] is None else f"{fmt(interval[0])} – {fmt(interval[1])}"


def score_color(score: float | None) -> str:
    """Red (0) through yellow to green (1), pale enough for black text; gray when undefined."""
    if score is None:
        return "#eee"
    hue = int(120 * max(0.0, min(1.0, score)))
    return f"hsl({hue}, 70%, 85%)"


def plottable(values: list) -> list[float]:
    """A curve with its undefined points (None) as NaN, which matplotlib leaves as gaps."""
    return [np.nan if v is None else v for v in values]
