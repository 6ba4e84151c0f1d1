"""Print how long the lesson-02 explorer takes per redraw: ``python -m course_utils.widgets``."""
import matplotlib

matplotlib.use("Agg")

from .lr_explorer import BENCHMARK_SETTINGS, redraw_timings  # noqa: E402

for (lr, kappa), seconds in zip(BENCHMARK_SETTINGS, redraw_timings()):
    print(f"lr = {lr:<6g} κ = {kappa:<5g}: redraw {seconds * 1000:6.1f} ms (best of 3)")
