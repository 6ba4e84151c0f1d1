"""How much tuning an optimizer needs: learning-rate sweeps on several problems and seeds, read per seed.

A sweep of one optimizer on one problem and one seed is a :class:`~course_utils.grid_search.GoodRange`
(the final loss of every learning rate of a grid, its best and the good range around it). Lesson 04
compares optimizers by what those sweeps say, seed by seed, so that each comparison is one number
per seed and its uncertainty comes from :mod:`course_utils.stats`:

* :func:`best_lr_spread` -- how far (in decades) the best learning rate moves between problems;
* :func:`mean_width` -- how wide the good range is, on average over problems (decades);
* :func:`excess_at` -- how far above the best a given learning rate ends (decades of final loss);
* :func:`worst_excess` -- how far above the best the worst learning rate of the grid ends.

A deterministic problem (a bowl) has one sweep; :func:`per_seed` repeats it for every seed so
that every problem has one sweep per seed.

Example:
    >>> from course_utils import grid_search
    >>> a = grid_search.good_range([1e-3, 1e-2, 1e-1], [0.5, 0.2, 0.21], factor=1.1)
    >>> b = grid_search.good_range([1e-3, 1e-2, 1e-1], [0.2, 0.3, 0.9], factor=1.1)
    >>> round(best_lr_spread([a, b]), 2), round(mean_width([a, b]), 2), round(excess_at(a, 1e-3), 3)
    (1.0, 0.5, 0.398)
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from .tables import html_table

CAP_DECADES = 9.0   # a diverged run's excess, and the most any run's excess counts for


def per_seed(sweeps: Sequence, num_seeds: int) -> list:
    """``sweeps`` (one per seed, or one for a deterministic problem) as a list of ``num_seeds`` sweeps."""
    sweeps = list(sweeps)
    if len(sweeps) == 1:
        return sweeps * num_seeds
    if len(sweeps) != num_seeds:
        raise ValueError(f"expected one sweep or {num_seeds} (one per seed), got {len(sweeps)}.")
    return sweeps


def best_lr_spread(sweeps: Sequence) -> float:
    """log10(largest / smallest best learning rate) over ``sweeps`` (one per problem): decades."""
    best = [r.best_lr for r in sweeps]
    return math.log10(max(best) / min(best))


def mean_width(sweeps: Sequence) -> float:
    """The mean width of the good range over ``sweeps`` (one per problem), in decades."""
    return float(np.mean([r.width_decades for r in sweeps]))


def _index(r, lr: float) -> int:
    i = int(np.argmin(np.abs(np.log(r.lrs / lr))))
    if not math.isclose(r.lrs[i], lr, rel_tol=1e-6):
        raise ValueError(f"lr {lr:g} is not on the sweep's grid ({r.lrs[0]:g} to {r.lrs[-1]:g}); sweep a grid that "
                         "holds it.")
    return i


def excess_at(r, lr: float) -> float:
    """log10(final loss at ``lr`` / the best final loss): 0 at the best; a diverged run counts as
    :data:`CAP_DECADES` (and no run counts for more)."""
    loss = r.final_losses[_index(r, lr)]
    return min(math.log10(loss / r.best_loss), CAP_DECADES) if np.isfinite(loss) else CAP_DECADES


def worst_excess(r) -> float:
    """The largest :func:`excess_at` over the sweep's grid (decades)."""
    return max(excess_at(r, lr) for lr in r.lrs)


def table(ranges: Mapping, problems: Sequence[str], names: Sequence[str], lr: float, label) -> str:
    """An HTML table: per problem and optimizer, the best lr of each seed, the good range's mean width
    (decades), how often ``lr`` lies in the good range, and the worst excess. ``ranges[problem, name]``
    is a list of sweeps (one per seed); ``label(lr)`` writes a learning rate."""
    header = ["problem", "optimizer", "best lr (per seed)", "good range width (decades)",
              f"{label(lr)} in the good range", "worst lr tried: final loss / best"]
    rows = []
    for problem in problems:
        for name in names:
            rs = ranges[problem, name]
            worst = max(worst_excess(r) for r in rs)
            diverged = not all(np.isfinite(r.final_losses).all() for r in rs)
            rows.append([problem, name, ", ".join(label(r.best_lr) for r in rs), f"{mean_width(rs):.2f}",
                         f"{sum(r.contains(lr) for r in rs)} of {len(rs)}",
                         "diverged" if diverged else f"{10 ** worst:.3g}"])
    return html_table(header, rows)


def lr_text(lr: float) -> str:
    """A learning rate as the course writes it, to two significant digits: ``1e-3``, ``0.032``, ``3e-5``.

    Example:
        >>> lr_text(10 ** -1.5), lr_text(1e-3)
        ('0.032', '1e-3')
    """
    from .training import lr_label

    return lr_label(float(f"{lr:.2g}"))


__all__ = ["CAP_DECADES", "per_seed", "best_lr_spread", "mean_width", "excess_at", "worst_excess", "table", "lr_text"]
