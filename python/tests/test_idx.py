"""The IDX reader accepts good files and rejects bad ones with clear errors.
All files are tiny synthetic ones written into tmp_path."""

import gzip
import struct

import numpy as np
import pytest

from dmc.errors import IdxError
from dmc.idx import read_images, read_labels
from dmc.mnist import load_split


def idx_bytes(magic, dims, data):
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + bytes(data)


def write(path, content, compress=False):
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_reads_images_and_labels(tmp_path, compress):
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8)
    images = read_images(write(tmp_path / "img", idx_bytes(2051, (2, 3, 4), pixels), compress))
    assert images.dtype == np.uint8 and images.shape == (2, 3, 4)
    assert np.array_equal(images.ravel(), pixels)
    images[0, 0, 0] = 7  # callers get a writable array

    labels = read_labels(write(tmp_path / "lab", idx_bytes(2049, (3,), [0, 9, 4]), compress))
    assert labels.tolist() == [0, 9, 4]


@pytest.mark.parametrize("compress", [False, True])
def test_wrong_magic(tmp_path, compress):
    # A label file handed to the image reader, and vice versa.
    path = write(tmp_path / "labels-as-images", idx_bytes(2049, (3,), [1, 2, 3]), compress)
    with pytest.raises(IdxError, match=r"labels-as-images: wrong magic number 2049 \(expected 2051\)"):
        read_images(path)
    path = write(tmp_path / "images-as-labels", idx_bytes(2051, (1, 1, 1), [0]), compress)
    with pytest.raises(IdxError, match=r"images-as-labels: wrong magic number 2051 \(expected 2049\)"):
        read_labels(path)
    path = write(tmp_path / "float-images", idx_bytes(0x0D03, (1, 1, 1), [0] * 4), compress)
    with pytest.raises(IdxError, match="wrong magic number"):
        read_images(path)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data(tmp_path, compress):
    path = write(tmp_path / "short", idx_bytes(2051, (2, 3, 4), range(23)), compress)
    with pytest.raises(IdxError, match="short: truncated"):
        read_images(path)


def test_truncated_header(tmp_path):
    path = write(tmp_path / "hdr", struct.pack(">II", 2051, 2))
    with pytest.raises(IdxError, match="hdr: truncated header"):
        read_images(path)
    with pytest.raises(IdxError, match="too short"):
        read_labels(write(tmp_path / "tiny", b"\x00\x00"))


def test_truncated_gzip(tmp_path):
    content = gzip.compress(idx_bytes(2049, (100,), [1] * 100))
    path = write(tmp_path / "cut.gz", content[:-10])
    with pytest.raises(IdxError, match="cut.gz: corrupt or truncated gzip"):
        read_labels(path)


def test_trailing_bytes(tmp_path):
    path = write(tmp_path / "long", idx_bytes(2049, (3,), [1, 2, 3, 4]))
    with pytest.raises(IdxError, match="long: 1 unexpected trailing bytes"):
        read_labels(path)


@pytest.mark.parametrize("compress", [False, True])
def test_bad_label_values(tmp_path, compress):
    path = write(tmp_path / "lab", idx_bytes(2049, (4,), [3, 9, 10, 255]), compress)
    with pytest.raises(IdxError, match=r"lab: label 10 at index 2 is not a digit 0..9 \(2 bad"):
        read_labels(path)


def test_split_checks_size_and_count(tmp_path):
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(2051, (2, 28, 28), [0] * 2 * 784))
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(2049, (3,), [1, 2, 3]), True)
    with pytest.raises(IdxError, match="has 2 images but .* has 3 labels"):
        load_split(str(tmp_path), "test")
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(2051, (3, 27, 28), [0] * 3 * 27 * 28))
    with pytest.raises(IdxError, match="images are 27x28"):
        load_split(str(tmp_path), "test")
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(2051, (3, 28, 28), [0] * 3 * 784))
    images, labels = load_split(str(tmp_path), "test")
    assert images.shape == (3, 28, 28) and labels.tolist() == [1, 2, 3]
