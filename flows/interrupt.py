"""Ctrl-C on `prefect-synth run`: stop within seconds, say in one line what was interrupted and what a rerun does.

Two things made an interrupt slow and noisy. A terminal sends SIGINT to its whole foreground process
group, so the temporary Prefect API (a uvicorn subprocess) died with the run, and the run then spent
35-150 s retrying to report its crash and send its logs to an API that was gone, printing tracebacks.
`detach_temporary_server` starts that server in a session of its own: it outlives the interrupt long
enough to take the crash report and the logs, then stops at exit as usual. And `RunProgress`, which
the flow updates as it goes, lets the CLI say where the run was instead of a stack trace.
"""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace

INTERRUPT_EXIT = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C


@dataclass
class RunProgress:
    """Where the current run is: set by the flow, read by the CLI after an interrupt."""

    stage: str = "starting"  # starting, reading, validating, training, sampling, reporting, publishing
    epoch: int = 0  # epochs done (training)
    epochs: int = 0
    checkpoint_every: int = 0
    checkpoint_dir: str | None = None
    units_done: int = 0  # sampling
    units_total: int = 0

    def interrupted_line(self, config_path: str) -> str:
        """The one line printed after Ctrl-C."""
        where = {"training": f"training (epoch {self.epoch} of {self.epochs})",
                 "sampling": f"sampling ({self.units_done:,} of {self.units_total:,} written)"}.get(self.stage,
                                                                                                  self.stage)
        rerun = f"prefect-synth run {config_path}"
        if self.checkpoint_every and self.stage in ("training", "sampling", "reporting", "publishing"):
            saved = self.epochs if self.stage != "training" else self.epoch - self.epoch % self.checkpoint_every
            nxt = (f"`{rerun}` resumes from the checkpoint of epoch {saved} in {self.checkpoint_dir}" if saved else
                   f"no checkpoint was saved yet (every {self.checkpoint_every} epochs): `{rerun}` starts over")
        elif self.stage in ("training", "sampling", "reporting", "publishing"):
            nxt = (f"`{rerun}` trains again from the start (set model.training.checkpoint_every to make runs "
                   "resumable)")
        else:
            nxt = f"`{rerun}` starts it again"
        return f"prefect-synth: interrupted during {where}; nothing was published, the previous output is as it was; {nxt}"


PROGRESS = RunProgress()
_lock = threading.Lock()


def reset_progress(**fields) -> None:
    with _lock:
        PROGRESS.__dict__.update(RunProgress(**fields).__dict__)


def note(**fields) -> None:
    """Record progress (thread-safe: tasks may run in worker threads)."""
    with _lock:
        for key, value in fields.items():
            setattr(PROGRESS, key, value)


def detach_temporary_server() -> None:
    """Start the temporary Prefect API the run will use in a session of its own, so that a Ctrl-C in the
    terminal interrupts the run but not the API the run reports its end to. It still ends with this
    process: stopped at exit as Prefect always does, and (Linux) sent SIGTERM by the kernel if this process
    dies without exiting (SIGKILL). A no-op when runs go to a server (PREFECT_API_URL) or a temporary
    server is already running."""
    import prefect.server.api.server as server
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE

    if PREFECT_API_URL.value() or not PREFECT_SERVER_ALLOW_EPHEMERAL_MODE.value():
        return
    if None in server.SubprocessASGIServer._instances:
        return

    class _SessionServer(server.SubprocessASGIServer):
        def _run_uvicorn_command(self):
            original = server.subprocess
            server.subprocess = SimpleNamespace(Popen=partial(subprocess.Popen, start_new_session=True,
                                                              preexec_fn=_die_with_parent))
            try:
                return super()._run_uvicorn_command()
            finally:
                server.subprocess = original

    # Prefect's own SubprocessASGIServer() returns this instance. Started here, from the main thread, which
    # lives as long as the process: the kernel's parent-death signal follows the thread that forked.
    _SessionServer().start()


def _die_with_parent() -> None:
    """In the forked server, before exec: ask Linux for SIGTERM when the parent goes (a no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _NoInterruptNoise(logging.Filter):
    """Prefect logs an interrupt as a crash, twice, at ERROR; the CLI says it once, in its own words."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "aborted by an interrupt signal" not in record.getMessage()


def quiet_interrupts() -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs", "prefect.flow_engine", "prefect.task_engine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoInterruptNoise) for f in logger.filters):
            logger.addFilter(_NoInterruptNoise())
