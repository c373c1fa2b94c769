"""Filling the full-text vectors after a load: batches over several connections, each committed on its own."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.accounts.models import Organization
from apps.datasets.models import CustomsDeclaration, RecordKind
from apps.search.engines import postgres
from apps.search.engines.postgres import VECTOR_SQL, postgres_index_dataset
from tests.search.conftest import dataset_of, declaration


@pytest.mark.django_db(transaction=True)
def test_a_large_dataset_is_filled_over_several_connections_as_one_would_fill_it(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = dataset_of(organization, RecordKind.CUSTOMS_DECLARATION, "Багато декларацій")
    for number in range(7):
        declaration(
            dataset,
            f"UA500500/2024/{number:06d}",
            trader_name=f"ТОВ «Зоря-{number}»",
            goods_description="Риба морожена: філе хека",
        )
    monkeypatch.setattr(postgres, "INDEX_BATCH", 2)

    assert postgres_index_dataset(dataset_id=dataset.pk) == 7
    assert postgres_index_dataset(dataset_id=dataset.pk) == 0, "safe to run twice"

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM datasets_customsdeclaration "  # noqa: S608 - fixed SQL
            f"WHERE dataset_id = %s AND search_vector = {VECTOR_SQL[RecordKind.CUSTOMS_DECLARATION]}",
            [dataset.pk],
        )
        assert cursor.fetchone() == (7,)
        cursor.execute(
            "SELECT count(*) FROM datasets_customsdeclaration WHERE dataset_id = %s AND search_vector IS NULL",
            [dataset.pk],
        )
        assert cursor.fetchone() == (0,)
    assert CustomsDeclaration.objects.filter(dataset=dataset).count() == 7
