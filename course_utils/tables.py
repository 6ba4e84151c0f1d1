"""Wide tables in a notebook as HTML (no pandas): a header and rows of already formatted cells.

Example:
    >>> print(html_table(["lr", "floor"], [["0.1", "0.09"]]))
    <table><thead><tr><th>lr</th><th>floor</th></tr></thead><tbody><tr><td>0.1</td><td>0.09</td></tr></tbody></table>
"""
from __future__ import annotations

import html
from typing import Sequence


def html_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """The table as HTML; every cell is shown as its ``str`` and escaped."""
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} cells but the header has {width}: give one cell per column.")

    def cells(tag, values):
        return "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values)

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"
