"""`manage.py demo_data`, which `make run` calls: the demo organisation gets the generator's files, loaded once."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import Organization
from apps.datasets.models import RECORD_MODELS, Dataset, DatasetStatus, RecordKind
from apps.datasets.synthetic.config import GeneratorConfig
from apps.datasets.synthetic.generator import generate

ROWS = 400


@pytest.fixture(autouse=True)
def media(settings: SettingsWrapper, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_demo_data_loads_every_generated_file_into_the_demo_organisation_once(tmp_path: Path) -> None:
    call_command("demo_load", stdout=StringIO())
    expected = generate(GeneratorConfig(rows=ROWS, seed=1), tmp_path / "expected").files

    call_command("demo_data", rows=ROWS, stdout=StringIO())

    organization = Organization.objects.get(slug="demo-customs")
    datasets = {dataset.kind: dataset for dataset in Dataset.objects.filter(organization=organization)}
    assert set(datasets) == {
        RecordKind.REGISTRY_COMPANY,
        RecordKind.REGISTRY_PERSON,
        RecordKind.CUSTOMS_DECLARATION,
        RecordKind.TAX_INVOICE,
    }
    files = {
        RecordKind.REGISTRY_COMPANY: "registry_companies.csv",
        RecordKind.REGISTRY_PERSON: "registry_persons.csv",
        RecordKind.CUSTOMS_DECLARATION: "declarations.csv",
        RecordKind.TAX_INVOICE: "tax_invoices.csv",
    }
    for kind, dataset in datasets.items():
        assert dataset.status == DatasetStatus.READY
        assert dataset.created_by is not None
        assert dataset.created_by.username == "investigator"
        assert dataset.rows_total == expected[files[kind]].rows
        assert RECORD_MODELS[kind].objects.filter(dataset=dataset).count() == dataset.rows_loaded > 0

    output = StringIO()
    call_command("demo_data", rows=ROWS, stdout=output)
    assert Dataset.objects.filter(organization=organization).count() == 4
    assert output.getvalue().count("already loaded") == 4


@pytest.mark.django_db
def test_demo_data_needs_the_demo_organisation() -> None:
    with pytest.raises(CommandError, match="demo_load"):
        call_command("demo_data", rows=ROWS, stdout=StringIO())
