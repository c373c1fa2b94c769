"""Resolution quality against the synthetic generator's ground truth (``docs/synthetic-data.md``).

Every party the ground truth names is one *item* with its true entity: each distinct spelling of a party in the
declarations and invoices (``entity_mentions.csv``), each register person and each company, director, founder and
owner of a register extract (``record_entities.csv``). The item's predicted entity is the one its mentions were
resolved to. Precision, recall and F1 are pairwise: over all pairs of items, a pair is predicted together when
both items went to one entity and truly together when the ground truth says so. The ground truth is read in
clear and masked with the same pepper, exactly as ingestion masked the records.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

from apps.privacy.masking import PIIKind, pii_token

_SOURCES = {
    ("declarations", "trader"): ("customs_declaration", "datasets_customsdeclaration", "trader_code"),
    ("declarations", "declarant"): ("customs_declaration", "datasets_customsdeclaration", "declarant_code"),
    ("declarations", "counterparty"): ("customs_declaration", "datasets_customsdeclaration", "counterparty_country"),
    ("tax_invoices", "seller"): ("tax_invoice", "datasets_taxinvoice", "seller_code"),
    ("tax_invoices", "buyer"): ("tax_invoice", "datasets_taxinvoice", "buyer_code"),
}


@dataclass(frozen=True)
class Metrics:
    items: int
    entities_true: int
    entities_predicted: int
    precision: float
    recall: float
    f1: float


def pairwise(truth: list[str], predicted: list[str]) -> Metrics:
    """Pairwise precision, recall and F1 of a clustering, from the contingency counts (no pair enumeration)."""

    def pairs(counts: Iterable[int]) -> int:
        return sum(count * (count - 1) // 2 for count in counts)

    together = pairs(Counter(zip(truth, predicted, strict=True)).values())
    true_pairs = pairs(Counter(truth).values())
    predicted_pairs = pairs(Counter(predicted).values())
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(len(truth), len(set(truth)), len(set(predicted)), precision, recall, f1)


def _masked_code(code: str) -> str:
    return pii_token(code, PIIKind.TAX_NUMBER) if len(code) == 10 else code


def _query(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _predicted_parties(organization_id: int) -> dict[tuple[str, str, str, str], str]:
    """(source, role, code or country, name as stored) → the entity most of its mentions resolved to."""
    predicted: dict[tuple[str, str, str, str], str] = {}
    for (source, role), (record_kind, table, column) in _SOURCES.items():
        votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for key, name, entity_id, count in _query(
            f"SELECT r.{column}, m.name, m.entity_id, count(*) FROM entities_entitymention m "  # noqa: S608 - fixed names
            f"JOIN {table} r ON r.id = m.record_id "
            "WHERE m.organization_id = %s AND m.record_kind = %s AND m.role = %s GROUP BY 1, 2, 3",
            [organization_id, record_kind, role],
        ):
            votes[(str(key), str(name))][str(entity_id)] += int(str(count))
        for (key, name), counter in votes.items():
            predicted[(source, role, key, name)] = counter.most_common(1)[0][0]
    return predicted


def evaluate(*, organization_id: int, ground_truth: Path) -> dict[str, Metrics]:
    """Metrics overall and per group of items (companies with a code, foreign partners, people)."""
    items: list[tuple[str, str, str]] = []  # (group, true entity, predicted entity)
    predicted = _predicted_parties(organization_id)
    with (ground_truth / "entity_mentions.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            role = row["role"]
            personal = len(row["code"]) == 10
            name = pii_token(row["name"], PIIKind.PERSON_NAME) if personal else row["name"]
            key = row["country"] if role == "counterparty" else _masked_code(row["code"])
            group = "foreign partners" if role == "counterparty" else ("sole traders" if personal else "companies")
            entity = predicted.get((row["source"], role, key, name), f"missing:{len(items)}")
            items.append((group, row["entity_id"], entity))
    people = {
        str(number): str(entity_id)
        for number, entity_id in _query(
            "SELECT p.record_number, m.entity_id FROM entities_entitymention m "
            "JOIN datasets_registryperson p ON p.id = m.record_id "
            "WHERE m.organization_id = %s AND m.record_kind = 'registry_person'",
            [organization_id],
        )
    }
    register: dict[tuple[str, str, int], str] = {}
    positions: Counter[tuple[str, str]] = Counter()
    for code, role, entity_id in _query(
        "SELECT c.code, m.role, m.entity_id FROM entities_entitymention m "
        "JOIN datasets_registrycompany c ON c.id = m.record_id "
        "WHERE m.organization_id = %s AND m.record_kind = 'registry_company' ORDER BY m.id",
        [organization_id],
    ):
        positions[(str(code), str(role))] += 1
        register[(_masked_code(str(code)), str(role), positions[(str(code), str(role))])] = str(entity_id)
    with (ground_truth / "record_entities.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            missing = f"missing:{len(items)}"
            if row["source"] == "registry_persons":
                items.append(("people", row["entity_id"], people.get(row["record_key"], missing)))
            else:
                key = (_masked_code(row["record_key"]), row["role"], int(row["position"]))
                group = "people" if row["entity_id"].startswith("P") else "companies"
                items.append((group, row["entity_id"], register.get(key, missing)))
    results = {"all": pairwise([truth for _, truth, _ in items], [guess for _, _, guess in items])}
    for group in sorted({group for group, _, _ in items}):
        chosen = [(truth, guess) for name, truth, guess in items if name == group]
        results[group] = pairwise([truth for truth, _ in chosen], [guess for _, guess in chosen])
    return results
