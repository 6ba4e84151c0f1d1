"""Where a check's message or hint sends the learner ("'<section>' in lesson NN"), the lesson has that section."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"'([^']+)' in lesson (\d\d)")


def references() -> list:
    """(file, section, lesson) for every reference in the checks' source (string literals split over lines joined)."""
    found = []
    for path in sorted((ROOT / "course_utils" / "checks").glob("lesson*.py")):
        source = re.sub(r"\"\s*\n\s*(?:f)?\"", "", path.read_text())
        found += sorted({(path.name, section, lesson) for section, lesson in REFERENCE.findall(source)})
    return found


def headings(lesson: str) -> list:
    (path,) = (ROOT / "notebooks" / "solutions").glob(f"{lesson}_*.ipynb")
    nb = nbformat.read(path, as_version=4)
    return [line.lstrip("#").strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("#")]


def test_the_checks_point_to_sections():
    assert len(references()) >= 9   # the test below has something to test
    assert not any("A missing section" in heading for heading in headings("02"))


@pytest.mark.parametrize("where, section, lesson", references())
def test_each_referenced_section_exists(where, section, lesson):
    assert any(section in heading for heading in headings(lesson)), (
        f"{where} sends learners to '{section}' in lesson {lesson}, which has no such heading: {headings(lesson)}")
