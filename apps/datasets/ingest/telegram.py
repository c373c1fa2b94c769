"""Telegram Desktop exports (``result.json`` of “Export chat history”) as rows of TelegramMessage fields.

The export is streamed with ijson (its C backend), one message object at a time, so a channel of millions of posts
reads in constant memory. Telegram Desktop writes one value a line; a line longer than the JSON limit means the file
is not what it claims to be, and it is refused before that line is held in memory.

Columns, all text: ``channel``, ``message_id``, ``sent_at`` (ISO 8601 in UTC from ``date_unixtime``, or the export's
local ``date`` when an old export lacks it), ``author``, ``text`` (the plain-string and the array-of-entities forms
joined into one string), ``forwarded_from``, and ``links``, ``phones``, ``codes`` as JSON arrays of strings. Service
messages (joins, pins, title changes) are not messages anyone wrote and are left out. Row numbers count the
messages of the export from 1, service messages included.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson
import pyarrow as pa
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.sniff import raw_text
from apps.datasets.ingest.textstream import GuardedTextStream, LongLine
from apps.datasets.ingest.types import BadRow, DetectedFile, FileFormat, IngestError, RawChunk
from apps.datasets.synthetic.codes import is_valid_edrpou

COLUMNS = ("channel", "message_id", "sent_at", "author", "text", "forwarded_from", "links", "phones", "codes")
# The top of a channel export (name, type, id) comes before its messages; a file that has not said within this many
# bytes what it is gets the benefit of the doubt until it is read in full.
PEEK_BYTES = 4 << 20

_URL = re.compile(r"""(?:https?://|www\.|t\.me/)[^\s<>"'«»]+""", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}’”"
# +380671234567, +380 (67) 123-45-67, +38 067 123 45 67, 380671234567: the Ukrainian country code makes it a phone
# (a bare 0671234567 could as well be a goods code).
_PHONE = re.compile(r"(?<![\d+])\+?38[\s\-]?\(?0[\s\-]?\(?(\d{2})\)?[\s\-]?(\d{3})[\s\-]?(\d{2})[\s\-]?(\d{2})(?!\d)")
_EIGHT_DIGITS = re.compile(r"(?<!\d)\d{8}(?!\d)")


def not_telegram() -> IngestError:
    return IngestError(
        "not_telegram",
        _(
            "This JSON file is not a Telegram Desktop chat export. In Telegram Desktop open the channel, choose "
            "“Export chat history”, format JSON, and upload the result.json it writes."
        ),
    )


def _invalid_json() -> IngestError:
    return IngestError(
        "invalid_json", _("The JSON file is damaged or incomplete (was the export or the upload cut short?).")
    )


class _Peek:
    """The first bytes of a file for ijson, then the end of the file."""

    def __init__(self, path: Path, limit: int) -> None:
        self._handle = path.open("rb")
        self._left = limit
        self.exhausted = False

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self._left <= 0:
            self.exhausted = True
            return b""
        data = self._handle.read(min(size if size > 0 else self._left, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def channel_name(path: Path) -> str:
    """The exported chat's name; IngestError unless the file is a single-chat Telegram export."""
    peek = _Peek(path, PEEK_BYTES)
    name = ""
    try:
        events = ijson.parse(peek)
        _prefix, first, _value = next(events)
        if first != "start_map":
            raise not_telegram()
        for prefix, event, value in events:
            if prefix == "name" and event == "string":
                name = value
            elif prefix == "" and event == "map_key" and value == "chats":
                raise IngestError(
                    "not_telegram",
                    _(
                        "This is a whole Telegram account export. Export the channel itself (“Export chat "
                        "history” in the channel’s menu) and upload its result.json."
                    ),
                )
            elif prefix == "messages" and event == "start_array":
                return name
            elif prefix == "" and event == "end_map":
                raise not_telegram()
    except (ijson.JSONError, StopIteration):
        if not peek.exhausted:
            raise _invalid_json() from None
    finally:
        peek.close()
    return name


def detect_telegram(path: Path) -> DetectedFile:
    channel_name(path)
    return DetectedFile(file_format=FileFormat.TELEGRAM_JSON, encoding="utf-8", headers=COLUMNS)


def read_telegram(path: Path, *, chunk_rows: int = 50_000, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[RawChunk]:
    channel = channel_name(path)

    def refuse(line: LongLine) -> bytes:
        raise IngestError(
            "line_too_long",
            _(
                "Line %(line)d of the JSON file is longer than %(limit)s. Telegram Desktop never writes such a "
                "line: upload the result.json exactly as Telegram Desktop wrote it."
            )
            % {"line": line.line_number, "limit": filesizeformat(limits.max_json_line_bytes)},
        )

    stream = GuardedTextStream(
        path.open("rb"), encoding="utf-8", max_line_bytes=limits.max_json_line_bytes, on_long_line=refuse
    )
    rows: list[tuple[str, ...]] = []
    numbers: list[int] = []
    bad_rows: list[BadRow] = []
    seen = 0
    try:
        for number, message in enumerate(ijson.items(stream, "messages.item"), start=1):
            seen = number
            if number == 1 and not _looks_like_message(message):
                raise not_telegram()
            try:
                row = _message_row(channel, message)
            except _BadMessage as problem:
                bad_rows.append(
                    BadRow(
                        row_number=number,
                        rule="telegram_message",
                        reason=problem.reason,
                        raw=raw_text(json.dumps(message, ensure_ascii=False, default=str)[: 4 * 4096]),
                    )
                )
                continue
            if row is not None:
                rows.append(row)
                numbers.append(number)
            if len(rows) + len(bad_rows) >= chunk_rows:
                yield _chunk(rows, numbers, bad_rows)
                rows, numbers, bad_rows = [], [], []
    except ijson.JSONError:
        raise _invalid_json() from None
    finally:
        stream.close()
    if rows or bad_rows:
        yield _chunk(rows, numbers, bad_rows)
    if not seen:
        raise IngestError("header_only", _("The export holds no messages."))


def _chunk(rows: list[tuple[str, ...]], numbers: list[int], bad_rows: list[BadRow]) -> RawChunk:
    columns = list(zip(*rows, strict=True)) if rows else [() for _column in COLUMNS]
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in zip(COLUMNS, columns, strict=True)})
    return RawChunk(table=table, row_numbers=pa.array(numbers, type=pa.int64()), bad_rows=bad_rows)


def _looks_like_message(message: Any) -> bool:
    return isinstance(message, dict) and "id" in message and "type" in message


class _BadMessage(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _message_row(channel: str, message: Any) -> tuple[str, ...] | None:
    if not isinstance(message, dict):
        raise _BadMessage(_("a message is an object"))
    if message.get("type", "message") != "message":
        return None
    message_id = message.get("id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise _BadMessage(_("the message has no id"))
    sent_at = _sent_at(message)
    if not sent_at:
        raise _BadMessage(_("the message has no date"))
    parts = message.get("text", "")
    entities = parts if isinstance(parts, list) else message.get("text_entities") or []
    pieces = _pieces(parts)
    text = "".join(pieces)
    # Entities are searched one by one: joined, a link entity and the phone after it would read as one URL.
    searched = "\n".join(pieces)
    links = _unique([*_entity_links(entities), *(_clean_url(url) for url in _URL.findall(searched))])
    phones = _unique(["+380" + "".join(groups) for groups in _PHONE.findall(searched)])
    codes = _unique([code for code in _EIGHT_DIGITS.findall(searched) if is_valid_edrpou(code)])
    return (
        channel,
        str(message_id),
        sent_at,
        _string(message.get("from")),
        text,
        _string(message.get("forwarded_from")),
        json.dumps(links, ensure_ascii=False),
        json.dumps(phones, ensure_ascii=False),
        json.dumps(codes, ensure_ascii=False),
    )


def _sent_at(message: dict[str, Any]) -> str:
    unix = message.get("date_unixtime")
    if isinstance(unix, str | int) and str(unix).isdigit():
        return datetime.datetime.fromtimestamp(int(unix), tz=datetime.UTC).isoformat()
    date = message.get("date")
    return date if isinstance(date, str) else ""


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _pieces(parts: Any) -> list[str]:
    """Telegram writes plain text as a string, and text with links or formatting as a list of strings and objects."""
    if isinstance(parts, str):
        return [parts]
    if isinstance(parts, list):
        return [part if isinstance(part, str) else _string(part.get("text")) for part in parts if _is_piece(part)]
    return []


def _is_piece(part: Any) -> bool:
    return isinstance(part, str | dict)


def _entity_links(entities: Any) -> list[str]:
    links = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict):
            continue
        if entity.get("type") == "text_link" and isinstance(entity.get("href"), str):
            links.append(entity["href"])
        elif entity.get("type") == "link" and isinstance(entity.get("text"), str):
            links.append(_clean_url(entity["text"]))
    return links


def _clean_url(url: str) -> str:
    return url.rstrip(_URL_TRAILING)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))
