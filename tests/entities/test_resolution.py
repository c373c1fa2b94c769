"""Entity resolution through the real pipeline: files loaded, the post-load hook resolving them into entities."""

from __future__ import annotations

from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.test import TestCase
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.accounts.models import Organization, User
from apps.core.errors import DomainError
from apps.datasets.models import Dataset, RecordKind
from apps.entities import normalize, services
from apps.entities.models import (
    Entity,
    EntityKind,
    EntityMention,
    EntityMerge,
    EntityName,
    EntityNameWord,
    MatchCandidate,
    Relationship,
    RelationshipKind,
)
from apps.entities.quality import pairwise
from apps.entities.resolution import entities_refresh, resolve_dataset
from tests.datasets.test_pipeline import ingest as load_file
from tests.datasets.test_pipeline import write_csv

DECLARATION_HEADER = [
    "Номер декларації", "Дата оформлення", "Напрямок", "Код митного органу", "Код декларанта", "Декларант",
    "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД", "Суб'єкт ЗЕД", "Іноземний контрагент", "Країна контрагента",
    "Код товару УКТЗЕД", "Опис товару", "Маса нетто, кг", "Фактурна вартість", "Валюта", "Митна вартість, грн",
]  # fmt: skip
REGISTER_HEADER = [
    "Код ЄДРПОУ/РНОКПП", "Повне найменування", "Скорочене найменування", "Місцезнаходження", "Керівник",
    "Засновники", "Кінцеві бенефіціарні власники",
]  # fmt: skip
PERSONS_HEADER = ["Номер запису", "Джерело", "ПІБ", "Дата народження", "РНОКПП", "Адреса", "Ролі"]


@pytest.fixture(autouse=True)
def media(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def ingest(path: Path, organization: Organization, kind: str = RecordKind.CUSTOMS_DECLARATION) -> Dataset:
    """Load a file and run the post-load hooks as the commit would (the test transaction never commits)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        dataset = load_file(path, organization, kind)
    dataset.refresh_from_db()
    assert dataset.status == "ready", dataset.error
    assert dataset.rows_quarantined == 0, dataset.validation_report
    return dataset


def declaration(number: int, trader_code: str, trader: str, partner: str, country: str = "CN") -> list[str]:
    return [
        f"UA209170/2024/{number:06d}", "12.03.2024", "ІМ", "UA209170", "37026862", "ТОВ «Митний брокер»",
        trader_code, trader, partner, country, "8471300000", "ноутбуки", "120", "1000", "USD", "41000",
    ]  # fmt: skip


def root(entity_id: int) -> Entity:
    entity = Entity.objects.get(pk=entity_id)
    while entity.merged_into_id is not None:
        entity = Entity.objects.get(pk=entity.merged_into_id)
    return entity


def entity_of(dataset: Dataset, role: str) -> set[int]:
    return set(EntityMention.objects.filter(dataset=dataset, role=role).values_list("entity_id", flat=True))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ('Приватне підприємство "Зоря-Схід"', "PP Zoria-Skhid"),
        ("ТОВ «Зоря-Схід»", "Zoria-Skhid LLC"),
        ('ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ "ЗОРЯ-СХІД"', "ООО «Зоря-Схид»"),
        ("Зоря-Схід, ТОВ", "Зоря-Схід"),
        ("Ningbo Hengda Trading Co., Ltd.", "Нінгбо Хенгда Традінг Ко., Лтд."),
        ("Ningbo Hengda Trading Co., Ltd.", "NINGBO HENGDA TRADING COMPANY LIMITED"),
        ("Polimex Sp. z o.o.", "Polimex Spółka z ograniczoną odpowiedzialnością"),
        ("Müller GmbH & Co. KG", "Muller GmbH und Co. KG"),
    ],
)
def test_spellings_of_one_company_share_a_key(left: str, right: str) -> None:
    assert normalize.company_key(left) == normalize.company_key(right)


def test_different_companies_keep_different_keys() -> None:
    assert normalize.company_key("Агро 2000 ТОВ") != normalize.company_key("Агро 20 ТОВ")
    assert normalize.company_key("ТОВ «Зоря-Схід»") != normalize.company_key("ТОВ «Зоря-Захід»")
    assert normalize.company_key("Ningbo Hengda Trading Co., Ltd.") != normalize.company_key("Ningbo Hengxin Trading")


@pytest.mark.parametrize(
    "spelling",
    [
        "ІВАНЕНКО ПЕТРО МИКОЛАЙОВИЧ",
        "Петро Миколайович Іваненко",
        "Иваненко Петр Николаевич",
        "Ivanenko Petro Mykolaiovych",
    ],
)
def test_a_persons_spellings_parse_to_the_same_parts(spelling: str) -> None:
    assert normalize.person_name(spelling) == normalize.person_name("Іваненко Петро Миколайович")


def test_initials_are_kept_as_initials_and_agree_with_the_full_name() -> None:
    short = normalize.person_name("Іваненко П.М.")
    full = normalize.person_name("Іваненко Петро Миколайович")
    assert (short.surname, short.given, short.patronymic) == ("ivanenko", "p", "m")
    parts = normalize.person_similarity(short, full)
    assert parts == {"surname": 1.0, "given_name": 0.8, "patronymic": 0.8}
    assert normalize.person_similarity(full, normalize.person_name("Іваненко Олег Миколайович"))["given_name"] == -1


def test_pairwise_metrics_count_pairs() -> None:
    metrics = pairwise(["a", "a", "a", "b"], ["x", "x", "y", "y"])
    assert (metrics.precision, metrics.recall) == (0.5, 1 / 3)


def test_declarations_resolve_on_codes_and_foreign_names(tmp_path: Path, organization: Organization) -> None:
    path = write_csv(
        tmp_path / "declarations.csv",
        DECLARATION_HEADER,
        [
            declaration(1, "41234569", "ТОВ «Зоря-Схід»", "Ningbo Hengda Trading Co., Ltd."),
            declaration(2, "41234569", "Zoria-Skhid LLC", "Нінгбо Хенгда Традінг Ко., Лтд."),
            declaration(3, "41234569", "ООО «Зоря-Схид»", "Ningbo Hengda Tradng Co., Ltd."),
            declaration(4, "39876548", "ПП «Дніпро-Агро»", "Polimex Sp. z o.o.", "PL"),
            declaration(5, "39876548", "ПП «Дніпро-Агро»", "Ningbo Hengda Trading Co., Ltd.", "PL"),
        ],
    )
    dataset = ingest(path, organization)
    assert dataset.runs.get().stats["hooks"]["entities.resolve"]["ok"]
    traders = entity_of(dataset, "trader")
    partners = entity_of(dataset, "counterparty")
    assert len(traders) == 2
    # The same Chinese supplier in three spellings (one with a typo) is one entity; the same name in Poland is not.
    assert len(partners) == 3
    chinese = EntityMention.objects.filter(
        dataset=dataset, role="counterparty", record_id__in=dataset_records(dataset, 3)
    )
    assert len({mention.entity_id for mention in chinese}) == 1
    zoria = Entity.objects.get(identifiers__value="41234569")
    assert zoria.kind == EntityKind.COMPANY
    assert zoria.mention_count == 3
    broker = Entity.objects.get(identifiers__value="37026862")
    assert broker.kind == EntityKind.BROKER
    trades = Relationship.objects.get(source=zoria, kind=RelationshipKind.TRADES_WITH)
    assert trades.record_count == 3
    assert trades.target_id in partners
    assert Relationship.objects.filter(source=broker, target=zoria, kind=RelationshipKind.BROKERED_FOR).exists()


def dataset_records(dataset: Dataset, count: int) -> list[int]:
    ids = EntityMention.objects.filter(dataset=dataset, role="trader").order_by("record_id")
    return list(ids.values_list("record_id", flat=True)[:count])


def test_resolving_twice_changes_nothing(tmp_path: Path, organization: Organization) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        DECLARATION_HEADER,
        [declaration(1, "41234569", "ТОВ «Зоря-Схід»", "Acme Ltd", "GB"), declaration(2, "41234569", "x", "Acme")],
    )
    dataset = ingest(path, organization)
    before = (Entity.objects.count(), EntityMention.objects.count(), list(Relationship.objects.values_list(
        "kind", "source_id", "target_id", "record_count"
    )))  # fmt: skip
    resolve_dataset(dataset_id=dataset.pk)
    after = (Entity.objects.count(), EntityMention.objects.count(), list(Relationship.objects.values_list(
        "kind", "source_id", "target_id", "record_count"
    )))  # fmt: skip
    assert before == after


def test_register_people_link_to_the_directors_of_the_companies_they_run(
    tmp_path: Path, organization: Organization
) -> None:
    companies = write_csv(
        tmp_path / "companies.csv",
        REGISTER_HEADER,
        [
            [
                "41234569",
                "Товариство з обмеженою відповідальністю «Зоря-Схід»",
                "ТОВ «Зоря-Схід»",
                "01033, м. Київ, вул. Саксаганського, буд. 36, офіс 2",
                "Іваненко Петро Миколайович",
                "Іваненко Петро Миколайович (частка 60%); ТОВ «Дніпро» (код 39876548) (частка 40%)",
                "ІВАНЕНКО П.М.",
            ],
            [
                "42345678",
                "Товариство з обмеженою відповідальністю «Схід-Трейд»",
                "ТОВ «Схід-Трейд»",
                "01033, м. Київ, вул. Саксаганського, буд. 36, офіс 7",
                "Коваленко Олена Іванівна",
                "",
                "",
            ],
        ],
    )
    persons = write_csv(
        tmp_path / "persons.csv",
        PERSONS_HEADER,
        [
            [
                "1",
                "ЄДР",
                "Іваненко Петро Миколайович",
                "27.07.1968",
                "2139290120",
                "м. Київ, вул. Хрещатик, 1",
                "керівник 41234569; засновник 41234569",
            ],
            ["2", "ДПС", "Иваненко Петр Николаевич", "27.07.1968", "", "г. Киев, ул. Крещатик, д. 1", ""],
            ["3", "ЄДР", "Коваленко Олена Іванівна", "01.02.1980", "", "", "керівник 42345678"],
            ["4", "ЄДР", "Іваненко Петро Миколайович", "03.03.1990", "", "", ""],
        ],
    )
    register = ingest(companies, organization, RecordKind.REGISTRY_COMPANY)
    people = ingest(persons, organization, RecordKind.REGISTRY_PERSON)
    directors = EntityMention.objects.filter(dataset=register, role__in=["director", "founder", "beneficial_owner"])
    ivanenko = {root(m.entity_id).pk for m in directors if m.record_id == directors[0].record_id and m.name}
    person_entities = {m.record_id: root(m.entity_id).pk for m in EntityMention.objects.filter(dataset=people)}
    ordered = [person_entities[pk] for pk in sorted(person_entities)]
    # Director, founder and owner ("ІВАНЕНКО П.М.") of Зоря-Схід, the register person and its Russian copy: one
    # person. The namesake born in 1990 is another. The founding company is a company, not a person.
    assert ordered[0] == ordered[1] != ordered[3]
    assert ordered[0] in ivanenko
    assert Entity.objects.get(pk=ordered[0]).kind == EntityKind.PERSON
    assert Entity.objects.get(pk=ordered[0]).is_pii
    assert Entity.objects.get(pk=ordered[0]).name.startswith("PII-name-")
    assert Relationship.objects.filter(source_id=ordered[0], kind=RelationshipKind.DIRECTOR_OF).count() == 1
    assert Relationship.objects.filter(source_id=ordered[2], kind=RelationshipKind.DIRECTOR_OF).exists()
    founder_company = Entity.objects.get(identifiers__value="39876548")
    assert founder_company.kind == EntityKind.COMPANY
    # Both companies are registered in one building (different offices).
    assert Relationship.objects.filter(kind=RelationshipKind.SHARES_ADDRESS).count() == 1


def test_organisations_never_share_entities(
    tmp_path: Path, organization: Organization, other_organization: Organization
) -> None:
    path = write_csv(tmp_path / "d.csv", DECLARATION_HEADER, [declaration(1, "41234569", "ТОВ «Зоря»", "Acme", "GB")])
    mine = ingest(path, organization)
    path2 = write_csv(tmp_path / "e.csv", DECLARATION_HEADER, [declaration(2, "41234569", "ТОВ «Зоря»", "Acme", "GB")])
    theirs = ingest(path2, other_organization)
    assert entity_of(mine, "trader").isdisjoint(entity_of(theirs, "trader"))
    assert entity_of(mine, "counterparty").isdisjoint(entity_of(theirs, "counterparty"))
    assert Entity.objects.filter(organization=other_organization).count() == 3


def test_merge_moves_records_and_split_restores_them_for_good(
    tmp_path: Path, organization: Organization, investigator: User
) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        DECLARATION_HEADER,
        [
            declaration(1, "41234569", "ТОВ «Зоря»", "Acme Ltd", "GB"),
            declaration(2, "41234569", "x", "Zenith Co", "GB"),
        ],
    )
    dataset = ingest(path, organization)
    acme = Entity.objects.get(names__name="Acme Ltd")
    zenith = Entity.objects.get(names__name="Zenith Co")
    merge = services.entity_merge(survivor=acme, absorbed=zenith, actor=investigator, reason="same group")
    assert set(
        EntityMention.objects.filter(dataset=dataset, role="counterparty").values_list("entity_id", flat=True)
    ) == {acme.pk}
    acme.refresh_from_db()
    assert acme.mention_count == 2
    assert Relationship.objects.get(target=acme, kind=RelationshipKind.TRADES_WITH).record_count == 2
    assert LogEntry.objects.get_for_object(zenith).filter(changes__icontains="merged_into").exists()
    with pytest.raises(DomainError):
        services.entity_merge(survivor=acme, absorbed=zenith, actor=investigator)

    services.entity_split(merge=merge, actor=investigator, reason="different owners")
    zenith.refresh_from_db()
    assert zenith.merged_into_id is None
    assert zenith.mention_count == 1
    assert Relationship.objects.get(target=zenith).record_count == 1
    assert EntityMerge.objects.get(pk=merge.pk).split_by == investigator
    rejected = MatchCandidate.objects.get(left=min(acme, zenith, key=lambda e: e.pk))
    assert rejected.status == MatchCandidate.Status.REJECTED
    with pytest.raises(DomainError):
        services.entity_split(merge=merge, actor=investigator, reason="again")


def test_review_decisions_merge_or_keep_apart_and_are_remembered(
    tmp_path: Path, organization: Organization, investigator: User
) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        DECLARATION_HEADER,
        [
            declaration(1, "41234569", "ТОВ «Зоря»", "Golden Harvest Trading", "CN"),
            declaration(2, "41234569", "ТОВ «Зоря»", "Golden Harvst Tradng", "CN"),
        ],
    )
    ingest(path, organization)
    candidate = MatchCandidate.objects.get(organization=organization)
    assert candidate.status == MatchCandidate.Status.PENDING
    assert {line["field"] for line in candidate.explanation} >= {"name", "country"}
    with pytest.raises(DomainError):
        services.match_decide(candidate=candidate, actor=investigator, confirmed=False, reason="")
    services.match_decide(candidate=candidate, actor=investigator, confirmed=False, reason="two suppliers")
    with pytest.raises(DomainError):
        services.match_decide(candidate=candidate, actor=investigator, confirmed=True)
    # A new file with both spellings again: the rejected pair is neither merged nor queued again.
    again = write_csv(
        tmp_path / "e.csv",
        DECLARATION_HEADER,
        [declaration(3, "41234569", "ТОВ «Зоря»", "Golden Harvest Trading", "CN"),
         declaration(4, "41234569", "ТОВ «Зоря»", "Golden Harvst Tradng", "CN")],
    )  # fmt: skip
    ingest(again, organization)
    assert MatchCandidate.objects.filter(organization=organization).count() == 1
    assert Entity.objects.filter(organization=organization, kind="company", merged_into__isnull=True).count() == 3


def test_merges_found_by_resolution_are_applied_together_and_recorded(
    tmp_path: Path, organization: Organization
) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        DECLARATION_HEADER,
        [
            declaration(1, "41234569", "ТОВ «Зоря»", "Acme Ltd", "GB"),
            declaration(2, "41234569", "x", "Zenith Co", "GB"),
            declaration(3, "41234569", "x", "Orbit Co", "GB"),
        ],
    )
    dataset = ingest(path, organization)
    acme, zenith, orbit = (Entity.objects.get(names__name=name) for name in ("Acme Ltd", "Zenith Co", "Orbit Co"))
    merged = services.entities_merge_found(
        organization_id=organization.pk, merges=[(acme.pk, zenith.pk, 0.95), (zenith.pk, orbit.pk, 0.93)]
    )
    # Zenith is absorbed in this batch, so it cannot absorb Orbit as well.
    assert merged == 1
    assert set(entity_of(dataset, "counterparty")) == {acme.pk, orbit.pk}
    assert Entity.objects.get(pk=acme.pk).mention_count == 2
    assert EntityMerge.objects.get(absorbed=zenith).merged_by is None
    assert Relationship.objects.get(target=acme, kind=RelationshipKind.TRADES_WITH).record_count == 2


def test_counts_added_per_dataset_equal_a_full_recount(tmp_path: Path, organization: Organization) -> None:
    first = write_csv(
        tmp_path / "first.csv",
        DECLARATION_HEADER,
        [declaration(1, "41234569", "ТОВ «Зоря-Схід»", "Acme Ltd", "GB")],
    )
    ingest(first, organization)
    acme = Entity.objects.get(names__name="Acme Ltd")
    zenith_rows = [declaration(2, "39876548", "ТОВ «Дніпро»", "Zenith Co", "GB")]
    ingest(write_csv(tmp_path / "zenith.csv", DECLARATION_HEADER, zenith_rows), organization)
    zenith = Entity.objects.get(names__name="Zenith Co")
    services.entity_merge(survivor=acme, absorbed=zenith, actor=None)
    later = [declaration(number, "41234569", "Зоря-Схід", "Zenith Co", "GB") for number in (3, 4, 5)]
    for row in later:
        row[1] = "20.05.2024"
    ingest(write_csv(tmp_path / "later.csv", DECLARATION_HEADER, later), organization)

    def snapshot() -> list[tuple[object, ...]]:
        return list(
            Entity.objects.filter(organization=organization)
            .order_by("pk")
            .values_list("pk", "name", "mention_count", "first_seen", "last_seen")
        )

    added = snapshot()
    entities_refresh(entity_ids=[pk for pk, *_ in added])
    assert added == snapshot()
    zoria = Entity.objects.get(identifiers__value="41234569")
    # The later dataset's spelling is now the most common one, and the absorbed Zenith's records count for Acme.
    assert (zoria.name, zoria.mention_count, str(zoria.last_seen)) == ("Зоря-Схід", 4, "2024-05-20")
    assert Entity.objects.get(pk=acme.pk).mention_count == 5


def test_name_words_count_the_records_of_every_spelling_that_holds_them(
    tmp_path: Path, organization: Organization
) -> None:
    first = [declaration(1, "41234569", "ТОВ «Зоря-Схід»", "Zoria Trading Ltd", "GB")]
    ingest(write_csv(tmp_path / "first.csv", DECLARATION_HEADER, first), organization)
    later = [declaration(number, "41234569", "Зоря-Схід", "Zoria Trading Ltd", "GB") for number in (2, 3)]
    ingest(write_csv(tmp_path / "later.csv", DECLARATION_HEADER, later), organization)

    recount: dict[tuple[int, str], int] = {}
    for entity_id, key, records in EntityName.objects.filter(organization=organization).values_list(
        "entity_id", "match_key", "mention_count"
    ):
        for word in key.split():
            recount[entity_id, word] = recount.get((entity_id, word), 0) + records
    words = EntityNameWord.objects.filter(organization=organization)
    assert {(w.entity_id, w.word): w.mention_count for w in words} == recount
    zoria = Entity.objects.get(identifiers__value="41234569")
    # Both spellings of the trader hold "zoria": its three records; the partner's name holds it too.
    assert recount[zoria.pk, "zoria"] == 3
    assert {entity_id for entity_id, word in recount if word == "zoria"} == {
        zoria.pk,
        Entity.objects.get(names__name="Zoria Trading Ltd").pk,
    }
