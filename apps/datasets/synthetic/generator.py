"""One generator run: parties, declarations, invoices, registers, mirror statistics, ground truth, manifest."""

from __future__ import annotations

import datetime
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from apps.datasets.synthetic import declarations, invoices, reference, registry, schemes
from apps.datasets.synthetic.config import (
    CHUNK_ROWS,
    SCHEME_SHARES,
    SPLIT_THRESHOLD_EUR,
    STREAM_MIRROR,
    GeneratorConfig,
)
from apps.datasets.synthetic.context import Context
from apps.datasets.synthetic.parties import (
    COMPANY_VARIANT_KINDS,
    COMPANY_VARIANT_WEIGHTS,
    FOREIGN_VARIANT_KINDS,
    FOREIGN_VARIANT_WEIGHTS,
    Company,
    Universe,
    build_universe,
)
from apps.datasets.synthetic.writer import FileSummary, OutputDirectory

FORMAT_VERSION = 1
DECLARATIONS_FILE = "declarations.csv"
INVOICES_FILE = "tax_invoices.csv"
COMPANIES_FILE = "registry_companies.csv"
PERSONS_FILE = "registry_persons.csv"
MIRROR_FILE = "mirror_statistics.csv"
TRUTH_DIR = "ground_truth"
MIRROR_HEADER = ("Країна-партнер", "Код товару (HS6)", "Місяць", "Експорт до України за даними партнера, USD")
ENTITY_HEADER = ("entity_id", "kind", "name", "code", "country", "roles", "is_shell", "is_dishonest", "is_nominee",
                 "is_controller", "mass_address_id")  # fmt: skip
MENTION_HEADER = ("source", "role", "code", "name", "country", "entity_id", "spelling", "rows")
# Register rows written at a time (small: a register row and its ground truth are many strings).
REGISTER_BATCH = 5000
# Partner cells below this (USD over a month) are left out of the mirror file, as statistical offices do.
MIRROR_REPORTING_FLOOR_USD = 1000.0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GenerationResult:
    files: dict[str, FileSummary]
    counts: dict[str, Any]
    seconds: float


def _chunks(total: int) -> list[tuple[int, int, int]]:
    return [(index, start, min(start + CHUNK_ROWS, total)) for index, start in enumerate(range(0, total, CHUNK_ROWS))]


def generate(config: GeneratorConfig, out_dir: Path, progress: Progress | None = None) -> GenerationResult:
    """Write every file of a run into ``out_dir`` (created if missing) and return what was written."""
    # A run allocates millions of short-lived strings but no reference cycles; the cyclic collector would
    # only rescan the hundreds of thousands of parties on every full collection, costing a third of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(config, out_dir, progress or (lambda message: None))
    finally:
        if collecting:
            gc.enable()


def _generate(config: GeneratorConfig, out_dir: Path, report: Progress) -> GenerationResult:
    started = time.perf_counter()
    with OutputDirectory(out_dir) as output:
        universe = build_universe(config)
        context = Context(config, universe)
        report(
            f"parties: {len(universe.companies)} companies, {len(universe.persons)} people, "
            f"{len(universe.foreign)} foreign partners ({time.perf_counter() - started:.1f} s)"
        )
        declaration_generator = _write_declarations(config, context, output, report)
        carousels, invoice_generator = _write_invoices(context, output, report)
        person_records = _write_registers(config, universe, output, report)
        planted_cells = _write_mirror(config, context, declaration_generator.totals, output)
        _write_entities(universe, output)
        _write_mentions(universe, declaration_generator.totals, invoice_generator.totals, output)
        return _write_summaries(
            config, universe, declaration_generator, invoice_generator, carousels, planted_cells, person_records,
            output, started,
        )  # fmt: skip


def _write_declarations(
    config: GeneratorConfig, context: Context, output: OutputDirectory, report: Progress
) -> declarations.DeclarationGenerator:
    generator = declarations.DeclarationGenerator(context)
    writer = output.csv(DECLARATIONS_FILE, declarations.HEADER)
    truth_writer = output.csv(f"{TRUTH_DIR}/declaration_schemes.csv", declarations.TRUTH_HEADER)
    phase = time.perf_counter()
    chunks = _chunks(config.rows)
    report_every = max(1, len(chunks) // 10)
    for index, start, stop in chunks:
        columns, truth = generator.chunk(index, start, stop)
        writer.write_columns(columns)
        truth_writer.write_rows(truth)
        if (index + 1) % report_every and stop < config.rows:
            continue
        elapsed = time.perf_counter() - phase
        report(
            f"declarations: {stop:,}/{config.rows:,} rows, {writer.bytes_written / 1e6:,.0f} MB, "
            f"{stop / max(elapsed, 1e-9):,.0f} rows/s"
        )
    output.close(writer, truth_writer)
    return generator


def _write_invoices(
    context: Context, output: OutputDirectory, report: Progress
) -> tuple[list[invoices.Carousel], invoices.InvoiceGenerator]:
    carousels = invoices.plan_carousels(context)
    generator = invoices.InvoiceGenerator(context, carousels)
    writer = output.csv(INVOICES_FILE, invoices.HEADER)
    truth_writer = output.csv(f"{TRUTH_DIR}/invoice_schemes.csv", invoices.TRUTH_HEADER)
    for index, start, stop in _chunks(generator.background_rows) or [(0, 0, 0)]:
        columns, truth = generator.chunk(index, start, stop)
        writer.write_columns(columns)
        truth_writer.write_rows(truth)
    report(f"tax invoices: {writer.rows:,} rows, {len(carousels)} VAT carousels")
    output.close(writer, truth_writer)
    return carousels, generator


def _write_registers(config: GeneratorConfig, universe: Universe, output: OutputDirectory, report: Progress) -> int:
    registers = registry.RegistryWriter(config, universe)
    writer = output.csv(COMPANIES_FILE, registry.COMPANY_HEADER)
    truth_writer = output.csv(f"{TRUTH_DIR}/record_entities.csv", registry.RECORD_TRUTH_HEADER)
    company_rows: list[list[str]] = []
    company_truth: list[list[str]] = []
    for row, truth in registers.company_rows():
        company_rows.append(row)
        company_truth.extend(truth)
        if len(company_rows) == REGISTER_BATCH:
            writer.write_rows(company_rows)
            truth_writer.write_rows(company_truth)
            company_rows, company_truth = [], []
    writer.write_rows(company_rows)
    truth_writer.write_rows(company_truth)
    output.close(writer)
    writer = output.csv(PERSONS_FILE, registry.PERSON_HEADER)
    for person_rows, person_truth in registers.person_rows(REGISTER_BATCH):
        writer.write_rows(person_rows)
        truth_writer.write_rows(person_truth)
    person_records = writer.rows
    output.close(writer, truth_writer)
    report(f"registers: {len(universe.companies):,} companies, {person_records:,} person records")
    return person_records


def _write_summaries(
    config: GeneratorConfig,
    universe: Universe,
    declaration_generator: declarations.DeclarationGenerator,
    invoice_generator: invoices.InvoiceGenerator,
    carousels: list[invoices.Carousel],
    planted_cells: list[dict[str, Any]],
    person_records: int,
    output: OutputDirectory,
    started: float,
) -> GenerationResult:
    totals = declaration_generator.totals
    counts: dict[str, Any] = {
        "declarations": config.rows,
        "exports": totals.exports,
        "imports": config.rows - totals.exports,
        "labelled": totals.labelled,
        "fraud_found": totals.fraud_found,
        "fraud_found_on_schemed_rows": totals.fraud_found_on_schemes,
        "additional_revenue_uah": round(totals.revenue_uah, 2),
        "schemed_declarations": dict(totals.scheme_rows),
        "split_groups": totals.split_groups,
        "tax_invoices": invoice_generator.total_rows,
        "carousel_invoices": invoice_generator.totals.carousel_invoices,
        "vat_carousels": len(carousels),
        "mirror_planted_cells": len(planted_cells),
        "registry_companies": len(universe.companies),
        "registry_person_records": person_records,
        "persons": len(universe.persons),
        "foreign_companies": len(universe.foreign),
        "shell_companies": len(universe.shells),
    }
    output.json(f"{TRUTH_DIR}/schemes.json", _scheme_truth(config, universe, totals, carousels, planted_cells, counts))
    manifest = {
        "generator": "apps.datasets.synthetic",
        "format_version": FORMAT_VERSION,
        "seed": config.seed,
        "parameters": _parameters(config),
        "counts": counts,
        "files": {path: summary.as_json() for path, summary in sorted(output.summaries.items())},
    }
    output.json("manifest.json", manifest)
    return GenerationResult(dict(output.summaries), counts, time.perf_counter() - started)


def _parameters(config: GeneratorConfig) -> dict[str, Any]:
    return {
        "rows": config.rows,
        "fraud_rate": config.fraud_rate,
        "labelled_share": config.labelled_share,
        "invoice_rows": config.invoice_rows,
        "chunk_rows": CHUNK_ROWS,
        "period": [reference.PERIOD_START.isoformat(), reference.PERIOD_END.isoformat()],
        "split_threshold_eur": SPLIT_THRESHOLD_EUR,
        "scheme_shares": SCHEME_SHARES,
    }


def _write_mirror(
    config: GeneratorConfig, context: Context, totals: declarations.DeclarationTotals, output: OutputDirectory
) -> list[dict[str, Any]]:
    """Partner countries' reported exports to Ukraine, with some cells inflated far above the true trade."""
    rng = config.stream(STREAM_MIRROR)
    cells = np.flatnonzero(totals.mirror_usd >= MIRROR_REPORTING_FLOOR_USD)
    true_usd = totals.mirror_usd[cells]
    reported = true_usd * rng.uniform(*schemes.MIRROR_NOISE, len(cells))
    candidates = np.flatnonzero(true_usd >= schemes.MIRROR_MIN_USD)
    planted_count = round(len(candidates) * schemes.MIRROR_PLANTED_SHARE)
    planted_count = max(1, planted_count) if config.fraud_rate > 0 and len(candidates) else 0
    planted = np.sort(rng.choice(candidates, size=planted_count, replace=False)) if planted_count else candidates[:0]
    ratios = rng.uniform(*schemes.MIRROR_PLANTED_RATIO, len(planted))
    reported[planted] = true_usd[planted] * ratios
    hs6_count = len(context.hs6_codes)
    months = reference.PERIOD_MONTHS
    country = cells // (hs6_count * months)
    hs6 = (cells // months) % hs6_count
    month = cells % months
    writer = output.csv(MIRROR_FILE, MIRROR_HEADER)
    writer.write_rows(
        [
            str(context.country_iso[c]),
            context.hs6_codes[h],
            declarations._month_text(m),
            f"{value:.2f}",
        ]
        for c, h, m, value in zip(country.tolist(), hs6.tolist(), month.tolist(), reported.tolist(), strict=True)
    )
    planted_cells = [
        {
            "country": str(context.country_iso[country[i]]),
            "hs6": context.hs6_codes[int(hs6[i])],
            "month": declarations._month_text(int(month[i])),
            "partner_reported_usd": round(float(reported[i]), 2),
            "ukraine_true_usd": round(float(true_usd[i]), 2),
            "ratio": round(float(ratio), 3),
        }
        for i, ratio in zip(planted.tolist(), ratios.tolist(), strict=True)
    ]
    output.close(writer)
    return planted_cells


def _write_entities(universe: Universe, output: OutputDirectory) -> None:
    writer = output.csv(f"{TRUTH_DIR}/entities.csv", ENTITY_HEADER)
    writer.write_rows(_entity_rows(universe))
    output.close(writer)


def _entity_rows(universe: Universe) -> Iterator[list[str]]:
    trades: dict[int, Company] = {}
    for company in universe.companies:
        if company.person is not None:
            trades[company.person] = company
            continue
        yield [
            company.entity_id, "company", company.full_name, company.code, reference.HOME_COUNTRY, company.role,
            _flag(company.role == "shell"), _flag(company.dishonest), "0", "0",
            "" if company.mass_address is None else f"MASS-{company.mass_address + 1:03d}",
        ]  # fmt: skip
    controllers = set(universe.controllers)
    for person in universe.persons:
        roles = {_ROLE_NAMES[role] for role, _company in person.roles}
        sole_trade = trades.get(person.index)
        if sole_trade is not None:
            roles.add(sole_trade.role)
        yield [
            person.entity_id, "person", person.full_name, person.rnokpp, reference.HOME_COUNTRY,
            " ".join(sorted(roles)), "0", _flag(sole_trade is not None and sole_trade.dishonest),
            _flag(person.nominee), _flag(person.index in controllers), "",
        ]  # fmt: skip
    for foreign in universe.foreign:
        iso = reference.COUNTRIES[foreign.country].iso
        yield [foreign.entity_id, "foreign_company", foreign.name, "", iso, "partner", "0", "0", "0", "0", ""]


_ROLE_NAMES = {"керівник": "director", "засновник": "founder", "бенефіціар": "beneficial_owner", "ФОП": "fop"}


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _write_mentions(
    universe: Universe,
    declaration_totals: declarations.DeclarationTotals,
    invoice_totals: invoices.InvoiceTotals,
    output: OutputDirectory,
) -> None:
    """Every distinct way a party is written in declarations and invoices, with the entity it denotes."""
    writer = output.csv(f"{TRUTH_DIR}/entity_mentions.csv", MENTION_HEADER)
    company_slots = len(COMPANY_VARIANT_WEIGHTS)
    sources = (
        ("declarations", "trader", declaration_totals.trader_mentions),
        ("declarations", "declarant", declaration_totals.declarant_mentions),
        ("tax_invoices", "seller", invoice_totals.seller_mentions),
        ("tax_invoices", "buyer", invoice_totals.buyer_mentions),
    )
    for source, role, counts in sources:
        writer.write_rows(
            [source, role, universe.companies[entity].code, name, reference.HOME_COUNTRY,
             universe.companies[entity].entity_id, COMPANY_VARIANT_KINDS[slot], str(rows)]
            for entity, slot, name, rows in _merge_slots(counts, company_slots, universe.company_name)
        )  # fmt: skip
    writer.write_rows(
        ["declarations", "counterparty", "", name, reference.COUNTRIES[universe.foreign[entity].country].iso,
         universe.foreign[entity].entity_id, FOREIGN_VARIANT_KINDS[slot], str(rows)]
        for entity, slot, name, rows in _merge_slots(
            declaration_totals.partner_mentions, len(FOREIGN_VARIANT_WEIGHTS), universe.foreign_name
        )
    )  # fmt: skip
    output.close(writer)


def _merge_slots(
    counts: npt.NDArray[np.int64], slots: int, name_of: Callable[[int, int], str]
) -> Iterator[tuple[int, int, str, int]]:
    """(entity, slot, spelling, rows) for every used spelling; an entity's slots that spell alike are merged
    under the first of them."""
    used = np.flatnonzero(counts)
    entities = used // slots
    for start, stop in _runs(entities):
        merged: dict[str, tuple[int, int]] = {}
        for cell in used[start:stop].tolist():
            slot = cell % slots
            name = name_of(cell // slots, slot)
            first_slot, rows = merged.get(name, (slot, 0))
            merged[name] = (first_slot, rows + int(counts[cell]))
        entity = int(entities[start])
        for name, (slot, rows) in merged.items():
            yield entity, slot, name, rows


def _runs(values: npt.NDArray[np.int64]) -> Iterator[tuple[int, int]]:
    """[start, stop) of each run of equal neighbours in ``values``."""
    if not len(values):
        return
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(values)]])
    yield from zip(starts.tolist(), stops.tolist(), strict=True)


def _scheme_truth(
    config: GeneratorConfig,
    universe: Universe,
    totals: declarations.DeclarationTotals,
    carousels: list[invoices.Carousel],
    planted_cells: list[dict[str, Any]],
    counts: dict[str, Any],
) -> dict[str, Any]:
    persons = universe.persons
    companies = universe.companies
    day_text = _day_text
    shells = []
    for index in universe.shells.tolist():
        company = companies[index]
        rows = int(totals.company_rows[index])
        shells.append(
            {
                "entity_id": company.entity_id,
                "code": company.code,
                "name": company.full_name,
                "registered": company.registered.isoformat(),
                "status": company.status,
                "trading_window": [day_text(company.window[0]), day_text(company.window[1])] if company.window else [],
                "first_declaration": day_text(int(totals.company_first_day[index])) if rows else None,
                "last_declaration": day_text(int(totals.company_last_day[index])) if rows else None,
                "declaration_rows": rows,
                "capital_uah": company.capital,
                "mass_address_id": None if company.mass_address is None else f"MASS-{company.mass_address + 1:03d}",
                "director": persons[company.director].entity_id if company.director is not None else None,
                "founders": [persons[i].entity_id for kind, i, _share in company.founders if kind == "person"],
                "beneficial_owners": [persons[i].entity_id for i in company.owners],
            }
        )
    mass = [
        {
            "id": f"MASS-{number + 1:03d}",
            "building": address.building,
            "companies": [c.entity_id for c in companies if c.mass_address == number],
        }
        for number, address in enumerate(universe.mass_addresses)
    ]
    nominees = [
        {
            "entity_id": person.entity_id,
            "name": person.full_name,
            "directs": [companies[i].entity_id for role, i in person.roles if role == "керівник"],
        }
        for person in persons
        if person.nominee
    ]
    controllers = [
        {
            "entity_id": persons[index].entity_id,
            "name": persons[index].full_name,
            "shells": [
                companies[i].entity_id
                for r, i in persons[index].roles
                if r == "бенефіціар" and companies[i].role == "shell"
            ],
            "other_companies": [
                companies[i].entity_id
                for r, i in persons[index].roles
                if r == "бенефіціар" and companies[i].role != "shell"
            ],
        }
        for index in universe.controllers
    ]
    rings = []
    for carousel in carousels:
        days = [invoice[0] for invoice in carousel.invoices]
        rings.append(
            {
                "id": carousel.carousel_id,
                "members": [companies[i].entity_id for i in carousel.members],
                "member_codes": [companies[i].code for i in carousel.members],
                "goods_code": reference.GOODS[carousel.goods].code,
                "rounds": max(invoice[3] for invoice in carousel.invoices),
                "first_date": day_text(min(days)),
                "last_date": day_text(max(days)),
                "invoices": carousel.registration_numbers,
            }
        )
    return {
        "parameters": _parameters(config),
        "counts": counts,
        "declaration_schemes": {
            "file": f"{TRUTH_DIR}/declaration_schemes.csv",
            "under_invoicing": {
                "value_factor": schemes.UNDER_INVOICING_FACTOR,
                "peer_group": "goods code, country of origin, month",
            },
            "misclassification": {
                "pairs": [{"true": a, "declared": b} for a, b in reference.MISCLASSIFICATION_PAIRS],
            },
            "split_shipment": {
                "threshold_eur": SPLIT_THRESHOLD_EUR,
                "parts": schemes.SPLIT_PARTS,
                "share_of_threshold": schemes.SPLIT_SHARE_OF_THRESHOLD,
                "groups": totals.split_groups,
            },
            "shell_company": {"value_factor": schemes.SHELL_COMPANY_FACTOR},
            "honest_noise": {
                "discount_share": schemes.DISCOUNT_SHARE,
                "discount_factor": schemes.DISCOUNT_FACTOR,
                "small_consignment_share": schemes.SMALL_CONSIGNMENT_SHARE,
            },
        },
        "inspection_outcome": {
            "fraud_found_probability": {
                schemes.SCHEME_NAMES.get(code, "none"): value for code, value in schemes.FRAUD_FOUND_PROBABILITY.items()
            },
            "dishonest_trader_noise": schemes.DISHONEST_NOISE,
            "recovery_share": schemes.RECOVERY_SHARE,
        },
        "shell_companies": shells,
        "mass_addresses": mass,
        "nominee_directors": nominees,
        "controllers": controllers,
        "dishonest_traders": [c.entity_id for c in companies if c.dishonest],
        "splitters": [companies[i].entity_id for i in universe.splitters.tolist()],
        "vat_carousels": {"file": f"{TRUTH_DIR}/invoice_schemes.csv", "rings": rings},
        "mirror_mismatches": {
            "file": MIRROR_FILE,
            "min_true_usd": schemes.MIRROR_MIN_USD,
            "ratio": schemes.MIRROR_PLANTED_RATIO,
            "noise": schemes.MIRROR_NOISE,
            "planted": planted_cells,
        },
    }


def _day_text(day: int) -> str:
    return (reference.PERIOD_START + datetime.timedelta(days=day)).isoformat()
