"""Rebuild the search indexes that live outside PostgreSQL.

``--postgres`` fills the full-text vectors of records that have none (after the migration that added them);
``--vectors`` embeds every ready dataset's texts into the vector store (after ``--drop`` when the embedder
changed); ``--opensearch`` rebuilds each record kind's OpenSearch index beside the live one and swaps its alias.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.datasets.models import Dataset, DatasetStatus
from apps.search.engines.base import RECORD_KINDS, SEMANTIC_KINDS


class Command(BaseCommand):
    help = "Fill the full-text vectors, rebuild the vector store and/or the OpenSearch indexes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--postgres", action="store_true", help="Fill missing full-text vectors.")
        parser.add_argument("--vectors", action="store_true", help="Embed every ready dataset's texts.")
        parser.add_argument("--drop", action="store_true", help="With --vectors: delete the collection first.")
        parser.add_argument("--opensearch", action="store_true", help="Rebuild the OpenSearch indexes (alias swap).")
        parser.add_argument("--kind", choices=list(RECORD_KINDS), help="Only this record kind.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["postgres"] or options["vectors"] or options["opensearch"]):
            raise CommandError("say what to rebuild: --postgres, --vectors, --opensearch")
        kinds = [options["kind"]] if options["kind"] else list(RECORD_KINDS)
        if options["postgres"]:
            from apps.search.engines.postgres import postgres_index_dataset

            for dataset in Dataset.objects.filter(status=DatasetStatus.READY, kind__in=kinds).order_by("pk"):
                indexed = postgres_index_dataset(dataset_id=dataset.pk)
                self.stdout.write(f"postgres: dataset {dataset.pk} ({dataset.kind}): {indexed} rows indexed")
        if options["vectors"]:
            from apps.search.engines.vectors import vectors_drop, vectors_index_dataset

            if options["drop"]:
                vectors_drop()
            datasets = Dataset.objects.filter(
                status=DatasetStatus.READY, kind__in=[k for k in kinds if k in SEMANTIC_KINDS]
            ).order_by("pk")
            for dataset in datasets:
                written = vectors_index_dataset(dataset_id=dataset.pk)
                self.stdout.write(f"vectors: dataset {dataset.pk} ({dataset.kind}): {written} new points")
        if options["opensearch"]:
            if not settings.OPENSEARCH_URL:
                raise CommandError("OPENSEARCH_URL is not set")
            from apps.search.engines.opensearch import opensearch_reindex

            for kind in kinds:
                self.stdout.write(f"opensearch: {kind} → {opensearch_reindex(kind=kind)}")
