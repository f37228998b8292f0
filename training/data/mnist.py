"""MNIST for the book's DCGAN: find the files, read them, and refuse anything odd.

Call ``load_mnist()`` once, then ``to_model_range(data.images)`` for the GAN, or
``split_holdout(data, ...)`` first when a classifier needs held-out digits. Feed
the result to ``gan_edge.training.data.batches``; this module builds no pipeline of its own.

``load_mnist`` searches, in order: ``data_dir`` (only there, when given), the
folder named by ``$GAN_EDGE_DATA``, Keras' cache ``~/.keras/datasets/mnist.npz``
(``$KERAS_HOME`` moves it, as it moves Keras' own downloads), and a download
through ``tf_keras``. A folder may hold the original IDX files (gzipped or not)
or a ``mnist.npz``. Every header, size, count and label is checked: a bad file is
a ``DataError`` naming it, never a silently misread array.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import socket
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_edge.errors import ConfigError, DataError, InputError

__all__ = ["MnistData", "load_mnist", "holds_mnist", "verify_checksums", "to_model_range", "split_holdout"]

ENV_VAR = "GAN_EDGE_DATA"
SPLITS = ("train", "test", "train+test")
SIDE = 28
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # 0x0803 / 0x0801: unsigned bytes, 3 / 1 dimensions
CHECKSUM_FILE = "SHA256SUMS"
NPZ_NAME = "mnist.npz"
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_WANTED = (
    "train-images-idx3-ubyte.gz + train-labels-idx1-ubyte.gz (or un-gzipped), "
    "t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz, or mnist.npz"
)
# Where tf_keras.datasets.mnist downloads from; probed first so that an offline
# machine fails in seconds instead of waiting on urllib's unbounded timeout.
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
_CHUNK = 1 << 20


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == has no single truth value
class MnistData:
    """Digits as stored: ``images`` uint8 (n, 28, 28) in 0..255, ``labels`` uint8 (n,) in 0..9.

    ``source`` says which files were read; ``split`` is "train", "test" or
    "train+test". Built only from checked arrays: the constructor checks again.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    split: str

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise DataError(f"split must be one of {SPLITS}, got {self.split!r}")
        _check_arrays(self.images, self.labels, self.source)

    def __len__(self) -> int:
        return len(self.labels)


def holds_mnist(folder: str | Path) -> bool:
    """Whether ``folder`` holds MNIST's own files (a split's IDX images, gzipped or not, or mnist.npz)."""
    folder = Path(folder)
    names = [NPZ_NAME] + [stem + suffix for stem, _ in _IDX_STEMS.values() for suffix in ("", ".gz")]
    return folder.is_dir() and any((folder / name).is_file() for name in names)


def load_mnist(data_dir: str | Path | None = None, *, allow_download: bool = True) -> MnistData:
    """The first MNIST found along the search order above; ``DataError`` if none or if corrupt.

    A folder that holds something but holds it badly (a truncated file, half a
    split, a checksum mismatch) stops the search: falling through to another copy
    would hide the problem.
    """
    if data_dir is not None:
        folder = Path(data_dir).expanduser().resolve()  # absolute: `source` goes into run folders
        data = _load_folder(folder, "data_dir")
        if data is None:
            raise DataError(
                f"no MNIST files in {folder}: expected {_WANTED}; "
                "pass --data-dir a folder that holds them"
            )
        return data

    looked = []
    env = os.environ.get(ENV_VAR, "")
    if env:
        folder = Path(env).expanduser().resolve()
        data = _load_folder(folder, f"${ENV_VAR}")
        if data is not None:
            return data
        looked.append(f"${ENV_VAR}={folder}")
    else:
        looked.append(f"${ENV_VAR} (not set)")

    cache = _keras_cache()
    if cache.is_file():
        return _read_npz(cache)
    looked.append(str(cache))

    if allow_download:
        data, why = _download(cache)
        if data is not None:
            return data
        looked.append(f"download ({why})")
    else:
        looked.append("download (allow_download=False)")
    raise DataError(
        f"no MNIST files found (looked in: {'; '.join(looked)}): pass --data-dir DIR or set "
        f"{ENV_VAR} to a folder holding {_WANTED}; or put Keras' mnist.npz at {cache}"
    )


def verify_checksums(folder: str | Path) -> None:
    """Check the files that ``folder/SHA256SUMS`` names and that are present; no file, no check.

    The format is ``sha256sum``'s: ``<64 hex digits>  <name>`` per line (``*name``
    in binary mode). A listed file that is absent is skipped: a folder often holds
    only one split of a checksummed set.
    """
    folder = Path(folder)
    sums = folder / CHECKSUM_FILE
    if not sums.is_file():
        return
    lines = sums.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise DataError(
                f"{sums}: line {number} should be '<64 hex digits>  <file name>', got {line!r}; "
                "regenerate it with `sha256sum FILES > SHA256SUMS`"
            )
        expected, name = parts[0].lower(), parts[1].lstrip("*")
        path = folder / name
        if not path.is_file():
            continue
        received = _sha256(path)
        if received != expected:
            raise DataError(
                f"{path}: SHA-256 is {received}, but {CHECKSUM_FILE} expects {expected}: "
                "the file is corrupt or not the one listed; fetch it again"
            )


def to_model_range(images: np.ndarray) -> np.ndarray:
    """float32 (n, 28, 28, 1) in [-1, 1]: the range of the generator's tanh output.

    The channel axis is added because the DCGAN's convolutions expect one.
    """
    if (
        not isinstance(images, np.ndarray)
        or images.dtype != np.uint8
        or images.shape[1:] != (SIDE, SIDE)
    ):
        raise InputError(
            f"images must be a uint8 array of shape (n, {SIDE}, {SIDE}), got {_describe(images)}; "
            "pass MnistData.images as load_mnist returns it"
        )
    return (images.astype(np.float32) / np.float32(127.5) - np.float32(1.0))[..., np.newaxis]


def split_holdout(data: MnistData, holdout: int, seed: int) -> tuple[MnistData, MnistData]:
    """``(rest, held_out)``: ``holdout`` digits drawn at random, each class in proportion.

    Stratified so that a small holdout still holds every digit about as often as
    the data does. Same data and seed, same split; both parts keep the original order.
    """
    n = len(data)
    is_int = isinstance(holdout, (int, np.integer)) and not isinstance(holdout, bool)
    if not is_int or not 0 < holdout < n:
        raise ConfigError(
            f"holdout must be an integer in 1..{n - 1} (the data has {n} images), got {holdout!r}"
        )
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(data.labels, return_counts=True)
    quota = counts * holdout / n
    take = np.floor(quota).astype(np.int64)
    # Rounding down leaves a few short: give them to the largest remainders so the
    # holdout has exactly `holdout` digits (a remainder > 0 means there is room).
    short = holdout - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:short]] += 1
    chosen = [
        rng.permutation(np.flatnonzero(data.labels == c))[:k] for c, k in zip(classes, take)
    ]
    held = np.zeros(n, dtype=bool)
    held[np.concatenate(chosen)] = True
    note, split = f"{holdout} held out with seed {seed}", data.split
    return (
        MnistData(data.images[~held], data.labels[~held], f"{data.source}, less {note}", split),
        MnistData(data.images[held], data.labels[held], f"{data.source}, {note}", split),
    )


# --- finding -------------------------------------------------------------------


def _keras_cache() -> Path:
    """Where tf_keras keeps mnist.npz; read at call time so that tests can move HOME."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / NPZ_NAME


def _load_folder(folder: Path, named_by: str) -> MnistData | None:
    """MNIST from one folder (train IDX, else mnist.npz, else t10k IDX); None if it holds none."""
    if folder.exists() and not folder.is_dir():
        raise DataError(
            f"{named_by} must be a folder, got the file {folder}; pass the folder holding it"
        )
    if not folder.is_dir():
        return None
    # The training split first: 60,000 digits train a better GAN than 10,000.
    if (pair := _idx_pair(folder, "train")) is not None:
        verify_checksums(folder)
        return _read_idx_pair(*pair, split="train")
    if (folder / NPZ_NAME).is_file():
        verify_checksums(folder)
        return _read_npz(folder / NPZ_NAME)
    if (pair := _idx_pair(folder, "test")) is not None:
        verify_checksums(folder)
        return _read_idx_pair(*pair, split="test")
    return None


def _idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The split's images and labels files, None if neither is there, an error if one is."""
    images, labels = (_find_idx(folder, stem) for stem in _IDX_STEMS[split])
    if images is None and labels is None:
        return None
    if images is None or labels is None:
        # Falling back to another split would hide an interrupted download.
        have = images or labels
        need = _IDX_STEMS[split][0 if images is None else 1]
        raise DataError(
            f"{folder} holds {have.name} but no {need}[.gz]: "
            "a split needs both files; add the missing one"
        )
    return images, labels


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _download(cache: Path) -> tuple[MnistData | None, str]:
    """Both splits through tf_keras (which caches them at ``cache``), or None and why not."""
    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=3.0).close()
    except OSError as error:
        return None, f"{_DOWNLOAD_HOST[0]} unreachable: {error}"
    try:
        from tf_keras.datasets import mnist
    except ImportError:
        return None, "tf_keras is not installed: pip install 'gan-edge[train]'"
    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as error:  # urllib, HTTP and hash errors alike: the caller lists why
        return None, f"tf_keras.datasets.mnist.load_data() failed: {error}"
    source = f"downloaded by tf_keras.datasets.mnist.load_data() into {cache}"
    return _both_splits(x_train, y_train, x_test, y_test, source), ""


# --- reading and checking --------------------------------------------------------


def _read_idx_pair(images_path: Path, labels_path: Path, split: str) -> MnistData:
    images = _read_idx(images_path, IMAGE_MAGIC)
    labels = _read_idx(labels_path, LABEL_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path.name} holds {len(images)} images but {labels_path.name} holds "
            f"{len(labels)} labels (in {images_path.parent}); use the two files of one split"
        )
    _check_labels(labels, str(labels_path))
    source = f"{images_path.name} + {labels_path.name} in {images_path.parent} ({split} split)"
    return MnistData(images, labels, source, split)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """One IDX file of unsigned bytes, its header and exact length checked."""
    gzipped = path.suffix == ".gz"
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header_size = 4 + 4 * ndim
    what = "bytes after decompression" if gzipped else "bytes"
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
            header = _read_at_most(stream, header_size)
            if len(header) >= 4:
                received_magic = int.from_bytes(header[:4], "big")
                if received_magic != magic:
                    gzipped_inside = header[:2] == b"\x1f\x8b"
                    fix = "it is gzipped: name it *.gz" if gzipped_inside else "fetch it again"
                    raise DataError(
                        f"{path}: magic number is {received_magic}, expected {magic} "
                        f"({'images' if ndim == 3 else 'labels'} IDX file); {fix}"
                    )
            if len(header) < header_size:
                raise DataError(
                    f"{path}: {len(header)} {what}, expected at least {header_size} for the IDX "
                    "header: the file is truncated; fetch it again"
                )
            dims = struct.unpack(f">{ndim}I", header[4:])
            if ndim == 3 and dims[1:] != (SIDE, SIDE):
                raise DataError(
                    f"{path}: images are {dims[1]}x{dims[2]}, expected {SIDE}x{SIDE}; is it MNIST?"
                )
            body_size = int(np.prod(dims, dtype=np.int64))
            # Read in chunks: a corrupt header claiming gigabytes must not allocate them.
            body = _read_at_most(stream, body_size)
            trailing = _count_rest(stream)
    except (OSError, EOFError, zlib.error) as error:
        kind = "gzip stream" if gzipped else "file"
        raise DataError(f"{path}: unreadable {kind} ({error}); fetch the file again") from error
    received, expected = header_size + len(body) + trailing, header_size + body_size
    if received != expected:
        state = "truncated" if received < expected else "longer than its header says"
        raise DataError(
            f"{path}: {received} {what}, but its header ({' x '.join(map(str, dims))}) promises "
            f"{expected}: the file is {state}; fetch it again"
        )
    if dims[0] == 0:
        raise DataError(f"{path}: the header says 0 items, expected at least 1; fetch it again")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _read_at_most(stream, size: int) -> bytearray:
    out = bytearray()
    while len(out) < size:
        chunk = stream.read(min(_CHUNK, size - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _count_rest(stream) -> int:
    count = 0
    while chunk := stream.read(_CHUNK):
        count += len(chunk)
    return count


def _read_npz(path: Path) -> MnistData:
    """Keras' mnist.npz: both splits, joined (the holdout comes from split_holdout)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(
                f"{path}: a single .npy array, expected an .npz archive with {list(_NPZ_KEYS)}"
            )
        with loaded:
            missing = [key for key in _NPZ_KEYS if key not in loaded.files]
            if missing:
                raise DataError(
                    f"{path}: missing arrays {missing}; expected keys {list(_NPZ_KEYS)}, "
                    f"got {sorted(loaded.files)}"
                )
            arrays = {key: loaded[key] for key in _NPZ_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(f"{path}: not a readable .npz archive ({error}); fetch it again") from error
    for key, array in arrays.items():
        ndim = 3 if key.startswith("x") else 1
        if array.dtype != np.uint8 or array.ndim != ndim:
            raise DataError(
                f"{path}: {key} is {_describe(array)}, expected uint8 with {ndim} dimension(s); "
                "use the mnist.npz Keras downloads"
            )
    return _both_splits(*arrays.values(), source=f"{path} (x_train + x_test)")


def _both_splits(x_train, y_train, x_test, y_test, source: str) -> MnistData:
    _check_arrays(x_train, y_train, f"{source}, train arrays")
    _check_arrays(x_test, y_test, f"{source}, test arrays")
    return MnistData(
        np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]), source, "train+test"
    )


def _check_arrays(images, labels, where: str) -> None:
    is_array = isinstance(images, np.ndarray) and images.dtype == np.uint8
    if not is_array or images.shape[1:] != (SIDE, SIDE):
        raise DataError(
            f"{where}: images are {_describe(images)}, expected uint8 (n, {SIDE}, {SIDE})"
        )
    if not isinstance(labels, np.ndarray) or labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{where}: labels are {_describe(labels)}, expected uint8 (n,)")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels, expected equal")
    if len(images) == 0:
        raise DataError(f"{where}: no images, expected at least 1")
    _check_labels(labels, where)


def _check_labels(labels: np.ndarray, where: str) -> None:
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataError(
            f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} ({bad.size} in all), "
            "expected digits 0..9; is it MNIST?"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {value.shape}"
    return type(value).__name__
