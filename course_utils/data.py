"""CIFAR-10 (full and the mini subset) as arrays, with a validation set held out from the training images.

* Full CIFAR-10 comes from ``torchvision.datasets.CIFAR10(download=True)``.
* The **mini subset** is rows 0-999 of each training batch (``data_batch_1`` ... ``_5``), then
  rows 0-999 of ``test_batch``: 5,000 training and 1,000 test images. It is read from
  ``COURSE_MINI_CIFAR`` or ``<data dir>/cifar10_mini.npz`` when there, else built from the full
  download; either way its content hash is checked before anything trains on it.
* :class:`DeviceLoader` (defined in :mod:`course_utils.loader`, re-exported here) makes the
  training batches on the device: shuffle, crop, flip, normalise.

The data folder is ``COURSE_DATA_DIR`` if set, else ``data/`` of the repository when the
package runs from a checkout, else ``~/.cache/learning-rate-course``.

Example:
    >>> data = load_cifar("fast").split_validation(200)                                   # doctest: +SKIP
    >>> train = DeviceLoader(data.x_train, data.y_train, batch_size=64, train=True, seed=0)  # doctest: +SKIP
    >>> x, y = next(iter(train)); x.shape, x.dtype, y.dtype                               # doctest: +SKIP
    (torch.Size([64, 3, 32, 32]), torch.float32, torch.int64)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _course
from .arguments import check_int
from .loader import CIFAR_MEAN, CIFAR_STD, DeviceLoader  # noqa: F401  (re-exported: data.DeviceLoader is the loader)

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MINI_SHA256 = "cd06075c48cdba4362e01aa3905b227d0ec52c2d62b3bf36e8fad971226a1136"
MINI_FILENAME = "cifar10_mini.npz"
MINI_PER_BATCH = 1000      # rows taken from each official batch file
TRAIN_BATCH_ROWS = 10_000  # rows per official training batch file
FAST_SIZES = (1000, 500)   # (train, test) images in `fast` mode: the first rows of the mini subset
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


class DataUnavailableError(RuntimeError):
    """CIFAR-10 is neither on disk nor downloadable; the message says what to do."""


class DataIntegrityError(RuntimeError):
    """A CIFAR file on disk is truncated, corrupted or not the expected content."""


@dataclass(frozen=True)
class CifarArrays:
    """CIFAR images as NumPy arrays: ``x_*`` (N, 32, 32, 3) uint8 HWC RGB, ``y_*`` (N,) uint8 labels.

    ``x_val``/``y_val`` are ``None`` until :meth:`split_validation` holds out a validation set
    from the training images; the test set is never used for choices, only reported once.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "cifar10"
    classes: tuple = CLASSES
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def __repr__(self) -> str:
        val = f" / {len(self.x_val)} validation" if self.x_val is not None else ""
        return (f"CifarArrays({self.name}: {len(self.x_train)} train{val} / {len(self.x_test)} test images, "
                f"{len(self.classes)} classes)")

    def head(self, num_train: int, num_test: int, name: str | None = None) -> "CifarArrays":
        """The first ``num_train`` training and ``num_test`` test rows (a smaller, same-order subset)."""
        if self.x_val is not None:
            raise ValueError("take head() before split_validation(), so the validation set stays held out.")
        return CifarArrays(self.x_train[:num_train], self.y_train[:num_train],
                           self.x_test[:num_test], self.y_test[:num_test],
                           name=name or f"{self.name}[:{num_train}/{num_test}]", classes=self.classes)

    def tiled(self, num_train: int) -> "CifarArrays":
        """The training images repeated in order until there are ``num_train`` of them (test set unchanged).

        For measuring throughput at a full epoch's size where only the mini subset is at hand; a
        tiled set holds no new images, so it says nothing about accuracy at that size. A validation
        set already held out stays as it is (and out of the tiles).

        Example:
            >>> z = np.zeros((4, 32, 32, 3), np.uint8)
            >>> CifarArrays(z, np.arange(4), z[:2], np.arange(2), name="toy").tiled(10)
            CifarArrays(toy tiled to 10: 10 train / 2 test images, 10 classes)
        """
        num_train = check_int(num_train, "num_train", minimum=1)
        rows = np.arange(num_train) % len(self.x_train)
        return CifarArrays(self.x_train[rows], self.y_train[rows], self.x_test, self.y_test,
                           name=f"{self.name} tiled to {num_train}", classes=self.classes,
                           x_val=self.x_val, y_val=self.y_val)

    def split_validation(self, num_val: int) -> "CifarArrays":
        """Hold out the last ``num_val`` training images as the validation set (``x_val``, ``y_val``).

        The rows keep the official order, which CIFAR-10's makers already shuffled, so the last
        rows are a fair sample of every class. Training never sees them; the test set is untouched.

        Example:
            >>> z = np.zeros((10, 32, 32, 3), np.uint8)
            >>> CifarArrays(z, np.arange(10), z[:4], np.arange(4), name="toy").split_validation(3)
            CifarArrays(toy: 7 train / 3 validation / 4 test images, 10 classes)
        """
        if self.x_val is not None:
            raise ValueError("this data already has a validation set; split the original arrays once.")
        num_val = check_int(num_val, "num_val", minimum=1, maximum=len(self.x_train) - 1,
                            hint="(fewer than the training images)")
        k = len(self.x_train) - num_val
        return CifarArrays(self.x_train[:k], self.y_train[:k], self.x_test, self.y_test, name=self.name,
                           classes=self.classes, x_val=self.x_train[k:], y_val=self.y_train[k:])


# ----------------------------------------------------------------------------- where data lives

def data_dir() -> Path:
    """The folder the course downloads to and builds in (created if missing)."""
    value = os.environ.get("COURSE_DATA_DIR", "").strip()
    if value:
        path = Path(value).expanduser()
    else:
        repo = _course.checkout_root()
        path = repo / "data" if repo is not None else Path.home() / ".cache" / "learning-rate-course"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------------- the mini subset

def content_hash(x_train, y_train, x_test, y_test) -> str:
    """sha256 over the raw bytes of the four arrays, in that order, each C-contiguous."""
    digest = hashlib.sha256()
    for array in (x_train, y_train, x_test, y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def verify_mini(data: CifarArrays, source: str = "the mini subset") -> CifarArrays:
    """Return ``data`` if its shapes, dtypes and content hash are the mini subset's, else raise."""
    expected = {"x_train": (5000, 32, 32, 3), "y_train": (5000,), "x_test": (1000, 32, 32, 3), "y_test": (1000,)}
    for key, shape in expected.items():
        array = getattr(data, key)
        if array.shape != shape or array.dtype != np.uint8:
            raise DataIntegrityError(
                f"{source}: {key} has shape {array.shape} and dtype {array.dtype}, expected {shape} uint8. "
                "Delete the file and run again to rebuild it from a fresh CIFAR-10 download.")
    found = content_hash(data.x_train, data.y_train, data.x_test, data.y_test)
    if found != MINI_SHA256:
        raise DataIntegrityError(
            f"{source}: content hash {found[:12]}... does not match the mini subset's {MINI_SHA256[:12]}...; "
            "the file is corrupted or not the course's subset. Delete it and run again to rebuild it.")
    return data


def read_mini(path) -> CifarArrays:
    """Read and verify a mini-subset ``.npz``; a truncated or corrupted file raises :class:`DataIntegrityError`."""
    path = Path(path)
    if not path.is_file():
        raise DataUnavailableError(f"{path} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in _ARRAYS}
            classes = tuple(str(c) for c in npz["classes"]) if "classes" in npz.files else CLASSES
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        raise DataIntegrityError(
            f"{path} is not a readable mini-subset file ({type(err).__name__}: {err}); it is probably truncated "
            "or corrupted. Delete it and run again to rebuild it from a CIFAR-10 download.") from None
    return verify_mini(CifarArrays(**arrays, name="cifar10-mini", classes=classes), source=str(path))


def build_mini(full: CifarArrays) -> CifarArrays:
    """The mini subset of a full CIFAR-10 (rows 0-999 of each training batch, then of the test batch)."""
    if len(full.x_train) != 5 * TRAIN_BATCH_ROWS or len(full.x_test) != TRAIN_BATCH_ROWS:
        raise ValueError(f"build_mini needs the full CIFAR-10 (50000/10000 images), got {full!r}.")
    rows = np.concatenate([np.arange(MINI_PER_BATCH) + b * TRAIN_BATCH_ROWS for b in range(5)])
    mini = CifarArrays(full.x_train[rows], full.y_train[rows], full.x_test[:MINI_PER_BATCH],
                       full.y_test[:MINI_PER_BATCH], name="cifar10-mini", classes=full.classes)
    return verify_mini(mini, source="the subset built from the CIFAR-10 download")


def _write_atomic_npz(path: Path, data: CifarArrays) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **{key: getattr(data, key) for key in _ARRAYS}, classes=np.array(data.classes))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ----------------------------------------------------------------------------- full CIFAR-10

def _torchvision_cifar(root: Path, download: bool):
    """Both splits of torchvision's CIFAR10 under ``root`` (separated so tests can replace it)."""
    from torchvision.datasets import CIFAR10

    return CIFAR10(root=str(root), train=True, download=download), CIFAR10(root=str(root), train=False, download=download)


_OFFLINE_HELP = (
    "CIFAR-10 is not available: it is not in {root} and downloading it failed ({reason}). "
    "Connect to the internet and run this cell again (it downloads about 170 MB once), "
    "or put cifar10_mini.npz (the course's mini subset) in {root}, or point the COURSE_MINI_CIFAR "
    "environment variable at it (and, on a GPU, set COURSE_CIFAR=mini to train on that subset), "
    "or set COURSE_DATA_DIR to a folder that holds the data."
)


def load_full(root=None, download: bool = True) -> CifarArrays:
    """Full CIFAR-10 (50,000 train / 10,000 test) as arrays, downloading it into ``root`` if needed.

    The download goes into a temporary folder that is renamed into place only once complete,
    so a failed download leaves nothing behind. Offline, raises :class:`DataUnavailableError`.
    """
    root = Path(root) if root is not None else data_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / "cifar-10-batches-py"
    if not final.is_dir():
        if not download:
            raise DataUnavailableError(_OFFLINE_HELP.format(root=root, reason="download=False"))
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".cifar10-download-"))
        try:
            _torchvision_cifar(staging, download=True)
            os.replace(staging / "cifar-10-batches-py", final)
        except Exception as err:
            raise DataUnavailableError(
                _OFFLINE_HELP.format(root=root, reason=f"{type(err).__name__}: {err}")) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    try:
        train, test = _torchvision_cifar(root, download=False)
    except RuntimeError as err:  # torchvision's "Dataset not found or corrupted"
        raise DataIntegrityError(f"{final} is incomplete or corrupted ({err}); delete that folder and run again.") from None
    return CifarArrays(np.asarray(train.data), np.asarray(train.targets, dtype=np.uint8),
                       np.asarray(test.data), np.asarray(test.targets, dtype=np.uint8),
                       name="cifar10", classes=tuple(train.classes))


def load_mini(path=None, download: bool = True) -> CifarArrays:
    """The verified mini subset: from ``path``, ``COURSE_MINI_CIFAR``, ``<data dir>/cifar10_mini.npz``,
    or else built from a full download (and saved there for next time)."""
    if path is None:
        path = os.environ.get("COURSE_MINI_CIFAR", "").strip() or None
    if path is not None:
        if not Path(path).is_file():
            raise DataUnavailableError(
                f"the mini subset file {path} (from the argument or COURSE_MINI_CIFAR) does not exist; "
                "fix the path, or unset COURSE_MINI_CIFAR to build the subset from a CIFAR-10 download.")
        return read_mini(path)
    cached = data_dir() / MINI_FILENAME
    if cached.is_file():
        return read_mini(cached)
    mini = build_mini(load_full(cached.parent, download=download))
    _write_atomic_npz(cached, mini)
    return mini


DATASETS = ("full", "mini")


def dataset_choice(mode: str) -> str:
    """Which CIFAR-10 data ``mode`` trains on: ``COURSE_CIFAR`` (``full`` or ``mini``) if set, else
    ``full`` in ``gpu`` mode and ``mini`` otherwise (``fast`` mode always takes the mini subset's head).

    ``COURSE_CIFAR=mini`` keeps the ``gpu`` mode's run sizes on the mini subset: for a GPU without
    network access, or to compare a GPU run with a CPU one on the same images.
    """
    value = os.environ.get("COURSE_CIFAR", "").strip().lower()
    if value and value not in DATASETS:
        raise ValueError(f"COURSE_CIFAR={value!r} is not a dataset; use one of {', '.join(DATASETS)} "
                         "(or unset it to let the run mode choose).")
    if mode == "fast":
        return "mini"
    return value or ("full" if mode == "gpu" else "mini")


def load_cifar(mode: str) -> CifarArrays:
    """The data a run mode trains on: ``gpu`` full CIFAR-10, ``cpu`` the mini subset, ``fast`` its first rows
    (``COURSE_CIFAR`` overrides the choice for ``gpu`` and ``cpu``: :func:`dataset_choice`).

    Example:
        >>> load_cifar("fast")    # doctest: +SKIP
        CifarArrays(cifar10-mini-fast: 1000 train / 500 test images, 10 classes)
    """
    if mode not in ("fast", "cpu", "gpu"):
        raise ValueError(f"mode must be 'fast', 'cpu' or 'gpu', got {mode!r}.")
    if mode == "fast":
        return load_mini().head(*FAST_SIZES, name="cifar10-mini-fast")
    return load_full() if dataset_choice(mode) == "full" else load_mini()
