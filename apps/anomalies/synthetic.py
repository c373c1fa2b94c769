"""Frames straight from a ``generate_customs`` run, for the benchmarks: the same columns the database gives
(``apps.anomalies.frame``), read with pyarrow without loading PostgreSQL first, and the planted schemes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from apps.anomalies.frame import declarations_normalize, registry_normalize
from apps.datasets.synthetic.declarations import HEADER

# The generator's header, column by column, as the loader's field names (the mapping ingestion would apply).
DECLARATION_FIELDS = (
    "declaration_number", "declaration_date", "direction", "customs_office_code", "customs_office",
    "declarant_code", "declarant_name", "trader_code", "trader_name", "counterparty_name", "counterparty_country",
    "origin_country", "departure_country", "goods_code", "goods_description", "quantity", "unit", "net_mass_kg",
    "gross_mass_kg", "invoice_value", "invoice_currency", "customs_value_uah", "duty_uah", "vat_uah", "excise_uah",
    "transport_mode", "incoterms", "fraud_found", "additional_revenue_uah",
)  # fmt: skip
REGISTRY_FIELDS = {
    "Код ЄДРПОУ/РНОКПП": "code",
    "Дата реєстрації": "registration_date",
    "Місцезнаходження": "address",
    "Статутний капітал, грн": "authorized_capital_uah",
    "Керівник": "directors",
}
MIRROR_FIELDS = ("country", "hs6", "month", "partner_usd")


def synthetic_declarations(directory: Path) -> pd.DataFrame:
    if len(HEADER) != len(DECLARATION_FIELDS):
        raise RuntimeError("the generator's declaration header changed; update DECLARATION_FIELDS")
    frame = pd.read_csv(
        directory / "declarations.csv",
        header=0,
        names=list(DECLARATION_FIELDS),
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        engine="pyarrow",
    )
    frame["declaration_date"] = pd.to_datetime(frame["declaration_date"], format="%d.%m.%Y")
    frame["direction"] = np.where(frame["direction"] == "ЕК", "export", "import")
    frame["fraud_found"] = frame["fraud_found"].map({"так": 1.0, "ні": 0.0})
    frame.insert(0, "id", np.arange(1, len(frame) + 1, dtype=np.int64))
    frame["dataset_id"] = 0
    return declarations_normalize(frame)


def synthetic_registry(directory: Path) -> pd.DataFrame:
    frame = pd.read_csv(
        directory / "registry_companies.csv", usecols=list(REGISTRY_FIELDS), dtype=str, keep_default_na=False
    )
    frame = frame.rename(columns=REGISTRY_FIELDS)
    frame["registration_date"] = pd.to_datetime(frame["registration_date"], format="%d.%m.%Y", errors="coerce")
    return registry_normalize(frame)


def synthetic_mirror(directory: Path) -> pd.DataFrame:
    frame = pd.read_csv(directory / "mirror_statistics.csv", header=0, names=list(MIRROR_FIELDS), dtype=str)
    frame["partner_usd"] = frame["partner_usd"].astype(float)
    return frame


def synthetic_schemes(directory: Path, declaration_numbers: pd.Series) -> pd.Series:
    """The planted scheme of every declaration (empty string for none), aligned with the frame."""
    truth = pd.read_csv(
        directory / "ground_truth" / "declaration_schemes.csv", usecols=["declaration_number", "scheme"], dtype=str
    )
    mapping = truth.drop_duplicates("declaration_number").set_index("declaration_number")["scheme"]
    return declaration_numbers.map(mapping).fillna("").astype(str)
