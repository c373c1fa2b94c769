"""Excel workbooks (.xlsx) through calamine: the first visible worksheet with data, as text columns.

calamine builds the whole rectangle a worksheet spans in memory, empty cells included, before the first row can
be read, so a 5 KB workbook with one cell in A1 and one in XFD1048576 would ask for hundreds of gigabytes. Before
calamine sees a workbook, every part of it is inflated once through the archive limits (which also checks each
part's CRC, so a truncated or damaged file is refused here), and the worksheets' cell references are scanned for
the rectangle they span.

Cells become text as the sheet shows them: text as stored (codes keep their leading zeros when the sheet keeps them
as text), numbers without binary floating-point artefacts (0.1 + 0.2 is "0.3", 1234567.0 is "1234567"), dates as
yyyy-mm-dd, and date-times as yyyy-mm-dd hh:mm:ss. Rows are numbered as Excel numbers them.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import python_calamine
from django.utils.translation import gettext as _

from apps.datasets.ingest.archive import Archive, Member
from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.sniff import raw_text, unique_headers
from apps.datasets.ingest.types import BadRow, DetectedFile, FileFormat, IngestError, RawChunk

# Title rows above the header ("Реєстр декларацій за 2024 рік") fill one cell; a header row fills several.
HEADER_SEARCH_ROWS = 50
_SCAN_BYTES = 4 << 20
_CELL_ROW = re.compile(rb'r="[A-Z]{1,3}([0-9]{1,7})"')
_CELL_COLUMN = re.compile(rb'r="([A-Z]{1,3})[0-9]')
# The namespace prefix the worksheet uses, if any (``<x:sheetData>``): tags are counted with it.
_SHEET_DATA = re.compile(rb"<(\w+:)?sheetData\b")


def corrupt_xlsx() -> IngestError:
    return IngestError(
        "corrupt_xlsx",
        _(
            "The Excel file is damaged or incomplete (was the upload cut short?). Open it in Excel, save it again "
            "and upload it."
        ),
    )


def detect_xlsx(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> DetectedFile:
    with _Worksheet(path, limits) as sheet:
        return DetectedFile(file_format=FileFormat.XLSX, headers=sheet.headers)


def read_xlsx(
    path: Path, detected: DetectedFile, *, chunk_rows: int, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[RawChunk]:
    with _Worksheet(path, limits) as sheet:
        headers = sheet.headers
        width = len(headers)
        rows: list[list[str | None]] = []
        numbers: list[int] = []
        bad_rows: list[BadRow] = []
        for number, cells in sheet.data_rows():
            texts = _texts(cells)
            if texts.count(None) == len(texts):
                continue
            if texts[width:].count(None) != len(texts) - width:
                used = _used_width(texts)
                bad_rows.append(
                    BadRow(
                        row_number=number,
                        rule="field_count",
                        reason=_("expected %(expected)d fields, found %(actual)d")
                        % {"expected": width, "actual": used},
                        raw=raw_text("\t".join(text or "" for text in texts[:used])),
                    )
                )
            else:
                rows.append(texts[:width] if len(texts) >= width else texts + [None] * (width - len(texts)))
                numbers.append(number)
            if len(numbers) + len(bad_rows) >= chunk_rows:
                yield _chunk(headers, rows, numbers, bad_rows)
                rows, numbers, bad_rows = [], [], []
        if numbers or bad_rows:
            yield _chunk(headers, rows, numbers, bad_rows)


def _chunk(
    headers: Sequence[str], rows: list[list[str | None]], numbers: list[int], bad_rows: list[BadRow]
) -> RawChunk:
    columns = list(zip(*rows, strict=True)) if rows else [() for _header in headers]
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in zip(headers, columns, strict=True)})
    return RawChunk(table=table, row_numbers=pa.array(numbers, type=pa.int64()), bad_rows=bad_rows)


def _used_width(texts: Sequence[str | None]) -> int:
    for index in range(len(texts) - 1, -1, -1):
        if texts[index] is not None:
            return index + 1
    return 0


def _texts(cells: Sequence[Any]) -> list[str | None]:
    # Most cells are text: they skip the type dispatch.
    return [(cell or None) if type(cell) is str else cell_text(cell) for cell in cells]


def cell_text(value: Any) -> str | None:
    """A cell as the sheet shows it, or None when it is empty."""
    kind = type(value)
    if kind is float:
        return number_text(value)
    if kind is str:
        return value or None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def number_text(value: float) -> str:
    """Excel keeps 15 significant digits and so do we: what the sheet shows, never 0.30000000000000004."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" not in text and len(text.lstrip("-0.").replace(".", "")) <= 15:
        return text
    text = format(Decimal(format(value, ".15g")), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class _Worksheet:
    """The workbook's first visible worksheet that holds data, its header row and the rows under it."""

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        _check_parts(path, limits)
        # From the open file rather than the path: calamine picks a format by the name's extension, and an upload's
        # name says nothing reliable (a workbook saved as "export.xls" is common).
        self._handle = path.open("rb")
        try:
            self._workbook = python_calamine.CalamineWorkbook.from_filelike(self._handle)
        except python_calamine.CalamineError:
            self._handle.close()
            raise corrupt_xlsx() from None
        try:
            self._rows, self._first_row = self._open_first_sheet()
            self._buffered = list(islice(self._rows, HEADER_SEARCH_ROWS))
            self.headers, self._header_index = self._find_header()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> _Worksheet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._workbook.close()
        self._handle.close()

    def _open_first_sheet(self) -> tuple[Iterator[list[Any]], int]:
        for index, metadata in enumerate(self._workbook.sheets_metadata):
            if metadata.visible != python_calamine.SheetVisibleEnum.Visible:
                continue
            if metadata.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            try:
                sheet = self._workbook.get_sheet_by_index(index)
            except python_calamine.CalamineError:
                raise corrupt_xlsx() from None
            if sheet.start is not None and sheet.height:
                return sheet.iter_rows(), sheet.start[0] + 1
        raise IngestError("empty", _("The workbook has no worksheet with data."))

    def _find_header(self) -> tuple[tuple[str, ...], int]:
        """The first row that fills two cells or more (the first filled row of a one-column sheet)."""
        filled = [(index, _texts(cells)) for index, cells in enumerate(self._buffered)]
        filled = [(index, texts) for index, texts in filled if _used_width(texts)]
        if not filled:
            raise IngestError("empty", _("The workbook has no worksheet with data."))
        index, texts = next(
            ((index, texts) for index, texts in filled if sum(text is not None for text in texts) >= 2), filled[0]
        )
        # Rows are pulled until one with data shows up under the header, so a header-only sheet is known here.
        position = index + 1
        while True:
            if position == len(self._buffered):
                row = next(self._rows, None)
                if row is None:
                    raise IngestError("header_only", _("The file has a header row but no data rows."))
                self._buffered.append(row)
            if _used_width(_texts(self._buffered[position])):
                break
            position += 1
        return unique_headers(texts[: _used_width(texts)]), index

    def data_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(Excel row number, cells) for every row under the header, streamed from calamine's range."""
        for offset in range(self._header_index + 1, len(self._buffered)):
            yield self._first_row + offset, self._buffered[offset]
        for offset, cells in enumerate(self._rows, start=len(self._buffered)):
            yield self._first_row + offset, cells


def _check_parts(path: Path, limits: ReadLimits) -> None:
    """Inflate every part once within the limits, and refuse a worksheet spanning more cells than allowed."""
    with Archive(path, limits=limits, corrupt=corrupt_xlsx()) as archive:
        if "xl/workbook.xml" not in archive.names():
            raise corrupt_xlsx()
        for member in archive.members():
            if member.encrypted:
                raise corrupt_xlsx()
            if member.name.startswith("xl/worksheets/") and member.name.endswith(".xml"):
                rows, columns = _sheet_extent(archive, member)
                if rows * columns > limits.max_sheet_cells:
                    raise IngestError(
                        "sheet_too_large",
                        _(
                            "The worksheet spans %(rows)d rows by %(columns)d columns, more than %(cells)d cells. "
                            "Save it as CSV and upload that instead."
                        )
                        % {"rows": rows, "columns": columns, "cells": limits.max_sheet_cells},
                    )
            else:
                with archive.open(member) as stream:
                    while stream.read(_SCAN_BYTES):
                        pass


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _sheet_extent(archive: Archive, member: Member) -> tuple[int, int]:
    """Rows and columns of the rectangle calamine will allocate for this worksheet (an upper bound).

    Cells normally carry their reference (``r="AC17"``), and calamine places them by it whatever row they sit in.
    A cell without one takes the next column of its row, and a row without one the next row, so when some cells
    lack it the rows and the cells of the widest row are counted as well.
    """
    max_row = widest_row = open_row_cells = row_tags = 0
    refless = False
    columns: set[bytes] = set()
    prefix: bytes | None = None
    tail = b""
    with archive.open(member) as stream:
        while True:
            data = stream.read(_SCAN_BYTES)
            buffer = tail + data
            # Cut after a tag's end, so that no reference is split in two; a tag longer than a read (only a forged
            # file has one) is cut before its last bytes, which is still after any whole reference it holds.
            cut = buffer.rfind(b">") + 1
            if not data:
                cut = len(buffer)
            elif not cut:
                cut = max(0, len(buffer) - 64)
            body, tail = buffer[:cut], buffer[cut:]
            if prefix is None and (found := _SHEET_DATA.search(body)):
                prefix = found.group(1) or b""
            cell_tag, row_tag = b"<%sc" % (prefix or b""), b"<%srow" % (prefix or b"")
            rows = _CELL_ROW.findall(body)
            if rows:
                max_row = max(max_row, *map(int, set(rows)))
            columns.update(_CELL_COLUMN.findall(body))
            row_tags += body.count(row_tag)
            row_end = b"</%srow>" % (prefix or b"")
            if _count_cells(body, cell_tag) > len(rows):
                refless = True
                numbers = re.findall(rb'%s\b[^>]*?\br="([0-9]{1,7})"' % row_tag, body)
                max_row = max(max_row, *map(int, numbers), 0)
                counts = [_count_cells(row, cell_tag) for row in body.split(row_end)]
                counts[0] += open_row_cells
                widest_row = max(widest_row, *counts)
            last_row_end = body.rfind(row_end)
            if last_row_end < 0:
                open_row_cells += _count_cells(body, cell_tag)
            else:
                open_row_cells = _count_cells(body[last_row_end:], cell_tag)
            if not data:
                break
    max_column = max((_column_number(letters) for letters in columns), default=0)
    if refless:
        return max_row + row_tags, max_column + widest_row
    return max_row, max_column


def _count_cells(xml: bytes, cell_tag: bytes) -> int:
    return xml.count(cell_tag + b" ") + xml.count(cell_tag + b">") + xml.count(cell_tag + b"/")
