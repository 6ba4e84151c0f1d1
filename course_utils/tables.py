"""Small tables for notebooks: shown as an HTML table in a notebook, as aligned text elsewhere.

A lesson builds the rows from its variables (numbers already formatted as it wants them shown)
and displays the table; nothing here computes.

Example:
    >>> table = Table(["lr", "steps"], [["0.01", "514"], ["0.18", "50"]])
    >>> print(table)
    lr    steps
    0.01  514
    0.18  50
    >>> table._repr_html_().startswith("<table>")
    True
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    """``columns`` (their headings) and ``rows`` (each a list of cells, one per column, as text or numbers).

    A notebook displays it as HTML (``display(table)`` or a cell's last line); ``str(table)`` is the
    plain-text version (a static page or a terminal).
    """

    columns: list
    rows: list = field(default_factory=list)
    caption: str = ""

    def __post_init__(self):
        object.__setattr__(self, "columns", [str(c) for c in self.columns])
        rows = [[str(cell) for cell in row] for row in self.rows]
        bad = [i for i, row in enumerate(rows) if len(row) != len(self.columns)]
        if bad:
            raise ValueError(f"every row needs {len(self.columns)} cells (one per column); rows {bad} do not.")
        object.__setattr__(self, "rows", rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                       for row in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __str__(self) -> str:
        widths = [max(len(row[i]) for row in [self.columns, *self.rows]) for i in range(len(self.columns))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [self.columns, *self.rows]]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    __repr__ = __str__
