"""The course's colour cycle (course_utils.plotting.style) stays readable for colour-blind readers.

Each colour of the cycle is simulated for protanomaly, deuteranomaly and tritanomaly at full
severity (Machado et al. 2009, as colorspacious implements it) and every pair is compared in
CAM02-UCS, the perceptually uniform space: a pair closer than 16 cannot be told apart at a glance
(the threshold Petroff's cycle was designed to). The simulated colours are used as the model gives
them; clipped to the screen's gamut first, the cycle's closest pair is 14.5 apart, which is also
checked. Matplotlib's default cycle fails the same measurement (1.6 to 5.2 for its closest pairs),
so the test can fail.
"""
import itertools

import matplotlib
import matplotlib.colors as mcolors
import numpy as np
import pytest
from colorspacious import cspace_convert

from course_utils.plotting import style

DEFICIENCIES = ("protanomaly", "deuteranomaly", "tritanomaly")
APART = 16.0          # CAM02-UCS distance two colours of a ten-colour cycle need
APART_CLIPPED = 14.0  # the same with the simulated colours clipped to sRGB


def closest_pair(colors, deficiency=None, clip=False) -> tuple[float, int, int]:
    """The smallest CAM02-UCS distance between two of ``colors`` as a reader with ``deficiency``
    (full severity; None: normal vision) sees them, and which pair that is; ``clip`` clips the
    simulated colours to sRGB."""
    rgb = np.array([mcolors.to_rgb(c) for c in colors])
    if deficiency:
        rgb = cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}, "sRGB1")
        rgb = np.clip(rgb, 0, 1) if clip else rgb
    jab = cspace_convert(rgb, "sRGB1", "CAM02-UCS")
    return min((float(np.linalg.norm(jab[i] - jab[j])), i, j) for i, j in itertools.combinations(range(len(colors)), 2))


@pytest.mark.parametrize("deficiency", (None,) + DEFICIENCIES)
def test_the_course_cycle_keeps_every_pair_apart(deficiency):
    distance, i, j = closest_pair(style.CYCLE, deficiency)
    assert distance >= APART, f"C{i} and C{j} are {distance:.1f} apart for {deficiency or 'normal vision'}"
    distance, i, j = closest_pair(style.CYCLE, deficiency, clip=True)
    assert distance >= APART_CLIPPED, f"clipped to sRGB, C{i} and C{j} are {distance:.1f} apart for {deficiency}"


def test_matplotlibs_default_cycle_fails_the_same_measurement():
    tab10 = [mcolors.to_hex(c) for c in matplotlib.color_sequences["tab10"]]
    worst = {d: closest_pair(tab10, d) for d in DEFICIENCIES}
    assert worst["protanomaly"][0] < 5 and worst["deuteranomaly"][0] < 5, worst
    assert closest_pair(tab10, "protanomaly", clip=True)[0] < APART_CLIPPED
    # the pairs the lessons draw together, as style's docstring says
    assert closest_pair([tab10[0], tab10[4]], "protanomaly")[0] < APART
    assert closest_pair([tab10[2], tab10[3]], "deuteranomaly")[0] < APART


def test_the_cycle_is_petroffs_as_matplotlib_ships_it():
    if "petroff10" not in matplotlib.color_sequences:
        pytest.skip("matplotlib < 3.10 has no petroff10 to compare with")
    assert [c.lower() for c in style.CYCLE] == [mcolors.to_hex(c) for c in matplotlib.color_sequences["petroff10"]]


def test_runtime_setup_draws_every_figure_with_the_cycle():
    from course_utils import runtime

    with matplotlib.rc_context({"axes.prop_cycle": matplotlib.rcParamsDefault["axes.prop_cycle"]}):
        assert mcolors.to_hex("C0") != style.CYCLE[0]
        runtime.setup(seed=0)
        assert [mcolors.to_hex(f"C{k}") for k in range(10)] == list(style.CYCLE)
    with style.context():
        assert mcolors.to_hex("C2") == style.CYCLE[2]
