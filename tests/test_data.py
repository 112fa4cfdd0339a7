"""The CIFAR-10 loader: format, verification, every error path, subsets, and the real copy."""

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from lrp_helpers import data as cifar
from lrp_helpers.data import CIFAR10DataError, load_cifar10, stratified_subset

TINY_BATCH = 20  # images per batch in the tiny data set: 100 training and 20 test images


def _pixels(index: int) -> np.ndarray:
    """A recognisable uint8 image (32, 32, 3): channel c at (row, col) = index + 3*row + col + 50*c."""
    row, col = np.mgrid[0:32, 0:32]
    return np.stack([(index + 3 * row + col + 50 * c) % 256 for c in range(3)], axis=-1).astype(np.uint8)


def _write_batch(path: Path, first_index: int, count: int) -> None:
    images = np.stack([_pixels(first_index + i) for i in range(count)])
    rows = images.transpose(0, 3, 1, 2).reshape(count, 3072)  # official layout: R(1024) G(1024) B(1024)
    labels = [(first_index + i) % 10 for i in range(count)]
    with open(path, "wb") as file:
        pickle.dump({b"data": rows, b"labels": labels, b"batch_label": b"tiny"}, file, protocol=2)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A complete CIFAR-10 folder in the official format, with 20 images per batch."""
    monkeypatch.setattr(cifar, "IMAGES_PER_BATCH", TINY_BATCH)
    monkeypatch.delenv(cifar.CIFAR10_DIR_VARIABLE, raising=False)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate(cifar.TRAIN_FILES + cifar.TEST_FILES):
        _write_batch(folder / name, i * TINY_BATCH, TINY_BATCH)
    return folder


def _write_sums(folder: Path) -> None:
    lines = [
        f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}"
        for name in cifar.TRAIN_FILES + cifar.TEST_FILES
    ]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def test_reads_the_official_layout_as_float_nhwc(tiny):
    dataset = load_cifar10(tiny)
    assert dataset.x_train.shape == (5 * TINY_BATCH, 32, 32, 3)
    assert dataset.x_test.shape == (TINY_BATCH, 32, 32, 3)
    assert dataset.x_train.dtype == np.float32
    assert 0.0 <= dataset.x_train.min() and dataset.x_train.max() <= 1.0
    np.testing.assert_allclose(dataset.x_train[7], _pixels(7) / 255.0, atol=1e-7)
    np.testing.assert_allclose(dataset.x_test[3], _pixels(5 * TINY_BATCH + 3) / 255.0, atol=1e-7)
    assert dataset.y_train.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert dataset.class_names[0] == "airplane" and len(dataset.class_names) == 10
    assert dataset.source == tiny


def test_checksums_pass_when_they_match(tiny):
    _write_sums(tiny)
    assert load_cifar10(tiny).x_train.shape[0] == 5 * TINY_BATCH


def test_corrupt_file_is_caught_by_the_checksums(tiny):
    _write_sums(tiny)
    content = bytearray((tiny / "data_batch_3").read_bytes())
    content[-100] ^= 0xFF
    (tiny / "data_batch_3").write_bytes(bytes(content))
    with pytest.raises(CIFAR10DataError, match=r"data_batch_3 is corrupt.*SHA-256"):
        load_cifar10(tiny)


def test_file_listed_in_checksums_but_missing(tiny):
    _write_sums(tiny)
    with open(tiny / "SHA256SUMS", "a") as file:
        file.write("0" * 64 + "  batches.meta\n")
    with pytest.raises(CIFAR10DataError, match="batches.meta is listed"):
        load_cifar10(tiny)


def test_missing_folder_names_it_and_says_how_to_fix(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(CIFAR10DataError) as error:
        load_cifar10(missing)
    message = str(error.value)
    assert str(missing) in message and "does not exist" in message
    assert cifar.ARCHIVE_URL in message and cifar.CIFAR10_DIR_VARIABLE in message


def test_empty_folder_lists_every_missing_file(tmp_path):
    with pytest.raises(CIFAR10DataError) as error:
        load_cifar10(tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and "incomplete" in message
    for name in cifar.TRAIN_FILES + cifar.TEST_FILES:
        assert name in message


def test_partial_download_is_reported(tiny):
    (tiny / "data_batch_5").unlink()
    with pytest.raises(CIFAR10DataError, match="incomplete: missing data_batch_5"):
        load_cifar10(tiny)


def test_truncated_batch_is_reported(tiny):
    content = (tiny / "test_batch").read_bytes()
    (tiny / "test_batch").write_bytes(content[: len(content) // 2])
    with pytest.raises(CIFAR10DataError, match="test_batch is not a readable CIFAR-10 python batch"):
        load_cifar10(tiny)


def test_wrong_image_count_is_reported(tiny):
    _write_batch(tiny / "data_batch_2", 0, TINY_BATCH - 1)
    with pytest.raises(CIFAR10DataError, match=r"data_batch_2 holds uint8 data of shape \(19, 3072\)"):
        load_cifar10(tiny)


def test_wrong_class_balance_is_reported(tiny):
    with open(tiny / "test_batch", "rb") as file:
        batch = pickle.load(file, encoding="bytes")
    batch[b"labels"] = [0] * TINY_BATCH
    with open(tiny / "test_batch", "wb") as file:
        pickle.dump(batch, file, protocol=2)
    with pytest.raises(CIFAR10DataError, match=r"test set .* has class counts \[20, 0"):
        load_cifar10(tiny)


def test_environment_variable_is_used_and_the_argument_wins(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(cifar.CIFAR10_DIR_VARIABLE, str(tiny))
    assert load_cifar10().source == tiny
    monkeypatch.setenv(cifar.CIFAR10_DIR_VARIABLE, str(tmp_path / "broken"))
    with pytest.raises(CIFAR10DataError, match=r"\$LRP_CIFAR10_DIR"):
        load_cifar10()
    assert load_cifar10(tiny).source == tiny


def test_keras_cache_is_used_when_nothing_else_is_given(tiny, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".keras" / "datasets").mkdir(parents=True)
    tiny.rename(home / ".keras" / "datasets" / "cifar-10-batches-py")
    monkeypatch.setenv("HOME", str(home))
    assert load_cifar10().source == home / ".keras" / "datasets" / "cifar-10-batches-py"


def test_nothing_found_and_no_download(tmp_path, monkeypatch):
    monkeypatch.delenv(cifar.CIFAR10_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CIFAR10DataError, match="downloading is switched off"):
        load_cifar10(download=False)


def test_failed_download_gives_the_clear_error(tmp_path, monkeypatch):
    import tensorflow as tf

    def no_network(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.delenv(cifar.CIFAR10_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(tf.keras.utils, "get_file", no_network)
    with pytest.raises(CIFAR10DataError, match="download of cifar-10-batches-py failed .*no route to host.*To fix it"):
        load_cifar10()


def test_stratified_subset_is_balanced_ordered_and_deterministic():
    labels = np.random.default_rng(0).integers(0, 10, size=5000)
    subset = stratified_subset(labels, 205)
    counts = np.bincount(labels[subset], minlength=10)
    assert counts.sum() == 205 and counts.max() - counts.min() <= 1
    assert np.all(np.diff(subset) > 0)
    np.testing.assert_array_equal(subset, stratified_subset(labels, 205))
    assert len(stratified_subset(labels, None)) == 5000
    with pytest.raises(ValueError):
        stratified_subset(labels, 0)


def test_subsets_of_the_tiny_data_set(tiny):
    dataset = load_cifar10(tiny, train_size=30, test_size=10)
    assert np.bincount(dataset.y_train).tolist() == [3] * 10
    assert np.bincount(dataset.y_test).tolist() == [1] * 10


def test_the_real_cifar10_copy(cifar10_dir):
    dataset = load_cifar10(cifar10_dir)
    assert dataset.x_train.shape == (50_000, 32, 32, 3)
    assert dataset.x_test.shape == (10_000, 32, 32, 3)
    assert dataset.x_train.dtype == np.float32 and dataset.x_test.dtype == np.float32
    assert dataset.x_train.min() == 0.0 and dataset.x_train.max() == 1.0
    assert np.bincount(dataset.y_train).tolist() == [5_000] * 10
    assert np.bincount(dataset.y_test).tolist() == [1_000] * 10
    np.testing.assert_allclose(dataset.x_train.mean(axis=(0, 1, 2)), cifar.TRAIN_MEAN, atol=1e-4)
