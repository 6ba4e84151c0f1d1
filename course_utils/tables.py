"""Small tables for notebooks: an HTML table where a notebook renders one, aligned text elsewhere.

Rows are dicts (column name -> value already formatted as text or a number); the columns are the
first row's keys. Displaying a :class:`Table` in Jupyter shows the HTML; ``print`` shows the text.

Example:
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
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in self._cells())
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
