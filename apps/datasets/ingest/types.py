"""The contract between the readers (bytes → raw rows) and the pipeline (raw rows → typed, masked, loaded records).

Readers never interpret values: every cell is text (or missing). Typing, validation and masking belong to the
pipeline, so one set of rules serves every format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    TELEGRAM_JSON = "telegram_json"
    PDF = "pdf"
    ZIP = "zip"


class IngestError(Exception):
    """The whole file cannot be read. ``code`` is stable (tests, API clients); ``message`` is for the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DetectedFile:
    file_format: FileFormat
    encoding: str = ""
    delimiter: str = ""
    # Header cells as they appear in the file (tabular formats only).
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class BadRow:
    """A row the reader could not split into the header's columns (too many or too few fields, an endless line)."""

    row_number: int
    rule: str
    reason: str
    raw: str


@dataclass
class RawChunk:
    """Consecutive rows as text columns named by the file's headers; ``row_numbers`` are 1-based source rows.

    A source row is what a spreadsheet shows as one row (the header is row 1; a quoted line break stays inside its
    row), so for nearly every CSV it is also the line number.
    """

    table: pa.Table
    row_numbers: pa.Array
    bad_rows: list[BadRow] = field(default_factory=list)
    # The file inside a ZIP upload these rows come from (row numbers count within it); "" for the upload itself.
    source: str = ""


RawChunks = Iterator[RawChunk]
