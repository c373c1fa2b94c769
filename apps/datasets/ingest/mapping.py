"""Which column of a file holds which field of a record kind.

Headers are compared after ``normalize_header``: Unicode compatibility folding, case, punctuation and spacing,
the apostrophe variants (', ’, ʼ), the letters that differ between Ukrainian and Russian spellings (і/ї/и, є/е,
ё/е, ґ/г) and Latin look-alike letters typed into Cyrillic headers. A file's headers map automatically when each
one is a field's synonym (``apps.datasets.ingest.schemas``); an investigator's saved ``ColumnMapping`` applies to
every later file whose normalised headers are the same, in the same order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from django.utils.translation import gettext as _

from apps.datasets.ingest.schemas import KindSchema
from apps.datasets.models import ColumnMapping

_APOSTROPHES = re.compile(r"['’ʼ`′‘]")
_PUNCTUATION = re.compile(r"[^\w№]+")
_CYRILLIC = re.compile(r"[а-яёіїєґ]")
# Latin letters that look like Cyrillic ones, as typed into a Cyrillic header on a Latin keyboard layout.
_LOOKALIKES = str.maketrans("aceiopxykmhtb", "асеіорхукмнтв")
# Ukrainian and Russian spellings of the same word differ in these letters.
_SPELLING = str.maketrans({"ё": "е", "є": "е", "э": "е", "і": "и", "ї": "и", "ы": "и", "ґ": "г"})
# Units written after a header's words ("Маса нетто, кг", "Amount, UAH") when no synonym spells them out.
_UNIT_WORDS = frozenset({"грн", "uah", "кг", "kg", "usd", "eur", "дол", "вал", "шт", "pcs"})


def normalize_header(text: str) -> str:
    """The comparable form of a header: ``"Код ЄДРПОУ/РНОКПП суб’єкта ЗЕД "`` → ``"код едрпоу рнокпп субекта зед"``."""
    text = unicodedata.normalize("NFKC", text).replace("\ufeff", "").casefold()
    text = _APOSTROPHES.sub("", text)
    text = _PUNCTUATION.sub(" ", text).replace("_", " ")
    if _CYRILLIC.search(text):
        text = text.translate(_LOOKALIKES)
    return " ".join(text.translate(_SPELLING).split())


def _without_units(normalized: str) -> str:
    words = normalized.split()
    while words and words[-1] in _UNIT_WORDS:
        words.pop()
    return " ".join(words)


def synonym_index(schema: KindSchema) -> dict[str, str]:
    """Normalised header → field name for a kind; the field's own name counts as a synonym."""
    index: dict[str, str] = {}
    for spec in schema.fields:
        for synonym in (spec.name, *spec.synonyms):
            index.setdefault(normalize_header(synonym), spec.name)
    return index


def auto_map(schema: KindSchema, headers: Iterable[str]) -> dict[str, str]:
    """{header: field} for the headers that name a field; a field already taken by an earlier header stays with it."""
    index = synonym_index(schema)
    columns: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        normalized = normalize_header(header)
        field_name = index.get(normalized) or index.get(_without_units(normalized))
        if field_name is not None and field_name not in taken and header not in columns:
            columns[header] = field_name
            taken.add(field_name)
    return columns


class MappingSource(StrEnum):
    AUTOMATIC = "automatic"
    SAVED = "saved"
    MANUAL = "manual"


@dataclass(frozen=True)
class ResolvedMapping:
    """The columns a run will load, and what is missing."""

    columns: dict[str, str]
    source: MappingSource
    headers: tuple[str, ...]
    saved_mapping: ColumnMapping | None = None
    missing_required: tuple[str, ...] = ()
    unmapped_headers: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.missing_required


def mapping_problems(schema: KindSchema, headers: Sequence[str], columns: Mapping[str, str]) -> list[str]:
    """What is wrong with a mapping an investigator made: unknown headers or fields, a field mapped twice."""
    problems: list[str] = []
    known_headers = set(headers)
    known_fields = set(schema.field_names)
    seen: dict[str, str] = {}
    for header, field_name in columns.items():
        if header not in known_headers:
            problems.append(_("The file has no column “%(header)s”.") % {"header": header})
        if field_name not in known_fields:
            problems.append(_("“%(field)s” is not a field of this kind of record.") % {"field": field_name})
        elif field_name in seen:
            problems.append(
                _("The field “%(field)s” is mapped to both “%(first)s” and “%(second)s”.")
                % {"field": schema.field(field_name).label, "first": seen[field_name], "second": header}
            )
        else:
            seen[field_name] = header
    return problems


def missing_required(schema: KindSchema, columns: Mapping[str, str]) -> tuple[str, ...]:
    mapped = set(columns.values())
    return tuple(spec.name for spec in schema.required_fields if spec.name not in mapped)


def normalized_headers(headers: Iterable[str]) -> list[str]:
    return [normalize_header(header) for header in headers]


def saved_mapping_for(*, organization_id: int, kind: str, headers: Sequence[str]) -> ColumnMapping | None:
    """The organisation's most recent saved mapping made for exactly these headers."""
    return (
        ColumnMapping.objects.filter(organization_id=organization_id, kind=kind, headers=normalized_headers(headers))
        .order_by("-updated_at")
        .first()
    )


def columns_for_headers(saved_columns: Mapping[str, str], headers: Sequence[str]) -> dict[str, str]:
    """A mapping keyed by another file's headers, re-keyed by this file's headers (same after normalising)."""
    by_normalized = {normalize_header(header): field_name for header, field_name in saved_columns.items()}
    columns: dict[str, str] = {}
    for header in headers:
        field_name = by_normalized.get(normalize_header(header))
        if field_name is not None:
            columns[header] = field_name
    return columns


def resolve_mapping(
    *,
    schema: KindSchema,
    headers: Sequence[str],
    organization_id: int,
    applied: Mapping[str, str] | None = None,
    saved: ColumnMapping | None = None,
) -> ResolvedMapping:
    """The mapping a run uses: one applied to this dataset, else a saved one for these headers, else automatic."""
    source = MappingSource.AUTOMATIC
    if applied:
        columns = columns_for_headers(applied, headers)
        source = MappingSource.MANUAL
    else:
        saved = saved or saved_mapping_for(organization_id=organization_id, kind=schema.kind, headers=headers)
        if saved is not None:
            columns = columns_for_headers(saved.columns, headers)
            source = MappingSource.SAVED
        else:
            columns = auto_map(schema, headers)
    return ResolvedMapping(
        columns=columns,
        source=source,
        headers=tuple(headers),
        saved_mapping=saved if source is MappingSource.SAVED else None,
        missing_required=missing_required(schema, columns),
        unmapped_headers=tuple(header for header in headers if header not in columns),
    )
