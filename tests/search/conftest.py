"""A small corpus of an organisation's records and entities, as the loader and the resolver leave them.

Personal values are masking tokens, as in the real tables: the sole trader's name and РНОКПП, a phone in a
message. The clear values are kept here only so tests can prove they find nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from apps.accounts.models import Organization
from apps.datasets.models import (
    CustomsDeclaration,
    Dataset,
    DatasetSource,
    DatasetStatus,
    Document,
    RecordKind,
    TaxInvoice,
    TelegramMessage,
)
from apps.entities.models import Entity, EntityIdentifier, EntityKind, EntityName, IdentifierScheme
from apps.entities.normalize import company_key
from apps.entities.resolution import names_upsert
from apps.privacy.masking import PIIKind, pii_token
from apps.search.engines.postgres import postgres_index_dataset

SOLE_TRADER_NAME = "Петренко Олена Василівна"
SOLE_TRADER_RNOKPP = "3012345672"
PHONE = "+380671234567"


def dataset_of(organization: Organization, kind: str, name: str, status: str = DatasetStatus.READY) -> Dataset:
    number = Dataset.objects.count() + 1
    return Dataset.objects.create(
        organization=organization,
        name=name,
        kind=kind,
        source=DatasetSource.UPLOAD,
        original_filename=f"{number}.csv",
        size_bytes=100,
        sha256=f"{number:064d}",
        status=status,
        ready_at=datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC) if status == DatasetStatus.READY else None,
    )


def declaration(dataset: Dataset, number: str, **values: object) -> CustomsDeclaration:
    defaults: dict[str, object] = {
        "declaration_date": datetime.date(2024, 3, 1),
        "direction": CustomsDeclaration.Direction.IMPORT,
        "trader_code": "",
        "goods_code": "",
    }
    defaults.update(values)
    return CustomsDeclaration.objects.create(
        organization_id=dataset.organization_id,
        dataset=dataset,
        row_number=CustomsDeclaration.objects.count() + 1,
        declaration_number=number,
        **defaults,
    )


def company(organization: Organization, name: str, code: str = "", country: str = "UA") -> Entity:
    entity = Entity.objects.create(
        organization=organization, kind=EntityKind.COMPANY, name=name, country=country, mention_count=3
    )
    with transaction.atomic():  # as the resolver writes names: its temporary table lives until the commit
        names_upsert(organization.pk, [(entity.pk, name, company_key(name), [], country, 3)])
    if code:
        EntityIdentifier.objects.create(
            organization=organization, entity=entity, scheme=IdentifierScheme.EDRPOU, value=code
        )
    return entity


@dataclass
class Corpus:
    organization: Organization
    declarations: Dataset
    zoria: CustomsDeclaration
    grain: CustomsDeclaration
    laptops: CustomsDeclaration
    shoes: CustomsDeclaration
    invoice: TaxInvoice
    message: TelegramMessage
    document: Document
    zoria_entity: Entity
    agro_entity: Entity
    person: Entity


@pytest.fixture
def corpus(organization: Organization) -> Corpus:
    declarations = dataset_of(organization, RecordKind.CUSTOMS_DECLARATION, "Декларації 2024")
    zoria = declaration(
        declarations,
        "UA500500/2024/000123",
        trader_code="00123456",
        trader_name="ТОВ «Зоря-Схід»",
        counterparty_name="Ningbo Hengda Trading Co., Ltd.",
        counterparty_country="CN",
        goods_code="0303101100",
        goods_description="Риба морожена: філе хека без шкіри, у брикетах",
        customs_office="Одеська митниця",
        customs_office_code="UA500000",
        customs_value_uah=Decimal("120000.00"),
    )
    grain = declaration(
        declarations,
        "UA110110/2024/000456",
        declaration_date=datetime.date(2024, 1, 15),
        direction=CustomsDeclaration.Direction.EXPORT,
        trader_code="34567890",
        trader_name="ПП «Дніпро-Агро»",
        counterparty_name="Agro Export Sp. z o.o.",
        counterparty_country="PL",
        goods_code="1001990000",
        goods_description="Пшениця м'яка третього класу, насипом",
        customs_office="Дніпровська митниця",
        customs_office_code="UA110000",
    )
    laptops = declaration(
        declarations,
        "UA100100/2024/000789",
        declaration_date=datetime.date(2024, 2, 10),
        trader_code="23456789",
        trader_name="ТОВ «Зірка»",
        counterparty_name="Shenzhen Bright Tech Ltd",
        counterparty_country="CN",
        goods_code="8471300000",
        goods_description="Ноутбуки портативні, комп'ютери для обробки даних",
        customs_office="Київська митниця",
        customs_office_code="UA100000",
    )
    shoes = declaration(
        declarations,
        "UA100100/2024/000790",
        trader_code=pii_token(SOLE_TRADER_RNOKPP, PIIKind.TAX_NUMBER),
        trader_name=pii_token(SOLE_TRADER_NAME, PIIKind.PERSON_NAME),
        counterparty_name="Istanbul Deri Ltd. Şti.",
        counterparty_country="TR",
        goods_code="6403990000",
        goods_description="Взуття шкіряне чоловіче",
        customs_office="Київська митниця",
        customs_office_code="UA100000",
    )
    invoices = dataset_of(organization, RecordKind.TAX_INVOICE, "ПДВ-накладні")
    invoice = TaxInvoice.objects.create(
        organization=organization,
        dataset=invoices,
        row_number=1,
        invoice_number="1045",
        invoice_date=datetime.date(2024, 3, 5),
        seller_code="00123456",
        seller_name="ТОВ «Зоря-Схід»",
        buyer_code="40000001",
        buyer_name="ТОВ «Рибний світ»",
        goods_code="0304",
        goods_description="Філе хека морожене",
        amount_uah=Decimal("50000.00"),
    )
    messages = dataset_of(organization, RecordKind.TELEGRAM_MESSAGE, "Канал «Митні новини»")
    message = TelegramMessage.objects.create(
        organization=organization,
        dataset=messages,
        row_number=1,
        channel="mytni_novyny",
        message_id=77,
        sent_at=datetime.datetime(2024, 3, 2, 10, 0, tzinfo=datetime.UTC),
        text=(
            "Обговорюємо поставки замороженої риби через Одеську митницю, контакт " + pii_token(PHONE, PIIKind.PHONE)
        ),
        phones=[pii_token(PHONE, PIIKind.PHONE)],
    )
    documents = dataset_of(organization, RecordKind.DOCUMENT, "Контракти")
    document = Document.objects.create(
        organization=organization,
        dataset=documents,
        row_number=1,
        filename="contract-ningbo.pdf",
        sha256="a" * 64,
        page_count=3,
        text="Контракт на постачання мороженої риби та морепродуктів між Ningbo Hengda і ТОВ «Зоря-Схід».",
    )
    zoria_entity = company(organization, "ТОВ «Зоря-Схід»", code="00123456")
    agro_entity = company(organization, "ПП «Дніпро-Агро»", code="34567890")
    person = Entity.objects.create(
        organization=organization,
        kind=EntityKind.PERSON,
        name=pii_token(SOLE_TRADER_NAME, PIIKind.PERSON_NAME),
        is_pii=True,
    )
    EntityName.objects.create(organization=organization, entity=person, name=person.name, match_key="")
    EntityIdentifier.objects.create(
        organization=organization,
        entity=person,
        scheme=IdentifierScheme.RNOKPP,
        value=pii_token(SOLE_TRADER_RNOKPP, PIIKind.TAX_NUMBER),
    )
    for dataset in (declarations, invoices, messages, documents):
        postgres_index_dataset(dataset_id=dataset.pk)
    return Corpus(
        organization=organization,
        declarations=declarations,
        zoria=zoria,
        grain=grain,
        laptops=laptops,
        shoes=shoes,
        invoice=invoice,
        message=message,
        document=document,
        zoria_entity=zoria_entity,
        agro_entity=agro_entity,
        person=person,
    )


@pytest.fixture
def qdrant_path(tmp_path: Path) -> Iterator[Path]:
    """An embedded Qdrant store of the test's own."""
    path = tmp_path / "qdrant"
    with override_settings(QDRANT_PATH=str(path), QDRANT_URL=""):
        yield path
