"""What a file is, judged by its bytes (never by its name), and which text encoding it is in."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from django.utils.translation import gettext as _

from apps.datasets.ingest.types import IngestError

HEAD_BYTES = 64 * 1024
# Windows of a CSV file checked for its encoding besides the head: a file may turn to another encoding midway.
ENCODING_WINDOW_BYTES = 64 * 1024
ENCODING_WINDOWS = 4
# Quarantined raw text is cut here: enough to recognise the row, never a whole hostile line.
RAW_TEXT_CHARS = 4096


class Content(StrEnum):
    TEXT = "text"
    JSON = "json"
    PDF = "pdf"
    ZIP = "zip"


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OTHER_ARCHIVES = (b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"\xfd7zXZ\x00")
_UTF16_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_OFFICE_FIRST_ENTRIES = (b"[Content_Types].xml", b"_rels/", b"docProps/", b"xl/")
# Bytes that never occur in a text export (NUL and C0 controls other than tab, line feed, form feed, return).
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def sniff_content(head: bytes) -> Content:
    """The family of a file from its first bytes; IngestError for an empty file or a format we do not read."""
    if not head.strip() or head.strip() == codecs.BOM_UTF8:
        raise IngestError("empty", _("The file is empty."))
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return Content.ZIP
    if b"%PDF-" in head[:1024]:
        return Content.PDF
    if head.startswith(_OLE2):
        raise IngestError(
            "unsupported_format",
            _(
                "This is an Excel 97–2003 workbook or a password-protected one. Save it as an Excel workbook (.xlsx) "
                "without a password, or as CSV, and upload it again."
            ),
        )
    if head.startswith(_OTHER_ARCHIVES):
        raise IngestError(
            "unsupported_format", _("This archive format is not supported. Pack the files into a ZIP archive.")
        )
    if head.startswith(_UTF16_BOMS):
        raise IngestError(
            "encoding",
            _("The file is in UTF-16 (Excel’s “Unicode text”). Save it as “CSV UTF-8” and upload it again."),
        )
    if _BINARY.search(head):
        raise IngestError(
            "unsupported_format",
            _("This is not a file we can read. Upload CSV, Excel (.xlsx), a Telegram export (JSON), PDF or ZIP."),
        )
    if head.removeprefix(codecs.BOM_UTF8).lstrip()[:1] in (b"{", b"["):
        return Content.JSON
    return Content.TEXT


def looks_like_workbook(head: bytes) -> bool:
    """A ZIP whose first entry is one Office writes first into an .xlsx (readable even when the file is cut short)."""
    name_length = int.from_bytes(head[26:28], "little")
    return head[30 : 30 + name_length].startswith(_OFFICE_FIRST_ENTRIES)


def detect_encoding(head: bytes, windows: Sequence[bytes] = (), *, head_is_whole_file: bool = False) -> str:
    """UTF-8 (with or without a BOM) or cp1251, judged on the head and on windows taken further into the file.

    ``windows`` may start or end in the middle of a character; ``head_is_whole_file`` says the head ends with the
    file, so an unfinished character at its end is an error rather than a cut.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    samples = [(head, True, head_is_whole_file)] + [(window, False, False) for window in windows]
    if all(_is_utf8(sample, at_start=at_start, at_end=at_end) for sample, at_start, at_end in samples):
        return "utf-8"
    text = "".join(sample.decode("cp1251", errors="replace") for sample, _start, _end in samples)
    if _looks_cyrillic(text):
        return "cp1251"
    raise IngestError(
        "encoding",
        _(
            "The file’s encoding is not recognised: it is neither UTF-8 nor Windows-1251 (Cyrillic). "
            "Save it as “CSV UTF-8” and upload it again."
        ),
    )


def _is_utf8(data: bytes, *, at_start: bool, at_end: bool) -> bool:
    if not at_start:
        # Skip the tail of a character cut by the window's start (continuation bytes are 10xxxxxx).
        skip = 0
        while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
            skip += 1
        data = data[skip:]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=at_end)
    except UnicodeDecodeError:
        return False
    return True


_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# A Cyrillic letter glued to a Latin one: what Western European text (ü, é, ß…) turns into when read as cp1251.
_MIXED_SCRIPT = re.compile(r"[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]")
_CP1251_PUNCTUATION = frozenset("№«»–—‘’‚“”„…•°±§©®™\u00a0\u00ad")


def _looks_cyrillic(text: str) -> bool:
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    letters = len(text) - len(_CYRILLIC.sub("", text))
    if not letters:
        return False
    punctuation = sum(text.count(char) for char in _CP1251_PUNCTUATION)
    foreign = non_ascii - letters - punctuation
    mixed = len(_MIXED_SCRIPT.findall(text))
    return foreign <= letters * 0.02 and mixed <= letters * 0.1


def unique_headers(cells: Sequence[str | None]) -> tuple[str, ...]:
    """Header cells trimmed, a blank one named ``column_<n>`` and a repeated one suffixed ``(2)``, ``(3)``…

    Columns are addressed by name downstream, so two may never share one.
    """
    names: list[str] = []
    seen: set[str] = set()
    for number, cell in enumerate(cells, start=1):
        base = (cell or "").strip().lstrip("\ufeff").strip() or f"column_{number}"
        name, copy = base, 1
        while name in seen:
            copy += 1
            name = f"{base} ({copy})"
        seen.add(name)
        names.append(name)
    return tuple(names)


def raw_text(data: bytes | str, encoding: str = "utf-8") -> str:
    text = data if isinstance(data, str) else data[: RAW_TEXT_CHARS * 4].decode(encoding, errors="replace")
    return text[:RAW_TEXT_CHARS]
