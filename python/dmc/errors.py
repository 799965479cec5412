"""Exceptions for problems caused by the user's input (files, options).

The CLI catches `DmcError`, prints its message and exits with status 2, so the
message must stand on its own: name the file and say what is wrong. Anything
else that escapes is a bug and keeps its traceback.
"""

import json


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


class DatasetFitError(DmcError):
    """A valid model does not fit the data set it names (input shape, raw
    range, number of outputs), or that data set is empty."""


def quoted(text, max_chars=64):
    """A string from a file or the user, ready to put in a message: in
    single quotes, control characters and non-ASCII bytes escaped (\\n,
    \\x00, \\xc3), cut to `max_chars` bytes with "... (N characters)" after.
    The engine's in_quotes() (engine/src/text.cpp) byte for byte, so a name
    reads the same in both, and a hostile name can neither split a message
    nor make it huge. A value that is not a string is quoted as JSON writes
    it (1.0, ["a"], null)."""
    if not isinstance(text, str):
        try:
            text = json.dumps(text)
        except (TypeError, ValueError):
            text = repr(text)
    data = text.encode("utf-8", errors="surrogatepass")
    out = []
    for c in data[:max_chars]:
        if c == 0x0A:
            out.append("\\n")
        elif c == 0x09:
            out.append("\\t")
        elif c in (0x5C, 0x27):          # backslash, single quote
            out.append("\\" + chr(c))
        elif c < 0x20 or c >= 0x7F:
            out.append(f"\\x{c:02x}")
        else:
            out.append(chr(c))
    tail = f"... ({len(data)} characters)" if len(data) > max_chars else ""
    return "'" + "".join(out) + "'" + tail
