"""Delimited text (CSV, semicolon-separated, TSV): detection of its shape, and streaming into text columns.

pyarrow's streaming reader does the parsing. It runs on one thread so that it can number the rows it rejects (the
rows of a multi-threaded read carry no number); one thread already reads a 600 MB export in about 4 s, far inside
the budget of the whole pipeline, and its background read-ahead overlaps with the caller's work on each chunk.

Row numbers are records as a spreadsheet numbers them: the header is row 1, and a quoted value with line breaks
inside still makes one row. For files without such values (nearly all) they are also the line numbers.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.sniff import (
    ENCODING_WINDOW_BYTES,
    ENCODING_WINDOWS,
    detect_encoding,
    raw_text,
    unique_headers,
)
from apps.datasets.ingest.textstream import GuardedTextStream, LongLine
from apps.datasets.ingest.types import BadRow, DetectedFile, FileFormat, IngestError, RawChunk

DELIMITERS = (",", ";", "\t", "|")
SAMPLE_RECORDS = 200
# Put in place of an over-long line so that pyarrow rejects it as a row of the wrong width, keeping its number.
_LONG_LINE_MARKER = "\x1enexus-long-line:"


def detect_csv(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> DetectedFile:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(limits.max_line_bytes + 1)
        windows = []
        if size > len(head):
            step = (size - len(head)) // ENCODING_WINDOWS
            for index in range(1, ENCODING_WINDOWS + 1):
                handle.seek(min(len(head) + index * step, max(len(head), size - ENCODING_WINDOW_BYTES)))
                windows.append(handle.read(ENCODING_WINDOW_BYTES))
    return detect_csv_head(head, windows, whole=len(head) >= size, limits=limits)


def detect_csv_head(
    head: bytes, windows: Sequence[bytes] = (), *, whole: bool, limits: ReadLimits = DEFAULT_LIMITS
) -> DetectedFile:
    """Encoding, delimiter and header from the first bytes of a file (``whole``: they are the entire file)."""
    encoding = detect_encoding(head, windows, head_is_whole_file=whole)
    if not whole and b"\n" not in head and b"\r" not in head:
        raise IngestError(
            "line_too_long",
            _("The first line is longer than %(limit)s, so it cannot be a header row. Is this really a CSV file?")
            % {"limit": filesizeformat(limits.max_line_bytes)},
        )
    text = head.decode(encoding, errors="replace")
    if not whole:
        # The head ends inside a row: sniff on whole lines only.
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
    delimiter = _sniff_delimiter(text, whole=whole)
    records, complete = _records(text, delimiter, whole=whole)
    leading_blank = 0
    while leading_blank < len(records) and _blank(records[leading_blank]):
        leading_blank += 1
    if leading_blank == len(records):
        raise IngestError("empty", _("The file is empty."))
    if complete and all(_blank(record) for record in records[leading_blank + 1 :]):
        raise IngestError("header_only", _("The file has a header row but no data rows."))
    return DetectedFile(
        file_format=FileFormat.CSV,
        encoding=encoding,
        delimiter=delimiter,
        headers=unique_headers(records[leading_blank]),
    )


def _records(text: str, delimiter: str, *, whole: bool, limit: int = SAMPLE_RECORDS) -> tuple[list[list[str]], bool]:
    """The first records of the sample, and whether they are all the sample holds (no more, none cut short)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    records: list[list[str]] = []
    try:
        records.extend(islice(reader, limit + 1))
    except csv.Error:
        # A value over the csv module's field limit, most likely an unclosed quote: the rows before it are the
        # sample, and the rest is left to pyarrow, which says where the file goes wrong.
        return records, False
    if not whole and len(records) > 1:
        # The last record may be cut in the middle (a quoted value spanning the end of the sample).
        records.pop()
    return records[:limit], whole and len(records) <= limit


def _blank(record: Sequence[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _sniff_delimiter(text: str, *, whole: bool) -> str:
    """The delimiter that splits the header into the most columns and the data rows into as many."""

    def score(delimiter: str) -> tuple[float, int]:
        widths = [len(record) for record in _records(text, delimiter, whole=whole)[0] if not _blank(record)]
        if not widths or widths[0] < 2:
            return (0.0, 0)
        data = widths[1:]
        consistency = sum(width == widths[0] for width in data) / len(data) if data else 1.0
        return (consistency, widths[0])

    scores = {delimiter: score(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: scores[delimiter])
    return best if scores[best][1] else ","


class _RowNumbers:
    """Numbers the rows pyarrow returns, knowing which numbers went to the rows it rejected.

    pyarrow reports a rejected row (with its number) to the handler before it returns the batch the row would have
    been in, so when a batch arrives every rejected row before it is known: the batch's rows take the next numbers
    not taken by a rejected row.
    """

    def __init__(self, first: int) -> None:
        self.next = first
        self._lock = threading.Lock()
        self._pending: list[BadRow] = []

    def reject(self, row: BadRow) -> None:
        with self._lock:
            self._pending.append(row)

    def assign(self, count: int) -> np.ndarray:
        with self._lock:
            taken = np.fromiter((row.row_number for row in self._pending), dtype=np.int64)
        candidates = np.arange(self.next, self.next + count + len(taken), dtype=np.int64)
        if len(taken):
            candidates = candidates[~np.isin(candidates, taken)]
        numbers = candidates[:count]
        if count:
            self.next = int(numbers[-1]) + 1
        return numbers

    def settled(self, *, everything: bool = False) -> list[BadRow]:
        """Rejected rows numbered before the next row to come (all of them at the end of the file)."""
        with self._lock:
            done = [row for row in self._pending if everything or row.row_number < self.next]
            self._pending = [row for row in self._pending if not (everything or row.row_number < self.next)]
        return sorted(done, key=lambda row: row.row_number)


def read_csv(
    path: Path,
    detected: DetectedFile,
    *,
    chunk_rows: int,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Iterator[RawChunk]:
    headers = list(detected.headers)
    delimiter = detected.delimiter or ","
    blank_lines = _blank_lines_before_header(path, detected, limits)
    numbers = _RowNumbers(first=blank_lines + 1)
    long_lines: list[LongLine] = []
    line_limit = filesizeformat(limits.max_line_bytes)

    def on_long_line(line: LongLine) -> bytes:
        long_lines.append(line)
        return f"{_LONG_LINE_MARKER}{len(long_lines) - 1}{delimiter * len(headers)}".encode()

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        number = row.number or 0
        text = row.text or ""
        if text.startswith(_LONG_LINE_MARKER):
            line = long_lines[int(text[len(_LONG_LINE_MARKER) :].split(delimiter, 1)[0])]
            numbers.reject(
                BadRow(
                    row_number=number,
                    rule="line_too_long",
                    reason=_("The line is longer than %(limit)s; it was skipped.") % {"limit": line_limit},
                    raw=raw_text(line.prefix),
                )
            )
        elif text.strip():
            numbers.reject(
                BadRow(
                    row_number=number,
                    rule="field_count",
                    reason=_("expected %(expected)d fields, found %(actual)d")
                    % {"expected": row.expected_columns, "actual": row.actual_columns},
                    raw=raw_text(text),
                )
            )
        else:
            # A line of spaces is a blank line, not a broken row; its number is skipped all the same.
            numbers.reject(BadRow(row_number=number, rule="", reason="", raw=""))
        return "skip"

    stream = GuardedTextStream(
        path.open("rb"),
        encoding=detected.encoding,
        max_line_bytes=limits.max_line_bytes,
        on_long_line=on_long_line,
    )
    chunks = _Chunker(pa.schema([pa.field(name, pa.string()) for name in headers]), chunk_rows)
    try:
        try:
            # The header is parsed as a row (pyarrow skips rows by physical line, which would split a header
            # whose cells hold line breaks, as Excel writes them) and dropped once it is numbered.
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    use_threads=False,
                    block_size=limits.csv_block_bytes,
                    skip_rows=blank_lines,
                    autogenerate_column_names=True,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid_row,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={f"f{index}": pa.string() for index in range(len(headers))},
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
            header_pending = True
            for batch in reader:
                row_numbers = numbers.assign(batch.num_rows)
                batch = batch.rename_columns(headers)
                if header_pending and batch.num_rows:
                    batch, row_numbers, header_pending = batch.slice(1), row_numbers[1:], False
                yield from chunks.add(*_without_blank_rows(batch, row_numbers), numbers.settled())
        except pa.ArrowInvalid as error:
            raise _read_error(error, numbers.next, limits) from None
        yield from chunks.finish(numbers.settled(everything=True))
        if not chunks.rows_seen:
            raise IngestError("header_only", _("The file has a header row but no data rows."))
    finally:
        stream.close()


class _Chunker:
    """Gathers pyarrow's batches (one a block) into chunks of exactly ``chunk_rows`` rows, the last one shorter."""

    def __init__(self, schema: pa.Schema, chunk_rows: int) -> None:
        self._schema = schema
        self._chunk_rows = chunk_rows
        self._batches: list[pa.RecordBatch] = []
        self._numbers: list[np.ndarray] = []
        self._bad_rows: list[BadRow] = []
        self._buffered = 0
        self.rows_seen = 0

    def add(self, batch: pa.RecordBatch, numbers: np.ndarray, bad_rows: list[BadRow]) -> Iterator[RawChunk]:
        # A blank line is rejected with an empty rule: its number is taken, but it is nobody's bad row.
        self._bad_rows.extend(row for row in bad_rows if row.rule)
        if batch.num_rows:
            self._batches.append(batch)
            self._numbers.append(numbers)
            self._buffered += batch.num_rows
        while self._buffered >= self._chunk_rows:
            yield self._take(self._chunk_rows)

    def finish(self, bad_rows: list[BadRow]) -> Iterator[RawChunk]:
        self._bad_rows.extend(row for row in bad_rows if row.rule)
        if self._buffered or self._bad_rows:
            yield self._take(self._buffered)

    def _take(self, count: int) -> RawChunk:
        table = pa.Table.from_batches(self._batches, schema=self._schema)
        numbers = np.concatenate(self._numbers) if self._numbers else np.array([], dtype=np.int64)
        rest = table.slice(count)
        self._batches = rest.to_batches() if rest.num_rows else []
        self._numbers = [numbers[count:]] if rest.num_rows else []
        self._buffered = rest.num_rows
        chunk = RawChunk(
            table=table.slice(0, count), row_numbers=pa.array(numbers[:count], type=pa.int64()), bad_rows=self._bad_rows
        )
        self.rows_seen += count + len(self._bad_rows)
        self._bad_rows = []
        return chunk


def _blank_lines_before_header(path: Path, detected: DetectedFile, limits: ReadLimits) -> int:
    with path.open("rb") as handle:
        head = handle.read(limits.max_line_bytes + 1)
    text = head.decode(detected.encoding, errors="replace")
    records, _complete = _records(text, detected.delimiter or ",", whole=True)
    blank = 0
    while blank < len(records) and _blank(records[blank]):
        blank += 1
    return blank


def _without_blank_rows(batch: pa.RecordBatch, numbers: np.ndarray) -> tuple[pa.RecordBatch, np.ndarray]:
    if not batch.num_rows or not batch.num_columns:
        return batch, numbers
    empty = pc.is_null(batch.column(0))
    if not pc.any(empty).as_py():
        return batch, numbers
    for column in batch.columns[1:]:
        empty = pc.and_(empty, pc.is_null(column))
    if not pc.any(empty).as_py():
        return batch, numbers
    keep = pc.invert(empty)
    return batch.filter(keep), numbers[keep.to_numpy(zero_copy_only=False)]


def _read_error(error: pa.ArrowInvalid, row: int, limits: ReadLimits) -> IngestError:
    # pyarrow's own message quotes the row's content (personal data, or megabytes of it): it is never passed on.
    message = str(error)
    if "straddling" in message:
        return IngestError(
            "row_too_long",
            _(
                "A row after row %(row)s is longer than %(limit)s. A quoted value that is never closed makes the "
                "rest of the file one row: check the quotes in that row."
            )
            % {"row": row, "limit": filesizeformat(limits.csv_block_bytes)},
        )
    if "UTF8" in message or "UTF-8" in message:
        return IngestError(
            "encoding",
            _(
                "The file is not valid UTF-8 near row %(row)s: it mixes encodings. Save it as “CSV UTF-8” and upload "
                "it again."
            )
            % {"row": row},
        )
    return IngestError("corrupt_csv", _("The file could not be read as CSV near row %(row)s.") % {"row": row})
