"""What an uploaded file is: format by content, then encoding, delimiter and header row where they apply.

``detect_file`` is the first step of a run. It reads little (the head of a CSV and a few windows of it, the top of a
JSON export, a PDF's cross-reference table) except for workbooks, which must be checked whole before calamine may
open them, and ZIP archives, whose first usable member is looked at. Every refusal is an ``IngestError`` whose
``code`` is stable and whose ``message`` tells the user what to do.
"""

from __future__ import annotations

import tempfile
from os import PathLike
from pathlib import Path

from django.utils.translation import gettext as _

from apps.datasets.ingest import csv_reader, pdf, telegram, xlsx_reader
from apps.datasets.ingest.archive import Archive, Member, MemberStream
from apps.datasets.ingest.formats import accepted_formats, format_label, wrong_kind
from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.sniff import Content, looks_like_workbook, read_head, sniff_content
from apps.datasets.ingest.types import DetectedFile, FileFormat, IngestError


def detect_file(
    path: str | PathLike[str], *, kind: str | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> DetectedFile:
    """Format, encoding, delimiter and headers of the file; with ``kind``, IngestError unless it suits that kind.

    For a ZIP archive the encoding, delimiter and headers are those of its first member of the kind's formats.
    """
    path = Path(path)
    formats = accepted_formats(kind)
    content = sniff_content(read_head(path))
    if content is Content.ZIP and not is_workbook(path, limits):
        return _detect_archive(path, formats, limits)
    detected = detect_single(path, content, limits)
    if detected.file_format not in formats:
        raise wrong_kind(detected.file_format)
    return detected


def detect_single(path: Path, content: Content, limits: ReadLimits) -> DetectedFile:
    """A file that is not a ZIP archive of files (a workbook is one format, though it is a ZIP too)."""
    if content is Content.ZIP:
        return xlsx_reader.detect_xlsx(path, limits)
    if content is Content.PDF:
        return pdf.detect_pdf(path)
    if content is Content.JSON:
        return telegram.detect_telegram(path)
    return csv_reader.detect_csv(path, limits)


def is_workbook(path: Path, limits: ReadLimits) -> bool:
    """True for an .xlsx, False for any other ZIP archive; IngestError for Office formats we do not read."""
    try:
        with Archive(path, limits=limits) as archive:
            names = archive.names()
    except IngestError as error:
        if error.code == "corrupt_zip" and looks_like_workbook(read_head(path)):
            raise xlsx_reader.corrupt_xlsx() from None
        raise
    if "xl/workbook.xml" in names:
        return True
    if "word/document.xml" in names or "ppt/presentation.xml" in names or "mimetype" in names:
        raise IngestError(
            "unsupported_format",
            _("Word, PowerPoint and OpenDocument files are not read. Save spreadsheets as .xlsx and documents as PDF."),
        )
    return False


def _detect_archive(path: Path, formats: frozenset[FileFormat], limits: ReadLimits) -> DetectedFile:
    first_problem: IngestError | None = None
    with Archive(path, limits=limits) as archive, tempfile.TemporaryDirectory(prefix="nexus-detect-") as directory:
        members = archive.members()
        if not members:
            raise IngestError("empty", _("The ZIP archive is empty."))
        for member in members:
            if member.encrypted:
                continue
            try:
                detected = _detect_member(archive, member, Path(directory), formats, limits)
            except IngestError as error:
                if error.code == "zip_bomb":
                    raise
                first_problem = first_problem or error
                continue
            if detected is not None:
                return detected
    if first_problem is not None:
        raise first_problem
    raise IngestError(
        "no_members",
        _("The ZIP archive holds no file this dataset can take (%(formats)s).")
        % {"formats": ", ".join(format_label(file_format) for file_format in sorted(formats))},
    )


def _detect_member(
    archive: Archive, member: Member, directory: Path, formats: frozenset[FileFormat], limits: ReadLimits
) -> DetectedFile | None:
    """The archive's DetectedFile taken from this member, or None when the member is not of the wanted formats."""
    with archive.open(member) as stream:
        head = _read_up_to(stream, limits.max_line_bytes + 1)
        whole = not stream.read(1)
    content = sniff_content(head)
    if content is Content.TEXT and FileFormat.CSV in formats:
        found = csv_reader.detect_csv_head(head, whole=whole, limits=limits)
        return DetectedFile(FileFormat.ZIP, encoding=found.encoding, delimiter=found.delimiter, headers=found.headers)
    if content is Content.ZIP and FileFormat.XLSX in formats:
        workbook = archive.extract(member, directory, "member.xlsx")
        if not is_workbook(workbook, limits):
            return None
        return DetectedFile(FileFormat.ZIP, headers=xlsx_reader.detect_xlsx(workbook, limits).headers)
    if content is Content.PDF and FileFormat.PDF in formats:
        return DetectedFile(FileFormat.ZIP, headers=pdf.COLUMNS)
    if content is Content.JSON and FileFormat.TELEGRAM_JSON in formats:
        return DetectedFile(FileFormat.ZIP, encoding="utf-8", headers=telegram.COLUMNS)
    return None


def _read_up_to(stream: MemberStream, size: int) -> bytes:
    pieces: list[bytes] = []
    left = size
    while left > 0 and (piece := stream.read(left)):
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)
