"""The course's colour cycle, which stays readable for colour-blind readers.

Matplotlib's default cycle (``tab10``) puts colours that a colour-vision deficiency merges side by
side: simulated for protanomaly (Machado et al. 2009, full severity), its blue and purple (C0,
C4) are 2.4 apart in CAM02-UCS and its orange and green (C1, C2) 3.4; for deuteranomaly its green
and red (C2, C3) are 5.2 apart. Two colours of a ten-colour cycle need about 16 to be told apart
at a glance (the threshold Petroff designed his cycle to). The lessons draw those pairs together (a theory line in C2 beside a
wall in C3, the range test's rules in C2, C3 and C4). So every figure of the course uses
Petroff's ten-colour cycle instead (M. A. Petroff, *Accessible Color Sequences for Data
Visualization*, 2021, arXiv:2107.02270; matplotlib ships it as ``petroff10`` since 3.10), whose
colours stay at least 16 apart under each of the three simulated deficiencies; ``C0``, ``C1``,
... name its colours wherever a figure asks for one. ``tests/test_plotting_style.py`` measures both.

:func:`apply` sets it for the process (:func:`course_utils.runtime.setup` calls it, so every
lesson draws with it); :func:`context` sets it for a ``with`` block only.

Example:
    >>> import matplotlib
    >>> with context():
    ...     matplotlib.colors.to_hex("C0")
    '#3f90da'
"""
from __future__ import annotations

import matplotlib
from cycler import cycler

# Petroff's ten-colour cycle, in its order (public domain, CC0); the same as matplotlib's "petroff10".
CYCLE = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59", "#e76300", "#b9ac70", "#717581",
         "#92dadd")


def rc() -> dict:
    """The matplotlib settings of the course's style: its colour cycle."""
    return {"axes.prop_cycle": cycler(color=list(CYCLE))}


def apply() -> None:
    """Use the course's style for every figure drawn after this call in this process."""
    matplotlib.rcParams.update(rc())


def context():
    """A context manager that uses the course's style inside its ``with`` block only."""
    return matplotlib.rc_context(rc())
