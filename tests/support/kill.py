"""A training run that dies mid-fit, simulated: an epoch callback that raises before that epoch's checkpoint."""
from __future__ import annotations


class Killed(Exception):
    """Stands in for the process dying: raised from the epoch callback, before that epoch's checkpoint."""


def kill_at(epoch: int):
    """An epoch callback that raises Killed when `epoch` ends."""
    def callback(stats):
        if stats.epoch == epoch:
            raise Killed
    return callback
