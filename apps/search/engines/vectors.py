"""Semantic search in Qdrant over goods descriptions, Telegram messages and document text.

Goods descriptions repeat: five million declarations carry far fewer distinct descriptions, so each distinct
description of an organisation is one point (keyed by its MD5, as PostgreSQL computes it) and a search finds the
records again through the ``md5(goods_description)`` index (migration 0002). A message or a document is one point.

Qdrant runs embedded (qdrant-client's local mode, under the var dir) unless ``QDRANT_URL`` names a server. Local
mode lets one client at a time open its folder, so the web server and the worker take turns: each operation opens
the store under a file lock and closes it. That keeps one machine correct; a server is the path at scale.

Points carry the organisation, and every search filters on it; the records found are read back through
``restrict()``, so a stale point (a deleted dataset) finds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
UPSERT_BATCH = 256
# Distinct descriptions (or texts) taken from the store per search; their records are then ranked in PostgreSQL.
NEIGHBOURS = 50
_process_lock = threading.Lock()
_server_client: QdrantClient | None = None


def collection_name() -> str:
    embedder = embedder_get()
    return re.sub(r"[^a-z0-9_]+", "_", f"{settings.QDRANT_COLLECTION}_{embedder.name}".lower())


@contextlib.contextmanager
def qdrant_client() -> Iterator[QdrantClient]:
    """A client of the configured store: the server's (kept), or the embedded one opened under a lock."""
    global _server_client
    if settings.QDRANT_URL:
        if _server_client is None:
            _server_client = QdrantClient(url=settings.QDRANT_URL, api_key=settings.QDRANT_API_KEY or None)
        yield _server_client
        return
    path = Path(settings.QDRANT_PATH)
    path.mkdir(parents=True, exist_ok=True)
    with _process_lock, open(path.parent / f"{path.name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        client = QdrantClient(path=str(path))
        try:
            yield client
        finally:
            client.close()


def _ensure_collection(client: QdrantClient) -> str:
    name = collection_name()
    if not client.collection_exists(name):
        client.create_collection(
            name,
            vectors_config=models.VectorParams(size=embedder_get().dim, distance=models.Distance.COSINE),
        )
        if settings.QDRANT_URL:
            # A server filters on indexed payload; the embedded store scans and warns about indexes.
            client.create_payload_index(name, "organization_id", field_schema=models.PayloadSchemaType.INTEGER)
            client.create_payload_index(name, "kind", field_schema=models.PayloadSchemaType.KEYWORD)
    return name


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
    benchmark's sample).
    """
    dataset = Dataset.objects.get(pk=dataset_id)
    if dataset.kind not in SEMANTIC_KINDS or dataset.status != DatasetStatus.READY:
        return 0
    embedder = embedder_get()
    written = 0
    batch: list[tuple[str, str, dict[str, Any]]] = []

    def flush(client: QdrantClient, name: str) -> int:
        ids = [point_id(dataset.organization_id, dataset.kind, key) for key, _text, _payload in batch]
        present = {str(point.id) for point in client.retrieve(name, ids=ids, with_payload=False)}
        missing = [(pid, item) for pid, item in zip(ids, batch, strict=True) if pid not in present]
        for start in range(0, len(missing), EMBED_BATCH):
            chunk = missing[start : start + EMBED_BATCH]
            vectors = embedder.embed_documents([text for _pid, (_key, text, _payload) in chunk])
            client.upsert(
                name,
                points=[
                    models.PointStruct(
                        id=pid,
                        vector=vector.tolist(),
                        payload={"organization_id": dataset.organization_id, "kind": dataset.kind, **payload},
                    )
                    for (pid, (_key, _text, payload)), vector in zip(chunk, vectors, strict=True)
                ],
            )
        batch.clear()
        return len(missing)

    with qdrant_client() as client:
        name = _ensure_collection(client)
        for taken, item in enumerate(_texts_of_dataset(dataset)):
            if limit is not None and taken >= limit:
                break
            batch.append(item)
            if len(batch) >= UPSERT_BATCH:
                written += flush(client, name)
        if batch:
            written += flush(client, name)
    return written


def vectors_drop() -> None:
    """Delete the collection of the configured embedder (before re-embedding everything)."""
    with qdrant_client() as client:
        name = collection_name()
        if client.collection_exists(name):
            client.delete_collection(name)


class VectorEngine:
    name: str = Engine.QDRANT

    def neighbours(self, *, organization_id: int, kind: str, text: str, limit: int) -> list[dict[str, Any]]:
        vector = embedder_get().embed_query(text)
        with qdrant_client() as client:
            name = collection_name()
            if not client.collection_exists(name):
                return []
            response = client.query_points(
                name,
                query=vector.tolist(),
                query_filter=models.Filter(
                    must=[
                        models.FieldCondition(key="organization_id", match=models.MatchValue(value=organization_id)),
                        models.FieldCondition(key="kind", match=models.MatchValue(value=kind)),
                    ]
                ),
                limit=limit,
                with_payload=True,
            )
        return [{"score": point.score, **(point.payload or {})} for point in response.points]

    def search(self, *, user: User, query: SearchQuery, kind: str, limit: int) -> list[Hit]:
        if kind not in SEMANTIC_KINDS or user.organization_id is None or not query.text.strip():
            return []
        spec = RECORD_SPECS[kind]
        records = apply_filters(spec.model.objects.restrict(user, "view"), spec, query.filters)
        if kind in GOODS_KINDS:
            points = self.neighbours(organization_id=user.organization_id, kind=kind, text=query.text, limit=NEIGHBOURS)
            order = {point["md5"]: position for position, point in enumerate(points)}
            if not order:
                return []
            rows = (
                records.filter(RawSQL("md5(goods_description) = ANY(%s)", (list(order),), output_field=BooleanField()))
                .annotate(goods_md5=RawSQL("md5(goods_description)", ()))
                .order_by(f"-{spec.date_field}", "-pk")
                .values_list("pk", "goods_md5")[: limit * 5]
            )
            ranked = sorted(rows, key=lambda row: order[row[1]])[:limit]
            return [Hit(kind=kind, pk=pk, engine=Engine.QDRANT, rank=rank) for rank, (pk, _md5) in enumerate(ranked)]
        points = self.neighbours(organization_id=user.organization_id, kind=kind, text=query.text, limit=limit * 2)
        wanted = [int(point["record_id"]) for point in points]
        visible = set(records.filter(pk__in=wanted).values_list("pk", flat=True))
        ranked_ids = [pk for pk in wanted if pk in visible][:limit]
        return [Hit(kind=kind, pk=pk, engine=Engine.QDRANT, rank=rank) for rank, pk in enumerate(ranked_ids)]
