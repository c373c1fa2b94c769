"""Entity resolution: the parties of a loaded dataset resolved into the organisation's entities.

Runs as the ``entities.resolve`` post-load hook on every dataset, incrementally: new parties are matched against
the entities earlier datasets made, never by re-resolving everything. One organisation resolves one dataset at a
time (a transaction-scoped advisory lock); rerunning a dataset replaces its mentions.

1. **Extract** every party of every record (trader, declarant, counterparty; seller, buyer; a register's company,
   its address, directors, founders and owners; a register person; phones and codes in Telegram messages) into
   one frame.
2. **Identifiers decide** (deterministic): ЄДРПОУ, РНОКПП (a token), phones. Two parties with one identifier are
   one entity; an identifier already known belongs to its entity. A dataset loaded with anonymised party codes
   (``apps.datasets.ingest.mapping.MappingOptions``) has opaque ids: each is an identifier of the "other" scheme,
   keyed by the id as written (even one of 8 digits is no ЄДРПОУ), so the same id is the same entity in every
   dataset of the organisation, and it never becomes a person.
3. **Company names without a code** (foreign partners, foreign founders) are keyed (``normalize.company_key``):
   the same key in the same country is one entity; similar keys are found by PostgreSQL's pg_trgm (new keys
   against the organisation's names and against each other, a GIN index on each side) and scored
   (``scoring``); a score at or above ``AUTO_MERGE`` links, one between ``REVIEW`` and it goes to the review
   queue.
4. **People** are matched in memory: their names are tokens, so the clear names of the candidates are read from
   the privacy vault for the comparison and never stored. They are blocked on keyed hashes of name parts and
   date of birth (``EntityName.block_keys``), so a later dataset finds the people of earlier ones without any
   clear name in the database.
5. **Write**: mentions by COPY, entity statistics, and the relationships of every entity touched, rebuilt from
   the mentions that share a record.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from apps.datasets.ingest.mapping import dataset_options
from apps.datasets.models import Dataset, DatasetStatus, RecordKind
from apps.datasets.synthetic.codes import is_valid_edrpou
from apps.entities import normalize, scoring
from apps.entities.models import (
    Entity,
    EntityIdentifier,
    EntityKind,
    EntityMention,
    EntityName,
    IdentifierScheme,
    MatchCandidate,
    MatchMethod,
    MentionRole,
    RelationshipKind,
    ScorerKind,
)
from apps.privacy.masking import MASK_PREFIX, PIIKind, match_key_token
from apps.privacy.vault import vault_reveal

logger = logging.getLogger(__name__)

TRGM_THRESHOLD = 0.45
ANALYZE_AFTER = 10_000
# A blocking key shared by more people than this says little (a common surname and initial); pairs are then
# compared only through the other keys.
MAX_BLOCK = 200
# Companies sharing one building are linked pairwise up to this many; a bigger address is a hub in the graph.
MAX_SHARED_ADDRESS = 60

_ITEM_SHARE = re.compile(r"\s*\((?:частка|частина|доля|share)[^)]*\)\s*$", re.IGNORECASE)
_ITEM_CODE = re.compile(r"\((?:код|code)\s*(\d{8,10})\)")
_ITEM_COUNTRY = re.compile(r"^(?P<name>.+?)\s*\((?P<country>[A-Z]{2})\)$")
_ROLE_WORDS = {"керівник": "director", "засновник": "founder", "бенефіціар": "beneficial_owner", "фоп": "fop"}
_PERSON_ROLES = {MentionRole.PERSON, MentionRole.DIRECTOR, MentionRole.FOUNDER, MentionRole.BENEFICIAL_OWNER}
_TAX_TOKEN = f"{MASK_PREFIX}-{PIIKind.TAX_NUMBER}-"
_NAME_TOKEN = f"{MASK_PREFIX}-{PIIKind.PERSON_NAME}-"

# Which pair of roles in one record makes which relationship, source → target.
RELATIONSHIP_ROLES: tuple[tuple[str, str, str, str], ...] = (
    (RecordKind.CUSTOMS_DECLARATION, MentionRole.TRADER, MentionRole.COUNTERPARTY, RelationshipKind.TRADES_WITH),
    (RecordKind.CUSTOMS_DECLARATION, MentionRole.DECLARANT, MentionRole.TRADER, RelationshipKind.BROKERED_FOR),
    (RecordKind.TAX_INVOICE, MentionRole.SELLER, MentionRole.BUYER, RelationshipKind.INVOICES),
    (RecordKind.REGISTRY_COMPANY, MentionRole.DIRECTOR, MentionRole.COMPANY, RelationshipKind.DIRECTOR_OF),
    (RecordKind.REGISTRY_COMPANY, MentionRole.FOUNDER, MentionRole.COMPANY, RelationshipKind.FOUNDER_OF),
    (RecordKind.REGISTRY_COMPANY, MentionRole.BENEFICIAL_OWNER, MentionRole.COMPANY, RelationshipKind.OWNER_OF),
    (RecordKind.REGISTRY_COMPANY, MentionRole.COMPANY, MentionRole.ADDRESS, RelationshipKind.LOCATED_AT),
    (RecordKind.TELEGRAM_MESSAGE, MentionRole.MENTIONED, MentionRole.MENTIONED, RelationshipKind.MENTIONED_WITH),
)


@dataclass(slots=True)
class Party:
    """One party of one record, as written (a million of them for a large dataset: slots halve their cost)."""

    record_id: int
    role: str
    name: str = ""
    code: str = ""
    country: str = ""
    date: date | None = None
    amount: Decimal | None = None
    # People: tokens of the date of birth and the address, and the company codes the record ties them to.
    birth: str = ""
    address: str = ""
    companies: tuple[str, ...] = ()
    entity_id: int = 0
    method: str = MatchMethod.NEW
    score: float = 1.0


@dataclass
class ResolveStats:
    organization_id: int | None = None
    parties: int = 0
    entities_created: int = 0
    merged: int = 0
    review: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def lap(self, step: str, started: float) -> float:
        """Record the seconds ``step`` took since ``started``; returns now, when the next step starts."""
        now = time.perf_counter()
        self.seconds[step] = round(now - started, 3)
        return now


# --- extraction -----------------------------------------------------------------------------------------------


def _rows(sql: str, params: Sequence[Any]) -> Iterable[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        yield from cursor.fetchall()


def _split_party_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(";") if item.strip()]


def extract_parties(dataset: Dataset) -> list[Party]:
    """Every party of every record of the dataset."""
    kind, pk = dataset.kind, dataset.pk
    parties: list[Party] = []
    if kind == RecordKind.CUSTOMS_DECLARATION:
        for rid, day, value, t_code, t_name, d_code, d_name, c_name, c_country in _rows(
            "SELECT id, declaration_date, customs_value_uah, trader_code, trader_name, declarant_code, declarant_name,"
            " counterparty_name, counterparty_country FROM datasets_customsdeclaration WHERE dataset_id = %s",
            [pk],
        ):
            parties.append(Party(rid, MentionRole.TRADER, t_name, t_code, "UA", day, value))
            if d_code or d_name:
                parties.append(Party(rid, MentionRole.DECLARANT, d_name, d_code, "UA", day, value))
            if c_name:
                parties.append(Party(rid, MentionRole.COUNTERPARTY, c_name, "", c_country, day, value))
    elif kind == RecordKind.TAX_INVOICE:
        for rid, day, amount, s_code, s_name, b_code, b_name in _rows(
            "SELECT id, invoice_date, amount_uah, seller_code, seller_name, buyer_code, buyer_name"
            " FROM datasets_taxinvoice WHERE dataset_id = %s",
            [pk],
        ):
            parties.append(Party(rid, MentionRole.SELLER, s_name, s_code, "UA", day, amount))
            parties.append(Party(rid, MentionRole.BUYER, b_name, b_code, "UA", day, amount))
    elif kind == RecordKind.REGISTRY_COMPANY:
        for rid, day, code, name, short_name, address, directors, founders, owners in _rows(
            "SELECT id, registration_date, code, name, short_name, address, directors, founders, beneficial_owners"
            " FROM datasets_registrycompany WHERE dataset_id = %s",
            [pk],
        ):
            parties.append(Party(rid, MentionRole.COMPANY, short_name or name, code, "UA", day))
            if address:
                parties.append(Party(rid, MentionRole.ADDRESS, address, "", "UA", day))
            for role, text in (
                (MentionRole.DIRECTOR, directors),
                (MentionRole.FOUNDER, founders),
                (MentionRole.BENEFICIAL_OWNER, owners),
            ):
                for item in _split_party_list(text):
                    parties.append(_register_party(rid, role, item, code, day))
    elif kind == RecordKind.REGISTRY_PERSON:
        for rid, name, birth, tax, address, roles in _rows(
            "SELECT id, full_name, birth_date, tax_number, address, roles FROM datasets_registryperson"
            " WHERE dataset_id = %s",
            [pk],
        ):
            companies = tuple(
                sorted({code for word, code in re.findall(r"(\w+)\s+(\d{8})", roles) if word.casefold() in _ROLE_WORDS})
            )
            parties.append(
                Party(rid, MentionRole.PERSON, name, tax, "UA", birth=birth, address=address, companies=companies)
            )
    elif kind == RecordKind.TELEGRAM_MESSAGE:
        for rid, sent_at, phones, codes in _rows(
            "SELECT id, sent_at, phones, codes FROM datasets_telegrammessage WHERE dataset_id = %s", [pk]
        ):
            for value in [*phones, *codes]:
                parties.append(Party(rid, MentionRole.MENTIONED, "", value, "", sent_at.date() if sent_at else None))
    return parties


def _register_party(record_id: int, role: str, item: str, company_code: str, day: date | None) -> Party:
    """One item of a register's party list: a person (a token), a Ukrainian company with its code, or a foreign
    company with its country."""
    item = _ITEM_SHARE.sub("", item).strip()
    code_match = _ITEM_CODE.search(item)
    if code_match:
        return Party(record_id, role, _ITEM_CODE.sub("", item).strip(), code_match.group(1), "UA", day)
    country_match = _ITEM_COUNTRY.match(item)
    if country_match and not item.startswith(MASK_PREFIX):
        return Party(record_id, role, country_match["name"], "", country_match["country"], day)
    return Party(record_id, role, item, "", "UA", day, companies=(company_code,))


def entity_roots(entity_ids: Iterable[int]) -> dict[int, int]:
    """The surviving entity of each id (itself unless it was merged into another)."""
    ids = list(set(entity_ids))
    if not ids:
        return {}
    rows = _rows(
        """
        WITH RECURSIVE chain(start_id, id, merged_into_id) AS (
            SELECT id, id, merged_into_id FROM entities_entity WHERE id = ANY(%s)
            UNION ALL
            SELECT chain.start_id, e.id, e.merged_into_id
            FROM chain JOIN entities_entity e ON e.id = chain.merged_into_id
        )
        SELECT start_id, id FROM chain WHERE merged_into_id IS NULL
        """,
        [ids],
    )
    return dict(rows)


# --- union-find -----------------------------------------------------------------------------------------------


class _Clusters:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, node: Any) -> Any:
        parent = self.parent.setdefault(node, node)
        if parent != node:
            parent = self.parent[node] = self.find(parent)
        return parent

    def union(self, left: Any, right: Any) -> None:
        left_root, right_root = self.find(left), self.find(right)
        if left_root != right_root:
            # An existing entity ("e", id) stays the representative, the oldest one when two meet.
            if _rank(right_root) < _rank(left_root):
                left_root, right_root = right_root, left_root
            self.parent[right_root] = left_root


def _rank(node: Any) -> tuple[int, int]:
    return (0, node[1]) if node[0] == "e" else (1, 0)


# --- the resolver ---------------------------------------------------------------------------------------------


class Resolver:
    def __init__(self, organization_id: int, stats: ResolveStats, *, anonymised_codes: bool = False) -> None:
        self.organization_id = organization_id
        self.stats = stats
        # The dataset's party codes are opaque ids, not ЄДРПОУ/РНОКПП.
        self.anonymised_codes = anonymised_codes
        self.company_weights = scoring.weights_for(organization_id=organization_id, kind=ScorerKind.COMPANY)
        self.person_weights = scoring.weights_for(organization_id=organization_id, kind=ScorerKind.PERSON)
        self.rejected = {
            (left, right)
            for left, right in MatchCandidate.objects.filter(
                organization_id=organization_id, status=MatchCandidate.Status.REJECTED
            ).values_list("left_id", "right_id")
        }
        self.pending_review: list[tuple[Any, Any, str, scoring.Score]] = []
        self.merges: list[tuple[int, int, float]] = []

    # Entities ----------------------------------------------------------------------------------------------

    def create_entities(self, specs: list[dict[str, Any]]) -> list[int]:
        created = Entity.objects.bulk_create(
            [Entity(organization_id=self.organization_id, **spec) for spec in specs], batch_size=5000
        )
        self.stats.entities_created += len(created)
        return [entity.pk for entity in created]

    # Identifiers -------------------------------------------------------------------------------------------

    def resolve_identified(self, parties: list[Party]) -> None:
        """Parties with a code or a phone: one entity per identifier."""
        by_code: dict[str, list[Party]] = defaultdict(list)
        for party in parties:
            by_code[party.code].append(party)
        by_identifier: dict[tuple[str, str], list[Party]] = defaultdict(list)
        for code, group in by_code.items():
            key = (IdentifierScheme.OTHER, code.strip()) if self.anonymised_codes else _identifier(code)
            by_identifier[key].extend(group)
        known = {
            (scheme, value): entity_id
            for scheme, value, entity_id in EntityIdentifier.objects.filter(
                organization_id=self.organization_id,
                value__in=[value for _, value in by_identifier],
            ).values_list("scheme", "value", "entity_id")
        }
        roots = entity_roots(known.values())
        missing = [key for key in by_identifier if key not in known]
        specs = [_identified_entity(key, by_identifier[key]) for key in missing]
        created = self.create_entities(specs)
        EntityIdentifier.objects.bulk_create(
            [
                EntityIdentifier(
                    organization_id=self.organization_id,
                    entity_id=entity_id,
                    scheme=scheme,
                    value=value,
                    is_valid=scheme != IdentifierScheme.EDRPOU or is_valid_edrpou(value),
                )
                for (scheme, value), entity_id in zip(missing, created, strict=True)
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
        for key, entity_id in zip(missing, created, strict=True):
            roots[entity_id] = entity_id
            known[key] = entity_id
        for key, group in by_identifier.items():
            entity_id = roots[known[key]]
            for party in group:
                party.entity_id = entity_id
                party.method = MatchMethod.IDENTIFIER
        self._record_names(parties)

    # Company names -----------------------------------------------------------------------------------------

    def resolve_company_names(self, parties: list[Party]) -> None:
        """Companies known only by name and country (foreign partners, foreign founders)."""
        groups: dict[tuple[str, str], list[Party]] = defaultdict(list)
        for party in parties:
            groups[(party.country, normalize.company_key(party.name))].append(party)
        keys = list(groups)
        clusters = _Clusters()
        exact = self._existing_names(keys)
        for index, key in enumerate(keys):
            clusters.find(("k", index))
            if key in exact:
                clusters.union(("e", exact[key]), ("k", index))
        method: dict[int, tuple[str, float]] = {}
        for index, entity_id, similarity_key in self._trigram_candidates(keys):
            key = keys[index]
            if isinstance(entity_id, int):
                other: tuple[str, int] = ("e", entity_id)
                other_key = similarity_key
            else:
                other = ("k", entity_id[1])
                other_key = keys[entity_id[1]][1]
            result = scoring.score(
                self.company_weights,
                {
                    "name": normalize.name_similarity(key[1], other_key),
                    "country": 1.0,
                    "spelling": normalize.spelling_agreement(key[1], other_key),
                },
                {"name": (key[1], other_key), "country": (key[0], key[0])},
            )
            if result.probability >= scoring.AUTO_MERGE and not self._rejected(("k", index), other, clusters):
                clusters.union(other, ("k", index))
                method[index] = (MatchMethod.FUZZY, result.probability)
            elif result.probability >= scoring.REVIEW:
                self.pending_review.append((("k", index), other, ScorerKind.COMPANY, result))
        entity_of = self._assign_clusters(clusters, keys, groups, kind=EntityKind.COMPANY, method=method, exact=exact)
        self._queue_reviews(entity_of)
        self._record_names(parties)

    def _existing_names(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not keys:
            return {}
        rows = _rows(
            """
            SELECT n.country, n.match_key, n.entity_id FROM entities_entityname n
            JOIN entities_entity e ON e.id = n.entity_id
            WHERE n.organization_id = %s AND e.kind IN ('company', 'broker')
              AND (n.country, n.match_key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
            """,
            [self.organization_id, [c for c, _ in keys], [k for _, k in keys]],
        )
        found = {(country, key): entity_id for country, key, entity_id in rows}
        roots = entity_roots(found.values())
        return {key: roots[entity_id] for key, entity_id in found.items()}

    def _trigram_candidates(self, keys: list[tuple[str, str]]) -> list[tuple[int, Any, str]]:
        """Pairs pg_trgm finds similar: (new key index, existing entity id or ("k", other index), its key)."""
        if not keys:
            return []
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL pg_trgm.similarity_threshold = %s", [TRGM_THRESHOLD])
            cursor.execute(
                "CREATE TEMP TABLE entities_new_keys (idx integer, country text, match_key text) ON COMMIT DROP"
            )
            with cursor.copy("COPY entities_new_keys (idx, country, match_key) FROM STDIN") as copy:
                for index, (country, key) in enumerate(keys):
                    copy.write_row((index, country, key))
            cursor.execute("CREATE INDEX ON entities_new_keys USING gin (match_key gin_trgm_ops)")
            cursor.execute("ANALYZE entities_new_keys")
            cursor.execute(
                """
                SELECT k.idx, n.entity_id, n.match_key FROM entities_new_keys k
                JOIN entities_entityname n ON n.organization_id = %s AND n.country = k.country
                  AND n.match_key %% k.match_key AND n.match_key <> k.match_key
                JOIN entities_entity e ON e.id = n.entity_id AND e.kind IN ('company', 'broker')
                """,
                [self.organization_id],
            )
            existing = cursor.fetchall()
            cursor.execute(
                """
                SELECT a.idx, b.idx FROM entities_new_keys a
                JOIN entities_new_keys b ON a.country = b.country AND a.idx < b.idx AND a.match_key %% b.match_key
                """,
                [],
            )
            within = cursor.fetchall()
            cursor.execute("DROP TABLE entities_new_keys")
        roots = entity_roots(entity_id for _, entity_id, _ in existing)
        candidates: list[tuple[int, Any, str]] = [(index, roots[entity_id], key) for index, entity_id, key in existing]
        candidates.extend((left, ("k", right), "") for left, right in within)
        return candidates

    def _rejected(self, left: Any, right: Any, clusters: _Clusters) -> bool:
        """Whether an investigator has ruled that the entities the two nodes stand for differ."""
        left_root, right_root = clusters.find(left), clusters.find(right)
        if left_root[0] != "e" or right_root[0] != "e":
            return False
        pair = (min(left_root[1], right_root[1]), max(left_root[1], right_root[1]))
        return pair in self.rejected

    def _assign_clusters(
        self,
        clusters: _Clusters,
        keys: list[Any],
        groups: dict[Any, list[Party]],
        *,
        kind: str,
        method: dict[int, tuple[str, float]],
        exact: dict[Any, int] | None = None,
    ) -> dict[Any, int]:
        """Give every cluster an entity (the existing one it holds, or a new one) and its parties that entity.

        A cluster that joined two existing entities merges them (``merges``, applied by the caller)."""
        exact = exact or {}
        members: dict[Any, list[int]] = defaultdict(list)
        for index in range(len(keys)):
            members[clusters.find(("k", index))].append(index)
        new_roots = [root for root in members if root[0] != "e"]
        specs = []
        for root in new_roots:
            names = Counter(party.name for index in members[root] for party in groups[keys[index]] if party.name)
            first = groups[keys[members[root][0]]][0]
            specs.append(
                {
                    "kind": kind,
                    "name": (names.most_common(1)[0][0] if names else first.code)[:1000],
                    "country": first.country,
                    "is_pii": kind == EntityKind.PERSON or first.name.startswith(MASK_PREFIX),
                }
            )
        created = dict(zip(new_roots, self.create_entities(specs), strict=True))
        entity_of: dict[Any, int] = {}
        for root, indexes in members.items():
            entity_id = root[1] if root[0] == "e" else created[root]
            for index in indexes:
                entity_of[("k", index)] = entity_id
                how, probability = method.get(index, (MatchMethod.NEW, 1.0))
                if how == MatchMethod.NEW and (keys[index] in exact or root[0] == "e" or len(indexes) > 1):
                    how = MatchMethod.NAME
                for party in groups[keys[index]]:
                    party.entity_id, party.method, party.score = entity_id, how, probability
        for node in list(clusters.parent):
            if node[0] == "e":
                entity_of[node] = node[1]
                root = clusters.find(node)
                if root != node:
                    self.merges.append((root[1], node[1], 1.0))
        return entity_of

    def _queue_reviews(self, entity_of: dict[Any, int]) -> None:
        """Matches between the review and the automatic threshold become candidates for an investigator; a pair
        already decided is left as decided."""
        best: dict[tuple[int, int], tuple[str, scoring.Score]] = {}
        for left_node, right_node, kind, result in self.pending_review:
            left, right = entity_of.get(left_node), entity_of.get(right_node)
            if left is None or right is None or left == right:
                continue
            pair = (min(left, right), max(left, right))
            if pair not in best or best[pair][1].probability < result.probability:
                best[pair] = (kind, result)
        self.pending_review = []
        decided = set(
            MatchCandidate.objects.filter(organization_id=self.organization_id, left_id__in={p[0] for p in best})
            .exclude(status=MatchCandidate.Status.PENDING)
            .values_list("left_id", "right_id")
        )
        candidates = [
            MatchCandidate(
                organization_id=self.organization_id,
                left_id=pair[0],
                right_id=pair[1],
                kind=kind,
                score=round(result.probability, 4),
                explanation=result.explanation,
                features=result.features,
            )
            for pair, (kind, result) in best.items()
            if pair not in decided
        ]
        MatchCandidate.objects.bulk_create(
            candidates,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["left", "right"],
            update_fields=["score", "explanation", "features", "updated_at"],
        )
        self.stats.review += len(candidates)

    # People ------------------------------------------------------------------------------------------------

    def resolve_people(self, parties: list[Party]) -> None:
        """People named in registers: tax number first, then name parts, date of birth, address and company."""
        profiles: dict[tuple[Any, ...], list[Party]] = defaultdict(list)
        for party in parties:
            profiles[(party.name, party.code, party.birth, party.address, party.companies)].append(party)
        keys = list(profiles)
        clear = vault_reveal(
            organization_id=self.organization_id,
            tokens={value for key in keys for value in (key[0], key[3]) if value.startswith(MASK_PREFIX)},
        )
        existing = self._existing_people(keys, clear)
        clear |= vault_reveal(
            organization_id=self.organization_id,
            tokens={value for person in existing.values() for value in person.names + person.addresses} - set(clear),
        )
        nodes: list[_Person] = [
            _Person.build(("k", index), [key[0]], key[1:2], key[2:3], key[3:4], key[4], clear)
            for index, key in enumerate(keys)
        ]
        nodes.extend(
            _Person.build(("e", entity_id), p.names, p.taxes, p.births, p.addresses, p.companies, clear)
            for entity_id, p in existing.items()
        )
        clusters = _Clusters()
        for node in nodes:
            clusters.find(node.node)
        by_tax: dict[str, list[_Person]] = defaultdict(list)
        blocks: dict[str, list[_Person]] = defaultdict(list)
        for node in nodes:
            for tax in node.taxes:
                by_tax[tax].append(node)
            for block in node.block_keys:
                blocks[block].append(node)
        # What each cluster knows for sure: two clusters with different dates of birth or tax numbers are never
        # joined, however alike the names (a namesake must not be chained in through a name-only record).
        known: dict[Any, tuple[set[str], set[str]]] = {node.node: (set(node.births), set(node.taxes)) for node in nodes}

        def join(left: Any, right: Any) -> bool:
            left_root, right_root = clusters.find(left), clusters.find(right)
            if left_root == right_root:
                return True
            (left_births, left_taxes), (right_births, right_taxes) = known[left_root], known[right_root]
            conflict = (left_births and right_births and not left_births & right_births) or (
                left_taxes and right_taxes and not left_taxes & right_taxes
            )
            if conflict or self._rejected(left, right, clusters):
                return False
            clusters.union(left, right)
            known[clusters.find(left)] = (left_births | right_births, left_taxes | right_taxes)
            return True

        for group in by_tax.values():
            for other in group[1:]:
                join(group[0].node, other.node)
        method: dict[int, tuple[str, float]] = {}
        compared: set[tuple[Any, Any]] = set()
        matches: list[tuple[float, _Person, _Person, scoring.Score]] = []
        for group in blocks.values():
            if len(group) > MAX_BLOCK:
                continue
            for position, left in enumerate(group):
                for right in group[position + 1 :]:
                    pair = (left.node, right.node) if left.node < right.node else (right.node, left.node)
                    if pair in compared or (left.node[0] == "e" and right.node[0] == "e"):
                        continue
                    compared.add(pair)
                    result = left.match(right, self.person_weights)
                    if result is not None:
                        matches.append((result.probability, left, right, result))
        # The surest matches first, so a doubtful one cannot chain two people before their own evidence is seen.
        matches.sort(key=lambda match: -match[0])
        for probability, left, right, result in matches:
            if probability >= scoring.AUTO_MERGE and join(left.node, right.node):
                for matched in (left.node, right.node):
                    if matched[0] == "k":
                        method[matched[1]] = (MatchMethod.FUZZY, probability)
            elif clusters.find(left.node) != clusters.find(right.node):
                self.pending_review.append((left.node, right.node, ScorerKind.PERSON, result))
        groups = {key: profiles[key] for key in keys}
        entity_of = self._assign_clusters(clusters, keys, groups, kind=EntityKind.PERSON, method=method)
        self._queue_reviews(entity_of)
        self._store_people(parties, nodes, entity_of)

    def _existing_people(self, keys: list[tuple[Any, ...]], clear: dict[str, str]) -> dict[int, _PersonRecord]:
        """People of earlier datasets sharing a blocking key or a tax number with the new ones (``clear``: the new
        names read from the vault)."""
        hashed = sorted(
            {block for key in keys for block in _person_blocks(key, clear)} | {key[1] for key in keys if key[1]}
        )
        if not hashed:
            return {}
        # Thousands of keys at once: a hash join over the organisation's keyed names, where the GIN index would be
        # probed once per key.
        rows = list(
            _rows(
                """
                SELECT n.entity_id FROM entities_entityname n
                CROSS JOIN LATERAL unnest(n.block_keys) AS named(key)
                JOIN unnest(%s::varchar[]) AS wanted(key) ON wanted.key = named.key
                WHERE n.organization_id = %s AND cardinality(n.block_keys) > 0
                UNION
                SELECT i.entity_id FROM entities_entityidentifier i
                JOIN unnest(%s::varchar[]) AS wanted(value) ON wanted.value = i.value
                WHERE i.organization_id = %s AND i.scheme = 'rnokpp'
                """,
                [hashed, self.organization_id, [key[1] for key in keys if key[1]], self.organization_id],
            )
        )
        roots = entity_roots(entity_id for (entity_id,) in rows)
        found = list(roots)
        names: dict[int, set[str]] = defaultdict(set)
        for entity_id, name in _rows(
            "SELECT n.entity_id, n.name FROM unnest(%s::bigint[]) AS found(id)"
            " JOIN entities_entityname n ON n.entity_id = found.id",
            [found],
        ):
            names[roots[entity_id]].add(name)
        taxes: dict[int, list[str]] = defaultdict(list)
        for entity_id, value in _rows(
            "SELECT i.entity_id, i.value FROM unnest(%s::bigint[]) AS found(id)"
            " JOIN entities_entityidentifier i ON i.entity_id = found.id WHERE i.scheme = %s",
            [found, IdentifierScheme.RNOKPP],
        ):
            taxes[roots[entity_id]].append(value)
        people: dict[int, _PersonRecord] = {}
        for root, attributes in _rows(
            "SELECT e.id, e.attributes FROM unnest(%s::bigint[]) AS found(id)"
            " JOIN entities_entity e ON e.id = found.id WHERE e.kind = %s",
            [sorted(set(roots.values())), EntityKind.PERSON],
        ):
            attributes = json.loads(attributes) if attributes else {}
            people[root] = _PersonRecord(
                names=sorted(names[root]),
                taxes=taxes[root],
                births=list(attributes.get("birth_dates", [])),
                addresses=list(attributes.get("addresses", [])),
                companies=tuple(attributes.get("companies", [])),
            )
        return people

    def _store_people(self, parties: list[Party], nodes: list[_Person], entity_of: dict[Any, int]) -> None:
        """Identifiers, attributes and names (with their hashed blocking keys) of the people just resolved."""
        collected: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for party in parties:
            bucket = collected[party.entity_id]
            if party.code:
                bucket["taxes"].add(party.code)
            if party.birth:
                bucket["birth_dates"].add(party.birth)
            if party.address:
                bucket["addresses"].add(party.address)
            bucket["companies"].update(party.companies)
        ids, merged = [], []
        for entity_id, stored in _rows(
            "SELECT e.id, e.attributes FROM unnest(%s::bigint[]) AS found(id)"
            " JOIN entities_entity e ON e.id = found.id",
            [list(collected)],
        ):
            attributes = json.loads(stored) if stored else {}
            for name in ("birth_dates", "addresses", "companies"):
                attributes[name] = sorted(set(attributes.get(name, [])) | collected[entity_id][name])
            ids.append(entity_id)
            merged.append(json.dumps(attributes))
        taxes = [(entity_id, tax) for entity_id, bucket in collected.items() for tax in bucket["taxes"]]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE entities_entity e SET attributes = new.attributes"
                " FROM unnest(%s::bigint[], %s::jsonb[]) AS new(id, attributes) WHERE e.id = new.id",
                [ids, merged],
            )
            cursor.execute(
                "INSERT INTO entities_entityidentifier (organization_id, entity_id, scheme, value, is_valid)"
                " SELECT %s, new.entity_id, %s, new.value, true FROM unnest(%s::bigint[], %s::varchar[])"
                " AS new(entity_id, value) ON CONFLICT DO NOTHING",
                [
                    self.organization_id,
                    IdentifierScheme.RNOKPP,
                    [entity_id for entity_id, _ in taxes],
                    [tax for _, tax in taxes],
                ],
            )
        block_keys = {name: sorted(node.block_keys) for node in nodes if node.node[0] == "k" for name in node.names}
        self._record_names(parties, block_keys)

    # Addresses ---------------------------------------------------------------------------------------------

    def resolve_addresses(self, parties: list[Party]) -> None:
        """Registered addresses: one entity per building (the normalised address); a personal address is a
        token and is matched as written."""
        groups: dict[tuple[str, str], list[Party]] = defaultdict(list)
        for party in parties:
            key = party.name if party.name.startswith(MASK_PREFIX) else normalize.address_key(party.name)
            groups[("UA", key)].append(party)
        keys = list(groups)
        found = {
            ("UA", key): entity_id
            for key, entity_id in EntityName.objects.filter(
                organization_id=self.organization_id,
                entity__kind=EntityKind.ADDRESS,
                match_key__in=[key for _, key in keys],
            ).values_list("match_key", "entity_id")
        }
        roots = entity_roots(found.values())
        clusters = _Clusters()
        for index, address in enumerate(keys):
            clusters.find(("k", index))
            if address in found:
                clusters.union(("e", roots[found[address]]), ("k", index))
        self._assign_clusters(clusters, keys, groups, kind=EntityKind.ADDRESS, method={}, exact=found)
        names_upsert(
            self.organization_id,
            [
                (entity_id, name[:1000], key[1][:1000], [], "UA", count)
                for key, group in groups.items()
                for (entity_id, name), count in Counter((p.entity_id, p.name) for p in group).items()
            ],
        )

    # Helpers -----------------------------------------------------------------------------------------------

    def _record_names(self, parties: list[Party], block_keys: dict[str, list[str]] | None = None) -> None:
        """The spellings each entity is written in, with the keys later datasets find it by."""
        counts: Counter[tuple[int, str, str]] = Counter(
            (party.entity_id, party.name[:1000], party.country) for party in parties if party.name
        )
        rows = []
        for (entity_id, name, country), count in counts.items():
            personal = name.startswith(MASK_PREFIX)
            keys = (block_keys or {}).get(name, []) if personal else []
            match_key = "" if personal else normalize.company_key(name)[:1000]
            rows.append((entity_id, name, match_key, keys, country, count))
        names_upsert(self.organization_id, rows)


def _identifier(code: str) -> tuple[str, str]:
    code = code.strip()
    if code.startswith(_TAX_TOKEN):
        return IdentifierScheme.RNOKPP, code
    if code.startswith(f"{MASK_PREFIX}-{PIIKind.PHONE}-"):
        return IdentifierScheme.PHONE, code
    if code.isdigit() and len(code) == 8:
        return IdentifierScheme.EDRPOU, code
    return IdentifierScheme.OTHER, code


def _identified_entity(key: tuple[str, str], parties: list[Party]) -> dict[str, Any]:
    scheme, _ = key
    names = Counter(party.name for party in parties if party.name)
    roles = Counter(party.role for party in parties)
    if scheme == IdentifierScheme.RNOKPP:
        kind = EntityKind.PERSON
    elif scheme == IdentifierScheme.PHONE:
        kind = EntityKind.PHONE
    elif roles[MentionRole.DECLARANT] and not (roles[MentionRole.TRADER] or roles[MentionRole.COMPANY]):
        kind = EntityKind.BROKER
    else:
        kind = EntityKind.COMPANY
    name = names.most_common(1)[0][0] if names else key[1]
    return {
        "kind": kind,
        "name": name[:1000],
        "country": "UA" if scheme in (IdentifierScheme.EDRPOU, IdentifierScheme.RNOKPP) else "",
        "is_pii": kind in (EntityKind.PERSON, EntityKind.PHONE),
    }


@dataclass
class _PersonRecord:
    names: list[str]
    taxes: list[str]
    births: list[str]
    addresses: list[str]
    companies: tuple[str, ...]


def _scaled(similarity: float, floor: float) -> float:
    """A similarity in [floor, 1] stretched to [0, 1], and below the floor down to -1."""
    return max(-1.0, min(1.0, (similarity - floor) / (1.0 - floor)))


def _name_blocks(name: normalize.PersonName, births: Iterable[str], companies: Iterable[str]) -> set[str]:
    keys = set()
    initial = name.given[:1]
    if name.surname:
        keys.add(f"s|{name.surname}|{initial}")
        keys.update(f"c|{company}|{name.surname[:3]}" for company in companies)
    keys.update(f"b|{birth}|{initial}" for birth in births)
    if len(name.given) > 1 and len(name.patronymic) > 1:
        keys.add(f"p|{name.given}|{name.patronymic}|{name.surname[:1]}")
    return {match_key_token(key) for key in keys}


def _person_blocks(key: tuple[Any, ...], clear: dict[str, str]) -> set[str]:
    name, _, birth, _, companies = key
    return _name_blocks(normalize.person_name(clear.get(name, name)), [birth] if birth else [], companies)


@dataclass
class _Person:
    """A person as the matcher sees one: a new profile ("k", index) or an existing entity ("e", id)."""

    node: tuple[str, int]
    names: list[str]
    parsed: list[normalize.PersonName]
    taxes: set[str]
    births: set[str]
    addresses: list[str]
    companies: set[str]
    block_keys: set[str]

    @classmethod
    def build(
        cls,
        node: tuple[str, int],
        names: Sequence[str],
        taxes: Iterable[str],
        births: Iterable[str],
        addresses: Iterable[str],
        companies: Iterable[str],
        clear: dict[str, str],
    ) -> _Person:
        parsed = [normalize.person_name(clear.get(name, name)) for name in names if name]
        birth_set = {birth for birth in births if birth}
        company_set = set(companies)
        blocks: set[str] = set()
        for name in parsed:
            blocks |= _name_blocks(name, birth_set, company_set)
        return cls(
            node=node,
            names=[name for name in names if name],
            parsed=parsed,
            taxes={tax for tax in taxes if tax},
            births=birth_set,
            addresses=[normalize.address_key(clear.get(a, a)) for a in addresses if a],
            companies=company_set,
            block_keys=blocks,
        )

    def match(self, other: _Person, weights: scoring.Weights) -> scoring.Score | None:
        """The best-scoring pairing of the two sides' names, with the other fields, when it reaches review; values
        shown are tokens.

        Most compared pairs are namesakes far below review: the fields known at once (date of birth, tax number,
        shared company) and the most the names and addresses could add tell first whether the review threshold is
        within reach at all, and only a kept pairing is explained."""
        known = {
            "birth_date": _agreement(self.births, other.births),
            "tax_number": _agreement(self.taxes, other.taxes),
            "shared_company": 1.0 if self.companies & other.companies else 0.0,
        }
        coefficients = weights.coefficients
        reachable = weights.intercept + sum(coefficients.get(name, 0.0) * value for name, value in known.items())
        reachable += sum(abs(coefficients.get(name, 0.0)) for name in (*_NAME_FEATURES, "address"))
        if reachable < scoring.REVIEW_LOGIT:
            return None
        known["address"] = _address_agreement(self.addresses, other.addresses)
        best: tuple[float, int, int, dict[str, float]] | None = None
        for left_index, left in enumerate(self.parsed):
            for right_index, right in enumerate(other.parsed):
                parts = normalize.person_similarity(left, right)
                features = {
                    "surname": _scaled(parts["surname"], 0.8),
                    "given_name": parts["given_name"],
                    "patronymic": parts["patronymic"],
                    **known,
                }
                probability = scoring.probability(weights, features)
                if best is None or probability > best[0]:
                    best = (probability, left_index, right_index, features)
        if best is None or best[0] < scoring.REVIEW:
            return None
        _, left_index, right_index, features = best
        return scoring.score(
            weights,
            features,
            {
                "surname": (self.names[left_index], other.names[right_index]),
                "birth_date": (_first(self.births), _first(other.births)),
                "tax_number": (_first(self.taxes), _first(other.taxes)),
                "shared_company": (_first(self.companies & other.companies), ""),
            },
        )


_NAME_FEATURES = ("surname", "given_name", "patronymic")


def _first(values: set[str]) -> str:
    return min(values) if values else ""


def _agreement(left: set[str], right: set[str]) -> float:
    if not left or not right:
        return 0.0
    return 1.0 if left & right else -1.0


def _address_agreement(left: list[str], right: list[str]) -> float:
    if not left or not right:
        return 0.0
    return _scaled(max(normalize.name_similarity(a, b) for a in left for b in right), 0.7)


# --- writing --------------------------------------------------------------------------------------------------


def copy_rows(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows as they are (psycopg's C row writer): ``None`` is NULL, a list an array."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def names_upsert(organization_id: int, rows: list[tuple[int, str, str, list[str], str, int]]) -> None:
    """Add ``(entity, name, match key, block keys, country, records)`` rows; a known spelling adds its records."""
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE entities_new_names (entity_id bigint, name text, match_key text, block_keys text[],"
            " country text, mention_count integer) ON COMMIT DROP"
        )
        copy_rows(
            cursor,
            "entities_new_names",
            ("entity_id", "name", "match_key", "block_keys", "country", "mention_count"),
            rows,
        )
        cursor.execute(
            """
            INSERT INTO entities_entityname
                (organization_id, entity_id, name, match_key, block_keys, country, mention_count)
            SELECT %s, entity_id, name, match_key, block_keys, country, mention_count FROM entities_new_names
            ON CONFLICT (entity_id, name) DO UPDATE SET
                mention_count = entities_entityname.mention_count + excluded.mention_count,
                match_key = excluded.match_key,
                block_keys = CASE WHEN cardinality(excluded.block_keys) > 0 THEN excluded.block_keys
                                  ELSE entities_entityname.block_keys END
            """,
            [organization_id],
        )
        cursor.execute(
            """
            INSERT INTO entities_entitynameword (organization_id, entity_id, word, mention_count)
            SELECT %s, entity_id, word, sum(mention_count)
            FROM entities_new_names, unnest(string_to_array(match_key, ' ')) AS word
            WHERE match_key <> '' AND word <> ''
            GROUP BY entity_id, word
            ON CONFLICT (entity_id, word) DO UPDATE SET
                mention_count = entities_entitynameword.mention_count + excluded.mention_count
            """,
            [organization_id],
        )
        cursor.execute("DROP TABLE entities_new_names")
        if len(rows) > ANALYZE_AFTER:
            # The next lookups of names (blocking keys, trigrams) join thousands of keys: planned on the statistics
            # of the table before these rows, they ran as nested loops, 40 s instead of a quarter of a second.
            cursor.execute("ANALYZE entities_entityname")


def _write_mentions(dataset: Dataset, parties: list[Party]) -> None:
    columns = (
        "organization_id", "dataset_id", "record_kind", "record_id", "role", "entity_id", "origin_entity_id", "name",
        "method", "score", "date", "amount_uah",
    )  # fmt: skip
    organization_id, dataset_id, kind = dataset.organization_id, dataset.pk, dataset.kind
    with connection.cursor() as cursor:
        copy_rows(
            cursor,
            "entities_entitymention",
            columns,
            (
                (
                    organization_id,
                    dataset_id,
                    kind,
                    party.record_id,
                    party.role,
                    party.entity_id,
                    party.entity_id,
                    party.name[:1000],
                    party.method,
                    round(party.score, 4),
                    party.date,
                    party.amount,
                )
                for party in parties
            ),
        )


def entities_refresh(*, entity_ids: Iterable[int]) -> None:
    """Records, first and last dates and the most common spelling of each entity, from its mentions."""
    ids = sorted(set(entity_ids))
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE entities_entity e SET mention_count = coalesce(s.records, 0), first_seen = s.first_seen,
                last_seen = s.last_seen, updated_at = now()
            FROM unnest(%s::bigint[]) AS ids(id)
            LEFT JOIN (
                SELECT m.entity_id, count(*) AS records, min(m.date) AS first_seen, max(m.date) AS last_seen
                FROM unnest(%s::bigint[]) AS affected(id)
                JOIN entities_entitymention m ON m.entity_id = affected.id GROUP BY m.entity_id
            ) s ON s.entity_id = ids.id
            WHERE e.id = ids.id
            """,
            [ids, ids],
        )
        cursor.execute(
            """
            UPDATE entities_entity e SET name = s.name
            FROM (
                SELECT DISTINCT ON (m.entity_id) m.entity_id, m.name
                FROM unnest(%s::bigint[]) AS affected(id)
                JOIN entities_entitymention m ON m.entity_id = affected.id AND m.name <> ''
                GROUP BY m.entity_id, m.name ORDER BY m.entity_id, count(*) DESC, m.name
            ) s
            WHERE e.id = s.entity_id AND e.kind <> 'address'
            """,
            [ids],
        )


def entities_refresh_dataset(*, dataset_id: int, entity_ids: Iterable[int]) -> None:
    """``entities_refresh`` for a dataset resolved for the first time: its mentions are added to the counts and
    dates instead of every mention of a company seen a hundred thousand times being counted again, and the most
    common spelling is read from the names' counts over each entity's merge tree."""
    ids = sorted(set(entity_ids))
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE entities_entity e SET mention_count = e.mention_count + s.records,
                first_seen = least(e.first_seen, s.first_seen), last_seen = greatest(e.last_seen, s.last_seen),
                updated_at = now()
            FROM (
                SELECT m.entity_id, count(*) AS records, min(m.date) AS first_seen, max(m.date) AS last_seen
                FROM entities_entitymention m WHERE m.dataset_id = %s GROUP BY m.entity_id
            ) s
            WHERE e.id = s.entity_id
            """,
            [dataset_id],
        )
        cursor.execute(
            """
            WITH RECURSIVE tree(root, id) AS (
                SELECT affected.id, affected.id FROM unnest(%s::bigint[]) AS affected(id)
                UNION ALL
                SELECT tree.root, e.id FROM tree JOIN entities_entity e ON e.merged_into_id = tree.id
            )
            UPDATE entities_entity e SET name = s.name
            FROM (
                SELECT DISTINCT ON (tree.root) tree.root, n.name
                FROM tree JOIN entities_entityname n ON n.entity_id = tree.id AND n.name <> ''
                GROUP BY tree.root, n.name ORDER BY tree.root, sum(n.mention_count) DESC, n.name
            ) s
            WHERE e.id = s.root AND e.kind <> 'address' AND e.name <> s.name
            """,
            [ids],
        )


_ROLE_COLUMNS = [list(column) for column in zip(*RELATIONSHIP_ROLES, strict=True)]
_ROLE_PAIRS = """
    JOIN unnest(%(record_kinds)s::text[], %(sources)s::text[], %(targets)s::text[], %(kinds)s::text[])
        AS p(record_kind, source_role, target_role, kind)
        ON p.record_kind = a.record_kind AND p.source_role = a.role AND p.target_role = b.role
"""
_PAIR_FILTER = "a.entity_id <> b.entity_id AND (a.role <> b.role OR a.entity_id < b.entity_id)"
_INSERT = """
    INSERT INTO entities_relationship
        (organization_id, kind, source_id, target_id, first_date, last_date, record_count, amount_uah)
    {select}
    ON CONFLICT (organization_id, kind, source_id, target_id) DO UPDATE SET {update}
"""
_REPLACE = (
    "first_date = excluded.first_date, last_date = excluded.last_date, record_count = excluded.record_count,"
    " amount_uah = excluded.amount_uah"
)
_ACCUMULATE = (
    "first_date = least(entities_relationship.first_date, excluded.first_date),"
    " last_date = greatest(entities_relationship.last_date, excluded.last_date),"
    " record_count = entities_relationship.record_count + excluded.record_count,"
    " amount_uah = CASE WHEN excluded.amount_uah IS NULL THEN entities_relationship.amount_uah"
    " ELSE coalesce(entities_relationship.amount_uah, 0) + excluded.amount_uah END"
)
_SHARED_ADDRESSES = """
    WITH addresses AS (
        SELECT r.target_id FROM unnest(%(ids)s::bigint[]) AS affected(id)
        JOIN entities_relationship r ON r.source_id = affected.id AND r.kind = 'located_at'
        UNION
        SELECT affected.id FROM unnest(%(ids)s::bigint[]) AS affected(id)
    ), shared AS (
        SELECT r.target_id FROM addresses JOIN entities_relationship r USING (target_id)
        WHERE r.kind = 'located_at' AND r.organization_id = %(org)s
        GROUP BY r.target_id HAVING count(*) BETWEEN 2 AND %(max_shared)s
    )
    SELECT %(org)s, 'shares_address', a.source_id, b.source_id, max(greatest(a.first_date, b.first_date)),
        max(greatest(a.last_date, b.last_date)), count(*), NULL
    FROM shared
    JOIN entities_relationship a ON a.target_id = shared.target_id AND a.kind = 'located_at'
    JOIN entities_relationship b ON b.target_id = shared.target_id AND b.kind = 'located_at'
        AND a.source_id < b.source_id
    GROUP BY a.source_id, b.source_id
"""


def _params(organization_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "org": organization_id,
        "record_kinds": _ROLE_COLUMNS[0],
        "sources": _ROLE_COLUMNS[1],
        "targets": _ROLE_COLUMNS[2],
        "kinds": _ROLE_COLUMNS[3],
        "max_shared": MAX_SHARED_ADDRESS,
        **extra,
    }


def relationships_add_dataset(*, organization_id: int, dataset_id: int, entity_ids: Iterable[int]) -> None:
    """Add the relationships a newly resolved dataset shows to those the organisation has (its records counted
    once: only for a dataset whose mentions were not counted before)."""
    # Only module constants are formatted in; the values go as parameters.
    select = f"""
        SELECT %(org)s, p.kind, a.entity_id, b.entity_id, min(a.date), max(a.date), count(*), sum(a.amount_uah)
        FROM entities_entitymention a
        JOIN entities_entitymention b ON b.record_kind = a.record_kind AND b.record_id = a.record_id
            AND b.dataset_id = %(dataset)s
        {_ROLE_PAIRS}
        WHERE a.dataset_id = %(dataset)s AND {_PAIR_FILTER}
        GROUP BY p.kind, a.entity_id, b.entity_id
    """  # noqa: S608
    params = _params(organization_id, dataset=dataset_id, ids=sorted(set(entity_ids)))
    with connection.cursor() as cursor:
        cursor.execute(_INSERT.format(select=select, update=_ACCUMULATE), params)
        cursor.execute(_INSERT.format(select=_SHARED_ADDRESSES, update=_REPLACE), params)


def relationships_rebuild(*, organization_id: int, entity_ids: Iterable[int]) -> None:
    """Every relationship of the given entities, recomputed from the mentions that share a record."""
    ids = sorted(set(entity_ids))
    if not ids:
        return
    aggregate = f"""
        SELECT %(org)s, p.kind, a.entity_id, b.entity_id, min(a.date), max(a.date), count(*), sum(a.amount_uah)
        FROM unnest(%(ids)s::bigint[]) AS affected(id)
        JOIN entities_entitymention {{side}} ON {{side}}.entity_id = affected.id
        JOIN entities_entitymention {{other}} ON {{other}}.record_kind = {{side}}.record_kind
            AND {{other}}.record_id = {{side}}.record_id
        {_ROLE_PAIRS}
        WHERE a.organization_id = %(org)s AND b.organization_id = %(org)s AND {_PAIR_FILTER}
        GROUP BY p.kind, a.entity_id, b.entity_id
    """  # noqa: S608
    params = _params(organization_id, ids=ids)
    with connection.cursor() as cursor:
        for column in ("source_id", "target_id"):
            cursor.execute(
                f"DELETE FROM entities_relationship r USING unnest(%s::bigint[]) AS affected(id)"  # noqa: S608
                f" WHERE r.organization_id = %s AND r.{column} = affected.id",
                [ids, organization_id],
            )
        for side, other in (("a", "b"), ("b", "a")):
            cursor.execute(_INSERT.format(select=aggregate.format(side=side, other=other), update=_REPLACE), params)
        cursor.execute(_INSERT.format(select=_SHARED_ADDRESSES, update=_REPLACE), params)


def _lock_organization(organization_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('entities.resolve'), %s)", [organization_id])


def resolve_dataset(*, dataset_id: int) -> ResolveStats:
    """Resolve the parties of a loaded dataset into the organisation's entities (safe to run twice)."""
    stats = ResolveStats()
    dataset = Dataset.objects.filter(pk=dataset_id, status=DatasetStatus.READY).first()
    if dataset is None:
        return stats
    stats.organization_id = dataset.organization_id
    started = time.perf_counter()
    with transaction.atomic():
        _lock_organization(dataset.organization_id)
        previous = set(
            EntityMention.objects.filter(dataset_id=dataset_id).values_list("entity_id", flat=True).distinct()
        )
        EntityMention.objects.filter(dataset_id=dataset_id).delete()
        parties = extract_parties(dataset)
        stats.parties = len(parties)
        stats.seconds["extract"] = round(time.perf_counter() - started, 3)
        resolver = Resolver(
            dataset.organization_id, stats, anonymised_codes=dataset_options(dataset).anonymised_party_codes
        )
        identified = [p for p in parties if p.code and p.role not in _PERSON_ROLES]
        people = [p for p in parties if p.role in _PERSON_ROLES and not _is_company_party(p)]
        named = [p for p in parties if not p.code and p.role not in _PERSON_ROLES and p.role != MentionRole.ADDRESS]
        named += [p for p in parties if p.role in _PERSON_ROLES and _is_company_party(p) and not p.code]
        identified += [p for p in parties if p.role in _PERSON_ROLES and _is_company_party(p) and p.code]
        addresses = [p for p in parties if p.role == MentionRole.ADDRESS]
        for step, run, group in (
            ("identifiers", resolver.resolve_identified, identified),
            ("names", resolver.resolve_company_names, named),
            ("people", resolver.resolve_people, people),
            ("addresses", resolver.resolve_addresses, addresses),
        ):
            step_started = time.perf_counter()
            if group:
                run(group)
            stats.lap(step, step_started)
        step_started = time.perf_counter()
        _write_mentions(dataset, parties)
        if len(parties) > ANALYZE_AFTER:
            # Without fresh statistics the planner takes the new rows for a handful and joins them in nested loops
            # (minutes instead of seconds for a million mentions).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE entities_entitymention")
        step_started = stats.lap("mentions", step_started)
        from apps.entities.services import entities_merge_found

        affected = previous | {party.entity_id for party in parties}
        if previous:
            relationships_rebuild(organization_id=dataset.organization_id, entity_ids=affected)
            step_started = stats.lap("relationships", step_started)
            entities_refresh(entity_ids=affected)
        else:
            relationships_add_dataset(
                organization_id=dataset.organization_id, dataset_id=dataset.pk, entity_ids=affected
            )
            step_started = stats.lap("relationships", step_started)
            entities_refresh_dataset(dataset_id=dataset.pk, entity_ids=affected)
        step_started = stats.lap("refresh", step_started)
        # Merges recount their entities and rebuild their relationships from every mention, this dataset's too.
        stats.merged = entities_merge_found(organization_id=dataset.organization_id, merges=resolver.merges)
        stats.lap("merges", step_started)
    stats.seconds["total"] = round(time.perf_counter() - started, 3)
    logger.info("resolved dataset %s: %s", dataset_id, stats)
    return stats


def _is_company_party(party: Party) -> bool:
    """A register's founder or owner that is a company (a code, or a foreign company with its country)."""
    if party.role == MentionRole.PERSON:
        return False
    return bool(party.code) or (party.country not in ("", "UA") and not party.name.startswith(MASK_PREFIX))
