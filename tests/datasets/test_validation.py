"""Header mapping, typed parsing, quarantine reasons and masking of one chunk, without a database."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from apps.datasets.exports import csv_lines, escape_formula
from apps.datasets.ingest.mapping import auto_map, normalize_header
from apps.datasets.ingest.masking import mask_party_list, mask_text
from apps.datasets.ingest.schemas import ISO_COUNTRIES, SCHEMAS, record_columns, schema_for
from apps.datasets.ingest.types import BadRow, RawChunk
from apps.datasets.ingest.validate import ChunkValidator, ValidatedChunk
from apps.datasets.models import RecordKind
from apps.datasets.synthetic import reference
from apps.datasets.synthetic.codes import edrpou_from_prefix, rnokpp_for
from apps.privacy.masking import PIIKind, pii_token
from tests.datasets.test_synthetic import COMPANY_HEADER, DECLARATION_HEADER, INVOICE_HEADER, PERSON_HEADER

COMPANY_CODE = edrpou_from_prefix(3_894_512)
PERSON_CODE = rnokpp_for(birth_date=datetime.date(1984, 3, 9), serial=123, male=True)
PERSON_NAME = "Канарейко Остап Тарасович"


def validate(kind: str, rows: list[dict[str, str | None]], bad_rows: list[BadRow] | None = None) -> ValidatedChunk:
    headers = list(rows[0])
    table = pa.table({header: pa.array([row[header] for row in rows], type=pa.string()) for header in headers})
    schema = schema_for(kind)
    chunk = RawChunk(table=table, row_numbers=pa.array(range(2, len(rows) + 2)), bad_rows=bad_rows or [])
    return ChunkValidator(schema=schema, columns=auto_map(schema, headers)).validate(chunk)


def declaration(**cells: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = dict.fromkeys(DECLARATION_HEADER, "")
    row.update(
        {
            "Номер декларації": "UA100010/2024/000001",
            "Дата оформлення": "01.07.2024",
            "Напрямок": "ІМ",
            "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД": COMPANY_CODE,
            "Суб'єкт ЗЕД": "ТОВ «Зоря-Схід»",
            "Код товару УКТЗЕД": "0803901000",
            "Фактурна вартість": "1234.56",
            "Країна походження": "EC",
        }
    )
    row.update({_header(name): value for name, value in cells.items()})
    return row


def _header(field_name: str) -> str:
    schema = schema_for(RecordKind.CUSTOMS_DECLARATION)
    return next(header for header, name in auto_map(schema, DECLARATION_HEADER).items() if name == field_name)


def test_every_model_column_has_a_field_and_synonyms_are_unambiguous_within_a_kind() -> None:
    for kind, schema in SCHEMAS.items():
        assert list(schema.field_names) == record_columns(schema.model), kind
        seen: dict[str, str] = {}
        for spec in schema.fields:
            for synonym in {normalize_header(name) for name in (spec.name, *spec.synonyms)}:
                assert seen.setdefault(synonym, spec.name) == spec.name, f"{kind}: {synonym!r} names two fields"


@pytest.mark.parametrize(
    ("kind", "headers"),
    [
        (RecordKind.CUSTOMS_DECLARATION, DECLARATION_HEADER),
        (RecordKind.TAX_INVOICE, INVOICE_HEADER),
        (RecordKind.REGISTRY_COMPANY, COMPANY_HEADER),
        (RecordKind.REGISTRY_PERSON, PERSON_HEADER),
    ],
)
def test_the_generators_headers_map_to_every_field(kind: str, headers: list[str]) -> None:
    schema = schema_for(kind)
    columns = auto_map(schema, headers)

    assert set(columns) == set(headers)
    assert set(columns.values()) == set(schema.field_names)


def test_russian_english_and_untidy_headers_map() -> None:
    schema = schema_for(RecordKind.CUSTOMS_DECLARATION)
    headers = [
        "Номер декларации", "ДАТА ОФОРМЛЕНИЯ", "Direction", "ЕДРПОУ", "Субъект ВЭД", "Код УКТ ВЭД",
        " HS code ", "Масса нетто (кг)", "Таможенная стоимость, грн.", "Страна происхождения", "fraud",
        "Код  ЄДРПОУ/РНОКПП  суб’єкта ЗЕД", "Unknown column",
    ]  # fmt: skip

    columns = auto_map(schema, headers)

    assert columns == {
        "Номер декларации": "declaration_number",
        "ДАТА ОФОРМЛЕНИЯ": "declaration_date",
        "Direction": "direction",
        "ЕДРПОУ": "trader_code",
        "Субъект ВЭД": "trader_name",
        "Код УКТ ВЭД": "goods_code",
        "Масса нетто (кг)": "net_mass_kg",
        "Таможенная стоимость, грн.": "customs_value_uah",
        "Страна происхождения": "origin_country",
        "fraud": "fraud_found",
    }, "the second header of a field already taken, and unknown headers, stay unmapped"
    assert normalize_header("Код  ЄДРПОУ/РНОКПП  суб’єкта ЗЕД") == normalize_header("код едрпоу/рнокпп суб'екта зед")
    assert normalize_header("Кoд тoвару") == normalize_header("Код товару"), "Latin o typed into a Cyrillic header"
    assert auto_map(schema, ["Виявлено порушення", "label"]) == {"Виявлено порушення": "fraud_found"}


def test_the_country_list_is_iso_and_covers_the_generators_countries() -> None:
    assert len(ISO_COUNTRIES) == 250
    assert {country.iso for country in reference.COUNTRIES} <= ISO_COUNTRIES


def test_decimals_in_the_spellings_investigators_meet() -> None:
    spellings = ["1234.56", "1 234,56", "1\u00a0234,56", "1,234.56", "1.234,56", "1234,56", "1'234.56", "+1234.555"]
    result = validate(RecordKind.CUSTOMS_DECLARATION, [declaration(invoice_value=spelling) for spelling in spellings])

    assert result.quarantine.num_rows == 0
    values = result.records.column("invoice_value").to_pylist()
    assert values[:-1] == [Decimal("1234.56")] * (len(spellings) - 1)
    assert values[-1] == Decimal("1234.56"), "rounded half away from zero to the column's two decimals"
    masses = validate(RecordKind.CUSTOMS_DECLARATION, [declaration(net_mass_kg="79022.131")])
    assert masses.records.column("net_mass_kg").to_pylist() == [Decimal("79022.1310")]


def test_bad_numbers_negative_masses_and_overflows_are_quarantined_with_the_reason() -> None:
    rows = [
        declaration(invoice_value="abc"),
        declaration(net_mass_kg="-5"),
        declaration(invoice_value="1e400"),
        declaration(customs_value_uah="123456789012345678901"),
        declaration(invoice_value="12.5"),
    ]

    result = validate(RecordKind.CUSTOMS_DECLARATION, rows)

    assert result.records.column("row_number").to_pylist() == [6]
    quarantine = result.quarantine.to_pylist()
    assert [(row["row_number"], row["rule"], row["field"]) for row in quarantine] == [
        (2, "number", "invoice_value"),
        (3, "range", "net_mass_kg"),
        (4, "number", "invoice_value"),
        (5, "range", "customs_value_uah"),
    ]
    assert quarantine[0]["reason"] == "Invoice value: not a number «abc»"
    assert "negative values are not allowed" in quarantine[1]["reason"]
    assert result.failures[("number", "invoice_value")] == 2


def test_dates_in_three_formats_and_impossible_dates() -> None:
    spellings = ["09.03.2024", "2024-03-09", "09/03/2024", "9.3.2024", "2024-03-09 00:00:00"]
    good = validate(RecordKind.CUSTOMS_DECLARATION, [declaration(declaration_date=value) for value in spellings])
    assert good.records.column("declaration_date").to_pylist() == [datetime.date(2024, 3, 9)] * len(spellings)

    bad = validate(
        RecordKind.CUSTOMS_DECLARATION,
        [
            declaration(declaration_date=value)
            for value in ["31.02.2024", "2024-13-01", "03/09/24", "вчора", "01.01.1812"]
        ],
    )
    assert bad.records.num_rows == 0
    assert set(bad.quarantine.column("rule").to_pylist()) == {"date"}


def test_required_fields_choices_countries_goods_codes_and_outcomes() -> None:
    rows = [
        declaration(declaration_number=""),
        declaration(direction="транзит"),
        declaration(origin_country="Китай"),
        declaration(goods_code="08A3"),
        declaration(fraud_found="можливо"),
        declaration(direction="ЕК10", origin_country="de", goods_code="0803 90 10 00", fraud_found="так"),
        declaration(direction="export", goods_code="0803", fraud_found="No"),
        # A spreadsheet dropped the leading zero: chapter 07 (vegetables), not 71 (jewellery).
        declaration(direction="import", goods_code="710807000", fraud_found="0"),
        declaration(direction="import", goods_code="803", fraud_found="0"),
    ]

    result = validate(RecordKind.CUSTOMS_DECLARATION, rows)

    rules = [(row["rule"], row["field"]) for row in result.quarantine.to_pylist()]
    assert rules == [
        ("required", "declaration_number"),
        ("choice", "direction"),
        ("country", "origin_country"),
        ("goods_code", "goods_code"),
        ("boolean", "fraud_found"),
    ]
    loaded = result.records.to_pylist()
    assert [(row["direction"], row["origin_country"], row["goods_code"], row["fraud_found"]) for row in loaded] == [
        ("export", "DE", "0803901000", True),
        ("export", "EC", "0803", False),
        ("import", "EC", "0710807000", False),
        ("import", "EC", "0803", False),
    ], "goods codes keep their leading zeros; one that lost it gets it back"


def test_tax_codes_need_a_valid_check_digit() -> None:
    wrong_digit = COMPANY_CODE[:7] + str((int(COMPANY_CODE[7]) + 1) % 10)
    rows = [
        declaration(trader_code=wrong_digit),
        declaration(trader_code="1234567"),
        declaration(trader_code=f" {COMPANY_CODE} "),
    ]

    result = validate(RecordKind.CUSTOMS_DECLARATION, rows)

    assert [(row["rule"], row["field"]) for row in result.quarantine.to_pylist()] == [
        ("check_digit", "trader_code"),
        ("tax_code", "trader_code"),
    ]
    assert result.records.column("trader_code").to_pylist() == [COMPANY_CODE]


def test_a_sole_traders_code_and_name_are_masked_a_companys_are_not() -> None:
    rows = [declaration(trader_code=PERSON_CODE, trader_name=f"ФОП {PERSON_NAME}"), declaration()]

    records = validate(RecordKind.CUSTOMS_DECLARATION, rows).records.to_pylist()

    assert records[0]["trader_code"] == pii_token(PERSON_CODE, PIIKind.TAX_NUMBER)
    assert records[0]["trader_name"] == pii_token(f"ФОП {PERSON_NAME}", PIIKind.PERSON_NAME)
    assert (records[1]["trader_code"], records[1]["trader_name"]) == (COMPANY_CODE, "ТОВ «Зоря-Схід»")


def test_without_a_code_column_a_name_is_masked_unless_it_reads_as_a_companys() -> None:
    rows = [
        {**declaration(declarant_name=PERSON_NAME), _header("declarant_code"): None},
        {**declaration(declarant_name="ТОВ «Митний брокер Альфа»"), _header("declarant_code"): None},
        {**declaration(declarant_name=PERSON_NAME, invoice_value="n/a"), _header("declarant_code"): None},
    ]
    for row in rows:
        del row[_header("declarant_code")]

    result = validate(RecordKind.CUSTOMS_DECLARATION, rows)

    records = result.records.to_pylist()
    assert records[0]["declarant_name"] == pii_token(PERSON_NAME, PIIKind.PERSON_NAME)
    assert records[1]["declarant_name"] == "ТОВ «Митний брокер Альфа»"
    [quarantined] = result.quarantine.to_pylist()
    assert PERSON_NAME not in quarantined["raw"]
    assert pii_token(PERSON_NAME, PIIKind.PERSON_NAME) in quarantined["raw"]


def test_quarantined_raw_rows_are_masked_and_unmapped_cells_hidden() -> None:
    row = declaration(trader_code=PERSON_CODE, trader_name=PERSON_NAME, invoice_value="n/a")
    row["Телефон"] = "+380671234567"
    misaligned = BadRow(
        row_number=99, rule="too_many_fields", reason="31 fields", raw=f"UA1,{PERSON_NAME},{PERSON_CODE},12.5"
    )

    result = validate(RecordKind.CUSTOMS_DECLARATION, [row], bad_rows=[misaligned])

    raws = result.quarantine.column("raw").to_pylist()
    assert len(raws) == 2
    for raw in raws:
        assert PERSON_CODE not in raw
        assert "Канарейко" not in raw
        assert "380671234567" not in raw
    assert pii_token(PERSON_CODE, PIIKind.TAX_NUMBER) in raws[0]
    assert raws[1].endswith(",12.5"), "numbers of an unsplit row stay readable"
    assert result.rows_read == 2
    assert result.failures[("too_many_fields", "")] == 1


def test_register_people_and_free_text_are_masked() -> None:
    persons = validate(
        RecordKind.REGISTRY_PERSON,
        [
            {
                "Номер запису": "1",
                "Джерело": "ЄДР",
                "ПІБ": PERSON_NAME,
                "Дата народження": "09.03.1984",
                "РНОКПП": PERSON_CODE,
                "Адреса": "м. Київ, вул. Канарейкова, 1",
                "Ролі": f"керівник {COMPANY_CODE}; ФОП {PERSON_CODE}",
            }
        ],
    ).records.to_pylist()[0]

    assert persons["full_name"] == pii_token(PERSON_NAME, PIIKind.PERSON_NAME)
    assert persons["birth_date"] == pii_token("1984-03-09", PIIKind.BIRTH_DATE)
    assert persons["tax_number"] == pii_token(PERSON_CODE, PIIKind.TAX_NUMBER)
    assert persons["address"].startswith("PII-addr-")
    assert persons["roles"] == f"керівник {COMPANY_CODE}; ФОП {pii_token(PERSON_CODE, PIIKind.TAX_NUMBER)}"
    assert persons["source_name"] == "ЄДР"

    founders = mask_party_list(f"{PERSON_NAME} (частка 60%); ТОВ «Зоря» (код {COMPANY_CODE}) (частка 40%)")
    assert founders == (
        f"{pii_token(PERSON_NAME, PIIKind.PERSON_NAME)} (частка 60%); ТОВ «Зоря» (код {COMPANY_CODE}) (частка 40%)"
    )
    text = mask_text("Дзвоніть: (067) 123-45-67 або +380671234567, пишіть ostap@example.com")
    assert text.count(pii_token("+380671234567", PIIKind.PHONE)) == 2
    assert "example.com" not in text


def test_formula_like_cells_are_escaped_in_exports() -> None:
    assert escape_formula("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    for dangerous in ["+SUM(A1)", "-2+3", "@SUM(A1)", "\t=1", "\r=1", " =1", "＝1"]:
        assert escape_formula(dangerous).startswith("'"), dangerous
    for safe in ["-12.50", "+380", "Зоря", "", "a=b", 42, None]:
        assert escape_formula(safe) == ("" if safe is None else str(safe))
    assert list(csv_lines([["=1+1", "ok"]])) == ["'=1+1,ok\r\n"]


def test_date_times_with_and_without_offsets() -> None:
    spellings = [
        "2024-03-09T08:11:12+00:00",
        "2024-03-09T08:11:12Z",
        "2024-03-09T10:11:12",
        "09.03.2024 10:11:12",
        "2024-03-09T13:41:12+05:30",
        "1709971872",
    ]
    rows = [
        {"channel": "c", "message_id": str(index), "sent_at": value, "author": "", "text": ""}
        for index, value in enumerate([*spellings, "2024-02-30T10:00", "завтра"])
    ]

    result = validate(RecordKind.TELEGRAM_MESSAGE, rows)

    expected = datetime.datetime(2024, 3, 9, 8, 11, 12, tzinfo=datetime.UTC)
    assert result.records.column("sent_at").to_pylist() == [expected] * len(spellings), "Kyiv time without an offset"
    assert [row["rule"] for row in result.quarantine.to_pylist()] == ["datetime", "datetime"]
