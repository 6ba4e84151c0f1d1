"""Small tables for notebooks, without pandas: an HTML table where a notebook renders one, aligned text
elsewhere.

* :func:`html_table` -- a header and rows of cells as one HTML string (for ``display(HTML(...))``);
* :class:`Table` -- rows as dicts (column name -> value); displaying it in Jupyter shows the HTML,
  ``print`` shows aligned text.

Example:
    >>> print(html_table(["lr", "floor"], [["0.1", "0.09"]]))
    <table><thead><tr><th>lr</th><th>floor</th></tr></thead><tbody><tr><td>0.1</td><td>0.09</td></tr></tbody></table>
    >>> t = Table([{"lr": "0.01", "sharpness": 142.6}, {"lr": "0.05", "sharpness": 46.1}])
    >>> print(t)
      lr | sharpness
    0.01 |     142.6
    0.05 |      46.1
    >>> "<th>sharpness</th>" in t._repr_html_()
    True
"""
from __future__ import annotations

import html
from dataclasses import dataclass
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


@dataclass
class Table:
    """``rows``: a list of dicts with the same keys; ``caption``: an optional line above the table."""

    rows: list
    caption: str = ""

    def __post_init__(self):
        if not self.rows or not all(isinstance(r, dict) and list(r) == list(self.rows[0]) for r in self.rows):
            raise ValueError("a Table needs a non-empty list of dicts with the same keys in the same order.")

    @property
    def columns(self) -> list:
        return list(self.rows[0])

    def _cells(self) -> list:
        return [[str(r[c]) for c in self.columns] for r in self.rows]

    def __str__(self) -> str:
        cells = self._cells()
        widths = [max(len(c), *(len(row[k]) for row in cells)) for k, c in enumerate(self.columns)]
        lines = [" | ".join(c.rjust(w) for c, w in zip(self.columns, widths))]
        lines += [" | ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table(self.columns, self._cells(), self.caption)
