"""Lesson 07's figures: a CNN trained on CIFAR-10 at several learning rates, side by side.

Each function takes the lesson's data (images and labels, ``lr -> History`` mappings, probe
records) and draws it with the course's other figure helpers, adding what every panel of this
lesson shares: the chance level of a 10-class problem (accuracy 1/10, loss ln 10) drawn grey and
dotted, a title on every figure, labelled axes and a legend (so the alt text can say what is drawn).

Example:
    >>> import numpy as np
    >>> from course_utils.training import History
    >>> axes = plot_lr_curves({1e-3: History(val_acc=[0.3, 0.4], train_eval_acc=[0.3, 0.45], val_loss=[2.0, 1.8],
    ...                                      train_eval_loss=[2.0, 1.7], val_size=100, train_eval_size=100)})
    >>> [ax.get_title() for ax in axes][:1], axes[0].figure._suptitle.get_text()[:4]
    (['accuracy'], 'Adam')
"""
from __future__ import annotations

import math
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

from .frame import finish
from .histories import plot_dead_units, plot_step_losses, plot_train_val, plot_update_ratios

CHANCE = dict(color="grey", linestyle=":", linewidth=1)


def _chance_level(num_classes: int) -> tuple[float, float]:
    return 1.0 / num_classes, math.log(num_classes)


def plot_class_examples(images, labels, classes, *, axes=None):
    """The first training image of each class in a row, titled with its class. Returns the axes."""
    if axes is None:
        _, axes = plt.subplots(1, len(classes), figsize=(1.2 * len(classes), 1.6))
    labels = np.asarray(labels)
    for k, ax in enumerate(np.ravel(axes)):
        ax.imshow(images[int(np.flatnonzero(labels == k)[0])])
        ax.set_title(classes[k], fontsize=8)
        ax.axis("off")
    np.ravel(axes)[0].figure.suptitle("the first training image of each class", fontsize=9)
    return axes


def plot_lr_curves(histories: Mapping, *, reference: Mapping | None = None, num_classes: int = 10, axes=None,
                   title: str = "Adam, plain CNN; grey dotted: chance"):
    """Accuracy and loss, training (dashed) and validation (solid), one colour per run, chance dotted.

    ``reference`` (lr -> History) adds a full-scale run's validation curves. Returns the two axes.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    chance_acc, chance_loss = _chance_level(num_classes)
    plot_train_val(histories, "acc", ax=axes[0], reference=reference, title="accuracy")
    plot_train_val(histories, "loss", ax=axes[1], reference=reference, se_band=False, title="loss")
    axes[0].axhline(chance_acc, **CHANCE)
    axes[1].axhline(chance_loss, **CHANCE)
    axes[0].figure.suptitle(f"{title} (accuracy {100 * chance_acc:.0f} %, loss ln {num_classes})")
    axes[0].figure.tight_layout()
    return axes


def plot_probe_panels(records: Mapping, kind: str = "ratio", *, steps_per_epoch: int | None = None,
                      max_epoch: float | None = None, axes=None):
    """One panel per probe record (``title -> ProbeRecord``): update-to-weight ratios (``kind="ratio"``)
    or dead units (``kind="dead"``), panels sharing their y axis. Returns the axes."""
    if kind not in ("ratio", "dead"):
        raise ValueError(f"kind must be 'ratio' or 'dead', got {kind!r}.")
    if axes is None:
        _, axes = plt.subplots(1, len(records), figsize=(4.4 * len(records), 3.8), sharey=True, squeeze=False)
        axes = axes[0]
    draw = plot_update_ratios if kind == "ratio" else plot_dead_units
    for ax, (title, record) in zip(axes, records.items()):
        draw(record, steps_per_epoch=steps_per_epoch, ax=ax, title=title)
        if max_epoch is not None:
            ax.set_xlim(-0.2, max_epoch + 0.2)
    axes[0].figure.tight_layout()
    return axes


def plot_step_losses_at_chance(histories: Mapping, *, window: int, num_classes: int = 10, ax=None):
    """Per-step minibatch losses (faint) and their running means, with chance (ln 10) dotted; the y axis
    stops at 1.5 x chance so that a run's first steps far above it do not squash the rest."""
    _, chance_loss = _chance_level(num_classes)
    ax = plot_step_losses(histories, window=window, ax=ax,
                          title="per-step minibatch loss (faint) and its running mean; grey dotted: chance")
    ax.axhline(chance_loss, **CHANCE)
    ax.set_ylim(0, 1.5 * chance_loss)
    return ax


def plot_epoch_comparison(runs: Mapping, num_epochs: int, *, axes=None):
    """Training loss and validation accuracy of each run (``label -> History``) over its first ``num_epochs``
    epochs, one marker per epoch. Returns the two axes."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4))
    for label, history in runs.items():
        epochs = np.arange(1, min(num_epochs, history.num_epochs) + 1)
        axes[0].plot(epochs, history.train_loss[:len(epochs)], marker="o", markersize=3, label=label)
        axes[1].plot(epochs, history.val_acc[:len(epochs)], marker="o", markersize=3, label=label)
    finish(axes[0], "epoch", "training loss (mean over the epoch's batches)", "training loss", legend_size="x-small")
    finish(axes[1], "epoch", "validation accuracy", "validation accuracy", legend_size="x-small")
    axes[0].figure.suptitle(f"the same CNN, other models and optimizers: the first {num_epochs} epochs")
    axes[0].figure.tight_layout()
    return axes
