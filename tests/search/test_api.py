"""The search API: one paginated list over the kinds the caller may read, autocomplete, saved searches."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.search.models import SavedSearch
from tests.api_testing import api_key_client
from tests.factories import member
from tests.search.conftest import SOLE_TRADER_NAME, Corpus

pytestmark = pytest.mark.django_db

SEARCH = reverse("api:search")


def test_search_needs_an_api_key() -> None:
    from rest_framework.test import APIClient

    assert APIClient().get(SEARCH, {"q": "Зоря"}).status_code in (401, 403)


def test_results_are_paginated_across_kinds_with_engines_and_masking(investigator: User, corpus: Corpus) -> None:
    client = api_key_client(investigator)
    first = client.get(SEARCH, {"q": "Зоря", "page_size": 2})
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["count"] >= 4
    assert len(body["results"]) == 2
    assert body["next"] is not None
    kinds = {result["kind"] for result in body["results"]}
    assert kinds <= {"entity", "customs_declaration", "tax_invoice", "document"}
    second = client.get(body["next"]).json()
    keys = {(r["kind"], r["id"]) for r in body["results"]}
    assert not keys & {(r["kind"], r["id"]) for r in second["results"]}
    everything = client.get(SEARCH, {"q": "Зоря", "page_size": 50}).json()["results"]
    by_key = {(r["kind"], r["id"]): r for r in everything}
    entity = by_key[("entity", corpus.zoria_entity.pk)]
    assert set(entity["engines"]) == {"trigram"}
    declaration = by_key[("customs_declaration", corpus.zoria.pk)]
    assert declaration["engines"] == ["postgres"]
    assert any("<mark>Зоря</mark>" in fragment for r in everything for fragment in r["highlights"])


def test_masked_fields_are_flagged_and_clear_values_never_returned(investigator: User, corpus: Corpus) -> None:
    client = api_key_client(investigator)
    response = client.get(SEARCH, {"q": "взуття", "kind": "customs_declaration"})
    results = response.json()["results"]
    assert [r["id"] for r in results] == [corpus.shoes.pk]
    trader = next(field for field in results[0]["fields"] if field["label"] == "Trader")
    assert trader == {"label": "Trader", "value": corpus.shoes.trader_name, "masked": True}
    assert SOLE_TRADER_NAME not in response.content.decode()
    assert client.get(SEARCH, {"q": SOLE_TRADER_NAME}).json()["count"] == 0


def test_filters_and_their_errors(investigator: User, corpus: Corpus) -> None:
    client = api_key_client(investigator)
    found = client.get(SEARCH, {"q": "митниця", "kind": "customs_declaration", "country": "CN"}).json()
    assert sorted(r["id"] for r in found["results"]) == sorted([corpus.zoria.pk, corpus.laptops.pk])
    assert client.get(SEARCH, {"q": ""}).status_code == 400
    bad = client.get(SEARCH, {"q": "x", "kind": "nothing"})
    assert bad.status_code == 400
    assert "kind" in bad.json()


def test_other_organisations_see_nothing_of_ours(outsider: User, corpus: Corpus) -> None:
    results = api_key_client(outsider).get(SEARCH, {"q": "Зоря"}).json()
    assert results["count"] == 0


def test_a_partner_gets_entities_only(organization: Organization, corpus: Corpus) -> None:
    partner = member(Role.PARTNER, organization, username="api-partner")
    results = api_key_client(partner).get(SEARCH, {"q": "Зоря"}).json()["results"]
    assert results
    assert {r["kind"] for r in results} == {"entity"}


def test_autocomplete(investigator: User, corpus: Corpus) -> None:
    response = api_key_client(investigator).get(reverse("api:search-autocomplete"), {"q": "Zori"})
    assert response.status_code == 200
    assert response.json()[0] == {"label": "ТОВ «Зоря-Схід»", "detail": "Company", "entity_id": corpus.zoria_entity.pk}


def test_autocomplete_matches_the_start_of_any_word_of_the_name(investigator: User, corpus: Corpus) -> None:
    client = api_key_client(investigator)

    def suggested(text: str) -> list[int]:
        response = client.get(reverse("api:search-autocomplete"), {"q": text})
        assert response.status_code == 200
        return [suggestion["entity_id"] for suggestion in response.json()]

    # A later word of the name, in either script; every typed word must start a word of the name.
    assert suggested("Агр") == [corpus.agro_entity.pk]
    assert suggested("agro dnip") == [corpus.agro_entity.pk]
    assert suggested("схід зор") == [corpus.zoria_entity.pk]
    assert suggested("Схід Агро") == []
    # A legal form alone is no name.
    assert suggested("ТОВ") == []


def test_saved_searches_belong_to_their_owner(investigator: User, supervisor: User, corpus: Corpus) -> None:
    client = api_key_client(investigator)
    created = client.post(
        reverse("api:saved-search-list"),
        {"name": "Риба", "params": {"q": "риба", "kind": ["customs_declaration"]}},
        format="json",
    )
    assert created.status_code == 201, created.content
    saved = SavedSearch.objects.get(pk=created.json()["id"])
    assert saved.owner == investigator
    assert saved.params == {"q": "риба", "kind": ["customs_declaration"]}
    assert saved.seen_hits == [f"customs_declaration:{corpus.zoria.pk}"]
    other = api_key_client(supervisor)
    assert other.get(reverse("api:saved-search-list")).json()["results"] == []
    assert other.delete(reverse("api:saved-search-detail", args=[saved.pk])).status_code == 404
    invalid = client.post(reverse("api:saved-search-list"), {"name": "x", "params": {"q": ""}}, format="json")
    assert invalid.status_code == 400
    assert client.delete(reverse("api:saved-search-detail", args=[saved.pk])).status_code == 204
    assert not SavedSearch.objects.filter(pk=saved.pk).exists()
