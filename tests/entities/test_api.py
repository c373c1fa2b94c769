"""The entities API: the permission matrix of every endpoint, organisation isolation, the reads (entities,
relationships, neighbourhood, records), the writes (merge, split, review decisions), and that no answer carries a
clear personal value.

Every request carries a real API key. The graph is the one of ``test_review`` (two spellings of Зоря-Схід, a
supplier invoicing both, two masked person profiles, candidates), written with the ORM and the resolver's own
refresh and rebuild.
"""

from __future__ import annotations

from typing import Any

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.entities.models import (
    Entity,
    EntityMention,
    EntityMerge,
    MatchCandidate,
    MatchMethod,
    RelationshipKind,
)
from apps.entities.services import entity_merge
from tests.api_testing import APIViewTestCases, api_key_client, assert_asks_for_api_key, grant
from tests.entities.test_review import (
    CANARY_BIRTH,
    CANARY_NAME,
    World,
    build_world,
    candidate,
    entity,
    invoices_between,
    line,
    reload,
    spare_merge,
)
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(organization: Organization, other_organization: Organization) -> World:
    return build_world(organization, other_organization)


@pytest.fixture
def investigator_api(investigator: User) -> APIClient:
    return api_key_client(investigator)


@pytest.fixture
def partner_api(partner: User) -> APIClient:
    return api_key_client(partner)


# --- the shared matrix: anonymous, no permission, view permission, another organisation --------------------------


class TestEntityAPI(APIViewTestCases.GetObject, APIViewTestCases.ListObjects):
    model = Entity
    url_basename = "api:entity"
    # key lookup, last_used_at, user permissions, group permissions, count, page
    list_queries = 6

    def create_object(self, organization: Organization) -> Entity:
        return entity(organization, f"ТОВ «Об'єкт {organization.slug}»")


class TestMatchCandidateAPI(APIViewTestCases.GetObject, APIViewTestCases.ListObjects):
    model = MatchCandidate
    url_basename = "api:match-candidate"
    # key lookup, last_used_at, user permissions, group permissions, count, page (both entities and decider joined)
    list_queries = 6

    def create_object(self, organization: Organization) -> MatchCandidate:
        left = entity(organization, "ТОВ «Ліва»")
        right = entity(organization, "Liva LLC")
        return candidate(left, right, 0.7, [line("name", "ліва", "liva", 0.9, 40.0)])


class TestEntityMergeAPI(APIViewTestCases.GetObject, APIViewTestCases.ListObjects):
    model = EntityMerge
    url_basename = "api:merge"
    # key lookup, last_used_at, user permissions, group permissions, count, page (entities and users joined)
    list_queries = 6

    def create_object(self, organization: Organization) -> EntityMerge:
        survivor = entity(organization, "ТОВ «Ліва»")
        absorbed = entity(organization, "Liva LLC")
        return entity_merge(survivor=survivor, absorbed=absorbed, actor=None, reason="Один код")


# --- every endpoint, every caller ------------------------------------------------------------------------------


def endpoints(world: World, merge: EntityMerge) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """name → (method, url, body) for every endpoint, each aimed at the organisation's own objects."""

    def entity_url(name: str, target: Entity = world.zoria) -> str:
        return reverse(f"api:entity-{name}", kwargs={"pk": target.pk})

    return {
        "entity list": ("get", reverse("api:entity-list"), {}),
        "entity detail": ("get", entity_url("detail"), {}),
        "relationships": ("get", entity_url("relationships"), {}),
        "neighbourhood": ("get", entity_url("neighbourhood"), {}),
        "mentions": ("get", entity_url("mentions"), {}),
        "merge": ("post", entity_url("merge"), {"absorbed_id": world.supplier.pk, "reason": "так"}),
        "merge list": ("get", reverse("api:merge-list"), {}),
        "merge detail": ("get", reverse("api:merge-detail", kwargs={"pk": merge.pk}), {}),
        "split": ("post", reverse("api:merge-split", kwargs={"pk": merge.pk}), {"reason": "ні"}),
        "candidate list": ("get", reverse("api:match-candidate-list"), {}),
        "candidate detail": ("get", reverse("api:match-candidate-detail", kwargs={"pk": world.companies.pk}), {}),
        "decide": (
            "post",
            reverse("api:match-candidate-decide", kwargs={"pk": world.companies.pk}),
            {"confirmed": True},
        ),
    }


PARTNER_READS = {"entity list", "entity detail", "relationships", "neighbourhood"}
LISTS = {"entity list", "merge list", "candidate list"}


def call(client: APIClient, method: str, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, format="json") if method == "post" else client.get(url)


def assert_nothing_written(world: World, merge: EntityMerge) -> None:
    assert reload(world.supplier).merged_into_id is None
    assert reload(merge).split_at is None
    assert reload(world.companies).status == MatchCandidate.Status.PENDING


def test_anonymous_callers_are_asked_for_an_api_key(world: World, investigator: User) -> None:
    merge = spare_merge(world, investigator)
    for method, url, body in endpoints(world, merge).values():
        assert_asks_for_api_key(call(APIClient(), method, url, body))
    assert_nothing_written(world, merge)


def test_a_user_without_an_organisation_is_refused(world: World, investigator: User) -> None:
    merge = spare_merge(world, investigator)
    client = APIClient()
    client.force_login(UserFactory())
    for name, (method, url, body) in endpoints(world, merge).items():
        assert call(client, method, url, body).status_code == 403, name


def test_a_member_without_permissions_is_refused_everywhere(
    world: World, organization: Organization, investigator: User
) -> None:
    merge = spare_merge(world, investigator)
    user = member(Role.INVESTIGATOR, organization)
    user.groups.clear()
    client = api_key_client(user)
    for name, (method, url, body) in endpoints(world, merge).items():
        response = call(client, method, url, body)
        assert response.status_code == 403, (name, response.content)
        assert response.json()["detail"].startswith("You do not have permission to"), name
    assert_nothing_written(world, merge)


def test_a_partner_reads_entities_and_relationships_and_nothing_else(
    world: World, partner_api: APIClient, investigator: User
) -> None:
    merge = spare_merge(world, investigator)
    for name, (method, url, body) in endpoints(world, merge).items():
        response = call(partner_api, method, url, body)
        expected = 200 if name in PARTNER_READS else 403
        assert response.status_code == expected, (name, response.content)
    assert_nothing_written(world, merge)
    response = partner_api.get(reverse("api:entity-mentions", kwargs={"pk": world.zoria.pk}))
    assert response.json()["detail"] == "You do not have permission to view mentions."
    response = partner_api.post(
        reverse("api:entity-merge", kwargs={"pk": world.zoria.pk}), {"absorbed_id": 1, "reason": "x"}, format="json"
    )
    assert response.json()["detail"] == "You do not have permission to change entities."


def test_an_investigator_reaches_every_endpoint(world: World, investigator_api: APIClient, investigator: User) -> None:
    merge = spare_merge(world, investigator)
    expected = {"merge": 201}
    for name, (method, url, body) in endpoints(world, merge).items():
        response = call(investigator_api, method, url, body)
        assert response.status_code == expected.get(name, 200), (name, response.content)


def test_another_organisation_never_sees_nor_reaches_an_entity(
    world: World, outsider: User, investigator: User
) -> None:
    """The outsider is an administrator of another organisation, with every entity permission there."""
    merge = spare_merge(world, investigator)
    client = api_key_client(outsider)
    for name, (method, url, body) in endpoints(world, merge).items():
        response = call(client, method, url, body)
        if name in LISTS:
            assert response.status_code == 200, name
            listed = {row["id"] for row in response.json()["results"]}
            assert not listed & {world.zoria.pk, world.companies.pk, merge.pk}, name
        else:
            assert response.status_code == 404, (name, response.content)
    assert_nothing_written(world, merge)
    for query in ({"q": "32855961"}, {"q": "Зоря"}, {"country": "UA"}):
        names = {row["name"] for row in client.get(reverse("api:entity-list"), query).json()["results"]}
        assert "ТОВ «Зоря-Схід»" not in names, query
    # Their own entity cannot take one of ours in, nor be merged into one of ours.
    response = client.post(
        reverse("api:entity-merge", kwargs={"pk": world.other_entity.pk}),
        {"absorbed_id": world.zoria.pk, "reason": "так"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"absorbed_id": ["Your organisation has no entity with this id."]}
    assert reload(world.zoria).merged_into_id is None


# --- entities --------------------------------------------------------------------------------------------------


def listed(client: APIClient, **query: str) -> list[str]:
    response = client.get(reverse("api:entity-list"), query)
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def test_list_searches_and_filters_and_leaves_merged_entities_out(
    world: World, partner_api: APIClient, investigator: User
) -> None:
    assert listed(partner_api, q="32855961") == ["ТОВ «Зоря-Схід»"], "an ЄДРПОУ exactly"
    assert listed(partner_api, q="3285596") == []
    assert set(listed(partner_api, q="Zoria Skhid")) == {"ТОВ «Зоря-Схід»", "PP Zoria-Skhid"}
    assert listed(partner_api, kind="person") == [world.person_token, world.person_token]
    assert listed(partner_api, kind="company", country="cn") == []
    assert len(listed(partner_api, country="UA")) == 8
    assert listed(partner_api, q=CANARY_NAME) == [], "a clear personal name finds nothing"
    entity_merge(survivor=world.zoria, absorbed=world.zoria_latin, actor=investigator, reason="Один код")
    assert listed(partner_api, q="Zoria Skhid") == ["ТОВ «Зоря-Схід»"]
    response = partner_api.get(reverse("api:entity-list"), {"kind": "spaceship", "country": "Ukraine"})
    assert response.status_code == 400
    assert set(response.json()) == {"kind", "country"}


def test_detail_has_identifiers_names_and_graph_metrics(world: World, investigator_api: APIClient) -> None:
    Entity.objects.filter(pk=world.zoria.pk).update(degree=1, pagerank=0.25, community=3)
    body = investigator_api.get(reverse("api:entity-detail", kwargs={"pk": world.zoria.pk})).json()
    assert body["id"] == world.zoria.pk
    assert (body["kind"], body["name"], body["country"], body["is_pii"]) == ("company", "ТОВ «Зоря-Схід»", "UA", False)
    assert (body["degree"], body["pagerank"], body["community"], body["mention_count"]) == (1, 0.25, 3, 2)
    assert body["identifiers"] == [{"scheme": "edrpou", "value": "32855961", "is_valid": True}]
    assert body["names"] == [{"name": "ТОВ «Зоря-Схід»", "country": "UA", "mention_count": 0}]
    assert body["url"].endswith(reverse("api:entity-detail", kwargs={"pk": world.zoria.pk}))


def test_a_partner_sees_no_identifiers_or_names_it_may_not_view(world: World, partner_api: APIClient) -> None:
    body = partner_api.get(reverse("api:entity-detail", kwargs={"pk": world.zoria.pk})).json()
    assert (body["identifiers"], body["names"]) == ([], [])
    assert body["name"] == "ТОВ «Зоря-Схід»"


def test_an_absorbed_entity_answers_as_its_survivor(
    world: World, investigator_api: APIClient, investigator: User
) -> None:
    entity_merge(survivor=world.zoria, absorbed=world.zoria_latin, actor=investigator, reason="Один код")
    for name in ("detail", "relationships", "neighbourhood", "mentions"):
        response = investigator_api.get(reverse(f"api:entity-{name}", kwargs={"pk": world.zoria_latin.pk}))
        assert response.status_code == 200, name
    detail = investigator_api.get(reverse("api:entity-detail", kwargs={"pk": world.zoria_latin.pk})).json()
    assert detail["id"] == world.zoria.pk
    assert detail["mention_count"] == 3
    graph = investigator_api.get(reverse("api:entity-neighbourhood", kwargs={"pk": world.zoria_latin.pk})).json()
    assert graph["center"] == world.zoria.pk


def test_relationships_in_both_directions_filtered_by_kind(world: World, partner_api: APIClient) -> None:
    url = reverse("api:entity-relationships", kwargs={"pk": world.zoria.pk})
    body = partner_api.get(url).json()
    assert body["count"] == 1
    (invoices,) = body["results"]
    assert (invoices["kind"], invoices["direction"], invoices["record_count"]) == ("invoices", "incoming", 2)
    assert (invoices["source"], invoices["target"]) == (world.supplier.pk, world.zoria.pk)
    assert invoices["other"] == {
        "id": world.supplier.pk,
        "kind": "company",
        "name": "ПП «Постач»",
        "country": "UA",
        "is_pii": False,
    }
    assert (invoices["first_date"], invoices["last_date"], invoices["amount_uah"]) == (
        "2023-01-01",
        "2023-01-02",
        "2000.00",
    )
    seller_side = partner_api.get(reverse("api:entity-relationships", kwargs={"pk": world.supplier.pk})).json()
    assert {(row["other"]["id"], row["direction"]) for row in seller_side["results"]} == {
        (world.zoria.pk, "outgoing"),
        (world.zoria_latin.pk, "outgoing"),
    }
    assert partner_api.get(url, {"kind": RelationshipKind.DIRECTOR_OF}).json()["count"] == 0
    response = partner_api.get(url, {"kind": "enemy_of"})
    assert response.status_code == 400
    assert "kind" in response.json()


def test_neighbourhood_with_hops_kinds_and_dates(world: World, partner_api: APIClient) -> None:
    url = reverse("api:entity-neighbourhood", kwargs={"pk": world.zoria.pk})
    one = partner_api.get(url).json()
    assert {node["id"] for node in one["nodes"]} == {world.zoria.pk, world.supplier.pk}
    assert one["center"] == world.zoria.pk
    assert one["truncated"] is False
    (edge,) = one["edges"]
    assert (edge["source"], edge["target"], edge["kind"], edge["record_count"]) == (
        world.supplier.pk,
        world.zoria.pk,
        "invoices",
        2,
    )
    two = partner_api.get(url, {"hops": "2"}).json()
    assert {node["id"]: node["hop"] for node in two["nodes"]} == {
        world.zoria.pk: 0,
        world.supplier.pk: 1,
        world.zoria_latin.pk: 2,
    }
    assert [node["id"] for node in partner_api.get(url, {"kinds": "director_of"}).json()["nodes"]] == [world.zoria.pk]
    assert len(partner_api.get(url, {"from": "2024-01-01"}).json()["nodes"]) == 1
    assert len(partner_api.get(url, {"to": "2023-01-01"}).json()["nodes"]) == 2
    for params, parameter in (
        ({"hops": "3"}, "hops"),
        ({"kinds": "loves"}, "kinds"),
        ({"from": "вчора"}, "from"),
        ({"from": "2023-02-01", "to": "2023-01-01"}, "to"),
    ):
        response = partner_api.get(url, params)
        assert response.status_code == 400, params
        assert list(response.json()) == [parameter]


def test_mentions_trace_the_entity_to_its_records(world: World, investigator_api: APIClient) -> None:
    body = investigator_api.get(reverse("api:entity-mentions", kwargs={"pk": world.zoria.pk})).json()
    assert body["count"] == 2
    latest = body["results"][0]
    assert {key: latest[key] for key in ("record_kind", "record_id", "role", "date", "method", "score")} == {
        "record_kind": "tax_invoice",
        "record_id": 102,
        "role": "buyer",
        "date": "2023-01-02",
        "method": "identifier",
        "score": 1.0,
    }
    assert (latest["dataset"], latest["dataset_name"]) == (world.dataset.pk, "Податкові накладні 2023")
    assert [row["record_id"] for row in body["results"]] == [102, 101]


# --- writes ----------------------------------------------------------------------------------------------------


def test_merge_moves_the_records_and_is_audited(world: World, investigator_api: APIClient, investigator: User) -> None:
    response = investigator_api.post(
        reverse("api:entity-merge", kwargs={"pk": world.zoria.pk}),
        {"absorbed_id": world.zoria_latin.pk, "reason": "Один код ЄДРПОУ"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["survivor"]["id"], body["absorbed"]["id"]) == (world.zoria.pk, world.zoria_latin.pk)
    assert (body["method"], body["merged_by"], body["reason"], body["split_at"]) == (
        "manual",
        "investigator",
        "Один код ЄДРПОУ",
        None,
    )
    assert reload(world.zoria_latin).merged_into == world.zoria
    assert EntityMention.objects.filter(entity=world.zoria).count() == 3
    assert invoices_between(world.supplier, world.zoria) == 3
    merge = EntityMerge.objects.get(pk=body["id"])
    assert merge.merged_by == investigator
    entry = LogEntry.objects.get_for_object(world.zoria_latin).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.changes_dict["merged_into"] == ["None", str(world.zoria.pk)]
    assert entry.actor == investigator, "the API key's user is the audit actor"


def test_merge_errors_are_400_with_the_reason(world: World, investigator_api: APIClient) -> None:
    url = reverse("api:entity-merge", kwargs={"pk": world.zoria.pk})

    def merge(body: dict[str, Any]) -> Any:
        response = investigator_api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        return response.json()

    assert set(merge({"absorbed_id": world.zoria_latin.pk})) == {"reason"}
    assert merge({"absorbed_id": world.zoria.pk, "reason": "так"}) == {
        "detail": "An entity cannot be merged with itself."
    }
    assert merge({"absorbed_id": world.person.pk, "reason": "так"}) == {
        "detail": "A person cannot be merged into a company."
    }
    assert merge({"absorbed_id": 999_999_999, "reason": "так"}) == {
        "absorbed_id": ["Your organisation has no entity with this id."]
    }
    assert not EntityMerge.objects.exists()


def test_split_restores_the_records_and_remembers_the_pair(
    world: World, investigator_api: APIClient, investigator: User
) -> None:
    merge = entity_merge(survivor=world.zoria, absorbed=world.zoria_latin, actor=investigator, reason="Один код")
    url = reverse("api:merge-split", kwargs={"pk": merge.pk})
    assert investigator_api.post(url, {"reason": ""}, format="json").status_code == 400
    response = investigator_api.post(url, {"reason": "Різні підприємства"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["split_at"] is not None
    assert (body["split_by"], body["split_reason"]) == ("investigator", "Різні підприємства")
    assert reload(world.zoria_latin).merged_into_id is None
    assert {m.entity_id for m in EntityMention.objects.filter(origin_entity=world.zoria_latin)} == {
        world.zoria_latin.pk
    }
    assert invoices_between(world.supplier, world.zoria_latin) == 1
    remembered = MatchCandidate.objects.get(left=world.zoria, right=world.zoria_latin)
    assert remembered.status == MatchCandidate.Status.REJECTED
    again = investigator_api.post(url, {"reason": "Ще раз"}, format="json")
    assert again.status_code == 400
    assert again.json() == {"detail": "This merge has already been split."}
    listed_merges = investigator_api.get(reverse("api:merge-list"), {"entity": str(world.zoria_latin.pk)}).json()
    assert [row["id"] for row in listed_merges["results"]] == [merge.pk]
    assert investigator_api.get(reverse("api:merge-list"), {"entity": "x"}).status_code == 400


def candidate_ids(client: APIClient, **query: str) -> list[int]:
    response = client.get(reverse("api:match-candidate-list"), query)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_candidates_list_pending_first_by_score_with_filters(world: World, investigator_api: APIClient) -> None:
    assert candidate_ids(investigator_api) == [world.companies.pk, world.people.pk]
    assert candidate_ids(investigator_api, kind="person") == [world.people.pk]
    assert candidate_ids(investigator_api, status="rejected") == [world.rejected.pk]
    assert candidate_ids(investigator_api, status="all") == [world.companies.pk, world.people.pk, world.rejected.pk]
    response = investigator_api.get(reverse("api:match-candidate-list"), {"status": "maybe"})
    assert response.status_code == 400
    assert "status" in response.json()
    body = investigator_api.get(reverse("api:match-candidate-detail", kwargs={"pk": world.companies.pk})).json()
    assert body["left"]["name"] == "ТОВ «Зоря-Схід»"
    assert body["right"]["name"] == "PP Zoria-Skhid"
    assert body["explanation"][0] == {
        "field": "name",
        "label": "Name",
        "left": "зоря схід",
        "right": "zoria skhid",
        "similarity": 0.93,
        "weight": 40.0,
        "contribution": 37.2,
    }


def test_confirming_a_candidate_merges(world: World, investigator_api: APIClient, investigator: User) -> None:
    url = reverse("api:match-candidate-decide", kwargs={"pk": world.companies.pk})
    response = investigator_api.post(url, {"confirmed": True}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["decided_by"]) == ("confirmed", "investigator")
    merge = EntityMerge.objects.get()
    assert (merge.survivor, merge.absorbed, merge.method, merge.candidate_id) == (
        world.zoria,
        world.zoria_latin,
        MatchMethod.REVIEW,
        world.companies.pk,
    )
    assert EntityMention.objects.filter(entity=world.zoria).count() == 3
    again = investigator_api.post(url, {"confirmed": False, "reason": "ні"}, format="json")
    assert again.status_code == 400
    assert again.json() == {"detail": "This match has already been decided."}
    assert reload(world.companies).status == MatchCandidate.Status.CONFIRMED


def test_rejecting_a_candidate_needs_a_reason(world: World, investigator_api: APIClient) -> None:
    url = reverse("api:match-candidate-decide", kwargs={"pk": world.people.pk})
    response = investigator_api.post(url, {"confirmed": False}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Say why these are different entities."}
    assert investigator_api.post(url, {"reason": "ні"}, format="json").status_code == 400
    response = investigator_api.post(url, {"confirmed": False, "reason": "Різні РНОКПП"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["reason"]) == ("rejected", "Різні РНОКПП")
    assert reload(world.person).merged_into_id is None
    assert not EntityMerge.objects.exists()


def test_a_viewer_of_candidates_may_not_decide(world: World, organization: Organization) -> None:
    viewer = member(Role.PARTNER, organization)
    viewer.groups.clear()
    grant(viewer, MatchCandidate, "view")
    client = api_key_client(viewer)
    assert client.get(reverse("api:match-candidate-list")).status_code == 200
    url = reverse("api:match-candidate-decide", kwargs={"pk": world.companies.pk})
    response = client.post(url, {"confirmed": True}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "You do not have permission to change match candidates."
    assert reload(world.companies).status == MatchCandidate.Status.PENDING


# --- personal data ---------------------------------------------------------------------------------------------


def test_no_answer_carries_a_clear_personal_value(world: World, supervisor: User) -> None:
    """The vault holds the clear name and date of birth; every answer about the person carries only tokens, even
    for a supervisor, who may unlock personal data elsewhere."""
    client = api_key_client(supervisor)
    person = {"pk": world.person.pk}
    answers = {
        "list": client.get(reverse("api:entity-list"), {"kind": "person"}),
        "search": client.get(reverse("api:entity-list"), {"q": world.person_token}),
        "detail": client.get(reverse("api:entity-detail", kwargs=person)),
        "relationships": client.get(reverse("api:entity-relationships", kwargs=person)),
        "neighbourhood": client.get(reverse("api:entity-neighbourhood", kwargs=person)),
        "mentions": client.get(reverse("api:entity-mentions", kwargs=person)),
        "candidates": client.get(reverse("api:match-candidate-list"), {"kind": "person"}),
        "candidate": client.get(reverse("api:match-candidate-detail", kwargs={"pk": world.people.pk})),
    }
    for name, response in answers.items():
        assert response.status_code == 200, name
        content = response.content.decode()
        assert CANARY_NAME not in content, name
        assert "Канарейко" not in content, name
        assert CANARY_BIRTH not in content, name
    assert world.person_token in answers["detail"].content.decode()
    assert world.birth_token in answers["candidate"].content.decode()
    decided = client.post(
        reverse("api:match-candidate-decide", kwargs={"pk": world.people.pk}), {"confirmed": True}, format="json"
    )
    assert decided.status_code == 200
    assert CANARY_NAME not in decided.content.decode()
