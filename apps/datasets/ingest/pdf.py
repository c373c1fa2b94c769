"""PDF documents: their text (pypdf), page count and SHA-256, as one row of Document fields."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from django.utils.translation import gettext as _
from pypdf import PasswordType, PdfReader

from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.types import BadRow, DetectedFile, FileFormat, IngestError, RawChunk

COLUMNS = ("filename", "sha256", "page_count", "text")
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class DocumentText:
    filename: str
    sha256: str
    page_count: int
    text: str

    def row(self) -> tuple[str, ...]:
        return (self.filename, self.sha256, str(self.page_count), self.text)


def encrypted_pdf() -> IngestError:
    return IngestError(
        "encrypted_pdf",
        _("The PDF is protected with a password. Save a copy without the password and upload that."),
    )


def corrupt_pdf() -> IngestError:
    return IngestError("corrupt_pdf", _("The PDF is damaged or incomplete and cannot be read."))


def _open(path: Path) -> PdfReader:
    """A reader for the document, decrypted when only an owner password (printing, copying) protects it."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise encrypted_pdf()
        len(reader.pages)
    except IngestError:
        raise
    # pypdf raises whatever a malformed file trips over (KeyError, ValueError, its own errors): all mean "damaged".
    except Exception:  # noqa: BLE001
        raise corrupt_pdf() from None
    return reader


def detect_pdf(path: Path) -> DetectedFile:
    _open(path)
    return DetectedFile(file_format=FileFormat.PDF, headers=COLUMNS)


def pdf_text(path: Path, *, filename: str, limits: ReadLimits = DEFAULT_LIMITS) -> DocumentText:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    reader = _open(path)
    pages: list[str] = []
    kept = 0
    for page in reader.pages:
        if kept >= limits.max_document_chars:
            break
        try:
            text = page.extract_text() or ""
        # A page pypdf cannot interpret loses its text, not the document's other pages.
        except Exception:  # noqa: BLE001
            text = ""
        pages.append(text[: limits.max_document_chars - kept])
        kept += len(pages[-1])
    return DocumentText(
        filename=filename, sha256=digest.hexdigest(), page_count=len(reader.pages), text="\n".join(pages)
    )


def document_chunk(rows: list[tuple[str, ...]], numbers: list[int], bad_rows: list[BadRow] | None = None) -> RawChunk:
    columns = list(zip(*rows, strict=True)) if rows else [() for _column in COLUMNS]
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in zip(COLUMNS, columns, strict=True)})
    return RawChunk(table=table, row_numbers=pa.array(numbers, type=pa.int64()), bad_rows=bad_rows or [])


def read_documents(
    path: Path, *, filename: str | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[RawChunk]:
    """One row for the PDF at ``path`` (``filename`` names it, by default the file's own name)."""
    document = pdf_text(path, filename=filename or path.name, limits=limits)
    yield document_chunk([document.row()], [1])
