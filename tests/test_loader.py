"""The on-device loader: shapes, exact normalisation, augmentation, determinism, errors."""
import numpy as np
import pytest
import torch

from course_utils import data, loader
from course_utils.loader import CIFAR_MEAN, CIFAR_STD, DeviceLoader


def _images(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


def test_data_re_exports_the_loader():
    assert data.DeviceLoader is loader.DeviceLoader
    assert (data.CIFAR_MEAN, data.CIFAR_STD) == (CIFAR_MEAN, CIFAR_STD)


def test_loader_shapes_dtypes_and_length():
    x, y = _images(10)
    train = DeviceLoader(x, y, batch_size=4, seed=0)
    assert len(train) == 2  # the short last batch is dropped when training
    batches = list(train)
    assert [tuple(b[0].shape) for b in batches] == [(4, 3, 32, 32)] * 2
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    val = DeviceLoader(x, y, batch_size=4, train=False)
    assert len(val) == 3 and [len(b[1]) for b in val] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in val]), torch.as_tensor(y))


def test_loader_without_augmentation_normalises_exactly():
    x, y = _images(6)
    xb, yb = next(iter(DeviceLoader(x, y, batch_size=6, train=False)))
    mean, std = np.array(CIFAR_MEAN), np.array(CIFAR_STD)
    want = ((x / 255.0 - mean) / std).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(xb.numpy(), want, rtol=1e-5, atol=1e-5)
    assert torch.equal(yb, torch.as_tensor(y))


def test_augmentation_is_a_crop_or_flip_of_the_same_image_with_its_label():
    x, y = _images(16)
    loader = DeviceLoader(x, y, batch_size=16, seed=3)
    xb, yb = next(iter(loader))
    mean, std = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]
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
    xb, _ = next(iter(DeviceLoader(x, y, batch_size=64, seed=0, train=True)))
    plain, _ = next(iter(DeviceLoader(x, y, batch_size=64, train=False)))
    assert not torch.allclose(torch.sort(xb.flatten())[0], torch.sort(plain.flatten())[0])


def test_loader_is_deterministic_with_a_seed_and_differs_across_epochs_and_seeds():
    x, y = _images(20)

    def epochs(seed, n=2):
        loader = DeviceLoader(x, y, batch_size=5, seed=seed)
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
        DeviceLoader(x.astype(np.float32), y, batch_size=2)
    with pytest.raises(ValueError, match="labels"):
        DeviceLoader(x, y[:3], batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(x, y, batch_size=0)


def test_channels_last_batches_hold_the_same_values():
    x, y = _images(8)
    a, _ = next(iter(DeviceLoader(x, y, batch_size=8, seed=0)))
    b, _ = next(iter(DeviceLoader(x, y, batch_size=8, seed=0, channels_last=True)))
    assert b.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(a, b)


def test_removed_parameters_are_refused_by_name():
    x, y = _images(4)
    for gone in ("pad", "drop_last", "mean", "std"):
        with pytest.raises(TypeError, match=gone):
            DeviceLoader(x, y, batch_size=2, **{gone: 1})
