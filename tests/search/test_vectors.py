"""Semantic search: the packaged multilingual model, embedded Qdrant (Edge shard, per-process replicas), hybrid
ranking, the post-load hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.test import override_settings

from apps.accounts.models import User
from apps.datasets import hooks
from apps.search import tasks
from apps.search.embedders import HashingEmbedder, MultilingualE5Embedder, embedder_get
from apps.search.engines import vectors
from apps.search.engines.base import ResultKind, SearchMode, SearchQuery
from apps.search.engines.vectors import EdgeStore, collection_name, vectors_count, vectors_drop, vectors_index_dataset
from apps.search.planner import query_mode
from apps.search.selectors import search_kind_results
from tests.search.conftest import Corpus

pytestmark = pytest.mark.django_db


def index_corpus(corpus: Corpus) -> int:
    datasets = {
        corpus.declarations.pk,
        corpus.invoice.dataset_id,
        corpus.message.dataset_id,
        corpus.document.dataset_id,
    }
    return sum(vectors_index_dataset(dataset_id=dataset_id) for dataset_id in datasets)


def test_the_packaged_model_is_multilingual() -> None:
    embedder = embedder_get()
    assert isinstance(embedder, MultilingualE5Embedder)
    fish_uk, fish_en, laptops = embedder.embed_documents(
        ["Риба морожена, філе хека", "Frozen hake fillets", "Ноутбуки портативні"]
    )
    assert fish_uk.shape == (384,)
    assert np.isclose(np.linalg.norm(fish_uk), 1.0, atol=1e-3)
    assert float(fish_uk @ fish_en) > float(fish_uk @ laptops)
    query = embedder.embed_query("морожена риба")
    assert float(query @ fish_uk) > float(query @ laptops)


def test_indexing_stores_distinct_texts_once_and_is_safe_to_repeat(corpus: Corpus, qdrant_path: Path) -> None:
    # Four distinct descriptions, one invoice description, one message, one document.
    assert index_corpus(corpus) == 7
    assert index_corpus(corpus) == 0
    assert vectors_count() == 7
    assert (qdrant_path / collection_name() / "edge_config.json").exists()


def test_a_description_in_other_words_and_language_is_found_by_meaning(
    investigator: User, corpus: Corpus, qdrant_path: Path
) -> None:
    index_corpus(corpus)
    query = SearchQuery(text="frozen seafood and fish fillets from China", mode=SearchMode.AUTO)
    assert query_mode(query) == SearchMode.HYBRID
    results = search_kind_results(user=investigator, query=query, kind=ResultKind.CUSTOMS_DECLARATION, limit=3)
    assert results[0].pk == corpus.zoria.pk
    assert "qdrant" in results[0].engines
    messages = search_kind_results(user=investigator, query=query, kind=ResultKind.TELEGRAM_MESSAGE, limit=3)
    assert [r.pk for r in messages] == [corpus.message.pk]
    assert messages[0].engines == ["qdrant"]


def test_hybrid_fuses_words_and_meaning(investigator: User, corpus: Corpus, qdrant_path: Path) -> None:
    index_corpus(corpus)
    query = SearchQuery(text="ноутбуки", mode=SearchMode.HYBRID)
    results = search_kind_results(user=investigator, query=query, kind=ResultKind.CUSTOMS_DECLARATION, limit=4)
    assert results[0].pk == corpus.laptops.pk
    assert results[0].engines == ["postgres", "qdrant"]
    assert results[0].score > results[1].score


def test_a_question_is_answered_by_meaning_and_by_some_words_only_without_vectors(
    investigator: User, corpus: Corpus, qdrant_path: Path
) -> None:
    query = SearchQuery(text="хто ввозив морожену рибу для перепродажу", mode=SearchMode.HYBRID)
    # No record has every word. With no vectors, the records with some of them are ranked.
    by_words = search_kind_results(user=investigator, query=query, kind=ResultKind.CUSTOMS_DECLARATION, limit=5)
    assert by_words[0].pk == corpus.zoria.pk
    assert {tuple(result.engines) for result in by_words} == {("postgres",)}
    index_corpus(corpus)
    by_meaning = search_kind_results(user=investigator, query=query, kind=ResultKind.CUSTOMS_DECLARATION, limit=5)
    assert by_meaning[0].pk == corpus.zoria.pk
    assert {tuple(result.engines) for result in by_meaning} == {("qdrant",)}


def test_vectors_never_cross_organisations(outsider: User, corpus: Corpus, qdrant_path: Path) -> None:
    index_corpus(corpus)
    query = SearchQuery(text="морожена риба та морепродукти з Китаю", mode=SearchMode.HYBRID)
    for kind in (ResultKind.CUSTOMS_DECLARATION, ResultKind.TELEGRAM_MESSAGE, ResultKind.DOCUMENT):
        assert search_kind_results(user=outsider, query=query, kind=kind, limit=5) == []


def test_the_embedder_is_pluggable(corpus: Corpus, qdrant_path: Path) -> None:
    embedder = HashingEmbedder()
    near, far = embedder.embed_documents(["Зоря-Схід", "Ноутбуки"])
    assert float(embedder.embed_query("Зоря Схід") @ near) > float(embedder.embed_query("Зоря Схід") @ far)
    with override_settings(SEARCH_EMBEDDER="apps.search.embedders.HashingEmbedder"):
        assert collection_name() == "nexus_texts_hashed_char_ngrams_512"
        assert vectors_index_dataset(dataset_id=corpus.message.dataset_id) == 1
    assert collection_name() == "nexus_texts_multilingual_e5_small_q4"


def test_the_post_load_hook_queues_indexing_after_commit(
    corpus: Corpus, qdrant_path: Path, django_capture_on_commit_callbacks: object
) -> None:
    assert "search.index" in dict(hooks.post_load_hooks())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # type: ignore[operator]
        hooks.post_load_run(corpus.document.dataset_id)
    assert callbacks
    tasks.search_index_dataset(corpus.document.dataset_id)
    assert vectors_count() == 1


def test_a_search_reads_its_process_replica_and_sees_each_write(
    investigator: User, corpus: Corpus, qdrant_path: Path
) -> None:
    query = SearchQuery(text="frozen seafood and fish fillets from China", mode=SearchMode.HYBRID)
    assert vectors_count() == 0
    vectors_index_dataset(dataset_id=corpus.message.dataset_id)
    messages = search_kind_results(user=investigator, query=query, kind=ResultKind.TELEGRAM_MESSAGE, limit=3)
    assert [r.pk for r in messages] == [corpus.message.pk]
    replicas = list((qdrant_path.parent / "qdrant-replicas").iterdir())
    assert len(replicas) == 1, "one replica for this process, opened once"
    search_kind_results(user=investigator, query=query, kind=ResultKind.TELEGRAM_MESSAGE, limit=3)
    assert list((qdrant_path.parent / "qdrant-replicas").iterdir()) == replicas

    # A write (as the worker's indexing does) bumps the version: the next search copies the shard again.
    vectors_index_dataset(dataset_id=corpus.declarations.pk)
    results = search_kind_results(user=investigator, query=query, kind=ResultKind.CUSTOMS_DECLARATION, limit=3)
    assert results[0].pk == corpus.zoria.pk
    assert "qdrant" in results[0].engines
    assert list((qdrant_path.parent / "qdrant-replicas").iterdir()) != replicas
    assert len(list((qdrant_path.parent / "qdrant-replicas").iterdir())) == 1, "the old replica is removed"

    vectors_drop()
    assert vectors_count() == 0
    assert search_kind_results(user=investigator, query=query, kind=ResultKind.TELEGRAM_MESSAGE, limit=3) == []


def test_replicas_of_ended_processes_are_removed(corpus: Corpus, qdrant_path: Path) -> None:
    vectors_index_dataset(dataset_id=corpus.message.dataset_id)
    replicas = qdrant_path.parent / "qdrant-replicas"
    orphan = replicas / f"{collection_name()}-999999999-deadbeef"
    orphan.mkdir(parents=True)
    # A write makes this process copy the shard again, and look for orphans while at it.
    vectors_index_dataset(dataset_id=corpus.document.dataset_id)
    assert vectors_count() == 2
    assert not orphan.exists()


def test_the_shard_is_written_by_one_process_while_another_searches(
    corpus: Corpus, qdrant_path: Path, investigator: User
) -> None:
    """Several processes read the shard at once (each its replica) and a writer still writes it."""
    vectors_index_dataset(dataset_id=corpus.message.dataset_id)
    assert vectors_count() == 1
    script = (
        "import django, os; django.setup(); "
        "from apps.search.engines.vectors import vectors_count; "
        "print(vectors_count())"
    )
    env = {**os.environ, "QDRANT_PATH": str(qdrant_path), "QDRANT_URL": ""}
    other = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, cwd=settings.BASE_DIR
    )
    assert other.stdout.strip().splitlines()[-1] == "1"
    vectors_index_dataset(dataset_id=corpus.document.dataset_id)
    assert vectors_count() == 2
    assert isinstance(vectors.vector_store(), EdgeStore)
