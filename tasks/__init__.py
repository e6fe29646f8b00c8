"""The pipeline's steps: ingest, validate, hold out, train, sample, report, publish and track.

Plain typed functions that import no orchestrator (like Kedro's nodes): Prefect wraps them in
`flows/prefect_tasks.py`, and any other orchestrator can call them as they are. They log to the one
stdlib logger `log` (`prefect_synth`), which an orchestrator may forward to its own run log.
"""
import logging

log = logging.getLogger("prefect_synth")
log.setLevel(logging.INFO)  # a step's progress lines are INFO: shown wherever the records are handled
