"""Load partner countries' mirror statistics (country, HS6, month, exports to Ukraine in USD) for an organisation,
for the mirror-mismatch detector. The file is ``generate_customs``' ``mirror_statistics.csv`` layout; a cell
already loaded is replaced."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.models import Organization
from apps.anomalies.models import MirrorStatistic

COLUMNS = ("country", "hs6", "month", "partner_usd")


class Command(BaseCommand):
    help = "Load mirror statistics (partner country, HS6, YYYY-MM, USD) for an organisation."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organization", required=True, help="the organisation's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"no organisation {options['organization']!r}")
        try:
            frame = pd.read_csv(options["file"], header=0, names=list(COLUMNS), dtype=str)
            frame["month"] = pd.to_datetime(frame["month"] + "-01", format="%Y-%m-%d").dt.date
            frame["partner_usd"] = pd.to_numeric(frame["partner_usd"]).round(2)
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {options['file']}: {error}") from error
        rows = [
            MirrorStatistic(organization=organization, country=row.country, hs6=row.hs6, month=row.month,
                            partner_usd=row.partner_usd)
            for row in frame.itertuples(index=False)
        ]  # fmt: skip
        with transaction.atomic():
            MirrorStatistic.objects.bulk_create(
                rows,
                batch_size=5000,
                update_conflicts=True,
                unique_fields=["organization", "country", "hs6", "month"],
                update_fields=["partner_usd", "updated_at"],
            )
        self.stdout.write(f"{len(rows):,} mirror cells loaded for {organization.slug}")
