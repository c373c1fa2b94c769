"""Watchlists: importing CSV and FollowTheMoney lists, screening an organisation's entities, and the pages.

Screening runs against the real PostgreSQL (pg_trgm blocking) and the real privacy vault: people in the graph are
tokens, and the test writes their clear values to the vault the way the loader does (``recording_tokens`` +
``encrypt``).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Organization, User
from apps.anomalies.models import Anomaly, AnomalyStatus, Severity
from apps.anomalies.services import anomaly_status_set
from apps.core.errors import DomainError
from apps.datasets.synthetic.codes import edrpou_from_prefix, rnokpp_for
from apps.entities import watchlists
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityKind,
    EntityName,
    IdentifierScheme,
    Watchlist,
    WatchlistEntry,
    WatchlistHit,
)
from apps.entities.normalize import company_key
from apps.entities.tasks import entities_watchlist_screen
from apps.entities.watchlists import watchlist_import, watchlist_parse, watchlist_screen
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.models import PIIVaultEntry
from apps.privacy.vault import encrypt, recording_tokens
from tests.core.test_pages import parse, unlabelled_fields

pytestmark = pytest.mark.django_db

CaptureCallbacks = Callable[[], AbstractContextManager[list[Callable[[], Any]]]]

ZORIA_CODE = edrpou_from_prefix(456_789)  # "0456789…": a code with a leading zero
SHEVCHENKO = "Шевченко Тарас Григорович"
SHEVCHENKO_TAX = rnokpp_for(birth_date=datetime.date(1980, 3, 9), serial=123, male=True)


def upload(content: bytes | str, name: str = "list.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)


def ftm_lines(*entities: dict[str, Any]) -> str:
    return "\n".join(json.dumps(entity, ensure_ascii=False) for entity in entities) + "\n"


def company(organization: Organization, name: str, *, code: str = "", country: str = "UA") -> Entity:
    entity = Entity.objects.create(organization=organization, kind=EntityKind.COMPANY, name=name, country=country)
    EntityName.objects.create(
        organization=organization, entity=entity, name=name, match_key=company_key(name), country=country
    )
    if code:
        EntityIdentifier.objects.create(
            organization=organization, entity=entity, scheme=IdentifierScheme.EDRPOU, value=code
        )
    return entity


def vault(organization: Organization, *values: tuple[str, PIIKind]) -> list[str]:
    """Tokens of the values, their clear values stored in the organisation's vault as the loader stores them."""
    with recording_tokens() as ledger:
        tokens = [pii_token(value, kind) for value, kind in values]
        noted = ledger.drain()
    PIIVaultEntry.objects.bulk_create(
        [
            PIIVaultEntry(organization=organization, token=token, kind=kind, ciphertext=encrypt(token, value))
            for token, kind, value in noted
        ],
        ignore_conflicts=True,
    )
    return tokens


def person(organization: Organization, name: str, *, tax: str = "", birth_date: str = "") -> Entity:
    """A person as the resolver leaves one: name, tax number and date of birth as tokens, clear values in the vault."""
    name_token, *others = vault(
        organization,
        (name, PIIKind.PERSON_NAME),
        *([(tax, PIIKind.TAX_NUMBER)] if tax else []),
        *([(birth_date, PIIKind.BIRTH_DATE)] if birth_date else []),
    )
    entity = Entity.objects.create(
        organization=organization,
        kind=EntityKind.PERSON,
        name=name_token,
        is_pii=True,
        attributes={"birth_dates": [others[-1]]} if birth_date else {},
    )
    EntityName.objects.create(organization=organization, entity=entity, name=name_token)
    if tax:
        EntityIdentifier.objects.create(
            organization=organization, entity=entity, scheme=IdentifierScheme.RNOKPP, value=others[0]
        )
    return entity


def imported(
    organization: Organization, content: str, name: str = "Санкції РНБО", filename: str = "list.csv"
) -> Watchlist:
    return watchlist_import(organization=organization, user=None, name=name, uploaded_file=upload(content, filename))


def hits_of(watchlist: Watchlist) -> list[WatchlistHit]:
    return list(WatchlistHit.objects.filter(entry__watchlist=watchlist).select_related("entry", "entity"))


# --- parsing ----------------------------------------------------------------------------------------------------


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def test_a_cp1251_csv_with_semicolons_aliases_and_ukrainian_headers(organization: Organization) -> None:
    content = csv_text(
        [
            ["Номер запису", "ПІБ", "Інші назви", "Тип", "Країна", "Код ЄДРПОУ", "РНОКПП", "Дата народження",
             "Підстава"],
            ["1", 'ТОВ "Зоря-Схід"', "Zoria-Skhid LLC; ООО «Заря-Восток»", "юридична особа", "UA", ZORIA_CODE[1:],
             "", "", "Указ №1"],
            ["2", SHEVCHENKO, "Taras Shevchenko", "фізична особа", "ua", "", SHEVCHENKO_TAX, "09.03.1980", "Указ №2"],
        ],
        delimiter=";",
    ).encode("cp1251")  # fmt: skip
    watchlist = watchlist_import(organization=organization, user=None, name="РНБО", uploaded_file=upload(content))

    assert watchlist.file_format == Watchlist.Format.CSV
    assert watchlist.entry_count == 2
    zoria, shevchenko = WatchlistEntry.objects.filter(watchlist=watchlist).order_by("pk")
    assert (zoria.external_id, zoria.name, zoria.kind) == ("1", 'ТОВ "Зоря-Схід"', EntityKind.COMPANY)
    assert zoria.aliases == ["Zoria-Skhid LLC", "ООО «Заря-Восток»"]
    assert zoria.identifiers == {"edrpou": [ZORIA_CODE]}  # the leading zero a spreadsheet dropped, restored
    assert (zoria.country, zoria.reason) == ("UA", "Указ №1")
    # The list's spellings keyed once at import; the transliterated alias folds to the same key as the name.
    assert company_key("Zoria-Skhid LLC") == company_key('ТОВ "Зоря-Схід"')
    assert zoria.match_keys == [company_key('ТОВ "Зоря-Схід"'), company_key("ООО «Заря-Восток»")]
    assert (shevchenko.kind, shevchenko.birth_date, shevchenko.country) == (EntityKind.PERSON, "1980-03-09", "UA")
    assert shevchenko.identifiers == {"rnokpp": [SHEVCHENKO_TAX]}
    assert shevchenko.aliases == ["Taras Shevchenko"]


def test_a_utf8_csv_with_a_bom_and_commas_guesses_what_each_entry_is(organization: Organization) -> None:
    content = "\ufeff" + csv_text(
        [
            ["Name", "Identifiers", "Program", "Date of birth"],
            ["Zoria-Skhid LLC", "", "UKR-1", ""],
            ["Іваненко Петро Миколайович", "UA213223130000026007233566001; +38 (067) 123-45-67", "UKR-2", "1975"],
            ["Black Pearl", "IMO 9123456", "", ""],
        ]
    )
    watchlist = imported(organization, content)

    zoria, ivanenko, vessel = WatchlistEntry.objects.filter(watchlist=watchlist).order_by("pk")
    assert zoria.kind == EntityKind.COMPANY  # a legal form
    assert ivanenko.kind == EntityKind.PERSON  # a known given name and a date of birth
    assert ivanenko.identifiers == {"iban": ["UA213223130000026007233566001"], "phone": ["+380671234567"]}
    assert ivanenko.birth_date == "1975"
    assert ivanenko.reason == "UKR-2"
    assert vessel.kind == EntityKind.VEHICLE
    assert vessel.identifiers == {"imo": ["9123456"]}


def test_followthemoney_lines_keep_people_companies_and_vessels_and_count_the_rest() -> None:
    content = ftm_lines(
        {
            "id": "ua-nsdc-1",
            "schema": "Person",
            "properties": {
                "name": [SHEVCHENKO, "Taras Shevchenko"],
                "alias": ["Шевченко Т.Г."],
                "birthDate": ["1980-03-09"],
                "innCode": [SHEVCHENKO_TAX],
                "nationality": ["ua"],
                "topics": ["sanction"],
                "program": ["UA-NSDC"],
            },
        },
        {
            "id": "ua-nsdc-2",
            "schema": "Company",
            "properties": {"name": ["Zoria-Skhid LLC"], "registrationNumber": [ZORIA_CODE], "country": ["ua"]},
        },
        {"id": "s-1", "schema": "Sanction", "properties": {"entity": ["ua-nsdc-1"], "program": ["UA-NSDC"]}},
        {"id": "o-1", "schema": "Ownership", "properties": {"owner": ["ua-nsdc-1"], "asset": ["ua-nsdc-2"]}},
        {"id": "v-1", "schema": "Vessel", "properties": {"name": ["Black Pearl"], "imoNumber": ["IMO9123456"]}},
    )
    parsed = watchlist_parse(upload(content, "sanctions.ftm.json"))

    assert parsed.file_format == Watchlist.Format.FTM
    assert parsed.skipped == {"Sanction": 1, "Ownership": 1}
    shevchenko, zoria, vessel = parsed.entries
    assert (shevchenko.kind, shevchenko.external_id, shevchenko.name) == (EntityKind.PERSON, "ua-nsdc-1", SHEVCHENKO)
    assert shevchenko.aliases == ["Taras Shevchenko", "Шевченко Т.Г."]
    assert shevchenko.identifiers == {"rnokpp": [SHEVCHENKO_TAX]}
    assert (shevchenko.birth_date, shevchenko.country, shevchenko.reason) == ("1980-03-09", "UA", "UA-NSDC; sanction")
    assert (zoria.kind, zoria.identifiers, zoria.country) == (EntityKind.COMPANY, {"edrpou": [ZORIA_CODE]}, "UA")
    assert (vessel.kind, vessel.identifiers) == (EntityKind.VEHICLE, {"imo": ["9123456"]})


BAD_FILES = [
    pytest.param(b"", "The file is empty.", id="empty"),
    pytest.param(b"  \n\n", "The file is empty.", id="blank"),
    pytest.param("Код;Країна\n12345678;UA\n", "No column holds the names", id="no-name-column"),
    pytest.param("name,country\n", "The file has a header but no entries.", id="header-only"),
    pytest.param("name,country\nZoria,UA\n,RU\n", "Line 3 has no name.", id="row-without-name"),
    pytest.param(
        '{"id": "a", "schema": "Person", "properties": {"name": ["A"]}}\n{"id": "b", "schema":\n',
        "Line 2 is not valid JSON",
        id="invalid-json",
    ),
    pytest.param('{"id": "a", "properties": {}}\n', "Line 1 is not a FollowTheMoney entity", id="no-schema"),
    pytest.param(
        '{"id": "s", "schema": "Sanction", "properties": {}}\n{"id": "o", "schema": "Ownership", "properties": {}}\n',
        "only 2 entities of other kinds (Ownership, Sanction)",
        id="unknown-schemas-only",
    ),
    pytest.param('[{"id": "a"}]', "one JSON array", id="json-array"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_a_bad_file_is_refused_with_its_reason_and_stores_nothing(
    organization: Organization, content: bytes | str, message: str
) -> None:
    kept = imported(organization, "name\nZoria-Skhid LLC\n", name="Earlier list")
    with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        imported(organization, content)
    assert list(Watchlist.objects.all()) == [kept]
    assert WatchlistEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("limit", "value", "content", "message"),
    [
        ("MAX_FILE_BYTES", 20, "name\nZoria-Skhid LLC\nDnipro Agro LLC\n", "The file is larger than 0 MB"),
        ("MAX_LINE_CHARS", 10, "name\nZoria-Skhid LLC\n", "Line 2 is longer than 10 characters"),
        ("MAX_ENTRIES", 1, "name\nZoria-Skhid LLC\nDnipro Agro LLC\n", "more than 1 entries"),
    ],
)
def test_a_file_over_a_limit_is_refused(
    organization: Organization, monkeypatch: pytest.MonkeyPatch, limit: str, value: int, content: str, message: str
) -> None:
    monkeypatch.setattr(watchlists, limit, value)
    with pytest.raises(DomainError, match=message):
        imported(organization, content)
    assert not Watchlist.objects.exists()
    assert not WatchlistEntry.objects.exists()


# --- screening ----------------------------------------------------------------------------------------------------


def anomalies_of(organization: Organization) -> list[Anomaly]:
    return list(Anomaly.objects.filter(organization=organization, detector="watchlist").order_by("pk"))


def assert_explained(hit: WatchlistHit) -> None:
    """A hit says why, and so does its anomaly: in both languages and as factors, with no clear personal value."""
    assert hit.explanation
    for factor in hit.explanation:
        assert set(factor) == {"field", "entry_value", "entity_value", "similarity", "weight"}
    anomaly = Anomaly.objects.get(
        organization_id=hit.organization_id, dedup_key=f"watchlist:{hit.entry_id}:{hit.entity_id}"
    )
    assert list(anomaly.entities.all()) == [hit.entity]
    assert anomaly.explanation["en"]
    assert anomaly.explanation["uk"]
    assert [factor["feature"] for factor in anomaly.explanation["factors"]] == [f["field"] for f in hit.explanation]
    assert anomaly.score == hit.score
    if hit.entity.is_pii:
        shown = json.dumps([hit.explanation, anomaly.title, anomaly.explanation], ensure_ascii=False)
        for clear in (SHEVCHENKO, "Шевченко", "Shevchenko", SHEVCHENKO_TAX, "1980-03-09"):
            assert clear not in shown


def test_an_identifier_on_the_list_hits_the_entity_that_has_it(organization: Organization) -> None:
    entity = company(organization, "Агро-Інвест", code=ZORIA_CODE)
    watchlist = imported(organization, f"name,edrpou\nCompletely Other Name Ltd,{ZORIA_CODE}\n")

    assert watchlist_screen(watchlist_id=watchlist.pk) == 1

    [hit] = hits_of(watchlist)
    assert hit.entity == entity
    assert hit.score == 1.0
    assert hit.explanation == [
        {"field": "edrpou", "entry_value": ZORIA_CODE, "entity_value": ZORIA_CODE, "similarity": 1.0, "weight": 1.0}
    ]
    assert_explained(hit)
    [anomaly] = anomalies_of(organization)
    assert anomaly.severity == Severity.CRITICAL
    assert "Агро-Інвест" in anomaly.title
    assert "Санкції РНБО" in anomaly.title
    watchlist.refresh_from_db()
    assert watchlist.screened_at is not None


def test_a_company_name_hits_across_legal_forms_and_scripts(organization: Organization) -> None:
    zoria = company(organization, 'ТОВ "Зоря-Схід"')
    company(organization, "ТОВ «Дніпро Агро»")
    watchlist = imported(organization, "name,country\nZoria-Skhid LLC,UA\n")

    assert watchlist_screen(watchlist_id=watchlist.pk) == 1

    [hit] = hits_of(watchlist)
    assert hit.entity == zoria
    name, country = hit.explanation
    assert (name["field"], name["entry_value"], name["entity_value"]) == ("name", "Zoria-Skhid LLC", 'ТОВ "Зоря-Схід"')
    assert name["similarity"] == 1.0
    assert (country["field"], country["similarity"]) == ("country", 1.0)
    assert_explained(hit)
    [anomaly] = anomalies_of(organization)
    assert anomaly.severity == Severity.HIGH
    assert "Zoria-Skhid LLC" in anomaly.explanation["en"]


def test_a_person_hits_through_the_vault_and_a_date_of_birth_that_agrees(organization: Organization) -> None:
    shevchenko = person(organization, SHEVCHENKO, birth_date="1980-03-09")
    person(organization, "Коваль Олена Петрівна", birth_date="1985-05-12")
    content = ftm_lines(
        {
            "id": "born-1980",
            "schema": "Person",
            "properties": {"name": ["SHEVCHENKO, Taras"], "birthDate": ["1980"]},
        },
        {
            "id": "born-1990",
            "schema": "Person",
            "properties": {"name": ["Shevchenko Taras Hryhorovych"], "birthDate": ["1990-01-01"]},
        },
    )
    watchlist = imported(organization, content, filename="people.json")

    assert watchlist_screen(watchlist_id=watchlist.pk) == 1

    [hit] = hits_of(watchlist)
    assert (hit.entity, hit.entry.external_id) == (shevchenko, "born-1980")
    name, birth = hit.explanation
    assert name["entity_value"] == shevchenko.name  # the token
    assert name["entry_value"] == pii_token("SHEVCHENKO, Taras", PIIKind.PERSON_NAME)
    assert name["similarity"] == 1.0
    assert birth == {
        "field": "birth_date",
        "entry_value": pii_token("1980", PIIKind.BIRTH_DATE),
        "entity_value": shevchenko.attributes["birth_dates"][0],
        "similarity": 1.0,
        "weight": 0.2,
    }
    assert_explained(hit)


def test_a_personal_tax_number_on_the_list_is_compared_as_its_token(organization: Organization) -> None:
    shevchenko = person(organization, SHEVCHENKO, tax=SHEVCHENKO_TAX)
    watchlist = imported(organization, f"ПІБ,РНОКПП\nШевченко Т. Г.,{SHEVCHENKO_TAX}\n")

    assert watchlist_screen(watchlist_id=watchlist.pk) == 1

    [hit] = hits_of(watchlist)
    assert hit.entity == shevchenko
    tax, name = hit.explanation
    token = pii_token(SHEVCHENKO_TAX, PIIKind.TAX_NUMBER)
    assert (tax["field"], tax["entry_value"], tax["entity_value"]) == ("rnokpp", token, token)
    # The name is compared too, so the investigator sees that it agrees ("Т. Г." are the initials).
    assert name["field"] == "name"
    assert name["similarity"] >= 0.9
    assert_explained(hit)
    assert anomalies_of(organization)[0].severity == Severity.CRITICAL


def test_unrelated_names_do_not_hit(organization: Organization) -> None:
    company(organization, "ТОВ «Дніпро Агро»")
    company(organization, "Ningbo Hengda Trading Co., Ltd.", country="CN")
    person(organization, "Коваль Олена Петрівна")
    person(organization, "Шевченко Петро Іванович")  # the same surname, another man
    content = csv_text(
        [["name", "type"], ["Zoria-Skhid LLC", "company"], ["Taras Shevchenko", "person"], ["Hengda Steel", "company"]]
    )
    watchlist = imported(organization, content)

    assert watchlist_screen(watchlist_id=watchlist.pk) == 0
    assert not WatchlistHit.objects.exists()
    assert not Anomaly.objects.exists()


def test_another_organisations_entities_are_never_screened(
    organization: Organization, other_organization: Organization
) -> None:
    company(other_organization, 'ТОВ "Зоря-Схід"', code=ZORIA_CODE)
    person(other_organization, SHEVCHENKO, tax=SHEVCHENKO_TAX)
    own = company(organization, 'ТОВ "Зоря-Схід"')
    content = csv_text([["name", "identifiers"], ["Zoria-Skhid LLC", ZORIA_CODE], [SHEVCHENKO, SHEVCHENKO_TAX]])
    watchlist = imported(organization, content)

    assert watchlist_screen(watchlist_id=watchlist.pk) == 1

    assert [hit.entity for hit in hits_of(watchlist)] == [own]
    assert not Anomaly.objects.filter(organization=other_organization).exists()
    assert [anomaly.entities.get() for anomaly in anomalies_of(organization)] == [own]


def test_screening_again_raises_nothing_twice_and_keeps_the_verdicts(
    organization: Organization, investigator: User
) -> None:
    company(organization, 'ТОВ "Зоря-Схід"', code=ZORIA_CODE)
    company(organization, "Zoria-Skhid Trading LLC")
    watchlist = imported(organization, f"name,edrpou\nZoria-Skhid LLC,{ZORIA_CODE}\n")
    first = watchlist_screen(watchlist_id=watchlist.pk)
    hits = {(hit.entry_id, hit.entity_id, hit.score) for hit in hits_of(watchlist)}
    dismissed = anomalies_of(organization)[0]
    anomaly_status_set(anomaly=dismissed, user=investigator, status=AnomalyStatus.DISMISSED, reason="Інша компанія")

    assert watchlist_screen(watchlist_id=watchlist.pk) == first
    assert {(hit.entry_id, hit.entity_id, hit.score) for hit in hits_of(watchlist)} == hits
    assert len(anomalies_of(organization)) == first
    dismissed.refresh_from_db()
    assert (dismissed.status, dismissed.status_reason) == (AnomalyStatus.DISMISSED, "Інша компанія")


def test_a_hit_on_an_entity_merged_since_goes_to_the_survivor(organization: Organization) -> None:
    survivor = company(organization, "Зоря-Схід Україна", code=ZORIA_CODE)
    absorbed = company(organization, 'ПП "Зоря-Схід"')
    absorbed.merged_into = survivor
    absorbed.save()
    watchlist = imported(organization, "name\nZoria-Skhid\n")

    assert watchlist_screen(watchlist_id=watchlist.pk) == 1

    [hit] = hits_of(watchlist)
    assert hit.entity == survivor
    assert hit.explanation[0]["entity_value"] == 'ПП "Зоря-Схід"'
    assert_explained(hit)


# --- pages --------------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(
    client: Client, organization: Organization, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    watchlist = imported(organization, "name\nZoria-Skhid LLC\n")
    for url in (
        reverse("entities:watchlist-list"),
        reverse("entities:watchlist-upload"),
        reverse("entities:watchlist-detail", args=[watchlist.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("entities:watchlist-screen", args=[watchlist.pk]))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert queued == []


def test_a_user_without_the_permissions_is_refused(
    client: Client, organization: Organization, partner: User, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    watchlist = imported(organization, "name\nZoria-Skhid LLC\n")
    client.force_login(partner)
    assert client.get(reverse("entities:watchlist-list")).status_code == 403
    assert client.get(reverse("entities:watchlist-detail", args=[watchlist.pk])).status_code == 403
    with django_capture_on_commit_callbacks() as queued:
        assert client.post(reverse("entities:watchlist-upload"), {"file": upload("name\nX\n")}).status_code == 403
        assert client.post(reverse("entities:watchlist-screen", args=[watchlist.pk])).status_code == 403
    assert queued == []
    assert Watchlist.objects.count() == 1


def test_another_organisations_list_is_not_found(
    client: Client,
    organization: Organization,
    other_organization: Organization,
    investigator: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    foreign = imported(other_organization, "name\nZoria-Skhid LLC\n", name="Чужий список")
    imported(organization, "name\nDnipro Agro LLC\n", name="Свій список")
    client.force_login(investigator)

    listing = client.get(reverse("entities:watchlist-list")).content.decode()
    assert "Свій список" in listing
    assert "Чужий список" not in listing
    assert client.get(reverse("entities:watchlist-detail", args=[foreign.pk])).status_code == 404
    with django_capture_on_commit_callbacks() as queued:
        assert client.post(reverse("entities:watchlist-screen", args=[foreign.pk])).status_code == 404
    assert queued == []


def test_uploading_a_list_imports_it_queues_the_screening_and_the_page_shows_the_hits(
    client: Client,
    organization: Organization,
    investigator: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    zoria = company(organization, 'ТОВ "Зоря-Схід"')
    shevchenko = person(organization, SHEVCHENKO, tax=SHEVCHENKO_TAX)
    content = csv_text(
        [
            ["name", "identifiers", "reason"],
            ["Zoria-Skhid LLC", "", "UA-NSDC"],
            ["Taras Shevchenko", SHEVCHENKO_TAX, ""],
        ]
    )
    client.force_login(investigator)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("entities:watchlist-upload"), {"file": upload(content, "nsdc.csv"), "name": ""})

    watchlist = Watchlist.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("entities:watchlist-detail", args=[watchlist.pk])
    assert (watchlist.name, watchlist.entry_count, watchlist.created_by) == ("nsdc", 2, investigator)
    assert len(queued) == 1  # the screening, sent to a worker once the import is committed
    assert "have not been screened" in client.get(response["Location"]).content.decode()

    entities_watchlist_screen(watchlist.pk)  # what the worker does with it

    page = client.get(response["Location"]).content.decode()
    assert reverse("entities:detail", args=[zoria.pk]) in page
    assert reverse("entities:detail", args=[shevchenko.pk]) in page
    assert "Zoria-Skhid LLC" in page
    assert "UA-NSDC" in page
    assert shevchenko.name in page  # the person by the token
    for clear in ("Taras Shevchenko", "Шевченко", SHEVCHENKO_TAX):
        assert clear not in page


def test_a_bad_upload_says_why_and_stores_nothing(client: Client, investigator: User) -> None:
    client.force_login(investigator)
    response = client.post(
        reverse("entities:watchlist-upload"), {"file": upload("Код,Країна\n12345678,UA\n"), "name": "X"}
    )
    assert response.status_code == 200
    assert "No column holds the names" in response.content.decode()
    assert not Watchlist.objects.exists()

    # Sent by htmx, the form comes back in place with the reason; a good file leads to the new list.
    url = reverse("entities:watchlist-upload")
    fragment = client.post(url, {"file": upload("Код\n1\n"), "name": "X"}, HTTP_HX_REQUEST="true").content.decode()
    assert "No column holds the names" in fragment
    assert "<html" not in fragment
    done = client.post(url, {"file": upload("name\nZoria\n"), "name": "X"}, HTTP_HX_REQUEST="true")
    assert done["HX-Redirect"] == reverse("entities:watchlist-detail", args=[Watchlist.objects.get().pk])


def test_screen_now_queues_a_screening(
    client: Client,
    organization: Organization,
    investigator: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    watchlist = imported(organization, "name\nZoria-Skhid LLC\n")
    client.force_login(investigator)
    page = client.get(reverse("entities:watchlist-detail", args=[watchlist.pk])).content.decode()
    assert reverse("entities:watchlist-screen", args=[watchlist.pk]) in page

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("entities:watchlist-screen", args=[watchlist.pk]), follow=True)

    assert len(queued) == 1
    assert "is being screened against" in response.content.decode()


def test_the_upload_page_labels_every_field(client: Client, investigator: User) -> None:
    client.force_login(investigator)
    document = parse(client.get(reverse("entities:watchlist-upload")).content)
    assert unlabelled_fields(document) == []
    assert {field.attrs.get("name") for field in document.find_all("input")} >= {"file", "name"}


def test_names_that_share_only_their_generic_words_do_not_hit(organization: Organization) -> None:
    titan = company(organization, "ТОВ «Брокерська контора Титан»")
    zoria = company(organization, "ТОВ «Зоря-Схід»")
    content = csv_text([["name"], ["Brokerska Kontora Svitanok LLC"], ["Zora-Skhid Ltd"], ["Brokerska kontora Tytan"]])
    watchlist = imported(organization, content)

    assert watchlist_screen(watchlist_id=watchlist.pk) == 2

    found = {(hit.entry.name, hit.entity_id) for hit in hits_of(watchlist)}
    assert found == {("Zora-Skhid Ltd", zoria.pk), ("Brokerska kontora Tytan", titan.pk)}  # typos forgiven
