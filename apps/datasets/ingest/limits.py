"""How much of an uploaded file the readers accept before they stop: the defences against hostile files.

Every limit is checked on the bytes actually read (inflated, decoded), never only on what a file's header claims.
The defaults let through the largest real exports we know of (a 600 MB customs CSV is far inside them) and stop a
file built to exhaust memory or disk long before it does.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class ReadLimits:
    # A physical line of a CSV file; a longer one is quarantined as one bad row and skipped without being kept.
    max_line_bytes: int = 1 * MiB
    # pyarrow's read block; a CSV row (quoted line breaks included) must fit in one or two blocks. pyarrow's streaming
    # reader reads up to 32 blocks ahead of its consumer, so the block size sets that memory: 2 MiB reads a 600 MB
    # export as fast as larger blocks (about 3.5 s of one core) with a peak about 300 MB above the process's own.
    csv_block_bytes: int = 2 * MiB
    # A line of a JSON export: Telegram Desktop writes one value a line, so only a forged file comes near it.
    max_json_line_bytes: int = 64 * MiB
    # Cells of the rectangle a worksheet spans (calamine allocates all of it, empty cells included).
    max_sheet_cells: int = 10_000_000
    # ZIP archives, and XLSX files, which are ZIP archives too.
    max_members: int = 10_000
    max_member_bytes: int = 4 * GiB
    max_total_bytes: int = 8 * GiB
    # Deflate rarely does better than 20:1 on real exports; a bomb of zeros does about 1000:1.
    max_ratio: int = 100
    # The ratio is judged only once a member has produced this much: tiny files compress absurdly well.
    ratio_floor_bytes: int = 16 * MiB
    # Text kept from one PDF; the page count is still the whole document's.
    max_document_chars: int = 20_000_000


DEFAULT_LIMITS = ReadLimits()
