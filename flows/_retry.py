"""Retry policy shared by the I/O tasks: retry transient I/O failures, never the user's mistakes."""
from __future__ import annotations

from synth.errors import StorageUnavailable, SynthError


def transient_io(task, task_run, state) -> bool:
    """Retry a failed task only when it failed with an OSError that is not a data/config error, or
    with StorageUnavailable (an object store that did not answer)."""
    try:
        state.result()
    except StorageUnavailable:
        return True
    except SynthError:
        return False
    except (OSError, TimeoutError, ConnectionError):
        return True
    except Exception:
        return False
    return False


def unless_user_error(task, task_run, state) -> bool:
    """Retry any failure except a data/config error (e.g. a tracking server that is not there)."""
    try:
        state.result()
    except StorageUnavailable:
        return True
    except SynthError:
        return False
    except Exception:
        return True
    return False
