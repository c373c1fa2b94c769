"""Demo datasets for ``make run``: synthetic declarations, invoices and registers loaded into the demo organisation.

The files come from the synthetic generator (docs/synthetic-data.md) with a fixed seed, so a second run produces the
same bytes and the pipeline recognises them as already loaded.
"""

from __future__ import annotations

import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Organization, User
from apps.datasets import services
from apps.datasets.models import DatasetSource, DatasetStatus, RecordKind
from apps.datasets.synthetic.config import GeneratorConfig
from apps.datasets.synthetic.generator import generate

# Registers first, so that the stages after the load meet the companies before the declarations naming them.
DEMO_FILES = [
    ("registry_companies.csv", RecordKind.REGISTRY_COMPANY, "Демо: реєстр юридичних осіб"),
    ("registry_persons.csv", RecordKind.REGISTRY_PERSON, "Демо: реєстр фізичних осіб"),
    ("declarations.csv", RecordKind.CUSTOMS_DECLARATION, "Демо: митні декларації"),
    ("tax_invoices.csv", RecordKind.TAX_INVOICE, "Демо: податкові накладні"),
]


class Command(BaseCommand):
    help = (
        "Generate synthetic customs declarations, tax invoices and registers (fixed seed) and load them into an "
        "organisation, in this process. Files already loaded there are recognised and skipped."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=20_000, help="Declarations to generate (default 20,000).")
        parser.add_argument("--seed", type=int, default=1, help="Generator seed (default 1).")
        parser.add_argument("--organization", default="demo-customs", help="Organisation slug (default demo-customs).")
        parser.add_argument("--user", default="investigator", help="Uploader's username (default investigator).")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"no organisation with the slug {options['organization']!r}; run demo_load first")
        user = User.objects.filter(username=options["user"]).first()
        try:
            config = GeneratorConfig(rows=options["rows"], seed=options["seed"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        with tempfile.TemporaryDirectory(prefix="nexus-demo-") as directory:
            out = Path(directory)
            generate(config, out)
            for filename, kind, name in DEMO_FILES:
                self._load(out / filename, kind, name, organization, user)

    def _load(self, path: Path, kind: str, name: str, organization: Organization, user: User | None) -> None:
        with path.open("rb") as handle:
            result = services.dataset_create(
                organization=organization,
                user=user,
                file=File(handle, name=path.name),
                name=name,
                kind=kind,
                source=DatasetSource.COMMAND,
                enqueue=False,
            )
        dataset = result.dataset
        if result.duplicate and dataset.status == DatasetStatus.READY:
            self.stdout.write(f"  {name}: already loaded ({dataset.rows_loaded:,} rows)")
            return
        dataset = services.dataset_run(dataset_id=dataset.pk, user=user, hooks_inline=True)
        if dataset.status != DatasetStatus.READY:
            raise CommandError(f"{name} did not load: {dataset.get_status_display()} {dataset.error}")
        self.stdout.write(f"  {name}: {dataset.rows_loaded:,} rows loaded, {dataset.rows_quarantined:,} set aside")
