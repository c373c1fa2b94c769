"""Raw text chunks → typed, masked record rows and quarantined rows, one chunk at a time, vectorised.

Every cell arrives as text (``RawChunk``). Each mapped field is parsed by its type with pyarrow compute kernels
(or once per distinct value for low-cardinality work such as check digits), and every rule a row breaks is
noted. A row that breaks any rule is quarantined whole — with the first rule and field, and a reason naming
every problem — and the others become the clean table, typed as the record table's columns and masked.

Parsing, in short (docs/ingestion.md has the full list):

- decimals: ``1 234,56``, ``1234.56``, ``1,234.56``, ``1.234,56`` (spaces, no-break spaces and apostrophes
  as thousands separators), rounded half away from zero to the column's scale, within its precision;
- dates: ``dd.mm.yyyy``, ``yyyy-mm-dd``, ``dd/mm/yyyy`` (a time part after them is ignored); impossible dates
  such as 31.02 are refused, years outside 1900–2100 too;
- date-times: ISO 8601 with an optional offset, ``dd.mm.yyyy hh:mm[:ss]`` or Unix seconds; without an offset
  the time is taken as Kyiv time;
- booleans: так/ні, yes/no, true/false, 1/0, да/нет, +/-;
- goods codes: 4–10 digits, leading zeros kept (spaces and dots inside are dropped: ``0803 90 10 00``);
- tax codes: an 8-digit ЄДРПОУ or a 10-digit РНОКПП with a valid check digit (``apps.datasets.synthetic.codes``);
  when the mapping says the party codes are anonymised identifiers, they are opaque codes instead (any text
  within the column's length, never personal: ``apps.datasets.ingest.schemas.with_anonymised_party_codes``);
- countries: ISO 3166-1 alpha-2; currencies: three Latin letters.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.datasets.ingest import masking
from apps.datasets.ingest.mapping import MappingOptions, normalize_header
from apps.datasets.ingest.schemas import (
    ISO_COUNTRIES,
    PERSONAL_CODE_LENGTH,
    FieldSpec,
    FieldType,
    KindSchema,
    with_anonymised_party_codes,
)
from apps.datasets.ingest.types import BadRow, RawChunk
from apps.datasets.synthetic.codes import EDRPOU_LENGTH, is_valid_edrpou, is_valid_rnokpp
from apps.privacy.masking import PIIKind


class Rule(StrEnum):
    REQUIRED = "required"
    NUMBER = "number"
    INTEGER = "integer"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    COUNTRY = "country"
    CURRENCY = "currency"
    GOODS_CODE = "goods_code"
    TAX_CODE = "tax_code"
    CHECK_DIGIT = "check_digit"
    IDENTIFIER = "identifier"
    RANGE = "range"
    TOO_LONG = "too_long"
    LIST = "list"


RULE_MESSAGES = {
    Rule.REQUIRED: gettext_lazy("missing"),
    Rule.NUMBER: gettext_lazy("not a number"),
    Rule.INTEGER: gettext_lazy("not a whole number"),
    Rule.DATE: gettext_lazy("not a date (dd.mm.yyyy, yyyy-mm-dd or dd/mm/yyyy)"),
    Rule.DATETIME: gettext_lazy("not a date and time"),
    Rule.BOOLEAN: gettext_lazy("not yes or no"),
    Rule.CHOICE: gettext_lazy("not one of the known values"),
    Rule.COUNTRY: gettext_lazy("not an ISO 3166 two-letter country code"),
    Rule.CURRENCY: gettext_lazy("not a three-letter currency code"),
    Rule.GOODS_CODE: gettext_lazy("not a goods code of 4 to 10 digits"),
    Rule.TAX_CODE: gettext_lazy("not an 8-digit ЄДРПОУ or a 10-digit РНОКПП"),
    Rule.CHECK_DIGIT: gettext_lazy("wrong check digit"),
    Rule.IDENTIFIER: gettext_lazy("not an anonymised identifier (Latin letters and digits without spaces)"),
    Rule.RANGE: gettext_lazy("out of range"),
    Rule.TOO_LONG: gettext_lazy("too long"),
    Rule.LIST: gettext_lazy("not a list"),
}

DETAIL_LIMIT = 60
RAW_ROW_LIMIT = 2000
MIN_YEAR, MAX_YEAR = 1900, 2100
DECIMAL_WORK_TYPE = pa.decimal128(38, 10)
DECIMAL_WORK_SCALE = 10
TRUE_WORDS = frozenset({"так", "т", "yes", "y", "true", "t", "1", "да", "д", "+", "є", "виявлено", "x", "х"})
FALSE_WORDS = frozenset({"ні", "н", "no", "n", "false", "f", "0", "нет", "-", "немає", "не виявлено"})

_SPACES = r"[\s\x{00a0}\x{202f}\x{2009}']"
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
_COMMA_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+\.\d*$|^[+-]?\d{1,3}(,\d{3}){2,}$"
_DOT_THOUSANDS = r"^[+-]?\d{1,3}(\.\d{3})+,\d*$|^[+-]?\d{1,3}(\.\d{3}){2,}$"
_TIME = r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?)?"
DATE_PATTERNS = (
    rf"^(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\.(?P<year>\d{{4}}){_TIME}$",
    rf"^(?P<year>\d{{4}})-(?P<month>\d{{1,2}})-(?P<day>\d{{1,2}}){_TIME}$",
    rf"^(?P<day>\d{{1,2}})/(?P<month>\d{{1,2}})/(?P<year>\d{{4}}){_TIME}$",
)
_ZONE = r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?"
DATETIME_PATTERNS = tuple(pattern.removesuffix("$") + _ZONE + "$" for pattern in DATE_PATTERNS)
# An anonymised identifier: one word of Latin letters and digits, maybe with . _ / - inside.
IDENTIFIER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z._/-]*$"


def field_arrow_type(spec: FieldSpec) -> pa.DataType:
    """The Arrow type of a field in the clean table (and the Parquet archive): tokens are text."""
    if spec.type is FieldType.LIST:
        return pa.list_(pa.string())
    if spec.masked:
        return pa.string()
    return {
        FieldType.DECIMAL: pa.decimal128(spec.precision or 38, spec.scale),
        FieldType.INTEGER: pa.int64(),
        FieldType.DATE: pa.date32(),
        FieldType.DATETIME: pa.timestamp("us", tz="UTC"),
        FieldType.BOOL: pa.bool_(),
    }.get(spec.type, pa.string())


def record_schema(schema: KindSchema) -> pa.Schema:
    return pa.schema(
        [pa.field("row_number", pa.int64(), nullable=False)]
        + [pa.field(spec.name, field_arrow_type(spec)) for spec in schema.fields]
    )


QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("row_number", pa.int64()),
        pa.field("rule", pa.string()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
    ]
)


@dataclass
class Parsed:
    values: pa.Array
    failures: list[tuple[Rule, pa.Array]]


@dataclass
class ValidatedChunk:
    records: pa.Table
    quarantine: pa.Table
    # Rows failing each (rule, field); a row failing two fields counts under both.
    failures: Counter[tuple[str, str]]
    rows_read: int


def _null_strings(length: int) -> pa.Array:
    return pa.nulls(length, type=pa.string())


def _false(length: int) -> pa.Array:
    return pa.array(np.zeros(length, dtype=bool))


def _may_hold_nul(values: pa.Array) -> bool:
    """Whether the column's text buffer has a NUL byte anywhere (a cheap superset of the cells holding one)."""
    data = values.buffers()[2]
    return data is not None and bool((np.frombuffer(data, dtype=np.uint8) == 0).any())


def clean_text(values: pa.Array) -> pa.Array:
    """Surrounding spaces trimmed, NUL characters dropped (PostgreSQL text cannot hold them), empty → missing."""
    if values.type != pa.string():
        values = values.cast(pa.string())
    values = pc.utf8_trim_whitespace(values)
    if _may_hold_nul(values):
        values = pc.replace_substring(values, "\x00", "")
    return pc.if_else(pc.equal(pc.binary_length(values), 0), pa.scalar(None, pa.string()), values)


def _invalid(values: pa.Array, ok: pa.Array) -> pa.Array:
    """True where a value is present and not ``ok``."""
    return pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(ok, False)))


def _only(values: pa.Array, ok: pa.Array) -> pa.Array:
    return pc.if_else(pc.fill_null(ok, False), values, pa.scalar(None, values.type))


def _decimal_range(typed: pa.Array, spec: FieldSpec) -> pa.Array:
    """True where a decimal lies within the field's bounds (null where the value is missing)."""
    in_range = pc.is_valid(typed)
    if spec.min_value is not None:
        in_range = pc.and_(in_range, pc.greater_equal(typed, pa.scalar(spec.min_value, typed.type)))
    if spec.max_value is not None:
        in_range = pc.and_(in_range, pc.less_equal(typed, pa.scalar(spec.max_value, typed.type)))
    return in_range


def _decimal_result(values: pa.Array, typed: pa.Array, is_number: pa.Array | None, spec: FieldSpec) -> Parsed:
    in_range = _decimal_range(typed, spec)
    not_number = _invalid(values, is_number) if is_number is not None else _false(len(values))
    out_of_range = pc.and_(pc.invert(not_number), _invalid(values, in_range))
    return Parsed(_only(typed, in_range), [(Rule.NUMBER, not_number), (Rule.RANGE, out_of_range)])


def parse_decimal(values: pa.Array, spec: FieldSpec) -> Parsed:
    target = field_arrow_type(spec)
    # Most files write plain numbers that fit the column: one cast checks both, and only a refusal costs more.
    # (The cast would also read exponents, which the rules below refuse, so those take the long way.)
    if not pc.any(pc.match_substring(values, "e", ignore_case=True)).as_py():
        try:
            return _decimal_result(values, pc.cast(values, target), None, spec)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    normalized = pc.replace_substring_regex(values, _SPACES, "")
    comma_thousands = pc.match_substring_regex(normalized, _COMMA_THOUSANDS)
    dot_thousands = pc.match_substring_regex(normalized, _DOT_THOUSANDS)
    normalized = pc.if_else(comma_thousands, pc.replace_substring(normalized, ",", ""), normalized)
    normalized = pc.if_else(dot_thousands, pc.replace_substring(normalized, ".", ""), normalized)
    normalized = pc.replace_substring(normalized, ",", ".")
    is_number = pc.match_substring_regex(normalized, _NUMBER)
    normalized = _only(normalized, is_number)
    # Leading zeros and digits beyond the working scale would only make the cast refuse a good number.
    normalized = pc.replace_substring_regex(normalized, r"^([+-]?)0+(\d)", r"\1\2")
    normalized = pc.replace_substring_regex(normalized, rf"(\.\d{{{DECIMAL_WORK_SCALE}}})\d+$", r"\1")
    integer_digits = (spec.precision or 38) - spec.scale
    fits = pc.match_substring_regex(normalized, rf"^[+-]?\d{{0,{integer_digits}}}(\.\d*)?$")
    exact = pc.cast(_only(normalized, fits), DECIMAL_WORK_TYPE)
    rounded = pc.round(exact, spec.scale, round_mode="half_towards_infinity")
    in_precision = pc.less(pc.abs(rounded), pa.scalar(Decimal(10) ** integer_digits, DECIMAL_WORK_TYPE))
    typed = pc.cast(_only(rounded, in_precision), target)
    return _decimal_result(values, typed, is_number, spec)


def parse_integer(values: pa.Array, spec: FieldSpec) -> Parsed:
    normalized = pc.replace_substring_regex(pc.replace_substring_regex(values, _SPACES, ""), r"[.,]0+$", "")
    ok = pc.match_substring_regex(normalized, r"^[+-]?\d{1,18}$")
    typed = pc.cast(_only(normalized, ok), pa.int64())
    failures: list[tuple[Rule, pa.Array]] = [(Rule.INTEGER, _invalid(values, ok))]
    if spec.min_value is not None:
        below = pc.fill_null(pc.less(typed, int(spec.min_value)), False)
        failures.append((Rule.RANGE, below))
        typed = pc.if_else(below, pa.scalar(None, pa.int64()), typed)
    return Parsed(typed, failures)


def _extract_first(values: pa.Array, patterns: Sequence[str]) -> pa.Array:
    """The named groups of the first pattern each value matches, as a struct (null where none matches)."""
    result = pc.extract_regex(values, patterns[0])
    for pattern in patterns[1:]:
        matched = pc.is_valid(result)
        if pc.all(pc.or_kleene(matched, pc.is_null(values))).as_py():
            break
        other = pc.extract_regex(values, pattern)
        names = [field.name for field in result.type]
        aligned = pa.StructArray.from_arrays(
            [pc.struct_field(other, [other.type.get_field_index(name)]) for name in names],
            names=names,
            mask=pc.invert(pc.is_valid(other)),
        )
        result = pc.if_else(matched, result, aligned)
    return result


def _group(parts: pa.Array, name: str, width: int, default: str) -> pa.Array:
    value = pc.struct_field(parts, [parts.type.get_field_index(name)])
    value = pc.if_else(pc.equal(value, ""), pa.scalar(default), value)
    return pc.utf8_lpad(value, width, "0")


def _checked_timestamp(parts: pa.Array, with_time: bool) -> tuple[pa.Array, pa.Array]:
    """A naive timestamp from year/month/day(/hour/minute/second) groups, and where it is a real date (and time)."""
    date_text = pc.binary_join_element_wise(
        _group(parts, "year", 4, ""), _group(parts, "month", 2, ""), _group(parts, "day", 2, ""), "-"
    )
    text, text_format = date_text, "%Y-%m-%d"
    if with_time:
        time_text = pc.binary_join_element_wise(
            _group(parts, "hour", 2, "00"), _group(parts, "minute", 2, "00"), _group(parts, "second", 2, "00"), ":"
        )
        text = pc.binary_join_element_wise(date_text, time_text, "T")
        text_format = "%Y-%m-%dT%H:%M:%S"
    # Whole seconds: strftime would print the fraction of a finer unit and never match the text.
    parsed = pc.strptime(text, format=text_format, unit="s", error_is_null=True)
    # strptime rolls 31.02 over into March; a real date prints back as it was written.
    real = pc.equal(pc.strftime(parsed, format=text_format), text)
    year = pc.year(parsed)
    real = pc.and_(real, pc.and_(pc.greater_equal(year, MIN_YEAR), pc.less_equal(year, MAX_YEAR)))
    return parsed, real


def parse_date(values: pa.Array, spec: FieldSpec) -> Parsed:
    # The usual case, every date written dd.mm.yyyy, takes three kernels; anything else takes the general way.
    parsed = pc.strptime(values, format="%d.%m.%Y", unit="s", error_is_null=True)
    same = pc.fill_null(pc.equal(pc.strftime(parsed, format="%d.%m.%Y"), values), False)
    if pc.all(pc.or_(same, pc.is_null(values))).as_py():
        year = pc.year(parsed)
        real = pc.and_(pc.greater_equal(year, MIN_YEAR), pc.less_equal(year, MAX_YEAR))
    else:
        parts = _extract_first(values, DATE_PATTERNS)
        parsed, real = _checked_timestamp(parts, with_time=False)
    typed = pc.cast(_only(parsed, real), pa.date32())
    return Parsed(typed, [(Rule.DATE, _invalid(values, real))])


def parse_datetime(values: pa.Array, spec: FieldSpec) -> Parsed:
    utc_type = pa.timestamp("us", tz="UTC")
    unix = pc.match_substring_regex(values, r"^\d{9,11}$")
    parts = _extract_first(values, DATETIME_PATTERNS)
    naive_seconds, real = _checked_timestamp(parts, with_time=True)
    naive = pc.cast(naive_seconds, pa.timestamp("us"))
    zone = pc.struct_field(parts, [parts.type.get_field_index("zone")])
    has_zone = pc.fill_null(pc.not_equal(zone, ""), False)
    local = pc.cast(pc.assume_timezone(naive, settings.TIME_ZONE, ambiguous="earliest", nonexistent="latest"), utc_type)
    zone_text = pc.if_else(pc.and_(has_zone, pc.not_equal(zone, "Z")), zone, pa.scalar("+0000"))
    zone_digits = pc.replace_substring(zone_text, ":", "")
    sign = pc.if_else(pc.starts_with(zone_digits, "-"), pa.scalar(-1), pa.scalar(1))
    hours = pc.cast(pc.fill_null(pc.utf8_slice_codeunits(zone_digits, 1, 3), "0"), pa.int64())
    minutes = pc.cast(pc.fill_null(pc.utf8_slice_codeunits(zone_digits, 3, 5), "0"), pa.int64())
    offset_us = pc.multiply(sign, pc.multiply(pc.add(pc.multiply(hours, 60), minutes), 60_000_000))
    zoned = pc.cast(pc.subtract(naive, pc.cast(offset_us, pa.duration("us"))), utc_type)
    from_text = pc.if_else(has_zone, zoned, local)
    seconds = pc.cast(_only(values, unix), pa.int64())
    from_unix = pc.cast(pc.multiply(seconds, 1_000_000), utc_type)
    ok = pc.or_(pc.fill_null(unix, False), pc.fill_null(real, False))
    typed = pc.if_else(pc.fill_null(unix, False), from_unix, _only(from_text, real))
    return Parsed(typed, [(Rule.DATETIME, _invalid(values, ok))])


def _bool_word(value: str) -> bool | None:
    word = " ".join(value.casefold().split())
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_bool(values: pa.Array, spec: FieldSpec) -> Parsed:
    typed = masking.map_distinct(values, _bool_word, pa.bool_())
    return Parsed(typed, [(Rule.BOOLEAN, _invalid(values, pc.is_valid(typed)))])


def parse_choice(values: pa.Array, spec: FieldSpec) -> Parsed:
    spellings = {normalize_header(spelling): stored for stored, names in spec.choices.items() for spelling in names}

    def choose(value: str) -> str | None:
        normalized = normalize_header(value)
        return spellings.get(normalized) or spellings.get(re.sub(r"[\d\s]+", "", normalized))

    typed = masking.map_distinct(values, choose, pa.string())
    return Parsed(typed, [(Rule.CHOICE, _invalid(values, pc.is_valid(typed)))])


def parse_country(values: pa.Array, spec: FieldSpec) -> Parsed:
    upper = pc.ascii_upper(values)
    ok = pc.is_in(upper, value_set=pa.array(sorted(ISO_COUNTRIES)))
    return Parsed(_only(upper, ok), [(Rule.COUNTRY, _invalid(values, ok))])


def parse_currency(values: pa.Array, spec: FieldSpec) -> Parsed:
    upper = pc.ascii_upper(values)
    ok = pc.match_substring_regex(upper, r"^[A-Z]{3}$")
    return Parsed(_only(upper, ok), [(Rule.CURRENCY, _invalid(values, ok))])


def parse_goods_code(values: pa.Array, spec: FieldSpec) -> Parsed:
    """Digits of a goods code. Codes have 4, 6, 8 or 10 digits: one of odd length lost its leading zero in a
    spreadsheet (chapters 01–09), which is put back, so «710807000» is chapter 07, not 71."""
    digits = pc.replace_substring_regex(values, r"[\s.]", "")
    ok = pc.match_substring_regex(digits, r"^\d{3,10}$")
    odd = pc.equal(pc.bit_wise_and(pc.utf8_length(digits), 1), 1)
    padded = pc.if_else(odd, pc.binary_join_element_wise("0", digits, ""), digits)
    return Parsed(_only(padded, ok), [(Rule.GOODS_CODE, _invalid(values, ok))])


def _tax_code_check(lengths: tuple[int, ...]) -> Callable[[str], tuple[str, str]]:
    """(the code without spaces, "" or the rule it breaks)."""

    def check(value: str) -> tuple[str, str]:
        code = "".join(value.split())
        if not code.isascii() or not code.isdigit() or len(code) not in lengths:
            return code, Rule.TAX_CODE.value
        valid = is_valid_edrpou(code) if len(code) == EDRPOU_LENGTH else is_valid_rnokpp(code)
        return code, "" if valid else Rule.CHECK_DIGIT.value

    return check


def parse_tax_code(values: pa.Array, spec: FieldSpec) -> Parsed:
    encoded = pc.dictionary_encode(values)
    checked = [_tax_code_check(spec.tax_code_lengths)(value) for value in encoded.dictionary.to_pylist()]
    codes = pa.array([code for code, _rule in checked], type=pa.string()).take(encoded.indices)
    status = pa.array([rule for _code, rule in checked], type=pa.string()).take(encoded.indices)
    return Parsed(
        _only(codes, pc.equal(status, "")),
        [
            (Rule.TAX_CODE, pc.fill_null(pc.equal(status, Rule.TAX_CODE.value), False)),
            (Rule.CHECK_DIGIT, pc.fill_null(pc.equal(status, Rule.CHECK_DIGIT.value), False)),
        ],
    )


def parse_identifier(values: pa.Array, spec: FieldSpec) -> Parsed:
    ok = pc.match_substring_regex(values, IDENTIFIER_PATTERN)
    parsed = parse_text(_only(values, ok), spec)
    return Parsed(parsed.values, [(Rule.IDENTIFIER, _invalid(values, ok)), *parsed.failures])


def _text_list(value: str) -> list[str] | None:
    text = value.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return None
        if not isinstance(items, list):
            return None
        return [str(item).strip() for item in items if str(item).strip()]
    return [item.strip() for item in re.split(r"[;\n]", text) if item.strip()]


def parse_list(values: pa.Array, spec: FieldSpec) -> Parsed:
    typed = masking.map_distinct(values, _text_list, pa.list_(pa.string()))
    return Parsed(typed, [(Rule.LIST, _invalid(values, pc.is_valid(typed)))])


def parse_text(values: pa.Array, spec: FieldSpec) -> Parsed:
    failures: list[tuple[Rule, pa.Array]] = []
    if spec.max_length is not None:
        too_long = pc.fill_null(pc.greater(pc.utf8_length(values), spec.max_length), False)
        failures.append((Rule.TOO_LONG, too_long))
        values = pc.if_else(too_long, pa.scalar(None, pa.string()), values)
    return Parsed(values, failures)


PARSERS = {
    FieldType.TEXT: parse_text,
    FieldType.CODE: parse_text,
    FieldType.PARTY_LIST: parse_text,
    FieldType.DECIMAL: parse_decimal,
    FieldType.INTEGER: parse_integer,
    FieldType.DATE: parse_date,
    FieldType.DATETIME: parse_datetime,
    FieldType.BOOL: parse_bool,
    FieldType.CHOICE: parse_choice,
    FieldType.COUNTRY: parse_country,
    FieldType.CURRENCY: parse_currency,
    FieldType.GOODS_CODE: parse_goods_code,
    FieldType.TAX_CODE: parse_tax_code,
    FieldType.IDENTIFIER: parse_identifier,
    FieldType.LIST: parse_list,
}


def parse_field(values: pa.Array, spec: FieldSpec) -> Parsed:
    parsed = PARSERS[spec.type](values, spec)
    failures = list(parsed.failures)
    if spec.required:
        failures.insert(0, (Rule.REQUIRED, pc.is_null(values)))
    return Parsed(parsed.values, failures)


def _is_tax_code(schema: KindSchema, field_name: str) -> bool:
    """Whether a field is a checked ЄДРПОУ/РНОКПП (not an anonymised party code, which says nothing of a person)."""
    return schema.field(field_name).type is FieldType.TAX_CODE


def _personal_rows(code: pa.Array | None, names: pa.Array) -> pa.Array:
    """Rows of a sole trader: the (validated) tax code is a person's 10-digit РНОКПП, or there is no code (``None``:
    no tax code at all) and the name does not read as a company's (a legal form, quotes, a company code), so it may
    be a person's."""
    if code is None:
        code = _null_strings(len(names))
    by_code = pc.equal(pc.utf8_length(code), PERSONAL_CODE_LENGTH)
    uncoded = pc.and_kleene(pc.is_null(code), pc.invert(masking.company_like(names)))
    return pc.fill_null(pc.or_kleene(by_code, uncoded), False)


def mask_records(schema: KindSchema, columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Personal values of clean, typed columns replaced by tokens (``apps.datasets.ingest.masking``)."""
    masked = dict(columns)
    for spec in schema.fields:
        values = columns[spec.name]
        if spec.type is FieldType.LIST:
            if spec.pii is not None:
                masked[spec.name] = masking.mask_list_column(values, spec.pii)
            continue
        if spec.pii is not None:
            masked[spec.name] = masking.tokens(_as_text(values), spec.pii)
        elif spec.personal_when is not None:
            text = _as_text(values)
            code = columns[spec.personal_when] if _is_tax_code(schema, spec.personal_when) else None
            masked[spec.name] = masking.mask_where(text, _personal_rows(code, text), personal_kind(spec))
        elif spec.type is FieldType.PARTY_LIST:
            masked[spec.name] = masking.mask_party_column(values)
        elif spec.mask_in_text:
            masked[spec.name] = masking.mask_text_column(values)
    return masked


def personal_kind(spec: FieldSpec) -> PIIKind:
    """The token kind of a field that is personal on a sole trader's rows."""
    if spec.type is FieldType.TAX_CODE:
        return PIIKind.TAX_NUMBER
    if spec.name == "address":
        return PIIKind.ADDRESS
    return PIIKind.PERSON_NAME


def _as_text(values: pa.Array) -> pa.Array:
    if values.type == pa.string():
        return values
    if pa.types.is_date(values.type):
        return pc.strftime(values, format="%Y-%m-%d")
    return values.cast(pa.string())


class ChunkValidator:
    """Validates the chunks of one file against a kind, with one column mapping and its options."""

    def __init__(
        self, *, schema: KindSchema, columns: Mapping[str, str], options: MappingOptions | None = None
    ) -> None:
        options = options or MappingOptions()
        self.schema = with_anonymised_party_codes(schema) if options.anonymised_party_codes else schema
        # field → source header
        self.sources = {field_name: header for header, field_name in columns.items()}
        # field → the value of every row, for a field the file has no column for.
        self.fixed = {name: value for name, value in options.fixed.items() if name not in self.sources}
        self.output_schema = record_schema(self.schema)

    def _column(self, chunk: RawChunk, field_name: str) -> pa.Array | None:
        header = self.sources.get(field_name)
        if header is None:
            return None
        index = chunk.table.schema.get_field_index(header)
        if index < 0:
            index = chunk.table.column_names.index(header)
        return chunk.table.column(index).combine_chunks()

    def validate(self, chunk: RawChunk) -> ValidatedChunk:
        length = chunk.table.num_rows
        row_numbers = chunk.row_numbers.cast(pa.int64())
        typed: dict[str, pa.Array] = {}
        cleaned: dict[str, pa.Array] = {}
        rule_masks: list[tuple[Rule, FieldSpec, pa.Array]] = []
        for spec in self.schema.fields:
            raw = self._column(chunk, spec.name)
            if raw is None and spec.name in self.fixed:
                raw = pa.repeat(pa.scalar(self.fixed[spec.name], pa.string()), length)
            values = clean_text(raw) if raw is not None else _null_strings(length)
            cleaned[spec.name] = values
            parsed = parse_field(values, spec)
            typed[spec.name] = parsed.values
            rule_masks.extend((rule, spec, mask) for rule, mask in parsed.failures)

        bad = _false(length)
        failures: Counter[tuple[str, str]] = Counter()
        for rule, spec, mask in rule_masks:
            count = pc.sum(mask).as_py() or 0
            if count:
                failures[(rule.value, spec.name)] += count
                bad = pc.or_(bad, mask)

        good = pc.invert(bad)
        clean_columns = {name: pc.filter(values, good) for name, values in typed.items()}
        clean_columns = mask_records(self.schema, clean_columns)
        records = pa.Table.from_arrays(
            [pc.filter(row_numbers, good)]
            + [clean_columns[spec.name].cast(field_arrow_type(spec)) for spec in self.schema.fields],
            schema=self.output_schema,
        )
        quarantine = self._quarantine(chunk, bad, row_numbers, cleaned, rule_masks) if failures else None
        for bad_row in chunk.bad_rows:
            failures[(bad_row.rule, "")] += 1
        reader_rows = quarantine_rows_from_reader(chunk.bad_rows, source=chunk.source)
        tables = [table for table in (quarantine, reader_rows) if table is not None and table.num_rows]
        quarantine_table = pa.concat_tables(tables) if tables else QUARANTINE_SCHEMA.empty_table()
        return ValidatedChunk(
            records=records,
            quarantine=quarantine_table,
            failures=failures,
            rows_read=length + len(chunk.bad_rows),
        )

    def _quarantine(
        self,
        chunk: RawChunk,
        bad: pa.Array,
        row_numbers: pa.Array,
        cleaned: dict[str, pa.Array],
        rule_masks: list[tuple[Rule, FieldSpec, pa.Array]],
    ) -> pa.Table:
        bad_count = pc.sum(bad).as_py()
        rule_column = _null_strings(bad_count)
        field_column = _null_strings(bad_count)
        reason_column = _null_strings(bad_count)
        # Later rules are applied first so that the first broken rule, in field order, is the one named.
        for rule, spec, mask in reversed(rule_masks):
            mask = pc.filter(mask, bad)
            if not pc.any(mask).as_py():
                continue
            rule_column = pc.if_else(mask, pa.scalar(rule.value), rule_column)
            field_column = pc.if_else(mask, pa.scalar(spec.name), field_column)
            reason = _reason(rule, spec, pc.filter(cleaned[spec.name], bad))
            reason = pc.if_else(mask, reason, pa.scalar(None, pa.string()))
            joined = pc.binary_join_element_wise(reason, reason_column, "; ")
            reason_column = pc.coalesce(joined, reason, reason_column)
        raw = raw_rows(chunk, bad, self.schema, self.sources)
        if chunk.source:
            # Rows of a file inside a ZIP upload are numbered within that file: the reason names it.
            reason_column = pc.binary_join_element_wise(pa.scalar(f"{chunk.source}: "), reason_column, "")
        return pa.Table.from_arrays(
            [pc.filter(row_numbers, bad), rule_column, field_column, reason_column, raw],
            schema=QUARANTINE_SCHEMA,
        )


def _reason(rule: Rule, spec: FieldSpec, values: pa.Array) -> pa.Array:
    prefix = f"{capfirst(str(spec.label))}: {RULE_MESSAGES[rule]}"
    if rule is Rule.RANGE:
        prefix = f"{prefix} ({_range_text(spec)})"
    elif rule is Rule.TOO_LONG and spec.max_length is not None:
        limit = _("at most %(count)s characters") % {"count": spec.max_length}
        prefix = f"{prefix} ({limit})"
    # A value refused as an identifier may be anything (a name mapped there by mistake): it is not repeated.
    if spec.masked or rule in (Rule.REQUIRED, Rule.IDENTIFIER):
        return pa.repeat(pa.scalar(prefix), len(values))
    detail = pc.utf8_slice_codeunits(values, 0, DETAIL_LIMIT)
    return pc.binary_join_element_wise(pa.scalar(prefix + " «"), detail, pa.scalar("»"), "")


def _range_text(spec: FieldSpec) -> str:
    if spec.min_value is not None and spec.max_value is not None:
        return _("from %(min)s to %(max)s") % {"min": spec.min_value, "max": spec.max_value}
    if spec.min_value == 0:
        return _("negative values are not allowed")
    if spec.min_value is not None:
        return _("at least %(min)s") % {"min": spec.min_value}
    return _("too large for the column")


def _csv_cell(values: pa.Array) -> pa.Array:
    values = pc.fill_null(pc.utf8_slice_codeunits(values.cast(pa.string()), 0, masking.RAW_CELL_LIMIT), "")
    needs_quotes = pc.match_substring_regex(values, r'[,"\n\r]')
    quoted = pc.binary_join_element_wise(pa.scalar('"'), pc.replace_substring(values, '"', '""'), pa.scalar('"'), "")
    return pc.if_else(needs_quotes, quoted, values)


def raw_rows(chunk: RawChunk, bad: pa.Array, schema: KindSchema, sources: Mapping[str, str]) -> pa.Array:
    """The quarantined rows as CSV text, masked: personal fields as tokens, unmapped cells hidden."""
    field_by_header = {header: field_name for field_name, header in sources.items()}
    cells = []
    personal_by_code: dict[str, pa.Array] = {}
    for spec in schema.fields:
        code_field = spec.personal_when
        if code_field is not None and code_field in sources and _is_tax_code(schema, code_field):
            code = clean_text(pc.filter(chunk.table.column(sources[code_field]).combine_chunks(), bad))
            code = pc.replace_substring_regex(code, r"\s", "")
            # Only a well-formed company code is known not to be a person's: anything else is masked.
            personal_by_code[code_field] = pc.invert(pc.fill_null(pc.match_substring_regex(code, r"^\d{8}$"), False))
    for index, header in enumerate(chunk.table.column_names):
        values = clean_text(pc.filter(chunk.table.column(index).combine_chunks(), bad))
        field_name = field_by_header.get(header)
        if field_name is None:
            cells.append(_csv_cell(masking.hide_cells(values)))
            continue
        spec = schema.field(field_name)
        if spec.type is FieldType.LIST or spec.mask_in_text:
            values = masking.mask_text_column(values)
        elif spec.pii is not None:
            values = masking.tokens(values, spec.pii)
        elif spec.personal_when is not None:
            # Without the code column (or with anonymised codes) nothing tells a company from a sole trader: every
            # value is masked.
            personal = personal_by_code.get(spec.personal_when, pc.is_valid(values))
            values = masking.mask_where(values, personal, personal_kind(spec))
        elif spec.type is FieldType.PARTY_LIST:
            values = masking.mask_party_column(values)
        elif spec.type is FieldType.IDENTIFIER:
            looks_right = pc.fill_null(pc.match_substring_regex(values, IDENTIFIER_PATTERN), True)
            values = pc.if_else(looks_right, values, masking.hide_cells(values))
        cells.append(_csv_cell(values))
    raw = pc.binary_join_element_wise(*cells, ",") if cells else _null_strings(pc.sum(bad).as_py())
    return pc.utf8_slice_codeunits(raw, 0, RAW_ROW_LIMIT)


def mask_unsplit_row(raw: str) -> str:
    """A row the reader could not split: numbers stay, words and personal numbers are hidden."""
    cells = re.split(r"([,;\t|])", raw[:RAW_ROW_LIMIT])
    return "".join(
        cell if index % 2 else masking.hide_unknown_cell(cell.replace("\x00", "")) for index, cell in enumerate(cells)
    )


def quarantine_rows_from_reader(bad_rows: Sequence[BadRow], *, source: str = "") -> pa.Table | None:
    """The reader's bad rows as quarantine rows. A whole member of a ZIP upload (row 0) is named by its file name."""
    if not bad_rows:
        return None
    return pa.Table.from_pylist(
        [
            {
                "row_number": bad_row.row_number,
                "rule": bad_row.rule,
                "field": "",
                "reason": f"{source}: {bad_row.reason}" if source and bad_row.row_number else bad_row.reason,
                "raw": bad_row.raw[:RAW_ROW_LIMIT] if bad_row.row_number == 0 else mask_unsplit_row(bad_row.raw),
            }
            for bad_row in bad_rows
        ],
        schema=QUARANTINE_SCHEMA,
    )
