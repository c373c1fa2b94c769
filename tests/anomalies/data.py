"""Crafted declarations with one planted case of each scheme, as a frame (for the detectors) or as database rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apps.accounts.models import Organization
from apps.anomalies.frame import declarations_normalize, registry_normalize
from apps.datasets.models import CustomsDeclaration, Dataset, DatasetStatus, RecordKind, RegistryCompany

START = datetime.date(2024, 1, 1)
GOODS = {
    # code: (descriptions, typical UAH per kg, duty rate)
    "2208601100": (["Горілка 40% об., пляшки 0,5 л", "Горілка пшенична 0,7 л", "Водка 40% в бутылках"], 400.0, 0.1),
    "2209001100": (["Оцет столовий 9%", "Оцет винний у пляшках", "Уксус столовый"], 40.0, 0.05),
    "6110209100": (["Светри трикотажні бавовняні", "Джемпери жіночі трикотажні", "Свитера хлопковые"], 900.0, 0.12),
    "0803901000": (["Банани свіжі", "Банани свіжі, калібр 5-7", "Бананы свежие"], 35.0, 0.0),
}
SHELL = "45000001"
SPLITTER = "3184710691"


@dataclass
class Planted:
    under_invoiced: str
    misclassified: str
    split: list[str]
    shell: str = SHELL


def crafted_rows(seed: int = 1, honest: int = 640) -> tuple[list[dict[str, Any]], Planted]:
    rng = np.random.default_rng(seed)
    codes = list(GOODS)
    rows: list[dict[str, Any]] = []
    for index in range(honest):
        code = codes[index % len(codes)]
        descriptions, price, duty = GOODS[code]
        mass = float(rng.lognormal(np.log(800), 0.4))
        value = mass * price * float(rng.lognormal(0, 0.1))
        outcome = None if index % 3 else (rng.random() < 0.03)
        rows.append(
            {
                "declaration_number": f"UA100010/2024/{index:06d}",
                "declaration_date": START + datetime.timedelta(days=int(index * 180 / honest)),
                "direction": "import",
                "customs_office_code": "UA100010" if index % 2 else "UA209170",
                "declarant_code": f"4{index % 5:07d}",
                "trader_code": f"3{index % 40:07d}",
                "counterparty_country": "PL" if index % 2 else "CN",
                "origin_country": "PL" if index % 2 else "CN",
                "goods_code": code,
                "goods_description": descriptions[index % len(descriptions)],
                "quantity": round(mass, 3),
                "unit": "кг",
                "net_mass_kg": round(mass, 3),
                "invoice_value": round(value / 45, 2),
                "invoice_currency": "EUR",
                "customs_value_uah": round(value, 2),
                "duty_uah": round(value * duty, 2),
                "vat_uah": round(value * 0.2, 2),
                "excise_uah": 0.0,
                "transport_mode": "автомобільний",
                "fraud_found": outcome,
                "additional_revenue_uah": None if outcome is None else (round(value * 0.05, 2) if outcome else 0.0),
            }
        )
    base = rows[6]  # honest sweaters from CN
    under = {**base, "declaration_number": "UA100010/2024/900001", "trader_code": "39999999"}
    under["customs_value_uah"] = round(base["net_mass_kg"] * 900.0 * 0.2, 2)
    under["invoice_value"] = round(under["customs_value_uah"] / 45, 2)
    misclassified = {
        **rows[1],
        "declaration_number": "UA100010/2024/900002",
        "goods_description": "Горілка 40% об., пляшки 0,5 л",
        "goods_code": "2209001100",
        "customs_value_uah": round(rows[1]["net_mass_kg"] * 40.0, 2),
    }
    split_day = START + datetime.timedelta(days=40)
    split = []
    for part in range(4):
        split.append(
            {
                **base,
                "declaration_number": f"UA100010/2024/90001{part}",
                "declaration_date": split_day,
                "trader_code": SPLITTER,
                "customs_office_code": "UA100010",
                "counterparty_country": "CN",
                "origin_country": "CN",
                "net_mass_kg": 0.4,
                "quantity": 0.4,
                "invoice_value": 140.0 - part,
                "invoice_currency": "EUR",
                "customs_value_uah": (140.0 - part) * 45,
                "duty_uah": 0.0,
                "vat_uah": 0.0,
                "transport_mode": "поштове відправлення",
            }
        )
    shell_rows = []
    for part in range(30):
        shell_rows.append(
            {
                **rows[3],
                "declaration_number": f"UA100010/2024/9002{part:02d}",
                "declaration_date": START + datetime.timedelta(days=120 + part),
                "trader_code": SHELL,
            }
        )
    return [*rows, under, misclassified, *split, *shell_rows], Planted(
        under_invoiced="UA100010/2024/900001",
        misclassified="UA100010/2024/900002",
        split=[row["declaration_number"] for row in split],
    )


def crafted_frame(seed: int = 1) -> tuple[pd.DataFrame, Planted]:
    rows, planted = crafted_rows(seed)
    frame = pd.DataFrame(rows)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["dataset_id"] = 1
    return declarations_normalize(frame), planted


REGISTRY = [
    # code, registered, address, director, capital
    (
        SHELL,
        START + datetime.timedelta(days=90),
        "01001, м. Київ, вул. Хрещатик, буд. 1, офіс 7",
        "Особа-номінал",
        1000,
    ),
    *[
        (f"4500010{n}", START, f"01001, м. Київ, вул. Хрещатик, буд. 1, офіс {10 + n}", "Особа-номінал", 1000)
        for n in range(6)
    ],
    *[
        (f"3{n:07d}", datetime.date(2010, 1, 1), f"79000, м. Львів, вул. Городоцька, буд. {n}", f"Директор {n}", 500000)
        for n in range(40)
    ],
]


def crafted_registry() -> pd.DataFrame:
    frame = pd.DataFrame(
        REGISTRY, columns=["code", "registration_date", "address", "directors", "authorized_capital_uah"]
    )
    return registry_normalize(frame)


def dataset_of(
    organization: Organization, kind: str = RecordKind.CUSTOMS_DECLARATION, name: str = "декларації"
) -> Dataset:
    return Dataset.objects.create(
        organization=organization,
        name=name,
        kind=kind,
        source="command",
        original_filename=f"{name}.csv",
        size_bytes=1,
        sha256=f"{organization.pk}-{name}".ljust(64, "0")[:64],
        status=DatasetStatus.READY,
    )


def load_declarations(organization: Organization, rows: list[dict[str, Any]], name: str = "декларації") -> Dataset:
    dataset = dataset_of(organization, name=name)
    CustomsDeclaration.objects.bulk_create(
        [
            CustomsDeclaration(organization=organization, dataset=dataset, row_number=index + 1, **row)
            for index, row in enumerate(rows)
        ]
    )
    return dataset


def load_registry(organization: Organization) -> Dataset:
    dataset = dataset_of(organization, kind=RecordKind.REGISTRY_COMPANY, name="реєстр")
    RegistryCompany.objects.bulk_create(
        [
            RegistryCompany(
                organization=organization,
                dataset=dataset,
                row_number=index + 1,
                code=code,
                name=f"ТОВ «Компанія {code}»",
                registration_date=registered,
                address=address,
                directors=director,
                authorized_capital_uah=capital,
            )
            for index, (code, registered, address, director, capital) in enumerate(REGISTRY)
        ]
    )
    return dataset
