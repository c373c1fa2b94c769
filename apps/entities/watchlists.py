"""Sanctions and watch lists: import one (CSV or FollowTheMoney JSON lines) and screen the organisation against it.

Import reads the whole file before it writes anything, and writes the list and its entries in one transaction: a
file that cannot be read leaves nothing behind and a clear reason. Each entry keeps its names' matching keys
(``apps.entities.normalize``), computed once.

Screening compares every entry with every root entity of the list's organisation, three ways:

- identifiers: an entry's ЄДРПОУ, IMO number or company IBAN is looked up as it is; its РНОКПП, phone or a
  personal IBAN is turned into the masking token the organisation's data carries (``pii_token``) and looked up
  as a token;
- company and vessel names: candidates are blocked in PostgreSQL with pg_trgm on ``EntityName.match_key`` (the
  ``%`` operator over the GIN index), then scored with ``company_name_similarity``;
- people: their names are tokens in the graph, so the clear values are read from the privacy vault for the
  comparison only, in memory (never shown, never stored); a date of birth that agrees raises the score, one that
  differs lowers it.

A hit is kept as a ``WatchlistHit`` with its explanation and raises an ``Anomaly`` (detector ``watchlist``, one per
entry and entity, so screening again raises nothing twice). A person's values are shown as tokens on both sides:
the list's own spelling next to the entity would give the entity's name away.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import json
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rapidfuzz import fuzz

from apps.anomalies.models import Anomaly, Severity
from apps.anomalies.services import anomaly_raise
from apps.core.errors import DomainError
from apps.datasets.ingest.masking import canonical_phone
from apps.datasets.synthetic.codes import is_valid_edrpou, is_valid_rnokpp
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityKind,
    EntityName,
    IdentifierScheme,
    Watchlist,
    WatchlistEntry,
    WatchlistHit,
)
from apps.entities.normalize import (
    GIVEN_NAME_FORMS,
    PersonName,
    company_key,
    fold,
    legal_form_of,
    name_similarity,
    person_key,
    person_name,
    person_similarity,
)
from apps.entities.resolution import entity_roots
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.vault import vault_reveal

if TYPE_CHECKING:
    from apps.accounts.models import Organization, User

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_LINE_CHARS = 1_000_000
MAX_ENTRIES = 500_000
MAX_ALIASES = 200
NAME_LENGTH = 1000
EXTERNAL_ID_LENGTH = 255
BIRTH_DATE_LENGTH = 32
MIN_PHONE_DIGITS = 9
COUNTRY_CODE_LENGTH = 2
IMO_DIGITS = 7
EDRPOU_DIGITS = 8
RNOKPP_DIGITS = 10
INSERT_BATCH = 5000
REVEAL_BATCH = 5000
TRIGRAM_BATCH = 500

DETECTOR = "watchlist"
# pg_trgm similarity a company name needs to be scored at all (on the generator's names it keeps 99.4% of the
# misspelt pairs a hit needs); the score decides whether it is a hit. Screening is stricter than resolution: a
# hit names someone as listed.
TRIGRAM_THRESHOLD = 0.5
HIT_THRESHOLD = 0.9
# The words two company names do not share must be at least this alike (a typo), else the names differ.
MIN_DIFFERING_WORDS = 0.75
# Shares of a name-based score: the rest is the date of birth (people) or the country (companies), when both
# sides know it.
PERSON_NAME_WEIGHT = 0.8
COMPANY_NAME_WEIGHT = 0.9
# The least name similarity that can still make a hit when everything else agrees: weaker names are not kept.
MIN_PERSON_NAME = (HIT_THRESHOLD - (1 - PERSON_NAME_WEIGHT)) / PERSON_NAME_WEIGHT
MIN_COMPANY_NAME = (HIT_THRESHOLD - (1 - COMPANY_NAME_WEIGHT)) / COMPANY_NAME_WEIGHT
IDENTIFIER_WEIGHT = 1.0
# A shared identifier is critical; name-based hits are high from this score, medium from the next, else low.
HIGH_SEVERITY_SCORE = 0.97
MEDIUM_SEVERITY_SCORE = 0.93
# Parts of a person's name: the surname carries most; a given name that differs rules the match out.
PERSON_PART_WEIGHTS = {"surname": 0.6, "given_name": 0.3, "patronymic": 0.1}

COMPANY_KINDS = (EntityKind.COMPANY, EntityKind.BROKER)
# Which entities a list entry's name is compared with, by the entry's kind.
NAME_TARGET_KINDS: dict[str, tuple[str, ...]] = {
    EntityKind.COMPANY: COMPANY_KINDS,
    EntityKind.BROKER: COMPANY_KINDS,
    EntityKind.VEHICLE: (EntityKind.VEHICLE,),
}

FTM_SCHEMAS = {
    "Person": EntityKind.PERSON,
    "Company": EntityKind.COMPANY,
    "Organization": EntityKind.COMPANY,
    "LegalEntity": EntityKind.COMPANY,
    "PublicBody": EntityKind.COMPANY,
    "Vessel": EntityKind.VEHICLE,
}
# FollowTheMoney properties → the identifier they may hold (its shape decides, see ``classify_identifier``).
FTM_IDENTIFIERS = {
    "innCode": "rnokpp",
    "taxNumber": "tax",
    "vatCode": "tax",
    "registrationNumber": "registration",
    "ogrnCode": "registration",
    "okpoCode": "edrpou",
    "leiCode": "other",
    "idNumber": "other",
    "passportNumber": "passport",
    "iban": "iban",
    "bankAccount": "iban",
    "imoNumber": "imo",
    "phone": "phone",
    "swiftBic": "other",
}
FTM_ALIASES = ("alias", "weakAlias", "previousName", "abbreviation")
FTM_COUNTRIES = ("country", "jurisdiction", "nationality", "citizenship", "mainCountry")
FTM_REASONS = ("program", "topics", "notes", "summary")


_APOSTROPHES = re.compile(r"['’ʼ`]")


def _synonyms(text: str) -> tuple[str, ...]:
    return tuple(header_key(name) for name in text.split("|"))


def header_key(header: str) -> str:
    """A column name as compared with the synonyms: case, spacing, quotes and punctuation ignored."""
    text = _APOSTROPHES.sub("", header.replace("\ufeff", "").casefold())
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


# The columns of a CSV list, by the names lists give them (Ukrainian, Russian, English).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": _synonyms(
        "id | list id | external id | reference | ref | uid | номер | номер запису | номер у переліку | "
        "ідентифікатор запису | номер записи"
    ),
    "name": _synonyms(
        "name | full name | entity name | caption | subject | назва | найменування | повна назва | піб | "
        "прізвище ім'я по батькові | прізвище, ім'я, по батькові | особа | наименование | фио | фамилия имя отчество"
    ),
    "aliases": _synonyms(
        "aliases | alias | aka | also known as | other names | weak alias | інші назви | інші імена | псевдоніми | "
        "варіанти написання | синоніми | другие названия | другие имена | псевдонимы"
    ),
    "kind": _synonyms("kind | type | schema | entity type | subject type | тип | вид | тип особи | тип субъекта"),
    "country": _synonyms(
        "country | countries | jurisdiction | nationality | citizenship | країна | громадянство | юрисдикція | "
        "страна | гражданство"
    ),
    "edrpou": _synonyms(
        "edrpou | єдрпоу | код єдрпоу | код | code | company code | registration number | реєстраційний номер | "
        "егрпоу | код егрпоу"
    ),
    "rnokpp": _synonyms(
        "rnokpp | рнокпп | іпн | ipn | inn | инн | tax number | tin | taxnumber | inncode | податковий номер | "
        "ідентифікаційний номер | идентификационный номер"
    ),
    "iban": _synonyms("iban | рахунок | рахунки | счет | account | bank account"),
    "passport": _synonyms("passport | passport number | паспорт | номер паспорта | документ | document"),
    "phone": _synonyms("phone | phones | телефон | телефони | tel"),
    "imo": _synonyms("imo | imo number | номер imo"),
    "identifiers": _synonyms("identifiers | ідентифікатори | идентификаторы | ids | codes | коди"),
    "birth_date": _synonyms(
        "birth date | date of birth | dob | birthdate | дата народження | дата рождения | д н | народився"
    ),
    "reason": _synonyms(
        "reason | reasons | program | programme | sanctions | sanction | listed for | basis | topics | notes | "
        "підстава | підстави | санкції | програма | причина | примітка | основание | санкции"
    ),
}
# Columns of which every one found is read (the others: the first).
MULTI_COLUMNS = {"edrpou", "rnokpp", "iban", "passport", "phone", "imo", "identifiers", "reason", "aliases"}
KIND_VALUES = {
    EntityKind.PERSON: _synonyms(
        "person | individual | natural person | people | фізична особа | фізособа | фо | особа | людина | "
        "физическое лицо | физлицо | фл"
    ),
    EntityKind.COMPANY: _synonyms(
        "company | organization | organisation | legal entity | legalentity | entity | business | publicbody | "
        "юридична особа | юрособа | юо | компанія | підприємство | організація | юридическое лицо | компания | "
        "организация"
    ),
    EntityKind.VEHICLE: _synonyms("vessel | ship | aircraft | vehicle | судно | корабель | літак | транспорт"),
}
VALUE_SEPARATORS = re.compile(r"[;\n|]")
IDENTIFIER_SEPARATORS = re.compile(r"[;,\n|]")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_COMPANY_QUOTES = re.compile(r"[«»\"“”„]")
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_DOTTED_DATE = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_DIGITS_ONLY = re.compile(r"[\s\-./]")


# --- parsing --------------------------------------------------------------------------------------------------


@dataclass
class ParsedEntry:
    name: str
    kind: str
    external_id: str = ""
    aliases: list[str] = field(default_factory=list)
    country: str = ""
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    birth_date: str = ""
    reason: str = ""

    def match_keys(self) -> list[str]:
        key = person_key if self.kind == EntityKind.PERSON else company_key
        keys = (key(name) for name in [self.name, *self.aliases])
        return list(dict.fromkeys(k for k in keys if k))


@dataclass
class ParsedList:
    file_format: str
    entries: list[ParsedEntry]
    # FollowTheMoney entities of schemas that are not screened (Sanction, Ownership, Address…), by schema.
    skipped: Counter[str] = field(default_factory=Counter)


def classify_identifier(value: str, hint: str) -> tuple[str, str] | None:
    """``(scheme, value)`` of an identifier as a list writes it: the shape decides, the column gives the hint.

    An 8-digit code is a ЄДРПОУ (from a column that says so, or with a valid check digit), 10 digits a РНОКПП,
    "UA21 3223 …" an IBAN, "+380 …" a phone, "IMO 9123456" a vessel's number.
    """
    text = value.strip()
    if not text:
        return None
    compact = re.sub(r"\s+", "", text).upper()
    digits = _DIGITS_ONLY.sub("", text)
    if hint == "imo" or compact.startswith("IMO"):
        number = re.sub(r"\D", "", compact)
        return ("imo", number) if len(number) == IMO_DIGITS else None
    if hint == "phone" or (text.startswith("+") and len(re.sub(r"\D", "", text)) >= MIN_PHONE_DIGITS):
        return "phone", canonical_phone(text)
    if _IBAN.match(compact):
        return "iban", compact
    if hint == "passport":
        return "passport", compact
    if digits.isdigit():
        if hint == "edrpou" and len(digits) <= EDRPOU_DIGITS:
            # Spreadsheets drop a code's leading zeros.
            return "edrpou", digits.zfill(EDRPOU_DIGITS)
        if len(digits) == EDRPOU_DIGITS and is_valid_edrpou(digits):
            return "edrpou", digits
        if len(digits) == RNOKPP_DIGITS and (hint == "rnokpp" or is_valid_rnokpp(digits)):
            return "rnokpp", digits
    return ("other" if hint in {"", "identifiers", "iban", "edrpou", "rnokpp"} else hint), compact[:64]


def normalize_birth_date(value: str) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` from the usual spellings; "" when it is not a date."""
    text = value.strip()
    dotted = _DOTTED_DATE.match(text)
    if dotted:
        day, month, year = dotted.groups()
        text = f"{year}-{int(month):02d}-{int(day):02d}"
    iso = _ISO_DATE.match(text)
    if not iso:
        return ""
    year, month, day = iso.groups()
    try:
        if day:
            return datetime.date(int(year), int(month), int(day)).isoformat()
        if month:
            return datetime.date(int(year), int(month), 1).isoformat()[:7]
    except ValueError:
        return ""
    return year


def _country(values: Iterable[str]) -> str:
    for value in values:
        code = value.strip()
        if len(code) == COUNTRY_CODE_LENGTH and code.isascii() and code.isalpha():
            return code.upper()
    return ""


def _add_identifier(identifiers: dict[str, list[str]], value: str, hint: str) -> None:
    for part in IDENTIFIER_SEPARATORS.split(value):
        classified = classify_identifier(part, hint)
        if classified is not None:
            scheme, normalized = classified
            if normalized and normalized not in identifiers.setdefault(scheme, []):
                identifiers[scheme].append(normalized)


def guess_kind(name: str, identifiers: Mapping[str, list[str]], birth_date: str) -> str:
    """What an entry is when the list does not say: a vessel by its IMO number, a person by a date of birth or a
    personal number, a company by a ЄДРПОУ, a legal form or quotes, a person by a known given name; else a
    company."""
    if identifiers.get("imo"):
        return EntityKind.VEHICLE
    if birth_date or identifiers.get("rnokpp") or identifiers.get("passport"):
        return EntityKind.PERSON
    # A one-letter legal form ("ПП" and "KG" fold to one letter) is more likely a person's initial.
    legal_form = legal_form_of(name)
    if identifiers.get("edrpou") or len(legal_form) > 1 or _COMPANY_QUOTES.search(name):
        return EntityKind.COMPANY
    if any(word in GIVEN_NAME_FORMS for word in fold(name).split()):
        return EntityKind.PERSON
    return EntityKind.COMPANY


def _kind_from_value(value: str) -> str | None:
    key = header_key(value)
    for kind, values in KIND_VALUES.items():
        if key in values:
            return kind
    return None


def _entry(
    *,
    name: str,
    aliases: Iterable[str],
    kind: str | None,
    external_id: str,
    country: str,
    identifiers: dict[str, list[str]],
    birth_date: str,
    reasons: Iterable[str],
) -> ParsedEntry:
    name = " ".join(name.split())[:NAME_LENGTH]
    alias_list = [" ".join(alias.split())[:NAME_LENGTH] for alias in aliases]
    alias_list = [alias for alias in dict.fromkeys(alias_list) if alias and alias != name][:MAX_ALIASES]
    birth = normalize_birth_date(birth_date) or birth_date.strip()[:BIRTH_DATE_LENGTH]
    return ParsedEntry(
        name=name,
        kind=kind or guess_kind(name, identifiers, birth),
        external_id=external_id.strip()[:EXTERNAL_ID_LENGTH],
        aliases=alias_list,
        country=country,
        identifiers=identifiers,
        birth_date=birth,
        reason="; ".join(dict.fromkeys(reason.strip() for reason in reasons if reason.strip())),
    )


def _decode(data: bytes) -> str:
    """UTF-8 (with or without its BOM), UTF-16 with a BOM (Excel's "Unicode text"), else Windows-1251."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise DomainError(_("The file could not be read as text; save it as UTF-8 and upload it again.")) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError as error:
        raise DomainError(_("The file could not be read as text; save it as UTF-8 and upload it again.")) from error


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise DomainError(
                _("Line %(line)d is longer than %(limit)d characters; is this really a watchlist?")
                % {"line": number, "limit": MAX_LINE_CHARS}
            )
        yield number, line


def _check_entry_count(count: int) -> None:
    if count > MAX_ENTRIES:
        raise DomainError(
            _("The file holds more than %(limit)d entries; split it into smaller lists.") % {"limit": MAX_ENTRIES}
        )


def _ftm_entry(number: int, schema: str, kind: str, entity: dict[str, Any], properties: dict[str, Any]) -> ParsedEntry:
    def values(name: str) -> list[str]:
        found = properties.get(name) or []
        return [str(value) for value in (found if isinstance(found, list) else [found]) if str(value).strip()]

    names = values("name")
    if not names:
        raise DomainError(_("Line %(line)d: the %(schema)s has no name.") % {"line": number, "schema": schema})
    identifiers: dict[str, list[str]] = {}
    for prop, hint in FTM_IDENTIFIERS.items():
        for value in values(prop):
            _add_identifier(identifiers, value, hint)
    birth_dates = values("birthDate")
    return _entry(
        name=names[0],
        aliases=[*names[1:], *(alias for prop in FTM_ALIASES for alias in values(prop))],
        kind=kind,
        external_id=str(entity.get("id") or ""),
        country=_country(value for prop in FTM_COUNTRIES for value in values(prop)),
        identifiers=identifiers,
        birth_date=min(birth_dates) if birth_dates else "",
        reasons=[value for prop in FTM_REASONS for value in values(prop)],
    )


def parse_ftm(text: str) -> ParsedList:
    """FollowTheMoney entities, one JSON object a line (the OpenSanctions export format)."""
    entries: list[ParsedEntry] = []
    skipped: Counter[str] = Counter()
    for number, line in _lines(text):
        if not line.strip():
            continue
        try:
            entity = json.loads(line)
        except json.JSONDecodeError as error:
            raise DomainError(
                _("Line %(line)d is not valid JSON (%(error)s); every line must hold one FollowTheMoney entity.")
                % {"line": number, "error": error.msg}
            ) from error
        schema = entity.get("schema") if isinstance(entity, dict) else None
        properties = entity.get("properties") if isinstance(entity, dict) else None
        if not isinstance(schema, str) or not isinstance(properties, dict):
            raise DomainError(
                _("Line %(line)d is not a FollowTheMoney entity: it needs a “schema” and “properties”.")
                % {"line": number}
            )
        kind = FTM_SCHEMAS.get(schema)
        if kind is None:
            skipped[schema] += 1
            continue
        entries.append(_ftm_entry(number, schema, kind, entity, properties))
        _check_entry_count(len(entries))
    if not entries:
        if skipped:
            raise DomainError(
                _(
                    "The file holds no people, companies, organisations or vessels to screen, only %(count)d "
                    "entities of other kinds (%(schemas)s)."
                )
                % {"count": sum(skipped.values()), "schemas": ", ".join(sorted(skipped))}
            )
        raise DomainError(_("The file is empty."))
    return ParsedList(file_format=Watchlist.Format.FTM, entries=entries, skipped=skipped)


def _delimiter(header_line: str) -> str:
    counts = {delimiter: header_line.count(delimiter) for delimiter in (";", ",", "\t", "|")}
    return max(counts, key=lambda delimiter: counts[delimiter])


def _columns(header: Sequence[str]) -> dict[str, list[int]]:
    """Field → the indexes of the columns that hold it."""
    columns: dict[str, list[int]] = defaultdict(list)
    for index, cell in enumerate(header):
        key = header_key(cell)
        if not key:
            continue
        for field_name, synonyms in CSV_COLUMNS.items():
            if key in synonyms and (field_name in MULTI_COLUMNS or not columns.get(field_name)):
                columns[field_name].append(index)
                break
    return columns


def parse_csv(text: str) -> ParsedList:
    """A list as a spreadsheet: one entry a row, columns found by their names (``CSV_COLUMNS``)."""
    header_line = ""
    for _number, line in _lines(text):
        header_line = header_line or line.strip()
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(header_line))
    try:
        return _csv_entries(reader)
    except csv.Error as error:
        raise DomainError(
            _("Line %(line)d could not be read as CSV (%(error)s).") % {"line": reader.line_num, "error": error}
        ) from error


def _csv_entries(reader: Any) -> ParsedList:
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if header is None:
        raise DomainError(_("The file is empty."))
    columns = _columns(header)
    if "name" not in columns:
        raise DomainError(
            _("No column holds the names. Call it “name”, “назва” or “ПІБ” (the columns found: %(columns)s).")
            % {"columns": ", ".join(cell.strip() for cell in header if cell.strip()) or "—"}
        )

    def cells(row: Sequence[str], field_name: str) -> list[str]:
        return [row[index].strip() for index in columns.get(field_name, []) if index < len(row) and row[index].strip()]

    entries: list[ParsedEntry] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        names = cells(row, "name")
        if not names:
            raise DomainError(_("Line %(line)d has no name.") % {"line": reader.line_num})
        identifiers: dict[str, list[str]] = {}
        for hint in ("edrpou", "rnokpp", "iban", "passport", "phone", "imo", "identifiers"):
            for value in cells(row, hint):
                _add_identifier(identifiers, value, hint)
        kind_values = cells(row, "kind")
        entries.append(
            _entry(
                name=names[0],
                aliases=[alias for value in cells(row, "aliases") for alias in VALUE_SEPARATORS.split(value)],
                kind=_kind_from_value(kind_values[0]) if kind_values else None,
                external_id=next(iter(cells(row, "external_id")), ""),
                country=_country(VALUE_SEPARATORS.split(next(iter(cells(row, "country")), ""))),
                identifiers=identifiers,
                birth_date=next(iter(cells(row, "birth_date")), ""),
                reasons=cells(row, "reason"),
            )
        )
        _check_entry_count(len(entries))
    if not entries:
        raise DomainError(_("The file has a header but no entries."))
    return ParsedList(file_format=Watchlist.Format.CSV, entries=entries)


def _read_limited(uploaded_file: IO[bytes]) -> bytes:
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    data = uploaded_file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise DomainError(
            _("The file is larger than %(limit)d MB; split the list or keep only what you screen against.")
            % {"limit": MAX_FILE_BYTES // (1024 * 1024)}
        )
    return data


def watchlist_parse(uploaded_file: IO[bytes]) -> ParsedList:
    """The entries of a list file, or a ``DomainError`` that says what is wrong with it. Nothing is stored."""
    text = _decode(_read_limited(uploaded_file))
    start = text.lstrip()[:1]
    if not start:
        raise DomainError(_("The file is empty."))
    if start == "[":
        raise DomainError(_("The file is one JSON array; a FollowTheMoney list holds one entity a line (JSON lines)."))
    if start == "{":
        return parse_ftm(text)
    return parse_csv(text)


def watchlist_import(*, organization: Organization, user: User | None, name: str, uploaded_file: Any) -> Watchlist:
    """A new watchlist of the organisation with the file's entries; all of them or, on any error, nothing."""
    name = name.strip()
    if not name:
        raise DomainError(_("Give the watchlist a name."))
    parsed = watchlist_parse(uploaded_file)
    with transaction.atomic():
        watchlist = Watchlist.objects.create(
            organization=organization,
            name=name[: Watchlist._meta.get_field("name").max_length],
            file_format=parsed.file_format,
            original_filename=(getattr(uploaded_file, "name", "") or "")[:255],
            entry_count=len(parsed.entries),
            created_by=user,
        )
        batch: list[WatchlistEntry] = []
        for entry in parsed.entries:
            batch.append(
                WatchlistEntry(
                    watchlist=watchlist,
                    external_id=entry.external_id,
                    kind=entry.kind,
                    name=entry.name,
                    aliases=entry.aliases,
                    match_keys=[key[:NAME_LENGTH] for key in entry.match_keys()],
                    country=entry.country,
                    identifiers=entry.identifiers,
                    birth_date=entry.birth_date,
                    reason=entry.reason,
                )
            )
            if len(batch) >= INSERT_BATCH:
                WatchlistEntry.objects.bulk_create(batch)
                batch = []
        WatchlistEntry.objects.bulk_create(batch)
    if parsed.skipped:
        logger.info("watchlist %s: skipped FollowTheMoney entities %s", watchlist.pk, dict(parsed.skipped))
    return watchlist


# --- screening ------------------------------------------------------------------------------------------------


@dataclass
class Evidence:
    """What one entry and one entity agree on, collected by the matchers."""

    identifiers: list[dict[str, Any]] = field(default_factory=list)
    name: dict[str, Any] | None = None
    birth_date: dict[str, Any] | None = None
    country: dict[str, Any] | None = None

    def add_identifier(self, factor: dict[str, Any]) -> None:
        if factor not in self.identifiers:
            self.identifiers.append(factor)

    def add_name(self, factor: dict[str, Any]) -> None:
        if self.name is None or factor["similarity"] > self.name["similarity"]:
            self.name = factor

    def absorb(self, other: Evidence) -> None:
        """Evidence on an entity merged into this one's: the union of identifiers, the best name and country."""
        for factor in other.identifiers:
            self.add_identifier(factor)
        if other.name is not None:
            self.add_name(other.name)
        if other.country is not None and (
            self.country is None or other.country["similarity"] > self.country["similarity"]
        ):
            self.country = other.country

    @property
    def identified(self) -> bool:
        return bool(self.identifiers)

    def score(self) -> float:
        """1 on a shared identifier; else the name's similarity, weighed with the date of birth or the country
        when both sides know it."""
        if self.identifiers:
            return 1.0
        if self.name is None:
            return 0.0
        weighted = [
            (factor["similarity"], factor["weight"]) for factor in (self.name, self.birth_date, self.country) if factor
        ]
        return sum(similarity * weight for similarity, weight in weighted) / sum(weight for _, weight in weighted)

    def factors(self) -> list[dict[str, Any]]:
        return [*self.identifiers, *(factor for factor in (self.name, self.birth_date, self.country) if factor)]


def _factor(field_name: str, entry_value: str, entity_value: str, similarity: float, weight: float) -> dict[str, Any]:
    return {
        "field": field_name,
        "entry_value": entry_value,
        "entity_value": entity_value,
        "similarity": round(similarity, 3),
        "weight": round(weight, 3),
    }


@dataclass
class Screening:
    watchlist: Watchlist
    entries: dict[int, WatchlistEntry]
    # (entry id, entity id as matched, possibly one merged into another since) → evidence.
    evidence: defaultdict[tuple[int, int], Evidence] = field(default_factory=lambda: defaultdict(Evidence))

    @property
    def organization_id(self) -> int:
        return self.watchlist.organization_id


def _stored_forms(scheme: str, value: str) -> list[tuple[str, str, bool]]:
    """``(scheme, stored value, personal)`` under which an entry's identifier may be in the graph: personal ones
    as their tokens; an IBAN both ways, a company's is stored as it is."""
    if scheme == "edrpou":
        return [(IdentifierScheme.EDRPOU, value, False)]
    if scheme == "imo":
        return [(IdentifierScheme.IMO, value, False)]
    if scheme == "rnokpp":
        return [(IdentifierScheme.RNOKPP, pii_token(value, PIIKind.TAX_NUMBER), True)]
    if scheme == "phone":
        return [(IdentifierScheme.PHONE, pii_token(value, PIIKind.PHONE), True)]
    if scheme == "iban":
        return [(IdentifierScheme.IBAN, value, False), (IdentifierScheme.IBAN, pii_token(value, PIIKind.ACCOUNT), True)]
    return []


def _match_identifiers(screening: Screening) -> None:
    # (stored scheme, stored value) → (entry id, the entry's scheme, the value as it may be shown)
    wanted: dict[tuple[str, str], list[tuple[int, str, str]]] = defaultdict(list)
    for entry in screening.entries.values():
        for scheme, values in (entry.identifiers or {}).items():
            for value in values:
                for stored_scheme, stored, personal in _stored_forms(scheme, value):
                    wanted[(stored_scheme, stored)].append((entry.pk, scheme, stored if personal else value))
    by_scheme: dict[str, list[str]] = defaultdict(list)
    for stored_scheme, stored in wanted:
        by_scheme[stored_scheme].append(stored)
    for stored_scheme, stored_values in by_scheme.items():
        for start in range(0, len(stored_values), INSERT_BATCH):
            rows = EntityIdentifier.objects.filter(
                organization_id=screening.organization_id,
                scheme=stored_scheme,
                value__in=stored_values[start : start + INSERT_BATCH],
            ).values_list("entity_id", "value")
            for entity_id, stored in rows:
                for entry_id, scheme, shown in wanted[(stored_scheme, stored)]:
                    screening.evidence[(entry_id, entity_id)].add_identifier(
                        _factor(scheme, shown, stored, 1.0, IDENTIFIER_WEIGHT)
                    )


def _spellings(entry: WatchlistEntry) -> list[str]:
    return [entry.name, *entry.aliases]


def company_name_similarity(left_key: str, right_key: str) -> float:
    """``name_similarity``, unless the words the two names do not share are unlike each other: «Брокерська
    контора Світанок» and «Брокерська контора Титан» share the words every broker has and differ in the one that
    names the company."""
    similarity = name_similarity(left_key, right_key)
    left_words, right_words = left_key.split(), right_key.split()
    left_only = [word for word in left_words if word not in right_words]
    right_only = [word for word in right_words if word not in left_words]
    if left_only and right_only:
        differing = fuzz.ratio(" ".join(left_only), " ".join(right_only)) / 100
        if differing < MIN_DIFFERING_WORDS:
            return min(similarity, differing)
    return similarity


def _match_company_names(screening: Screening) -> None:
    """Company and vessel names: pg_trgm finds the candidates over the GIN index, ``company_name_similarity``
    scores them."""
    # target kinds → match key → (entry id, the spelling the key is of)
    keys: dict[tuple[str, ...], dict[str, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    for entry in screening.entries.values():
        kinds = NAME_TARGET_KINDS.get(entry.kind)
        if kinds is None:
            continue
        for spelling in _spellings(entry):
            key = company_key(spelling)
            if key:
                keys[kinds][key].append((entry.pk, spelling))
    if not keys:
        return
    with connection.cursor() as cursor:
        # Local to the screening's transaction, like SET LOCAL, but with the value as a parameter.
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(TRIGRAM_THRESHOLD)])
        for kinds, entries_by_key in keys.items():
            key_list = list(entries_by_key)
            for start in range(0, len(key_list), TRIGRAM_BATCH):
                cursor.execute(
                    """
                    SELECT k.key, n.entity_id, n.match_key, n.name, e.country
                    FROM unnest(%s::text[]) AS k(key)
                    JOIN entities_entityname n ON n.match_key %% k.key AND n.organization_id = %s
                    JOIN entities_entity e ON e.id = n.entity_id
                    WHERE e.kind = ANY(%s) AND n.match_key <> ''
                    """,
                    [key_list[start : start + TRIGRAM_BATCH], screening.organization_id, list(kinds)],
                )
                for key, entity_id, match_key, entity_name, entity_country in cursor.fetchall():
                    similarity = company_name_similarity(key, match_key)
                    if similarity < MIN_COMPANY_NAME:
                        continue
                    for entry_id, spelling in entries_by_key[key]:
                        _add_company_evidence(
                            screening.evidence[(entry_id, entity_id)],
                            screening.entries[entry_id],
                            _factor("name", spelling, entity_name, similarity, COMPANY_NAME_WEIGHT),
                            entity_country,
                        )


def _add_company_evidence(evidence: Evidence, entry: WatchlistEntry, name: dict[str, Any], country: str) -> None:
    evidence.add_name(name)
    if entry.country and country:
        agrees = float(entry.country.upper() == country.upper())
        evidence.country = _factor("country", entry.country, country, agrees, 1 - COMPANY_NAME_WEIGHT)


def person_name_similarity(left: PersonName, right: PersonName) -> float:
    """0..1 for two people's names: part by part when both have a surname and a given name (a given name that
    differs rules the match out, a patronymic that differs counts against, an unknown one is left out), else the
    whole keys."""
    if not (left.surname and left.given and right.surname and right.given):
        return name_similarity(left.key, right.key)
    parts = person_similarity(left, right)
    if parts["given_name"] < 0:
        return 0.0
    total = weight_sum = 0.0
    for part, weight in PERSON_PART_WEIGHTS.items():
        agreement = parts[part]
        if part == "patronymic" and agreement == 0:
            continue
        # A patronymic that differs counts against (-1), a surname only as dissimilar as it is.
        total += weight * agreement
        weight_sum += weight
    return max(total / weight_sum, 0.0)


def _person_blocks(name: PersonName) -> set[str]:
    """What a candidate must share with an entry: a surname word, or the given name and the surname's first two
    letters (a typo further on in the surname)."""
    blocks = {f"s:{word}" for word in name.surname.split()}
    if name.given and name.surname:
        blocks.add(f"g:{name.given}:{name.surname[:2]}")
    return blocks


def _organization_person_names(organization_id: int) -> Iterator[tuple[int, str, PersonName]]:
    """``(entity id, name token, parsed clear name)`` of every person's name the organisation's graph holds.

    The clear values are read from the vault a batch at a time and live only in this comparison.
    """
    rows = EntityName.objects.filter(organization_id=organization_id, entity__kind=EntityKind.PERSON).values_list(
        "entity_id", "name"
    )
    batch: list[tuple[int, str]] = []
    for row in rows.iterator(chunk_size=REVEAL_BATCH):
        batch.append(row)
        if len(batch) >= REVEAL_BATCH:
            yield from _parsed_names(organization_id, batch)
            batch = []
    yield from _parsed_names(organization_id, batch)


def _parsed_names(organization_id: int, batch: list[tuple[int, str]]) -> Iterator[tuple[int, str, PersonName]]:
    clear = vault_reveal(organization_id=organization_id, tokens=[token for _, token in batch])
    for entity_id, token in batch:
        if token in clear:
            yield entity_id, token, person_name(clear[token])


def _match_person_names(screening: Screening) -> None:
    """People's names, compared in memory after blocking on name parts.

    A person an identifier already tied to an entry is compared with that entry whatever the blocks say, so the
    explanation tells whether the name agrees too.
    """
    people = [entry for entry in screening.entries.values() if entry.kind == EntityKind.PERSON]
    if not people:
        return
    identified = {key for key, evidence in screening.evidence.items() if evidence.identified}
    identified_entities = {entity_id for _, entity_id in identified}
    index: dict[str, list[tuple[int, str, PersonName]]] = defaultdict(list)
    names_of: dict[int, list[tuple[str, PersonName]]] = defaultdict(list)
    for entity_id, token, name in _organization_person_names(screening.organization_id):
        for block in _person_blocks(name):
            index[block].append((entity_id, token, name))
        if entity_id in identified_entities:
            names_of[entity_id].append((token, name))
    for entry in people:
        for spelling in _spellings(entry):
            entry_name = person_name(spelling)
            entry_token = pii_token(spelling, PIIKind.PERSON_NAME)
            candidates = {candidate for block in _person_blocks(entry_name) for candidate in index.get(block, ())}
            candidates.update(
                (entity_id, token, name)
                for (entry_id, entity_id) in identified
                if entry_id == entry.pk
                for token, name in names_of[entity_id]
            )
            for entity_id, token, name in candidates:
                similarity = person_name_similarity(entry_name, name)
                if similarity >= MIN_PERSON_NAME or (entry.pk, entity_id) in identified:
                    screening.evidence[(entry.pk, entity_id)].add_name(
                        _factor("name", entry_token, token, similarity, PERSON_NAME_WEIGHT)
                    )


def _on_roots(evidence: Mapping[tuple[int, int], Evidence]) -> dict[tuple[int, int], Evidence]:
    """The evidence per entry and root entity: what was found on an entity merged since counts for its survivor."""
    roots = entity_roots(entity_id for _, entity_id in evidence)
    merged: dict[tuple[int, int], Evidence] = {}
    for (entry_id, entity_id), found in evidence.items():
        key = (entry_id, roots.get(entity_id, entity_id))
        if key in merged:
            merged[key].absorb(found)
        else:
            merged[key] = found
    return merged


def _birth_date_tokens(entity_ids: set[int]) -> dict[int, list[str]]:
    """The date-of-birth tokens the resolver keeps on people (``attributes["birth_dates"]``)."""
    found: dict[int, list[str]] = {}
    for entity_id, attributes in Entity.objects.filter(pk__in=entity_ids).values_list("pk", "attributes"):
        tokens = (attributes or {}).get("birth_dates") or []
        found[entity_id] = [token for token in tokens if isinstance(token, str) and token]
    return found


def _match_birth_dates(screening: Screening, evidence: Mapping[tuple[int, int], Evidence]) -> None:
    """A person's date of birth on the list against the entity's, read from the vault: agrees, or differs."""
    pending = {
        key: (found, entry_date)
        for key, found in evidence.items()
        if found.name is not None
        and screening.entries[key[0]].kind == EntityKind.PERSON
        and (entry_date := normalize_birth_date(screening.entries[key[0]].birth_date))
    }
    if not pending:
        return
    tokens = _birth_date_tokens({entity_id for _, entity_id in pending})
    clear = vault_reveal(
        organization_id=screening.organization_id, tokens={token for values in tokens.values() for token in values}
    )
    for (_entry_id, entity_id), (found, entry_date) in pending.items():
        known = {token: normalize_birth_date(clear[token]) for token in tokens.get(entity_id, ()) if token in clear}
        known = {token: value for token, value in known.items() if value}
        if not known:
            continue
        agreeing = sorted(token for token, value in known.items() if _dates_agree(entry_date, value))
        found.birth_date = _factor(
            "birth_date",
            pii_token(entry_date, PIIKind.BIRTH_DATE),
            agreeing[0] if agreeing else sorted(known)[0],
            1.0 if agreeing else 0.0,
            1 - PERSON_NAME_WEIGHT,
        )


def _dates_agree(left: str, right: str) -> bool:
    """Dates written as precisely as each source knows them ("1980", "1980-03", "1980-03-09") agree when the less
    precise one is the start of the other."""
    shorter, longer = sorted((left, right), key=len)
    return longer.startswith(shorter)


def severity_for(score: float, *, identified: bool) -> Severity:
    if identified:
        return Severity.CRITICAL
    if score >= HIGH_SEVERITY_SCORE:
        return Severity.HIGH
    if score >= MEDIUM_SEVERITY_SCORE:
        return Severity.MEDIUM
    return Severity.LOW


FIELD_LABELS = {
    "name": gettext_lazy("name"),
    "birth_date": gettext_lazy("date of birth"),
    "country": gettext_lazy("country"),
    "edrpou": gettext_lazy("ЄДРПОУ"),
    "rnokpp": gettext_lazy("РНОКПП"),
    "iban": gettext_lazy("IBAN"),
    "phone": gettext_lazy("phone"),
    "imo": gettext_lazy("IMO number"),
}
NAME_BASED_FIELDS = {"name", "birth_date", "country"}


def field_label(field_name: str) -> str:
    return str(FIELD_LABELS.get(field_name, field_name))


def entry_display_name(entry: WatchlistEntry) -> str:
    """An entry's name as surfaces show it: a person's as the token of the list's spelling, which would otherwise
    give away the name of the entity it matched."""
    return pii_token(entry.name, PIIKind.PERSON_NAME) if entry.kind == EntityKind.PERSON else entry.name


def _reason_text(factor: Mapping[str, Any]) -> str:
    if factor["field"] == "name":
        return _("the name is %(percent)d%% similar (%(entity)s and %(entry)s)") % {
            "percent": round(factor["similarity"] * 100),
            "entity": factor["entity_value"],
            "entry": factor["entry_value"],
        }
    if factor["similarity"] >= 1.0:
        return _("the %(field)s is the same (%(value)s)") % {
            "field": field_label(factor["field"]),
            "value": factor["entity_value"],
        }
    return _("the %(field)s differs (%(entity)s; the list has %(entry)s)") % {
        "field": field_label(factor["field"]),
        "entity": factor["entity_value"],
        "entry": factor["entry_value"],
    }


def explanation_text(*, entity: Entity, entry: WatchlistEntry, watchlist: Watchlist, hit: WatchlistHit) -> str:
    """The hit in sentences, in the active language: what matched, how closely, and what the list says."""
    shown = entry_display_name(entry)
    if entry.external_id:
        shown = _("“%(name)s” (list id %(id)s)") % {"name": shown, "id": entry.external_id}
    else:
        shown = _("“%(name)s”") % {"name": shown}
    text = _("%(entity)s matches %(entry)s on the watchlist “%(list)s” with a score of %(score).2f: %(reasons)s.") % {
        "entity": entity.name,
        "entry": shown,
        "list": watchlist.name,
        "score": hit.score,
        "reasons": "; ".join(_reason_text(factor) for factor in hit.explanation),
    }
    if entry.reason:
        text += " " + _("Listed for: %(reason)s.") % {"reason": entry.reason.rstrip(".")}
    return text


def anomaly_key(entry_id: int, entity_id: int) -> str:
    """One anomaly per list entry and entity, however often the list is screened."""
    return f"{DETECTOR}:{entry_id}:{entity_id}"


def _raise_anomaly(watchlist: Watchlist, entry: WatchlistEntry, entity: Entity, hit: WatchlistHit) -> None:
    texts = {}
    for language in ("en", "uk"):
        with translation.override(language):
            texts[language] = explanation_text(entity=entity, entry=entry, watchlist=watchlist, hit=hit)
    with translation.override(settings.LANGUAGE_CODE):
        title = _("%(entity)s on the watchlist “%(list)s”") % {"entity": entity.name, "list": watchlist.name}
    factors = [
        {
            "feature": factor["field"],
            "value": factor["entity_value"],
            "peer": factor["entry_value"],
            "contribution": round(factor["similarity"] * factor["weight"], 3),
        }
        for factor in hit.explanation
    ]
    identified = any(factor["field"] not in NAME_BASED_FIELDS for factor in hit.explanation)
    anomaly_raise(
        organization_id=watchlist.organization_id,
        detector=DETECTOR,
        dedup_key=anomaly_key(entry.pk, entity.pk),
        score=hit.score,
        severity=severity_for(hit.score, identified=identified),
        title=title,
        explanation={**texts, "factors": factors},
        entity_ids=[entity.pk],
        records=[],
    )


def _store_hits(
    watchlist: Watchlist, scored: Mapping[tuple[int, int], Evidence]
) -> dict[tuple[int, int], WatchlistHit]:
    """The list's hits made to be exactly ``scored``: new ones created, changed ones updated, stale ones removed."""
    existing = {(hit.entry_id, hit.entity_id): hit for hit in WatchlistHit.objects.filter(entry__watchlist=watchlist)}
    WatchlistHit.objects.filter(pk__in=[hit.pk for key, hit in existing.items() if key not in scored]).delete()
    now = timezone.now()
    hits: dict[tuple[int, int], WatchlistHit] = {}
    created: list[WatchlistHit] = []
    changed: list[WatchlistHit] = []
    for (entry_id, entity_id), evidence in scored.items():
        score = round(evidence.score(), 4)
        explanation = evidence.factors()
        hit = existing.get((entry_id, entity_id))
        if hit is None:
            hit = WatchlistHit(
                organization_id=watchlist.organization_id,
                entry_id=entry_id,
                entity_id=entity_id,
                score=score,
                explanation=explanation,
            )
            created.append(hit)
        elif hit.score != score or hit.explanation != explanation:
            hit.score, hit.explanation, hit.updated_at = score, explanation, now
            changed.append(hit)
        hits[(entry_id, entity_id)] = hit
    WatchlistHit.objects.bulk_create(created, batch_size=INSERT_BATCH)
    WatchlistHit.objects.bulk_update(changed, ["score", "explanation", "updated_at"], batch_size=INSERT_BATCH)
    return hits


def watchlist_screen(*, watchlist_id: int) -> int:
    """Screen every entity of the list's organisation against the list; the number of hits it has now.

    Safe to run again: hits are updated in place, hits that no longer hold are removed, and an anomaly is raised
    once per entry and entity (what an investigator decided about it stays).
    """
    with transaction.atomic():
        # One screening of a list at a time: a second one waits here, then finds the first one's hits.
        watchlist = Watchlist.objects.select_for_update().get(pk=watchlist_id)
        entries = WatchlistEntry.objects.filter(watchlist=watchlist)
        screening = Screening(watchlist=watchlist, entries={entry.pk: entry for entry in entries})
        timings: dict[str, float] = {}
        with _timed(timings, "identifiers"):
            _match_identifiers(screening)
        with _timed(timings, "company_names"):
            _match_company_names(screening)
        with _timed(timings, "person_names"):
            _match_person_names(screening)
        with _timed(timings, "birth_dates"):
            evidence = _on_roots(screening.evidence)
            _match_birth_dates(screening, evidence)
        with _timed(timings, "store"):
            scored = {key: found for key, found in evidence.items() if found.score() >= HIT_THRESHOLD}
            hits = _store_hits(watchlist, scored)
            raised = set(
                Anomaly.objects.filter(
                    organization_id=watchlist.organization_id,
                    dedup_key__in=[anomaly_key(entry_id, entity_id) for entry_id, entity_id in hits],
                ).values_list("dedup_key", flat=True)
            )
            new = {key: hit for key, hit in hits.items() if anomaly_key(*key) not in raised}
            entities = Entity.objects.in_bulk({entity_id for _, entity_id in new})
            for (entry_id, entity_id), hit in new.items():
                _raise_anomaly(watchlist, screening.entries[entry_id], entities[entity_id], hit)
            watchlist.screened_at = timezone.now()
            watchlist.save(update_fields=["screened_at", "updated_at"])
    logger.info(
        "watchlist %s screened: %d entries, %d hits, seconds %s",
        watchlist.pk,
        len(screening.entries),
        len(hits),
        timings,
    )
    return len(hits)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - started, 3)
