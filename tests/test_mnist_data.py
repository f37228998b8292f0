"""MNIST loading: the real shared test split, every place it may come from, every way it breaks.

Corrupt variants are built in tmp_path from the real files; nothing here reaches
the network (an autouse fixture makes any connection attempt fail the test).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from gan_edge.errors import ConfigError, DataError, InputError
from gan_edge.training.data import mnist
from gan_edge.training.data.mnist import (
    MnistData,
    load_mnist,
    split_holdout,
    to_model_range,
    verify_checksums,
)

# CI clones the repository with a copy of shared/ beside it.
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
IMAGES_GZ, LABELS_GZ = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
IMAGES_RAW, LABELS_RAW = IMAGES_GZ[:-3], LABELS_GZ[:-3]
IMAGES_BYTES = 16 + 10_000 * 28 * 28  # header + pixels of the real t10k images file


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No developer cache, no $GAN_EDGE_DATA, and no network, whatever the machine has."""
    monkeypatch.delenv("GAN_EDGE_DATA", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def no_network(*args, **kwargs):
        raise AssertionError(f"a test tried to connect to {args[0] if args else kwargs}")

    monkeypatch.setattr(mnist.socket, "create_connection", no_network)


@pytest.fixture(scope="module")
def real() -> dict[str, bytes]:
    """The shared test split, decompressed: {"images": IDX bytes, "labels": IDX bytes}."""
    assert (SHARED / IMAGES_GZ).is_file(), f"the shared MNIST files are missing from {SHARED}"
    return {
        "images": gzip.decompress((SHARED / IMAGES_GZ).read_bytes()),
        "labels": gzip.decompress((SHARED / LABELS_GZ).read_bytes()),
    }


@pytest.fixture(scope="module")
def real_data() -> MnistData:
    return load_mnist(SHARED, allow_download=False)


def write_split(folder: Path, images: bytes, labels: bytes, *, gz: bool, prefix="t10k") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for kind, data in (("images-idx3", images), ("labels-idx1", labels)):
        (folder / f"{prefix}-{kind}-ubyte{suffix}").write_bytes(
            gzip.compress(data, compresslevel=1) if gz else data
        )
    return folder


def idx(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def data_error(folder, parts: list[str]) -> None:
    """load_mnist(folder) raises a DataError whose message holds every one of ``parts``."""
    with pytest.raises(DataError) as caught:
        load_mnist(folder, allow_download=False)
    message = str(caught.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# --- where the data comes from ------------------------------------------------------


def test_real_shared_test_split_loads(real_data):
    assert len(real_data) == 10_000
    assert real_data.images.shape == (10_000, 28, 28) and real_data.images.dtype == np.uint8
    assert real_data.labels.shape == (10_000,) and real_data.labels.dtype == np.uint8
    assert real_data.split == "test"
    assert IMAGES_GZ in real_data.source and str(SHARED.resolve()) in real_data.source
    assert real_data.images.min() == 0 and real_data.images.max() == 255
    histogram = np.bincount(real_data.labels, minlength=10)
    assert histogram.size == 10 and ((800 <= histogram) & (histogram <= 1200)).all(), histogram


def test_env_var_names_the_folder(monkeypatch, real_data):
    monkeypatch.setenv("GAN_EDGE_DATA", str(SHARED))
    data = load_mnist(allow_download=False)
    assert np.array_equal(data.labels, real_data.labels)
    assert str(SHARED.resolve()) in data.source


def test_raw_idx_copy_loads_the_same(tmp_path, real, real_data):
    folder = write_split(tmp_path / "raw", real["images"], real["labels"], gz=False)
    # Its SHA256SUMS names only the .gz files, which are absent here: nothing to check.
    shutil.copy(SHARED / "SHA256SUMS", folder)
    data = load_mnist(folder, allow_download=False)
    assert np.array_equal(data.images, real_data.images)
    assert np.array_equal(data.labels, real_data.labels)
    assert IMAGES_RAW in data.source


def test_npz_loads_both_splits(tmp_path, real_data):
    x, y = real_data.images, real_data.labels
    parts = dict(x_train=x[:300], y_train=y[:300], x_test=x[300:400], y_test=y[300:400])
    np.savez(tmp_path / "mnist.npz", **parts)
    data = load_mnist(tmp_path, allow_download=False)
    assert data.split == "train+test" and len(data) == 400
    assert np.array_equal(data.images, x[:400]) and np.array_equal(data.labels, y[:400])


def test_keras_cache_is_found_without_env_var(tmp_path, monkeypatch, real_data):
    x, y = real_data.images, real_data.labels
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    np.savez(
        cache / "mnist.npz", x_train=x[:50], y_train=y[:50], x_test=x[50:60], y_test=y[50:60]
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    data = load_mnist(allow_download=False)
    assert len(data) == 60 and str(cache / "mnist.npz") in data.source


def test_training_split_is_preferred_then_npz(tmp_path, real, real_data):
    x, y = real_data.images, real_data.labels
    folder = write_split(tmp_path, real["images"], real["labels"], gz=True)
    np.savez(
        folder / "mnist.npz", x_train=x[:20], y_train=y[:20], x_test=x[20:30], y_test=y[20:30]
    )
    assert load_mnist(folder, allow_download=False).split == "train+test"
    write_split(folder, idx(x[:70], 2051), idx(y[:70], 2049), gz=True, prefix="train")
    data = load_mnist(folder, allow_download=False)
    assert data.split == "train" and len(data) == 70 and "train-images-idx3-ubyte.gz" in data.source


def test_empty_folder_names_it_and_never_downloads(tmp_path):
    data_error(tmp_path, ["no MNIST files", str(tmp_path), "t10k-images-idx3-ubyte", "mnist.npz"])
    # A data_dir is the only place looked, even when downloading is allowed.
    with pytest.raises(DataError, match="no MNIST files in"):
        load_mnist(tmp_path, allow_download=True)


def test_nothing_anywhere_lists_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_EDGE_DATA", str(tmp_path / "empty"))
    cache = tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"
    looked = [f"GAN_EDGE_DATA={tmp_path / 'empty'}", str(cache), "allow_download=False"]
    data_error(None, looked + ["--data-dir", "train-images-idx3-ubyte.gz"])


def test_download_when_allowed_through_a_fake_tf_keras(monkeypatch, real_data):
    """The download path, with the network probe and tf_keras faked: no bytes leave the machine."""
    x, y = real_data.images, real_data.labels
    fake = types.ModuleType("tf_keras.datasets.mnist")
    fake.load_data = lambda: ((x[:40], y[:40]), (x[40:50], y[40:50]))
    datasets = types.ModuleType("tf_keras.datasets")
    datasets.mnist = fake
    monkeypatch.setitem(sys.modules, "tf_keras", types.ModuleType("tf_keras"))
    monkeypatch.setitem(sys.modules, "tf_keras.datasets", datasets)
    monkeypatch.setitem(sys.modules, "tf_keras.datasets.mnist", fake)
    monkeypatch.setattr(mnist.socket, "create_connection", lambda *a, **k: io.BytesIO())
    data = load_mnist()
    assert data.split == "train+test" and len(data) == 50 and "downloaded" in data.source


def test_unreachable_network_is_listed_among_places_looked(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(mnist.socket, "create_connection", offline)
    with pytest.raises(DataError, match="download \\(storage.googleapis.com unreachable"):
        load_mnist()


def test_data_dir_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    data_error(tmp_path / "file", ["must be a folder", str(tmp_path / "file")])


# --- what a bad file looks like ----------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_truncated_images_file_names_both_byte_counts(tmp_path, real, gz):
    write_split(tmp_path, real["images"][:-100], real["labels"], gz=gz)
    data_error(tmp_path, [IMAGES_RAW, str(IMAGES_BYTES - 100), str(IMAGES_BYTES), "truncated"])


def test_over_long_images_file_is_refused(tmp_path, real):
    write_split(tmp_path, real["images"] + b"\0" * 7, real["labels"], gz=False)
    data_error(tmp_path, [IMAGES_RAW, str(IMAGES_BYTES + 7), str(IMAGES_BYTES), "longer"])


def test_wrong_magic_number(tmp_path, real):
    images = struct.pack(">I", 2049) + real["images"][4:]
    write_split(tmp_path, images, real["labels"], gz=True)
    data_error(tmp_path, [IMAGES_GZ, "magic number is 2049, expected 2051", "fetch it again"])


def test_gzipped_file_without_gz_suffix_gets_a_hint(tmp_path, real):
    write_split(tmp_path, gzip.compress(real["images"][:1000]), real["labels"], gz=False)
    data_error(tmp_path, [IMAGES_RAW, "expected 2051", "it is gzipped: name it *.gz"])


def test_images_that_are_not_28x28(tmp_path, real_data):
    images = np.zeros((10, 32, 32), np.uint8)
    write_split(tmp_path, idx(images, 2051), idx(real_data.labels[:10], 2049), gz=True)
    data_error(tmp_path, [IMAGES_GZ, "32x32", "expected 28x28"])


def test_label_count_mismatch(tmp_path, real, real_data):
    write_split(tmp_path, real["images"], idx(real_data.labels[:9_999], 2049), gz=True)
    data_error(tmp_path, [IMAGES_GZ, LABELS_GZ, "10000 images", "9999 labels"])


def test_label_out_of_range(tmp_path, real):
    labels = bytearray(real["labels"])
    labels[8 + 5] = 10  # after the 8-byte header: label of image 5
    write_split(tmp_path, real["images"], bytes(labels), gz=True)
    data_error(tmp_path, [LABELS_GZ, "label 10 at index 5", "0..9"])


@pytest.mark.parametrize("damage", ["cut", "flipped"])
def test_corrupt_gzip_stream(tmp_path, damage):
    shutil.copy(SHARED / IMAGES_GZ, tmp_path)
    stream = bytearray((SHARED / LABELS_GZ).read_bytes())
    if damage == "cut":
        stream = stream[: len(stream) // 2]
    else:
        stream[len(stream) // 2 : len(stream) // 2 + 64] = bytes(64)
    (tmp_path / LABELS_GZ).write_bytes(bytes(stream))
    data_error(tmp_path, [LABELS_GZ, "gzip stream"])


def test_half_a_split_is_refused(tmp_path):
    shutil.copy(SHARED / IMAGES_GZ, tmp_path)
    data_error(tmp_path, [IMAGES_GZ, "t10k-labels-idx1-ubyte", "needs both"])


def test_npz_with_wrong_dtype_or_missing_arrays(tmp_path, real_data):
    x, y = real_data.images[:10], real_data.labels[:10]
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y.astype(np.int64), x_test=x, y_test=y)
    data_error(tmp_path, ["mnist.npz", "y_train is int64 (10,)", "expected uint8"])
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y)
    data_error(tmp_path, ["mnist.npz", "missing arrays ['x_test', 'y_test']"])
    (tmp_path / "mnist.npz").write_bytes(b"not a zip at all")
    data_error(tmp_path, ["mnist.npz", "not a readable .npz"])


# --- checksums -----------------------------------------------------------------------


def test_checksum_mismatch_names_file_and_both_hashes(tmp_path, real):
    for name in (IMAGES_GZ, LABELS_GZ, "SHA256SUMS"):
        shutil.copy(SHARED / name, tmp_path)
    # The same labels, compressed again: valid data, different bytes.
    (tmp_path / LABELS_GZ).write_bytes(gzip.compress(real["labels"], mtime=0))
    listed = next(
        line.split()[0]
        for line in (SHARED / "SHA256SUMS").read_text().splitlines()
        if line.endswith(LABELS_GZ)
    )
    received = hashlib.sha256((tmp_path / LABELS_GZ).read_bytes()).hexdigest()
    data_error(tmp_path, [LABELS_GZ, listed, received])
    with pytest.raises(DataError, match=received):
        verify_checksums(tmp_path)


def test_checksums_pass_on_the_real_files_and_refuse_a_malformed_list(tmp_path):
    verify_checksums(SHARED)
    verify_checksums(tmp_path)  # no SHA256SUMS: nothing to check
    (tmp_path / "SHA256SUMS").write_text("deadbeef  t10k-images-idx3-ubyte.gz\n")
    with pytest.raises(DataError, match="line 1 should be"):
        verify_checksums(tmp_path)


# --- what the model sees -------------------------------------------------------------


def test_to_model_range_shape_and_range(real_data):
    x = to_model_range(real_data.images[:256])
    assert x.shape == (256, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    ends = to_model_range(np.array([[[0] * 28] * 27 + [[255] * 28]], np.uint8))
    assert ends[0, 0, 0, 0] == -1.0 and ends[0, 27, 0, 0] == 1.0


@pytest.mark.parametrize(
    "bad, received",
    [
        (np.zeros((2, 28, 28), np.float32), "float32 (2, 28, 28)"),
        (np.zeros((2, 28, 28, 1), np.uint8), "uint8 (2, 28, 28, 1)"),
        (np.zeros((28, 28), np.uint8), "uint8 (28, 28)"),
        ([[0] * 28] * 28, "list"),
    ],
)
def test_to_model_range_refuses_other_inputs(bad, received):
    with pytest.raises(InputError) as caught:
        to_model_range(bad)
    assert "(n, 28, 28)" in str(caught.value) and received in str(caught.value)


def test_split_holdout_disjoint_reproducible_and_stratified(real_data):
    # Tag each image with its index so that the parts can be compared exactly.
    n = len(real_data)
    images = real_data.images.copy()
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
    tagged = MnistData(images, real_data.labels, "tagged", "test")

    def ids(part: MnistData) -> np.ndarray:
        return part.images[:, 0, 0].astype(int) * 256 + part.images[:, 0, 1]

    rest, held = split_holdout(tagged, 1_000, seed=3)
    assert len(rest) == 9_000 and len(held) == 1_000
    assert not set(ids(rest)) & set(ids(held))
    assert sorted(np.concatenate([ids(rest), ids(held)])) == list(range(n))
    assert np.array_equal(held.labels, real_data.labels[ids(held)])
    assert held.split == "test" and "1000 held out with seed 3" in held.source

    again_rest, again_held = split_holdout(tagged, 1_000, seed=3)
    assert np.array_equal(ids(again_held), ids(held)) and np.array_equal(ids(again_rest), ids(rest))
    assert not np.array_equal(ids(split_holdout(tagged, 1_000, seed=4)[1]), ids(held))

    expected = np.bincount(real_data.labels, minlength=10) / 10
    assert np.abs(np.bincount(held.labels, minlength=10) - expected).max() <= 1


@pytest.mark.parametrize("holdout", [0, 10_000, -1, 2.5, True])
def test_split_holdout_refuses_impossible_sizes(real_data, holdout):
    with pytest.raises(ConfigError, match=r"holdout must be an integer in 1\.\.9999"):
        split_holdout(real_data, holdout, seed=0)


def test_mnist_data_checks_its_arrays():
    with pytest.raises(DataError, match=r"expected uint8 \(n, 28, 28\)"):
        MnistData(np.zeros((2, 28, 28), np.float32), np.zeros(2, np.uint8), "made up", "test")
    with pytest.raises(DataError, match="2 images but 3 labels"):
        MnistData(np.zeros((2, 28, 28), np.uint8), np.zeros(3, np.uint8), "made up", "test")
    with pytest.raises(DataError, match="split must be one of"):
        MnistData(np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8), "made up", "val")
