"""Making stored values safe to hand to a spreadsheet.

Files are loaded as they are: a cell reading ``=cmd|' /C calc'!A0`` is data, kept verbatim. But a spreadsheet
that opens an exported CSV runs a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or a carriage return
before one of them) as a formula — CSV injection (OWASP). Every export that writes stored values into a file a
spreadsheet may open passes each cell through ``escape_formula``: such a cell gets a leading apostrophe, which
spreadsheets show as text and do not evaluate. Plain numbers (``-12.50``) are left alone, so amounts stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def escape_formula(value: Any) -> str:
    """The cell as text a spreadsheet will not evaluate; ``None`` becomes an empty cell."""
    if value is None:
        return ""
    text = str(value)
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    if text.lstrip(" ").startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV lines of the rows with every cell escaped: feed to a StreamingHttpResponse or a file."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([escape_formula(cell) for cell in row])
