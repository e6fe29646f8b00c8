"""HTML for the report's learned, privacy and training sections (page.py lays out the page)."""
from __future__ import annotations

from html import escape

import numpy as np

from synth.fidelity.render.base import (REAL_COLOR, SYNTHETIC_COLOR, fmt, fmt_interval, new_figure, plottable,
                                        png_img, score_color)

SIDES = (("synthetic", "synthetic"), ("holdout", "holdout"), ("independent", "independent columns"))


def learned_html(report: dict) -> str:
    parts = [_detection_html(report.get("detection") or {}), _structure_html(report.get("structure") or {})]
    if report.get("utility"):
        parts.append(_utility_html(report["utility"]))
    return "\n".join(p for p in parts if p)


def _detection_html(detection: dict) -> str:
    if not detection.get("synthetic"):
        return ""
    rows = "".join(f"<tr><td>{label}</td><td class=\"num\">{fmt(detection[side]['auc'])}</td>"
                   f"<td class=\"num\" style=\"background:{score_color(detection[side]['score'])}\">"
                   f"{fmt(detection[side]['score'])}</td></tr>" for side, label in SIDES if detection.get(side))
    give = detection["synthetic"].get("giveaways") or []
    gives = "".join(f"<tr><td>{escape(g['column'])}</td><td class=\"num\">{fmt(g['auc_drop'])}</td></tr>"
                    for g in give)
    giveaways = (f"<h3>What gives the synthetic data away</h3><p class=\"note\">The classifier's test AUC lost when "
                 f"a column is shuffled.</p><table><tr><th>column</th><th>AUC drop</th></tr>{gives}</table>"
                 if gives else "")
    return ("<h2>Detection</h2>\n<p>A classifier is trained to tell each side from the real data and tested on "
            "rows it did not see. AUC 0.5: indistinguishable.</p>\n<table><tr><th>compared with real</th>"
            f"<th>AUC</th><th>score</th></tr>{rows}</table>{giveaways}")


def _structure_html(structure: dict) -> str:
    s = structure.get("synthetic")
    if not s:
        return ""
    figure = new_figure(8.0, 3.4, constrained=True)
    hist = s["histogram"]
    (x0, x1), (y0, y1) = (hist["edges"][0][0], hist["edges"][0][-1]), (hist["edges"][1][0], hist["edges"][1][-1])
    high = max(np.max(hist["real"]), np.max(hist["other"])) or 1.0
    for k, (title, grid) in enumerate((("real", hist["real"]), ("synthetic", hist["other"])), start=1):
        axes = figure.add_subplot(1, 2, k)
        axes.imshow(np.asarray(grid).T, origin="lower", extent=(x0, x1, y0, y1), aspect="auto", cmap="viridis",
                    vmin=0, vmax=high)
        axes.set_title(f"{title}: first two principal components", fontsize=9)
        axes.tick_params(labelsize=7)
    rows = "".join(f"<tr><td>{label}</td><td class=\"num\">{fmt(structure[side]['score'])}</td></tr>"
                   for side, label in SIDES if structure.get(side))
    return ("<h2>Structure</h2>\n<p>Both sides projected on the real data's first two principal axes.</p>\n"
            f"{png_img(figure, 'PCA density of real and synthetic')}\n<table><tr><th>compared with real</th>"
            f"<th>score</th></tr>{rows}</table>")


def _utility_html(utility: dict) -> str:
    baseline = utility.get("majority_baseline", utility.get("mean_baseline"))
    return (f"<h2>Utility: predicting '{escape(utility['target'])}'</h2>\n<table><tr><th>trained on</th>"
            f"<th>{utility['metric']} on real test rows (90 % interval)</th></tr>"
            f"<tr><td>synthetic</td><td class=\"num\">{fmt(utility['synthetic'])} "
            f"({fmt_interval(utility.get('synthetic_ci'))})</td></tr>"
            f"<tr><td>real</td><td class=\"num\">{fmt(utility['real'])} "
            f"({fmt_interval(utility.get('real_ci'))})</td></tr>"
            f"<tr><td>trivial predictor</td><td class=\"num\">{fmt(baseline)}</td></tr></table>"
            f"<p>Synthetic / real: {fmt(utility.get('ratio'))}.</p>")


def privacy_html(report: dict) -> str:
    privacy = report.get("privacy")
    if not privacy:
        return ""
    summary = report["summary"].get("privacy") or {}
    lines = [("exact copies of training rows (share of synthetic rows)", summary.get("exact_copy_rate"),
              privacy["exact_copies"].get("synthetic_in_train_ci"), privacy["exact_copies"].get("holdout_in_train")),
             ("holdout share: synthetic rows no closer to training than to holdout rows (ideal 0.5, low: "
              "memorising)", summary.get("dcr_holdout_share"), privacy["holdout_share"].get("ci"), 0.5),
             ("membership-inference AUC (0.5: no leakage)", summary.get("membership_auc"),
              privacy["membership_inference"].get("auc_ci"), 0.5)]
    rows = "".join(f"<tr><td>{label}</td><td class=\"num\">{fmt(value)}</td>"
                   f"<td class=\"num\">{fmt_interval(ci)}</td><td class=\"num\">{fmt(reference)}</td></tr>"
                   for label, value, ci, reference in lines)
    rows = "<tr><th>measure</th><th>synthetic</th><th>90 % interval</th><th>reference (holdout / ideal)</th></tr>" + rows
    details = "".join(f"<tr><td>{escape(key)}</td><td class=\"num\">{fmt(value)}</td></tr>"
                      for key, value in _flat(privacy) if isinstance(value, float))
    notes = "".join(f"<li>{escape(n)}</li>" for n in privacy.get("notes", []))
    return (f"<h2>Privacy</h2>\n<table>{rows}</table>\n<details><summary>all privacy numbers</summary>"
            f"<table>{details}</table></details>" + (f"<ul class=\"note\">{notes}</ul>" if notes else ""))


def training_html(report: dict) -> str:
    training = report.get("training")
    if not training or not training["curves"]["epoch"]:
        return ""
    curves, validation = training["curves"], training.get("validation")
    panels = 3 if validation else 2
    figure = new_figure(4.0 * panels, 3.0, constrained=True)
    left, right = figure.add_subplot(1, panels, 1), figure.add_subplot(1, panels, 2)
    epochs = curves["epoch"]
    left.plot(epochs, plottable(curves["wasserstein"]), color=REAL_COLOR, label="Wasserstein estimate")
    left.plot(epochs, plottable(curves["gradient_penalty"]), color="gray", label="gradient penalty")
    right.plot(epochs, plottable(curves["critic_loss"]), color=REAL_COLOR, label="critic loss")
    right.plot(epochs, plottable(curves["generator_loss"]), color=SYNTHETIC_COLOR, label="generator loss")
    axes_all, selected = [left, right], ""
    if validation:
        scores = figure.add_subplot(1, panels, 3)
        scores.plot(validation["epoch"], plottable(validation["score"]), color=SYNTHETIC_COLOR, marker=".",
                    label="validation score")
        scores.axvline(validation["selected_epoch"], color="gray", linestyle="--", label="epoch kept")
        axes_all.append(scores)
        selected = (f"<p>Model selection kept epoch {validation['selected_epoch']} (validation score "
                    f"{fmt(validation['selected_score'])}, the best of {validation['evaluations']} "
                    "evaluations).</p>\n")
    for axes in axes_all:
        axes.set_xlabel("epoch", fontsize=8)
        axes.legend(fontsize=7)
        axes.tick_params(labelsize=7)
    diagnoses = training["diagnoses"]
    verdict = ("<ul>" + "".join(f"<li><b>{escape(d['code'])}</b>: {escape(d['message'])}</li>" for d in diagnoses)
               + "</ul>") if diagnoses else "<p>No known failure pattern in the curves or the data.</p>"
    return f"<h2>Training health</h2>\n{png_img(figure, 'training curves')}\n{selected}{verdict}"


def _flat(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
