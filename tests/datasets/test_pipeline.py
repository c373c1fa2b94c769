"""The ingestion pipeline end to end on real files, real PostgreSQL and Redis: detect → map → validate → mask →
Parquet → COPY, with failures, a killed loader, saved mappings, personal data and the post-load hook."""

from __future__ import annotations

import asyncio
import csv
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, connections
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import Organization, User
from apps.core.errors import DomainError
from apps.core.notifications import user_group
from apps.datasets import hooks, selectors, services
from apps.datasets.ingest.progress import progress_get
from apps.datasets.models import (
    RECORD_MODELS,
    ColumnMapping,
    CustomsDeclaration,
    Dataset,
    DatasetSource,
    DatasetStatus,
    QuarantinedRow,
    RecordKind,
    RegistryCompany,
    RegistryPerson,
    TelegramMessage,
)
from apps.datasets.synthetic.codes import edrpou_from_prefix, rnokpp_for
from apps.datasets.tasks import dataset_ingest
from apps.datasets.views import quarantine_csv_lines
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.models import PIIVaultEntry
from apps.privacy.vault import vault_reveal
from nexus import embedded
from tests.datasets.test_readers import encrypted_pdf_bytes, workbook_path
from tests.datasets.test_synthetic import DECLARATION_HEADER
from tests.factories import OrganizationFactory

BASE_DIR = Path(__file__).resolve().parents[2]
ROWS = 300
COMPANY_CODE = edrpou_from_prefix(3_894_512)
CANARY_CODE = rnokpp_for(birth_date=datetime.date(1977, 7, 7), serial=707, male=True)
CANARY_NAME = "Канарейко Остап Тарасович"
CANARY_ADDRESS = "м. Канарейськ, вул. Пташина, 7"
CANARY_PHONE = "+380977070707"
FORMULA = "=cmd|' /C calc'!A0"
FILES = {
    RecordKind.CUSTOMS_DECLARATION: "declarations.csv",
    RecordKind.TAX_INVOICE: "tax_invoices.csv",
    RecordKind.REGISTRY_COMPANY: "registry_companies.csv",
    RecordKind.REGISTRY_PERSON: "registry_persons.csv",
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    call_command("generate_customs", rows=ROWS, seed=5, out=out, verbosity=0)
    return out


@pytest.fixture(autouse=True)
def media(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def upload(path: Path, organization: Organization, kind: str, user: User | None = None) -> services.DatasetCreateResult:
    with path.open("rb") as handle:
        return services.dataset_create(
            organization=organization,
            user=user,
            file=File(handle, name=path.name),
            name=path.stem,
            kind=kind,
            source=DatasetSource.COMMAND,
            enqueue=False,
        )


def ingest(path: Path, organization: Organization, kind: str = RecordKind.CUSTOMS_DECLARATION) -> Dataset:
    result = upload(path, organization, kind)
    return services.dataset_run(dataset_id=result.dataset.pk, hooks_inline=True)


def declaration_row(**cells: str) -> list[str]:
    """A valid declaration row of the generator's layout; ``cells`` override columns by header."""
    row = dict.fromkeys(DECLARATION_HEADER, "")
    row.update(
        {
            "Номер декларації": "UA100010/2024/000001",
            "Дата оформлення": "01.07.2024",
            "Напрямок": "ІМ",
            "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД": COMPANY_CODE,
            "Суб'єкт ЗЕД": "ТОВ «Зоря-Схід»",
            "Країна походження": "PL",
            "Код товару УКТЗЕД": "0803901000",
            "Маса нетто, кг": "100.5",
            "Фактурна вартість": "1234.56",
            "Валюта": "EUR",
        }
    )
    row.update(cells)
    return [row[header] for header in DECLARATION_HEADER]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(FILES))
def test_every_generated_file_loads_completely_with_typed_values(
    synthetic: Path, organization: Organization, kind: str
) -> None:
    path = synthetic / FILES[kind]
    source = pd.read_csv(path, dtype=str, keep_default_na=False)

    dataset = ingest(path, organization, kind)

    assert dataset.status == DatasetStatus.READY, dataset.error
    assert (dataset.rows_total, dataset.rows_loaded, dataset.rows_quarantined) == (len(source), len(source), 0)
    records = RECORD_MODELS[kind].objects.filter(dataset=dataset)
    assert records.count() == len(source)
    assert sorted(records.values_list("row_number", flat=True)) == list(range(2, len(source) + 2))
    assert dataset.validation_report["mapping"]["source"] == "automatic"
    assert dataset.validation_report["mapping"]["unmapped_headers"] == []
    assert dataset.ready_at is not None
    archive = pq.read_table(default_storage.path(dataset.parquet_file.name))
    assert archive.num_rows == len(source)
    run = dataset.runs.get()
    assert run.status == DatasetStatus.READY
    assert run.stats["rows_loaded"] == len(source)
    assert run.stats["seconds"]["run"] > 0
    progress = progress_get(dataset.pk)
    assert progress is not None
    assert (progress.status, progress.percent, progress.rows_loaded) == (DatasetStatus.READY, 100, len(source))


@pytest.mark.django_db
def test_declaration_values_are_typed_and_sole_traders_masked(synthetic: Path, organization: Organization) -> None:
    source = pd.read_csv(synthetic / "declarations.csv", dtype=str, keep_default_na=False)

    dataset = ingest(synthetic / "declarations.csv", organization)

    first = CustomsDeclaration.objects.get(dataset=dataset, row_number=2)
    expected = source.iloc[0]
    assert first.declaration_number == expected["Номер декларації"]
    assert first.declaration_date == datetime.datetime.strptime(expected["Дата оформлення"], "%d.%m.%Y").date()
    assert first.direction == ("import" if expected["Напрямок"] == "ІМ" else "export")
    assert first.goods_code == expected["Код товару УКТЗЕД"]
    assert first.customs_value_uah == Decimal(expected["Митна вартість, грн"])
    assert first.net_mass_kg == Decimal(expected["Маса нетто, кг"])
    labelled = source[source["Виявлено порушення"] != ""]
    loaded_outcomes = CustomsDeclaration.objects.filter(dataset=dataset, fraud_found__isnull=False)
    assert loaded_outcomes.count() == len(labelled)
    assert loaded_outcomes.filter(fraud_found=True).count() == (labelled["Виявлено порушення"] == "так").sum()
    leading_zero = source[source["Код товару УКТЗЕД"].str.startswith("0")]
    assert CustomsDeclaration.objects.filter(dataset=dataset, goods_code__startswith="0").count() == len(leading_zero)
    sole_traders = source[source["Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД"].str.len() == 10]
    assert len(sole_traders) > 0
    masked = CustomsDeclaration.objects.filter(dataset=dataset, trader_code__startswith="PII-tax-")
    assert masked.count() == len(sole_traders)
    assert not masked.exclude(trader_name__startswith="PII-name-").exists()
    one = sole_traders.iloc[0]
    assert masked.filter(trader_code=pii_token(one["Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД"], PIIKind.TAX_NUMBER)).exists()


@pytest.mark.django_db
def test_the_same_file_twice_is_recognised_and_not_loaded_again(synthetic: Path, organization: Organization) -> None:
    first = ingest(synthetic / "tax_invoices.csv", organization, RecordKind.TAX_INVOICE)

    again = upload(synthetic / "tax_invoices.csv", organization, RecordKind.TAX_INVOICE)

    assert again.duplicate
    assert again.dataset.pk == first.pk
    assert Dataset.objects.filter(organization=organization).count() == 1
    uploads = list(Path(first.file.path).parent.iterdir())
    assert uploads == [Path(first.file.path)], "the second copy is not kept"
    elsewhere = upload(synthetic / "tax_invoices.csv", OrganizationFactory(slug="elsewhere"), RecordKind.TAX_INVOICE)
    assert not elsewhere.duplicate, "another organisation loads its own copy"


@pytest.mark.django_db
def test_bad_rows_are_quarantined_with_the_rule_and_good_rows_load(tmp_path: Path, organization: Organization) -> None:
    wrong_digit = COMPANY_CODE[:7] + str((int(COMPANY_CODE[7]) + 1) % 10)
    path = write_csv(
        tmp_path / "mixed.csv",
        DECLARATION_HEADER,
        [
            declaration_row(**{"Номер декларації": "UA/1", "Дата оформлення": "09.03.2024"}),
            declaration_row(**{"Номер декларації": "UA/2", "Дата оформлення": "2024-03-09"}),
            declaration_row(**{"Номер декларації": "UA/3", "Дата оформлення": "09/03/2024"}),
            declaration_row(**{"Номер декларації": "UA/4", "Фактурна вартість": "дорого"}),
            declaration_row(**{"Номер декларації": "UA/5", "Дата оформлення": "32.01.2024"}),
            declaration_row(**{"Номер декларації": "UA/6", "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД": wrong_digit}),
            declaration_row(**{"Номер декларації": "UA/7", "Код товару УКТЗЕД": ""}),
            declaration_row(**{"Номер декларації": FORMULA, "Маса нетто, кг": "-1"}),
            declaration_row(**{"Номер декларації": "UA/9", "Маса нетто, кг": "1 234,5"}),
        ],
    )

    dataset = ingest(path, organization)

    assert dataset.status == DatasetStatus.READY
    assert (dataset.rows_total, dataset.rows_loaded, dataset.rows_quarantined) == (9, 4, 5)
    loaded = CustomsDeclaration.objects.filter(dataset=dataset).order_by("row_number")
    assert [row.declaration_number for row in loaded] == ["UA/1", "UA/2", "UA/3", "UA/9"]
    assert {row.declaration_date for row in loaded} == {datetime.date(2024, 3, 9), datetime.date(2024, 7, 1)}
    assert loaded.last().net_mass_kg == Decimal("1234.5")
    quarantined = list(QuarantinedRow.objects.filter(dataset=dataset).values_list("row_number", "rule", "field"))
    assert quarantined == [
        (5, "number", "invoice_value"),
        (6, "date", "declaration_date"),
        (7, "check_digit", "trader_code"),
        (8, "required", "goods_code"),
        (9, "range", "net_mass_kg"),
    ]
    reason = QuarantinedRow.objects.get(dataset=dataset, row_number=5).reason
    assert reason == "Invoice value: not a number «дорого»"
    assert {
        (failure["rule"], failure["field"], failure["rows"]) for failure in dataset.validation_report["failures"]
    } == {
        ("number", "invoice_value", 1),
        ("date", "declaration_date", 1),
        ("check_digit", "trader_code", 1),
        ("required", "goods_code", 1),
        ("range", "net_mass_kg", 1),
    }

    async def download() -> list[str]:
        return [line async for line in quarantine_csv_lines(dataset)]

    lines = "".join(async_to_sync(download)()).splitlines()
    formula_line = next(line for line in lines if line.startswith("9,"))
    escaped_raw = ',"' + "'" + FORMULA + ",01.07.2024,ІМ,"
    assert escaped_raw in formula_line, "the raw row starts with a formula: escaped in the export"
    stored = QuarantinedRow.objects.get(dataset=dataset, row_number=9).raw
    assert FORMULA in stored, "the cell is stored as data, verbatim"


@pytest.mark.django_db
def test_unknown_headers_need_a_mapping_which_is_saved_and_reused(tmp_path: Path, organization: Organization) -> None:
    header = ["Док №", "Коли", "Рух", "Фірма (код)", "Товар (код)"]
    first_path = write_csv(
        tmp_path / "agency-1.csv", header, [["A-1", "01.02.2024", "імпорт", COMPANY_CODE, "0101210000"]]
    )
    second_path = write_csv(
        tmp_path / "agency-2.csv",
        header,
        [["B-1", "2024-02-02", "export", COMPANY_CODE, "8703"], ["B-2", "03.02.2024", "ІМ", COMPANY_CODE, "8703"]],
    )

    first = ingest(first_path, organization)

    assert first.status == DatasetStatus.NEEDS_MAPPING
    assert set(first.validation_report["mapping"]["missing_required"]) == {
        "declaration_number", "declaration_date", "direction", "trader_code", "goods_code",
    }  # fmt: skip
    assert not CustomsDeclaration.objects.filter(dataset=first).exists()
    proposal = selectors.mapping_proposal(dataset=first)
    assert proposal.headers == header
    columns = {
        "Док №": "declaration_number",
        "Коли": "declaration_date",
        "Рух": "direction",
        "Фірма (код)": "trader_code",
        "Товар (код)": "goods_code",
    }
    with pytest.raises(DomainError, match="required fields"):
        services.dataset_apply_mapping(dataset=first, columns={"Док №": "declaration_number"}, user=None)

    services.dataset_apply_mapping(dataset=first, columns=columns, save_as="Агенція", user=None)
    first = services.dataset_run(dataset_id=first.pk)

    assert first.status == DatasetStatus.READY, first.error
    assert first.rows_loaded == 1
    saved = ColumnMapping.objects.get(organization=organization, name="Агенція")
    assert first.column_mapping == saved
    second = ingest(second_path, organization)
    assert second.status == DatasetStatus.READY, second.error
    assert second.rows_loaded == 2
    assert second.column_mapping == saved
    assert second.validation_report["mapping"]["source"] == "saved"
    assert list(CustomsDeclaration.objects.filter(dataset=second).values_list("direction", flat=True)) == [
        "export",
        "import",
    ]


@pytest.mark.django_db
def test_a_failure_mid_load_leaves_nothing_and_a_retry_loads_everything(
    synthetic: Path, organization: Organization
) -> None:
    earlier = ingest(synthetic / "registry_companies.csv", organization, RecordKind.REGISTRY_COMPANY)
    earlier_rows = RegistryCompany.objects.filter(dataset=earlier).count()
    table = CustomsDeclaration._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT test_refuse_row CHECK (row_number <> 150) NOT VALID")

    failed = ingest(synthetic / "declarations.csv", organization)

    assert failed.status == DatasetStatus.FAILED
    assert "test_refuse_row" in failed.error
    assert failed.ready_at is None
    assert not CustomsDeclaration.objects.filter(dataset=failed).exists()
    assert not QuarantinedRow.objects.filter(dataset=failed).exists()
    assert not failed.parquet_file
    assert not default_storage.exists(f"datasets/parquet/{organization.pk}/{failed.pk}.parquet")
    assert RegistryCompany.objects.filter(dataset=earlier).count() == earlier_rows
    assert failed.runs.get().status == DatasetStatus.FAILED

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT test_refuse_row")
    services.dataset_retry(dataset=failed, user=None)
    assert Dataset.objects.get(pk=failed.pk).status == DatasetStatus.QUEUED
    retried = services.dataset_run(dataset_id=failed.pk)

    assert retried.status == DatasetStatus.READY
    assert CustomsDeclaration.objects.filter(dataset=retried).count() == ROWS
    assert [run.status for run in retried.runs.order_by("started_at")] == [DatasetStatus.FAILED, DatasetStatus.READY]
    with pytest.raises(DomainError):
        services.dataset_retry(dataset=retried, user=None)


def database_url_of_the_test_database() -> str:
    configured = urlsplit(os.environ.get("DATABASE_URL") or embedded.database_url())
    return urlunsplit(configured._replace(path=f"/{connection.settings_dict['NAME']}"))


@pytest.fixture
def gate() -> Iterator[int]:
    """A PostgreSQL advisory lock held by the test: a trigger makes the loader wait on it in the middle of a COPY."""
    key = 0x7E57_6A7E
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield key
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")


@pytest.mark.django_db(transaction=True)
def test_a_loader_killed_mid_load_loses_nothing_and_the_rerun_completes(
    synthetic: Path, organization: Organization, media: Path, gate: int
) -> None:
    dataset = upload(synthetic / "declarations.csv", organization, RecordKind.CUSTOMS_DECLARATION).dataset
    table = CustomsDeclaration._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_lock({gate}); RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_gate BEFORE INSERT ON {table} FOR EACH ROW "
            f"WHEN (NEW.row_number = 200) EXECUTE FUNCTION test_gate()"
        )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nexus.settings.test",
        "DATABASE_URL": database_url_of_the_test_database(),
        "MEDIA_ROOT": str(media),
    }
    code = (
        "import django; django.setup(); from apps.datasets.services import dataset_run; "
        f"dataset_run(dataset_id={dataset.pk})"
    )
    loader = subprocess.Popen([sys.executable, "-c", code], cwd=BASE_DIR, env=env)
    try:
        backend = _wait_for_gate(loader)
        in_flight = progress_get(dataset.pk)
        assert in_flight is not None
        assert in_flight.status == DatasetStatus.RUNNING
        os.kill(loader.pid, signal.SIGKILL)
        loader.wait(timeout=10)
    finally:
        if loader.poll() is None:
            loader.kill()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [gate])
        cursor.execute(f"DROP TRIGGER test_gate ON {table}")
        cursor.execute("DROP FUNCTION test_gate()")
    _wait_for_backend_exit(backend)

    interrupted = Dataset.objects.get(pk=dataset.pk)
    assert interrupted.status == DatasetStatus.RUNNING
    assert not CustomsDeclaration.objects.filter(dataset=dataset).exists(), "the open transaction died with it"

    rerun = services.dataset_run(dataset_id=dataset.pk)

    assert rerun.status == DatasetStatus.READY, rerun.error
    rows = CustomsDeclaration.objects.filter(dataset=rerun)
    assert rows.count() == ROWS
    assert rows.values("row_number").distinct().count() == ROWS
    runs = list(rerun.runs.order_by("started_at").values_list("status", "error"))
    assert runs[0][0] == DatasetStatus.FAILED
    assert "Interrupted" in runs[0][1]
    assert runs[1] == (DatasetStatus.READY, "")


def _wait_for_gate(loader: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert loader.poll() is None, "the loader ended before reaching the middle of its COPY"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' "
                "AND query LIKE 'COPY%%'"
            )
            row = cursor.fetchone()
        if row:
            return int(row[0])
        time.sleep(0.05)
    pytest.fail("the loader never reached the gate")


def _wait_for_backend_exit(pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() is None:
                return
        time.sleep(0.05)
    pytest.fail("the killed loader's database session did not end")


@pytest.mark.django_db
def test_personal_data_is_never_stored_in_clear(tmp_path: Path, organization: Organization, media: Path) -> None:
    declarations = write_csv(
        tmp_path / "declarations.csv",
        [*DECLARATION_HEADER, "Телефон"],
        [
            [*declaration_row(**{"Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД": CANARY_CODE, "Суб'єкт ЗЕД": CANARY_NAME}), ""],
            [
                *declaration_row(
                    **{
                        "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД": CANARY_CODE,
                        "Суб'єкт ЗЕД": f"ФОП {CANARY_NAME}",
                        "Фактурна вартість": "багато",
                    }
                ),
                CANARY_PHONE,
            ],
        ],
    )
    persons = write_csv(
        tmp_path / "persons.csv",
        ["Номер запису", "Джерело", "ПІБ", "Дата народження", "РНОКПП", "Адреса", "Ролі"],
        [
            ["1", "ЄДР", CANARY_NAME, "07.07.1977", CANARY_CODE, CANARY_ADDRESS, f"ФОП {CANARY_CODE}"],
            [
                "2",
                "ДПС",
                CANARY_NAME,
                "07.07.1977",
                CANARY_CODE[:9] + str((int(CANARY_CODE[9]) + 1) % 10),
                CANARY_ADDRESS,
                "",
            ],
        ],
    )
    companies = write_csv(
        tmp_path / "companies.csv",
        ["Код ЄДРПОУ", "Повне найменування", "Місцезнаходження", "Керівник", "Засновники"],
        [
            [COMPANY_CODE, "ТОВ «Зоря»", "м. Київ", CANARY_NAME, f"{CANARY_NAME} (частка 100%)"],
            [CANARY_CODE, f"ФОП {CANARY_NAME}", CANARY_ADDRESS, "", ""],
        ],
    )
    loaded = [
        ingest(declarations, organization),
        ingest(persons, organization, RecordKind.REGISTRY_PERSON),
        ingest(companies, organization, RecordKind.REGISTRY_COMPANY),
    ]
    assert [dataset.status for dataset in loaded] == [DatasetStatus.READY] * 3
    assert [(dataset.rows_loaded, dataset.rows_quarantined) for dataset in loaded] == [(1, 1), (1, 1), (2, 0)]

    canaries = [CANARY_CODE, "Канарейко", "Пташина", "1977-07-07", "07.07.1977", CANARY_PHONE[1:]]
    with connection.cursor() as cursor:
        for model in [*RECORD_MODELS.values(), QuarantinedRow, Dataset, PIIVaultEntry]:
            cursor.execute(f"SELECT row_to_json(t)::text FROM {model._meta.db_table} t")  # noqa: S608
            stored = "\n".join(row[0] for row in cursor.fetchall())
            for canary in canaries:
                assert canary not in stored, f"{canary} in clear in {model._meta.db_table}"
    for dataset in loaded:
        archive = pq.read_table(default_storage.path(dataset.parquet_file.name)).to_pylist()
        for canary in canaries:
            assert canary not in json.dumps(archive, ensure_ascii=False, default=str)
    assert RegistryPerson.objects.filter(tax_number=pii_token(CANARY_CODE, PIIKind.TAX_NUMBER)).count() == 1
    assert RegistryCompany.objects.get(code=pii_token(CANARY_CODE, PIIKind.TAX_NUMBER)).address.startswith("PII-addr-")
    assert RegistryCompany.objects.get(code=COMPANY_CODE).directors == pii_token(CANARY_NAME, PIIKind.PERSON_NAME)

    # The clear values are kept encrypted for the audited unlock, for this organisation only.
    person = RegistryPerson.objects.get(tax_number=pii_token(CANARY_CODE, PIIKind.TAX_NUMBER))
    tokens = [person.full_name, person.tax_number, person.address]
    assert vault_reveal(organization_id=organization.pk, tokens=tokens) == {
        person.full_name: CANARY_NAME,
        person.tax_number: CANARY_CODE,
        person.address: CANARY_ADDRESS,
    }
    assert vault_reveal(organization_id=OrganizationFactory().pk, tokens=tokens) == {}


@pytest.mark.django_db(transaction=True)
def test_post_load_hooks_run_after_the_commit_and_not_after_a_failure(
    synthetic: Path, organization: Organization, media: Path
) -> None:
    seen: list[tuple[int, str, int]] = []

    def observe(dataset_id: int) -> None:
        # A separate connection sees only what is committed.
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT status FROM datasets_dataset WHERE id = %s", [dataset_id])
                status = cursor.fetchone()[0]
                cursor.execute("SELECT count(*) FROM datasets_taxinvoice WHERE dataset_id = %s", [dataset_id])
                seen.append((dataset_id, status, cursor.fetchone()[0]))
        finally:
            other.close()

    def broken(dataset_id: int) -> None:
        raise RuntimeError("index unavailable")

    hooks.register_post_load("test.broken", broken)
    hooks.register_post_load("test.observe", observe)
    try:
        dataset = ingest(synthetic / "tax_invoices.csv", organization, RecordKind.TAX_INVOICE)
        failed = ingest(
            write_csv(synthetic.parent / "empty.csv", ["Номер ПН"], []), organization, RecordKind.TAX_INVOICE
        )
    finally:
        hooks.unregister_post_load("test.broken")
        hooks.unregister_post_load("test.observe")

    assert failed.status != DatasetStatus.READY
    assert seen == [(dataset.pk, DatasetStatus.READY, dataset.rows_loaded)]
    dataset.refresh_from_db()
    assert dataset.stage == "done"
    # Once loaded, the upload (personal data in clear) is deleted; a failed one is kept for its retry.
    assert not dataset.file
    uploads = {str(path.relative_to(media)) for path in (media / "datasets").glob("20*/*/*")}
    assert uploads == {failed.file.name}
    hooks_report = dataset.runs.get().stats["hooks"]
    assert hooks_report["test.observe"]["ok"] is True
    assert hooks_report["test.broken"] == {
        "ok": False,
        "seconds": hooks_report["test.broken"]["seconds"],
        "error": "RuntimeError: index unavailable",
    }


@pytest.mark.django_db
def test_ingest_command_runs_the_pipeline_and_prints_counts(synthetic: Path, organization: Organization) -> None:
    out = StringIO()

    call_command(
        "ingest",
        str(synthetic / "registry_persons.csv"),
        kind=RecordKind.REGISTRY_PERSON,
        organization=organization.slug,
        wait=True,
        stdout=out,
    )

    dataset = Dataset.objects.get(organization=organization)
    assert dataset.status == DatasetStatus.READY
    assert dataset.source == DatasetSource.COMMAND
    assert f"loaded {dataset.rows_loaded:,}" in out.getvalue()
    assert "timings:" in out.getvalue()
    again = StringIO()
    call_command(
        "ingest",
        str(synthetic / "registry_persons.csv"),
        kind=RecordKind.REGISTRY_PERSON,
        organization=organization.slug,
        stdout=again,
    )
    assert f"already has this file: dataset #{dataset.pk}" in again.getvalue()


@pytest.mark.django_db
def test_records_are_read_only_when_ready_and_only_in_their_organisation(
    tmp_path: Path, organization: Organization, investigator: User, outsider: User
) -> None:
    path = write_csv(tmp_path / "one.csv", DECLARATION_HEADER, [declaration_row()])
    dataset = ingest(path, organization)

    assert selectors.record_list(user=investigator, kind=dataset.kind).count() == 1
    assert selectors.record_list(user=outsider, kind=dataset.kind).count() == 0
    assert selectors.dataset_get(user=investigator, pk=dataset.pk) == dataset
    with pytest.raises(Dataset.DoesNotExist):
        selectors.dataset_get(user=outsider, pk=dataset.pk)
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.RUNNING)
    assert selectors.record_list(user=investigator, kind=dataset.kind).count() == 0


@pytest.mark.django_db
def test_a_telegram_export_loads_with_people_and_phones_masked(tmp_path: Path, organization: Organization) -> None:
    sent = datetime.datetime(2024, 3, 9, 8, 11, 12, tzinfo=datetime.UTC)
    export = {
        "name": "Митні схеми",
        "type": "public_channel",
        "id": 1001,
        "messages": [
            {
                "id": 7,
                "type": "message",
                "date": "2024-03-09T10:11:12",
                "date_unixtime": str(int(sent.timestamp())),
                "from": CANARY_NAME,
                "text": [
                    "Дзвоніть ",
                    {"type": "phone", "text": "+380 97 707 07 07"},
                    f" щодо ТОВ код {COMPANY_CODE}, ФОП {CANARY_CODE}, товар 0901210000",
                ],
            },
            {"id": 8, "type": "service", "date": "2024-03-09T10:12:00", "action": "pin_message"},
            {
                "id": 9,
                "type": "message",
                "date": "2024-03-09T10:13:00",
                "date_unixtime": str(int(sent.timestamp()) + 48),
                "from": "Митні схеми",
                "forwarded_from": CANARY_NAME,
                "text": "https://t.me/customs_ua/5",
            },
        ],
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")

    dataset = ingest(path, organization, RecordKind.TELEGRAM_MESSAGE)

    assert dataset.status == DatasetStatus.READY, dataset.error
    assert (dataset.rows_loaded, dataset.rows_quarantined) == (2, 0)
    first, second = TelegramMessage.objects.filter(dataset=dataset).order_by("message_id")
    assert (first.channel, first.message_id, first.sent_at) == ("Митні схеми", 7, sent)
    assert first.author == pii_token(CANARY_NAME, PIIKind.PERSON_NAME)
    assert first.phones == [pii_token("+380977070707", PIIKind.PHONE)]
    assert first.codes == [COMPANY_CODE]
    assert first.text == (
        f"Дзвоніть {pii_token('+380977070707', PIIKind.PHONE)} щодо ТОВ код {COMPANY_CODE}, "
        f"ФОП {pii_token(CANARY_CODE, PIIKind.TAX_NUMBER)}, товар 0901210000"
    )
    assert second.forwarded_from == pii_token(CANARY_NAME, PIIKind.PERSON_NAME)
    assert second.links == ["https://t.me/customs_ua/5"]


@pytest.mark.django_db
def test_progress_reaches_the_uploaders_socket_while_the_load_transaction_is_open(
    synthetic: Path, organization: Organization, investigator: User
) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(investigator.pk), channel)
    try:
        with (synthetic / "tax_invoices.csv").open("rb") as handle:
            created = services.dataset_create(
                organization=organization,
                user=investigator,
                file=File(handle, name="tax_invoices.csv"),
                name="ПН",
                kind=RecordKind.TAX_INVOICE,
                source=DatasetSource.UPLOAD,
                enqueue=False,
            )
        # The test's own transaction never commits: whatever arrives was sent around the load's transaction.
        dataset = services.dataset_run(dataset_id=created.dataset.pk, user=investigator)
        messages = []
        while True:
            try:
                message = async_to_sync(asyncio.wait_for)(layer.receive(channel), 1)
            except TimeoutError:
                break
            messages.append(message["payloads"]["en"])
    finally:
        async_to_sync(layer.group_discard)(user_group(investigator.pk), channel)

    assert dataset.status == DatasetStatus.READY
    progress = [payload for payload in messages if payload["type"] == "dataset.progress"]
    stages = [(payload["status"], payload["stage"]) for payload in progress]
    assert stages[0] == (DatasetStatus.RUNNING, "detect")
    assert (DatasetStatus.RUNNING, "load") in stages
    assert stages[-1] == (DatasetStatus.READY, "hooks")
    assert progress[-1]["percent"] == 100
    assert progress[-1]["rows_loaded"] == dataset.rows_loaded
    assert progress[-1]["text"] == "ПН: Resolving, indexing and scoring, 100%"
    assert all(payload["dataset_id"] == dataset.pk for payload in progress)
    assert not [payload for payload in messages if payload["type"] == "dataset.ready"], "sent only on commit"


@pytest.mark.django_db
def test_the_celery_task_runs_the_pipeline_and_is_safe_to_run_twice(
    synthetic: Path, organization: Organization, investigator: User
) -> None:
    dataset = upload(synthetic / "registry_companies.csv", organization, RecordKind.REGISTRY_COMPANY).dataset

    dataset_ingest.apply(args=[dataset.pk, investigator.pk])
    dataset_ingest.apply(args=[dataset.pk, investigator.pk])

    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY
    assert RegistryCompany.objects.filter(dataset=dataset).count() == dataset.rows_loaded
    run = dataset.runs.get()
    assert run.started_by == investigator


def zip_bomb(path: Path) -> Path:
    """A valid declarations CSV followed by 64 MB of zeros that deflate to a few hundred kilobytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("declarations.csv", ",".join(DECLARATION_HEADER) + "\n" + ",".join(declaration_row()) + "\n")
        with archive.open("more-declarations.csv", "w") as member:
            for _block in range(64):
                member.write(bytes(1 << 20))
    return path


def truncated_xlsx(path: Path) -> Path:
    whole = workbook_path(path.parent, [DECLARATION_HEADER] + [declaration_row() for _row in range(500)])
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


BAD_FILES = {
    "empty": ("empty.csv", RecordKind.CUSTOMS_DECLARATION, lambda path: write_bytes(path, b""), "empty"),
    "header only": (
        "header.csv",
        RecordKind.CUSTOMS_DECLARATION,
        lambda path: write_csv(path, DECLARATION_HEADER, []),
        "no data rows",
    ),
    "wrong encoding": (
        "latin.csv",
        RecordKind.CUSTOMS_DECLARATION,
        lambda path: write_bytes(path, "Name,Stadt\nMüller,Düsseldorf\nGärtner,Köln\n".encode("cp1252")),
        "UTF-8",
    ),
    "truncated xlsx": ("cut.xlsx", RecordKind.CUSTOMS_DECLARATION, truncated_xlsx, "damaged"),
    "zip bomb": ("bomb.zip", RecordKind.CUSTOMS_DECLARATION, zip_bomb, "more-declarations.csv"),
    "not telegram": (
        "result.json",
        RecordKind.TELEGRAM_MESSAGE,
        lambda path: write_bytes(path, json.dumps({"data": [{"id": 1}]}).encode()),
        "Telegram",
    ),
    "encrypted pdf": (
        "secret.pdf",
        RecordKind.DOCUMENT,
        lambda path: write_bytes(path, encrypted_pdf_bytes(user_password="x")),
        "password",
    ),
}


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_refused_file_fails_with_a_clear_message_and_nothing_stored_is_lost(
    case: str, synthetic: Path, tmp_path: Path, organization: Organization
) -> None:
    earlier = ingest(synthetic / "declarations.csv", organization)
    earlier_rows = sorted(CustomsDeclaration.objects.filter(dataset=earlier).values_list("row_number", flat=True))
    name, kind, make, expected = BAD_FILES[case]

    failed = ingest(make(tmp_path / name), organization, kind)

    assert failed.status == DatasetStatus.FAILED
    assert expected in failed.error
    assert failed.runs.get().error == failed.error
    assert not QuarantinedRow.objects.filter(dataset=failed).exists()
    assert not failed.parquet_file
    assert Dataset.objects.get(pk=earlier.pk).status == DatasetStatus.READY
    assert sorted(CustomsDeclaration.objects.filter(dataset=earlier).values_list("row_number", flat=True)) == (
        earlier_rows
    )
    assert len(earlier_rows) == ROWS


@pytest.mark.django_db
def test_deleting_a_dataset_or_its_organisation_deletes_its_rows(synthetic: Path, organization: Organization) -> None:
    kept = ingest(synthetic / "declarations.csv", OrganizationFactory())
    declarations = ingest(synthetic / "declarations.csv", organization)
    companies = ingest(synthetic / "registry_companies.csv", organization, RecordKind.REGISTRY_COMPANY)

    declarations.delete()
    assert not CustomsDeclaration.objects.filter(dataset_id=declarations.pk).exists()
    assert RegistryCompany.objects.filter(dataset=companies).exists()

    organization.delete()
    assert not RegistryCompany.objects.filter(dataset_id=companies.pk).exists()
    assert CustomsDeclaration.objects.filter(dataset=kept).count() == ROWS
