"""One error hierarchy for the whole project.

Every error a user can cause (a bad file, a bad argument, a missing backend) is a
``GanEdgeError``; the command line turns these into a one-line message and exit
status 2. Anything else is a bug and keeps its traceback.
"""

__all__ = [
    "GanEdgeError",
    "ConfigError",
    "RunFolderError",
    "DataError",
    "TrainingDiverged",
    "ModelFileError",
    "ManifestError",
    "InputError",
    "BackendUnavailable",
]


class GanEdgeError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(GanEdgeError, ValueError):
    """A training or export setting is unknown, of the wrong type, or out of range."""


class RunFolderError(GanEdgeError):
    """A run folder is missing, incomplete, or belongs to another run."""


class DataError(GanEdgeError):
    """A data set is missing, truncated, or not what its format promises."""


class TrainingDiverged(GanEdgeError):
    """A loss or a weight went NaN or inf while training; the message says where."""


class ModelFileError(GanEdgeError):
    """A model file is missing, empty, truncated, or not a model this runtime can load."""


class ManifestError(ModelFileError):
    """A model's metadata is missing, of an unknown version, or disagrees with the model."""


class InputError(GanEdgeError, ValueError):
    """An argument to the runtime has the wrong shape, dtype, value, or range."""


class BackendUnavailable(GanEdgeError):
    """The backend or accelerator asked for is not installed or not usable here."""
