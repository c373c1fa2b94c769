"""Case reports: one ``Report`` (a summary and tables) gathered from the case, written as PDF, XLSX, CSV or PPTX.

Personal values are masking tokens in everything a case holds (entity names, anomaly titles, record labels), so a
report is masked by construction. When the export was allowed to unmask (``CaseExport.pii_unmasked``: the
requester held ``export_pii`` and had unlocked the case), the tokens that unlock disclosed (kept on the export) are
replaced with their clear values from the privacy vault; any other token stays masked.

Spreadsheet cells go through ``apps.datasets.exports.escape_formula``: a note or a title that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is written as text, never as a formula.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from apps.cases import selectors
from apps.cases.models import Case, CaseExport, ExportFormat, ExportStatus
from apps.datasets.exports import escape_formula
from apps.privacy.targets import TOKEN_PATTERN as TOKEN
from apps.privacy.vault import vault_reveal

FONT_DIR = Path(__file__).resolve().parent / "fonts"
CONTENT_TYPES: dict[str, str] = {
    ExportFormat.PDF: "application/pdf",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
PPTX_ROWS_PER_SLIDE = 10

Cell = str | int | float | Decimal | None


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Report:
    title: str
    summary: list[tuple[str, Cell]]
    tables: list[Table]

    def map_text(self, change: Callable[[str], str]) -> None:
        """Apply ``change`` to every text value of the report."""
        self.title = change(self.title)
        self.summary = [(label, change(value) if isinstance(value, str) else value) for label, value in self.summary]
        for table in self.tables:
            table.rows = [[change(cell) if isinstance(cell, str) else cell for cell in row] for row in table.rows]

    def tokens(self) -> set[str]:
        found: set[str] = set(TOKEN.findall(self.title))
        for _label, value in self.summary:
            if isinstance(value, str):
                found.update(TOKEN.findall(value))
        for table in self.tables:
            for row in table.rows:
                for cell in row:
                    if isinstance(cell, str):
                        found.update(TOKEN.findall(cell))
        return found


def _user(user: Any) -> str:
    return user.get_username() if user is not None else "—"


def _when(value: Any) -> str:
    if value is None:
        return ""
    return formats.date_format(timezone.localtime(value), "Y-m-d H:i")


def report_build(*, case: Case, user: Any) -> Report:
    """What the case holds, as ``user`` may see it, in the active language."""
    team = ", ".join(sorted(member.get_username() for member in case.team.all()))
    summary: list[tuple[str, Cell]] = [
        (_("Case"), f"#{case.pk}"),
        (_("Title"), case.title),
        (_("Description"), case.description),
        (_("Status"), case.get_status_display()),
        (_("Priority"), case.get_priority_display()),
        (_("Due date"), case.due_date.isoformat()),
        (_("Lead investigator"), _user(case.lead)),
        (_("Team"), team),
        (_("Tags"), ", ".join(case.tags)),
        (_("Opened"), f"{_when(case.created_at)} · {_user(case.created_by)}"),
    ]
    if not case.is_open:
        summary += [
            (_("Closure classification"), case.get_classification_display()),
            (_("Amount assessed, UAH"), case.amount_assessed),
            (_("Closure reason"), case.closure_reason),
            (_("Closed"), f"{_when(case.closed_at)} · {_user(case.closed_by)}"),
        ]
    tables = [
        Table(
            _("Anomalies"),
            [_("Id"), _("Detector"), _("Severity"), _("Score"), _("Status"), _("Title")],
            [
                [a.pk, a.detector, a.get_severity_display(), round(a.score, 3), a.get_status_display(), a.title]
                for a in selectors.case_anomalies(user=user, case=case)
            ],
        ),
        Table(
            _("Entities"),
            [_("Id"), _("Kind"), _("Name"), _("Country")],
            [[e.pk, e.get_kind_display(), e.name, e.country] for e in selectors.case_entities(user=user, case=case)],
        ),
        Table(
            _("Records and documents"),
            [_("Kind"), _("Id"), _("Record")],
            [[r.get_kind_display(), r.record_id, r.label] for r in selectors.case_records(case=case)],
        ),
        Table(
            _("Tasks"),
            [_("Task"), _("Assignee"), _("Due date"), _("Done")],
            [
                [t.title, _user(t.assignee), t.due_date.isoformat() if t.due_date else "", _when(t.done_at)]
                for t in selectors.case_tasks(case=case)
            ],
        ),
        Table(
            _("Notes"),
            [_("Written"), _("Author"), _("Note")],
            [[_when(n.created_at), _user(n.author), n.body] for n in selectors.case_notes(case=case)],
        ),
        Table(
            _("Evidence"),
            [_("File"), _("SHA-256"), _("Size (bytes)"), _("Added by"), _("Added")],
            [
                [e.original_filename, e.sha256, e.size_bytes, _user(e.added_by), _when(e.added_at)]
                for e in selectors.case_evidence(case=case)
            ],
        ),
        Table(
            _("Timeline"),
            [_("When"), _("Who"), _("What"), _("Changes")],
            [
                [
                    _when(item.entry.timestamp),
                    _user(item.entry.actor),
                    f"{item.subject}: {item.entry.get_action_display()}",
                    "; ".join(f"{name}: {old} → {new}" for name, old, new in item.changes),
                ]
                for item in selectors.case_timeline(case=case)
            ],
        ),
    ]
    return Report(
        title=_("Case #%(number)s: %(title)s") % {"number": case.pk, "title": case.title},
        summary=summary,
        tables=tables,
    )


def report_unmask(report: Report, *, organization_id: int, disclosed: Collection[str]) -> None:
    """Show in clear the tokens of the report that the requester's unlock disclosed, and no other."""
    clear = vault_reveal(organization_id=organization_id, tokens=report.tokens() & set(disclosed))
    if clear:
        report.map_text(lambda text: TOKEN.sub(lambda match: clear.get(match.group(0), match.group(0)), text))


# --- writers -----------------------------------------------------------------------------------------------------


def _text(cell: Cell) -> str:
    return "" if cell is None else str(cell)


def write_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows: list[Sequence[Cell]] = [[report.title], []]
    rows += [[label, value] for label, value in report.summary]
    for table in report.tables:
        rows += [[], [table.title], table.headers, *table.rows]
    for row in rows:
        writer.writerow([escape_formula(cell) for cell in row])
    # A byte-order mark, so that spreadsheets open Cyrillic as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_cell(cell: Cell) -> Any:
    if isinstance(cell, int | float | Decimal) and not isinstance(cell, bool):
        return cell
    return escape_formula(cell)


def write_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _sheet_title(_("Summary"))
    sheet.append([_xlsx_cell(report.title)])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in report.summary:
        sheet.append([_xlsx_cell(label), _xlsx_cell(value)])
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 80
    for table in report.tables:
        tab = workbook.create_sheet(_sheet_title(table.title))
        tab.append([_xlsx_cell(header) for header in table.headers])
        for cell in tab[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            tab.append([_xlsx_cell(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_title(title: str) -> str:
    # Excel refuses sheet names over 31 characters or with any of []:*?/\
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31]


@cache
def _pdf_fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

    # The standard PDF fonts have no Cyrillic; DejaVu Sans ships with the app (fonts/LICENSE).
    pdfmetrics.registerFont(TTFont("NexusSans", str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("NexusSans-Bold", str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    return "NexusSans", "NexusSans-Bold"


def write_pdf(report: Report) -> bytes:
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle  # type: ignore[import-untyped]

    regular, bold = _pdf_fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=8, leading=10)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4)
    title = ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, spaceAfter=8)

    def paragraph(cell: Cell, style: ParagraphStyle = body) -> Paragraph:
        # Paragraph reads a mark-up language: stored text is escaped so that it is only ever text.
        return Paragraph(xml_escape(_text(cell)).replace("\n", "<br/>"), style)

    style = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ]
    )
    page_width = landscape(A4)[0] - 30 * mm
    story: list[Any] = [paragraph(report.title, title)]
    summary = LongTable(
        [[paragraph(label), paragraph(value)] for label, value in report.summary],
        colWidths=[50 * mm, page_width - 50 * mm],
    )
    summary.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(summary)
    for table in report.tables:
        story += [Spacer(1, 4 * mm), paragraph(table.title, heading)]
        if not table.rows:
            story.append(paragraph(_("None.")))
            continue
        rows = [[paragraph(header) for header in table.headers]] + [
            [paragraph(cell) for cell in row] for row in table.rows
        ]
        widths = [page_width / len(table.headers)] * len(table.headers)
        grid = LongTable(rows, colWidths=widths, repeatRows=1)
        grid.setStyle(style)
        story.append(grid)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=report.title,
        invariant=True,
    )
    document.build(story)
    return buffer.getvalue()


def write_pptx(report: Report) -> bytes:
    from pptx import Presentation
    from pptx.util import Inches, Pt

    presentation = Presentation()
    presentation.slide_width, presentation.slide_height = Inches(13.333), Inches(7.5)
    title_slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    title_slide.shapes.title.text = report.title

    def table_slide(heading: str, headers: list[str], rows: list[list[Cell]]) -> None:
        slide = presentation.slides.add_slide(presentation.slide_layouts[5])
        slide.shapes.title.text = heading
        shape = slide.shapes.add_table(
            len(rows) + 1, len(headers), Inches(0.4), Inches(1.4), Inches(12.5), Inches(0.3) * (len(rows) + 1)
        )
        grid = shape.table
        for column, header in enumerate(headers):
            grid.cell(0, column).text = header
        for row_index, row in enumerate(rows, start=1):
            for column, cell in enumerate(row):
                grid.cell(row_index, column).text = _text(cell)[:500]
        for row_cells in grid.rows:
            for cell in row_cells.cells:
                for paragraph in cell.text_frame.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(10)

    summary_rows: list[list[Cell]] = [[label, value] for label, value in report.summary]
    table_slide(_("Summary"), [_("Field"), _("Value")], summary_rows)
    for table in report.tables:
        if not table.rows:
            continue
        for start in range(0, len(table.rows), PPTX_ROWS_PER_SLIDE):
            table_slide(table.title, table.headers, table.rows[start : start + PPTX_ROWS_PER_SLIDE])
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


WRITERS: dict[str, Callable[[Report], bytes]] = {
    ExportFormat.PDF: write_pdf,
    ExportFormat.XLSX: write_xlsx,
    ExportFormat.CSV: write_csv,
    ExportFormat.PPTX: write_pptx,
}


def case_export_build(*, export_id: int) -> CaseExport:
    """Write the report file of a queued export into storage. Safe to run twice: a finished export is left alone."""
    export = CaseExport.objects.select_related("case", "case__organization", "requested_by").get(pk=export_id)
    if export.status != ExportStatus.QUEUED:
        return export
    case = export.case
    try:
        if export.requested_by is None:
            raise ValueError("the requester of the export no longer exists")
        with translation.override(export.language or None):
            report = report_build(case=case, user=export.requested_by)
            if export.pii_unmasked:
                report_unmask(report, organization_id=case.organization_id, disclosed=export.pii_tokens)
            content = WRITERS[export.fmt](report)
    except Exception as error:
        export.status = ExportStatus.FAILED
        export.error = f"{type(error).__name__}: {error}"[:2000]
        export.finished_at = timezone.now()
        export.save(update_fields=["status", "error", "finished_at"])
        raise
    with transaction.atomic():
        export.file.save(f"case-{case.pk}-{export.pk}.{export.fmt}", ContentFile(content), save=False)
        export.sha256 = hashlib.sha256(content).hexdigest()
        export.status = ExportStatus.READY
        export.finished_at = timezone.now()
        export.save(update_fields=["file", "sha256", "status", "finished_at"])
    return export
