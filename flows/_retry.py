"""Retry policy shared by the Prefect tasks: retry transient failures, never the user's mistakes."""
from __future__ import annotations

from synth.errors import StorageUnavailable, SynthError


def transient_io(task, task_run, state) -> bool:
    """Retry a failed I/O task only when it failed with an OSError that is not a data/config error, or
    with StorageUnavailable (an object store that did not answer)."""
    return _retryable(state, (OSError, TimeoutError, ConnectionError))


def unless_user_error(task, task_run, state) -> bool:
    """Retry any failure except a data/config error (e.g. a tracking server that is not there)."""
    return _retryable(state, (Exception,))


def _retryable(state, transient: tuple[type[Exception], ...]) -> bool:
    """StorageUnavailable: always; another data or config error: never; anything else: when `transient`."""
    try:
        state.result()
    except StorageUnavailable:
        return True
    except SynthError:
        return False
    except transient:
        return True
    except Exception:
        return False
    return False
