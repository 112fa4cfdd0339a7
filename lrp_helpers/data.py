"""CIFAR-10 from the official python batches, verified, with optional stratified subsets."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import sources
from .settings import CIFAR10_DIR_VARIABLE

FOLDER_NAME = "cifar-10-batches-py"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
IMAGES_PER_BATCH = 10_000
TRAIN_MEAN = (0.4914, 0.4822, 0.4465)  # per-channel mean of the 50,000 training images (tested)


class CIFAR10DataError(RuntimeError):
    """CIFAR-10 is missing, incomplete or corrupt. The message says where we looked and how to fix it."""


@dataclass
class CIFAR10:
    """Images as float32 NHWC in [0, 1], labels as int64 class indices."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES
    source: Path | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_cifar10(
    data_dir: str | Path | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    download: bool = True,
) -> CIFAR10:
    """Load CIFAR-10, looking in this order:

    1. `data_dir`, if given;
    2. the folder named by the environment variable ``LRP_CIFAR10_DIR``;
    3. the Keras cache, ``~/.keras/datasets/cifar-10-batches-py``;
    4. a download of the official archive through Keras (needs internet; `download=False` skips it).

    The folder must hold the official python batches (``data_batch_1`` … ``data_batch_5``,
    ``test_batch``). If it also holds a ``SHA256SUMS`` file, every file is checked against it.
    `train_size` / `test_size` take a deterministic, class-stratified subset for quick runs.
    """
    folder = locate_cifar10(data_dir, download)
    sources.verify_sha256sums(SOURCE, folder)
    x_train, y_train = _read_batches(folder, TRAIN_FILES)
    x_test, y_test = _read_batches(folder, TEST_FILES)
    _check_class_counts(folder, "training", y_train, len(TRAIN_FILES) * IMAGES_PER_BATCH // 10)
    _check_class_counts(folder, "test", y_test, len(TEST_FILES) * IMAGES_PER_BATCH // 10)
    train = stratified_subset(y_train, train_size)
    test = stratified_subset(y_test, test_size)
    return CIFAR10(_scaled(x_train[train]), y_train[train], _scaled(x_test[test]), y_test[test], source=folder)


def _scaled(images: np.ndarray) -> np.ndarray:
    """uint8 pixels as float32 in [0, 1] (after subsetting: the full training set is 614 MB as float32)."""
    return images.astype(np.float32) / 255.0


def stratified_subset(labels: np.ndarray, size: int | None) -> np.ndarray:
    """Indices of `size` items, as equal a share per class as possible: each class's first items.

    Deterministic, and the indices keep the data set's order. `None` means everything.
    """
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    if size < 1:
        raise ValueError(f"subset size must be at least 1, got {size}")
    rank_in_class = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank_in_class[members] = np.arange(len(members))
    order = np.lexsort((labels, rank_in_class))
    return np.sort(order[:size])


def first_per_class(labels: np.ndarray, predictions: np.ndarray | None = None, num_classes: int = 10) -> np.ndarray:
    """Index of the first image of each class, preferring correctly predicted ones if `predictions`
    are given (falls back to the first image of the class if none is correct)."""
    chosen = []
    for label in range(num_classes):
        members = np.flatnonzero(labels == label)
        if len(members) == 0:
            raise ValueError(f"no image of class {label}")
        if predictions is not None:
            correct = members[predictions[members] == label]
            members = correct if len(correct) else members
        chosen.append(members[0])
    return np.array(chosen)


def _how_to_fix(folder: Path | None) -> str:
    target = folder if folder is not None else Path.home() / ".keras" / "datasets" / FOLDER_NAME
    return (
        f"To fix it, download {ARCHIVE_URL}, unpack it, and either put the folder "
        f"'{FOLDER_NAME}' at {target} or set the environment variable "
        f"{CIFAR10_DIR_VARIABLE}=/path/to/{FOLDER_NAME} (or pass data_dir=...)."
    )


def _missing(folder: Path) -> str | None:
    missing = [name for name in TRAIN_FILES + TEST_FILES if not (folder / name).is_file()]
    return f"missing {', '.join(missing)}" if missing else None


SOURCE = sources.Source(
    title="CIFAR-10",
    folder_title="CIFAR-10 folder",
    variable=CIFAR10_DIR_VARIABLE,
    cache_folder=FOLDER_NAME,
    error=CIFAR10DataError,
    how_to_fix=_how_to_fix,
    missing=_missing,
    downloads=lambda: (sources.Download(FOLDER_NAME, ARCHIVE_URL, ARCHIVE_SHA256, untar=True),),
)


def locate_cifar10(data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The CIFAR-10 folder `load_cifar10` reads, found in the order it documents (downloading into
    the Keras cache if need be). Raises `CIFAR10DataError`, saying how to fix it, if none works."""
    return sources.locate(SOURCE, data_dir, download)


def _read_batches(folder: Path, names) -> tuple[np.ndarray, np.ndarray]:
    """The batches' images (uint8, N×32×32×3) and labels, checked for shape and range."""
    images, labels = [], []
    for name in names:
        path = folder / name
        try:
            with open(path, "rb") as file:
                batch = pickle.load(file, encoding="bytes")
            data = np.asarray(batch[b"data"])
            batch_labels = np.asarray(batch[b"labels"], dtype=np.int64)
        except Exception as error:
            raise CIFAR10DataError(
                f"{path} is not a readable CIFAR-10 python batch ({type(error).__name__}: {error}). "
                + _how_to_fix(folder)
            ) from error
        if data.dtype != np.uint8 or data.shape != (IMAGES_PER_BATCH, 3 * 32 * 32):
            raise CIFAR10DataError(
                f"{path} holds {data.dtype} data of shape {data.shape}, expected uint8 "
                f"({IMAGES_PER_BATCH}, 3072). {_how_to_fix(folder)}"
            )
        if batch_labels.shape != (IMAGES_PER_BATCH,) or batch_labels.min() < 0 or batch_labels.max() > 9:
            raise CIFAR10DataError(
                f"{path} holds {batch_labels.shape[0]} labels, expected {IMAGES_PER_BATCH} in 0..9. "
                + _how_to_fix(folder)
            )
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


def _check_class_counts(folder: Path, split: str, labels: np.ndarray, per_class: int) -> None:
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    if not np.all(counts == per_class):
        raise CIFAR10DataError(
            f"The {split} set in {folder} has class counts {counts.tolist()}, expected {per_class} "
            f"for each of the 10 classes. {_how_to_fix(folder)}"
        )


def checksums(folder: str | Path) -> dict[str, str]:
    """SHA-256 of each batch file, to record which data a model was trained on."""
    folder = Path(folder)
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in TRAIN_FILES + TEST_FILES}
