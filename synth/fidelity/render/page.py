"""A self-contained HTML page for a fidelity report: scores, a per-column table and embedded PNG plots.

The page carries no external CSS or JavaScript. Data reaches it only as plots: the text holds
column names, scores and notes, never a value from a row.
"""
from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from synth.fidelity.encode import NUMERIC_KINDS
from synth.fidelity.metrics import numeric_values
from synth.fidelity.render.base import (REAL_COLOR, SYNTHETIC_COLOR, fmt, fmt_interval, new_figure, png_img,
                                        score_color)
from synth.fidelity.render.sections import learned_html, privacy_html, training_html
from synth.fidelity.render.series import render_series_html
from synth.fidelity.scores import LABELS
from synth.schema import ColumnKind, ColumnSpec

MAX_PLOTTED_COLUMNS = 24  # one histogram or bar chart each; beyond that the page gets heavy
MAX_HEATMAP_COLUMNS = 40  # tick labels stop being readable past this
MAX_LISTED_NOTES = 30  # skipped pairs listed on the page; report.json has them all
MAX_BARS = 15  # most frequent categories shown per discrete column
MAX_PLOTTED_ROWS = 50_000  # rows per side behind the distribution plots
HISTOGRAM_BINS = 30
MICROSECONDS_PER_DAY = 86_400e6

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.scores { display: flex; gap: 1.5em; }
.score { border: 1px solid #ccc; border-radius: 6px; padding: 0.6em 1.2em; text-align: center; }
.score .value { font-size: 2em; font-weight: bold; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 0.5em; }
.note { color: #666; }
"""


def render_html(report: dict, real: pd.DataFrame, synthetic: pd.DataFrame, specs: list[ColumnSpec]) -> str:
    """Render `report` (from `build_report`) as one self-contained HTML page.

    `real` and `synthetic` feed the distribution plots only (seeded subsamples of at most
    MAX_PLOTTED_ROWS rows); every number on the page comes from the report.
    """
    rng = np.random.default_rng(report["settings"]["seed"])
    names = [s.name for s in specs]
    real_rows, synthetic_rows = (_subsample(frame[names], rng) for frame in (real, synthetic))
    sections = [
        "<h1>Synthetic data fidelity and privacy report</h1>",
        _gate_section(report),
        _scores_section(report),
        _notes_section(report),
        _preparation_section(report),
        _training_section(report),
        _columns_section(report),
        _distributions_section(real_rows, synthetic_rows, specs),
        _correlations_section(report, specs),
        _learned_sections(report),
        _privacy_section(report),
        _series_section(report),
    ]
    body = "\n".join(part for part in sections if part)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>Fidelity report</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _subsample(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= MAX_PLOTTED_ROWS:
        return frame.reset_index(drop=True)
    return frame.iloc[np.sort(rng.choice(len(frame), MAX_PLOTTED_ROWS, replace=False))].reset_index(drop=True)


SCORE_LABELS = LABELS  # synth.fidelity.scores


def _scores_section(report: dict) -> str:
    counts = report["counts"]
    rows = []
    for key, label in SCORE_LABELS.items():
        s = report["scores"][key]
        interval = fmt_interval((s["ci_low"], s["ci_high"]))
        rows.append(f"<tr><td>{label}</td><td class=\"num\" style=\"background:{score_color(s['synthetic'])}\">"
                    f"<b>{fmt(s['synthetic'])}</b></td><td class=\"num\">{interval}</td>"
                    f"<td class=\"num\">{fmt(s['holdout'])}</td><td class=\"num\">{fmt(s['independent'])}</td></tr>")
    return (
        "<h2>Scores and their reference points</h2>\n<table>\n<tr><th>score</th><th>synthetic</th>"
        "<th>90 % bootstrap interval</th><th>holdout (real vs real: the best achievable)</th>"
        "<th>independent columns (marginals only)</th></tr>\n" + "\n".join(rows) + "\n</table>\n"
        f"<p>Compared {counts['rows_real']} of {counts.get('rows_real_total', counts['rows_real'])} real (training) "
        f"rows, {counts['rows_synthetic']} of {counts.get('rows_synthetic_total', counts['rows_synthetic'])} "
        f"synthetic rows and {counts['rows_holdout']} holdout rows; {counts['columns']} columns, "
        f"{counts['pairs_compared']} column pairs ({counts['pairs_skipped']} skipped). Scores run from 0 to 1. "
        "A synthetic score near the holdout's means the model is as close as fresh real data; near the "
        "independent-columns baseline means it learned the marginals and little else.</p>"
    )


def _gate_section(report: dict) -> str:
    gate = report.get("gate")
    if not gate:
        return ""
    rows = "".join(f"<tr><td>{escape(c['name'])}</td><td class=\"num\">{fmt(c['value'])}</td>"
                   f"<td>{c['bound']} {c['threshold']:g}</td><td>{c['status']}</td></tr>" for c in gate["checks"])
    verdict = "PASSED: published" if gate["passed"] else "FAILED: not published"
    return (f"<h2>Quality gate: {verdict}</h2>\n<table><tr><th>check</th><th>value</th><th>threshold</th>"
            f"<th>status</th></tr>{rows}</table>")


def _notes_section(report: dict) -> str:
    notes = list(report.get("notes", []))
    if not notes:
        return ""
    return "<ul class=\"note\">" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def _preparation_section(report: dict) -> str:
    """What cleaning did to the input before training (time series), when the report carries it."""
    prep = report.get("preparation")
    if not prep:
        return ""
    rows = [("sequences in the input", prep["examples_in"]), ("sequences used for training", prep["examples_used"]),
            ("sequences cut into windows", prep["split_examples"]),
            ("missing feature values interpolated", prep["interpolated_values"]),
            ("sequences dropped for long gaps", prep["dropped_examples"])]
    cells = "".join(f"<tr><td>{label}</td><td>{value}</td></tr>" for label, value in rows)
    dropped = (f"<p>Dropped, for example: {escape(', '.join(prep['dropped_ids']))}</p>"
               if prep.get("dropped_ids") else "")
    return f"<h2>Input preparation</h2>\n<table>{cells}</table>{dropped}"


def _columns_section(report: dict) -> str:
    header = ("<tr><th>column</th><th>kind</th><th>metric</th><th>similarity</th><th>missing (real)</th>"
              "<th>missing (synthetic)</th><th>score</th><th>holdout</th><th>independent</th></tr>")
    rows = "\n".join(
        f"<tr><td>{escape(c['name'])}</td><td>{c['kind']}</td><td>{c['metric']}</td>"
        f"<td class=\"num\">{fmt(c['similarity'])}</td><td class=\"num\">{fmt(c['missing_rate_real'])}</td>"
        f"<td class=\"num\">{fmt(c['missing_rate_synthetic'])}</td>"
        f"<td class=\"num\" style=\"background:{score_color(c['score'])}\">{fmt(c['score'])}</td>"
        f"<td class=\"num\">{fmt(c['score_holdout'])}</td><td class=\"num\">{fmt(c['score_independent'])}</td></tr>"
        for c in report["columns"]
    )
    return f"<h2>Column shapes</h2>\n<table>\n{header}\n{rows}\n</table>"


def _distributions_section(real: pd.DataFrame, synthetic: pd.DataFrame, specs: list[ColumnSpec]) -> str:
    shown = specs[:MAX_PLOTTED_COLUMNS]
    images = "\n".join(_distribution_image(real[s.name], synthetic[s.name], s) for s in shown)
    note = (f'<p class="note">Showing the first {len(shown)} of {len(specs)} columns.</p>'
            if len(shown) < len(specs) else "")
    return f"<h2>Distributions</h2>\n{note}\n<div class=\"plots\">\n{images}\n</div>"


def _distribution_image(real: pd.Series, synthetic: pd.Series, spec: ColumnSpec) -> str:
    figure = new_figure(4.2, 2.8, constrained=False)
    figure.subplots_adjust(left=0.16, right=0.97, top=0.9, bottom=0.27)  # fixed: a layout engine doubles the cost
    axes = figure.add_subplot()
    if spec.kind in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME):
        _plot_histograms(axes, real, synthetic, spec)
    else:
        _plot_bars(axes, real, synthetic)
    axes.set_title(spec.name, fontsize=10)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7)
    axes.tick_params(labelsize=7)
    return png_img(figure, f"distribution of {spec.name}")


def _plot_histograms(axes, real: pd.Series, synthetic: pd.Series, spec: ColumnSpec) -> None:
    sides = [(label, numeric_values(series, spec.kind), color)
             for label, series, color in (("real", real, REAL_COLOR), ("synthetic", synthetic, SYNTHETIC_COLOR))]
    sides = [(label, values[~np.isnan(values)], color) for label, values, color in sides]
    if spec.kind is ColumnKind.DATETIME:  # matplotlib date numbers are days since the epoch
        sides = [(label, values / MICROSECONDS_PER_DAY, color) for label, values, color in sides]
        axes.xaxis_date()
        axes.tick_params(axis="x", labelrotation=30)
    observed = np.concatenate([values for _, values, _ in sides])
    if len(observed) == 0:
        axes.text(0.5, 0.5, "no values", ha="center", va="center", transform=axes.transAxes)
        return
    edges = np.histogram_bin_edges(observed, bins=HISTOGRAM_BINS)
    for label, values, color in sides:
        if len(values):
            axes.hist(values, bins=edges, density=True, histtype="stepfilled", alpha=0.5, color=color, label=label)


def _plot_bars(axes, real: pd.Series, synthetic: pd.Series) -> None:
    frequencies = pd.concat(
        [real.dropna().astype(str).value_counts(normalize=True).rename("real"),
         synthetic.dropna().astype(str).value_counts(normalize=True).rename("synthetic")],
        axis=1, sort=False,
    ).fillna(0.0)  # (categories, 2)
    if frequencies.empty:
        axes.text(0.5, 0.5, "no values", ha="center", va="center", transform=axes.transAxes)
        return
    top = frequencies.loc[frequencies.sum(axis=1).sort_values(ascending=False).index[:MAX_BARS]]
    positions = np.arange(len(top))
    axes.bar(positions - 0.2, top["real"], width=0.4, color=REAL_COLOR, label="real")
    axes.bar(positions + 0.2, top["synthetic"], width=0.4, color=SYNTHETIC_COLOR, label="synthetic")
    axes.set_xticks(positions, [label[:16] for label in top.index], rotation=45, ha="right")
    axes.set_ylabel("frequency", fontsize=7)


def _correlations_section(report: dict, specs: list[ColumnSpec]) -> str:
    names = [s.name for s in specs if s.kind in NUMERIC_KINDS][:MAX_HEATMAP_COLUMNS]
    if len(names) < 2:
        return ("<h2>Column pair trends</h2>\n<p class=\"note\">Fewer than two numeric columns: no correlation "
                f"heatmaps.</p>\n{_weakest_pairs(report)}")
    import matplotlib

    matrices = _pearson_matrices([p for p in report["pairs"] if p["metric"] == "correlation"], names)
    size = max(3.0, 0.18 * len(names) + 1.5)  # inches per panel: room for 7-point tick labels
    figure = new_figure(3 * size, size, constrained=True)
    panels = (("real", "RdBu_r", -1.0, 1.0), ("synthetic", "RdBu_r", -1.0, 1.0),
              ("|difference|", "Reds", 0.0, 1.0))  # differences above 1 (sign flips) saturate
    for index, ((title, cmap, low, high), matrix) in enumerate(zip(panels, matrices), start=1):
        axes = figure.add_subplot(1, 3, index)
        colors = matplotlib.colormaps[cmap].with_extremes(bad="lightgray")  # gray: undefined, e.g. constant
        image = axes.imshow(np.ma.masked_invalid(matrix), cmap=colors, vmin=low, vmax=high)
        axes.set_title(f"Pearson, {title}", fontsize=10)
        labels = [name[:16] for name in names]
        axes.set_xticks(range(len(names)), labels, rotation=90, fontsize=7)
        axes.set_yticks(range(len(names)), labels, fontsize=7)
        figure.colorbar(image, ax=axes, shrink=0.8)
    note = (f'<p class="note">Showing the first {len(names)} numeric columns.</p>'
            if len(names) == MAX_HEATMAP_COLUMNS else "")
    return (f"<h2>Column pair trends</h2>\n{note}\n{png_img(figure, 'correlation heatmaps')}\n{_weakest_pairs(report)}\n"
            f"{_skipped_pairs(report)}")


def _pearson_matrices(correlations: list[dict], names: list[str]) -> list[np.ndarray]:
    """Real, synthetic and |difference| Pearson matrices (NaN where undefined) from the report's pairs."""
    index = {name: i for i, name in enumerate(names)}
    real, synthetic, difference = (np.full((len(names), len(names)), np.nan) for _ in range(3))
    np.fill_diagonal(real, 1.0)
    np.fill_diagonal(synthetic, 1.0)
    np.fill_diagonal(difference, 0.0)
    for pair in correlations:
        a, b = pair["columns"]
        if a not in index or b not in index:
            continue
        gap = None if pair["real"] is None or pair["synthetic"] is None else abs(pair["real"] - pair["synthetic"])
        for matrix, value in ((real, pair["real"]), (synthetic, pair["synthetic"]), (difference, gap)):
            value = np.nan if value is None else value
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = value
    return [real, synthetic, difference]


def _skipped_pairs(report: dict) -> str:
    notes = [(p["columns"], p["note"]) for p in report["pairs"] if p["note"]]
    if not notes:
        return ""
    items = "\n".join(f"<li>{escape(a)} × {escape(b)}: {escape(note)}</li>"
                      for (a, b), note in notes[:MAX_LISTED_NOTES])
    if len(notes) > MAX_LISTED_NOTES:
        items += f"\n<li>... and {len(notes) - MAX_LISTED_NOTES} more (see report.json)</li>"
    return f"<h3>Skipped pairs</h3>\n<ul class=\"note\">\n{items}\n</ul>"


def _weakest_pairs(report: dict, count: int = 15) -> str:
    scored = sorted((p for p in report["pairs"] if p["score"] is not None), key=lambda p: p["score"])[:count]
    if not scored:
        return ""
    rows = "".join(f"<tr><td>{escape(p['columns'][0])} × {escape(p['columns'][1])}</td><td>{p['metric']}</td>"
                   f"<td class=\"num\" style=\"background:{score_color(p['score'])}\">{fmt(p['score'])}</td>"
                   f"<td class=\"num\">{fmt(p['score_holdout'])}</td><td class=\"num\">{fmt(p['score_independent'])}"
                   "</td></tr>" for p in scored)
    return ("<h3>Weakest pairs</h3><table><tr><th>pair</th><th>metric</th><th>score</th><th>holdout</th>"
            f"<th>independent</th></tr>{rows}</table>")


def _learned_sections(report: dict) -> str:
    return learned_html(report)


def _privacy_section(report: dict) -> str:
    return privacy_html(report)


def _training_section(report: dict) -> str:
    return training_html(report)


def _series_section(report: dict) -> str:
    return render_series_html(report["series"]) if report.get("series") else ""
