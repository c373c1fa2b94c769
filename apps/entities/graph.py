"""Graph analytics and graph queries over an organisation's entity graph.

The nodes are the organisation's root entities (``merged_into`` is null); the edges are its ``Relationship`` rows,
which the resolver keeps pointing at roots. A row that still points at an absorbed entity, or at an entity of
another organisation, is skipped, and so is a self-link a merge may leave behind.

``graph_analyze`` computes and stores, for every root entity with at least one relationship:

- **degree**: the number of distinct neighbours, direction and kind ignored;
- **betweenness**: undirected and unweighted, over the same simple graph. It is exact (Brandes) while
  ``nodes × edges`` stays within ``BETWEENNESS_EXACT_WORK``; above that it is the Brandes–Pich estimate: the
  shortest paths from ``BETWEENNESS_SAMPLE_WORK // edges`` sources (never fewer than
  ``BETWEENNESS_MIN_SOURCES``) drawn uniformly with a fixed seed, scaled by ``nodes / sources`` so that the
  figures keep the exact scale. Each source costs one breadth-first search over the whole graph, so the step costs
  about ``BETWEENNESS_SAMPLE_WORK`` edge visits whatever the graph's size: 12 s for 87,000 nodes and 300,000
  links (107 sources), 30 s for 290,000 nodes and a million links (64 sources), on one core of the shared
  benchmark machine. A path-length cutoff, the other usual approximation, is no cheaper here: in a graph with hubs
  a three-hop ball is most of the graph, and the cutoff erases exactly the long bridges betweenness is for;
- **PageRank**: directed, weighted by ``record_count`` (the relationships of several kinds between one pair add
  up);
- **community**: Leiden with the modularity objective, edges weighted by ``record_count``, two iterations, a fixed
  seed; numbered 0, 1, … by size, the largest first (of equal sizes, the one holding the smallest entity id first).

Entities outside the graph (no relationship, absorbed) are reset to zero and no community. Then the VAT carousel
signature: directed simple cycles of 3 to 6 ``INVOICES`` relationships (seller → buyer), searched inside each
strongly connected component of the invoice graph only. The search is bounded (``CYCLE_SEARCH_LIMIT`` cycles,
``CYCLE_SEARCH_STEPS`` steps); of the cycles found, the ``MAX_STORED_CYCLES`` largest by amount replace the
organisation's previous ones, and the statistics say when the search or the storing was cut short.

``entity_neighbourhood`` and ``shortest_path`` answer from SQL against the ``(source, kind)`` and
``(target, kind)`` indexes, a few queries per hop for a whole frontier: a 2-hop neighbourhood in a graph of a
million relationships takes about 35 ms at the median and under 100 ms at the 95th percentile
(``manage.py benchmark_graph``).
"""

from __future__ import annotations

import datetime
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import igraph
import numpy as np
import numpy.typing as npt
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from apps.entities.models import Entity, GraphAnalysis, GraphCycle, Relationship, RelationshipKind

ENTITY_TABLE = Entity._meta.db_table
RELATIONSHIP_TABLE = Relationship._meta.db_table
METRICS_TABLE = "entities_graph_metrics_incoming"

# Exact betweenness up to about 4,000 nodes and 8,000 edges; sampled above (see the module docstring).
BETWEENNESS_EXACT_WORK = 32_000_000
BETWEENNESS_SAMPLE_WORK = 32_000_000
BETWEENNESS_MIN_SOURCES = 64
# Fixed seeds: the same graph gets the same sample and the same communities on every run.
BETWEENNESS_SEED = 20261123
COMMUNITY_SEED = 20261123
COMMUNITY_ITERATIONS = 2

EDGE_FIELDS = ("id", "source_id", "target_id", "kind", "first_date", "last_date", "record_count", "amount_uah")
EDGE_COLUMNS = ", ".join(f"r.{name}" for name in EDGE_FIELDS)
# Links read per node and direction (more when the limit is higher): beyond this a node is a hub, and its links
# are a sample.
LINKS_READ_PER_NODE = 1_000
# Frontier nodes read by the first query of a hop; each next query reads four times as many.
FRONTIER_FIRST_CHUNK = 16

MIN_CYCLE_LENGTH = 3
MAX_CYCLE_LENGTH = 6
MAX_STORED_CYCLES = 1_000
CYCLE_SEARCH_LIMIT = 10_000
CYCLE_SEARCH_STEPS = 3_000_000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Neighbourhood:
    """The part of the graph around an entity, ready for JSON.

    ``nodes``: ``id``, ``name`` (a masking token for personal kinds), ``kind``, ``is_pii``, ``country``,
    ``degree``, ``community``, ``hop`` (0 for the centre). ``edges``: ``id``, ``source``, ``target``, ``kind``,
    ``first_date`` and ``last_date`` (ISO dates or None), ``record_count``, ``amount_uah`` (a decimal string or
    None). ``truncated``: nodes were left out to stay within the limit.
    """

    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    truncated: bool


# --- analytics -------------------------------------------------------------------------------------------------


@dataclass
class _Steps:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)


@dataclass(frozen=True)
class _Edges:
    """The organisation's relationships between roots, as vertex indexes; ``ids[vertex]`` is the entity id."""

    ids: IntArray
    source: IntArray
    target: IntArray
    record_count: IntArray
    invoice: npt.NDArray[np.bool_]

    @property
    def nodes(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class _Metrics:
    degree: IntArray
    betweenness: FloatArray
    pagerank: FloatArray
    community: IntArray
    stats: dict[str, Any]


@dataclass(frozen=True)
class _CycleSearch:
    cycles: list[tuple[int, ...]]
    complete: bool
    components: int


def graph_analyze(*, organization_id: int) -> GraphAnalysis:
    """Compute and store the organisation's graph analytics and invoice cycles (see the module docstring).

    The results replace the previous ones in one transaction. A failure leaves the analysis ``failed`` with the
    error and is raised again.
    """
    analysis = GraphAnalysis.objects.create(organization_id=organization_id)
    try:
        with transaction.atomic():
            stats = _analyze(analysis)
    except Exception as error:
        analysis.status = GraphAnalysis.Status.FAILED
        analysis.error = f"{type(error).__name__}: {error}"
        analysis.finished_at = timezone.now()
        analysis.save(update_fields=["status", "error", "finished_at", "updated_at"])
        raise
    analysis.status = GraphAnalysis.Status.DONE
    analysis.stats = stats
    analysis.finished_at = timezone.now()
    analysis.save(update_fields=["status", "stats", "finished_at", "updated_at"])
    return analysis


def _analyze(analysis: GraphAnalysis) -> dict[str, Any]:
    organization_id = analysis.organization_id
    steps = _Steps()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Two runs for one organisation (a task retried while the first still runs) take turns: otherwise both
        # would replace the cycles, neither seeing the other's, and keep both sets.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('entities.graph_analyze'), %s)", [organization_id])
        with steps("load"):
            edges = _load_edges(cursor, organization_id)
        metrics = _compute_metrics(edges, steps)
        with steps("write"):
            _write_metrics(cursor, organization_id, edges.ids, metrics)
        with steps("cycles"):
            search = _search_cycles(edges)
            stored = _store_cycles(cursor, analysis, edges.ids, search.cycles)
    steps.seconds["total"] = round(time.perf_counter() - started, 3)
    return {
        "relationships": len(edges.source),
        "nodes": edges.nodes,
        **metrics.stats,
        "invoice_components": search.components,
        "cycles": stored,
        "cycles_found": len(search.cycles),
        "cycles_truncated": not search.complete or len(search.cycles) > stored,
        "seconds": steps.seconds,
    }


def _load_edges(cursor: CursorWrapper, organization_id: int) -> _Edges:
    """Every relationship between two roots of the organisation.

    One query for the relationships and one for the roots, each answered as a single string of numbers that numpy
    parses at once: a million rows arrive in about a second, where fetching tuples or iterating a COPY row by row
    takes several, and joining the entity table twice in SQL spills its hash tables to disk.
    """
    cursor.execute(
        "SELECT string_agg(concat_ws(' ', source_id, target_id, record_count, (kind = %s)::int), ' ') "  # noqa: S608 - a constant
        f"FROM {RELATIONSHIP_TABLE} WHERE organization_id = %s AND source_id <> target_id",
        [RelationshipKind.INVOICES.value, organization_id],
    )
    columns = _numbers(cursor.fetchone()[0]).reshape(-1, 4)
    cursor.execute(
        f"SELECT string_agg(id::text, ' ') FROM {ENTITY_TABLE} "  # noqa: S608 - a constant
        "WHERE organization_id = %s AND merged_into_id IS NULL",
        [organization_id],
    )
    roots = _numbers(cursor.fetchone()[0])
    columns = columns[np.isin(columns[:, 0], roots) & np.isin(columns[:, 1], roots)]
    ids, vertices = np.unique(columns[:, :2].ravel(), return_inverse=True)
    vertices = vertices.reshape(-1, 2)
    return _Edges(
        ids=ids,
        source=vertices[:, 0],
        target=vertices[:, 1],
        record_count=columns[:, 2],
        invoice=columns[:, 3].astype(bool),
    )


def _numbers(text: str | None) -> IntArray:
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=" ")


@contextmanager
def _seeded_igraph(seed: int) -> Iterator[None]:
    """igraph draws from Python's ``random`` module by default; a seeded generator makes a run repeatable."""
    igraph.set_random_number_generator(random.Random(seed))  # noqa: S311 - reproducibility, not secrecy
    try:
        yield
    finally:
        igraph.set_random_number_generator(random)


def _compute_metrics(edges: _Edges, steps: _Steps) -> _Metrics:
    nodes = edges.nodes
    pairs = np.column_stack((edges.source, edges.target))
    weights = np.maximum(edges.record_count, 1).astype(np.float64)
    with steps("build"):
        directed = igraph.Graph(n=nodes, edges=pairs, directed=True)
        directed.es["weight"] = weights.tolist()
        undirected = directed.as_undirected(mode="collapse", combine_edges={"weight": "sum"})
    with steps("degree"):
        degree = np.asarray(undirected.degree(), dtype=np.int64)
    with steps("betweenness"):
        betweenness, betweenness_stats = _betweenness(undirected)
    with steps("pagerank"):
        pagerank = np.asarray(directed.pagerank(directed=True, weights="weight"), dtype=np.float64)
    with steps("communities"):
        community = _communities(undirected)
    return _Metrics(
        degree=degree,
        betweenness=betweenness,
        pagerank=pagerank,
        community=community,
        stats={
            "edges": undirected.ecount(),
            "communities": int(community.max()) + 1 if nodes else 0,
            "betweenness": betweenness_stats,
        },
    )


def _betweenness(graph: Any) -> tuple[FloatArray, dict[str, Any]]:
    nodes, edges = graph.vcount(), graph.ecount()
    if nodes * edges <= BETWEENNESS_EXACT_WORK:
        exact = np.asarray(graph.betweenness(directed=False), dtype=np.float64)
        return exact, {"method": "exact", "sources": nodes}
    sources = min(nodes, max(BETWEENNESS_MIN_SOURCES, BETWEENNESS_SAMPLE_WORK // edges))
    sample = np.sort(np.random.default_rng(BETWEENNESS_SEED).choice(nodes, size=sources, replace=False))
    partial = np.asarray(graph.betweenness(directed=False, sources=sample.tolist()), dtype=np.float64)
    return partial * (nodes / sources), {"method": "sampled", "sources": sources}


def _communities(graph: Any) -> IntArray:
    nodes = graph.vcount()
    if not nodes:
        return np.zeros(0, dtype=np.int64)
    with _seeded_igraph(COMMUNITY_SEED):
        clustering = graph.community_leiden(
            objective_function="modularity", weights="weight", n_iterations=COMMUNITY_ITERATIONS
        )
    membership = np.asarray(clustering.membership, dtype=np.int64)
    sizes = np.bincount(membership)
    # Vertices are numbered in entity id order, so a community's smallest vertex holds its smallest entity id.
    smallest = np.full(len(sizes), nodes, dtype=np.int64)
    np.minimum.at(smallest, membership, np.arange(nodes, dtype=np.int64))
    order = np.lexsort((smallest, -sizes))
    number = np.empty(len(sizes), dtype=np.int64)
    number[order] = np.arange(len(sizes), dtype=np.int64)
    return number[membership]


def _write_metrics(cursor: CursorWrapper, organization_id: int, ids: IntArray, metrics: _Metrics) -> None:
    """All rows in one COPY into a temporary table, then one UPDATE … FROM; entities left out are reset.

    The table is created inside the analysis's transaction, so a failure rolls it back with everything else.
    """
    cursor.execute(
        f"CREATE TEMPORARY TABLE {METRICS_TABLE} (entity_id bigint PRIMARY KEY, degree integer, "
        "betweenness double precision, pagerank double precision, community integer)"
    )
    rows = zip(
        ids.tolist(),
        metrics.degree.tolist(),
        metrics.betweenness.tolist(),
        metrics.pagerank.tolist(),
        metrics.community.tolist(),
        strict=True,
    )
    data = "".join(f"{row[0]}\t{row[1]}\t{row[2]!r}\t{row[3]!r}\t{row[4]}\n" for row in rows)
    with cursor.copy(f"COPY {METRICS_TABLE} FROM STDIN") as copy:
        copy.write(data)
    cursor.execute(f"ANALYZE {METRICS_TABLE}")
    cursor.execute(
        f"UPDATE {ENTITY_TABLE} e SET degree = m.degree, betweenness = m.betweenness, pagerank = m.pagerank, "  # noqa: S608 - table names are constants
        f"community = m.community FROM {METRICS_TABLE} m "
        "WHERE e.id = m.entity_id AND e.organization_id = %s "
        "AND (e.degree, e.betweenness, e.pagerank, e.community) "
        "IS DISTINCT FROM (m.degree, m.betweenness, m.pagerank, m.community)",
        [organization_id],
    )
    cursor.execute(
        f"UPDATE {ENTITY_TABLE} e SET degree = 0, betweenness = 0, pagerank = 0, community = NULL "  # noqa: S608 - table names are constants
        "WHERE e.organization_id = %s "
        "AND (e.degree <> 0 OR e.betweenness <> 0 OR e.pagerank <> 0 OR e.community IS NOT NULL) "
        f"AND NOT EXISTS (SELECT 1 FROM {METRICS_TABLE} m WHERE m.entity_id = e.id)",
        [organization_id],
    )
    cursor.execute(f"DROP TABLE {METRICS_TABLE}")


class _SearchExhaustedError(Exception):
    """The cycle search reached its bound."""


def _search_cycles(edges: _Edges) -> _CycleSearch:
    """Directed simple cycles of MIN..MAX_CYCLE_LENGTH invoices, as vertex tuples starting at their smallest vertex.

    Within each strongly connected component (a cycle never leaves one), every vertex in turn is the start and the
    search only walks through larger vertices, so each cycle is found once, from its smallest vertex. A backward
    breadth-first search first measures how far each vertex is from the start; the forward walk never steps onto a
    vertex too far from the start to close a short enough cycle.
    """
    invoices = igraph.Graph(
        n=edges.nodes, edges=np.column_stack((edges.source, edges.target))[edges.invoice], directed=True
    )
    invoices.simplify(multiple=True, loops=True)
    components = [
        component for component in invoices.connected_components(mode="strong") if len(component) >= MIN_CYCLE_LENGTH
    ]
    found: list[tuple[int, ...]] = []
    steps = [0]

    def spend(amount: int) -> None:
        steps[0] += amount
        if steps[0] > CYCLE_SEARCH_STEPS or len(found) >= CYCLE_SEARCH_LIMIT:
            raise _SearchExhaustedError

    try:
        for component in components:
            subgraph = invoices.induced_subgraph(component)
            vertices = sorted(component)
            _component_cycles(subgraph.get_adjlist(mode="out"), subgraph.get_adjlist(mode="in"), vertices, found, spend)
    except _SearchExhaustedError:
        return _CycleSearch(cycles=found[:CYCLE_SEARCH_LIMIT], complete=False, components=len(components))
    return _CycleSearch(cycles=found, complete=True, components=len(components))


def _component_cycles(
    successors: list[list[int]],
    predecessors: list[list[int]],
    vertices: Sequence[int],
    found: list[tuple[int, ...]],
    spend: Callable[[int], None],
) -> None:
    """Cycles of one component; local vertex ``i`` is graph vertex ``vertices[i]`` (both in ascending order)."""
    for start in range(len(successors)):
        _cycles_from(start, successors, _distances_to(start, predecessors, spend), vertices, found, spend)


def _distances_to(start: int, predecessors: list[list[int]], spend: Callable[[int], None]) -> dict[int, int]:
    """Links from each vertex above ``start`` to ``start``, through vertices above it, up to MAX_CYCLE_LENGTH - 1."""
    distance = {start: 0}
    frontier = [start]
    for depth in range(1, MAX_CYCLE_LENGTH):
        reached = []
        for vertex in frontier:
            spend(len(predecessors[vertex]))
            for previous in predecessors[vertex]:
                if previous > start and previous not in distance:
                    distance[previous] = depth
                    reached.append(previous)
        frontier = reached
    return distance


def _cycles_from(
    start: int,
    successors: list[list[int]],
    distance: dict[int, int],
    vertices: Sequence[int],
    found: list[tuple[int, ...]],
    spend: Callable[[int], None],
) -> None:
    path = [start]
    on_path = {start}

    def extend(vertex: int) -> None:
        spend(1)
        for following in successors[vertex]:
            if following == start:
                if len(path) >= MIN_CYCLE_LENGTH:
                    found.append(tuple(vertices[local] for local in path))
            # Vertices below the start have no distance, so the walk never enters them.
            elif following not in on_path and len(path) + distance.get(following, MAX_CYCLE_LENGTH) <= MAX_CYCLE_LENGTH:
                path.append(following)
                on_path.add(following)
                extend(following)
                path.pop()
                on_path.remove(following)

    extend(start)


def _store_cycles(cursor: CursorWrapper, analysis: GraphAnalysis, ids: IntArray, cycles: list[tuple[int, ...]]) -> int:
    """Replace the organisation's cycles with the largest ``MAX_STORED_CYCLES`` by amount; return how many."""
    organization_id = analysis.organization_id
    GraphCycle.objects.filter(organization_id=organization_id).delete()
    if not cycles:
        return 0
    entity_cycles = [[int(ids[vertex]) for vertex in cycle] for cycle in cycles]
    members = sorted({entity_id for cycle in entity_cycles for entity_id in cycle})
    cursor.execute(
        "SELECT source_id, target_id, amount_uah, record_count, first_date, last_date "  # noqa: S608 - a constant
        f"FROM {RELATIONSHIP_TABLE} WHERE organization_id = %s AND kind = %s "
        "AND source_id = ANY(%s) AND target_id = ANY(%s)",
        [organization_id, RelationshipKind.INVOICES.value, members, members],
    )
    invoices = {(row[0], row[1]): row[2:] for row in cursor.fetchall()}
    rows = []
    for entity_ids in entity_cycles:
        chain = [invoices.get(pair) for pair in zip(entity_ids, entity_ids[1:] + entity_ids[:1], strict=True)]
        links = [link for link in chain if link is not None]
        if len(links) < len(chain):
            # An invoice link deleted since the graph was read (this runs at READ COMMITTED): no longer a cycle.
            continue
        amounts = [link[0] for link in links if link[0] is not None]
        first_dates = [link[2] for link in links if link[2] is not None]
        last_dates = [link[3] for link in links if link[3] is not None]
        rows.append(
            GraphCycle(
                organization_id=organization_id,
                analysis=analysis,
                entity_ids=entity_ids,
                length=len(entity_ids),
                amount_uah=sum(amounts, Decimal(0)) if amounts else None,
                record_count=sum(link[1] for link in links),
                first_date=min(first_dates, default=None),
                last_date=max(last_dates, default=None),
            )
        )
    rows.sort(key=lambda cycle: (-(cycle.amount_uah or Decimal(0)), cycle.entity_ids))
    GraphCycle.objects.bulk_create(rows[:MAX_STORED_CYCLES], batch_size=1_000)
    return min(len(rows), MAX_STORED_CYCLES)


# --- queries ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LinkFilter:
    """The WHERE conditions a traversal puts on relationships, with their parameters."""

    organization_id: int
    kinds: list[str] | None
    date_from: datetime.date | None
    date_to: datetime.date | None

    def sql(self) -> str:
        conditions = ["r.organization_id = %(organization)s", "r.source_id <> r.target_id"]
        if self.kinds:
            conditions.append("r.kind = ANY(%(kinds)s)")
        # An open end (no date) does not exclude a relationship: a register entry often has no end date.
        if self.date_to is not None:
            conditions.append("(r.first_date IS NULL OR r.first_date <= %(date_to)s)")
        if self.date_from is not None:
            conditions.append("(r.last_date IS NULL OR r.last_date >= %(date_from)s)")
        return " AND ".join(conditions)

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "organization": self.organization_id,
            "kinds": self.kinds,
            "date_from": self.date_from,
            "date_to": self.date_to,
            **extra,
        }


def _link_filter(
    organization_id: int,
    kinds: Collection[str] | None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> _LinkFilter:
    return _LinkFilter(
        organization_id=organization_id, kinds=sorted(kinds) if kinds else None, date_from=date_from, date_to=date_to
    )


def _roots(cursor: CursorWrapper, organization_id: int, entity_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The organisation's root entities among ``entity_ids``, as node dicts without their hop."""
    cursor.execute(
        "SELECT id, name, kind, is_pii, country, degree, community "  # noqa: S608 - a constant
        f"FROM {ENTITY_TABLE} WHERE id = ANY(%s) AND organization_id = %s AND merged_into_id IS NULL",
        [list(entity_ids), organization_id],
    )
    return {
        row[0]: {
            "id": row[0],
            "name": row[1],
            "kind": row[2],
            "is_pii": row[3],
            "country": row[4],
            "degree": row[5],
            "community": row[6],
        }
        for row in cursor.fetchall()
    }


def entity_neighbourhood(
    *,
    organization_id: int,
    entity_id: int,
    hops: int = 2,
    kinds: Collection[str] | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    limit: int = 300,
) -> Neighbourhood:
    """The entities within ``hops`` links of an entity and the relationships among them.

    Links are followed in both directions, within the organisation, between root entities only; ``kinds`` (None
    or empty: all) and the interval ``[date_from, date_to]`` (a relationship counts when its dates overlap it; an
    open end overlaps everything) filter them.

    At most ``limit`` nodes, taken best-first so that a hub never costs its whole neighbourhood: hop by hop, the
    nodes of the previous hop are expanded in the order they were taken, each through its links strongest
    (``record_count``) first, and the expansion stops as soon as the limit is reached. Of a node's links, at most
    ``LINKS_READ_PER_NODE`` (or ``limit + 1`` if more) in each direction are read: a hub's links are a sample, not
    its strongest. ``truncated`` says that some node was left out, or that a hub's links were not all read.

    Raises ``Entity.DoesNotExist`` when the entity is not a root entity of the organisation.
    """
    links = _link_filter(organization_id, kinds, date_from, date_to)
    with connection.cursor() as cursor:
        centre = _roots(cursor, organization_id, [entity_id])
        if entity_id not in centre:
            raise Entity.DoesNotExist(f"no entity {entity_id} in organisation {organization_id}")
        traversal = _Traversal(cursor=cursor, links=links, limit=limit)
        traversal.nodes[entity_id] = {**centre[entity_id], "hop": 0}
        frontier = [entity_id]
        for hop in range(1, hops + 1):
            if not frontier or traversal.truncated:
                break
            frontier = traversal.expand(frontier, hop)
        return Neighbourhood(
            nodes=list(traversal.nodes.values()), edges=traversal.edges(), truncated=traversal.truncated
        )


@dataclass
class _Traversal:
    """The state of one neighbourhood query: nodes taken, relationship rows read, nodes whose links were read."""

    cursor: CursorWrapper
    links: _LinkFilter
    limit: int
    nodes: dict[int, dict[str, Any]] = field(default_factory=dict)
    rows: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    expanded: set[int] = field(default_factory=set)
    truncated: bool = False

    def expand(self, frontier: list[int], hop: int) -> list[int]:
        """Take the next hop's nodes, best-first, within the limit; return them in the order taken.

        The frontier is read in chunks growing fourfold (the first ones usually fill the room), and candidates
        are checked against the entity table in batches a little larger than the room left (absorbed ones are
        rare).
        """
        room = self.limit - len(self.nodes)
        per_direction = max(self.limit + 1, LINKS_READ_PER_NODE)
        admitted: list[dict[str, Any]] = []
        seen = set(self.nodes)
        position, chunk = 0, FRONTIER_FIRST_CHUNK
        while position < len(frontier) and len(admitted) <= room:
            part = frontier[position : position + chunk]
            position, chunk = position + len(part), chunk * 4
            candidates = []
            read: Counter[tuple[int, int]] = Counter()
            for origin, direction, row in self._links_from(part, per_direction):
                read[(origin, direction)] += 1
                self.rows[row[0]] = row
                neighbour = row[2] if direction == 0 else row[1]
                if neighbour not in seen:
                    seen.add(neighbour)
                    candidates.append(neighbour)
            self.expanded.update(part)
            self.truncated = self.truncated or any(count >= per_direction for count in read.values())
            checked = 0
            while checked < len(candidates) and len(admitted) <= room:
                batch = candidates[checked : checked + room - len(admitted) + 16]
                checked += len(batch)
                roots = _roots(self.cursor, self.links.organization_id, batch)
                admitted.extend(roots[candidate] for candidate in batch if candidate in roots)
        self.truncated = self.truncated or len(admitted) > room
        for node in admitted[:room]:
            self.nodes[node["id"]] = {**node, "hop": hop}
        return [node["id"] for node in admitted[:room]]

    def _links_from(self, frontier: list[int], per_direction: int) -> list[tuple[int, int, tuple[Any, ...]]]:
        """(frontier node, 0 outgoing or 1 incoming, relationship row): up to ``per_direction`` links each way of
        each frontier node, in frontier order and strongest first."""
        condition = self.links.sql()
        self.cursor.execute(
            f"SELECT f.id, l.direction, {', '.join(f'l.{name}' for name in EDGE_FIELDS)} "  # noqa: S608 - conditions are constants
            "FROM unnest(%(frontier)s::bigint[]) WITH ORDINALITY AS f(id, position) CROSS JOIN LATERAL ("
            f"(SELECT 0 AS direction, {EDGE_COLUMNS} FROM {RELATIONSHIP_TABLE} r "
            f"WHERE r.source_id = f.id AND {condition} LIMIT %(per_direction)s) "
            "UNION ALL "
            f"(SELECT 1, {EDGE_COLUMNS} FROM {RELATIONSHIP_TABLE} r "
            f"WHERE r.target_id = f.id AND {condition} LIMIT %(per_direction)s)"
            ") AS l ORDER BY f.position, l.record_count DESC, l.id",
            self.links.params(frontier=frontier, per_direction=per_direction),
        )
        return [(row[0], row[1], tuple(row[2:])) for row in self.cursor.fetchall()]

    def edges(self) -> list[dict[str, Any]]:
        """The relationships among the nodes: those read while expanding, and those among the nodes never
        expanded (the last hop's), read now."""
        unexpanded = sorted(set(self.nodes) - self.expanded)
        if len(unexpanded) > 1:
            self.cursor.execute(
                f"SELECT {EDGE_COLUMNS} FROM {RELATIONSHIP_TABLE} r "  # noqa: S608 - conditions are constants
                f"WHERE r.source_id = ANY(%(ids)s) AND r.target_id = ANY(%(ids)s) AND {self.links.sql()}",
                self.links.params(ids=unexpanded),
            )
            self.rows.update((row[0], tuple(row)) for row in self.cursor.fetchall())
        return [
            {
                "id": row[0],
                "source": row[1],
                "target": row[2],
                "kind": row[3],
                "first_date": row[4].isoformat() if row[4] else None,
                "last_date": row[5].isoformat() if row[5] else None,
                "record_count": row[6],
                "amount_uah": str(row[7]) if row[7] is not None else None,
            }
            for _id, row in sorted(self.rows.items())
            if row[1] in self.nodes and row[2] in self.nodes
        ]


def shortest_path(
    *,
    organization_id: int,
    source_id: int,
    target_id: int,
    kinds: Collection[str] | None = None,
    max_hops: int = 6,
) -> list[int] | None:
    """Entity ids along a shortest undirected path from ``source_id`` to ``target_id``, both included; None when
    there is none within ``max_hops`` links. Ties between equally short paths are broken by entity id, so the
    answer is the same on every call.

    Bidirectional breadth-first search: each step expands the smaller frontier by one hop in one SQL query.
    Raises ``Entity.DoesNotExist`` when either end is not a root entity of the organisation.
    """
    links = _link_filter(organization_id, kinds)
    with connection.cursor() as cursor:
        ends = _roots(cursor, organization_id, [source_id, target_id])
        for end in (source_id, target_id):
            if end not in ends:
                raise Entity.DoesNotExist(f"no entity {end} in organisation {organization_id}")
        if source_id == target_id:
            return [source_id]
        # Per side: every node reached, with the node it was reached from and its distance from that side's end.
        parents: tuple[dict[int, int | None], dict[int, int | None]] = ({source_id: None}, {target_id: None})
        distances: tuple[dict[int, int], dict[int, int]] = ({source_id: 0}, {target_id: 0})
        frontiers = [[source_id], [target_id]]
        depths = [0, 0]
        while depths[0] + depths[1] < max_hops and frontiers[0] and frontiers[1]:
            side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
            reached = {
                neighbour: origin
                for origin, neighbour in _neighbour_pairs(cursor, links, frontiers[side])
                if neighbour not in parents[side]
            }
            depths[side] += 1
            parents[side].update(reached)
            distances[side].update(dict.fromkeys(reached, depths[side]))
            meetings = [node for node in reached if node in parents[1 - side]]
            if meetings:
                meeting = min(meetings, key=lambda node: (distances[1 - side][node], node))
                return _walk(parents[0], meeting)[::-1] + _walk(parents[1], meeting)[1:]
            frontiers[side] = sorted(reached)
    return None


def _walk(parents: dict[int, int | None], node: int) -> list[int]:
    path = [node]
    previous = parents[node]
    while previous is not None:
        path.append(previous)
        previous = parents[previous]
    return path


def _neighbour_pairs(cursor: CursorWrapper, links: _LinkFilter, frontier: list[int]) -> list[tuple[int, int]]:
    """(frontier node, root neighbour): each neighbour once, with the smallest frontier node it is linked to."""
    condition = links.sql()
    cursor.execute(
        "SELECT DISTINCT ON (x.neighbour) x.origin, x.neighbour FROM ("  # noqa: S608 - conditions are constants
        f"SELECT r.source_id AS origin, r.target_id AS neighbour FROM {RELATIONSHIP_TABLE} r "
        f"WHERE r.source_id = ANY(%(frontier)s) AND {condition} "
        "UNION ALL "
        f"SELECT r.target_id, r.source_id FROM {RELATIONSHIP_TABLE} r "
        f"WHERE r.target_id = ANY(%(frontier)s) AND {condition}"
        f") AS x JOIN {ENTITY_TABLE} e ON e.id = x.neighbour "
        "AND e.organization_id = %(organization)s AND e.merged_into_id IS NULL "
        "ORDER BY x.neighbour, x.origin",
        links.params(frontier=frontier),
    )
    return [(row[0], row[1]) for row in cursor.fetchall()]
