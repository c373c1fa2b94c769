"""The readers: any accepted file in as raw text rows, every hostile or broken file out with a clear reason.

Inputs are built here, in the test, so that each one shows exactly what it holds.
"""

from __future__ import annotations

import codecs
import datetime
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pyarrow as pa
import pytest
from pypdf import PdfReader, PdfWriter

from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.readers import DEFAULT_CHUNK_ROWS, detect_file, read_chunks, read_documents, read_telegram
from apps.datasets.ingest.types import BadRow, DetectedFile, FileFormat, IngestError, RawChunk
from apps.datasets.models import RecordKind
from apps.datasets.synthetic.codes import edrpou_from_prefix
from apps.datasets.synthetic.config import GeneratorConfig
from apps.datasets.synthetic.generator import generate

MiB = 1 << 20
GiB = 1 << 30
CUSTOMS = RecordKind.CUSTOMS_DECLARATION


def write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


def read_all(
    path: Path,
    detected: DetectedFile | None = None,
    *,
    kind: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    filename: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[RawChunk]:
    detected = detected or detect_file(path, kind=kind, limits=limits)
    return list(read_chunks(path, detected, kind=kind, chunk_rows=chunk_rows, filename=filename, limits=limits))


def rows_of(chunks: Iterable[RawChunk]) -> list[dict[str, str | None]]:
    return [row for chunk in chunks for row in chunk.table.to_pylist()]


def numbers_of(chunks: Iterable[RawChunk]) -> list[int]:
    return [number for chunk in chunks for number in chunk.row_numbers.to_pylist()]


def bad_rows_of(chunks: Iterable[RawChunk]) -> list[BadRow]:
    return [bad for chunk in chunks for bad in chunk.bad_rows]


def refused(path: Path, *, kind: str | None = None, limits: ReadLimits = DEFAULT_LIMITS) -> IngestError:
    """The IngestError the file is refused with, at detection or while it is read."""
    with pytest.raises(IngestError) as caught:
        read_all(path, kind=kind, limits=limits)
    assert caught.value.message, "every refusal tells the user why"
    return caught.value


def peak_rss_reset() -> bool:
    """Reset this process's peak resident size (Linux ≥ 4.0), so that VmHWM measures what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text a page, its cross-reference offsets computed."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * index} 0 R" for index in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for index, text in enumerate(pages):
        content = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * index} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def encrypted_pdf_bytes(*, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(["Secret 37750793"]))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- CSV: the happy paths -------------------------------------------------------------------------------------


def test_utf8_csv_reads_every_cell_as_text_and_keeps_leading_zeros(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "declarations.csv",
        "Номер декларації,Код товару УКТЗЕД,Код ЄДРПОУ,Фактурна вартість\n"
        "UA500200/2023/000001,0803901000,00032945,55574.00\n"
        "UA500200/2023/000002,0201100000,37750793,0.10\n",
    )
    detected = detect_file(path, kind=CUSTOMS)
    assert detected == DetectedFile(
        file_format=FileFormat.CSV,
        encoding="utf-8",
        delimiter=",",
        headers=("Номер декларації", "Код товару УКТЗЕД", "Код ЄДРПОУ", "Фактурна вартість"),
    )
    chunks = read_all(path, detected)
    assert all(field.type == pa.string() for chunk in chunks for field in chunk.table.schema)
    assert rows_of(chunks) == [
        {
            "Номер декларації": "UA500200/2023/000001",
            "Код товару УКТЗЕД": "0803901000",
            "Код ЄДРПОУ": "00032945",
            "Фактурна вартість": "55574.00",
        },
        {
            "Номер декларації": "UA500200/2023/000002",
            "Код товару УКТЗЕД": "0201100000",
            "Код ЄДРПОУ": "37750793",
            "Фактурна вартість": "0.10",
        },
    ]
    assert numbers_of(chunks) == [2, 3]
    assert bad_rows_of(chunks) == []


def test_utf8_bom_is_recognised_and_kept_out_of_the_first_header(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", codecs.BOM_UTF8 + "Код,Назва\r\n001,Перший\r\n".encode())
    detected = detect_file(path)
    assert detected.encoding == "utf-8-sig"
    assert detected.headers == ("Код", "Назва")
    assert rows_of(read_all(path, detected)) == [{"Код": "001", "Назва": "Перший"}]


def test_cp1251_cyrillic_round_trips(tmp_path: Path) -> None:
    rows = [
        ("ТОВ «Ґрунт-Єврохім»", "Київська обл., м. Біла Церква", "Їжак № 5"),
        ("ПП «Соняшник»", "м. Одеса, вул. Грецька, 1", "Ярослав Ігоревич"),
    ]
    text = "Назва;Адреса;Директор\n" + "".join(";".join(f'"{cell}"' for cell in row) + "\n" for row in rows)
    path = write(tmp_path, "registry.csv", text, encoding="cp1251")
    detected = detect_file(path)
    assert (detected.encoding, detected.delimiter) == ("cp1251", ";")
    assert detected.headers == ("Назва", "Адреса", "Директор")
    assert [tuple(row.values()) for row in rows_of(read_all(path, detected))] == rows


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_other_delimiters_are_sniffed(tmp_path: Path, delimiter: str, name: str) -> None:
    # Decimal commas in a semicolon file must not make the comma look like the delimiter.
    lines = [["Код", "Маса нетто, кг", "Вартість"], ["0012", "1234,5", "10,25"], ["0013", "7,125", "3,5"]]
    path = write(tmp_path, f"{name}.csv", "".join(delimiter.join(line) + "\n" for line in lines))
    detected = detect_file(path)
    assert detected.delimiter == delimiter
    assert rows_of(read_all(path, detected)) == [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]


def test_quoted_fields_keep_delimiters_quotes_and_line_breaks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "quoted.csv",
        'Код,Опис,Країна\n001,"Холодильники, двокамерні ""LINBELLUX""\nмодель 2024",KR\n002,просто,PL\n',
    )
    chunks = read_all(path)
    assert rows_of(chunks) == [
        {"Код": "001", "Опис": 'Холодильники, двокамерні "LINBELLUX"\nмодель 2024', "Країна": "KR"},
        {"Код": "002", "Опис": "просто", "Країна": "PL"},
    ]
    # Rows are numbered as a spreadsheet shows them: a quoted line break stays inside its row.
    assert numbers_of(chunks) == [2, 3]


def test_header_cells_with_line_breaks_stay_one_header_row(tmp_path: Path) -> None:
    # Excel writes a header cell wrapped with Alt+Enter as a quoted value with a line break.
    path = write(tmp_path, "wrapped.csv", '\n"Маса нетто,\nкг",Код\n12.5,001\n7,002\n')
    detected = detect_file(path)
    assert detected.headers == ("Маса нетто,\nкг", "Код")
    chunks = read_all(path, detected)
    assert rows_of(chunks) == [{"Маса нетто,\nкг": "12.5", "Код": "001"}, {"Маса нетто,\nкг": "7", "Код": "002"}]
    assert numbers_of(chunks) == [3, 4]


def test_empty_cells_are_missing_and_formula_like_text_is_kept_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "cells.csv", "a,b,c\n,\"\",=cmd|' /C calc'!A0\nNA,N/A,null\n")
    assert rows_of(read_all(path)) == [
        {"a": None, "b": None, "c": "=cmd|' /C calc'!A0"},
        {"a": "NA", "b": "N/A", "c": "null"},
    ]


def test_blank_and_duplicate_headers_get_distinct_names(tmp_path: Path) -> None:
    path = write(tmp_path, "headers.csv", " Код ,,Код\n1,2,3\n")
    detected = detect_file(path)
    assert detected.headers == ("Код", "column_2", "Код (2)")
    assert rows_of(read_all(path, detected)) == [{"Код": "1", "column_2": "2", "Код (2)": "3"}]


def test_generated_declarations_read_in_chunks_with_every_row_numbered(tmp_path: Path) -> None:
    generate(GeneratorConfig(rows=3000, seed=7), tmp_path)
    path = tmp_path / "declarations.csv"
    chunks = read_all(path, chunk_rows=1000)
    assert [chunk.table.num_rows for chunk in chunks] == [1000, 1000, 1000]
    assert numbers_of(chunks) == list(range(2, 3002))
    assert bad_rows_of(chunks) == []
    assert chunks[0].table.column_names[:2] == ["Номер декларації", "Дата оформлення"]


# --- CSV: bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\n", codecs.BOM_UTF8])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    assert refused(write(tmp_path, "empty.csv", content)).code == "empty"


@pytest.mark.parametrize("content", ["Код,Назва\n", "Код;Назва\r\n\r\n  \n"])
def test_header_without_rows_is_refused(tmp_path: Path, content: str) -> None:
    error = refused(write(tmp_path, "header.csv", content))
    assert error.code == "header_only"
    assert "no data rows" in error.message


def test_wrong_encoding_is_refused(tmp_path: Path) -> None:
    # Western European text in Windows-1252: not UTF-8, and read as cp1251 it is Cyrillic glued to Latin letters.
    path = write(tmp_path, "latin.csv", "Name,Stadt\nMüller,Düsseldorf\nGärtner,Köln\n", encoding="cp1252")
    error = refused(path)
    assert error.code == "encoding"
    assert "UTF-8" in error.message


def test_utf16_is_refused_with_advice(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "unicode.txt", "Код\tНазва\n1\tА\n", encoding="utf-16"))
    assert error.code == "encoding"
    assert "UTF-16" in error.message


def test_file_turning_to_another_encoding_midway_is_refused_while_reading(tmp_path: Path) -> None:
    head = "Код,Назва\n" + "".join(f"{index:04d},Назва\n" for index in range(200_000))
    path = write(tmp_path, "mixed.csv", head.encode() + "9999,Назва\n".encode("cp1251") + head[10:].encode())
    error = refused(path, limits=ReadLimits(csv_block_bytes=256 * 1024))
    assert error.code == "encoding"


def test_binary_file_is_refused(tmp_path: Path) -> None:
    assert refused(write(tmp_path, "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100))).code == (
        "unsupported_format"
    )


def test_rows_with_too_many_or_too_few_fields_are_quarantined_and_the_rest_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "fields.csv", "Код,Назва,Сума\n001,А,1\n002,Б,2,зайве\n003,В\n004,Г,4\n")
    chunks = read_all(path)
    assert rows_of(chunks) == [{"Код": "001", "Назва": "А", "Сума": "1"}, {"Код": "004", "Назва": "Г", "Сума": "4"}]
    assert numbers_of(chunks) == [2, 5]
    assert bad_rows_of(chunks) == [
        BadRow(row_number=3, rule="field_count", reason="expected 3 fields, found 4", raw="002,Б,2,зайве"),
        BadRow(row_number=4, rule="field_count", reason="expected 3 fields, found 2", raw="003,В"),
    ]


def test_row_numbers_stay_exact_across_blocks_blank_lines_and_bad_rows(tmp_path: Path) -> None:
    lines = ["Код,Назва,Сума"]
    expected_rows, expected_bad = [], []
    for number in range(2, 30_002):
        if number % 997 == 0:
            lines.append(f"{number},зайве,поле,{number}")
            expected_bad.append(number)
        elif number % 1009 == 0:
            lines.append("")
        elif number % 1013 == 0:
            lines.append(f'{number},"два\nрядки",{number}')
            expected_rows.append(number)
        else:
            lines.append(f"{number},Назва {number},{number}")
            expected_rows.append(number)
    path = write(tmp_path, "many.csv", "\n".join(lines) + "\n")
    chunks = read_all(path, chunk_rows=4000, limits=ReadLimits(csv_block_bytes=64 * 1024, max_line_bytes=16 * 1024))
    # Each row's number is the one it carries in its first column.
    assert numbers_of(chunks) == expected_rows
    assert [int(row["Код"] or "") for row in rows_of(chunks)] == expected_rows
    assert [bad.row_number for bad in bad_rows_of(chunks)] == expected_bad


def test_unclosed_quote_stops_the_file_with_a_clear_error(tmp_path: Path) -> None:
    body = "".join(f"{index},Назва\n" for index in range(20_000))
    path = write(tmp_path, "quote.csv", 'Код,Назва\n1,"ТОВ Каскад\n' + body)
    error = refused(path, limits=ReadLimits(csv_block_bytes=64 * 1024, max_line_bytes=16 * 1024))
    assert error.code == "row_too_long"
    assert "quote" in error.message


def test_a_2_gb_line_is_quarantined_without_ever_being_held_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "two-gigabytes.csv"
    before_line = [f"{index:04d},рядок {index}" for index in range(1, 4001)]
    with path.open("wb") as handle:
        handle.write(("Код,Назва\n" + "\n".join(before_line) + "\nLONG").encode())
        # A hole: 2 GB of zero bytes on read, no disk blocks and no time to write.
        handle.seek(2 * GiB, os.SEEK_CUR)
        handle.write("\n4001,після\n4002,кінець\n".encode())
    try:
        assert path.stat().st_size > 2 * GiB
        detected = detect_file(path)
        assert detected.headers == ("Код", "Назва")
        measured = peak_rss_reset()
        before = peak_rss()
        chunks = list(read_chunks(path, detected))
        grown = peak_rss() - before
    finally:
        path.unlink()
    rows = rows_of(chunks)
    assert len(rows) == 4002
    assert rows[-2:] == [{"Код": "4001", "Назва": "після"}, {"Код": "4002", "Назва": "кінець"}]
    assert numbers_of(chunks)[-3:] == [4001, 4003, 4004]
    [bad] = bad_rows_of(chunks)
    assert (bad.row_number, bad.rule) == (4002, "line_too_long")
    assert bad.raw.startswith("LONG")
    assert len(bad.raw) <= 4096
    # The whole read stays within a few blocks: nowhere near the 2 GB of the line.
    assert grown < 300 * MiB, f"peak RSS grew by {grown / MiB:.0f} MiB (measured from a reset peak: {measured})"


def test_header_longer_than_a_line_may_be_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "noheader.csv", b"x" * (2 * MiB) + b"\n1\n")
    assert refused(path).code == "line_too_long"


# --- XLSX ---------------------------------------------------------------------------------------------------------


def workbook_path(tmp_path: Path, rows: Sequence[Sequence[object]], name: str = "book.xlsx") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            if cell.value == "formula-like text":
                # Text that looks like a formula, stored as text the way Excel stores '=cmd|…
                cell.value, cell.data_type = "=cmd|' /C calc'!A0", "s"
    path = tmp_path / name
    workbook.save(path)
    return path


def test_xlsx_cells_become_the_text_the_sheet_shows(tmp_path: Path) -> None:
    path = workbook_path(
        tmp_path,
        [
            ["Реєстр митних декларацій за 2024 рік"],
            [],
            ["Код товару", "Назва", "Вартість", "Дата", "Час оформлення", "Перевірено", "Кількість"],
            ["0803901000", "ТОВ «Каскад»", 0.1 + 0.2, datetime.date(2024, 1, 15), None, True, 149.0],
            ["0201100000", "ПП «Соняшник»", 1234567.5, datetime.datetime(2024, 1, 16, 10, 30), None, False, 1e-7],
            [],
            ["formula-like text", None, -0.0, None, None, None, 12345678901234567890.0],
        ],
    )
    detected = detect_file(path, kind=CUSTOMS)
    assert detected.file_format == FileFormat.XLSX
    assert detected.headers == ("Код товару", "Назва", "Вартість", "Дата", "Час оформлення", "Перевірено", "Кількість")
    chunks = read_all(path, detected)
    assert rows_of(chunks) == [
        {
            "Код товару": "0803901000",
            "Назва": "ТОВ «Каскад»",
            "Вартість": "0.3",
            "Дата": "2024-01-15",
            "Час оформлення": None,
            "Перевірено": "true",
            "Кількість": "149",
        },
        {
            "Код товару": "0201100000",
            "Назва": "ПП «Соняшник»",
            "Вартість": "1234567.5",
            "Дата": "2024-01-16 10:30:00",
            "Час оформлення": None,
            "Перевірено": "false",
            "Кількість": "0.0000001",
        },
        {
            "Код товару": "=cmd|' /C calc'!A0",
            "Назва": None,
            "Вартість": "0",
            "Дата": None,
            "Час оформлення": None,
            "Перевірено": None,
            "Кількість": "12345678901234600000",
        },
    ]
    # Excel's own row numbers: a title, a blank row and the header come first.
    assert numbers_of(chunks) == [4, 5, 7]


def test_xlsx_cell_beyond_the_header_makes_a_bad_row(tmp_path: Path) -> None:
    path = workbook_path(tmp_path, [["Код", "Назва"], ["001", "А"], ["002", "Б", None, "примітка"], ["003", "В"]])
    chunks = read_all(path, chunk_rows=2)
    assert [row["Код"] for row in rows_of(chunks)] == ["001", "003"]
    assert bad_rows_of(chunks) == [
        BadRow(row_number=3, rule="field_count", reason="expected 2 fields, found 4", raw="002\tБ\t\tпримітка")
    ]


def test_xlsx_header_only_is_refused(tmp_path: Path) -> None:
    assert refused(workbook_path(tmp_path, [["Код", "Назва"], [], []])).code == "header_only"


def test_truncated_xlsx_is_refused(tmp_path: Path) -> None:
    whole = workbook_path(tmp_path, [["Код", "Назва"]] + [[f"{index:04d}", "Назва"] for index in range(2000)])
    data = whole.read_bytes()
    path = write(tmp_path, "cut.xlsx", data[: len(data) // 2])
    error = refused(path)
    assert error.code == "corrupt_xlsx"
    assert "damaged" in error.message


def test_xlsx_with_a_damaged_part_is_refused(tmp_path: Path) -> None:
    data = bytearray(workbook_path(tmp_path, [["Код", "Назва"], ["001", "А"]]).read_bytes())
    # Flip bytes inside the compressed worksheet: its CRC no longer matches.
    start = data.index(b"xl/worksheets/sheet1.xml") + len(b"xl/worksheets/sheet1.xml")
    data[start + 10 : start + 20] = bytes(byte ^ 0xFF for byte in data[start + 10 : start + 20])
    assert refused(write(tmp_path, "damaged.xlsx", bytes(data))).code == "corrupt_xlsx"


def test_xlsx_spanning_a_huge_rectangle_is_refused_before_calamine_allocates_it(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"], sheet["B1"], sheet["A2"] = "Код", "Назва", "001"
    # Two cells: calamine would allocate 1,048,576 × 16,384 cells for them.
    sheet["XFD1048576"] = "x"
    path = tmp_path / "sparse.xlsx"
    workbook.save(path)
    assert path.stat().st_size < 10_000
    error = refused(path)
    assert error.code == "sheet_too_large"
    assert "1048576" in error.message


def test_xlsx_is_known_by_its_content_whatever_its_name(tmp_path: Path) -> None:
    book = workbook_path(tmp_path, [["Код", "Назва"], ["0012", "А"]])
    renamed = write(tmp_path, "export.xls", book.read_bytes())
    assert detect_file(renamed).file_format == FileFormat.XLSX
    assert rows_of(read_all(renamed)) == [{"Код": "0012", "Назва": "А"}]


def rewritten_workbook(source: Path, target: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of the workbook with some parts replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            data = change.get(info.filename, original.read(info))
            if data is not None:
                copy.writestr(info.filename, data)
        for name, data in change.items():
            if name not in original.namelist() and data is not None:
                copy.writestr(name, data)
    return target


def test_xlsx_cells_without_references_are_placed_and_bounded(tmp_path: Path) -> None:
    book = workbook_path(tmp_path, [["Код", "Назва", "Сума"], ["001", "А", 1], ["002", "Б", 2]])
    with zipfile.ZipFile(book) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    # Some writers leave out the references: each cell then takes the next column, each row the next row.
    sheet = re.sub(rb'<row r="[0-9]+"', b"<row", re.sub(rb'<c r="[A-Z]+[0-9]+"', b"<c", sheet))
    path = rewritten_workbook(book, tmp_path / "norefs.xlsx", {"xl/worksheets/sheet1.xml": sheet})
    assert rows_of(read_all(path)) == [
        {"Код": "001", "Назва": "А", "Сума": "1"},
        {"Код": "002", "Назва": "Б", "Сума": "2"},
    ]
    assert refused(path, limits=ReadLimits(max_sheet_cells=8)).code == "sheet_too_large"


def test_zip_bomb_inside_an_xlsx_is_refused(tmp_path: Path) -> None:
    book = workbook_path(tmp_path, [["Код", "Назва"], ["001", "А"]])
    bomb = tmp_path / "bomb.xlsx"
    rewritten_workbook(book, bomb, {})
    with (
        zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("xl/media/image1.png", "w") as member,
    ):
        zeros = bytes(MiB)
        for _block in range(100):
            member.write(zeros)
    error = refused(bomb)
    assert error.code == "zip_bomb"
    assert "xl/media/image1.png" in error.message


# --- Telegram -----------------------------------------------------------------------------------------------------


TELEGRAM_EXPORT = {
    "name": "Митний контроль",
    "type": "public_channel",
    "id": 1234567890,
    "messages": [
        {
            "id": 1,
            "type": "service",
            "date": "2024-01-01T10:00:00",
            "date_unixtime": "1704096000",
            "actor": "Митний контроль",
            "action": "create_channel",
            "text": "",
        },
        {
            "id": 2,
            "type": "message",
            "date": "2024-01-02T10:00:00",
            "date_unixtime": "1704182400",
            "from": "Митний контроль",
            "from_id": "channel1234567890",
            "text": "ТОВ 37750793 (не 37750794) возить через +380 67 123-45-67, див. https://example.com/a.",
            "text_entities": [{"type": "plain", "text": "…"}],
        },
        {
            "id": 3,
            "type": "message",
            "date": "2024-01-03T10:00:00",
            "date_unixtime": "1704268800",
            "from": "Адмін",
            "forwarded_from": "Інший канал",
            "text": [
                "Деталі ",
                {"type": "text_link", "text": "тут", "href": "https://t.me/other/15"},
                ", реєстр: ",
                {"type": "link", "text": "https://opendatabot.ua/c/00032945"},
                " тел. ",
                {"type": "phone", "text": "+38 (050) 111 22 33"},
                {"type": "bold", "text": " терміново"},
            ],
        },
        {"id": 4, "type": "message", "text": "без дати"},
    ],
}


def test_telegram_export_reads_both_text_forms_and_what_they_mention(tmp_path: Path) -> None:
    path = write(tmp_path, "result.json", json.dumps(TELEGRAM_EXPORT, ensure_ascii=False, indent=1))
    detected = detect_file(path, kind=RecordKind.TELEGRAM_MESSAGE)
    assert detected.file_format == FileFormat.TELEGRAM_JSON
    assert detected.headers == (
        "channel", "message_id", "sent_at", "author", "text", "forwarded_from", "links", "phones", "codes",
    )  # fmt: skip
    chunks = read_all(path, detected)
    rows = rows_of(chunks)
    assert [row["message_id"] for row in rows] == ["2", "3"]
    plain, rich = rows
    assert plain["channel"] == "Митний контроль"
    assert plain["sent_at"] == "2024-01-02T08:00:00+00:00"
    assert plain["author"] == "Митний контроль"
    assert plain["text"] == TELEGRAM_EXPORT["messages"][1]["text"]  # type: ignore[index]
    assert json.loads(plain["links"] or "") == ["https://example.com/a"]
    assert json.loads(plain["phones"] or "") == ["+380671234567"]
    # 37750794 has a wrong check digit: not a company code.
    assert json.loads(plain["codes"] or "") == ["37750793"]
    assert rich["text"] == "Деталі тут, реєстр: https://opendatabot.ua/c/00032945 тел. +38 (050) 111 22 33 терміново"
    assert rich["forwarded_from"] == "Інший канал"
    assert json.loads(rich["links"] or "") == ["https://t.me/other/15", "https://opendatabot.ua/c/00032945"]
    assert json.loads(rich["phones"] or "") == ["+380501112233"]
    assert json.loads(rich["codes"] or "") == [edrpou_from_prefix(3294)]
    assert numbers_of(chunks) == [2, 3]
    [bad] = bad_rows_of(chunks)
    assert (bad.row_number, bad.rule, bad.reason) == (4, "telegram_message", "the message has no date")


def test_telegram_reader_streams_a_large_export_in_chunks(tmp_path: Path) -> None:
    messages = [
        {"id": index, "type": "message", "date_unixtime": str(1704096000 + index), "from": "А", "text": f"№{index}"}
        for index in range(1, 5001)
    ]
    path = write(tmp_path, "result.json", json.dumps({"name": "Канал", "messages": messages}, indent=1))
    chunks = list(read_telegram(path, chunk_rows=2000))
    assert [chunk.table.num_rows for chunk in chunks] == [2000, 2000, 1000]
    assert rows_of(chunks)[-1]["text"] == "№5000"


@pytest.mark.parametrize(
    "document",
    [
        {"data": [{"id": 1}]},
        [{"id": 1, "type": "message", "text": "a list is not an export"}],
        {"name": "x", "messages": [{"author": "someone", "body": "a chat app, but not Telegram"}]},
        {"about": "Telegram account export", "chats": {"list": []}},
    ],
)
def test_json_that_is_not_a_telegram_chat_export_is_refused(tmp_path: Path, document: object) -> None:
    error = refused(write(tmp_path, "data.json", json.dumps(document)))
    assert error.code == "not_telegram"
    assert "Telegram" in error.message


def test_truncated_telegram_export_is_refused(tmp_path: Path) -> None:
    text = json.dumps(TELEGRAM_EXPORT, ensure_ascii=False, indent=1)
    assert refused(write(tmp_path, "result.json", text[: len(text) - 200])).code == "invalid_json"


def test_json_line_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    export = {"name": "Канал", "messages": [{"id": 1, "type": "message", "date": "2024-01-01T00:00:00",
                                            "text": "x" * (2 * MiB)}]}  # fmt: skip
    path = write(tmp_path, "result.json", json.dumps(export, indent=1))
    assert refused(path, limits=ReadLimits(max_json_line_bytes=MiB)).code == "line_too_long"


# --- PDF ------------------------------------------------------------------------------------------------------------


def test_pdf_text_pages_and_hash(tmp_path: Path) -> None:
    data = pdf_bytes(["Invoice 37750793", "Total 1234.50 UAH"])
    path = write(tmp_path, "invoice.pdf", data)
    detected = detect_file(path, kind=RecordKind.DOCUMENT)
    assert detected.file_format == FileFormat.PDF
    [row] = rows_of(read_all(path, detected, filename="Рахунок.pdf"))
    assert row["filename"] == "Рахунок.pdf"
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["page_count"] == "2"
    assert "Invoice 37750793" in (row["text"] or "")
    assert "Total 1234.50 UAH" in (row["text"] or "")


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.pdf", encrypted_pdf_bytes(user_password="open-sesame"))
    error = refused(path, kind=RecordKind.DOCUMENT)
    assert error.code == "encrypted_pdf"
    assert "password" in error.message


def test_pdf_restricted_only_by_an_owner_password_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "restricted.pdf", encrypted_pdf_bytes(user_password=""))
    [row] = rows_of(read_documents(path))
    assert "Secret 37750793" in (row["text"] or "")


def test_damaged_pdf_is_refused(tmp_path: Path) -> None:
    assert refused(write(tmp_path, "broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")).code == "corrupt_pdf"


# --- ZIP archives -------------------------------------------------------------------------------------------------


def zip_path(tmp_path: Path, members: dict[str, bytes], name: str = "upload.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


DECLARATIONS_CSV = "Код,Назва\n001,Перший\n002,Другий\n".encode()


def test_zip_with_csv_and_pdf_reads_the_members_of_the_datasets_kind(tmp_path: Path) -> None:
    path = zip_path(
        tmp_path,
        {
            "звіт/декларації.csv": DECLARATIONS_CSV,
            "рахунок.pdf": pdf_bytes(["Invoice 37750793"]),
            "секрет.pdf": encrypted_pdf_bytes(user_password="x"),
            "__MACOSX/._декларації.csv": b"\x00\x05\x16\x07",
        },
    )
    detected = detect_file(path, kind=CUSTOMS)
    assert (detected.file_format, detected.headers) == (FileFormat.ZIP, ("Код", "Назва"))
    chunks = read_all(path, detected, kind=CUSTOMS)
    assert rows_of(chunks) == [{"Код": "001", "Назва": "Перший"}, {"Код": "002", "Назва": "Другий"}]
    assert {chunk.source for chunk in chunks if chunk.table.num_rows} == {"звіт/декларації.csv"}
    assert [(bad.raw, bad.rule) for bad in bad_rows_of(chunks)] == [
        ("рахунок.pdf", "unsupported_member"),
        ("секрет.pdf", "unsupported_member"),
    ]

    documents = detect_file(path, kind=RecordKind.DOCUMENT)
    chunks = read_all(path, documents, kind=RecordKind.DOCUMENT)
    [document] = rows_of(chunks)
    assert document["filename"] == "рахунок.pdf"
    assert "Invoice 37750793" in (document["text"] or "")
    assert numbers_of(chunks) == [2]
    assert sorted((bad.raw, bad.rule) for bad in bad_rows_of(chunks)) == [
        ("звіт/декларації.csv", "unsupported_member"),
        ("секрет.pdf", "encrypted_pdf"),
    ]


def test_zip_members_with_other_columns_or_nested_archives_are_reported_not_read(tmp_path: Path) -> None:
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as inner:
        inner.writestr("inner.csv", DECLARATIONS_CSV)
    path = zip_path(
        tmp_path,
        {
            "2023.csv": DECLARATIONS_CSV,
            "2024.csv": "Код;Назва\n003;Третій\n".encode("cp1251"),
            "інше.csv": "Номер,Дата\n1,01.01.2024\n".encode(),
            "архів.zip": nested.getvalue(),
            "../../outside.csv": DECLARATIONS_CSV,
        },
    )
    chunks = read_all(path, kind=CUSTOMS)
    assert [(chunk.source, row["Код"]) for chunk in chunks for row in chunk.table.to_pylist()] == [
        ("2023.csv", "001"),
        ("2023.csv", "002"),
        ("2024.csv", "003"),
        ("../../outside.csv", "001"),
        ("../../outside.csv", "002"),
    ]
    assert [(bad.raw, bad.rule) for bad in bad_rows_of(chunks)] == [
        ("інше.csv", "member_headers"),
        ("архів.zip", "unsupported_member"),
    ]
    assert not (tmp_path.parent / "outside.csv").exists()


def test_zip_xlsx_member_is_read_like_a_workbook(tmp_path: Path) -> None:
    book = workbook_path(tmp_path, [["Код", "Назва"], ["0012", "А"]])
    path = zip_path(tmp_path, {"книга.xlsx": book.read_bytes()})
    detected = detect_file(path, kind=CUSTOMS)
    assert detected.headers == ("Код", "Назва")
    assert rows_of(read_all(path, detected, kind=CUSTOMS)) == [{"Код": "0012", "Назва": "А"}]


def test_zip_bomb_is_refused_while_it_inflates(tmp_path: Path) -> None:
    path = zip_path(tmp_path, {"declarations.csv": DECLARATIONS_CSV}, name="bomb.zip")
    # 300 MB of zeros that deflate to about 1.4 MB, written as they stream.
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("more-declarations.csv", "w") as member,
    ):
        zeros = bytes(MiB)
        for _block in range(300):
            member.write(zeros)
    assert path.stat().st_size < 2 * MiB
    measured = peak_rss_reset()
    before = peak_rss()
    error = refused(path, kind=CUSTOMS)
    assert error.code == "zip_bomb"
    assert "more-declarations.csv" in error.message
    assert peak_rss() - before < 200 * MiB, f"measured from a reset peak: {measured}"


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (ReadLimits(max_members=3), "more than 3 files"),
        (ReadLimits(max_total_bytes=100), "unpack to more than"),
        (ReadLimits(max_member_bytes=50), "“b.csv” unpacks to more than"),
    ],
)
def test_zip_limits_on_members_and_sizes(tmp_path: Path, limits: ReadLimits, expected: str) -> None:
    path = zip_path(tmp_path, {f"{name}.csv": b"a,b\n" + b"1,2\n" * (5 + 10 * index)
                               for index, name in enumerate("abcd")})  # fmt: skip
    error = refused(path, kind=CUSTOMS, limits=limits)
    assert error.code == "zip_bomb"
    assert expected in error.message


def test_zip_whose_header_understates_a_member_is_caught_while_inflating(tmp_path: Path) -> None:
    path = zip_path(tmp_path, {"a.csv": b"a,b\n" + b"1,2\n" * 50_000})
    data = bytearray(path.read_bytes())
    # Rewrite the declared size (local header and central directory) to 10 bytes: the CRC check catches the lie.
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("a.csv")
    real = info.file_size.to_bytes(4, "little")
    data = bytearray(bytes(data).replace(real, (10).to_bytes(4, "little")))
    error = refused(write(tmp_path, "liar.zip", bytes(data)), kind=CUSTOMS)
    assert error.code == "corrupt_zip"


def test_damaged_zip_is_refused(tmp_path: Path) -> None:
    data = zip_path(tmp_path, {"a.csv": DECLARATIONS_CSV, "b.csv": DECLARATIONS_CSV}).read_bytes()
    assert refused(write(tmp_path, "cut.zip", data[: len(data) - 30])).code == "corrupt_zip"


# --- Kinds -----------------------------------------------------------------------------------------------------------


def test_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "invoice.pdf", pdf_bytes(["Invoice"]))
    error = refused(path, kind=CUSTOMS)
    assert error.code == "wrong_kind"
    assert "PDF" in error.message
