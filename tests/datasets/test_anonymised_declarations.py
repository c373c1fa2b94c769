"""Another administration's declarations: unknown headers, anonymised party codes, a binary fraud outcome.

The file is written here in the column layout of a public synthetic import-declarations set (a customs
administration's, with alphanumeric anonymised party ids, goods codes that lost their leading zero and no
direction column), with a planted fraud signal a history-aware model can learn: risky importers, risky goods
chapters from some origins, and under-valued goods. It goes the way an investigator takes it: upload, the mapping
page (columns, "party codes are anonymised identifiers", imports for every row, the outcome column as "violation
found"), the load, entity resolution, then training from the models page, measured on the most recent period.
"""

from __future__ import annotations

import csv
import datetime
import io
import string
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import Organization, User
from apps.anomalies.models import MLModel
from apps.datasets import services
from apps.datasets.ingest.mapping import MappingOptions, PartyCodes
from apps.datasets.ingest.schemas import schema_for
from apps.datasets.ingest.types import RawChunk
from apps.datasets.ingest.validate import ChunkValidator
from apps.datasets.models import ColumnMapping, CustomsDeclaration, Dataset, DatasetStatus, RecordKind
from apps.entities.models import Entity, EntityIdentifier, EntityKind, EntityMention, IdentifierScheme, MentionRole
from apps.entities.resolution import resolve_dataset
from apps.privacy.masking import MASK_PREFIX, PIIKind, pii_token
from tests.core.test_pages import Element, parse

pytestmark = pytest.mark.django_db

HEADER = [
    "Declaration ID", "Date", "Office ID", "Process Type", "Import Type", "Import Use", "Payment Type",
    "Mode of Transport", "Declarant ID", "Importer ID", "Seller ID", "Courier ID", "HS10 Code",
    "Country of Departure", "Country of Origin", "Tax Rate", "Tax Type", "Country of Origin Indicator", "Net Mass",
    "Item Price", "Fraud", "Critical Fraud",
]  # fmt: skip
# What the investigator chooses on the mapping page; the other columns are not loaded.
MAPPING = {
    "Declaration ID": "declaration_number",
    "Date": "declaration_date",
    "Office ID": "customs_office_code",
    "Mode of Transport": "transport_mode",
    "Declarant ID": "declarant_code",
    "Importer ID": "trader_code",
    "HS10 Code": "goods_code",
    "Country of Departure": "departure_country",
    "Country of Origin": "origin_country",
    "Net Mass": "net_mass_kg",
    "Item Price": "customs_value_uah",
    "Fraud": "fraud_found",
}
# Goods chapters, each with a typical price per kg; codes are written as numbers, so 07… loses its zero.
CHAPTERS = {7: 900.0, 8: 1500.0, 39: 3000.0, 44: 2500.0, 61: 20000.0, 62: 24000.0, 71: 400000.0, 84: 30000.0}
COUNTRIES = ["CN", "VN", "US", "DE", "BE", "JP", "TH", "IT", "ID", "MY"]
RISKY_ORIGINS = {(61, "CN"), (62, "CN"), (61, "VN"), (71, "TH"), (84, "MY")}
ROWS = 4500
PRECISION_FLOOR = 0.5


def party_ids(rng: np.random.Generator, count: int) -> list[str]:
    """Anonymised party ids as the public file writes them: 7 upper-case letters and digits."""
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    ids: set[str] = set()
    while len(ids) < count:
        ids.add("".join(rng.choice(alphabet, 7)))
    return sorted(ids)


def generated_rows(seed: int = 5, rows: int = ROWS) -> list[list[str]]:
    """A year of import declarations (2020) with a planted, learnable fraud signal (about a fifth are frauds)."""
    rng = np.random.default_rng(seed)
    importers = party_ids(rng, 420)
    declarants = party_ids(rng, 60)
    sellers = party_ids(rng, 700)
    couriers = party_ids(rng, 8)
    risky_importers = set(rng.choice(importers, 50, replace=False).tolist())
    goods = [(chapter, int(f"{chapter:02d}{rng.integers(10**7, 10**8 - 1)}")) for chapter in CHAPTERS for _ in range(6)]
    # Importers recur (a few often, most seldom), each with its usual declarant.
    weights = rng.pareto(1.2, len(importers)) + 0.2
    weights /= weights.sum()
    usual_declarant = {importer: declarants[rng.integers(len(declarants))] for importer in importers}
    days = np.sort(rng.integers(0, 366, rows))
    numbers = rng.choice(np.arange(10_000_000, 99_999_999), rows, replace=False)
    table = []
    for index in range(rows):
        importer = importers[rng.choice(len(importers), p=weights)]
        chapter, code = goods[rng.integers(len(goods))]
        origin = COUNTRIES[rng.integers(len(COUNTRIES))]
        mass = float(np.round(rng.lognormal(5.0, 1.2), 1))
        under_valued = rng.random() < 0.08
        price_per_kg = CHAPTERS[chapter] * rng.lognormal(0.0, 0.25) * (0.25 if under_valued else 1.0)
        logit = -2.4 + 3.2 * (importer in risky_importers) + 1.6 * ((chapter, origin) in RISKY_ORIGINS)
        logit += 2.6 * under_valued
        fraud = rng.random() < 1.0 / (1.0 + np.exp(-logit))
        day = datetime.date(2020, 1, 1) + datetime.timedelta(days=int(days[index]))
        table.append(
            [
                str(numbers[index]),
                day.isoformat(),
                str(rng.choice([10, 20, 30, 40, 50])),
                str(rng.choice(["A", "B"])),
                "11",
                str(rng.choice([21, 22])),
                str(rng.choice([11, 43])),
                str(rng.choice([10, 40])),
                usual_declarant[importer] if rng.random() < 0.9 else declarants[rng.integers(len(declarants))],
                importer,
                sellers[rng.integers(len(sellers))] if rng.random() < 0.9 else "",
                couriers[rng.integers(len(couriers))] if rng.random() < 0.05 else "",
                str(code),
                origin if rng.random() < 0.85 else COUNTRIES[rng.integers(len(COUNTRIES))],
                origin,
                str(rng.choice([0.0, 8.0, 13.0])),
                str(rng.choice(["A", "C", "FEU1"])),
                str(rng.choice(["B", "G"])),
                str(mass),
                str(np.round(mass * price_per_kg, 1)),
                str(int(fraud)),
                str(int(fraud and rng.random() < 0.3)),
            ]
        )
    return table


def csv_file(rows: list[list[str]], name: str) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), "text/csv")


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run(dataset: Dataset, user: User) -> Dataset:
    """What the Celery task does, here and now."""
    return services.dataset_run(dataset_id=dataset.pk, user=user)


def mapping_post(**options: str) -> dict[str, str]:
    data = {f"column_{index}": MAPPING.get(header, "") for index, header in enumerate(HEADER)}
    return {**data, **options}


def suggestions(document: Element) -> dict[str, str]:
    """{column select: the field chosen in it} as the mapping page comes."""
    chosen = {}
    for select in document.find_all("select"):
        if select.attrs["name"].startswith("column_"):
            option = select.find("option", lambda e: "selected" in e.attrs)
            chosen[select.attrs["name"]] = option.attrs["value"] if option is not None else ""
    return chosen


def uploaded(client: Client, rows: list[list[str]], name: str) -> Dataset:
    response = client.post(
        reverse("datasets:upload"),
        {"file": csv_file(rows, name), "kind": RecordKind.CUSTOMS_DECLARATION, "name": ""},
    )
    assert response.status_code == 302
    return Dataset.objects.get(original_filename=name)


@pytest.fixture(autouse=True)
def media_root(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def mapped_and_loaded(client: Client, user: User, rows: list[list[str]]) -> Dataset:
    """Upload, the mapping page as an investigator fills it in, the load."""
    dataset = run(uploaded(client, rows, "foreign-declarations-2020.csv"), user)
    assert dataset.status == DatasetStatus.NEEDS_MAPPING, dataset.error
    url = reverse("datasets:mapping", args=[dataset.pk])
    response = client.post(url, mapping_post(party_codes="on", fixed_direction="import", save_as="Foreign customs"))
    assert response.status_code == 302, response.content.decode()[:2000]
    dataset = run(Dataset.objects.get(pk=dataset.pk), user)
    assert dataset.status == DatasetStatus.READY, dataset.error
    return dataset


def test_a_foreign_file_with_anonymised_parties_is_mapped_loaded_and_resolved(
    organization: Organization, investigator: User
) -> None:
    rows = generated_rows()
    client = login(investigator)
    dataset = run(uploaded(client, rows, "foreign-declarations-2020.csv"), investigator)
    assert dataset.status == DatasetStatus.NEEDS_MAPPING, dataset.error

    # The mapping page offers the option and a direction for every row (the file has no direction column).
    url = reverse("datasets:mapping", args=[dataset.pk])
    document = parse(client.get(url).content)
    checkbox = document.find("input", lambda e: e.attrs.get("name") == "party_codes")
    assert checkbox is not None
    assert checkbox.attrs.get("type") == "checkbox"
    assert "checked" not in checkbox.attrs, "Ukrainian codes stay the default"
    labels = {label.attrs.get("for"): label.text() for label in document.find_all("label")}
    assert "anonymised identifiers" in labels[checkbox.attrs["id"]]
    direction = document.find("select", lambda e: e.attrs.get("name") == "fixed_direction")
    assert direction is not None
    assert {option.attrs["value"] for option in direction.find_all("option")} == {"", "import", "export"}
    # English headers such as "Importer ID" and the outcome "Fraud" are recognised; the rest is the investigator's.
    suggested = {HEADER[int(name.removeprefix("column_"))]: value for name, value in suggestions(document).items()}
    assert {header: field for header, field in suggested.items() if field} == {
        "Declaration ID": "declaration_number",
        "Date": "declaration_date",
        "Office ID": "customs_office_code",
        "Mode of Transport": "transport_mode",
        "Declarant ID": "declarant_code",
        "Importer ID": "trader_code",
        "HS10 Code": "goods_code",
        "Country of Departure": "departure_country",
        "Country of Origin": "origin_country",
        "Net Mass": "net_mass_kg",
        "Fraud": "fraud_found",
    }
    assert "Still without a column: Direction" in document.text()

    response = client.post(url, mapping_post(party_codes="on", fixed_direction="import", save_as="Foreign customs"))
    assert response.status_code == 302, response.content.decode()[:2000]
    dataset = run(Dataset.objects.get(pk=dataset.pk), investigator)
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert (dataset.rows_loaded, dataset.rows_quarantined) == (len(rows), 0), dataset.validation_report
    assert dataset.mapping_options == {"party_codes": "anonymised", "fixed": {"direction": "import"}}
    saved = ColumnMapping.objects.get(organization=organization, name="Foreign customs")
    assert MappingOptions.from_json(saved.options).party_codes is PartyCodes.ANONYMISED

    # Party ids are stored as written: never tokens, never taken for a person's tax number.
    stored = CustomsDeclaration.objects.filter(dataset=dataset)
    importers = {row[9] for row in rows}
    assert set(stored.values_list("trader_code", flat=True)) == importers
    assert set(stored.values_list("declarant_code", flat=True)) == {row[8] for row in rows}
    assert not stored.filter(trader_code__startswith=MASK_PREFIX).exists()
    assert set(stored.values_list("direction", flat=True)) == {"import"}
    # A goods code that lost its leading zero (9 digits, chapter 07) gets it back.
    assert stored.filter(goods_code__regex=r"^07\d{8}$").exists()
    assert not stored.filter(goods_code__regex=r"^\d{9}$").exists()
    assert stored.filter(fraud_found=True).count() == sum(row[20] == "1" for row in rows)
    detail = parse(client.get(reverse("datasets:detail", args=[dataset.pk])).content).text()
    assert "Party codes were loaded as anonymised identifiers" in detail
    assert "(no column: “Import” for every row)" in detail

    # Entity resolution: one company entity per importer id, keyed by the id; the same id is the same party.
    resolve_dataset(dataset_id=dataset.pk)
    identifiers = EntityIdentifier.objects.filter(organization=organization, value__in=importers)
    assert identifiers.count() == len(importers)
    assert set(identifiers.values_list("scheme", flat=True)) == {IdentifierScheme.OTHER}
    entities = Entity.objects.filter(pk__in=identifiers.values_list("entity_id", flat=True))
    assert set(entities.values_list("kind", "is_pii")) == {(EntityKind.COMPANY, False)}
    assert not Entity.objects.filter(organization=organization, is_pii=True).exists()
    some_importer = rows[0][9]
    trader_mentions = EntityMention.objects.filter(dataset_id=dataset.pk, role=MentionRole.TRADER)
    mentioned = trader_mentions.filter(record_id__in=stored.filter(trader_code=some_importer).values("id"))
    assert mentioned.values("entity_id").distinct().count() == 1


def test_a_model_is_trained_on_the_foreign_file_from_the_models_page(
    organization: Organization,
    investigator: User,
    supervisor: User,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rows = generated_rows()
    dataset = mapped_and_loaded(login(investigator), investigator, rows)

    # Training from the models page: a time split, the held-out figures of the most recent period.
    trainer = login(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = trainer.post(reverse("anomalies:models"), {"dataset": dataset.pk})
    assert response.status_code == 302
    model = MLModel.objects.get(organization=organization, dataset=dataset)
    assert model.train_to < model.test_from <= model.test_to
    assert model.test_to == max(datetime.date.fromisoformat(row[1]) for row in rows)
    precision = model.metrics["precision@5"]
    assert precision >= PRECISION_FLOOR
    page = trainer.get(reverse("anomalies:models")).content.decode()
    assert f"{precision:.3f}" in page


def test_the_saved_mapping_loads_the_next_period_with_the_same_parties(
    organization: Organization, investigator: User
) -> None:
    rows = generated_rows(seed=7, rows=60)
    client = login(investigator)
    first = run(uploaded(client, rows, "foreign-2020.csv"), investigator)
    client.post(
        reverse("datasets:mapping", args=[first.pk]),
        mapping_post(party_codes="on", fixed_direction="import", save_as="Foreign customs"),
    )
    first = run(Dataset.objects.get(pk=first.pk), investigator)
    assert first.status == DatasetStatus.READY, first.error
    resolve_dataset(dataset_id=first.pk)

    # The next period: same headers, so the saved mapping (with its options) applies without asking. Numeric ids
    # of 8 and 10 digits are anonymised ids too: no ЄДРПОУ, no РНОКПП, no token.
    known = rows[0][9]
    later_rows = [list(row) for row in rows[:3]]
    for row, importer in zip(later_rows, [known, "12345678", "1234567890"], strict=True):
        row[1] = "2021-01-15"
        row[0] = f"9{row[0]}"
        row[9] = importer
    later = run(uploaded(client, later_rows, "foreign-2021.csv"), investigator)
    assert later.status == DatasetStatus.READY, later.error
    assert later.column_mapping is not None
    assert later.column_mapping.name == "Foreign customs"
    assert later.rows_loaded == 3
    assert set(CustomsDeclaration.objects.filter(dataset=later).values_list("trader_code", flat=True)) == {
        known,
        "12345678",
        "1234567890",
    }
    resolve_dataset(dataset_id=later.pk)
    schemes = dict(
        EntityIdentifier.objects.filter(organization=organization, value__in=["12345678", "1234567890"]).values_list(
            "value", "scheme"
        )
    )
    assert schemes == {"12345678": IdentifierScheme.OTHER, "1234567890": IdentifierScheme.OTHER}
    assert not Entity.objects.filter(organization=organization, kind=EntityKind.PERSON).exists()

    def entity_of(dataset: Dataset, code: str) -> set[int]:
        records = CustomsDeclaration.objects.filter(dataset=dataset, trader_code=code).values("id")
        mentions = EntityMention.objects.filter(dataset_id=dataset.pk, role=MentionRole.TRADER, record_id__in=records)
        return set(mentions.values_list("entity_id", flat=True))

    assert entity_of(later, known) == entity_of(first, known) != set()


def test_without_the_option_anonymised_ids_are_refused_as_tax_codes(
    organization: Organization, investigator: User
) -> None:
    rows = generated_rows(seed=9, rows=20)
    client = login(investigator)
    dataset = run(uploaded(client, rows, "foreign-unticked.csv"), investigator)
    client.post(reverse("datasets:mapping", args=[dataset.pk]), mapping_post(fixed_direction="import"))
    dataset = run(Dataset.objects.get(pk=dataset.pk), investigator)
    assert dataset.status == DatasetStatus.READY, dataset.error
    assert (dataset.rows_loaded, dataset.rows_quarantined) == (0, 20)
    failures = {(line["rule"], line["field"]) for line in dataset.validation_report["failures"]}
    assert ("tax_code", "trader_code") in failures


def test_the_mapping_page_refuses_a_direction_given_twice(organization: Organization, investigator: User) -> None:
    client = login(investigator)
    dataset = run(uploaded(client, generated_rows(seed=3, rows=5), "foreign-twice.csv"), investigator)
    data = mapping_post(party_codes="on", fixed_direction="import")
    data["column_4"] = "direction"  # "Import Type" as the direction too
    response = client.post(reverse("datasets:mapping", args=[dataset.pk]), data)
    assert response.status_code == 200
    invalid = parse(response.content).find("select", lambda e: e.attrs.get("name") == "fixed_direction")
    assert invalid is not None
    assert invalid.attrs.get("aria-invalid")
    data.pop("fixed_direction")
    data["column_4"] = ""
    response = client.post(reverse("datasets:mapping", args=[dataset.pk]), data)
    alert = parse(response.content).find(where=lambda e: e.attrs.get("role") == "alert")
    assert alert is not None
    assert "Direction" in alert.text()


def test_anonymised_codes_are_opaque_names_stay_masked_and_quarantined_rows_show_no_person() -> None:
    """One chunk, without a database: the codes are kept as written whatever they look like (a 10-digit id is no
    РНОКПП), the names of parties are personal unless they read as a company's, and the other rules still hold."""
    schema = schema_for(RecordKind.CUSTOMS_DECLARATION)
    person = "Канарейко Остап Тарасович"
    rows = {
        "Declaration ID": ["1", "2", "3", "4"],
        "Date": ["2020-01-01", "2020-01-02", "2020-01-03", "2020-02-30"],
        "Importer ID": ["QLRUBN9", "1234567890", "00000042", person],
        "Importer": ["ТОВ «Зоря-Схід»", person, "", person],
        "HS10 Code": ["710807000", "4408909195", "0803 90 10 00", "3926"],
        "Country of Origin": ["VN", "BE", "EC", "XX"],
    }
    table = pa.table({header: pa.array(values, type=pa.string()) for header, values in rows.items()})
    columns = {
        "Declaration ID": "declaration_number",
        "Date": "declaration_date",
        "Importer ID": "trader_code",
        "Importer": "trader_name",
        "HS10 Code": "goods_code",
        "Country of Origin": "origin_country",
    }
    options = MappingOptions(party_codes=PartyCodes.ANONYMISED, fixed={"direction": "import"})
    chunk = RawChunk(table=table, row_numbers=pa.array([2, 3, 4, 5]))
    result = ChunkValidator(schema=schema, columns=columns, options=options).validate(chunk)

    records = result.records.to_pydict()
    assert records["trader_code"] == ["QLRUBN9", "1234567890", "00000042"]
    assert records["trader_name"] == ["ТОВ «Зоря-Схід»", pii_token(person, PIIKind.PERSON_NAME), None]
    assert records["goods_code"] == ["0710807000", "4408909195", "0803901000"]
    assert records["direction"] == ["import"] * 3
    # The last row breaks the date and country rules, and a name in the identifier column is no identifier: the
    # reason and the raw text of the row hide the person's name in both columns.
    quarantined = result.quarantine.to_pylist()
    assert [(row["row_number"], row["rule"], row["field"]) for row in quarantined] == [(5, "date", "declaration_date")]
    assert "anonymised identifier" in quarantined[0]["reason"]
    assert person not in quarantined[0]["reason"]
    assert person not in quarantined[0]["raw"]
    assert pii_token(person, PIIKind.PERSON_NAME) in quarantined[0]["raw"]
    assert set(result.failures) == {
        ("date", "declaration_date"),
        ("identifier", "trader_code"),
        ("country", "origin_country"),
    }

    # The same chunk read as Ukrainian codes refuses the ids and tokenises the 10-digit one's name.
    checked = ChunkValidator(schema=schema, columns=columns, options=MappingOptions(fixed={"direction": "import"}))
    assert checked.validate(chunk).records.num_rows == 0
