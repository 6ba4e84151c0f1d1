"""CIFAR-10 data: the mini subset's hash check, the offline error, the validation split."""
import os
from pathlib import Path

import numpy as np
import pytest

from course_utils import data

MINI = os.environ.get("COURSE_MINI_CIFAR", "")
needs_mini = pytest.mark.skipif(not (MINI and Path(MINI).is_file()), reason="the CIFAR-10 mini subset is not available")


def _images(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


# ----------------------------------------------------------------------------- the mini subset

@needs_mini
def test_mini_subset_loads_and_verifies():
    mini = data.load_mini()
    assert mini.x_train.shape == (5000, 32, 32, 3) and mini.x_train.dtype == np.uint8
    assert mini.y_test.shape == (1000,)
    assert data.content_hash(mini.x_train, mini.y_train, mini.x_test, mini.y_test) == data.MINI_SHA256
    assert mini.classes == data.CLASSES
    assert np.bincount(mini.y_train, minlength=10)[:3].tolist() == [508, 515, 478]


@needs_mini
def test_fast_mode_is_the_first_rows_of_the_mini_subset():
    fast, mini = data.load_cifar("fast"), data.load_mini()
    assert (len(fast.x_train), len(fast.x_test)) == data.FAST_SIZES
    assert np.array_equal(fast.x_train, mini.x_train[: len(fast.x_train)])
    assert len(data.load_cifar("cpu").x_train) == 5000
    with pytest.raises(ValueError, match="mode"):
        data.load_cifar("tpu")


@needs_mini
def test_truncated_mini_file_is_detected(tmp_path):
    bad = tmp_path / "cifar10_mini.npz"
    bad.write_bytes(Path(MINI).read_bytes()[:1_000_000])
    with pytest.raises(data.DataIntegrityError, match="truncated or corrupted"):
        data.read_mini(bad)


@needs_mini
def test_altered_mini_file_fails_the_hash(tmp_path):
    mini = data.load_mini()
    x_train = mini.x_train.copy()
    x_train[123, 4, 5, 0] ^= 1  # one bit of one pixel
    bad = tmp_path / "cifar10_mini.npz"
    np.savez(bad, x_train=x_train, y_train=mini.y_train, x_test=mini.x_test, y_test=mini.y_test)
    with pytest.raises(data.DataIntegrityError, match="hash"):
        data.read_mini(bad)


@needs_mini
def test_build_mini_from_a_full_dataset_takes_rows_0_to_999_of_each_batch():
    mini = data.load_mini()
    # A fake "full" CIFAR-10 whose batches hold the mini rows first, then other images.
    filler = np.zeros((9000, 32, 32, 3), np.uint8)
    x_train = np.concatenate([np.concatenate([mini.x_train[b * 1000:(b + 1) * 1000], filler]) for b in range(5)])
    y_train = np.concatenate([np.concatenate([mini.y_train[b * 1000:(b + 1) * 1000], np.zeros(9000, np.uint8)])
                              for b in range(5)])
    full = data.CifarArrays(x_train, y_train, np.concatenate([mini.x_test, filler]),
                            np.concatenate([mini.y_test, np.zeros(9000, np.uint8)]))
    rebuilt = data.build_mini(full)
    assert np.array_equal(rebuilt.x_train, mini.x_train) and np.array_equal(rebuilt.y_test, mini.y_test)


def test_missing_mini_path_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_MINI_CIFAR", str(tmp_path / "nope.npz"))
    with pytest.raises(data.DataUnavailableError, match="COURSE_MINI_CIFAR"):
        data.load_mini()


def test_offline_without_data_is_one_clear_error_and_leaves_no_files(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_MINI_CIFAR", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))

    def offline(root, download):
        # What a dropped connection looks like: a half-written archive, then an error.
        (Path(root) / "cifar-10-python.tar.gz").write_bytes(b"partial")
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "_torchvision_cifar", offline)
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_cifar("cpu")
    message = str(info.value)
    assert "internet" in message and "cifar10_mini.npz" in message and "COURSE_MINI_CIFAR" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback wall
    assert list(tmp_path.iterdir()) == []  # no partial download, no half-built subset


def test_data_dir_follows_course_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "here"))
    assert data.data_dir() == tmp_path / "here" and (tmp_path / "here").is_dir()


def test_split_validation_holds_out_the_last_training_rows_and_keeps_the_test_set():
    x = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 32, 32, 3), np.uint8)
    arrays = data.CifarArrays(x, np.arange(10, dtype=np.uint8), x[:4], np.arange(4, dtype=np.uint8))
    split = arrays.split_validation(3)
    assert split.y_train.tolist() == list(range(7)) and split.y_val.tolist() == [7, 8, 9]
    assert split.x_val[:, 0, 0, 0].tolist() == [7, 8, 9]
    assert split.y_test.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="already has a validation set"):
        split.split_validation(2)
    with pytest.raises(ValueError, match="before split_validation"):
        split.head(5, 2)
    for bad in (0, 10, 2.5):
        with pytest.raises(ValueError, match="num_val"):
            arrays.split_validation(bad)


@needs_mini
def test_course_cifar_chooses_the_data_of_gpu_and_cpu_modes(monkeypatch):
    monkeypatch.delenv("COURSE_CIFAR", raising=False)
    assert [data.dataset_choice(m) for m in ("fast", "cpu", "gpu")] == ["mini", "mini", "full"]
    monkeypatch.setenv("COURSE_CIFAR", "mini")
    assert data.dataset_choice("gpu") == "mini"
    assert len(data.load_cifar("gpu").x_train) == 5000          # gpu-mode sizes on the mini subset, offline
    monkeypatch.setenv("COURSE_CIFAR", "full")
    assert data.dataset_choice("fast") == "mini"                 # the test suite's runs never take the full set
    monkeypatch.setenv("COURSE_CIFAR", "imagenet")
    with pytest.raises(ValueError, match="COURSE_CIFAR='imagenet' is not a dataset"):
        data.load_cifar("gpu")


@needs_mini
def test_tiled_repeats_the_training_images_in_order():
    mini = data.load_mini()
    tiled = mini.tiled(12_000)
    assert len(tiled.x_train) == 12_000 and np.array_equal(tiled.x_train[5000:10000], mini.x_train)
    assert np.array_equal(tiled.y_train[10_000:], mini.y_train[:2000]) and tiled.x_test is mini.x_test
    held_out = mini.split_validation(1000).tiled(8000)
    assert len(held_out.x_train) == 8000 and held_out.x_val is not None
    assert np.array_equal(held_out.x_train[4000:], mini.x_train[:4000])   # the held-out images are not tiled in
