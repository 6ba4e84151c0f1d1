"""Claims about the learning rate as data, and the verdicts a lesson's measurements give them.

A **claim** is a statement as it is commonly made ("a large learning rate trains faster but is
unstable"), broken into **parts**, each a measured comparison with its uncertainty. One rule
(:func:`rule`) turns the parts into a verdict:

* ``CONFIRMED``  -- every part holds;
* ``REFUTED``    -- every part fails;
* ``QUALIFIED``  -- some parts hold and some fail (true only in part);
* ``UNRESOLVED`` -- the measurement cannot tell (a part whose interval contains the threshold,
  or too few seeds), and what was decided does not already show the claim is only partly true.

A part is made by :func:`compare` (a difference with its interval, decided by
:func:`course_utils.stats.decide`), :func:`exact` (a deterministic measurement: a bowl, a closed
form), or :func:`share` (how many seeds did something). A lesson declares its claims and the
sentences of its prose that state measured outcomes in one :class:`LessonClaims`; each claim
carries the verdict the lesson's prose expects, and :meth:`LessonClaims.report` shows the
verdicts and fails (an ``AssertionError`` naming what flipped) when an expectation stops holding.

Its output carries the claims as data too (the ``application/vnd.course.claims+json`` part of
the display), from which ``python -m course_utils.release`` builds the course's ledger
(:func:`ledger_markdown`).

Example:
    >>> from course_utils import claims, stats
    >>> lesson = claims.LessonClaims("01", mode="cpu")
    >>> lesson.claim(3, [claims.exact("much slower than moderate", 502 > 5 * 34, "502 steps against 34")],
    ...              expect=claims.CONFIRMED)
    >>> lesson.expect("the reference run stops and reports divergence", True)
    >>> print(lesson.summary())     # lesson 01 also tests claim 1 (COURSE_DESIGN section 9), not yet declared
    lesson 01: 1 claim and 1 expectation, 1 NOT as expected
    >>> lesson.undeclared()
    [1]
    >>> print(lesson.text())
    claim 3 (a small lr is very slow): CONFIRMED -- much slower than moderate: 502 steps against 34
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from . import stats

CONFIRMED, QUALIFIED, REFUTED, UNRESOLVED = "CONFIRMED", "QUALIFIED", "REFUTED", "UNRESOLVED"
VERDICTS = (CONFIRMED, QUALIFIED, REFUTED, UNRESOLVED)
MIME = "application/vnd.course.claims+json"

# The course's list of claims (COURSE_DESIGN.md, section 9): the statement as commonly made, and a short name.
STATEMENTS: dict[int, tuple[str, str]] = {
    1: ("a large learning rate (e.g. 1e-2) can converge faster but overshoots, is unstable, its loss noisy, "
        "and may diverge", "a large lr is fast but unstable"),
    2: ("a moderate learning rate (1e-3) is a good middle ground: stable, smooth, generalizes",
        "a moderate lr is a good middle ground"),
    3: ("a small learning rate (1e-5) converges very slowly and may not reach good performance in reasonable "
        "time", "a small lr is very slow"),
    4: ("a small learning rate risks getting stuck on plateaus or in shallow local minima",
        "a small lr gets stuck"),
    5: ("a large learning rate gives poorer validation accuracy / generalization",
        "a large lr generalizes worse"),
    6: ("too high a learning rate may overfit; too low may underfit", "too high overfits, too low underfits"),
    7: ("a higher learning rate always trains faster", "higher is always faster"),
    8: ("the learning rate must stay constant", "the lr must stay constant"),
    9: ("start with a larger learning rate, then reduce it (step decay, exponential decay, one-cycle)",
        "start large, then reduce"),
    10: ("reduce the learning rate by a factor of 10 when the loss plateaus", "divide by 10 on a plateau"),
    11: ("adaptive methods (AdaGrad, RMSProp, Adam) reduce the need for manual tuning, though the initial "
         "learning rate still matters", "adaptive methods need less tuning"),
    12: ("0.001 is a good default, especially with Adam", "1e-3 is a good default"),
    13: ("a learning-rate finder or a grid search finds a good learning rate", "a finder finds a good lr"),
    14: ("0.1 is fast but unstable, 0.01 moderate and stable, 0.001 slow and very stable",
         "0.1 fast, 0.01 moderate, 0.001 slow"),
    15: ("the PyTorch basics: optim.SGD(model.parameters(), lr=0.01), zero_grad, backward, step",
         "the PyTorch basics"),
    16: ("double the batch size, double the learning rate", "double the batch, double the lr"),
    17: ("the best learning rate of a small model works for a big one", "a small model's best lr transfers"),
    18: ("a larger batch always trains faster", "a larger batch is always faster"),
}


# The lessons that test each claim (COURSE_DESIGN.md, section 9, the table's last column): a lesson's
# verify() fails while one of its claims is not declared (its claims cell has not run, or lost one).
TESTED_IN: dict[int, tuple[str, ...]] = {
    1: ("01", "02", "07"), 2: ("07",), 3: ("01", "02", "07"), 4: ("02",), 5: ("07",), 6: ("07",), 7: ("02",),
    8: ("05",), 9: ("05",), 10: ("05",), 11: ("04",), 12: ("04", "06", "07"), 13: ("06",), 14: ("07", "08"),
    15: ("03",), 16: ("09",), 17: ("09",), 18: ("09",),
}


@dataclass(frozen=True)
class Part:
    """One measured part of a claim: whether it ``holds`` (``None``: the measurement cannot tell)
    and ``measured``, one line saying what was measured, with its uncertainty."""

    name: str
    holds: bool | None
    measured: str

    def __post_init__(self):
        if self.holds not in (True, False, None):
            raise ValueError(f"part {self.name!r}: holds must be True, False or None, got {self.holds!r}.")

    @property
    def outcome(self) -> str:
        return {True: "holds", False: "fails", None: "cannot tell"}[self.holds]

    def to_dict(self) -> dict:
        return {"name": self.name, "holds": self.holds, "measured": self.measured}


def compare(name: str, interval: stats.Interval, *, expect: str = "greater", threshold: float = 0.0,
            min_seeds: int = stats.MIN_SEEDS, measured: str = "") -> Part:
    """A part that holds when ``interval`` lies on the ``expect`` side (``'greater'``/``'less'``) of ``threshold``.

    Decided by :func:`course_utils.stats.decide`: an interval containing the threshold, or fewer
    than ``min_seeds`` seeds, leaves the part undecided. ``measured`` describes the quantity
    (e.g. ``"val acc, 1e-3 minus 1e-5"``); the interval is appended.

    Example:
        >>> iv = stats.paired_difference([0.47, 0.49, 0.46], [0.25, 0.24, 0.27])
        >>> compare("1e-3 beats 1e-5", iv, measured="val acc difference").holds
        True
    """
    if expect not in ("greater", "less"):
        raise ValueError(f"expect must be 'greater' or 'less', got {expect!r}.")
    decision = stats.decide(interval, min_seeds=min_seeds, threshold=threshold)
    holds = None if decision == "unresolved" else decision == expect
    text = f"{measured}: {interval}" if measured else str(interval)
    if interval.seeds < min_seeds:
        text += f"; fewer than {min_seeds} seeds, so no verdict"
    return Part(name, holds, text)


def exact(name: str, holds: bool, measured: str) -> Part:
    """A part decided by a deterministic measurement (no seed, no sampling: a bowl, a closed form)."""
    return Part(name, bool(holds), measured)


def share(name: str, k: int, n: int, *, at_least: float | None = None, at_most: float | None = None,
          measured: str = "") -> Part:
    """A part about how many of ``n`` seeds did something (``k``): holds when the share's Wilson
    interval lies wholly at or above ``at_least`` (or at or below ``at_most``), fails when it lies
    wholly on the other side, and cannot tell otherwise.

    Example:
        >>> share("the large lr usually dies", 6, 6, at_least=0.5).outcome
        'holds'
        >>> share("the large lr usually dies", 2, 3, at_least=0.5).outcome
        'cannot tell'
    """
    if (at_least is None) == (at_most is None):
        raise ValueError("give exactly one of at_least or at_most (a share between 0 and 1).")
    p = stats.proportion(k, n)
    if at_least is not None:
        holds = True if p.low >= at_least else False if p.high < at_least else None
    else:
        holds = True if p.high <= at_most else False if p.low > at_most else None
    return Part(name, holds, f"{measured + ': ' if measured else ''}{p}")


def rule(parts: Iterable[Part]) -> str:
    """The verdict of a claim from its parts (the course's one rule; see the module's docstring).

    Example:
        >>> rule([Part("a", True, ""), Part("b", False, "")]), rule([Part("a", True, ""), Part("b", None, "")])
        ('QUALIFIED', 'UNRESOLVED')
    """
    outcomes = [p.holds for p in parts]
    if not outcomes:
        raise ValueError("a claim needs at least one measured part.")
    if True in outcomes and False in outcomes:
        return QUALIFIED
    if None in outcomes:
        return UNRESOLVED
    return CONFIRMED if all(outcomes) else REFUTED


@dataclass
class Claim:
    """A claim of the course's list (``number``) or of the lesson alone (``number`` None), with its parts."""

    number: int | None
    parts: tuple
    statement: str
    short: str
    expected: tuple  # the verdicts the lesson's prose accepts in this mode (empty: none asserted)

    @property
    def verdict(self) -> str:
        return rule(self.parts)

    @property
    def as_expected(self) -> bool:
        return not self.expected or self.verdict in self.expected

    @property
    def label(self) -> str:
        return f"claim {self.number}" if self.number is not None else "the lesson's claim"

    def line(self) -> str:
        """One line: the claim, its verdict, and the parts that decide it (all parts if none failed)."""
        shown = [p for p in self.parts if p.holds is not True] or list(self.parts)
        if self.verdict == QUALIFIED:
            shown = list(self.parts)
        detail = "; ".join(f"{p.name}{'' if p.holds else ' (' + p.outcome + ')'}: {p.measured}" for p in shown)
        return f"{self.label} ({self.short}): {self.verdict} -- {detail}"

    def to_dict(self) -> dict:
        return {"number": self.number, "statement": self.statement, "short": self.short,
                "verdict": self.verdict, "expected": list(self.expected),
                "parts": [p.to_dict() for p in self.parts]}


@dataclass
class Expectation:
    """A sentence of the lesson that states a measured outcome, and whether the run bears it out."""

    sentence: str
    holds: bool


@dataclass
class LessonClaims:
    """The claims one lesson tests, and the measured sentences its prose relies on.

    ``mode`` is the run mode (``rt.mode``): in ``fast`` mode (fewer seeds, smaller runs) a claim
    may come out ``UNRESOLVED`` where the lesson expects a verdict, and that is accepted.
    """

    lesson: str
    mode: str = "cpu"
    claims: list = field(default_factory=list)
    expectations: list = field(default_factory=list)

    def claim(self, number: int | None, parts: Iterable[Part], *, expect: str | Iterable[str] | Mapping | None,
              statement: str | None = None, short: str | None = None) -> None:
        """Declare claim ``number`` (of :data:`STATEMENTS`; ``None`` with ``statement`` for a claim of
        the lesson's own) measured by ``parts``, and the verdict the prose expects.

        ``expect`` is a verdict, several acceptable verdicts, ``None`` (reported, not asserted), or a
        dict by mode (``{"cpu": QUALIFIED, "gpu": None}``) for a claim whose verdict depends on the
        scale of the run.
        """
        parts = tuple(parts)
        if not parts or not all(isinstance(p, Part) for p in parts):
            raise ValueError(f"claim {number}: give a non-empty list of parts made by compare(), exact() or share().")
        if number is not None:
            if number not in STATEMENTS:
                raise ValueError(f"claim {number} is not in the course's list (1-{max(STATEMENTS)}).")
            statement_, short_ = STATEMENTS[number]
            statement, short = statement or statement_, short or short_
        elif not statement:
            raise ValueError("a claim of the lesson's own (number=None) needs its statement.")
        if any(c.number == number and number is not None for c in self.claims):
            raise ValueError(f"claim {number} is declared twice in lesson {self.lesson}.")
        self.claims.append(Claim(number, parts, statement, short or statement, self._expected(expect)))

    def _expected(self, expect) -> tuple:
        if isinstance(expect, Mapping):
            unknown = set(expect) - {"fast", "cpu", "gpu"}
            if unknown:
                raise ValueError(f"expect by mode takes the keys fast, cpu, gpu; got {sorted(unknown)}.")
            expect = expect.get(self.mode, expect.get("cpu"))
        if expect is None:
            return ()
        wanted = (expect,) if isinstance(expect, str) else tuple(expect)
        bad = [v for v in wanted if v not in VERDICTS]
        if bad:
            raise ValueError(f"expected verdicts must be among {', '.join(VERDICTS)}; got {bad}.")
        if self.mode == "fast" and UNRESOLVED not in wanted:
            wanted += (UNRESOLVED,)  # the test suite's tiny runs may not be able to tell
        return wanted

    def expect(self, sentence: str, holds: bool) -> None:
        """Back ``sentence`` (a measured outcome the prose states) with the condition that makes it true."""
        self.expectations.append(Expectation(sentence, bool(holds)))

    def failures(self) -> list:
        """What did not come out as the lesson says, one line each."""
        out = [f"{c.label} ({c.short}) came out {c.verdict}, the lesson expects {' or '.join(c.expected)}: "
               f"rewrite the prose that relies on it. {c.line()}" for c in self.claims if not c.as_expected]
        out += [f"expected, but not measured in this run: {e.sentence}" for e in self.expectations if not e.holds]
        out += [f"claim {n} ({STATEMENTS[n][1]}) is not declared: run the lesson's claims cell (the one that "
                "ends in lesson.report()) before this one" for n in self.undeclared()]
        return out

    def undeclared(self) -> list:
        """Numbers of the course's claims this lesson tests (:data:`TESTED_IN`) that it has not declared."""
        declared = {c.number for c in self.claims}
        return [n for n, lessons in TESTED_IN.items() if self.lesson in lessons and n not in declared]

    def summary(self) -> str:
        """One line that reads the same in every mode while everything holds."""
        n, m = len(self.claims), len(self.expectations)
        counted = f"{n} claim{'s' if n != 1 else ''} and {m} expectation{'s' if m != 1 else ''}"
        bad = self.failures()
        return f"lesson {self.lesson}: {counted}, " + ("all as expected" if not bad else f"{len(bad)} NOT as expected")

    def text(self) -> str:
        """A line per claim, then every expectation that failed."""
        lines = [c.line() for c in self.claims]
        lines += [f"NOT measured: {e.sentence}" for e in self.expectations if not e.holds]
        return "\n".join(lines)

    def verdicts(self) -> dict:
        """``{number: verdict}`` of the course's claims tested here."""
        return {c.number: c.verdict for c in self.claims if c.number is not None}

    def to_records(self) -> dict:
        return {"lesson": self.lesson, "mode": self.mode, "claims": [c.to_dict() for c in self.claims],
                "expectations": [{"sentence": e.sentence, "holds": e.holds} for e in self.expectations]}

    def html(self) -> str:
        rows = []
        for c in self.claims:
            parts = "<br>".join(f"{'&#10003;' if p.holds else '&#10007;' if p.holds is False else '?'} "
                                f"{html.escape(p.name)}: {html.escape(p.measured)}" for p in c.parts)
            colour = {CONFIRMED: "#1b7837", REFUTED: "#b2182b", QUALIFIED: "#8c510a", UNRESOLVED: "#4d4d4d"}
            rows.append(f"<tr><td>{c.number if c.number is not None else '-'}</td>"
                        f"<td>{html.escape(c.statement)}</td>"
                        f"<td style='color:{colour[c.verdict]}'><b>{c.verdict}</b></td>"
                        f"<td style='text-align:left'>{parts}</td></tr>")
        failed = "".join(f"<li>{html.escape(f)}</li>" for f in self.failures())
        return ("<table><thead><tr><th>#</th><th>claim (as commonly stated)</th><th>verdict</th>"
                "<th>what was measured</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
                + (f"<p><b>Not as expected:</b></p><ul>{failed}</ul>" if failed else ""))

    def report(self) -> None:
        """Display the verdicts (HTML in a notebook, the lines as text) with the claims as data, then
        raise ``AssertionError`` listing everything that did not come out as the lesson expects."""
        bundle = {"text/plain": self.text() + "\n" + self.summary(), "text/html": self.html(),
                  MIME: self.to_records()}
        try:
            from IPython.display import display

            display(bundle, raw=True)
        except ImportError:  # outside IPython: the text is enough
            print(bundle["text/plain"])
        self.verify()

    def verify(self) -> str:
        """:meth:`summary` when everything holds; otherwise raise ``AssertionError`` listing what did not."""
        bad = self.failures()
        if bad:
            raise AssertionError(f"lesson {self.lesson}: {len(bad)} claim(s) or sentence(s) not as the lesson "
                                 "says:\n- " + "\n- ".join(bad))
        return self.summary()


# --------------------------------------------------------------------------------------------- ledger

def records_from_notebook(nb) -> dict | None:
    """The claims data a lesson's stored outputs carry (the last :data:`MIME` output), or ``None``."""
    found = None
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if MIME in data:
                found = data[MIME]
    return found


def ledger_markdown(records: Iterable[dict]) -> str:
    """The course's claims ledger as Markdown: every listed claim, its verdict in each lesson that tests
    it, and the measurement behind it in one line; then each lesson's own claims.

    ``records`` are :meth:`LessonClaims.to_records` of the lessons (from their stored outputs).
    """
    records = sorted(records, key=lambda r: r["lesson"])
    by_number: dict[int, list] = {n: [] for n in STATEMENTS}
    own = []
    for record in records:
        for c in record["claims"]:
            if c["number"] is None:
                own.append((record["lesson"], record["mode"], c))
            else:
                by_number.setdefault(c["number"], []).append((record["lesson"], record["mode"], c))
    lines = ["# The claims ledger", "",
             "Every common claim about the learning rate that the course tests, the verdict each lesson's own "
             "measurement gives it, and that measurement in one line. Verdicts follow one rule: CONFIRMED when "
             "every measured part of the claim holds, REFUTED when none does, QUALIFIED when some do and some do "
             "not, UNRESOLVED when the measurement cannot tell (an interval that contains 0, or fewer than "
             f"{stats.MIN_SEEDS} seeds). Intervals are {100 * stats.LEVEL:.0f} % intervals of paired differences "
             "(see `course_utils/stats.py`).", "",
             "Generated by `python -m course_utils.release` from the lessons' stored outputs; do not edit.", "",
             "| # | claim (as commonly stated) | lesson | verdict | what was measured |",
             "|---|---|---|---|---|"]

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    for number, (statement, _) in STATEMENTS.items():
        tested = by_number.get(number, [])
        if not tested:
            lines.append(f"| {number} | {cell(statement)} | - | not tested yet | |")
            continue
        for k, (lesson, mode, c) in enumerate(tested):
            measured = "; ".join(f"{p['name']} ({'holds' if p['holds'] else 'fails' if p['holds'] is False else 'cannot tell'}): "
                                 f"{p['measured']}" for p in c["parts"])
            lines.append(f"| {number if k == 0 else ''} | {cell(statement) if k == 0 else ''} | {lesson} ({mode}) | "
                         f"**{c['verdict']}** | {cell(measured)} |")
    if own:
        lines += ["", "## Claims of the lessons' own", "", "| lesson | claim | verdict | what was measured |",
                  "|---|---|---|---|"]
        for lesson, mode, c in own:
            measured = "; ".join(f"{p['name']}: {p['measured']}" for p in c["parts"])
            lines.append(f"| {lesson} ({mode}) | {cell(c['statement'])} | **{c['verdict']}** | {cell(measured)} |")
    return "\n".join(lines) + "\n"
