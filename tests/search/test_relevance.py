"""The judged query set: what an investigator types and what must come first.

Typos, «Зоря» ↔ "Zoria" across scripts, codes with and without their leading zeros, Ukrainian word forms, goods
chapters. Each query names the result that must rank first in its group (or be absent).
"""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from apps.search.engines.base import ResultKind, SearchFilters, SearchMode, SearchQuery
from apps.search.selectors import search_kind_results
from tests.search.conftest import PHONE, SOLE_TRADER_NAME, SOLE_TRADER_RNOKPP, Corpus

pytestmark = pytest.mark.django_db


def top(user: User, text: str, kind: str, mode: str = SearchMode.EXACT) -> list[int]:
    query = SearchQuery(text=text, mode=mode)
    return [result.pk for result in search_kind_results(user=user, query=query, kind=kind, limit=5)]


JUDGED_DECLARATIONS = [
    ("Зоря", "zoria"),  # the name as written
    ("Zoria", "zoria"),  # the official transliteration finds the Cyrillic name
    ("зоря схід", "zoria"),
    ("123456", "zoria"),  # ЄДРПОУ 00123456 typed without its leading zeros
    ("00123456", "zoria"),
    ("0303101100", "zoria"),  # the full goods code
    ("303101100", "zoria"),  # the goods code as a spreadsheet keeps it
    ("0303", "zoria"),  # a heading of the goods nomenclature
    ("митниці одеської", "zoria"),  # other forms of «Одеська митниця»
    ("рибу морожену", "zoria"),  # «риба морожена» in the accusative
    ("ноутбук", "laptops"),  # singular of «ноутбуки»
    ("пшениці", "grain"),
    ("Ningbo", "zoria"),  # a Latin counterparty name
    ("UA110110/2024/000456", "grain"),  # a declaration number
    ("34567890", "grain"),
]


@pytest.mark.parametrize(("text", "expected"), JUDGED_DECLARATIONS)
def test_judged_declaration_queries_rank_the_expected_record_first(
    investigator: User, corpus: Corpus, text: str, expected: str
) -> None:
    found = top(investigator, text, ResultKind.CUSTOMS_DECLARATION)
    assert found, f"{text!r} found nothing"
    assert found[0] == getattr(corpus, expected).pk, f"{text!r} ranked {found}"


JUDGED_ENTITIES = [
    ("Zoria", "zoria_entity"),
    ("Zoria-Skhid", "zoria_entity"),
    ("Зорря-Схід", "zoria_entity"),  # a doubled letter
    ("Зоря Сход", "zoria_entity"),  # a letter missing
    ("Dnipro Agro", "agro_entity"),
    ("123456", "zoria_entity"),
    ("00123456", "zoria_entity"),
]


@pytest.mark.parametrize(("text", "expected"), JUDGED_ENTITIES)
def test_judged_entity_queries_rank_the_expected_entity_first(
    investigator: User, corpus: Corpus, text: str, expected: str
) -> None:
    found = top(investigator, text, ResultKind.ENTITY)
    assert found, f"{text!r} found nothing"
    assert found[0] == getattr(corpus, expected).pk, f"{text!r} ranked {found}"


def test_other_kinds_find_their_records_by_word_forms(investigator: User, corpus: Corpus) -> None:
    assert top(investigator, "риба", ResultKind.TELEGRAM_MESSAGE) == [corpus.message.pk]
    assert top(investigator, "філе хека", ResultKind.TAX_INVOICE) == [corpus.invoice.pk]
    assert top(investigator, "морепродукти", ResultKind.DOCUMENT) == [corpus.document.pk]
    assert top(investigator, "ноутбук", ResultKind.TAX_INVOICE) == []


@pytest.mark.parametrize(
    "clear_value",
    [SOLE_TRADER_NAME, "Петренко", SOLE_TRADER_RNOKPP, PHONE, "0671234567"],
)
def test_personal_values_are_never_searchable_in_clear(investigator: User, corpus: Corpus, clear_value: str) -> None:
    for kind in (ResultKind.CUSTOMS_DECLARATION, ResultKind.ENTITY, ResultKind.TELEGRAM_MESSAGE):
        assert top(investigator, clear_value, kind) == [], (clear_value, kind)


def test_a_masking_token_is_not_searchable_either(investigator: User, corpus: Corpus) -> None:
    """Tokens are left out of the vectors: searching one cannot confirm whose records are held."""
    assert top(investigator, corpus.shoes.trader_code, ResultKind.CUSTOMS_DECLARATION) == []
    assert top(investigator, corpus.person.name, ResultKind.ENTITY) == []


def test_filters_narrow_each_kind(investigator: User, corpus: Corpus) -> None:
    def found(**filters: object) -> list[int]:
        query = SearchQuery(text="митниця", filters=SearchFilters(**filters), mode=SearchMode.EXACT)  # type: ignore[arg-type]
        results = search_kind_results(user=investigator, query=query, kind="customs_declaration", limit=10)
        return sorted(result.pk for result in results)

    everything = found()
    assert everything == sorted([corpus.zoria.pk, corpus.grain.pk, corpus.laptops.pk, corpus.shoes.pk])
    assert found(country="CN") == sorted([corpus.zoria.pk, corpus.laptops.pk])
    assert found(chapter="84") == [corpus.laptops.pk]
    assert found(office="UA110000") == [corpus.grain.pk]
    import datetime

    assert found(date_from=datetime.date(2024, 2, 1), date_to=datetime.date(2024, 2, 28)) == [corpus.laptops.pk]
    assert found(dataset_id=corpus.declarations.pk + 1000) == []


def test_records_are_searchable_once_indexed_and_indexing_twice_changes_nothing(
    investigator: User, corpus: Corpus
) -> None:
    from apps.search.engines.postgres import postgres_index_dataset
    from tests.search.conftest import declaration

    late = declaration(corpus.declarations, "UA500500/2024/777777", goods_description="Какао-боби")
    assert top(investigator, "какао", ResultKind.CUSTOMS_DECLARATION) == []
    assert postgres_index_dataset(dataset_id=corpus.declarations.pk) == 1
    assert top(investigator, "какао", ResultKind.CUSTOMS_DECLARATION) == [late.pk]
    assert postgres_index_dataset(dataset_id=corpus.declarations.pk) == 0
