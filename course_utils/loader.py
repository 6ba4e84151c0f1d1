"""The on-device batch loader for CIFAR images: shuffle, crop, flip and normalise where the model trains.

The uint8 images stay as one tensor on the training device; each batch is cut out of it with a
random crop (after 4 pixels of zero padding) and a random horizontal flip, then normalised per
channel, a whole batch at a time: no PIL, no per-image Python, no worker processes.
``course_utils.data`` re-exports :class:`DeviceLoader`, so ``data.DeviceLoader`` is the same class.

Example:
    >>> import numpy as np
    >>> loader = DeviceLoader(np.zeros((10, 32, 32, 3), np.uint8), np.arange(10), batch_size=4)
    >>> len(loader), [tuple(x.shape) for x, _ in loader][0]
    (2, (4, 3, 32, 32))
"""
from __future__ import annotations

import numpy as np
import torch

from .arguments import check_int

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # per channel, over the full training set, pixel scale 0..1
CIFAR_STD = (0.2470, 0.2435, 0.2616)
PAD = 4  # pixels of zero padding before the random 32x32 crop


class DeviceLoader:
    """Batches of CIFAR images made on the training device: shuffle, crop, flip, normalise.

    Args:
        images: (N, 32, 32, 3) uint8, HWC (NumPy array or tensor); copied once to ``device``.
        labels: (N,) integer labels.
        batch_size: images per batch.
        train: shuffle (and by default augment) if True, and drop the last short batch; else
            fixed order, no augmentation, and the last short batch is kept.
        augment: random crop after :data:`PAD` pixels of zero padding, and random horizontal flip
            (default: same as ``train``).
        seed: seeds the loader's own ``torch.Generator``: two loaders with the same seed give
            the same order and the same augmentations, whatever else uses the global RNG.
        device: where the images live and batches are made (default: the CPU).
        channels_last: return batches in channels-last memory format (faster convolutions).

    Each iteration is one epoch and yields ``(x, y)``: x (B, 3, 32, 32) float32, normalised with
    :data:`CIFAR_MEAN` and :data:`CIFAR_STD`; y (B,) int64.

    Example:
        >>> import numpy as np
        >>> images, labels = np.zeros((10, 32, 32, 3), np.uint8), np.arange(10)
        >>> val = DeviceLoader(images, labels, batch_size=4, train=False)
        >>> len(val), [len(y) for _, y in val]
        (3, [4, 4, 2])
    """

    def __init__(self, images, labels, batch_size: int, *, train: bool = True, augment: bool | None = None,
                 seed: int = 0, device=None, channels_last: bool = False):
        images = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
        labels = torch.as_tensor(np.asarray(labels)) if not isinstance(labels, torch.Tensor) else labels
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be uint8 of shape (N, H, W, 3), got {images.dtype} {tuple(images.shape)}.")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}.")
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.train = bool(train)
        self.augment = self.train if augment is None else bool(augment)
        self.pad = PAD if self.augment else 0
        self.channels_last = bool(channels_last)
        self.num_images, self.height, self.width = images.shape[0], images.shape[1], images.shape[2]
        # Pad once, here: each batch's crop is then a single gather out of the padded images.
        p = self.pad
        padded = torch.nn.functional.pad(images, (0, 0, p, p, p, p)) if p else images
        self.images = padded.contiguous().to(self.device)
        self.labels = labels.to(torch.int64).to(self.device)
        # Normalising (x/255 - mean)/std is one multiply-add per pixel: x*scale + shift.
        std = torch.tensor(CIFAR_STD, dtype=torch.float32, device=self.device)
        self.scale = 1.0 / (255.0 * std)
        self.shift = -torch.tensor(CIFAR_MEAN, dtype=torch.float32, device=self.device) / std
        self.generator = self._make_generator(check_int(seed, "seed"))
        self._rows = torch.arange(self.height, device=self.device)
        self._cols = torch.arange(self.width, device=self.device)

    def _make_generator(self, seed: int) -> torch.Generator:
        try:
            generator = torch.Generator(device=self.device)
        except RuntimeError:  # a device without its own generator: draw on the CPU
            generator = torch.Generator()
        generator.manual_seed(seed)
        return generator

    def __len__(self) -> int:
        full, rest = divmod(self.num_images, self.batch_size)
        return full if (self.train or rest == 0) else full + 1

    def _randint(self, high: int, size: int) -> torch.Tensor:
        return torch.randint(high, (size,), generator=self.generator, device=self.generator.device).to(self.device)

    def batch(self, index: torch.Tensor):
        """The augmented, normalised batch of rows ``index`` (a (B,) int64 tensor on the device)."""
        size, (h, w) = index.shape[0], (self.height, self.width)
        if self.augment:
            dy = self._randint(2 * self.pad + 1, size)
            dx = self._randint(2 * self.pad + 1, size)
            flip = self._randint(2, size).bool()
            rows = dy[:, None] + self._rows                                     # (B, H)
            cols = torch.where(flip[:, None], dx[:, None] + self._cols.flip(0), dx[:, None] + self._cols)  # (B, W)
            # One flat gather of whole pixels (3 bytes each) does crop and flip together.
            hp, wp = h + 2 * self.pad, w + 2 * self.pad
            flat = (index[:, None, None] * (hp * wp) + rows[:, :, None] * wp + cols[:, None, :]).reshape(-1)
            x = self.images.view(-1, 3).index_select(0, flat).view(size, h, w, 3)
        else:
            x = self.images.index_select(0, index)
        x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW as a view (channels-last strides)
        if self.channels_last:
            x = x.float()
        else:  # cast and reorder in one copy; the multiply-add below then runs on contiguous memory
            x = torch.empty((size, 3, h, w), dtype=torch.float32, device=self.device).copy_(x)
        x = x.mul_(self.scale[:, None, None]).add_(self.shift[:, None, None])
        return x, self.labels.index_select(0, index)

    def __iter__(self):
        if self.train:
            order = torch.randperm(self.num_images, generator=self.generator,
                                   device=self.generator.device).to(self.device)
        else:
            order = torch.arange(self.num_images, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.batch(order[start:start + self.batch_size])
