"""Which column of a file holds which field of a record kind.

Headers are compared after ``normalize_header``: Unicode compatibility folding, case, punctuation and spacing,
the apostrophe variants (', ’, ʼ), the letters that differ between Ukrainian and Russian spellings (і/ї/и, є/е,
ё/е, ґ/г) and Latin look-alike letters typed into Cyrillic headers. A file's headers map automatically when each
one is a field's synonym (``apps.datasets.ingest.schemas``); an investigator's saved ``ColumnMapping`` applies to
every later file whose normalised headers are the same, in the same order.

A mapping carries options (``MappingOptions``), saved with it and applied with it:

- ``party_codes``: the codes of the parties (trader, declarant, seller, buyer, a register's company) are
  Ukrainian ЄДРПОУ/РНОКПП (the default: checked by length and check digit, a 10-digit РНОКПП makes the row a
  person's and is masked) or anonymised identifiers (another administration's or a research file's opaque ids
  such as ``QLRUBN9``: loaded as they are, never checked, never taken for a person's tax number — the same id is
  the same party). The investigator says so on the mapping page; nothing switches it on by itself, because a
  column of foreign passport or tax numbers looks just like one of anonymised ids and would then be stored in
  clear;
- ``fixed``: a value for a field the file has no column for ({field: stored value}), for the fields with a
  closed list of values (the direction of declarations: a file of imports only has no direction column).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext as _

from apps.datasets.ingest.schemas import FieldType, KindSchema
from apps.datasets.models import ColumnMapping, Dataset

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


class PartyCodes(StrEnum):
    TAX_CODES = "tax_codes"
    ANONYMISED = "anonymised"


@dataclass(frozen=True)
class MappingOptions:
    """How the mapped values are read (stored as JSON with the mapping and the dataset)."""

    party_codes: PartyCodes = PartyCodes.TAX_CODES
    fixed: dict[str, str] = field(default_factory=dict)

    @property
    def anonymised_party_codes(self) -> bool:
        return self.party_codes is PartyCodes.ANONYMISED

    @classmethod
    def from_json(cls, data: Any) -> MappingOptions:
        """Options as stored; anything unknown (an older or hand-edited value) reads as the defaults."""
        if not isinstance(data, dict):
            return cls()
        party_codes = data.get("party_codes")
        fixed = data.get("fixed")
        return cls(
            party_codes=PartyCodes(party_codes) if party_codes in list(PartyCodes) else PartyCodes.TAX_CODES,
            fixed={str(name): str(value) for name, value in fixed.items()} if isinstance(fixed, dict) else {},
        )

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.party_codes is not PartyCodes.TAX_CODES:
            data["party_codes"] = self.party_codes.value
        if self.fixed:
            data["fixed"] = dict(self.fixed)
        return data


def fixable_fields(schema: KindSchema) -> tuple[str, ...]:
    """The fields a mapping may give one value for the whole file: those with a closed list of values."""
    return tuple(spec.name for spec in schema.fields if spec.type is FieldType.CHOICE)


def dataset_options(dataset: Dataset) -> MappingOptions:
    return MappingOptions.from_json(dataset.mapping_options)


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
    options: MappingOptions = field(default_factory=MappingOptions)

    @property
    def complete(self) -> bool:
        return not self.missing_required


def mapping_problems(
    schema: KindSchema,
    headers: Sequence[str],
    columns: Mapping[str, str],
    options: MappingOptions | None = None,
) -> list[str]:
    """What is wrong with a mapping an investigator made: unknown headers or fields, a field mapped twice, a fixed
    value for a field that cannot have one, that is not one of its values, or that also has a column."""
    problems: list[str] = []
    mapped = set(columns.values())
    fixable = fixable_fields(schema)
    for field_name, value in (options.fixed if options else {}).items():
        if field_name not in fixable:
            problems.append(_("“%(field)s” cannot have one value for the whole file.") % {"field": field_name})
        elif value not in schema.field(field_name).choices:
            problems.append(
                _("“%(value)s” is not a value of the field “%(field)s”.")
                % {"value": value, "field": schema.field(field_name).label}
            )
        elif field_name in mapped:
            problems.append(
                _("The field “%(field)s” has both a column and a value for the whole file; choose one.")
                % {"field": schema.field(field_name).label}
            )
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


def missing_required(
    schema: KindSchema, columns: Mapping[str, str], options: MappingOptions | None = None
) -> tuple[str, ...]:
    """The required fields with neither a column nor a fixed value."""
    mapped = set(columns.values()) | set(options.fixed if options else ())
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
    applied_options: MappingOptions | None = None,
    saved: ColumnMapping | None = None,
) -> ResolvedMapping:
    """The mapping a run uses: one applied to this dataset (with its options), else a saved one for these headers
    (with the options saved with it), else automatic (with the default options)."""
    source = MappingSource.AUTOMATIC
    options = MappingOptions()
    if applied:
        columns = columns_for_headers(applied, headers)
        source = MappingSource.MANUAL
        options = applied_options or options
    else:
        saved = saved or saved_mapping_for(organization_id=organization_id, kind=schema.kind, headers=headers)
        if saved is not None:
            columns = columns_for_headers(saved.columns, headers)
            source = MappingSource.SAVED
            options = MappingOptions.from_json(saved.options)
        else:
            columns = auto_map(schema, headers)
    return ResolvedMapping(
        columns=columns,
        source=source,
        headers=tuple(headers),
        saved_mapping=saved if source is MappingSource.SAVED else None,
        missing_required=missing_required(schema, columns, options),
        unmapped_headers=tuple(header for header in headers if header not in columns),
        options=options,
    )
