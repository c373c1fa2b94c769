"""The entity pages: list and search, an entity's page with its fragments, the graph view's JSON, and the static
vis-network file.

The graph is written with the ORM as the resolver leaves it: entities with names, identifiers and mentions of real
record rows, relationships between them, a merge. A person is named by a masking token whose clear value sits in
the privacy vault; no answer may ever carry that clear value.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.accounts.choices import Role
from apps.accounts.models import Organization, User
from apps.anomalies.models import Anomaly, Severity
from apps.datasets.models import (
    CustomsDeclaration,
    Dataset,
    DatasetSource,
    DatasetStatus,
    RecordKind,
    TaxInvoice,
)
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityKind,
    EntityMention,
    EntityMerge,
    EntityName,
    IdentifierScheme,
    MatchMethod,
    MentionRole,
    Relationship,
    RelationshipKind,
)
from apps.entities.normalize import company_key
from apps.privacy.masking import PIIKind, pii_token
from apps.privacy.models import PIIVaultEntry
from apps.privacy.vault import encrypt
from tests.browser import conftest as browser_conftest
from tests.core.test_pages import Element, page, parse, unlabelled_fields
from tests.factories import DEFAULT_PASSWORD, member

pytestmark = pytest.mark.django_db

STATIC_DIR = Path(settings.BASE_DIR) / "static"
# A person's name and tax number as the source files had them: they live only in the vault.
CLEAR_NAME = "Канарейко Олена Петрівна"
CLEAR_TAX = "2945103287"
ZORIA = 'ТОВ "Зоря-Схід"'


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def main_of(document: Element) -> Element:
    main = document.find("main")
    assert main is not None
    return main


def table_rows(container: Element) -> list[Element]:
    table = container.find("table")
    assert table is not None
    tbody = table.find("tbody")
    assert tbody is not None
    return tbody.find_all("tr")


def dataset_of(organization: Organization, kind: str, name: str) -> Dataset:
    number = Dataset.objects.count() + 1
    return Dataset.objects.create(
        organization=organization,
        name=name,
        kind=kind,
        source=DatasetSource.UPLOAD,
        original_filename=f"{number}.csv",
        size_bytes=100,
        sha256=f"{number:064d}",
        status=DatasetStatus.READY,
    )


def entity(organization: Organization, name: str, kind: str = EntityKind.COMPANY, **values: Any) -> Entity:
    created = Entity.objects.create(organization=organization, kind=kind, name=name, **values)
    EntityName.objects.create(
        organization=organization,
        entity=created,
        name=name,
        match_key="" if created.is_pii else company_key(name),
        country=created.country,
        mention_count=created.mention_count,
    )
    return created


def link(
    source: Entity, target: Entity, kind: str, first: datetime.date, last: datetime.date, records: int = 1
) -> Relationship:
    return Relationship.objects.create(
        organization_id=source.organization_id,
        kind=kind,
        source=source,
        target=target,
        first_date=first,
        last_date=last,
        record_count=records,
        amount_uah=Decimal(records * 1000),
    )


@dataclass
class Graph:
    zoria: Entity
    ningbo: Entity
    person: Entity
    supplier: Entity
    absorbed: Entity
    person_token: str
    tax_token: str
    declaration: CustomsDeclaration
    invoice: TaxInvoice


@pytest.fixture
def graph(organization: Organization) -> Graph:
    """Зоря-Схід imports from Ningbo (2022), is run by a person (2020–2023) and was invoiced by a supplier (2019);
    a duplicate of Зоря-Схід was merged into it."""
    person_token = pii_token(CLEAR_NAME, PIIKind.PERSON_NAME)
    tax_token = pii_token(CLEAR_TAX, PIIKind.TAX_NUMBER)
    for token, clear, kind in ((person_token, CLEAR_NAME, "name"), (tax_token, CLEAR_TAX, "tax")):
        PIIVaultEntry.objects.create(
            organization=organization, token=token, kind=kind, ciphertext=encrypt(token, clear)
        )

    zoria = entity(
        organization,
        ZORIA,
        country="UA",
        mention_count=2,
        degree=3,
        first_seen=datetime.date(2019, 5, 1),
        last_seen=datetime.date(2022, 3, 5),
        attributes={"legal_form": "Товариство з обмеженою відповідальністю", "status": "зареєстровано"},
    )
    EntityIdentifier.objects.create(
        organization=organization, entity=zoria, scheme=IdentifierScheme.EDRPOU, value="32855961"
    )
    ningbo = entity(organization, "Ningbo Hengda Trading Co., Ltd.", country="CN", mention_count=1)
    person = entity(
        organization,
        person_token,
        kind=EntityKind.PERSON,
        is_pii=True,
        country="UA",
        attributes={"birth_dates": [pii_token("1980-03-09", PIIKind.BIRTH_DATE)], "companies": ["32855961"]},
    )
    EntityIdentifier.objects.create(
        organization=organization, entity=person, scheme=IdentifierScheme.RNOKPP, value=tax_token
    )
    supplier = entity(organization, "ПП «Постач»", country="UA")
    absorbed = entity(organization, "ТОВ Зоря Схід", country="UA", merged_into=zoria)
    EntityMerge.objects.create(
        organization=organization,
        survivor=zoria,
        absorbed=absorbed,
        method=MatchMethod.REVIEW,
        score=0.91,
        reason="Той самий код у двох реєстрах",
    )

    link(zoria, ningbo, RelationshipKind.TRADES_WITH, datetime.date(2022, 3, 1), datetime.date(2022, 6, 30), 3)
    link(person, zoria, RelationshipKind.DIRECTOR_OF, datetime.date(2020, 1, 1), datetime.date(2023, 12, 31))
    link(supplier, zoria, RelationshipKind.INVOICES, datetime.date(2019, 5, 1), datetime.date(2019, 5, 1))

    declarations = dataset_of(organization, RecordKind.CUSTOMS_DECLARATION, "Декларації 2022")
    declaration = CustomsDeclaration.objects.create(
        organization=organization,
        dataset=declarations,
        row_number=1,
        declaration_number="UA100010/2022/000123",
        declaration_date=datetime.date(2022, 3, 5),
        direction=CustomsDeclaration.Direction.IMPORT,
        trader_code="32855961",
        trader_name=ZORIA,
        counterparty_name="Ningbo Hengda Trading Co., Ltd.",
        goods_code="8471300000",
        customs_value_uah=Decimal("125000.50"),
    )
    invoices = dataset_of(organization, RecordKind.TAX_INVOICE, "Податкові накладні 2019")
    invoice = TaxInvoice.objects.create(
        organization=organization,
        dataset=invoices,
        row_number=7,
        invoice_number="ПН-77",
        invoice_date=datetime.date(2019, 5, 1),
        seller_code="23456789",
        buyer_code="32855961",
        amount_uah=Decimal("1000.00"),
    )
    mention(zoria, declaration, MentionRole.TRADER, datetime.date(2022, 3, 5), name=ZORIA)
    mention(zoria, invoice, MentionRole.BUYER, datetime.date(2019, 5, 1), name="ТОВ Зоря Схід", score=0.93)
    mention(person, declaration, MentionRole.DECLARANT, datetime.date(2022, 3, 5), name=person_token)

    Anomaly.objects.create(
        organization=organization,
        detector="unit-value",
        score=0.87,
        severity=Severity.HIGH,
        title="Ціна за одиницю втричі нижча за ринкову",
        explanation={"en": "Unit value far below peers", "uk": "Ціна нижча", "factors": []},
        dedup_key="unit-value:1",
    ).entities.add(zoria)
    return Graph(
        zoria=zoria,
        ningbo=ningbo,
        person=person,
        supplier=supplier,
        absorbed=absorbed,
        person_token=person_token,
        tax_token=tax_token,
        declaration=declaration,
        invoice=invoice,
    )


def mention(
    target: Entity, record: Any, role: str, date: datetime.date, name: str = "", score: float = 1.0
) -> EntityMention:
    kind = RecordKind.CUSTOMS_DECLARATION if isinstance(record, CustomsDeclaration) else RecordKind.TAX_INVOICE
    return EntityMention.objects.create(
        organization_id=target.organization_id,
        dataset_id=record.dataset_id,
        record_kind=kind,
        record_id=record.pk,
        role=role,
        entity=target,
        origin_entity=target,
        name=name,
        method=MatchMethod.IDENTIFIER if score == 1.0 else MatchMethod.FUZZY,
        score=score,
        date=date,
        amount_uah=Decimal("1000.00"),
    )


def entity_urls(target: Entity) -> dict[str, str]:
    return {
        "detail": reverse("entities:detail", args=[target.pk]),
        "timeline": reverse("entities:timeline", args=[target.pk]),
        "related": reverse("entities:related", args=[target.pk]),
        "graph": reverse("entities:graph", args=[target.pk]),
    }


def graph_json(client: Client, target: Entity, **params: str) -> dict[str, Any]:
    response = client.get(reverse("entities:graph", args=[target.pk]), params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


# --- who may open what -----------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(graph: Graph) -> None:
    client = Client()
    for name, url in [("list", reverse("entities:list")), *entity_urls(graph.zoria).items()]:
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login")), name


def test_a_user_without_the_entity_permission_is_refused(organization: Organization, graph: Graph) -> None:
    reader = member(Role.INVESTIGATOR, organization)
    reader.groups.clear()
    client = login(reader)
    for name, url in [("list", reverse("entities:list")), *entity_urls(graph.zoria).items()]:
        assert client.get(url).status_code == 403, name


def test_another_organisations_entities_are_not_found_anywhere(outsider: User, graph: Graph) -> None:
    client = login(outsider)
    for name, url in entity_urls(graph.zoria).items():
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 404, name
    assert client.get(reverse("entities:graph", args=[graph.absorbed.pk])).status_code == 404
    listing = page(client, reverse("entities:list"))
    assert "Зоря" not in listing.text()
    assert "No entities yet" in main_of(listing).text()
    searched = page(client, reverse("entities:list") + "?q=32855961")
    assert "Зоря" not in searched.text()


def test_a_partner_sees_profiles_and_links_but_not_the_records(partner: User, graph: Graph) -> None:
    client = login(partner)
    document = page(client, reverse("entities:detail", args=[graph.zoria.pk]))
    assert document.find("section", lambda e: e.attrs.get("id") == "related") is not None
    assert document.find("section", lambda e: e.attrs.get("id") == "timeline") is None
    assert "UA100010/2022/000123" not in document.text()
    assert client.get(reverse("entities:timeline", args=[graph.zoria.pk])).status_code == 403
    assert {node["id"] for node in graph_json(client, graph.zoria)["nodes"]} >= {graph.zoria.pk, graph.ningbo.pk}


# --- list ------------------------------------------------------------------------------------------------------


def list_names(client: Client, **params: str) -> list[str]:
    response = client.get(reverse("entities:list"), params)
    assert response.status_code == 200
    table = main_of(parse(response.content)).find("table")
    if table is None:
        return []
    return [row.find("th").text() for row in table_rows(main_of(parse(response.content)))]  # type: ignore[union-attr]


def test_list_shows_the_organisations_entities_with_their_figures(investigator: User, graph: Graph) -> None:
    document = page(login(investigator), reverse("entities:list"))
    rows = {row.find("th").text(): row for row in table_rows(main_of(document))}  # type: ignore[union-attr]
    assert ZORIA in rows
    assert "ТОВ Зоря Схід" not in rows, "a merged entity lives on in its survivor"
    cells = [cell.text() for cell in rows[ZORIA].find_all("td")]
    assert cells[:3] == ["Company", "UA", "ЄДРПОУ 32855961"]
    assert cells[3:5] == ["2", "3"]
    person_row = rows[f"{graph.person_token} masked"]
    assert "РНОКПП (individual tax number)" in person_row.text()
    assert graph.tax_token in person_row.text()
    link = rows[ZORIA].find("a")
    assert link is not None
    assert link.attrs["href"] == reverse("entities:detail", args=[graph.zoria.pk])
    assert unlabelled_fields(document) == []


def test_search_by_name_spelling_identifier_and_token_but_never_a_clear_personal_value(
    investigator: User, graph: Graph
) -> None:
    client = login(investigator)
    assert list_names(client, q="Зоря") == [ZORIA]
    assert list_names(client, q="Zoria Skhid") == [ZORIA], "another script finds the same company"
    assert list_names(client, q="32855961") == [ZORIA]
    assert list_names(client, q="3285596") == [], "an identifier matches whole"
    assert list_names(client, q=graph.tax_token) == [f"{graph.person_token} masked"]
    assert list_names(client, q=graph.person_token) == [f"{graph.person_token} masked"]
    assert list_names(client, q=CLEAR_NAME) == []
    assert list_names(client, q=CLEAR_TAX) == []
    document = parse(client.get(reverse("entities:list"), {"q": CLEAR_NAME}).content)
    assert "No entity matches this search." in main_of(document).text()


def test_list_filters_by_kind_orders_and_rejects_unknown_values(investigator: User, graph: Graph) -> None:
    client = login(investigator)
    assert list_names(client, kind="person") == [f"{graph.person_token} masked"]
    assert set(list_names(client, kind="company")) == {ZORIA, "Ningbo Hengda Trading Co., Ltd.", "ПП «Постач»"}
    assert list_names(client, kind="spaceship") == []
    assert list_names(client, ordering="degree")[0] == ZORIA
    assert list_names(client, kind="company", ordering="name") == sorted(
        [ZORIA, "Ningbo Hengda Trading Co., Ltd.", "ПП «Постач»"]
    )
    assert list_names(client, ordering="sideways") == []


def test_list_fragment_for_htmx_and_pagination_keeps_the_search(organization: Organization, investigator: User) -> None:
    for number in range(27):
        entity(organization, f"ТОВ «Альфа {number:02d}»", mention_count=100 - number)
    entity(organization, "ПП «Бета»")
    client = login(investigator)
    fragment = parse(client.get(reverse("entities:list"), {"q": "Альфа"}, headers={"HX-Request": "true"}).content)
    assert fragment.find("html") is None
    assert fragment.find("div", lambda e: e.attrs.get("id") == "entity-table") is not None
    first = page(client, reverse("entities:list") + "?q=%D0%90%D0%BB%D1%8C%D1%84%D0%B0")
    assert len(table_rows(main_of(first))) == 25
    pagination = first.find("nav", lambda e: e.attrs.get("class") == "pagination")
    assert pagination is not None
    assert "Page 1 of 2" in pagination.text()
    next_link = pagination.find("a", lambda e: e.attrs.get("rel") == "next")
    assert next_link is not None
    second = page(client, reverse("entities:list") + next_link.attrs["href"])
    assert [row.find("th").text() for row in table_rows(main_of(second))] == [  # type: ignore[union-attr]
        "ТОВ «Альфа 25»",
        "ТОВ «Альфа 26»",
    ]


def test_list_queries_do_not_grow_with_the_page(
    organization: Organization, investigator: User, django_assert_num_queries: Any
) -> None:
    for number in range(25):
        created = entity(organization, f"ТОВ «Гамма {number:02d}»")
        EntityIdentifier.objects.create(
            organization=organization, entity=created, scheme=IdentifierScheme.EDRPOU, value=f"{40000000 + number}"
        )
    client = login(investigator)
    client.get(reverse("entities:list"))
    # Session, user, two of permissions, membership; count, page, identifiers; the organisation in the header.
    with django_assert_num_queries(9):
        response = client.get(reverse("entities:list"))
    assert response.status_code == 200
    assert response.content.decode().count("ЄДРПОУ") == 25


# --- the entity page -------------------------------------------------------------------------------------------


def section(document: Element, heading_id: str) -> Element:
    found = document.find("section", lambda e: e.attrs.get("aria-labelledby") == heading_id)
    assert found is not None, heading_id
    return found


def test_entity_page_shows_profile_identifiers_names_anomalies_and_merges(investigator: User, graph: Graph) -> None:
    document = page(login(investigator), reverse("entities:detail", args=[graph.zoria.pk]))
    heading = document.find("h1")
    assert heading is not None
    assert heading.text() == ZORIA
    profile = section(document, "profile-heading")
    terms = dict(zip(
        [dt.text() for dt in profile.find_all("dt")], [dd.text() for dd in profile.find_all("dd")], strict=True
    ))  # fmt: skip
    assert terms["Legal form"] == "Товариство з обмеженою відповідальністю"
    assert terms["Registration status"] == "зареєстровано"
    assert terms["Links (degree)"] == "3"
    assert section(document, "identifiers-heading").text() == "Identifiers ЄДРПОУ 32855961"
    assert ZORIA in section(document, "names-heading").text()
    anomalies = section(document, "anomalies-heading").text()
    assert "Ціна за одиницю втричі нижча за ринкову" in anomalies
    assert "High" in anomalies
    merges = section(document, "merges-heading").text()
    assert "ТОВ Зоря Схід" in merges
    assert "Confirmed in review (0.91)" in merges
    assert "Той самий код у двох реєстрах" in merges
    assert unlabelled_fields(document) == []


def test_entity_page_timeline_describes_each_record(investigator: User, graph: Graph) -> None:
    document = page(login(investigator), reverse("entities:detail", args=[graph.zoria.pk]))
    timeline = document.find("div", lambda e: e.attrs.get("id") == "entity-timeline")
    assert timeline is not None
    rows = table_rows(timeline)
    assert [row.find("th").text() for row in rows] == ["03/05/2022", "05/01/2019"]  # type: ignore[union-attr]
    first = [cell.text() for cell in rows[0].find_all("td")]
    assert first[0] == "Customs declaration"
    assert first[1] == "Trader"
    assert "Declaration number: UA100010/2022/000123" in first[2]
    assert "Direction: Import" in first[2]
    assert "Goods code: 8471300000" in first[2]
    assert first[6] == "Декларації 2022"
    second = [cell.text() for cell in rows[1].find_all("td")]
    assert second[0] == "Tax invoice"
    assert "Invoice number: ПН-77" in second[2]
    assert second[5] == "Similar name and details (0.93)"


def test_timeline_pages_by_htmx_and_without_javascript(organization: Organization, investigator: User) -> None:
    busy = entity(organization, "ТОВ «Жвава»")
    dataset = dataset_of(organization, RecordKind.TAX_INVOICE, "Накладні")
    for number in range(23):
        invoice = TaxInvoice.objects.create(
            organization=organization,
            dataset=dataset,
            row_number=number,
            invoice_number=f"N-{number:02d}",
            invoice_date=datetime.date(2023, 1, 1) + datetime.timedelta(days=number),
            seller_code="12345678",
            buyer_code="87654321",
            amount_uah=Decimal(number),
        )
        mention(busy, invoice, MentionRole.SELLER, invoice.invoice_date)
    client = login(investigator)
    url = reverse("entities:timeline", args=[busy.pk])
    fragment = parse(client.get(url, {"timeline_page": "2"}, headers={"HX-Request": "true"}).content)
    assert fragment.find("html") is None
    rows = table_rows(fragment)
    assert len(rows) == 3
    assert "Invoice number: N-00" in rows[-1].text(), "the earliest record comes last"
    previous = fragment.find("a", lambda e: e.attrs.get("rel") == "prev")
    assert previous is not None
    assert previous.attrs["hx-get"] == f"{url}?timeline_page=1"
    assert previous.attrs["href"] == reverse("entities:detail", args=[busy.pk]) + "?timeline_page=1#timeline"
    opened = client.get(url, {"timeline_page": "2"})
    assert opened.status_code == 302
    assert opened["Location"] == reverse("entities:detail", args=[busy.pk]) + "?timeline_page=2#timeline"
    document = page(client, opened["Location"])
    assert "Page 2 of 2" in main_of(document).text()


def test_related_entities_in_both_directions_filtered_by_kind(investigator: User, graph: Graph) -> None:
    client = login(investigator)
    document = page(client, reverse("entities:detail", args=[graph.zoria.pk]))
    related = document.find("div", lambda e: e.attrs.get("id") == "entity-related")
    assert related is not None
    rows = {row.find("th").text(): [c.text() for c in row.find_all("td")] for row in table_rows(related)}  # type: ignore[union-attr]
    assert rows["Ningbo Hengda Trading Co., Ltd."][:3] == ["Company", "trades with", "this entity → them"]
    assert rows["Ningbo Hengda Trading Co., Ltd."][-2:] == ["3", "3000.00"]
    assert rows[f"{graph.person_token} masked"][:3] == ["Person", "director of", "them → this entity"]
    assert rows["ПП «Постач»"][1] == "invoices"

    url = reverse("entities:related", args=[graph.zoria.pk])
    fragment = parse(client.get(url, {"related_kind": "director_of"}, headers={"HX-Request": "true"}).content)
    assert fragment.find("html") is None
    assert [row.find("th").text() for row in table_rows(fragment)] == [f"{graph.person_token} masked"]  # type: ignore[union-attr]
    for kind in ("owner_of", "enemy_of"):
        empty = parse(client.get(url, {"related_kind": kind}, headers={"HX-Request": "true"}).content)
        assert "No relationship of this kind." in empty.text(), kind
    assert client.get(url, {"related_kind": "owner_of"})["Location"].endswith("?related_kind=owner_of#related")


def test_an_absorbed_entity_leads_to_its_survivor(organization: Organization, investigator: User, graph: Graph) -> None:
    twice = entity(organization, "Зоря Схід ТОВ", merged_into=graph.absorbed)
    client = login(investigator)
    response = client.get(reverse("entities:detail", args=[twice.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("entities:detail", args=[graph.zoria.pk])
    response = client.get(reverse("entities:graph", args=[graph.absorbed.pk]), {"hops": "2"})
    assert response.status_code == 302
    assert response["Location"] == reverse("entities:graph", args=[graph.zoria.pk]) + "?hops=2"


def test_detail_queries_are_pinned(investigator: User, graph: Graph, django_assert_num_queries: Any) -> None:
    client = login(investigator)
    url = reverse("entities:detail", args=[graph.zoria.pk])
    client.get(url)
    # Session, user, permissions, membership; entity, names, identifiers, anomalies, merges; count and page of
    # relationships and of the timeline, one query per kind of record on the timeline; the organisation.
    with django_assert_num_queries(17):
        assert client.get(url).status_code == 200


# --- the graph -------------------------------------------------------------------------------------------------


def test_graph_page_loads_the_vendored_script_and_the_labels(investigator: User, graph: Graph) -> None:
    client = login(investigator)
    document = page(client, reverse("entities:detail", args=[graph.zoria.pk]))
    container = document.find("section", lambda e: "data-entity-graph" in e.attrs)
    assert container is not None
    assert container.attrs["data-graph-url"] == reverse("entities:graph", args=[graph.zoria.pk])
    sources = [e.attrs["src"] for e in document.find_all("script") if "src" in e.attrs]
    assert "/static/vendor/vis-network/vis-network.min.js" in sources
    assert "/static/js/entity_graph.js" in sources
    inline = [e for e in document.find_all("script") if "src" not in e.attrs]
    assert [e.attrs.get("type") for e in inline] == ["application/json"], "no inline code, only data"
    labels = json.loads(inline[0].text())
    assert labels["relationshipKinds"]["director_of"] == "director of"
    assert labels["entityKinds"]["broker"] == "Customs broker"
    boxes = container.find_all("input", lambda e: e.attrs.get("name") == "kinds")
    assert {box.attrs["value"] for box in boxes} == set(RelationshipKind.values)


def test_static_vis_network_is_served() -> None:
    response = Client().get("/static/vendor/vis-network/vis-network.min.js")
    assert response.status_code == 200
    served = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert served == (STATIC_DIR / "vendor/vis-network/vis-network.min.js").read_bytes()
    assert b"@version 10.1.2" in served[:400]
    assert (STATIC_DIR / "vendor/vis-network/LICENSE-MIT").exists()
    assert (STATIC_DIR / "vendor/vis-network/LICENSE-APACHE-2.0").exists()


def test_graph_json_has_nodes_and_edges_with_addresses(investigator: User, graph: Graph) -> None:
    data = graph_json(login(investigator), graph.zoria)
    assert data["center"] == graph.zoria.pk
    assert data["truncated"] is False
    nodes = {node["id"]: node for node in data["nodes"]}
    assert set(nodes) == {graph.zoria.pk, graph.ningbo.pk, graph.person.pk, graph.supplier.pk}
    assert nodes[graph.person.pk]["name"] == graph.person_token
    assert nodes[graph.person.pk]["is_pii"] is True
    assert nodes[graph.ningbo.pk]["kind"] == "company"
    assert nodes[graph.ningbo.pk]["url"] == reverse("entities:detail", args=[graph.ningbo.pk])
    assert nodes[graph.ningbo.pk]["graph_url"] == reverse("entities:graph", args=[graph.ningbo.pk])
    edges = {(edge["source"], edge["target"], edge["kind"]): edge for edge in data["edges"]}
    trade = edges[(graph.zoria.pk, graph.ningbo.pk, "trades_with")]
    assert trade["record_count"] == 3
    assert trade["first_date"] == "2022-03-01"
    assert (graph.person.pk, graph.zoria.pk, "director_of") in edges


def test_graph_json_filters_by_kind_date_and_depth(
    organization: Organization, investigator: User, graph: Graph
) -> None:
    client = login(investigator)

    def neighbours(**params: str) -> set[int]:
        return {node["id"] for node in graph_json(client, graph.zoria, **params)["nodes"]} - {graph.zoria.pk}

    assert neighbours(kinds="trades_with") == {graph.ningbo.pk}
    assert neighbours(kinds="trades_with,invoices") == {graph.ningbo.pk, graph.supplier.pk}
    assert graph.supplier.pk not in neighbours(**{"from": "2021-01-01"})
    assert graph.ningbo.pk in neighbours(**{"from": "2021-01-01"})
    assert neighbours(**{"from": "2019-01-01", "to": "2019-12-31"}) == {graph.supplier.pk}
    broker = entity(organization, "Брокер Плюс", kind=EntityKind.BROKER)
    link(broker, graph.ningbo, RelationshipKind.BROKERED_FOR, datetime.date(2022, 4, 1), datetime.date(2022, 4, 1))
    assert broker.pk not in neighbours(hops="1")
    assert broker.pk in neighbours(hops="2")


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"hops": "3"}, "hops"),
        ({"hops": "many"}, "hops"),
        ({"kinds": "trades_with,loves"}, "kinds"),
        ({"from": "31.12.2022"}, "from"),
        ({"to": "2022-02-30"}, "to"),
        ({"from": "2023-01-01", "to": "2022-01-01"}, "to"),
    ],
)
def test_graph_json_rejects_bad_parameters(
    investigator: User, graph: Graph, params: dict[str, str], parameter: str
) -> None:
    response = login(investigator).get(reverse("entities:graph", args=[graph.zoria.pk]), params)
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["parameter"] == parameter
    assert body["detail"]


# --- personal data ---------------------------------------------------------------------------------------------


def test_no_answer_carries_a_clear_personal_value(
    organization: Organization, investigator: User, supervisor: User, graph: Graph
) -> None:
    """The vault holds the clear name and tax number; pages, fragments and the graph show only their tokens, even
    to a supervisor who may unlock personal data (unlocking is its own audited step, not part of these pages)."""
    for user in (investigator, supervisor):
        client = login(user)
        htmx = {"HX-Request": "true"}
        answers = {
            "list": client.get(reverse("entities:list")),
            "search": client.get(reverse("entities:list"), {"q": graph.person_token}),
            "person": client.get(reverse("entities:detail", args=[graph.person.pk])),
            "company": client.get(reverse("entities:detail", args=[graph.zoria.pk])),
            "timeline": client.get(reverse("entities:timeline", args=[graph.person.pk]), headers=htmx),
            "related": client.get(reverse("entities:related", args=[graph.zoria.pk]), headers=htmx),
            "person graph": client.get(reverse("entities:graph", args=[graph.person.pk]), {"hops": "2"}),
            "company graph": client.get(reverse("entities:graph", args=[graph.zoria.pk]), {"hops": "2"}),
        }
        for name, response in answers.items():
            assert response.status_code == 200, name
            content = response.content.decode()
            assert CLEAR_NAME not in content, name
            assert CLEAR_TAX not in content, name
            assert "Канарейко" not in content, name
        assert graph.person_token in answers["person"].content.decode()
        assert graph.tax_token in answers["person"].content.decode()
        assert graph.person_token in answers["person graph"].content.decode()
        person_page = parse(answers["person"].content)
        identifiers = section(person_page, "identifiers-heading").text()
        assert f"{graph.tax_token} masked" in identifiers
        assert "masked" in section(person_page, "profile-heading").text()


# --- in a real browser -----------------------------------------------------------------------------------------

# The graph view driven through playwright-core: it prints one line "RESULT <json>" with what it saw; the test makes
# the assertions. Every vis.Network the page creates is kept (window.graphNetworks) to find an entity on the canvas.
GRAPH_DRIVER = """
import { chromium } from "playwright-core";

const [baseUrl, username, password, entityPath, expandId, openId, expectedAfterExpand] = process.argv.slice(1);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH,
  args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
});
const result = { pageErrors: [], offsiteRequests: [], graphRequests: [] };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  const origin = new URL(baseUrl).host;
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.host !== origin && url.protocol !== "data:") result.offsiteRequests.push(request.url());
    if (url.pathname.endsWith("/graph.json")) result.graphRequests.push(url.pathname + url.search);
  });
  await page.addInitScript(() => {
    let Network;
    const vis = {};
    Object.defineProperty(vis, "Network", {
      enumerable: true,
      get: () => Network,
      set(Original) {
        Network = function (...args) {
          const network = new Original(...args);
          window.graphNetworks = [...(window.graphNetworks || []), network];
          return network;
        };
        Network.prototype = Original.prototype;
      },
    });
    window.vis = vis;
  });
  const nodeIds = () => page.evaluate(() => window.graphNetworks[0].body.data.nodes.getIds().sort((a, b) => a - b));
  const pointAt = async (id) => {
    await page.locator("[data-graph-canvas]").scrollIntoViewIfNeeded();
    return page.evaluate((nodeId) => {
      const network = window.graphNetworks[0];
      network.stopSimulation();
      const point = network.canvasToDOM(network.getPosition(nodeId));
      const box = document.querySelector("[data-graph-canvas] canvas").getBoundingClientRect();
      return { x: box.left + point.x, y: box.top + point.y };
    }, Number(id));
  };

  await page.goto(`${baseUrl}/accounts/login/`);
  await page.fill("#id_username", username);
  await page.fill("#id_password", password);
  await Promise.all([page.waitForURL(`${baseUrl}/`), page.click("main form button[type=submit]")]);
  await page.goto(`${baseUrl}${entityPath}`);
  await page.waitForFunction(() => window.graphNetworks && window.graphNetworks[0].body.data.nodes.length > 1);
  result.filtersShown = await page.isVisible("[data-graph-filters]");
  result.initialNodes = await nodeIds();
  result.initialEdgeLabels = await page.evaluate(() =>
    window.graphNetworks[0].body.data.edges.get().map((edge) => edge.label).sort()
  );

  const expandPoint = await pointAt(expandId);
  await page.mouse.click(expandPoint.x, expandPoint.y);
  await page.waitForFunction(
    (count) => window.graphNetworks[0].body.data.nodes.length >= count, Number(expectedAfterExpand)
  );
  result.expandedNodes = await nodeIds();
  result.statusAfterExpand = (await page.textContent("[data-graph-status]")).trim();

  await page.uncheck('[data-graph-filters] input[value="trades_with"]');
  await page.waitForFunction(
    (id) => window.graphNetworks[0].body.data.nodes.length > 1 && !window.graphNetworks[0].body.data.nodes.get(id),
    Number(expandId)
  );
  result.filteredNodes = await nodeIds();

  const openPoint = await pointAt(openId);
  await Promise.all([page.waitForURL(`**/entities/${openId}/`), page.mouse.dblclick(openPoint.x, openPoint.y)]);
  result.openedPath = new URL(page.url()).pathname;
} catch (error) {
  result.error = String(error && error.stack ? error.stack : error);
} finally {
  await browser.close();
}
console.log("RESULT " + JSON.stringify(result));
"""
BROWSER_TIMEOUT = 90
browser_tools = browser_conftest.browser_tools
asgi_live_server = browser_conftest.asgi_live_server


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_graph_expands_filters_and_opens_entities_in_a_browser(
    browser_tools: str, asgi_live_server: str, organization: Organization, investigator: User, graph: Graph
) -> None:
    """Served in Ukrainian: the labels on the edges come from the page, in its language."""
    broker = entity(organization, "Брокер Плюс", kind=EntityKind.BROKER)
    link(broker, graph.ningbo, RelationshipKind.BROKERED_FOR, datetime.date(2022, 4, 1), datetime.date(2022, 4, 1))
    driver = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            GRAPH_DRIVER,
            asgi_live_server,
            investigator.username,
            DEFAULT_PASSWORD,
            reverse("entities:detail", args=[graph.zoria.pk]),
            str(graph.ningbo.pk),
            str(graph.supplier.pk),
            "5",
        ],
        cwd=settings.BASE_DIR,
        env={**os.environ, "CHROMIUM_PATH": browser_tools},
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT,
        check=False,
    )
    results = [line for line in driver.stdout.splitlines() if line.startswith("RESULT ")]
    assert results, f"the browser driver printed no result: {driver.stdout} {driver.stderr}"
    result = json.loads(results[-1].removeprefix("RESULT "))
    assert "error" not in result, result["error"]
    assert result["pageErrors"] == []
    assert result["offsiteRequests"] == []
    assert result["filtersShown"] is True
    first_ring = sorted([graph.zoria.pk, graph.ningbo.pk, graph.person.pk, graph.supplier.pk])
    assert result["initialNodes"] == first_ring
    with translation.override("uk"):
        kinds = [RelationshipKind.TRADES_WITH, RelationshipKind.DIRECTOR_OF, RelationshipKind.INVOICES]
        assert result["initialEdgeLabels"] == sorted(str(kind.label) for kind in kinds)
    assert result["expandedNodes"] == sorted([*first_ring, broker.pk]), "a click adds the entity's own links"
    assert f"/entities/{graph.ningbo.pk}/graph.json?hops=1" in result["graphRequests"]
    with translation.override("uk"):
        expanded = translation.gettext("Expanded %(name)s; new entities: %(count)s.")
    assert result["statusAfterExpand"] == expanded % {"name": graph.ningbo.name, "count": 1}
    assert result["filteredNodes"] == sorted([graph.zoria.pk, graph.person.pk, graph.supplier.pk])
    assert any("kinds=" in request and "trades_with" not in request for request in result["graphRequests"])
    assert result["openedPath"] == f"/entities/{graph.supplier.pk}/"
