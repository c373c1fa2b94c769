"""A text file as pyarrow and ijson read it: UTF-8 without a BOM, and no physical line longer than a limit.

The stream sits between the file and the parser. It transcodes Windows-1251 to UTF-8 block by block (the two
share every byte below 0x80, so line ends and quotes stay where they were), and it never holds more than one
block plus one line: a line that grows past the limit is handed to ``on_long_line`` as soon as it does — the
CSV reader puts a marker row in its place, the JSON reader refuses the file — and the rest of it is skipped as it
streams past, so a 2 GB line costs the time to read it and no memory.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

PREFIX_BYTES = 16 * 1024


@dataclass(frozen=True)
class LongLine:
    # Physical line in the file, 1-based (counted by line feeds).
    line_number: int
    prefix: bytes


def _line_end(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Index of the first line terminator (LF or a lone CR, which pyarrow also accepts) in data[start:end], or -1."""
    positions = [found for found in (data.find(b"\n", start, end), data.find(b"\r", start, end)) if found >= 0]
    return min(positions) if positions else -1


def _last_line_end(data: bytes, end: int | None = None) -> int:
    return max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))


class GuardedTextStream:
    """A read-only binary stream (``read(size)``) over ``raw``; see the module docstring."""

    def __init__(
        self,
        raw: BinaryIO,
        *,
        encoding: str,
        max_line_bytes: int,
        on_long_line: Callable[[LongLine], bytes],
        read_size: int = 1 << 20,
    ) -> None:
        self._raw = raw
        self._encoding = encoding
        self._limit = max_line_bytes
        self._on_long_line = on_long_line
        self._read_size = read_size
        self._tail = b""
        self._skipping = False
        self._first = True
        self._eof = False
        # Line feeds passed on so far: the number of the line being read is this plus one.
        self._lines = 0
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self._raw.close()

    def read(self, size: int = -1) -> bytes:
        # ijson reads 0 bytes first to learn whether the stream gives bytes or text.
        while size != 0 and not self._eof:
            block = self._raw.read(size if size and size > 0 else self._read_size)
            if not block:
                self._eof = True
                tail, self._tail = self._tail, b""
                return tail
            output = self._feed(self._decode(block))
            if output:
                return output
        return b""

    def _decode(self, block: bytes) -> bytes:
        if self._first:
            self._first = False
            block = block.removeprefix(codecs.BOM_UTF8)
        if self._encoding == "cp1251":
            return block.decode("cp1251", errors="replace").encode()
        return block

    def _feed(self, block: bytes) -> bytes:
        if self._skipping:
            end = _line_end(block)
            if end < 0:
                return b""
            block = block[end:]
            self._skipping = False
        data = self._tail + block if self._tail else block
        cut = _last_line_end(data)
        complete, tail = (data[: cut + 1], data[cut + 1 :]) if cut >= 0 else (b"", data)
        output = self._checked(complete)
        if len(tail) > self._limit:
            output += self._on_long_line(LongLine(self._lines + 1, tail[:PREFIX_BYTES]))
            self._skipping = True
            tail = b""
        self._tail = tail
        return output

    def _checked(self, complete: bytes) -> bytes:
        """``complete`` (whole lines) with every line longer than the limit replaced by ``on_long_line``'s bytes.

        A line longer than the limit covers a whole window of half the limit, wherever it starts, so looking for
        a window without a line end finds every such line with two ``find`` calls a window.
        """
        half = max(1, self._limit // 2)
        pieces: list[bytes] = []
        kept_from = 0
        start = 0
        while start + half <= len(complete):
            if _line_end(complete, start, start + half) >= 0:
                start += half
                continue
            line_start = _last_line_end(complete, start) + 1
            line_end = _line_end(complete, start + half)
            if line_end - line_start > self._limit:
                number = self._lines + complete.count(b"\n", 0, line_start) + 1
                pieces.append(complete[kept_from:line_start])
                pieces.append(self._on_long_line(LongLine(number, complete[line_start : line_start + PREFIX_BYTES])))
                kept_from = line_end
            start = line_end
        self._lines += complete.count(b"\n")
        if not pieces:
            return complete
        pieces.append(complete[kept_from:])
        return b"".join(pieces)
