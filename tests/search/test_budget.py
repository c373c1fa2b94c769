"""A time budget for the text engine: in a hybrid search it gives what it finds in time, and the vectors answer."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from apps.accounts.models import User
from apps.search.engines.base import ResultKind, SearchMode, SearchQuery
from apps.search.engines.postgres import PostgresEngine
from tests.search.conftest import Corpus

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_full_text_search_past_its_budget_finds_nothing_and_leaves_the_session_as_it_was(
    investigator: User, corpus: Corpus
) -> None:
    query = SearchQuery(text="Риба морожена", mode=SearchMode.HYBRID)
    engine = PostgresEngine()
    kind = ResultKind.CUSTOMS_DECLARATION
    assert [hit.pk for hit in engine.search(user=investigator, query=query, kind=kind, limit=5, budget_ms=2000)] == [
        corpus.zoria.pk
    ]
    params = settings.DATABASES["default"]
    with psycopg.connect(host=params["HOST"], port=params["PORT"], user=params["USER"], dbname=params["NAME"]) as other:
        # Another transaction holds the table: the search waits for it, and gives up at its budget.
        other.execute("LOCK TABLE datasets_customsdeclaration IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        assert engine.search(user=investigator, query=query, kind=kind, limit=5, budget_ms=200) == []
        assert time.monotonic() - started < 5
        other.rollback()
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    assert [hit.pk for hit in engine.search(user=investigator, query=query, kind=kind, limit=5)] == [corpus.zoria.pk]
