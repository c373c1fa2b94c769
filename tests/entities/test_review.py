"""The review queue, and merging and splitting from the entity page.

The graph is what the resolver leaves: companies and people with names, identifiers and mentions of invoice records,
relationships rebuilt from those mentions (``relationships_rebuild``), and candidates the scorer was unsure of.
Decisions, merges and splits run through the real services, on PostgreSQL. A person is named by a masking token
whose clear value sits in the privacy vault, and no page may show that clear value.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.datasets.models import Dataset, DatasetSource, DatasetStatus, RecordKind
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityKind,
    EntityMention,
    EntityMerge,
    EntityName,
    IdentifierScheme,
    MatchCandidate,
    MatchMethod,
    MentionRole,
    Relationship,
    RelationshipKind,
    ScorerKind,
)
from apps.entities.normalize import company_key
from apps.entities.resolution import entities_refresh, relationships_rebuild
from apps.entities.services import entity_merge
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.models import PIIVaultEntry
from apps.privacy.vault import encrypt
from tests.browser import conftest as browser_conftest
from tests.core.test_pages import Element, page, parse, unlabelled_fields
from tests.factories import DEFAULT_PASSWORD, member

pytestmark = pytest.mark.django_db

# A person's clear name and date of birth as the source had them: they live only in the vault.
CANARY_NAME = "Канарейко Олена Петрівна"
CANARY_BIRTH = "1980-03-09"
HTMX = {"HX-Request": "true"}


# --- the world -------------------------------------------------------------------------------------------------


def entity(organization: Organization, name: str, kind: str = EntityKind.COMPANY, **values: Any) -> Entity:
    created = Entity.objects.create(organization=organization, kind=kind, name=name, country="UA", **values)
    EntityName.objects.create(
        organization=organization,
        entity=created,
        name=name,
        match_key="" if created.is_pii else company_key(name),
        country="UA",
    )
    return created


def invoice_mention(target: Entity, dataset: Dataset, record_id: int, role: str, day: int) -> EntityMention:
    """``target`` as seller or buyer of invoice ``record_id``: two mentions of one record make a relationship."""
    return EntityMention.objects.create(
        organization_id=target.organization_id,
        dataset=dataset,
        record_kind=RecordKind.TAX_INVOICE,
        record_id=record_id,
        role=role,
        entity=target,
        origin_entity=target,
        name=target.name,
        method=MatchMethod.IDENTIFIER,
        date=datetime.date(2023, 1, day),
        amount_uah=Decimal("1000.00"),
    )


def candidate(
    left: Entity, right: Entity, score: float, explanation: list[dict[str, Any]], **values: Any
) -> MatchCandidate:
    first, second = sorted((left, right), key=lambda e: e.pk)
    return MatchCandidate.objects.create(
        organization_id=left.organization_id,
        left=first,
        right=second,
        score=score,
        kind=ScorerKind.PERSON if left.kind == EntityKind.PERSON else ScorerKind.COMPANY,
        explanation=explanation,
        features={line["field"]: line["similarity"] for line in explanation},
        **values,
    )


def line(field: str, left: str, right: str, similarity: float, weight: float) -> dict[str, Any]:
    return {
        "field": field,
        "left": left,
        "right": right,
        "similarity": similarity,
        "weight": weight,
        "contribution": round(similarity * weight, 3),
    }


@dataclass
class World:
    organization: Organization
    dataset: Dataset
    zoria: Entity
    zoria_latin: Entity
    supplier: Entity
    person: Entity
    person_twin: Entity
    person_token: str
    birth_token: str
    spare: Entity
    spare_twin: Entity
    companies: MatchCandidate
    people: MatchCandidate
    rejected: MatchCandidate
    other_entity: Entity
    other_candidate: MatchCandidate


def build_world(organization: Organization, other_organization: Organization) -> World:
    """Зоря-Схід is written twice (Cyrillic and Latin); a supplier invoices both spellings. Two person profiles
    with the same masked name and date of birth wait for review, and so do the two spellings; another organisation
    has its own entity and candidate."""
    person_token = pii_token(CANARY_NAME, PIIKind.PERSON_NAME)
    birth_token = pii_token(CANARY_BIRTH, PIIKind.BIRTH_DATE)
    for token, clear, kind in ((person_token, CANARY_NAME, "name"), (birth_token, CANARY_BIRTH, "dob")):
        PIIVaultEntry.objects.create(
            organization=organization, token=token, kind=kind, ciphertext=encrypt(token, clear)
        )
    number = Dataset.objects.count() + 1
    dataset = Dataset.objects.create(
        organization=organization,
        name="Податкові накладні 2023",
        kind=RecordKind.TAX_INVOICE,
        source=DatasetSource.UPLOAD,
        original_filename=f"{number}.csv",
        size_bytes=100,
        sha256=f"{number:064d}",
        status=DatasetStatus.READY,
    )
    zoria = entity(organization, "ТОВ «Зоря-Схід»")
    EntityIdentifier.objects.create(
        organization=organization, entity=zoria, scheme=IdentifierScheme.EDRPOU, value="32855961"
    )
    zoria_latin = entity(organization, "PP Zoria-Skhid")
    supplier = entity(organization, "ПП «Постач»")
    person = entity(organization, person_token, kind=EntityKind.PERSON, is_pii=True)
    person_twin = entity(organization, person_token, kind=EntityKind.PERSON, is_pii=True)
    for record_id, buyer, day in ((101, zoria, 1), (102, zoria, 2), (103, zoria_latin, 3)):
        invoice_mention(supplier, dataset, record_id, MentionRole.SELLER, day)
        invoice_mention(buyer, dataset, record_id, MentionRole.BUYER, day)
    ids = [zoria.pk, zoria_latin.pk, supplier.pk]
    entities_refresh(entity_ids=ids)
    relationships_rebuild(organization_id=organization.pk, entity_ids=ids)

    companies = candidate(
        zoria,
        zoria_latin,
        0.82,
        [line("name", "зоря схід", "zoria skhid", 0.93, 40.0), line("country", "UA", "UA", 1.0, 4.0)],
    )
    people = candidate(
        person,
        person_twin,
        0.64,
        [
            line("surname", person_token, person_token, 1.0, 7.0),
            line("birth_date", birth_token, birth_token, 1.0, 6.0),
            line("tax_number", "", "", -1.0, 10.0),
        ],
    )
    spare, spare_twin = entity(organization, "ТОВ «Запасна»"), entity(organization, "Zapasna LLC")
    stranger = entity(organization, "ТОВ «Чужа»")
    rejected = candidate(
        supplier,
        stranger,
        0.55,
        [line("name", "постач", "чужа", 0.2, 40.0)],
        status=MatchCandidate.Status.REJECTED,
        reason="Різні коди",
    )
    other_entity = entity(other_organization, "ТОВ «Зоря-Схід» (Одеса)")
    other_twin = entity(other_organization, "Zoria-Skhid Odesa")
    other_candidate = candidate(other_entity, other_twin, 0.9, [line("name", "a", "b", 0.95, 40.0)])
    return World(
        organization=organization,
        dataset=dataset,
        zoria=zoria,
        zoria_latin=zoria_latin,
        supplier=supplier,
        person=person,
        person_twin=person_twin,
        person_token=person_token,
        birth_token=birth_token,
        spare=spare,
        spare_twin=spare_twin,
        companies=companies,
        people=people,
        rejected=rejected,
        other_entity=other_entity,
        other_candidate=other_candidate,
    )


@pytest.fixture
def world(organization: Organization, other_organization: Organization) -> World:
    return build_world(organization, other_organization)


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def audit_updates(obj: Model) -> list[dict[str, Any]]:
    """The changes django-auditlog recorded on ``obj`` after it was created, oldest first."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_pk=str(obj.pk), action=LogEntry.Action.UPDATE
    ).order_by("timestamp", "pk")
    return [entry.changes_dict for entry in entries]


def reload(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def invoices_between(seller: Entity, buyer: Entity) -> int:
    link = Relationship.objects.filter(kind=RelationshipKind.INVOICES, source=seller, target=buyer).first()
    return link.record_count if link else 0


def articles(document: Element) -> list[Element]:
    return document.find_all("article", lambda e: e.attrs.get("id", "").startswith("candidate-"))


def queue_ids(client: Client, **params: str) -> list[int]:
    response = client.get(reverse("entities:review"), params)
    assert response.status_code == 200
    return [int(article.attrs["id"].removeprefix("candidate-")) for article in articles(parse(response.content))]


def decide_url(match: MatchCandidate) -> str:
    return reverse("entities:review-decide", args=[match.pk])


def merge_url(target: Entity) -> str:
    return reverse("entities:merge", args=[target.pk])


def split_url(target: Entity, merge: EntityMerge) -> str:
    return reverse("entities:split", args=[target.pk, merge.pk])


def messages_of(document: Element) -> str:
    box = document.find("div", lambda e: e.attrs.get("id") == "messages")
    assert box is not None
    return box.text()


def manual_merge(world: World, actor: User) -> EntityMerge:
    return entity_merge(survivor=world.zoria, absorbed=world.zoria_latin, actor=actor, reason="Той самий код")


# --- who may do what -------------------------------------------------------------------------------------------


def spare_merge(world: World, actor: User) -> EntityMerge:
    """A merge no candidate is about (a merge drops the pending candidate of its pair)."""
    return entity_merge(survivor=world.spare, absorbed=world.spare_twin, actor=actor, reason="Одна адреса")


def write_requests(world: World, merge: EntityMerge) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "decide": (decide_url(world.companies), {"decision": "confirm"}),
        "merge": (merge_url(world.zoria), {"absorbed": str(world.supplier.pk), "reason": "так"}),
        "split": (split_url(world.spare, merge), {"reason": "ні"}),
    }


def test_anonymous_visitors_are_sent_to_login(world: World, investigator: User) -> None:
    merge = spare_merge(world, investigator)
    client = Client()
    response = client.get(reverse("entities:review"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    for name, (url, data) in write_requests(world, merge).items():
        response = client.post(url, data)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login")), name
    assert reload(world.companies).status == MatchCandidate.Status.PENDING
    assert reload(merge).split_at is None


@pytest.mark.parametrize("role", ["no permission", Role.PARTNER])
def test_users_without_the_permissions_are_refused(
    world: World, organization: Organization, investigator: User, role: str
) -> None:
    """A partner reads entities and links, but neither reviews nor merges; a member without a role does nothing."""
    merge = spare_merge(world, investigator)
    user = member(Role.PARTNER if role == Role.PARTNER else Role.INVESTIGATOR, organization)
    if role == "no permission":
        user.groups.clear()
    client = login(user)
    assert client.get(reverse("entities:review")).status_code == 403
    for name, (url, data) in write_requests(world, merge).items():
        assert client.post(url, data).status_code == 403, name
        assert client.post(url, data, headers=HTMX).status_code == 403, name
    assert reload(world.companies).status == MatchCandidate.Status.PENDING
    assert reload(world.supplier).merged_into_id is None
    assert reload(merge).split_at is None


def test_a_reader_of_the_queue_sees_no_decision_buttons(world: World, organization: Organization) -> None:
    reader = member(Role.INVESTIGATOR, organization)
    reader.groups.clear()
    reader.user_permissions.add(*_permissions("view_matchcandidate"))
    document = page(login(reader), reverse("entities:review"))
    assert len(articles(document)) == 2
    assert document.find("button", lambda e: e.attrs.get("value") == "confirm") is None
    assert login(reader).post(decide_url(world.companies), {"decision": "confirm"}).status_code == 403


def _permissions(*codenames: str) -> list[Permission]:
    return list(Permission.objects.filter(content_type__app_label="entities", codename__in=codenames))


def test_another_organisation_sees_nothing_and_reaches_nothing(
    world: World, outsider: User, investigator: User
) -> None:
    merge = spare_merge(world, investigator)
    client = login(outsider)
    assert queue_ids(client) == [world.other_candidate.pk]
    assert queue_ids(client, status="all") == [world.other_candidate.pk]
    for name, (url, data) in write_requests(world, merge).items():
        assert client.post(url, data).status_code == 404, name
        assert client.post(url, data, headers=HTMX).status_code == 404, name
    assert reload(world.companies).status == MatchCandidate.Status.PENDING
    assert reload(merge).split_at is None
    # Merging another organisation's entity into one's own: it is not found, so nothing is merged.
    response = client.post(merge_url(world.other_entity), {"absorbed": str(world.zoria.pk), "reason": "так"})
    assert response.status_code == 400
    assert "Your organisation has no entity with this number." in parse(response.content).text()
    assert reload(world.zoria).merged_into_id is None


# --- the queue -------------------------------------------------------------------------------------------------


def test_queue_lists_pending_matches_highest_score_first_and_filters(world: World, investigator: User) -> None:
    client = login(investigator)
    assert queue_ids(client) == [world.companies.pk, world.people.pk]
    assert queue_ids(client, kind="person") == [world.people.pk]
    assert queue_ids(client, kind="company") == [world.companies.pk]
    assert queue_ids(client, status="rejected") == [world.rejected.pk]
    assert queue_ids(client, status="confirmed") == []
    assert queue_ids(client, status="all") == [world.companies.pk, world.people.pk, world.rejected.pk]
    assert queue_ids(client, kind="company", status="all") == [world.companies.pk, world.rejected.pk]
    assert queue_ids(client, kind="spaceship") == []
    assert queue_ids(client, status="maybe") == []
    empty = page(client, reverse("entities:review") + "?status=confirmed")
    assert "No match has this kind and status." in empty.text()


def test_queue_fragment_for_htmx(world: World, investigator: User) -> None:
    response = login(investigator).get(reverse("entities:review"), {"kind": "person"}, headers=HTMX)
    fragment = parse(response.content)
    assert fragment.find("html") is None
    assert fragment.find("div", lambda e: e.attrs.get("id") == "review-list") is not None
    assert [a.attrs["id"] for a in articles(fragment)] == [f"candidate-{world.people.pk}"]


def explanation_rows(article: Element) -> dict[str, list[Element]]:
    table = article.find("table")
    assert table is not None
    tbody = table.find("tbody")
    assert tbody is not None
    return {row.find("th").text(): row.find_all("td") for row in tbody.find_all("tr")}  # type: ignore[union-attr]


def test_each_match_shows_both_entities_score_and_explanation(world: World, investigator: User) -> None:
    document = page(login(investigator), reverse("entities:review"))
    companies, people = articles(document)
    heading = companies.find("h2")
    assert heading is not None
    assert "ТОВ «Зоря-Схід»" in heading.text()
    assert "PP Zoria-Skhid" in heading.text()
    links = [a.attrs["href"] for a in heading.find_all("a")]
    assert links == [
        reverse("entities:detail", args=[world.zoria.pk]),
        reverse("entities:detail", args=[world.zoria_latin.pk]),
    ]
    assert "Score 0.82" in companies.text()
    assert "Waiting for review" in companies.text()
    rows = explanation_rows(companies)
    assert [cell.text() for cell in rows["Name"]] == ["зоря схід", "zoria skhid", "0.930", "40.00", "+37.20"]
    assert [cell.text() for cell in rows["Country"]] == ["UA", "UA", "1.000", "4.00", "+4.00"]
    positive = rows["Name"][4].find("span")
    assert positive is not None
    assert "status--ok" in positive.attrs["class"]

    rows = explanation_rows(people)
    assert set(rows) == {"Surname", "Date of birth", "Tax number"}
    assert rows["Surname"][0].text() == f"{world.person_token} masked"
    assert rows["Date of birth"][1].text() == f"{world.birth_token} masked"
    assert rows["Tax number"][4].text() == "−10.00"
    negative = rows["Tax number"][4].find("span")
    assert negative is not None
    assert "status--failing" in negative.attrs["class"]
    assert unlabelled_fields(document) == []


def test_the_queue_never_shows_a_clear_personal_value(world: World, supervisor: User) -> None:
    """Even a supervisor, who may unlock personal data, sees tokens: unlocking is its own step."""
    client = login(supervisor)
    for params in ({}, {"kind": "person"}, {"status": "all"}):
        content = client.get(reverse("entities:review"), params).content.decode()
        assert world.person_token in content
        assert CANARY_NAME not in content
        assert "Канарейко" not in content
        assert CANARY_BIRTH not in content
    response = client.post(decide_url(world.people), {"decision": "reject", "reason": "Різні люди"}, headers=HTMX)
    assert CANARY_NAME not in response.content.decode()


def test_queue_queries_do_not_grow_with_the_page(
    world: World, organization: Organization, investigator: User, django_assert_num_queries: Any
) -> None:
    for number in range(15):
        left = entity(organization, f"ТОВ «Альфа {number}»")
        right = entity(organization, f"Alfa {number} LLC")
        candidate(left, right, 0.6, [line("name", "альфа", "alfa", 0.9, 40.0)])
    client = login(investigator)
    client.get(reverse("entities:review"))
    # Session, user, two of permissions, membership; count and page of candidates (entities and decider joined);
    # the organisation in the header.
    with django_assert_num_queries(8):
        response = client.get(reverse("entities:review"))
    assert len(articles(parse(response.content))) == 17


# --- decisions -------------------------------------------------------------------------------------------------


def test_confirming_with_htmx_merges_and_swaps_the_match_to_its_decided_state(world: World, investigator: User) -> None:
    assert invoices_between(world.supplier, world.zoria) == 2
    response = login(investigator).post(
        decide_url(world.companies), {"decision": "confirm", "reason": "Той самий код"}, headers=HTMX
    )
    assert response.status_code == 200, response.content
    fragment = parse(response.content)
    assert fragment.find("html") is None
    (article,) = articles(fragment)
    assert article.attrs["id"] == f"candidate-{world.companies.pk}"
    assert "Confirmed: same entity" in article.text()
    assert "investigator" in article.text()
    assert article.find("form") is None, "a decided match has no buttons"

    decided = reload(world.companies)
    assert (decided.status, decided.decided_by, decided.reason) == ("confirmed", investigator, "Той самий код")
    assert reload(world.zoria_latin).merged_into == world.zoria
    merge = EntityMerge.objects.get(absorbed=world.zoria_latin)
    assert (merge.survivor, merge.method, merge.candidate, merge.merged_by) == (
        world.zoria,
        MatchMethod.REVIEW,
        decided,
        investigator,
    )
    assert not EntityMention.objects.filter(entity=world.zoria_latin).exists()
    assert EntityMention.objects.filter(entity=world.zoria, origin_entity=world.zoria_latin).count() == 1
    assert reload(world.zoria).mention_count == 3
    assert invoices_between(world.supplier, world.zoria) == 3, "the relationships follow the merge"
    assert invoices_between(world.supplier, world.zoria_latin) == 0
    assert [changes["status"] for changes in audit_updates(decided)] == [["pending", "confirmed"]]
    assert [changes["merged_into"] for changes in audit_updates(world.zoria_latin)] == [["None", str(world.zoria.pk)]]
    assert LogEntry.objects.get_for_object(merge).filter(action=LogEntry.Action.CREATE).exists()


def test_confirming_without_javascript_redirects_to_the_queue_with_its_filters(
    world: World, investigator: User
) -> None:
    client = login(investigator)
    response = client.post(
        decide_url(world.companies), {"decision": "confirm", "return_query": "kind=company&status=pending&evil=1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("entities:review") + "?kind=company&status=pending"
    document = page(client, response["Location"])
    assert "Confirmed: “ТОВ «Зоря-Схід»” and “PP Zoria-Skhid” are one entity now." in messages_of(document)
    assert articles(document) == []
    assert reload(world.zoria_latin).merged_into == world.zoria


def test_rejecting_records_the_reason_and_keeps_the_entities_apart(world: World, investigator: User) -> None:
    response = login(investigator).post(
        decide_url(world.people), {"decision": "reject", "reason": "Різні РНОКПП"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "Rejected: different entities" in response.content.decode()
    assert "Різні РНОКПП" in response.content.decode()
    decided = reload(world.people)
    assert (decided.status, decided.reason, decided.decided_by) == ("rejected", "Різні РНОКПП", investigator)
    assert reload(world.person).merged_into_id is None
    assert reload(world.person_twin).merged_into_id is None
    assert not EntityMerge.objects.exists()
    assert [changes["status"] for changes in audit_updates(decided)] == [["pending", "rejected"]]


def test_rejecting_without_a_reason_is_refused_with_the_message(world: World, investigator: User) -> None:
    client = login(investigator)
    response = client.post(decide_url(world.people), {"decision": "reject", "reason": "  "}, headers=HTMX)
    assert response.status_code == 400
    (article,) = articles(parse(response.content))
    alert = article.find("p", lambda e: e.attrs.get("role") == "alert")
    assert alert is not None
    assert alert.text() == "Say why these are different entities."
    assert article.find("form") is not None, "still pending: the buttons stay"
    assert reload(world.people).status == MatchCandidate.Status.PENDING

    response = client.post(decide_url(world.people), {"decision": "reject"})
    assert response.status_code == 302
    assert "Say why these are different entities." in messages_of(page(client, response["Location"]))
    assert reload(world.people).status == MatchCandidate.Status.PENDING
    assert audit_updates(world.people) == []


def test_deciding_twice_is_a_clear_error(world: World, investigator: User, supervisor: User) -> None:
    login(investigator).post(decide_url(world.companies), {"decision": "confirm"}, headers=HTMX)
    client = login(supervisor)
    response = client.post(decide_url(world.companies), {"decision": "reject", "reason": "ні"}, headers=HTMX)
    assert response.status_code == 400
    (article,) = articles(parse(response.content))
    assert "This match has already been decided." in article.text()
    assert "Confirmed: same entity" in article.text()
    response = client.post(decide_url(world.companies), {"decision": "reject", "reason": "ні"})
    assert "This match has already been decided." in messages_of(page(client, response["Location"]))
    decided = reload(world.companies)
    assert (decided.status, decided.decided_by) == ("confirmed", investigator)


def test_an_unknown_decision_is_refused(world: World, investigator: User) -> None:
    response = login(investigator).post(decide_url(world.companies), {"decision": "maybe"}, headers=HTMX)
    assert response.status_code == 400
    assert "Choose Confirm or Reject." in response.content.decode()
    assert reload(world.companies).status == MatchCandidate.Status.PENDING


def test_only_post_decides(world: World, investigator: User) -> None:
    assert login(investigator).get(decide_url(world.companies)).status_code == 405


# --- merge and split on the entity page ------------------------------------------------------------------------


def section(document: Element, section_id: str) -> Element:
    found = document.find("section", lambda e: e.attrs.get("id") == section_id)
    assert found is not None, section_id
    return found


def test_the_merge_form_finds_the_entity_by_name_or_number(world: World, investigator: User) -> None:
    client = login(investigator)
    url = reverse("entities:detail", args=[world.zoria.pk])
    document = page(client, f"{url}?merge_q=Zoria")
    form = section(document, "merge").find("form", lambda e: e.attrs.get("method") == "post")
    assert form is not None
    assert form.attrs["action"] == merge_url(world.zoria)
    select = form.find("select")
    assert select is not None
    options = {option.attrs["value"]: option.text() for option in select.find_all("option")}
    assert set(options) == {str(world.zoria_latin.pk)}, "the entity itself is never offered"
    assert options[str(world.zoria_latin.pk)] == f"PP Zoria-Skhid · Company · UA · №{world.zoria_latin.pk}"
    assert unlabelled_fields(document) == []

    by_number = page(client, f"{url}?merge_q={world.supplier.pk}")
    select = section(by_number, "merge").find("select")
    assert select is not None
    assert [o.attrs["value"] for o in select.find_all("option")] == [str(world.supplier.pk)]
    nothing = page(client, f"{url}?merge_q=Марсіанин")
    assert "No other entity matches “Марсіанин”" in section(nothing, "merge").text()
    assert section(nothing, "merge").find("input", lambda e: e.attrs.get("name") == "absorbed") is not None


def test_the_merge_form_is_only_for_those_who_may_merge(world: World, partner: User, investigator: User) -> None:
    url = reverse("entities:detail", args=[world.zoria.pk])
    assert page(login(partner), url).find("section", lambda e: e.attrs.get("id") == "merge") is None
    assert page(login(investigator), url).find("section", lambda e: e.attrs.get("id") == "merge") is not None


def test_manual_merge_then_split_through_the_page(world: World, investigator: User) -> None:
    client = login(investigator)
    response = client.post(
        merge_url(world.zoria), {"absorbed": str(world.zoria_latin.pk), "reason": "Один код ЄДРПОУ у листах"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("entities:detail", args=[world.zoria.pk]) + "#merges"
    merge = EntityMerge.objects.get()
    assert (merge.survivor, merge.absorbed, merge.method, merge.merged_by, merge.reason) == (
        world.zoria,
        world.zoria_latin,
        MatchMethod.MANUAL,
        investigator,
        "Один код ЄДРПОУ у листах",
    )
    assert reload(world.zoria_latin).merged_into == world.zoria
    assert not EntityMention.objects.filter(entity=world.zoria_latin).exists()
    assert invoices_between(world.supplier, world.zoria) == 3
    document = page(client, response["Location"])
    assert "“PP Zoria-Skhid” is merged into this entity" in messages_of(document)
    merges = section(document, "merges")
    split_form = merges.find("form", lambda e: e.attrs.get("action") == split_url(world.zoria, merge))
    assert split_form is not None
    reason = split_form.find("textarea")
    assert reason is not None
    assert "required" in reason.attrs
    assert unlabelled_fields(document) == []

    response = client.post(split_url(world.zoria, merge), {"reason": "Різні підприємства з однаковою назвою"})
    assert response.status_code == 302
    document = page(client, response["Location"])
    assert "The merge is split: “PP Zoria-Skhid” stands alone again" in messages_of(document)
    assert section(document, "merges").find("form") is None, "a split merge cannot be split again"
    merge = reload(merge)
    assert merge.split_at is not None
    assert (merge.split_by, merge.split_reason) == (investigator, "Різні підприємства з однаковою назвою")
    assert reload(world.zoria_latin).merged_into_id is None
    restored = EntityMention.objects.filter(origin_entity=world.zoria_latin)
    assert {mention.entity_id for mention in restored} == {world.zoria_latin.pk}
    assert EntityMention.objects.filter(entity=world.zoria).count() == 2
    assert (reload(world.zoria).mention_count, reload(world.zoria_latin).mention_count) == (2, 1)
    assert invoices_between(world.supplier, world.zoria) == 2
    assert invoices_between(world.supplier, world.zoria_latin) == 1
    remembered = MatchCandidate.objects.get(left=world.zoria, right=world.zoria_latin)
    assert (remembered.status, remembered.reason, remembered.decided_by) == (
        MatchCandidate.Status.REJECTED,
        "Різні підприємства з однаковою назвою",
        investigator,
    )
    assert [changes["merged_into"] for changes in audit_updates(world.zoria_latin)] == [
        ["None", str(world.zoria.pk)],
        [str(world.zoria.pk), "None"],
    ]


def test_a_refused_merge_shows_the_form_again_with_why(world: World, investigator: User) -> None:
    client = login(investigator)
    response = client.post(merge_url(world.zoria), {"absorbed": str(world.zoria_latin.pk), "reason": ""})
    assert response.status_code == 400
    form = section(parse(response.content), "merge")
    assert "This field is required." in form.text()
    absorbed = form.find("input", lambda e: e.attrs.get("name") == "absorbed")
    assert absorbed is not None
    assert absorbed.attrs["value"] == str(world.zoria_latin.pk)

    response = client.post(merge_url(world.zoria), {"absorbed": str(world.person.pk), "reason": "так"})
    assert response.status_code == 400
    document = parse(response.content)
    assert "A person cannot be merged into a company." in section(document, "merge").text()
    assert "The entities were not merged" in messages_of(document)

    response = client.post(merge_url(world.zoria), {"absorbed": str(world.zoria.pk), "reason": "так"})
    assert "An entity cannot be merged with itself." in parse(response.content).text()
    response = client.post(merge_url(world.zoria), {"absorbed": "999999999", "reason": "так"})
    assert "Your organisation has no entity with this number." in parse(response.content).text()
    assert not EntityMerge.objects.exists()


def test_merging_into_an_absorbed_entity_leads_to_its_survivor(world: World, investigator: User) -> None:
    manual_merge(world, investigator)
    client = login(investigator)
    response = client.post(merge_url(world.zoria_latin), {"absorbed": str(world.supplier.pk), "reason": "так"})
    assert response.status_code == 302
    assert response["Location"] == reverse("entities:detail", args=[world.zoria.pk])
    assert "merge into that one" in messages_of(page(client, response["Location"]))
    assert reload(world.supplier).merged_into_id is None


def test_split_needs_a_reason_and_happens_once(world: World, investigator: User) -> None:
    merge = manual_merge(world, investigator)
    client = login(investigator)
    response = client.post(split_url(world.zoria, merge), {"reason": ""})
    assert "Say why the merge was wrong." in messages_of(page(client, response["Location"]))
    assert reload(merge).split_at is None
    assert reload(world.zoria_latin).merged_into == world.zoria

    client.post(split_url(world.zoria, merge), {"reason": "Помилка"})
    response = client.post(split_url(world.zoria, merge), {"reason": "Ще раз"})
    assert "This merge has already been split." in messages_of(page(client, response["Location"]))
    assert reload(merge).split_reason == "Помилка"


def test_merges_deeper_in_the_tree_can_be_split_from_the_survivor(world: World, investigator: User) -> None:
    """Зоря (Latin) absorbed the supplier, then was itself merged into Зоря: Зоря's page lists both merges, and
    the inner one splits without undoing the outer."""
    inner = entity_merge(survivor=world.zoria_latin, absorbed=world.supplier, actor=investigator, reason="a")
    outer = manual_merge(world, investigator)
    client = login(investigator)
    document = page(client, reverse("entities:detail", args=[world.zoria.pk]))
    forms = section(document, "merges").find_all("form")
    assert {form.attrs["action"] for form in forms} == {
        split_url(world.zoria, inner),
        split_url(world.zoria, outer),
    }
    client.post(split_url(world.zoria, inner), {"reason": "Постачальник окремо"})
    assert reload(inner).split_at is not None
    assert reload(world.supplier).merged_into_id is None
    assert reload(world.zoria_latin).merged_into == world.zoria
    assert {m.entity_id for m in EntityMention.objects.filter(origin_entity=world.supplier)} == {world.supplier.pk}
    assert reload(outer).split_at is None


def test_split_of_a_merge_outside_the_entitys_history_is_not_found(world: World, investigator: User) -> None:
    merge = manual_merge(world, investigator)
    response = login(investigator).post(split_url(world.person, merge), {"reason": "ні"})
    assert response.status_code == 404
    assert reload(merge).split_at is None


# --- in a real browser -----------------------------------------------------------------------------------------

# Drives the queue through playwright-core and prints one line "RESULT <json>" with what it saw; the test makes the
# assertions. A refused decision (400) must show its reason in place, an accepted one the decided match, and
# neither may reload the page.
REVIEW_DRIVER = """
import { chromium } from "playwright-core";

const [baseUrl, username, password, refusedId, confirmedId] = process.argv.slice(1);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH,
  args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
});
const result = { pageErrors: [] };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  await page.goto(`${baseUrl}/accounts/login/`);
  await page.fill("#id_username", username);
  await page.fill("#id_password", password);
  await Promise.all([page.waitForURL(`${baseUrl}/`), page.click("main form button[type=submit]")]);
  await page.goto(`${baseUrl}/entities/review/`);
  await page.evaluate(() => { window.notReloaded = true; });

  const refused = `#candidate-${refusedId}`;
  await page.click(`${refused} button[value=reject]`);
  await page.waitForSelector(`${refused} [role=alert]`);
  result.refusedAlert = (await page.textContent(`${refused} [role=alert]`)).trim();
  result.refusedStillHasButtons = await page.isVisible(`${refused} button[value=confirm]`);

  const confirmed = `#candidate-${confirmedId}`;
  await page.fill(`${confirmed} textarea`, "Той самий код");
  await page.click(`${confirmed} button[value=confirm]`);
  await page.waitForFunction((selector) => !document.querySelector(`${selector} form`), confirmed);
  result.confirmedText = (await page.textContent(confirmed)).replace(/\\s+/g, " ").trim();
  result.notReloaded = await page.evaluate(() => window.notReloaded === true);
} catch (error) {
  result.error = String(error && error.stack ? error.stack : error);
} finally {
  await browser.close();
}
console.log("RESULT " + JSON.stringify(result));
"""
browser_tools = browser_conftest.browser_tools
asgi_live_server = browser_conftest.asgi_live_server


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_decisions_swap_in_place_in_a_browser(
    browser_tools: str,
    asgi_live_server: str,
    organization: Organization,
    other_organization: Organization,
    investigator: User,
) -> None:
    """Served in Ukrainian, as the product is by default."""
    world = build_world(organization, other_organization)
    driver = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            REVIEW_DRIVER,
            asgi_live_server,
            investigator.username,
            DEFAULT_PASSWORD,
            str(world.people.pk),
            str(world.companies.pk),
        ],
        cwd=settings.BASE_DIR,
        env={**os.environ, "CHROMIUM_PATH": browser_tools},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    results = [line for line in driver.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, f"the browser driver printed no result: {driver.stdout} {driver.stderr}"
    result = json.loads(results[-1].removeprefix("RESULT "))
    assert "error" not in result, result["error"]
    assert result["pageErrors"] == []
    with translation.override("uk"):
        assert result["refusedAlert"] == translation.gettext("Say why these are different entities.")
        assert str(MatchCandidate.Status.CONFIRMED.label) in result["confirmedText"]
    assert result["refusedStillHasButtons"] is True
    assert result["notReloaded"] is True
    assert reload(world.people).status == MatchCandidate.Status.PENDING
    assert reload(world.companies).status == MatchCandidate.Status.CONFIRMED
    assert reload(world.zoria_latin).merged_into == world.zoria
