"""HTML for the report's time-series section: a `series_report` dict as a score table and PNG plots."""
from __future__ import annotations

from html import escape

import numpy as np

from synth.fidelity.render.base import (REAL_COLOR, SYNTHETIC_COLOR, fmt, new_figure, plottable, png_img,
                                        score_color)
from synth.fidelity.series.sections import SIDES  # the score table's columns: what each entry compares with real

COLORS = {"real": REAL_COLOR, "synthetic": SYNTHETIC_COLOR, "holdout": "#2ca02c", "shuffled": "#7f7f7f"}
AUC_ROW, ACF_ERROR_ROW = "discriminative AUC (0.5 is best)", "ACF error (mean |gap| to real, lower is better)"
UNCOLORED = (AUC_ROW, ACF_ERROR_ROW)  # rows that are not scores (1 = like real): no score colours


def render_series_html(section: dict) -> str:
    """Render a `series_report` dict as an HTML fragment: a score table and embedded PNG plots.

    Args:
        section: the dict `series_report` returned.

    Returns:
        An HTML fragment (no <html> or <body>): an h2, every score beside its holdout and shuffled reference
        points, the notes, one ACF plot per continuous feature and the sequence-length histograms.
    """
    images = [_acf_image(section["acf"]["lags"], name, v["curves"]) for name, v in section["acf"]["features"].items()]
    images.append(_length_image(section["lengths"]["histogram"]))
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in section["notes"])
    plots = "\n".join(images)
    return f"<h2>Time series</h2>\n{_score_table(section)}\n{notes}\n<div class=\"plots\">\n{plots}\n</div>"


def _score_table(section: dict) -> str:
    rows = []
    for label, entry in _score_rows(section):
        cells = "".join(f'<td class="num">{fmt(entry[s])}</td>' if entry[s] is None or label in UNCOLORED else
                        f'<td class="num" style="background:{score_color(entry[s])}">{fmt(entry[s])}</td>'
                        for s in SIDES)
        rows.append(f"<tr><td>{escape(label)}</td>{cells}</tr>")
    header = "<tr><th>score</th><th>synthetic</th><th>holdout (best)</th><th>shuffled (baseline)</th></tr>"
    return f"<table>\n{header}\n" + "\n".join(rows) + "\n</table>"


def _score_rows(section: dict):
    yield from ((f"summary: {name}", entry) for name, entry in section["summary"].items())
    yield AUC_ROW, section["discriminative"]["auc"]
    yield ACF_ERROR_ROW, section["acf"]["error"]
    yield from ((f"ACF {name}", v["score"]) for name, v in section["acf"]["features"].items())
    for name, entries in section["per_sequence"]["features"].items():
        yield from ((f"{name}: per-sequence {stat}", e) for stat, e in entries.items())
    yield from ((f"attribute {name}", m["score"]) for name, m in section["attributes"]["marginals"].items())
    yield from ((f"{p['attribute']} -> {p['feature']}", p["score"]) for p in section["dependence"]["pairs"])
    for name, entries in section["discrete_features"]["features"].items():
        yield from ((f"{name}: {kind}", e) for kind, e in entries.items())


def _small_axes():
    figure = new_figure(4.2, 2.8, constrained=False)
    figure.subplots_adjust(left=0.14, right=0.97, top=0.9, bottom=0.16)  # fixed: a layout engine doubles the cost
    return figure, figure.add_subplot()


def _acf_image(lags: list[int], name: str, curves: dict) -> str:
    figure, axes = _small_axes()
    for side, curve in curves.items():
        if curve is not None:
            axes.plot(lags, plottable(curve), color=COLORS[side], label=side, lw=1.2)
    return _finish(figure, axes, f"autocorrelation of {name}", "lag")


def _length_image(histogram: dict) -> str:
    figure, axes = _small_axes()
    for side in ("real", "synthetic", "holdout"):
        if histogram[side] is not None:
            counts = np.asarray(histogram[side], dtype=float)
            axes.stairs(counts / counts.sum(), histogram["edges"], color=COLORS[side], label=side)
    return _finish(figure, axes, "sequence lengths", "steps")


def _finish(figure, axes, title: str, xlabel: str) -> str:
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel, fontsize=7)
    axes.legend(fontsize=7)
    axes.tick_params(labelsize=7)
    return png_img(figure, title)
