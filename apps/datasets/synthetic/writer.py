"""CSV output: RFC 4180 quoting, UTF-8 without BOM, "\\n" line ends, a running sha256 per file.

The row generators hand over whole columns of already-formatted strings; joining them here is the fastest way
CPython has to build CSV text, several times faster than the csv module for millions of rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NEEDS_QUOTES = frozenset(',"\n\r')


def csv_escape(value: str) -> str:
    """``value`` as a CSV field: quoted (with inner quotes doubled) when it holds a comma, quote or line break."""
    if _NEEDS_QUOTES.isdisjoint(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def csv_unescape(field: str) -> str:
    """The value of one CSV field written by ``csv_escape``."""
    if field.startswith('"'):
        return field[1:-1].replace('""', '"')
    return field


@dataclass(frozen=True)
class FileSummary:
    path: str
    rows: int
    bytes: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


class CsvWriter:
    """Writes a CSV file chunk by chunk, hashing as it goes so the file never has to be read back.

    Hashing and writing happen on a background thread (both release the GIL), so the next chunk is generated
    while the previous one goes to disk; at most two chunks wait in the queue, which bounds memory.
    """

    def __init__(self, root: Path, relative_path: str, header: Sequence[str]) -> None:
        self.relative_path = relative_path
        path = root / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")
        self._hash = hashlib.sha256()
        self._bytes = 0
        self.rows = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name=f"csv-writer:{relative_path}", daemon=True)
        self._thread.start()
        self._write(",".join(csv_escape(name) for name in header) + "\n")

    def _drain(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._failure is None:
                try:
                    self._file.write(data)
                    self._hash.update(data)
                except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread by close()
                    self._failure = error

    def _write(self, text: str) -> None:
        if self._failure is not None:
            raise self._failure
        data = text.encode("utf-8")
        self._bytes += len(data)
        self._queue.put(data)

    def write_columns(self, columns: Sequence[Sequence[str]]) -> None:
        """Append rows given column by column; every value must already be CSV-escaped."""
        if not columns or not columns[0]:
            return
        self._write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")
        self.rows += len(columns[0])

    def write_rows(self, rows: Iterable[Sequence[str]]) -> None:
        """Append rows of raw values, escaping each field (the csv module quotes exactly as csv_escape does)."""
        buffer = io.StringIO()
        before = self.rows
        writer = csv.writer(buffer, lineterminator="\n")
        for row in rows:
            writer.writerow(row)
            self.rows += 1
        if self.rows > before:
            self._write(buffer.getvalue())

    @property
    def bytes_written(self) -> int:
        return self._bytes

    def close(self) -> FileSummary:
        self._stop()
        if self._failure is not None:
            raise self._failure
        return FileSummary(self.relative_path, self.rows, self._bytes, self._hash.hexdigest())

    def abort(self) -> None:
        """Stop the background thread and close the file after a failure elsewhere; nothing is raised."""
        self._failure = self._failure or RuntimeError("aborted")
        self._stop()

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._file.close()


class OutputDirectory:
    """The files of one run: their writers are closed (and their threads stopped) even when the run fails."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.summaries: dict[str, FileSummary] = {}
        self._open: list[CsvWriter] = []

    def __enter__(self) -> OutputDirectory:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for writer in self._open:
            writer.abort()
        self._open.clear()

    def csv(self, relative_path: str, header: Sequence[str]) -> CsvWriter:
        writer = CsvWriter(self.root, relative_path, header)
        self._open.append(writer)
        return writer

    def close(self, *writers: CsvWriter) -> None:
        for writer in writers:
            self._open.remove(writer)
            summary = writer.close()
            self.summaries[summary.path] = summary

    def json(self, relative_path: str, payload: Any) -> FileSummary:
        summary = write_json(self.root, relative_path, payload)
        self.summaries[summary.path] = summary
        return summary


def write_json(root: Path, relative_path: str, payload: Any) -> FileSummary:
    """A JSON file with sorted keys and a final newline, so equal payloads give equal bytes."""
    path = root / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
    path.write_bytes(data)
    rows = len(payload) if isinstance(payload, list) else 0
    return FileSummary(relative_path, rows, len(data), hashlib.sha256(data).hexdigest())
