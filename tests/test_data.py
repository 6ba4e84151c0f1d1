"""CIFAR-10 data: the mini subset's hash check, the offline error, and the on-device loader."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

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


# ----------------------------------------------------------------------------- the loader

def test_loader_shapes_dtypes_and_length():
    x, y = _images(10)
    train = data.DeviceLoader(x, y, batch_size=4, seed=0)
    assert len(train) == 2  # the short last batch is dropped when training
    batches = list(train)
    assert [tuple(b[0].shape) for b in batches] == [(4, 3, 32, 32)] * 2
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    val = data.DeviceLoader(x, y, batch_size=4, train=False)
    assert len(val) == 3 and [len(b[1]) for b in val] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in val]), torch.as_tensor(y))


def test_loader_without_augmentation_normalises_exactly():
    x, y = _images(6)
    xb, yb = next(iter(data.DeviceLoader(x, y, batch_size=6, train=False)))
    mean, std = np.array(data.CIFAR_MEAN), np.array(data.CIFAR_STD)
    want = ((x / 255.0 - mean) / std).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(xb.numpy(), want, rtol=1e-5, atol=1e-5)
    assert torch.equal(yb, torch.as_tensor(y))


def test_augmentation_is_a_crop_or_flip_of_the_same_image_with_its_label():
    x, y = _images(16)
    loader = data.DeviceLoader(x, y, batch_size=16, seed=3)
    xb, yb = next(iter(loader))
    mean, std = torch.tensor(data.CIFAR_MEAN)[:, None, None], torch.tensor(data.CIFAR_STD)[:, None, None]
    pixels = torch.round((xb * std + mean) * 255).to(torch.int64)           # back to 0..255, (B, 3, 32, 32)
    padded = torch.nn.functional.pad(torch.as_tensor(x).permute(0, 3, 1, 2).to(torch.int64), (4, 4, 4, 4))
    for img, label in zip(pixels, yb):
        source = int(np.flatnonzero(y == int(label))[0]) if np.sum(y == int(label)) == 1 else None
        candidates = [source] if source is not None else list(np.flatnonzero(y == int(label)))
        found = False
        for i in candidates:
            for dy in range(9):
                for dx in range(9):
                    crop = padded[i, :, dy:dy + 32, dx:dx + 32]
                    if torch.equal(img, crop) or torch.equal(img, crop.flip(-1)):
                        found = True
        assert found, "an augmented image is not a crop/flip of an image with the same label"


def test_loader_flips_and_shifts_some_images():
    x, y = _images(64)
    xb, _ = next(iter(data.DeviceLoader(x, y, batch_size=64, seed=0, train=True)))
    plain, _ = next(iter(data.DeviceLoader(x, y, batch_size=64, train=False)))
    assert not torch.allclose(torch.sort(xb.flatten())[0], torch.sort(plain.flatten())[0])


def test_loader_is_deterministic_with_a_seed_and_differs_across_epochs_and_seeds():
    x, y = _images(20)

    def epochs(seed, n=2):
        loader = data.DeviceLoader(x, y, batch_size=5, seed=seed)
        return [torch.cat([b[0] for b in loader]) for _ in range(n)], [torch.cat([b[1] for b in loader])]

    (a1, a2), _ = epochs(0)
    (b1, b2), _ = epochs(0)
    (c1, _), _ = epochs(1)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1, a2) and not torch.equal(a1, c1)
    torch.manual_seed(123)  # the global RNG does not affect the loader
    (d1, _), _ = epochs(0)
    assert torch.equal(a1, d1)


def test_loader_rejects_wrong_inputs():
    x, y = _images(4)
    with pytest.raises(ValueError, match="uint8"):
        data.DeviceLoader(x.astype(np.float32), y, batch_size=2)
    with pytest.raises(ValueError, match="labels"):
        data.DeviceLoader(x, y[:3], batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        data.DeviceLoader(x, y, batch_size=0)


def test_channels_last_batches_hold_the_same_values():
    x, y = _images(8)
    a, _ = next(iter(data.DeviceLoader(x, y, batch_size=8, seed=0)))
    b, _ = next(iter(data.DeviceLoader(x, y, batch_size=8, seed=0, channels_last=True)))
    assert b.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(a, b)


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
