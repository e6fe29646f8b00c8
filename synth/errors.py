"""Errors a user can act on: each message names the file, column or setting and the rule broken."""


class SynthError(Exception):
    """Base class for errors caused by the user's data or configuration (not by a bug)."""


class DataError(SynthError):
    """The input data breaks a rule (missing file, not Parquet, empty, unsupported column, ...)."""


class StorageUnavailable(DataError):
    """The storage did not answer, or failed part-way (an object store's endpoint unreachable, a server
    error): unlike the rest, worth trying again, so orchestrators retry the step that met it."""


class ConfigError(SynthError):
    """A configuration value is missing, misspelt or out of range."""



class QualityGateFailed(SynthError):
    """The synthetic data missed a threshold of the quality gate: nothing was published."""


class TrainingDiverged(SynthError):
    """Training produced a NaN or infinite loss, or an exploding critic gradient: it stopped, naming the
    epoch and the settings to change; the last good checkpoint (if any) is kept."""
