"""tools/plumbing.py: issue 20's measure of how much of a notebook is plumbing."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("plumbing", ROOT / "tools" / "plumbing.py")
plumbing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plumbing)


@pytest.mark.parametrize("source, kind", [
    ("fig, ax = plt.subplots()\nax.set_title('loss')", "matplotlib"),
    ("axes[0].plot(x, y)", "matplotlib"),
    ("def f(w):\n    return 0.5 * w @ A @ w", "helpers"),
    ("se = math.sqrt(p * (1 - p) / n)", "statistics"),
    ("def verdict(a, b):\n    return 'OK' if a > b else 'FAIL'", "statistics"),
    ("print(verdict(acc, 0.5))", "statistics"),
    ("lesson.expect('moderate ends lowest', loss['moderate'] < loss['small'])", "claims"),
    ("lesson.claim(3, [claims.compare('slow', diff(1e-3, 1e-5))], expect=claims.CONFIRMED)", "claims"),
    ("axes = plotting.plot_lr_curves(histories)", "idea"),
    ("runs = lr_comparison.repeat_over_seeds(arrays, settings, seeds)", "idea"),
])
def test_each_statement_is_sorted_into_its_kind(source, kind):
    counts = plumbing.classify(source)
    assert counts[kind] == len(source.splitlines())
    assert sum(counts[k] for k in plumbing.KINDS) == counts[kind]


def test_a_solution_cell_is_all_idea_and_comments_and_blank_lines_do_not_count():
    source = "# Exercise: the step\ndef gd_step(w, grad, lr):\n\n    return w - lr * grad(w)\n"
    assert plumbing.classify(source, solution=True)["idea"] == 2
    assert plumbing.classify(source)["helpers"] == 2


def test_measurement_lines_in_a_claims_cell_are_idea_now_and_were_plumbing_under_the_first_rule():
    source = ("overshot = runs.per_seed(lambda h: max(h.step_loss) > 2 * h.step_loss[0])\n"
              "lesson.claim(1, [claims.share('overshoots', overshot.sum(), 3)])\nlesson.report()\n")
    counts = plumbing.classify(source)
    assert (counts["idea"], counts["claims"], counts["first_version"]) == (1, 2, 3)


def test_measure_gives_the_share_of_plumbing_and_skips_title_and_colab_cells(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys\nprint(1)\nprint(2)", metadata={"course": {"role": "colab"}}),
                nbformat.v4.new_code_cell("x = 1\ny = 2\nz = x + y"),
                nbformat.v4.new_code_cell("plt.show()"),
                nbformat.v4.new_code_cell("lesson.expect('z is 3', z == 3)"),
                nbformat.v4.new_code_cell("def answer():\n    return 3", metadata={"course": {"role": "solution"}})]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    m = plumbing.measure(path)
    assert (m["lines"], m["idea"], m["matplotlib"], m["claims"], m["plumbing"]) == (7, 5, 1, 1, 1)
    assert m["share"] == pytest.approx(1 / 7) and m["first_version_share"] == pytest.approx(2 / 7)


def test_every_lesson_is_at_most_15_percent_plumbing():
    shares = {p.name: plumbing.measure(p)["share"] for p in sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))}
    assert len(shares) >= 9
    assert {name: round(100 * s, 1) for name, s in shares.items() if s > 0.15} == {}
