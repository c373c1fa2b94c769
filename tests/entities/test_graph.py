"""Graph analytics and graph queries (apps.entities.graph) on small crafted graphs in the real PostgreSQL."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DataError

from apps.accounts.models import Organization
from apps.entities import graph
from apps.entities.graph import entity_neighbourhood, graph_analyze, shortest_path
from apps.entities.models import Entity, EntityKind, GraphAnalysis, GraphCycle, Relationship, RelationshipKind

pytestmark = pytest.mark.django_db

INVOICES = RelationshipKind.INVOICES
TRADES = RelationshipKind.TRADES_WITH
DIRECTOR = RelationshipKind.DIRECTOR_OF
D = datetime.date


def entities(organization: Organization, count: int, prefix: str = "ТОВ") -> list[Entity]:
    return [
        Entity.objects.create(organization=organization, kind=EntityKind.COMPANY, name=f"{prefix} {index}")
        for index in range(count)
    ]


def link(
    source: Entity,
    target: Entity,
    kind: str = TRADES,
    *,
    records: int = 1,
    amount: str | None = None,
    first: datetime.date | None = None,
    last: datetime.date | None = None,
) -> Relationship:
    return Relationship.objects.create(
        organization_id=source.organization_id,
        kind=kind,
        source=source,
        target=target,
        record_count=records,
        amount_uah=Decimal(amount) if amount is not None else None,
        first_date=first,
        last_date=last,
    )


def fresh(*rows: Entity) -> list[Entity]:
    by_id = Entity.objects.in_bulk([row.pk for row in rows])
    return [by_id[row.pk] for row in rows]


def absorb(entity: Entity, into: Entity) -> Entity:
    entity.merged_into = into
    entity.save(update_fields=["merged_into"])
    return entity


# --- analytics -------------------------------------------------------------------------------------------------


def test_star_degree_betweenness_pagerank_and_reset(organization: Organization) -> None:
    hub, *leaves = entities(organization, 6)
    for index, leaf in enumerate(leaves):
        link(leaf, hub, records=index + 1)
    # A second kind and the opposite direction between the same pair: still one neighbour.
    link(hub, leaves[0], DIRECTOR)
    lonely = Entity.objects.create(
        organization=organization, kind=EntityKind.COMPANY, name="Без зв'язків", degree=7, betweenness=3.5,
        pagerank=0.2, community=4,
    )  # fmt: skip
    absorbed = absorb(entities(organization, 1, "Поглинена")[0], hub)
    link(absorbed, leaves[1])

    analysis = graph_analyze(organization_id=organization.pk)

    assert analysis.status == GraphAnalysis.Status.DONE
    assert analysis.finished_at is not None
    assert analysis.stats["nodes"] == 6
    assert analysis.stats["edges"] == 5
    assert analysis.stats["betweenness"] == {"method": "exact", "sources": 6}
    assert set(analysis.stats["seconds"]) >= {"load", "betweenness", "pagerank", "communities", "write", "cycles"}
    hub, *leaves, lonely, absorbed = fresh(hub, *leaves, lonely, absorbed)
    assert hub.degree == 5
    assert [leaf.degree for leaf in leaves] == [1] * 5
    # Every path between two of the five leaves passes the hub: C(5, 2) = 10 of them.
    assert hub.betweenness == pytest.approx(10.0)
    assert [leaf.betweenness for leaf in leaves] == [0.0] * 5
    assert hub.pagerank > max(leaf.pagerank for leaf in leaves)
    assert hub.pagerank + sum(leaf.pagerank for leaf in leaves) == pytest.approx(1.0)
    assert {hub.community, *(leaf.community for leaf in leaves)} == {0}
    assert (lonely.degree, lonely.betweenness, lonely.pagerank, lonely.community) == (0, 0.0, 0.0, None)
    assert (absorbed.degree, absorbed.community) == (0, None)


def test_sampled_betweenness_keeps_the_hub_on_top(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "BETWEENNESS_EXACT_WORK", 0)
    monkeypatch.setattr(graph, "BETWEENNESS_SAMPLE_WORK", 0)
    monkeypatch.setattr(graph, "BETWEENNESS_MIN_SOURCES", 3)
    hub, *leaves = entities(organization, 8)
    for leaf in leaves:
        link(hub, leaf)

    analysis = graph_analyze(organization_id=organization.pk)

    assert analysis.stats["betweenness"] == {"method": "sampled", "sources": 3}
    hub, *leaves = fresh(hub, *leaves)
    assert hub.betweenness > 0
    assert [leaf.betweenness for leaf in leaves] == [0.0] * 7


def test_two_cliques_are_two_communities_numbered_by_size(organization: Organization) -> None:
    small = entities(organization, 4, "Мала")
    large = entities(organization, 5, "Велика")
    for clique in (small, large):
        for index, left in enumerate(clique):
            for right in clique[index + 1 :]:
                link(left, right, records=3)

    analysis = graph_analyze(organization_id=organization.pk)

    assert analysis.stats["communities"] == 2
    # The larger clique is community 0 although its entities were created last.
    assert {entity.community for entity in fresh(*large)} == {0}
    assert {entity.community for entity in fresh(*small)} == {1}
    assert {entity.degree for entity in fresh(*large)} == {4}


def test_invoice_cycles_found_in_order_and_replaced_on_rerun(
    organization: Organization, other_organization: Organization
) -> None:
    a, b, c, d, e, f, g, h, i, j, k, m = entities(organization, 12)
    link(a, b, INVOICES, records=2, amount="100.50", first=D(2025, 1, 5), last=D(2025, 2, 1))
    link(b, c, INVOICES, records=3, amount="200.00", first=D(2025, 1, 10), last=D(2025, 3, 1))
    closing = link(c, a, INVOICES, records=1, amount="300.00", first=D(2025, 1, 1), last=D(2025, 1, 20))
    # A 4-cycle entered from a larger id, so the stored order must rotate it to start at its smallest.
    link(g, d, INVOICES, records=1, amount="1000.00")
    link(d, e, INVOICES, records=1, amount="1000.00")
    link(e, f, INVOICES, records=1, amount="1000.00")
    link(f, g, INVOICES, records=1, amount=None)
    # Not carousels: a chain, a 2-cycle, and a 3-cycle of another kind.
    link(h, i, INVOICES)
    link(i, j, INVOICES)
    link(k, m, INVOICES)
    link(m, k, INVOICES)
    link(h, j, TRADES)
    link(j, k, TRADES)
    link(k, h, TRADES)
    stranger = entities(other_organization, 3, "Чужа")
    for seller, buyer in zip(stranger, stranger[1:] + stranger[:1], strict=True):
        link(seller, buyer, INVOICES)
    graph_analyze(organization_id=other_organization.pk)

    first = graph_analyze(organization_id=organization.pk)

    assert first.stats["cycles"] == 2
    assert first.stats["cycles_truncated"] is False
    cycles = list(GraphCycle.objects.filter(organization=organization))
    assert [cycle.entity_ids for cycle in cycles] == [[d.pk, e.pk, f.pk, g.pk], [a.pk, b.pk, c.pk]]
    square, triangle = cycles
    assert (square.length, square.amount_uah, square.record_count) == (4, Decimal("3000.00"), 4)
    assert (square.first_date, square.last_date) == (None, None)
    assert triangle.length == 3
    assert triangle.amount_uah == Decimal("600.50")
    assert triangle.record_count == 6
    assert (triangle.first_date, triangle.last_date) == (D(2025, 1, 1), D(2025, 3, 1))
    assert all(cycle.analysis_id == first.pk for cycle in cycles)

    closing.delete()
    second = graph_analyze(organization_id=organization.pk)

    remaining = list(GraphCycle.objects.filter(organization=organization))
    assert [(cycle.entity_ids, cycle.analysis_id) for cycle in remaining] == [([d.pk, e.pk, f.pk, g.pk], second.pk)]
    assert GraphCycle.objects.filter(organization=other_organization).count() == 1


def test_cycles_beyond_the_cap_keep_the_largest(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "MAX_STORED_CYCLES", 1)
    a, b, c, d, e, f = entities(organization, 6)
    for seller, buyer in ((a, b), (b, c), (c, a)):
        link(seller, buyer, INVOICES, amount="10.00")
    for seller, buyer in ((d, e), (e, f), (f, d)):
        link(seller, buyer, INVOICES, amount="99.00")

    analysis = graph_analyze(organization_id=organization.pk)

    assert (analysis.stats["cycles"], analysis.stats["cycles_found"]) == (1, 2)
    assert analysis.stats["cycles_truncated"] is True
    assert list(GraphCycle.objects.values_list("entity_ids", flat=True)) == [[d.pk, e.pk, f.pk]]


def test_a_bounded_cycle_search_says_so(organization: Organization, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "CYCLE_SEARCH_LIMIT", 1)
    a, b, c, d = entities(organization, 4)
    # Two triangles sharing the link a → b.
    for seller, buyer in ((a, b), (b, c), (c, a), (b, d), (d, a)):
        link(seller, buyer, INVOICES)

    analysis = graph_analyze(organization_id=organization.pk)

    assert (analysis.stats["cycles"], analysis.stats["cycles_found"]) == (1, 1)
    assert analysis.stats["cycles_truncated"] is True


def test_a_failure_is_recorded_and_raised_and_nothing_is_written(organization: Organization) -> None:
    a, b, c = entities(organization, 3)
    # Each amount fits numeric(22, 2); their sum does not fit the cycle's amount.
    for seller, buyer in ((a, b), (b, c), (c, a)):
        link(seller, buyer, INVOICES, amount="90000000000000000000.00")

    with pytest.raises(DataError):
        graph_analyze(organization_id=organization.pk)

    analysis = GraphAnalysis.objects.get(organization=organization)
    assert analysis.status == GraphAnalysis.Status.FAILED
    assert "DataError" in analysis.error
    assert analysis.finished_at is not None
    assert [entity.degree for entity in fresh(a, b, c)] == [0, 0, 0]
    assert not GraphCycle.objects.exists()


def test_an_empty_graph_resets_what_an_earlier_run_stored(organization: Organization) -> None:
    a, b, c = entities(organization, 3)
    invoices = [link(seller, buyer, INVOICES) for seller, buyer in ((a, b), (b, c), (c, a))]
    graph_analyze(organization_id=organization.pk)
    assert GraphCycle.objects.filter(organization=organization).count() == 1
    for relationship in invoices:
        relationship.delete()

    analysis = graph_analyze(organization_id=organization.pk)

    assert analysis.status == GraphAnalysis.Status.DONE
    assert (analysis.stats["nodes"], analysis.stats["edges"], analysis.stats["cycles"]) == (0, 0, 0)
    assert not GraphCycle.objects.filter(organization=organization).exists()
    assert {(entity.degree, entity.pagerank, entity.community) for entity in fresh(a, b, c)} == {(0, 0.0, None)}


# --- neighbourhood ---------------------------------------------------------------------------------------------


@pytest.fixture
def village(organization: Organization, other_organization: Organization) -> dict[str, Entity]:
    """centre → a (trades, Jan–Mar 2025) → d (invoices, June 2025) → f; centre → b (director, no dates) → e; d – e.

    Also an entity absorbed into ``a`` with a link of its own, and another organisation's entity linked both by a
    (wrong) relationship of this organisation and by one of its own.
    """
    centre, a, b, d, e, f = entities(organization, 6)
    link(centre, a, TRADES, records=5, amount="10.00", first=D(2025, 1, 1), last=D(2025, 3, 31))
    link(centre, b, DIRECTOR, records=1)
    link(d, a, INVOICES, records=2, first=D(2025, 6, 1), last=D(2025, 6, 30))
    link(b, e, TRADES, records=1, first=D(2025, 6, 1), last=D(2025, 7, 1))
    link(d, e, TRADES, records=1)
    link(f, d, TRADES, records=1)
    absorbed = absorb(entities(organization, 1, "Поглинена")[0], a)
    link(centre, absorbed, TRADES, records=50)
    (foreign,) = entities(other_organization, 1, "Чужа")
    link(centre, foreign, TRADES, records=50)
    link(foreign, centre, TRADES, records=50)
    return {"centre": centre, "a": a, "b": b, "d": d, "e": e, "f": f, "absorbed": absorbed, "foreign": foreign}


def node_hops(result: graph.Neighbourhood, village: dict[str, Entity]) -> dict[str, int]:
    names = {entity.pk: name for name, entity in village.items()}
    return {names[node["id"]]: node["hop"] for node in result.nodes}


def edge_names(result: graph.Neighbourhood, village: dict[str, Entity]) -> set[tuple[str, str]]:
    names = {entity.pk: name for name, entity in village.items()}
    return {(names[edge["source"]], names[edge["target"]]) for edge in result.edges}


def test_neighbourhood_hops(organization: Organization, village: dict[str, Entity]) -> None:
    centre = village["centre"]

    one = entity_neighbourhood(organization_id=organization.pk, entity_id=centre.pk, hops=1)
    two = entity_neighbourhood(organization_id=organization.pk, entity_id=centre.pk)

    assert node_hops(one, village) == {"centre": 0, "a": 1, "b": 1}
    assert edge_names(one, village) == {("centre", "a"), ("centre", "b")}
    assert one.truncated is False
    assert node_hops(two, village) == {"centre": 0, "a": 1, "b": 1, "d": 2, "e": 2}
    # d – e joins two nodes of the last hop: read although neither was expanded.
    assert edge_names(two, village) == {("centre", "a"), ("centre", "b"), ("d", "a"), ("b", "e"), ("d", "e")}
    node = next(node for node in two.nodes if node["id"] == centre.pk)
    assert set(node) == {"id", "name", "kind", "is_pii", "country", "degree", "community", "hop"}
    edge = next(edge for edge in two.edges if edge["target"] == village["a"].pk and edge["source"] == centre.pk)
    assert edge == {
        "id": edge["id"],
        "source": centre.pk,
        "target": village["a"].pk,
        "kind": TRADES,
        "first_date": "2025-01-01",
        "last_date": "2025-03-31",
        "record_count": 5,
        "amount_uah": "10.00",
    }


def test_neighbourhood_filters_kinds_and_dates(organization: Organization, village: dict[str, Entity]) -> None:
    centre = village["centre"].pk

    trades = entity_neighbourhood(organization_id=organization.pk, entity_id=centre, kinds=[TRADES])
    summer = entity_neighbourhood(organization_id=organization.pk, entity_id=centre, date_from=D(2025, 5, 1))
    winter = entity_neighbourhood(
        organization_id=organization.pk, entity_id=centre, date_from=D(2025, 1, 1), date_to=D(2025, 2, 1)
    )

    assert node_hops(trades, village) == {"centre": 0, "a": 1}
    assert {edge["kind"] for edge in trades.edges} == {TRADES}
    # The trade with a ended in March; the directorship has no dates and so overlaps every interval.
    assert node_hops(summer, village) == {"centre": 0, "b": 1, "e": 2}
    assert node_hops(winter, village) == {"centre": 0, "a": 1, "b": 1}


def test_neighbourhood_limit_takes_the_strongest_links(organization: Organization) -> None:
    centre, *leaves = entities(organization, 11)
    for index, leaf in enumerate(leaves):
        link(centre, leaf, records=index + 1)

    cut = entity_neighbourhood(organization_id=organization.pk, entity_id=centre.pk, limit=4)
    whole = entity_neighbourhood(organization_id=organization.pk, entity_id=centre.pk, limit=11)

    assert cut.truncated is True
    assert [node["id"] for node in cut.nodes] == [centre.pk, leaves[9].pk, leaves[8].pk, leaves[7].pk]
    assert len(cut.edges) == 3
    assert whole.truncated is False
    assert len(whole.nodes) == 11


def test_neighbourhood_truncated_when_the_limit_is_met_exactly_and_more_lie_beyond(organization: Organization) -> None:
    centre, a, b, c = entities(organization, 4)
    link(centre, a)
    link(centre, b)
    link(b, c)

    exact = entity_neighbourhood(organization_id=organization.pk, entity_id=centre.pk, limit=3)
    one_hop = entity_neighbourhood(organization_id=organization.pk, entity_id=centre.pk, hops=1, limit=3)

    assert {node["id"] for node in exact.nodes} == {centre.pk, a.pk, b.pk}
    assert exact.truncated is True
    assert one_hop.truncated is False


def test_neighbourhood_excludes_absorbed_and_foreign_entities(
    organization: Organization, other_organization: Organization, village: dict[str, Entity]
) -> None:
    result = entity_neighbourhood(organization_id=organization.pk, entity_id=village["centre"].pk, hops=3)

    ids = {node["id"] for node in result.nodes}
    assert village["absorbed"].pk not in ids
    assert village["foreign"].pk not in ids
    assert village["f"].pk in ids
    assert all({edge["source"], edge["target"]} <= ids for edge in result.edges)
    with pytest.raises(Entity.DoesNotExist):
        entity_neighbourhood(organization_id=organization.pk, entity_id=village["absorbed"].pk)
    with pytest.raises(Entity.DoesNotExist):
        entity_neighbourhood(organization_id=organization.pk, entity_id=village["foreign"].pk)
    with pytest.raises(Entity.DoesNotExist):
        entity_neighbourhood(organization_id=other_organization.pk, entity_id=village["centre"].pk)
    theirs = entity_neighbourhood(organization_id=other_organization.pk, entity_id=village["foreign"].pk)
    assert [node["id"] for node in theirs.nodes] == [village["foreign"].pk]
    assert theirs.edges == []


# --- shortest path ---------------------------------------------------------------------------------------------


def test_shortest_path(organization: Organization, village: dict[str, Entity]) -> None:
    (island,) = entities(organization, 1, "Острів")
    village = {**village, "island": island}
    names = {entity.pk: name for name, entity in village.items()}

    def path(source: str, target: str, **options: Any) -> list[str] | None:
        found = shortest_path(
            organization_id=organization.pk, source_id=village[source].pk, target_id=village[target].pk, **options
        )
        return None if found is None else [names[entity_id] for entity_id in found]

    assert path("centre", "f") == ["centre", "a", "d", "f"]
    # Against the links' direction (d → a, f → d) too.
    assert path("f", "b") == ["f", "d", "e", "b"]
    assert path("centre", "f", max_hops=2) is None
    assert path("centre", "e", max_hops=2) == ["centre", "b", "e"]
    # Without the invoice d → a, the way round through b and e is one hop longer.
    assert path("centre", "f", kinds=[TRADES, DIRECTOR]) == ["centre", "b", "e", "d", "f"]
    assert path("centre", "island") is None
    assert path("a", "a") == ["a"]
    with pytest.raises(Entity.DoesNotExist):
        path("centre", "absorbed")
    with pytest.raises(Entity.DoesNotExist):
        path("foreign", "centre")
    with pytest.raises(Entity.DoesNotExist):
        shortest_path(organization_id=organization.pk, source_id=village["centre"].pk, target_id=10**12)


# --- benchmark command -----------------------------------------------------------------------------------------


def test_benchmark_command_runs_small_and_cleans_up() -> None:
    output = io.StringIO()

    call_command("benchmark_graph", relationships=3_000, queries=5, stdout=output)

    text = output.getvalue()
    assert "2-hop neighbourhood, 5 random entities" in text
    assert "p95" in text
    assert "graph_analyze" in text
    assert not Organization.objects.filter(slug="graph-benchmark").exists()
    assert not Relationship.objects.exists()
