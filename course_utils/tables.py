"""Small tables for notebooks, without pandas: an HTML table where a notebook renders one, aligned text
elsewhere. A lesson builds the rows from its variables (numbers already formatted as it wants them
shown); nothing here computes.

* :func:`html_table` -- a header and rows of cells as one HTML string (for ``display(HTML(...))``);
* :class:`Table` -- displayed in Jupyter it shows the HTML, ``print`` shows aligned text. Give it
  ``Table(columns, rows)`` (headings, then rows of cells) or ``Table(records)`` (dicts with the
  same keys, the keys being the headings).

Example:
    >>> print(html_table(["lr", "floor"], [["0.1", "0.09"]]))
    <table><thead><tr><th>lr</th><th>floor</th></tr></thead><tbody><tr><td>0.1</td><td>0.09</td></tr></tbody></table>
    >>> print(Table(["lr", "steps"], [["0.01", "514"], ["0.18", "50"]]))
    lr    steps
    0.01  514
    0.18  50
    >>> t = Table([{"lr": "0.01", "sharpness": 142.6}, {"lr": "0.05", "sharpness": 46.1}])
    >>> print(t)
    lr    sharpness
    0.01  142.6
    0.05  46.1
    >>> "<th>sharpness</th>" in t._repr_html_()
    True
"""
from __future__ import annotations

import html
from typing import Sequence


def html_table(header: Sequence[str], rows: Sequence[Sequence], caption: str = "") -> str:
    """The table as HTML; every cell is shown as its ``str`` and escaped."""
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} cells but the header has {width}: give one cell per column.")

    def cells(tag, values):
        return "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values)

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    caption = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{caption}<thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"


class Table:
    """``Table(columns, rows, caption="")`` or ``Table(records, caption="")``: see the module's docstring."""

    def __init__(self, columns, rows=None, caption: str = ""):
        if rows is None:   # records: a non-empty list of dicts with the same keys in the same order
            records = list(columns) if isinstance(columns, (list, tuple)) else None
            if not records or not all(isinstance(r, dict) and list(r) == list(records[0]) for r in records):
                raise ValueError("a Table of records needs a non-empty list of dicts with the same keys in the same "
                                 "order (or give the columns and the rows: Table(columns, rows)).")
            columns, rows = list(records[0]), [list(r.values()) for r in records]
        self.columns = [str(c) for c in columns]
        self.rows = [[str(cell) for cell in row] for row in rows]
        self.caption = caption
        bad = [i for i, row in enumerate(self.rows) if len(row) != len(self.columns)]
        if bad:
            raise ValueError(f"every row needs {len(self.columns)} cells (one per column); rows {bad} do not.")

    def _repr_html_(self) -> str:
        return html_table(self.columns, self.rows, self.caption)

    def __str__(self) -> str:
        widths = [max(len(row[i]) for row in [self.columns, *self.rows]) for i in range(len(self.columns))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [self.columns, *self.rows]]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    __repr__ = __str__
