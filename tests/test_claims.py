import re
from pathlib import Path

import nbformat
import pytest

from course_utils import claims, stats
from course_utils.claims import CONFIRMED, QUALIFIED, REFUTED, UNRESOLVED, Part


def parts(*outcomes):
    return [Part(f"p{i}", o, "m") for i, o in enumerate(outcomes)]


@pytest.mark.parametrize("outcomes, verdict", [
    ((True, True), CONFIRMED),
    ((False, False), REFUTED),
    ((True, False), QUALIFIED),
    ((True, False, None), QUALIFIED),   # already known to be true only in part
    ((True, None), UNRESOLVED),
    ((False, None), UNRESOLVED),
    ((None,), UNRESOLVED),
])
def test_rule(outcomes, verdict):
    assert claims.rule(parts(*outcomes)) == verdict


def test_compare_uses_the_decision_rule():
    up = stats.paired_difference([0.5, 0.52, 0.49], [0.3, 0.31, 0.29])
    assert claims.compare("a beats b", up).holds is True
    assert claims.compare("a loses to b", up, expect="less").holds is False
    two = stats.paired_difference([0.5, 0.52], [0.3, 0.31])
    part = claims.compare("a beats b", two)
    assert part.holds is None and "fewer than 3 seeds" in part.measured


def test_lesson_claims_pass_and_fail():
    lesson = claims.LessonClaims("99", mode="cpu")   # a lesson the design assigns no claims to
    lesson.claim(1, parts(True, False), expect=QUALIFIED)
    lesson.expect("the moderate run is best", True)
    assert lesson.verify() == "lesson 99: 1 claim and 1 expectation, all as expected"
    lesson.claim(3, parts(True, True), expect=QUALIFIED)   # the prose says qualified, the run says confirmed
    lesson.expect("the small run is still falling", False)
    with pytest.raises(AssertionError) as err:
        lesson.verify()
    assert "claim 3 (a small lr is very slow) came out CONFIRMED" in str(err.value)
    assert "not measured in this run: the small run is still falling" in str(err.value)


def test_verify_fails_while_a_claim_the_lesson_tests_is_not_declared():
    lesson = claims.LessonClaims("05", mode="cpu")
    lesson.expect("the schedule ends lower", True)
    with pytest.raises(AssertionError) as err:   # the claims cell never ran: no "all as expected"
        lesson.verify()
    assert all(f"claim {n} (" in str(err.value) for n in (8, 9, 10)) and "not declared" in str(err.value)
    lesson.claim(8, parts(True), expect=CONFIRMED)
    lesson.claim(9, parts(True), expect=CONFIRMED)
    assert lesson.undeclared() == [10]
    lesson.claim(10, parts(True, False), expect=QUALIFIED)
    assert lesson.verify() == "lesson 05: 3 claims and 1 expectation, all as expected"


def test_the_lessons_each_claim_is_tested_in_are_the_design_maps():
    design = Path(__file__).resolve().parents[2] / "shared" / "COURSE_DESIGN.md"
    if not design.exists():
        pytest.skip("../shared/COURSE_DESIGN.md is not beside the repository")
    rows = re.findall(r"^\| (\d+) \| .* \| ([\d, ]+) \|$", design.read_text(), re.M)
    table = {int(n): tuple(lesson.strip() for lesson in lessons.split(",")) for n, lessons in rows}
    assert table == claims.TESTED_IN


def test_fast_mode_accepts_unresolved_only_there():
    for mode, ok in (("fast", True), ("cpu", False)):
        lesson = claims.LessonClaims("99", mode=mode)
        lesson.claim(9, parts(None), expect=CONFIRMED)
        assert (lesson.failures() == []) is ok


def test_expectation_by_mode():
    lesson = claims.LessonClaims("99", mode="gpu")
    lesson.claim(5, parts(True, True), expect={"cpu": QUALIFIED, "gpu": None})
    assert lesson.failures() == []
    with pytest.raises(ValueError, match="keys fast, cpu, gpu"):
        lesson.claim(6, parts(True), expect={"laptop": CONFIRMED})


def test_declaration_errors():
    lesson = claims.LessonClaims("01")
    with pytest.raises(ValueError, match="not in the course's list"):
        lesson.claim(99, parts(True), expect=CONFIRMED)
    with pytest.raises(ValueError, match="needs its statement"):
        lesson.claim(None, parts(True), expect=CONFIRMED)
    with pytest.raises(ValueError, match="non-empty list of parts"):
        lesson.claim(1, [], expect=CONFIRMED)
    lesson.claim(1, parts(True), expect=CONFIRMED)
    with pytest.raises(ValueError, match="declared twice"):
        lesson.claim(1, parts(True), expect=CONFIRMED)
    with pytest.raises(ValueError, match="verdicts must be among"):
        lesson.claim(2, parts(True), expect="TRUE")


def test_share():
    assert claims.share("dies", 5, 6, at_least=0.2).holds is True
    assert claims.share("dies", 0, 6, at_least=0.5).holds is False
    assert claims.share("rarely dies", 1, 3, at_most=0.5).holds is None


def test_report_carries_the_claims_as_data_and_the_ledger_reads_them(capsys):
    lesson = claims.LessonClaims("02", mode="cpu")
    lesson.claim(7, [claims.exact("the largest stable lr is slowest", True, "240 steps against 50")],
                 expect=CONFIRMED)
    lesson.claim(None, parts(True), expect=CONFIRMED, statement="the best lr sits at 2/(λmin+λmax)")
    records = lesson.to_records()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("lesson.report()", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/plain": lesson.text(), claims.MIME: records})]))
    nbformat.validate(nb)
    assert claims.records_from_notebook(nb) == records
    page = claims.ledger_markdown([records])
    assert "| 7 | a higher learning rate always trains faster | 02 (cpu) | **CONFIRMED** |" in page
    assert "| 16 | double the batch size, double the learning rate | - | not tested yet | |" in page
    assert "the best lr sits at 2/(λmin+λmax)" in page
