"""Run mode, device, seeding and progress bars: the one place that decides how big the work is.

Three modes (see the README):

* ``fast`` -- the test suite and graders: every notebook in about a minute on 2 cores;
* ``cpu``  -- the default without a GPU: a laptop learner, a few minutes per notebook;
* ``gpu``  -- the default with a CUDA or MPS device: full-scale experiments.

``COURSE_MODE`` overrides the default in any direction; ``COURSE_DEVICE`` overrides the
device (``cpu``, ``cuda``, ``cuda:1``, ``mps``). ``COURSE_PROGRESS=0`` turns progress bars off.

Example:
    >>> from course_utils import runtime
    >>> rt = runtime.setup(seed=0)
    >>> rt.mode in runtime.MODES
    True
    >>> num_steps = rt.pick(fast=20, cpu=200, gpu=500)
    >>> num_steps == {"fast": 20, "cpu": 200, "gpu": 500}[rt.mode]
    True
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

MODES = ("fast", "cpu", "gpu")


def _accelerator_available() -> str | None:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return None


def get_mode() -> str:
    """Return the run mode: ``COURSE_MODE`` if set, else ``gpu`` with an accelerator, else ``cpu``."""
    value = os.environ.get("COURSE_MODE", "").strip().lower()
    if value:
        if value not in MODES:
            raise ValueError(
                f"COURSE_MODE={value!r} is not a run mode; use one of {', '.join(MODES)} "
                "(or unset it to let the course choose)."
            )
        return value
    return "gpu" if _accelerator_available() else "cpu"


def get_device():
    """Return the ``torch.device`` to train on: ``COURSE_DEVICE`` if set, else CUDA, MPS or CPU."""
    import torch

    value = os.environ.get("COURSE_DEVICE", "").strip()
    if value:
        try:
            return torch.device(value)
        except RuntimeError as err:
            raise ValueError(f"COURSE_DEVICE={value!r} is not a torch device ({err}); try 'cpu' or 'cuda'.") from None
    return torch.device(_accelerator_available() or "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators so runs repeat."""
    import torch

    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))


def progress_enabled() -> bool:
    """Progress bars are on unless ``COURSE_PROGRESS`` is ``0``/``off``/``false`` (the test suite sets it)."""
    return os.environ.get("COURSE_PROGRESS", "1").strip().lower() not in ("0", "off", "false", "no")


def progress(iterable: Iterable | None = None, **kwargs):
    """A ``tqdm.auto`` progress bar (a widget in Jupyter, stderr elsewhere), off when disabled."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)


@contextlib.contextmanager
def torch_threads(num_threads: int | None):
    """Run torch on ``num_threads`` threads inside the block (``None``: leave it alone), then restore.

    Small tensors (a stack of little networks, a batch of regressions) run faster on one thread:
    on two cores shared with other work, one thread trained a stack of networks 12 times faster
    than two (``python -m course_utils.model_stack``), since the threads wait for each other at
    every small product.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    import torch

    from .arguments import check_int

    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(check_int(num_threads, "num_threads", minimum=1))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Runtime:
    """What a notebook runs with: the mode, the device and the seed."""

    mode: str
    device: Any
    seed: int

    def pick(self, *, fast: Any, cpu: Any, gpu: Any) -> Any:
        """Return the value for the current mode, e.g. ``rt.pick(fast=20, cpu=200, gpu=500)``."""
        return {"fast": fast, "cpu": cpu, "gpu": gpu}[self.mode]

    def __str__(self) -> str:
        import torch

        return f"mode: {self.mode} | device: {self.device} | torch {torch.__version__} | seed {self.seed}"


def setup(seed: int = 0) -> Runtime:
    """Read the mode and device, seed every generator, and return them as a :class:`Runtime`.

    Every figure drawn after it uses the course's colour cycle, readable for colour-blind readers
    (:mod:`course_utils.plotting.style`); in a notebook every figure also gets alt text
    (:mod:`course_utils.alt_text`).

    Example:
        >>> rt = setup(seed=0)
        >>> print(rt)            # doctest: +ELLIPSIS
        mode: ... | device: ... | torch ... | seed 0
    """
    mode = get_mode()
    device = get_device()
    seed_everything(seed)
    from . import alt_text
    from .plotting import style

    style.apply()       # the course's colour cycle (colour-blind safe) for every figure
    alt_text.install()  # in a notebook: every figure's PNG carries alt text saying what it shows
    return Runtime(mode=mode, device=device, seed=int(seed))
