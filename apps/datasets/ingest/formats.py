"""Which file formats each record kind is read from."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.datasets.ingest.types import FileFormat, IngestError
from apps.datasets.models import RecordKind

TABULAR = frozenset({FileFormat.CSV, FileFormat.XLSX})


def accepted_formats(kind: str | None) -> frozenset[FileFormat]:
    """Formats a dataset of ``kind`` is read from (every format when the kind is not known yet)."""
    if kind is None:
        return frozenset(FileFormat)
    if kind == RecordKind.TELEGRAM_MESSAGE:
        return frozenset({FileFormat.TELEGRAM_JSON, FileFormat.ZIP})
    if kind == RecordKind.DOCUMENT:
        return frozenset({FileFormat.PDF, FileFormat.ZIP})
    return TABULAR | {FileFormat.ZIP}


def format_label(file_format: FileFormat) -> str:
    labels = {
        FileFormat.CSV: _("CSV"),
        FileFormat.XLSX: _("Excel workbook"),
        FileFormat.TELEGRAM_JSON: _("Telegram export (JSON)"),
        FileFormat.PDF: _("PDF"),
        FileFormat.ZIP: _("ZIP archive"),
    }
    return str(labels[file_format])


def wrong_kind(file_format: FileFormat) -> IngestError:
    return IngestError(
        "wrong_kind",
        _("This file is a %(format)s, which does not hold records of this dataset’s kind.")
        % {"format": format_label(file_format)},
    )
