"""The bowl the explorers of lessons 02 and 04 draw on: lessons 01-02's bowl, its contours, a trajectory.

:func:`explorer_bowl` is the one bowl both explorers use (the condition number is lesson 02's
slider; lesson 04's explorer keeps lessons 01-02's κ = 10); :func:`draw_path` draws a run on its
contour lines, as the live explorers and their static grids do.

Example:
    >>> bowl = explorer_bowl()
    >>> bowl.eigenvalues.round(12).tolist(), len(contours(bowl))
    ([1.0, 10.0], 12)
"""
from __future__ import annotations

import numpy as np

from .. import surfaces
from ..arguments import check_range

LAMBDA_MAX = 10.0            # the steep curvature stays fixed, so the wall 2/λ_max does not move
KAPPA = 10.0                 # the condition number of lessons 01 and 02
ANGLE_DEG = 30.0             # the bowl of lessons 01 and 02
W0 = (-1.8, 1.2)             # the start of lessons 01 and 02
VIEW = 2.5                   # the plots show [-VIEW, VIEW]²
LEVELS = tuple(np.geomspace(0.02, 40.0, 12))  # loss values of the contour lines


def explorer_bowl(kappa: float = KAPPA, lambda_max: float = LAMBDA_MAX, angle_deg: float = ANGLE_DEG):
    """The explorers' bowl: curvatures (lambda_max / kappa, lambda_max), axes rotated by angle_deg."""
    kappa = check_range(kappa, "kappa", 1, hint="it is a condition number λ_max/λ_min")
    return surfaces.make_bowl((lambda_max / kappa, lambda_max), angle_deg=angle_deg)


def contours(bowl, levels=LEVELS) -> list:
    """The bowl's contour lines, one closed (num_points, 2) curve per loss value in ``levels``."""
    return [bowl.level_curve(c) for c in levels]


def draw_path(ax, bowl, points):
    """Draw ``bowl``'s contours and the run ``points`` (k+1, 2) on ``ax``; return (contour lines, path line).

    The explorers move these lines (``set_data``) when a slider moves, instead of drawing again.
    """
    lines = [ax.plot(*c.T, color="0.6", lw=0.7)[0] for c in contours(bowl)]
    (path,) = ax.plot(*np.asarray(points).T, "o-", color="C3", ms=3, lw=1.2)
    ax.plot(*np.asarray(points)[0], "s", color="C3", ms=6)
    ax.set_xlim(-VIEW, VIEW)
    ax.set_ylim(-VIEW, VIEW)
    ax.set_aspect("equal")
    return lines, path


__all__ = ["explorer_bowl", "contours", "draw_path", "LAMBDA_MAX", "KAPPA", "ANGLE_DEG", "W0", "VIEW", "LEVELS"]
