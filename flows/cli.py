"""The `prefect-synth` command line.

    prefect-synth run CONFIG.yaml [--set key.path=value ...]
"""
from __future__ import annotations

import argparse
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
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except SynthError as e:
        print(f"prefect-synth: error: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.config import load_config

    config = load_config(args.config, args.overrides)  # config errors before Prefect starts
    from flows.refresh import synthetic_refresh

    _quiet_user_errors()
    state = synthetic_refresh(config, return_state=True)
    if state.is_completed():
        outcome = state.result()
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
