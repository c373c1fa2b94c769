"""Semantic search in Qdrant over goods descriptions, Telegram messages and document text.

Goods descriptions repeat: five million declarations carry far fewer distinct descriptions, so each distinct
description of an organisation is one point (keyed by its MD5, as PostgreSQL computes it) and a search finds the
records again through the ``md5(goods_description)`` index, newest first (migration 0003). A message or a document
is one point.

Qdrant runs embedded unless ``QDRANT_URL`` names a server (then qdrant-client talks to it, one client per process).
Embedded, the store is a Qdrant Edge shard (``qdrant-edge-py``: Qdrant's own engine, payload indexes included, in
the process) under ``QDRANT_PATH``, one shard per embedder. A shard directory may be open in one process only, so:

- a writer (the indexing task, ``search_reindex``) takes the folder's file lock, opens the shard, writes, flushes,
  closes it and bumps the shard's version file;
- every searching process keeps its own read replica: a copy of the shard, made under the same lock (shared) the
  first time it searches and again whenever the version file changed, opened once and kept. A search is then an
  in-memory query (a few milliseconds), not a store opened per query.

Points carry the organisation, and every search filters on it; the records found are read back through
``restrict()``, so a stale point (a deleted dataset) finds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import qdrant_edge as edge
from django.conf import settings
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from qdrant_client import QdrantClient, models

from apps.datasets.models import Dataset, DatasetStatus
from apps.search.embedders import embedder_get
from apps.search.engines.base import SEMANTIC_KINDS, Engine, Hit, ResultKind, SearchQuery
from apps.search.engines.postgres import RECORD_SPECS, apply_filters

if TYPE_CHECKING:
    from apps.accounts.models import User

GOODS_KINDS = (ResultKind.CUSTOMS_DECLARATION, ResultKind.TAX_INVOICE)
TEXT_FIELDS: dict[str, str] = {ResultKind.TELEGRAM_MESSAGE: "text", ResultKind.DOCUMENT: "text"}
POINT_NAMESPACE = uuid.UUID("6f1c3a52-54a4-4d1e-9b0e-8d6c1f3e2a77")
EMBED_BATCH = 64
# Texts checked against the store, embedded and written per round; each round is one write (lock, open, flush).
UPSERT_BATCH = 2048
# Distinct descriptions (or texts) taken from the store per search; their records are then ranked in PostgreSQL.
NEIGHBOURS = 50
EDGE_CONFIG_FILE = "edge_config.json"
_server_client: QdrantClient | None = None


def collection_name() -> str:
    embedder = embedder_get()
    return re.sub(r"[^a-z0-9_]+", "_", f"{settings.QDRANT_COLLECTION}_{embedder.name}".lower())


@dataclass(frozen=True)
class Neighbour:
    score: float
    payload: dict[str, Any]


class VectorStore(Protocol):
    """The configured store, one collection (or shard) per embedder."""

    def present(self, ids: list[str]) -> set[str]: ...

    def upsert(self, points: list[tuple[str, list[float], dict[str, Any]]]) -> None: ...

    def search(self, *, organization_id: int, kind: str, vector: list[float], limit: int) -> list[Neighbour]: ...

    def count(self) -> int: ...

    def drop(self) -> None: ...


# --- a Qdrant server -------------------------------------------------------------------------------------------


class ServerStore:
    def __init__(self) -> None:
        global _server_client
        if _server_client is None:
            _server_client = QdrantClient(url=settings.QDRANT_URL, api_key=settings.QDRANT_API_KEY or None)
        self.client = _server_client
        self.name = collection_name()

    def _ensure(self) -> None:
        if not self.client.collection_exists(self.name):
            self.client.create_collection(
                self.name,
                vectors_config=models.VectorParams(size=embedder_get().dim, distance=models.Distance.COSINE),
            )
            self.client.create_payload_index(
                self.name, "organization_id", field_schema=models.PayloadSchemaType.INTEGER
            )
            self.client.create_payload_index(self.name, "kind", field_schema=models.PayloadSchemaType.KEYWORD)

    def present(self, ids: list[str]) -> set[str]:
        if not self.client.collection_exists(self.name):
            return set()
        return {str(point.id) for point in self.client.retrieve(self.name, ids=ids, with_payload=False)}

    def upsert(self, points: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        self._ensure()
        self.client.upsert(
            self.name,
            points=[models.PointStruct(id=pid, vector=vector, payload=payload) for pid, vector, payload in points],
        )

    def search(self, *, organization_id: int, kind: str, vector: list[float], limit: int) -> list[Neighbour]:
        if not self.client.collection_exists(self.name):
            return []
        response = self.client.query_points(
            self.name,
            query=vector,
            query_filter=models.Filter(
                must=[
                    models.FieldCondition(key="organization_id", match=models.MatchValue(value=organization_id)),
                    models.FieldCondition(key="kind", match=models.MatchValue(value=kind)),
                ]
            ),
            limit=limit,
            with_payload=True,
        )
        return [Neighbour(score=point.score, payload=point.payload or {}) for point in response.points]

    def count(self) -> int:
        if not self.client.collection_exists(self.name):
            return 0
        return self.client.count(self.name).count

    def drop(self) -> None:
        if self.client.collection_exists(self.name):
            self.client.delete_collection(self.name)


# --- embedded: a Qdrant Edge shard, written under a lock, read from per-process replicas ------------------------


@dataclass
class _Replica:
    shard: edge.EdgeShard
    version: str
    path: Path
    pid: int


_replicas: dict[tuple[str, str], _Replica] = {}
_replicas_lock = threading.Lock()


class EdgeStore:
    def __init__(self) -> None:
        self.root = Path(settings.QDRANT_PATH)
        self.name = collection_name()
        self.shard_path = self.root / self.name
        self.version_path = self.root / f"{self.name}.version"
        self.replicas_root = self.root.parent / f"{self.root.name}-replicas"

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root.parent / f"{self.root.name}.lock", "w") as lock_file:
            fcntl.flock(lock_file, mode)
            yield

    def _version(self) -> str:
        try:
            return self.version_path.read_text()
        except FileNotFoundError:
            return ""

    @contextlib.contextmanager
    def _writer(self) -> Iterator[edge.EdgeShard]:
        """The shard opened for writing under the exclusive lock; flushed, closed and its version bumped after."""
        with self._locked(fcntl.LOCK_EX):
            if (self.shard_path / EDGE_CONFIG_FILE).exists():
                shard = edge.EdgeShard.load(str(self.shard_path))
            else:
                config = edge.EdgeConfig(
                    vectors={"": edge.EdgeVectorParams(size=embedder_get().dim, distance=edge.Distance.Cosine)}
                )
                shard = edge.EdgeShard.create(str(self.shard_path), config)
                shard.update(edge.UpdateOperation.create_field_index("organization_id", edge.PayloadSchemaType.Integer))
                shard.update(edge.UpdateOperation.create_field_index("kind", edge.PayloadSchemaType.Keyword))
            try:
                yield shard
                shard.flush()
            finally:
                shard.close()
            self.version_path.write_text(uuid.uuid4().hex)

    def _reader(self) -> edge.EdgeShard | None:
        """This process's replica of the shard, copied again when a writer changed the shard; None when empty.

        Called with ``_replicas_lock`` held."""
        key = (str(self.root), self.name)
        replica = _replicas.get(key)
        if replica is not None and replica.pid != os.getpid():
            # Inherited through a fork: the parent's handle and folder are not this process's to use.
            del _replicas[key]
            replica = None
        version = self._version()
        if replica is not None and replica.version == version:
            return replica.shard
        if replica is not None:
            del _replicas[key]
            replica.shard.close()
            shutil.rmtree(replica.path, ignore_errors=True)
        if not version:
            return None
        self._remove_orphans()
        path = self.replicas_root / f"{self.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with self._locked(fcntl.LOCK_SH):
            version = self._version()
            shutil.copytree(self.shard_path, path)
        _replicas[key] = _Replica(shard=edge.EdgeShard.load(str(path)), version=version, path=path, pid=os.getpid())
        return _replicas[key].shard

    def _remove_orphans(self) -> None:
        """Replicas left by processes that ended (a replica is named ``<shard>-<pid>-<random>``)."""
        if not self.replicas_root.exists():
            return
        for path in self.replicas_root.iterdir():
            pid = path.name.rsplit("-", 2)[-2] if path.name.count("-") >= 2 else ""
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(path, ignore_errors=True)
            except PermissionError:
                continue

    def present(self, ids: list[str]) -> set[str]:
        with _replicas_lock:
            shard = self._reader()
            if shard is None:
                return set()
            return {str(record.id) for record in shard.retrieve(list(ids), with_payload=False, with_vector=False)}

    def upsert(self, points: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        with self._writer() as shard:
            shard.update(
                edge.UpdateOperation.upsert_points(
                    [edge.Point(id=pid, vector=vector, payload=payload) for pid, vector, payload in points]
                )
            )

    def search(self, *, organization_id: int, kind: str, vector: list[float], limit: int) -> list[Neighbour]:
        query = edge.QueryRequest(
            limit=limit,
            query=edge.Query.Nearest(vector),
            filter=edge.Filter(
                must=[
                    edge.FieldCondition(key="organization_id", match=edge.MatchValue(organization_id)),
                    edge.FieldCondition(key="kind", match=edge.MatchValue(kind)),
                ]
            ),
            with_payload=True,
        )
        with _replicas_lock:
            shard = self._reader()
            if shard is None:
                return []
            return [Neighbour(score=point.score, payload=dict(point.payload or {})) for point in shard.query(query)]

    def count(self) -> int:
        with _replicas_lock:
            shard = self._reader()
            return 0 if shard is None else shard.count(edge.CountRequest(exact=True))

    def drop(self) -> None:
        with self._locked(fcntl.LOCK_EX):
            shutil.rmtree(self.shard_path, ignore_errors=True)
            self.version_path.unlink(missing_ok=True)


def vector_store() -> VectorStore:
    """The configured store: the Qdrant server of ``QDRANT_URL``, else the embedded shard."""
    return ServerStore() if settings.QDRANT_URL else EdgeStore()


def vectors_count() -> int:
    """Points in the configured store's collection (all organisations)."""
    return vector_store().count()


def point_id(organization_id: int, kind: str, key: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, f"{organization_id}:{kind}:{key}"))


def text_md5(text: str) -> str:
    """The MD5 PostgreSQL's ``md5(goods_description)`` gives (of the UTF-8 bytes)."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _texts_of_dataset(dataset: Dataset) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(point key, text, payload) of every text a dataset adds: distinct descriptions, or one per record."""
    spec = RECORD_SPECS[dataset.kind]
    records = spec.model.objects.filter(dataset_id=dataset.pk)
    if dataset.kind in GOODS_KINDS:
        descriptions = records.exclude(goods_description="").values_list("goods_description", flat=True)
        for description in descriptions.order_by("goods_description").distinct().iterator(chunk_size=2000):
            digest = text_md5(description)
            yield digest, description, {"md5": digest}
        return
    field = TEXT_FIELDS[dataset.kind]
    rows = records.exclude(**{field: ""}).values_list("pk", field).order_by("pk")
    for pk, text in rows.iterator(chunk_size=2000):
        yield str(pk), text, {"record_id": pk, "dataset_id": dataset.pk}


def vectors_index_dataset(*, dataset_id: int, limit: int | None = None) -> int:
    """Embed and store the texts a dataset brought that the store lacks; the number of points written.

    Safe to run twice: point ids are derived from the organisation, the kind and the text (or record), and the
    points already there are skipped before anything is embedded. ``limit`` stops after that many texts (the
    benchmark's sample). The texts are embedded outside the store's lock; each round of ``UPSERT_BATCH`` is one
    write, so searches see the new points round by round.
    """
    dataset = Dataset.objects.get(pk=dataset_id)
    if dataset.kind not in SEMANTIC_KINDS or dataset.status != DatasetStatus.READY:
        return 0
    embedder = embedder_get()
    store = vector_store()
    written = 0
    batch: list[tuple[str, str, dict[str, Any]]] = []

    def flush() -> int:
        ids = [point_id(dataset.organization_id, dataset.kind, key) for key, _text, _payload in batch]
        present = store.present(ids)
        missing = [(pid, item) for pid, item in zip(ids, batch, strict=True) if pid not in present]
        points: list[tuple[str, list[float], dict[str, Any]]] = []
        for start in range(0, len(missing), EMBED_BATCH):
            chunk = missing[start : start + EMBED_BATCH]
            vectors = embedder.embed_documents([text for _pid, (_key, text, _payload) in chunk])
            points += [
                (pid, vector.tolist(), {"organization_id": dataset.organization_id, "kind": dataset.kind, **payload})
                for (pid, (_key, _text, payload)), vector in zip(chunk, vectors, strict=True)
            ]
        if points:
            store.upsert(points)
        batch.clear()
        return len(points)

    for taken, item in enumerate(_texts_of_dataset(dataset)):
        if limit is not None and taken >= limit:
            break
        batch.append(item)
        if len(batch) >= UPSERT_BATCH:
            written += flush()
    if batch:
        written += flush()
    return written


def vectors_drop() -> None:
    """Delete the collection of the configured embedder (before re-embedding everything)."""
    vector_store().drop()


class VectorEngine:
    name: str = Engine.QDRANT

    def neighbours(self, *, organization_id: int, kind: str, text: str, limit: int) -> list[dict[str, Any]]:
        vector = embedder_get().embed_query(text).tolist()
        points = vector_store().search(organization_id=organization_id, kind=kind, vector=vector, limit=limit)
        return [{"score": point.score, **point.payload} for point in points]

    def search(self, *, user: User, query: SearchQuery, kind: str, limit: int) -> list[Hit]:
        if kind not in SEMANTIC_KINDS or user.organization_id is None or not query.text.strip():
            return []
        spec = RECORD_SPECS[kind]
        records = apply_filters(spec.model.objects.restrict(user, "view"), spec, query.filters)
        if kind in GOODS_KINDS:
            points = self.neighbours(organization_id=user.organization_id, kind=kind, text=query.text, limit=NEIGHBOURS)
            # Nearest description first, its most recent records first: a description repeats on a thousand
            # declarations, so the first one or two usually fill the list (one index lookup each), where reading
            # the records of all fifty and sorting them by date read fifty thousand rows at 5,000,000.
            ranked: list[int] = []
            for point in points:
                ranked += (
                    records.filter(RawSQL("md5(goods_description) = %s", (point["md5"],), output_field=BooleanField()))
                    .order_by(f"-{spec.date_field}", "-pk")
                    .values_list("pk", flat=True)[: limit - len(ranked)]
                )
                if len(ranked) >= limit:
                    break
            return [Hit(kind=kind, pk=pk, engine=Engine.QDRANT, rank=rank) for rank, pk in enumerate(ranked)]
        points = self.neighbours(organization_id=user.organization_id, kind=kind, text=query.text, limit=limit * 2)
        wanted = [int(point["record_id"]) for point in points]
        visible = set(records.filter(pk__in=wanted).values_list("pk", flat=True))
        ranked_ids = [pk for pk in wanted if pk in visible][:limit]
        return [Hit(kind=kind, pk=pk, engine=Engine.QDRANT, rank=rank) for rank, pk in enumerate(ranked_ids)]
