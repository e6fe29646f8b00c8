"""The `prefect-synth` command line.

    prefect-synth run CONFIG.yaml [--set key.path=value ...]
    prefect-synth report --real REAL.parquet --synthetic SYN.parquet [--holdout H.parquet]
                         [--config RUN.yaml] [--target COLUMN] --out DIR
    prefect-synth compare DATASET [--last N] [--tracking-uri URI] [--json]
    prefect-synth check CONFIG.yaml [--set key.path=value ...]
    prefect-synth init DATA.parquet [--out CONFIG.yaml]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from synth.errors import SynthError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prefect-synth", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the synthetic-refresh flow on a YAML config")
    run.add_argument("config", help="run configuration (YAML)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set model.epochs=5 (repeatable)")
    run.add_argument("--accept-schema", action="store_true",
                     help="accept the input's current schema: re-infer the stored contract from this input "
                          "(validation.accept_schema=true)")
    check = commands.add_parser("check", help="check a config and its data, print the plan, run nothing")
    check.add_argument("config", help="run configuration (YAML)")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key, as for run")
    init = commands.add_parser("init", help="write a starting config for a Parquet file or directory")
    init.add_argument("data", help="the Parquet file or directory to refresh")
    init.add_argument("--out", help="where to write the config (default: print it)")
    report = commands.add_parser("report", help="write the fidelity and privacy report of any pair of tables")
    report.add_argument("--real", required=True, help="the real data (Parquet file or directory)")
    report.add_argument("--synthetic", required=True, help="the synthetic data, with the real data's columns")
    report.add_argument("--holdout", help="real rows the model never trained on (reference points, privacy)")
    report.add_argument("--config", help="a run configuration: time-series columns, target, gate, max_rows")
    report.add_argument("--target", help="a column to predict for the utility section")
    report.add_argument("--max-rows", type=int, help="rows per side compared (default 50,000 or the config's)")
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--out", required=True, help="folder for report.json and report.html")
    compare = commands.add_parser("compare", help="list a dataset's last MLflow runs: scores, gate, champion")
    compare.add_argument("dataset", help="the dataset's MLflow experiment: the output file's stem, unless the "
                                         "config sets tracking.experiment")
    compare.add_argument("--last", type=_positive_int, default=10, metavar="N", help="runs to list (default 10)")
    compare.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, "
                                                "else sqlite:///mlflow.db in this folder)")
    compare.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = parser.parse_args(argv)
    handlers = {"run": _run, "report": _report, "compare": _compare, "check": _check, "init": _init}
    try:
        return handlers[args.command](args)
    except SynthError as e:
        print(f"prefect-synth: error: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from tasks.config import load_config

    overrides = list(args.overrides) + (["validation.accept_schema=true"] if args.accept_schema else [])
    config = load_config(args.config, overrides)  # config errors before Prefect starts
    from flows.plan import preflight

    try:
        preflight(config)  # the data and paths checked before any server starts
    except SynthError as e:  # the same exit status as when the flow finds it
        print(f"prefect-synth: error: {e}", file=sys.stderr)
        return 1
    from flows import interrupt
    from flows.refresh import synthetic_refresh

    _quiet_user_errors()
    interrupt.quiet_interrupts()
    interrupt.detach_temporary_server()  # a Ctrl-C stops the run, not the API it reports its end to
    interrupt.reset_progress()
    try:
        state = synthetic_refresh(config, return_state=True)
    except KeyboardInterrupt:
        print(interrupt.PROGRESS.interrupted_line(args.config), file=sys.stderr)
        return interrupt.INTERRUPT_EXIT
    if state.is_crashed() and "interrupt" in (state.message or ""):
        print(interrupt.PROGRESS.interrupted_line(args.config), file=sys.stderr)
        return interrupt.INTERRUPT_EXIT
    if state.is_completed():
        outcome = state.result()
        if outcome.get("skipped"):
            print(f"nothing to do: {outcome['output']} was already published from this input and config "
                  f"(MLflow run {outcome['published_by']}); set output.skip_unchanged: false to refresh it")
            return 0
        summary = outcome["summary"]
        print(f"published {outcome['rows']} rows to {outcome['output']} "
              f"(fidelity {summary['overall']:.3f}; MLflow run {outcome['mlflow_run_id']})")
        return 0
    try:
        state.result()
    except SynthError as e:
        print(f"prefect-synth: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug or an environment failure: say what, keep it short
        print(f"prefect-synth: run failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"prefect-synth: run ended in state {state.type.value}", file=sys.stderr)
    return 1


def _report(args) -> int:
    """Report on two (or three) Parquet tables; exit 1 if the config's quality gate fails, 2 on bad input."""
    from tasks.config import load_config
    from tasks.report import report
    from synth.fidelity import summary_text

    config = load_config(args.config) if args.config else None
    series = gate = None
    target, max_rows = args.target, args.max_rows
    if config is not None:
        series, gate = config.series_spec(), config.gate_thresholds()
        target = target or config.report.target
        max_rows = max_rows or config.report.max_rows
    real, synthetic = _read(args.real), _read(args.synthetic)
    holdout = _read(args.holdout) if args.holdout else None
    # the report step itself (as a run makes it): build, gate, render, write
    result = report(real, synthetic, args.out, holdout, max_rows=max_rows or 50_000, target=target, series=series,
                    gate=gate, seed=args.seed)
    print(summary_text(result.report))  # with the gate line when a gate was applied
    if result.gate is None:
        print("gate: not applied (" + ("the config's gate is off)" if config is not None else "no --config)"))
    print(f"wrote {result.json_path} and {result.html_path}")
    if not result.passed:
        print(f"prefect-synth: quality gate failed: {'; '.join(result.gate['failures'])}", file=sys.stderr)
        return 1
    return 0


def _read(path: str):
    """A table to report on (local or s3://, pandas' unnamed index columns dropped, saying so on stderr)."""
    from synth import storage

    with storage.store_errors(path, "input"):
        source = storage.open_source(path)
        table = storage.read_source(source)
    for line in storage.index_notes(source):
        print(line, file=sys.stderr)
    return table


def _compare(args) -> int:
    """Print a dataset's last runs; exit 2 if the store or the dataset's experiment does not exist."""
    from flows.compare import compare, format_comparison
    from tasks.tracking import tracking_uri

    comparison = compare(args.dataset, args.last, args.tracking_uri or tracking_uri())
    print(json.dumps(comparison.as_dict(), indent=1) if args.json else format_comparison(comparison))
    return 0


def _check(args) -> int:
    """Check a config and its data without running anything; print the plan."""
    from tasks.config import load_config
    from flows.plan import format_plan, make_plan

    print(format_plan(make_plan(load_config(args.config, args.overrides))))
    return 0


def _init(args) -> int:
    """Write (or print) a starting config for a Parquet dataset, every key commented."""
    from flows.plan import starting_config

    text = starting_config(args.data)
    if args.out is None:
        print(text, end="")
        return 0
    from synth import storage

    storage.write_bytes(args.out, text.encode())
    print(f"wrote {args.out}; check it with: prefect-synth check {args.out}")
    return 0


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


class _NoTracebackForUserErrors(logging.Filter):
    """A data or config error is the user's to fix: log its message, not a stack trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] and issubclass(record.exc_info[0], SynthError):
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_user_errors() -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs", "prefect.flow_engine", "prefect.task_engine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTracebackForUserErrors) for f in logger.filters):
            logger.addFilter(_NoTracebackForUserErrors())


if __name__ == "__main__":
    sys.exit(main())
