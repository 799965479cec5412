"""Reader for the IDX files MNIST ships in (http://yann.lecun.com/exdb/mnist/).

An IDX file is a big-endian header followed by raw data:

    magic   uint32: 0x00 0x00 <type code> <number of dimensions>
    dims    uint32 each, one per dimension
    data    the values, row-major

MNIST uses only unsigned bytes (type code 0x08), so the magic numbers are
2051 (0x00000803, 3 dimensions: images x rows x cols) for images and 2049
(0x00000801, 1 dimension) for labels. Only those two are accepted.

Files may be gzip-compressed (as distributed) or not; we tell by the gzip
signature rather than by the file name, so a renamed file still reads.

Everything is checked before use, because a silently misread data set shows up
much later as a mysteriously bad accuracy: the magic number, the number of
dimensions, that the data is exactly as long as the header says (no
truncation, no trailing bytes) and, for labels, that every value is a digit.
"""

import gzip
import os
import struct
import zlib

import numpy as np

from .errors import IdxError

IMAGES_MAGIC = 2051  # unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # unsigned byte, 1 dimension
NUM_CLASSES = 10

_GZIP_SIGNATURE = b"\x1f\x8b"


def _read_bytes(path):
    """Return the file's (decompressed) content; errors name the file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise IdxError(f"{path}: cannot read: {e.strerror or e}") from None
    if raw[:2] != _GZIP_SIGNATURE:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        # A truncated download usually ends up here ("Compressed file ended
        # before the end-of-stream marker was reached").
        raise IdxError(f"{path}: corrupt or truncated gzip data: {e}") from None


def read_idx(path, expected_magic, expected_ndim):
    """Read an unsigned-byte IDX file into a numpy uint8 array.

    `expected_magic` and `expected_ndim` say what kind of file the caller
    wants; anything else is rejected with an IdxError naming the file.
    """
    path = os.fspath(path)
    data = _read_bytes(path)

    if len(data) < 4:
        raise IdxError(f"{path}: file too short for an IDX header "
                       f"({len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected_magic:
        raise IdxError(f"{path}: wrong magic number {magic} "
                       f"(expected {expected_magic}); is this the right file?")

    # The low byte of the magic number is the number of dimensions; with the
    # magic checked it equals expected_ndim, but keep the check explicit.
    ndim = magic & 0xFF
    if ndim != expected_ndim:
        raise IdxError(f"{path}: {ndim} dimensions, expected {expected_ndim}")

    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxError(f"{path}: truncated header: {len(data)} bytes, "
                       f"need {header_len} for {ndim} dimensions")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])

    expected_len = header_len + int(np.prod(dims, dtype=np.int64))
    if len(data) < expected_len:
        raise IdxError(f"{path}: truncated: header says {'x'.join(map(str, dims))} "
                       f"({expected_len} bytes in all) but the file has "
                       f"{len(data)} bytes")
    if len(data) > expected_len:
        raise IdxError(f"{path}: {len(data) - expected_len} unexpected trailing "
                       f"bytes after the {'x'.join(map(str, dims))} data")

    # frombuffer shares the bytes object, which is read-only; copy so callers
    # get an ordinary writable array.
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def read_images(path):
    """Read an IDX image file: uint8 array of shape (count, rows, cols)."""
    images = read_idx(path, IMAGES_MAGIC, 3)
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise IdxError(f"{path}: images have an empty size "
                       f"{images.shape[1]}x{images.shape[2]}")
    return images


def read_labels(path):
    """Read an IDX label file: uint8 array of shape (count,), values 0..9."""
    labels = read_idx(path, LABELS_MAGIC, 1)
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        i = int(bad[0])
        raise IdxError(f"{path}: label {int(labels[i])} at index {i} is not a "
                       f"digit 0..{NUM_CLASSES - 1} ({bad.size} bad labels in all)")
    return labels
