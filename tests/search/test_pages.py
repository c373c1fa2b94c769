"""The search page, its HTMX fragment and autocomplete: grouped results, facets, highlights, masking, isolation."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.datasets.models import DatasetStatus, RecordKind
from apps.search.engines.postgres import postgres_index_dataset
from tests.core.test_pages import page, parse, unlabelled_fields
from tests.factories import member
from tests.search.conftest import SOLE_TRADER_RNOKPP, Corpus, dataset_of, declaration

pytestmark = pytest.mark.django_db

SEARCH = reverse("search:search")


def group_titles(document: object, kind: str) -> list[str]:
    section = document.find("section", lambda e: e.attrs.get("aria-labelledby") == f"group-{kind}")  # type: ignore[attr-defined]
    if section is None:
        return []
    return [heading.text() for heading in section.find_all("h3")]


def test_anonymous_visitors_are_sent_to_login(client: Client) -> None:
    response = client.get(SEARCH, {"q": "Зоря"})
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_results_are_grouped_by_kind_with_highlights_engines_and_add_to_case(
    client: Client, investigator: User, corpus: Corpus
) -> None:
    client.force_login(investigator)
    document = page(client, f"{SEARCH}?q=Зоря")
    assert unlabelled_fields(document) == []
    entities = group_titles(document, "entity")
    declarations = group_titles(document, "customs_declaration")
    assert entities[0].startswith("ТОВ «Зоря-Схід»")
    assert declarations[0].startswith("UA500500/2024/000123")
    assert group_titles(document, "tax_invoice")[0].startswith("1045")
    marks = [mark.text() for mark in document.find_all("mark")]
    assert "Зоря" in marks
    engines = " ".join(
        p.text() for p in document.find_all("p", lambda e: e.attrs.get("class") == "search-result__engines")
    )
    assert "PostgreSQL full-text" in engines
    assert "PostgreSQL fuzzy names" in engines
    add_links = [a.attrs["href"] for a in document.find_all("a") if a.text() == "Add to case"]
    assert f"{reverse('cases:case-create')}?entity={corpus.zoria_entity.pk}" in add_links
    assert f"{reverse('cases:case-create')}?record=customs_declaration%3A{corpus.zoria.pk}" in add_links


def test_facets_count_matches_and_filter_by_link(client: Client, investigator: User, corpus: Corpus) -> None:
    client.force_login(investigator)
    document = page(client, f"{SEARCH}?q=митниця")
    facets = document.find("aside")
    assert facets is not None
    text = facets.text()
    assert "CN (2)" in text
    assert "84 (1)" in text
    assert "UA100000 (2)" in text
    country = facets.find("a", lambda e: e.text() == "PL")
    assert country is not None
    filtered = page(client, f"{SEARCH}{country.attrs['href']}")
    assert [title.split(" ")[0] for title in group_titles(filtered, "customs_declaration")] == ["UA110110/2024/000456"]


def test_htmx_gets_the_results_fragment_only(client: Client, investigator: User, corpus: Corpus) -> None:
    client.force_login(investigator)
    response = client.get(SEARCH, {"q": "ноутбук"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = response.content.decode()
    assert content.startswith('<div id="search-results"')
    assert "<html" not in content
    assert "UA100100/2024/000789" in content


def test_personal_values_show_as_tokens_and_are_not_found_in_clear(
    client: Client, investigator: User, corpus: Corpus
) -> None:
    client.force_login(investigator)
    document = page(client, f"{SEARCH}?q=взуття")
    titles = group_titles(document, "customs_declaration")
    assert titles[0].startswith("UA100100/2024/000790")
    content = str(client.get(SEARCH, {"q": "взуття"}).content.decode())
    assert corpus.shoes.trader_name in content
    assert "Петренко" not in content
    nothing = page(client, f"{SEARCH}?q={SOLE_TRADER_RNOKPP}")
    assert "Nothing found" in nothing.text()


def test_another_organisations_records_are_never_found(
    client: Client, outsider: User, corpus: Corpus, other_organization: Organization
) -> None:
    own = dataset_of(other_organization, RecordKind.CUSTOMS_DECLARATION, "Чужі")
    declaration(own, "UA999/2024/1", trader_name="ТОВ «Зоря-Захід»", goods_description="Риба")
    postgres_index_dataset(dataset_id=own.pk)
    client.force_login(outsider)
    document = page(client, f"{SEARCH}?q=Зоря")
    assert [t.split(" ")[0] for t in group_titles(document, "customs_declaration")] == ["UA999/2024/1"]
    assert group_titles(document, "entity") == []
    assert "Зоря-Схід" not in document.text()


def test_records_of_datasets_still_loading_are_not_found(
    client: Client, investigator: User, organization: Organization
) -> None:
    loading = dataset_of(organization, RecordKind.CUSTOMS_DECLARATION, "Ще вантажиться", status=DatasetStatus.RUNNING)
    declaration(loading, "UA1/2024/1", goods_description="Кава смажена")
    # Indexed all the same: what hides it is the dataset's status.
    postgres_index_dataset(dataset_id=loading.pk)
    client.force_login(investigator)
    assert "Nothing found" in page(client, f"{SEARCH}?q=кава").text()


def test_a_partner_searches_entities_only(client: Client, organization: Organization, corpus: Corpus) -> None:
    partner = member(Role.PARTNER, organization, username="partner-search")
    client.force_login(partner)
    document = page(client, f"{SEARCH}?q=Зоря")
    assert group_titles(document, "entity")
    assert group_titles(document, "customs_declaration") == []


def test_a_member_without_any_permission_is_refused(client: Client, organization: Organization) -> None:
    user = member(Role.PARTNER, organization, username="nobody")
    user.groups.clear()
    client.force_login(user)
    assert client.get(SEARCH, {"q": "Зоря"}).status_code == 403


def test_invalid_filters_are_reported_not_searched(client: Client, investigator: User, corpus: Corpus) -> None:
    client.force_login(investigator)
    document = page(client, f"{SEARCH}?q=риба&country=C1&date_from=2024-05-01&date_to=2024-01-01")
    alert = document.find("div", lambda e: e.attrs.get("role") == "alert")
    assert alert is not None
    assert "A country is two Latin letters" in alert.text()
    assert "The start date is after the end date." in alert.text()
    assert document.find("section", lambda e: e.attrs.get("aria-labelledby", "").startswith("group-")) is None


def test_autocomplete_suggests_names_in_any_script_and_codes_without_zeros(
    client: Client, investigator: User, corpus: Corpus
) -> None:
    client.force_login(investigator)
    url = reverse("search:autocomplete")
    for text in ("Zor", "зоря", "1234", "001234"):
        document = parse(client.get(url, {"q": text}).content)
        options = [option.attrs["href"] for option in document.find_all("a")]
        assert options, text
        assert options[0] == reverse("entities:detail", args=[corpus.zoria_entity.pk]), text
    person = parse(client.get(url, {"q": "PII-name"}).content)
    assert person.find_all("a") == []


def test_the_page_loads_the_keyboard_script(client: Client, investigator: User) -> None:
    client.force_login(investigator)
    document = page(client, SEARCH)
    scripts = [s.attrs.get("src", "") for s in document.find_all("script")]
    assert any(src.endswith("js/search.js") for src in scripts)
    box = document.find("input", lambda e: e.attrs.get("name") == "q")
    assert box is not None
    assert box.attrs["role"] == "combobox"
    assert box.attrs["hx-get"] == reverse("search:autocomplete")


def test_cases_are_found_by_title_and_description_only_by_those_who_see_them(
    client: Client, organization: Organization, supervisor: User, investigator: User, corpus: Corpus
) -> None:
    from apps.cases.services import case_create

    case = case_create(
        actor=supervisor,
        organization=organization,
        title="Заниження вартості риби",
        description="Поставки хека через Одесу",
        lead=supervisor,
    )
    client.force_login(supervisor)
    document = page(client, f"{SEARCH}?q=хека&kind=case")
    titles = group_titles(document, "case")
    assert len(titles) == 1
    assert titles[0].startswith("Заниження вартості риби")
    link = document.find("a", lambda e: e.attrs.get("href") == reverse("cases:detail", args=[case.pk]))
    assert link is not None
    client.force_login(investigator)
    assert group_titles(page(client, f"{SEARCH}?q=хека&kind=case"), "case") == []
