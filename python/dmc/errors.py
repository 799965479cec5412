"""Exceptions for problems caused by the user's input (files, options).

The CLI catches `DmcError`, prints its message and exits with status 2, so the
message must stand on its own: name the file and say what is wrong. Anything
else that escapes is a bug and keeps its traceback.
"""


class DmcError(Exception):
    """Base class: a user-facing error with a self-explanatory message."""


class IdxError(DmcError):
    """An IDX file (MNIST's format) is malformed."""


class MnistNotFoundError(DmcError):
    """The MNIST folder or one of its files is missing."""


class ModelSpecError(DmcError):
    """A list of layer specs does not describe a valid network."""


class ModelFileError(DmcError):
    """A model file is not a well-formed dmc-model file."""
