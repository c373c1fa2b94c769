"""Load a file as a dataset from the command line: queue it for a worker, or run the whole pipeline here."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Organization, User
from apps.datasets import services
from apps.datasets.models import Dataset, DatasetSource, DatasetStatus, RecordKind


class Command(BaseCommand):
    help = (
        "Load PATH as a dataset of KIND into an organisation. Without --wait the file is stored and queued for a "
        "Celery worker; with --wait the pipeline runs in this process and the counts and timings are printed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="The file to load.")
        parser.add_argument("--kind", required=True, choices=RecordKind.values, help="The record kind the file holds.")
        parser.add_argument("--organization", required=True, help="The organisation's slug.")
        parser.add_argument("--user", help="Username of the uploader (gets the notifications).")
        parser.add_argument("--name", help="Dataset name (default: the file name).")
        parser.add_argument("--wait", action="store_true", help="Run the pipeline here and wait for it.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        try:
            organization = Organization.objects.get(slug=options["organization"])
        except Organization.DoesNotExist:
            raise CommandError(f"no organisation with the slug {options['organization']!r}") from None
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        with path.open("rb") as handle:
            result = services.dataset_create(
                organization=organization,
                user=user,
                file=File(handle, name=path.name),
                name=options["name"] or path.name,
                kind=options["kind"],
                source=DatasetSource.COMMAND,
                enqueue=not options["wait"],
            )
        dataset = result.dataset
        if result.duplicate:
            self.stdout.write(
                f"The organisation already has this file: dataset #{dataset.pk} “{dataset.name}” ({dataset.status})."
            )
            return
        if not options["wait"]:
            self.stdout.write(f"Dataset #{dataset.pk} “{dataset.name}” is queued for loading.")
            return
        dataset = services.dataset_run(dataset_id=dataset.pk, user=user, hooks_inline=True)
        self._report(dataset)

    def _report(self, dataset: Dataset) -> None:
        self.stdout.write(f"Dataset #{dataset.pk} “{dataset.name}”: {dataset.get_status_display()}")
        if dataset.status == DatasetStatus.NEEDS_MAPPING:
            missing = dataset.validation_report.get("mapping", {}).get("missing_required", [])
            raise CommandError(f"required fields not found in the file's headers: {', '.join(missing)}")
        if dataset.status != DatasetStatus.READY:
            raise CommandError(dataset.error or "the load did not finish")
        self.stdout.write(
            f"  rows read {dataset.rows_total:,}, loaded {dataset.rows_loaded:,}, "
            f"quarantined {dataset.rows_quarantined:,}"
        )
        for failure in dataset.validation_report.get("failures", []):
            self.stdout.write(f"    {failure['rule']:<16} {failure['field'] or '-':<24} {failure['rows']:>10,}")
        run = dataset.runs.filter(status=DatasetStatus.READY).first()
        if run is not None:
            seconds = run.stats.get("seconds", {})
            timings = ", ".join(f"{step} {value:.2f}s" for step, value in seconds.items())
            self.stdout.write(f"  timings: {timings}")
