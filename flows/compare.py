"""`prefect-synth compare DATASET`: a dataset's last refreshes side by side, read back from MLflow.

Each dataset has one experiment (and one registered model) named like it, so the runs to compare
are that experiment's newest; the scores are the `report.*` metrics the flow logs, the gate outcome
and registered version its tags, and the champion is the run behind the `champion` alias.

Each run's outcome says how it ended: `published`, `skipped` (same input and config as the
published output: nothing to do), or what stopped it: `invalid-input`, `validation` (the data broke
its schema contract), `gate` (the quality gate failed), `interrupted`, `error` (a bug or an
environment failure). The table shows it in words (`gate failed`, `validation failed`, ...) with the
failure's message shortened; `--json` has both in full (`outcome`, `failure`). Runs logged before
the `synth.outcome` tag existed are read from their older tags and status: `synth.skipped` is
`skipped`, a failed quality gate `gate`, another FINISHED run `published`, a KILLED one
`interrupted`, any other FAILED run `failed`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from synth.errors import ConfigError
from synth.fidelity.scores import HEADLINE
from tasks.tracking import CHAMPION, OUTCOMES

# Report summary scores shown (logged as `report.<key>`) and their column titles; a score that no
# listed run has is left out of the table.
SCORES = {**HEADLINE, "privacy.dcr_holdout_share": "holdout share"}
# Runs logged before report version 3 have the complement of `dcr_holdout_share` under this name.
OLD_CLOSER_TO_TRAIN = "report.privacy.dcr_share_closer_to_train"
MISSING = "-"
# How the table shows each outcome (the JSON has the keys); `failed`, `running`: runs without an outcome tag.
OUTCOME_TEXT = {"published": "published", "skipped": "skipped", "invalid-input": "invalid input",
                "validation": "validation failed", "gate": "gate failed", "interrupted": "interrupted",
                "error": "error", "failed": "failed", "running": "running"}
FAILURE_WIDTH = 70  # characters of a failure message the table shows; the JSON has all of it


@dataclass(frozen=True)
class RunRow:
    """One run as the comparison shows it; None where the run never got that far."""

    run_id: str
    run_name: str
    started: str  # UTC, "2026-11-23 02:15:07"
    status: str  # RUNNING, FINISHED, FAILED or KILLED
    outcome: str  # a key of OUTCOME_TEXT: how the run ended (published, skipped, gate, ...)
    failure: str | None  # the error that ended a failed run, one line; None if it did not fail
    model_kind: str | None
    epochs: int | None
    data_hash: str | None
    config_hash: str | None
    scores: dict[str, float]  # the SCORES the run logged, by report summary key (privacy ones as privacy.<key>)
    gate: str | None  # passed / failed; None if the run ended before the gate
    version: int | None  # the registered-model version a passing run became
    champion: bool  # the `champion` alias points at this run's version


@dataclass(frozen=True)
class Comparison:
    dataset: str
    runs: list[RunRow]  # newest first
    champion_version: int | None

    def as_dict(self) -> dict:
        return asdict(self)


def compare(dataset: str, last: int, uri: str) -> Comparison:
    """The `last` newest runs of `dataset`'s experiment in the tracking store at `uri`.

    Raises:
        ConfigError: no store at a sqlite `uri`, or no experiment named `dataset` (the message lists
            the experiments there are).
    """
    _check_store(uri)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(dataset)
    if experiment is None or experiment.lifecycle_stage != "active":
        names = sorted(e.name for e in client.search_experiments())
        raise ConfigError(f"no MLflow experiment named {dataset!r} in {uri} "
                          f"(experiments: {', '.join(names) or 'none'})")
    runs = client.search_runs([experiment.experiment_id], max_results=last,
                              order_by=["attributes.start_time DESC"])
    champion = _champion(client, dataset)
    champion_run = champion.run_id if champion else None
    return Comparison(dataset, [_row(run, run.info.run_id == champion_run) for run in runs],
                      int(champion.version) if champion else None)


def format_comparison(comparison: Comparison) -> str:
    """A fixed-width table, newest run first, '*' marking the champion; a footer names the champion."""
    if not comparison.runs:
        return f"no runs yet in experiment {comparison.dataset}"
    scores = [key for key in SCORES if any(key in row.scores for row in comparison.runs)]
    columns = [  # (title, right-aligned, value of a row)
        ("  run", False, lambda r: ("* " if r.champion else "  ") + r.run_name),
        ("started (UTC)", False, lambda r: r.started),
        ("outcome", False, lambda r: OUTCOME_TEXT.get(r.outcome, r.outcome)),
        ("kind", False, lambda r: r.model_kind),
        ("epochs", True, lambda r: r.epochs),
        ("data", False, lambda r: r.data_hash),
        ("config", False, lambda r: r.config_hash),
        *[(SCORES[key], True, lambda r, k=key: _score(r.scores.get(k))) for key in scores],
        ("gate", False, lambda r: r.gate),
        ("version", True, lambda r: r.version),
    ]
    if any(row.failure for row in comparison.runs):
        columns.append(("failure", False, lambda r: _shorten(r.failure) or ""))
    cells = [[title for title, _, _ in columns]]
    cells += [[MISSING if (v := value(row)) is None else str(v) for _, _, value in columns]
              for row in comparison.runs]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(text.rjust(width) if right else text.ljust(width)
                       for text, width, (_, right, _) in zip(line, widths, columns)).rstrip()
             for line in cells]
    if comparison.champion_version is None:
        lines.append("no champion yet: no run has passed the quality gate")
    else:
        lines.append(f"* champion: models:/{comparison.dataset}@{CHAMPION} (version {comparison.champion_version})")
    return "\n".join(lines)


def _row(run: Run, champion: bool) -> RunRow:
    tags, metrics, params = run.data.tags, run.data.metrics, run.data.params
    started = datetime.fromtimestamp(run.info.start_time / 1000, timezone.utc)
    version = tags.get("synth.registered_version")  # "<registered model>/<version>"
    epochs = params.get("model.epochs")
    return RunRow(
        run_id=run.info.run_id, run_name=run.info.run_name, started=f"{started:%Y-%m-%d %H:%M:%S}",
        status=run.info.status, outcome=_outcome(run), failure=tags.get("synth.failure"),
        model_kind=tags.get("synth.model_kind"),
        epochs=int(epochs) if epochs is not None else None, data_hash=tags.get("synth.data_hash"),
        config_hash=tags.get("synth.config_hash"),
        scores=_scores(metrics),
        gate=tags.get("synth.quality_gate"), version=int(version.rpartition("/")[2]) if version else None,
        champion=champion)


def _scores(metrics: dict[str, float]) -> dict[str, float]:
    scores = {key: metrics[f"report.{key}"] for key in SCORES if f"report.{key}" in metrics}
    if OLD_CLOSER_TO_TRAIN in metrics and "privacy.dcr_holdout_share" not in scores:
        scores["privacy.dcr_holdout_share"] = 1.0 - metrics[OLD_CLOSER_TO_TRAIN]
    return scores


def _outcome(run: Run) -> str:
    """The run's `synth.outcome` tag, else what its older tags and status say."""
    tags, status = run.data.tags, run.info.status
    if tags.get("synth.outcome") in OUTCOMES:
        return tags["synth.outcome"]
    if tags.get("synth.skipped"):
        return "skipped"
    if tags.get("synth.quality_gate") == "failed":
        return "gate"
    return {"FINISHED": "published", "RUNNING": "running", "KILLED": "interrupted"}.get(status, "failed")


def _champion(client: MlflowClient, name: str) -> ModelVersion | None:
    """The model version the `champion` alias points at, or None before any run passed the gate."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:  # no such registered model, or no such alias
        return None


def _check_store(uri: str) -> None:
    """Refuse a sqlite store that does not exist: MLflow would create an empty one and find nothing."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///").partition("?")[0])
        if not path.is_file():
            raise ConfigError(f"no MLflow store at {path} (tracking URI {uri}); "
                              "pass --tracking-uri or set MLFLOW_TRACKING_URI")


def _shorten(text: str | None) -> str | None:
    if text is None or len(text) <= FAILURE_WIDTH:
        return text
    return text[:FAILURE_WIDTH - 1].rstrip() + "…"


def _score(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"
