"""Any accepted file in, as raw text rows (``RawChunk``), in bounded memory: the readers' entry points.

    detected = detect_file(path, kind=dataset.kind)          # IngestError: the file is refused, with a reason
    for chunk in read_chunks(path, detected, kind=dataset.kind):
        ...                                                    # chunk.table: text columns named by the headers

The formats: CSV and other delimited text (``csv_reader``), Excel workbooks (``xlsx_reader``), Telegram Desktop
exports (``telegram``), PDF (``pdf``) and ZIP archives of these (here). A dataset holds one kind of record, so the
caller says which kind an upload is for: the members of an archive that do not fit it are reported, not read.

``IngestError.code`` (the whole upload is refused): ``empty``, ``header_only``, ``unsupported_format``,
``encoding``, ``wrong_kind``, ``line_too_long`` (a CSV header or a JSON line), ``row_too_long``, ``corrupt_csv``,
``corrupt_xlsx``, ``sheet_too_large``, ``invalid_json``, ``not_telegram``, ``encrypted_pdf``, ``corrupt_pdf``,
``corrupt_zip``, ``zip_bomb``, ``no_members``.

``BadRow.rule`` (one row, or one member of an archive, is quarantined and the rest is read): ``field_count``,
``line_too_long``, ``telegram_message``; for a member of an archive, ``unsupported_member``, ``member_headers``,
``encrypted_member`` or the code of the IngestError the member would have raised on its own (``encrypted_pdf``,
``header_only``…). A member's bad row has row number 0 (the whole file) and the member's name as ``raw`` and as its
chunk's ``source``.

Row numbers count within a file: spreadsheet rows for CSV and XLSX (the header is row 1), messages for a Telegram
export, and for documents the position of the PDF in its archive (1 for a PDF uploaded alone).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import pyarrow as pa
from django.utils.translation import gettext as _

from apps.datasets.ingest import csv_reader, pdf, telegram, xlsx_reader
from apps.datasets.ingest.archive import Archive, Member
from apps.datasets.ingest.detect import detect_file, detect_single, is_workbook
from apps.datasets.ingest.formats import TABULAR, accepted_formats, format_label
from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.pdf import read_documents
from apps.datasets.ingest.sniff import HEAD_BYTES, Content, looks_like_workbook, read_head, sniff_content
from apps.datasets.ingest.telegram import read_telegram
from apps.datasets.ingest.types import BadRow, DetectedFile, FileFormat, IngestError, RawChunk

__all__ = ["DEFAULT_CHUNK_ROWS", "detect_file", "read_chunks", "read_documents", "read_telegram"]

# What a member's first bytes make it (a ZIP is a workbook when its first entry is one Office writes).
_CONTENT_FORMATS = {
    Content.TEXT: FileFormat.CSV,
    Content.JSON: FileFormat.TELEGRAM_JSON,
    Content.PDF: FileFormat.PDF,
    Content.ZIP: FileFormat.XLSX,
}

DEFAULT_CHUNK_ROWS = 100_000
# Documents are gathered into chunks of about this much text.
DOCUMENT_CHUNK_CHARS = 64 << 20


def read_chunks(
    path: str | PathLike[str],
    detected: DetectedFile,
    *,
    kind: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    filename: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Iterator[RawChunk]:
    """The rows of a file ``detect_file`` accepted, ``chunk_rows`` or so at a time.

    ``kind`` picks the members of an archive (without it, the kind of the member ``detect_file`` described);
    ``filename`` names a PDF uploaded alone (by default its file name on disk).
    """
    path = Path(path)
    if detected.file_format is FileFormat.ZIP:
        yield from _read_archive(path, detected, kind=kind, chunk_rows=chunk_rows, limits=limits)
    else:
        yield from _read_single(path, detected, chunk_rows=chunk_rows, filename=filename, limits=limits)


def _read_single(
    path: Path, detected: DetectedFile, *, chunk_rows: int, filename: str | None, limits: ReadLimits
) -> Iterator[RawChunk]:
    if detected.file_format is FileFormat.CSV:
        return csv_reader.read_csv(path, detected, chunk_rows=chunk_rows, limits=limits)
    if detected.file_format is FileFormat.XLSX:
        return xlsx_reader.read_xlsx(path, detected, chunk_rows=chunk_rows, limits=limits)
    if detected.file_format is FileFormat.TELEGRAM_JSON:
        return read_telegram(path, chunk_rows=chunk_rows, limits=limits)
    if detected.file_format is FileFormat.PDF:
        return read_documents(path, filename=filename, limits=limits)
    raise ValueError(f"no reader for {detected.file_format}")


def _member_formats(kind: str | None, detected: DetectedFile) -> frozenset[FileFormat]:
    if kind is not None:
        return accepted_formats(kind) - {FileFormat.ZIP}
    if detected.headers == pdf.COLUMNS:
        return frozenset({FileFormat.PDF})
    if detected.headers == telegram.COLUMNS:
        return frozenset({FileFormat.TELEGRAM_JSON})
    return TABULAR


def _read_archive(
    path: Path, detected: DetectedFile, *, kind: str | None, chunk_rows: int, limits: ReadLimits
) -> Iterator[RawChunk]:
    formats = _member_formats(kind, detected)
    documents = _Documents(chunk_rows)
    with Archive(path, limits=limits) as archive, tempfile.TemporaryDirectory(prefix="nexus-zip-") as directory:
        for index, member in enumerate(archive.members(), start=1):
            if member.encrypted:
                yield _member_problem(
                    detected, member, "encrypted_member", _("The file is protected with a password; it was skipped.")
                )
                continue
            # Only a member that may be of the kind is unpacked: its first bytes say.
            with archive.open(member) as stream:
                head = stream.read(HEAD_BYTES)
            try:
                file_format = _CONTENT_FORMATS[sniff_content(head)]
            except IngestError as error:
                yield _member_problem(detected, member, error.code, error.message)
                continue
            if file_format is FileFormat.XLSX and not looks_like_workbook(head):
                file_format = FileFormat.ZIP
            if file_format not in formats:
                yield _unsupported_member(detected, member, file_format)
                continue
            # A bomb inside stops the whole upload here: extract raises IngestError("zip_bomb").
            target = archive.extract(member, Path(directory), f"member-{index}")
            try:
                yield from _read_member(target, member, index, detected, formats, documents, chunk_rows, limits)
            finally:
                target.unlink(missing_ok=True)
            if documents.full:
                yield documents.flush()
    if documents.pending:
        yield documents.flush()


def _read_member(
    target: Path,
    member: Member,
    index: int,
    detected: DetectedFile,
    formats: frozenset[FileFormat],
    documents: _Documents,
    chunk_rows: int,
    limits: ReadLimits,
) -> Iterator[RawChunk]:
    try:
        content = sniff_content(read_head(target))
        if content is Content.ZIP and not is_workbook(target, limits):
            raise IngestError("unsupported_member", _("Archives inside the archive are not unpacked; it was skipped."))
        found = detect_single(target, content, limits)
    except IngestError as error:
        yield _member_problem(detected, member, error.code, error.message)
        return
    if found.file_format not in formats:
        yield _unsupported_member(detected, member, found.file_format)
    elif found.file_format is FileFormat.PDF:
        documents.add(target, member, index, limits)
    elif found.file_format in TABULAR and found.headers != detected.headers:
        yield _member_problem(
            detected,
            member,
            "member_headers",
            _("Its columns differ from those of the archive’s first file, so one column mapping cannot read both."),
        )
    else:
        yield from _member_chunks(target, member, found, chunk_rows, limits)


def _member_chunks(
    target: Path, member: Member, found: DetectedFile, chunk_rows: int, limits: ReadLimits
) -> Iterator[RawChunk]:
    started = False
    try:
        for chunk in _read_single(target, found, chunk_rows=chunk_rows, filename=member.name, limits=limits):
            started = True
            chunk.source = member.name
            yield chunk
    except IngestError as error:
        if started:
            # Some of the member's rows are already on their way: the upload fails as a whole rather than half-read.
            raise IngestError(
                error.code, _("In “%(name)s”: %(message)s") % {"name": member.name, "message": error.message}
            ) from None
        yield RawChunk(
            table=_empty_table(found.headers),
            row_numbers=pa.array([], type=pa.int64()),
            bad_rows=[BadRow(row_number=0, rule=error.code, reason=error.message, raw=member.name)],
            source=member.name,
        )


def _unsupported_member(detected: DetectedFile, member: Member, file_format: FileFormat) -> RawChunk:
    if file_format is FileFormat.ZIP:
        reason = _("Archives inside the archive are not unpacked; it was skipped.")
    else:
        reason = _("A %(format)s does not hold records of this dataset’s kind; it was skipped.") % {
            "format": format_label(file_format)
        }
    return _member_problem(detected, member, "unsupported_member", reason)


def _member_problem(detected: DetectedFile, member: Member, rule: str, reason: str) -> RawChunk:
    return RawChunk(
        table=_empty_table(detected.headers),
        row_numbers=pa.array([], type=pa.int64()),
        bad_rows=[BadRow(row_number=0, rule=rule, reason=reason, raw=member.name)],
        source=member.name,
    )


def _empty_table(headers: tuple[str, ...]) -> pa.Table:
    return pa.table({name: pa.array([], type=pa.string()) for name in headers})


class _Documents:
    """The PDFs of an archive gathered into chunks, one row each; an unreadable one becomes a bad row."""

    def __init__(self, chunk_rows: int) -> None:
        self._chunk_rows = chunk_rows
        self._rows: list[tuple[str, ...]] = []
        self._numbers: list[int] = []
        self._bad_rows: list[BadRow] = []
        self._chars = 0

    def add(self, target: Path, member: Member, index: int, limits: ReadLimits) -> None:
        try:
            document = pdf.pdf_text(target, filename=member.name, limits=limits)
        except IngestError as error:
            self._bad_rows.append(BadRow(row_number=index, rule=error.code, reason=error.message, raw=member.name))
            return
        self._rows.append(document.row())
        self._numbers.append(index)
        self._chars += len(document.text)

    @property
    def pending(self) -> bool:
        return bool(self._rows or self._bad_rows)

    @property
    def full(self) -> bool:
        return len(self._rows) + len(self._bad_rows) >= self._chunk_rows or self._chars >= DOCUMENT_CHUNK_CHARS

    def flush(self) -> RawChunk:
        chunk = pdf.document_chunk(self._rows, self._numbers, self._bad_rows)
        self._rows, self._numbers, self._bad_rows, self._chars = [], [], [], 0
        return chunk
