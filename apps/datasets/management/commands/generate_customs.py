"""Synthetic Ukrainian customs, tax and register data with known answers (docs/synthetic-data.md)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.datasets.synthetic.config import GeneratorConfig
from apps.datasets.synthetic.generator import generate


class Command(BaseCommand):
    help = (
        "Write synthetic customs declarations, tax invoices, company and person registers and the ground truth "
        "of the fraud schemes planted in them into DIR. The same seed and parameters give the same bytes."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, required=True, help="Number of customs declarations.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument("--out", type=Path, required=True, help="Output directory (created if missing).")
        parser.add_argument(
            "--fraud-rate",
            type=float,
            default=0.03,
            help="Share of declarations carrying a planted scheme, 0-0.3 (default 0.03).",
        )
        parser.add_argument(
            "--labelled-share",
            type=float,
            default=0.3,
            help="Share of declarations with an inspection outcome, 0-1 (default 0.3).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = GeneratorConfig(
                rows=options["rows"],
                seed=options["seed"],
                fraud_rate=options["fraud_rate"],
                labelled_share=options["labelled_share"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        out_dir: Path = options["out"]
        if out_dir.exists() and not out_dir.is_dir():
            raise CommandError(f"{out_dir} exists and is not a directory")
        verbose = options["verbosity"] > 0

        def progress(message: str) -> None:
            if verbose:
                self.stdout.write(f"  {message}")

        if verbose:
            self.stdout.write(f"Generating {config.rows:,} declarations (seed {config.seed}) into {out_dir}")
        try:
            result = generate(config, out_dir, progress)
        except OSError as error:
            raise CommandError(f"cannot write to {out_dir}: {error}") from error
        if not verbose:
            return
        counts = result.counts
        self.stdout.write("\nFiles:")
        for path, summary in sorted(result.files.items()):
            self.stdout.write(f"  {path:<40} {summary.rows:>12,} rows {summary.bytes / 1e6:>10,.1f} MB")
        schemes = ", ".join(f"{name} {count:,}" for name, count in counts["schemed_declarations"].items())
        self.stdout.write(
            "\nPlanted: "
            f"{schemes}; {counts['split_groups']:,} split groups; {counts['shell_companies']:,} shell companies; "
            f"{counts['vat_carousels']:,} VAT carousels ({counts['carousel_invoices']:,} invoices); "
            f"{counts['mirror_planted_cells']:,} mirror cells"
        )
        self.stdout.write(
            f"Inspected: {counts['labelled']:,} declarations, fraud found on {counts['fraud_found']:,} "
            f"({counts['fraud_found_on_schemed_rows']:,} of them schemed), "
            f"{counts['additional_revenue_uah']:,.2f} UAH assessed"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {result.seconds:.1f} s ({config.rows / max(result.seconds, 1e-9):,.0f} declarations/s "
                "overall); ground truth in ground_truth/, checksums in manifest.json."
            )
        )
