"""Tax invoices (податкові накладні) between Ukrainian companies, with the VAT carousels planted among them.

Parties are identified by ЄДРПОУ (legal entities) or РНОКПП (ФОП) — the same codes as in the declarations and
the register — rather than the 12-digit VAT payer number a real invoice carries, so that one identifier links
all files. docs/synthetic-data.md records this choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from apps.datasets.synthetic import reference, schemes
from apps.datasets.synthetic.config import STREAM_INVOICES, STREAM_SCHEMES
from apps.datasets.synthetic.context import Context, cumulative, draw_index
from apps.datasets.synthetic.parties import COMPANY_VARIANT_WEIGHTS

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

HEADER = (
    "Реєстраційний номер ПН",
    "Номер ПН",
    "Дата складання",
    "Код ЄДРПОУ/РНОКПП продавця",
    "Продавець",
    "Код ЄДРПОУ/РНОКПП покупця",
    "Покупець",
    "Код товару УКТЗЕД",
    "Опис товару",
    "Кількість",
    "Одиниця виміру",
    "Сума без ПДВ, грн",
    "Ставка ПДВ, %",
    "Сума ПДВ, грн",
    "Сума з ПДВ, грн",
)
TRUTH_HEADER = ("registration_number", "scheme", "carousel_id", "round", "position", "seller_code", "buyer_code")

# The register numbers invoices consecutively from this value in our files.
REGISTRATION_BASE = 9_100_000_000


@dataclass
class Carousel:
    carousel_id: str
    members: list[int]  # company indices in the order goods and invoices go round
    goods: int
    invoices: list[tuple[int, int, int, int, float, float]] = field(default_factory=list)
    # (day, seller, buyer, round, amount without VAT, quantity)
    registration_numbers: list[str] = field(default_factory=list)


def plan_carousels(context: Context) -> list[Carousel]:
    """Rings of 3-5 companies, at least one a shell, invoicing the same goods round and round."""
    universe = context.universe
    config = context.config
    rng = config.stream(STREAM_SCHEMES, 1)
    if not len(universe.shells) or len(universe.domestic) < 4 or config.fraud_rate == 0:
        return []
    mean_invoices = 4 * 3
    count = max(2, round(config.invoice_rows * config.fraud_rate / 3 / mean_invoices))
    carousels = []
    for number in range(count):
        size = int(rng.integers(schemes.CAROUSEL_MEMBERS[0], schemes.CAROUSEL_MEMBERS[1] + 1))
        shell = int(universe.shells[rng.integers(0, len(universe.shells))])
        members = [shell]
        if rng.random() < 0.3 and len(universe.shells) > 1:
            other = int(universe.shells[rng.integers(0, len(universe.shells))])
            if other != shell:
                members.append(other)
        while len(members) < size:
            candidate = int(universe.domestic[rng.integers(0, len(universe.domestic))])
            if candidate not in members:
                members.append(candidate)
        order = [members[0], *[members[int(i) + 1] for i in rng.permutation(len(members) - 1)]]
        company = universe.companies[shell]
        goods = company.portfolio[0][0]
        window = company.window or (0, reference.PERIOD_DAYS - 1)
        day = int(rng.integers(window[0], window[1] + 1))
        base = float(rng.uniform(500_000, 8_000_000))
        price_uah = context.usd_per_kg[goods] * 1.3 * float(context.uah_rate[context.usd, context.day_month[day]])
        carousel = Carousel(f"CAROUSEL-{number + 1:04d}", order, goods)
        rounds = int(rng.integers(schemes.CAROUSEL_ROUNDS[0], schemes.CAROUSEL_ROUNDS[1] + 1))
        for round_number in range(rounds):
            amount = base * float(rng.uniform(0.9, 1.2))
            for position, seller in enumerate(order):
                buyer = order[(position + 1) % len(order)]
                day = min(day + int(rng.integers(0, 3)), reference.PERIOD_DAYS - 1)
                quantity = amount / price_uah
                carousel.invoices.append((day, seller, buyer, round_number + 1, round(amount, 2), quantity))
                amount *= 1 + float(rng.uniform(*schemes.CAROUSEL_MARKUP))
            day = min(day + int(rng.integers(3, 11)), reference.PERIOD_DAYS - 1)
        carousels.append(carousel)
    return carousels


@dataclass
class InvoiceTotals:
    seller_mentions: IntArray
    buyer_mentions: IntArray
    carousel_invoices: int = 0


class InvoiceGenerator:
    def __init__(self, context: Context, carousels: list[Carousel]) -> None:
        self.context = context
        universe = context.universe
        self.carousels = carousels
        planned = [
            (day, seller, buyer, amount, quantity, carousel_index, round_number, position)
            for carousel_index, carousel in enumerate(carousels)
            for position, (day, seller, buyer, round_number, amount, quantity) in enumerate(carousel.invoices)
        ]
        planned.sort(key=lambda item: (item[0], item[5], item[7]))
        self.planned = planned
        self.background_rows = max(0, context.config.invoice_rows - len(planned))
        self.total_rows = self.background_rows + len(planned)
        self.slot_cum = cumulative(np.array(COMPANY_VARIANT_WEIGHTS))
        sellers = np.concatenate([universe.importers, universe.exporters, universe.domestic, universe.shells])
        seller_weights = np.concatenate(
            [
                universe.importer_weights * 1.0,
                universe.exporter_weights * 0.3,
                np.full(len(universe.domestic), float(np.median(universe.importer_weights)) * 0.4),
                np.full(len(universe.shells), float(np.median(universe.importer_weights)) * 2.0),
            ]
        )
        self.sellers = sellers
        self.seller_cum = cumulative(seller_weights)
        self.buyers = np.concatenate([universe.domestic, universe.importers])
        self.import_goods = np.array(
            [i for i, goods in enumerate(reference.GOODS) if goods.flow in "IB"], dtype=np.int64
        )
        companies = len(universe.companies)
        self.counters = np.zeros(companies, dtype=np.int64)
        self.written = 0
        self.planned_position = 0
        self.totals = InvoiceTotals(
            seller_mentions=np.zeros(companies * len(COMPANY_VARIANT_WEIGHTS), dtype=np.int64),
            buyer_mentions=np.zeros(companies * len(COMPANY_VARIANT_WEIGHTS), dtype=np.int64),
        )

    def chunk(self, index: int, start: int, stop: int) -> tuple[list[list[str]], list[list[str]]]:
        """Background invoices [start, stop) merged with the carousel invoices dated within their days."""
        context = self.context
        universe = context.universe
        rng = context.config.stream(STREAM_INVOICES, index)
        n = stop - start
        day = context.days_for_rows(start, stop, max(1, self.background_rows))
        seller = self.sellers[draw_index(self.seller_cum, rng.random(n))]
        buyer = self.buyers[rng.integers(0, len(self.buyers), n)]
        clash = buyer == seller
        buyer[clash] = universe.domestic[rng.integers(0, len(universe.domestic), int(clash.sum()))]
        size = universe.portfolio_size[seller]
        entry = (rng.random(n) * np.maximum(size, 1)).astype(np.int64)
        goods = np.where(
            size > 0,
            universe.portfolio_goods[seller, entry],
            self.import_goods[rng.integers(0, len(self.import_goods), n)],
        )
        month = context.day_month[day]
        kg = context.lot_kg[goods] / 8 * rng.lognormal(0.0, 1.0, n)
        price_uah = (
            context.usd_per_kg[goods]
            * context.price_drift[month]
            * rng.lognormal(0.0, 0.2, n)
            * rng.uniform(1.15, 1.5, n)
            * context.uah_rate[context.usd, month]
        )
        amount = np.round(kg * price_uah, 2)
        quantity = kg / context.kg_per_unit[goods]
        carousel_info = np.full((n, 3), -1, dtype=np.int64)

        last_day = int(day[-1]) if n else reference.PERIOD_DAYS - 1
        final = stop >= self.background_rows
        extra = []
        while self.planned_position < len(self.planned) and (
            final or self.planned[self.planned_position][0] <= last_day
        ):
            extra.append(self.planned[self.planned_position])
            self.planned_position += 1
        if extra:
            day = np.concatenate([day, np.array([e[0] for e in extra], dtype=np.int64)])
            seller = np.concatenate([seller, np.array([e[1] for e in extra], dtype=np.int64)])
            buyer = np.concatenate([buyer, np.array([e[2] for e in extra], dtype=np.int64)])
            goods = np.concatenate([goods, np.array([self.carousels[e[5]].goods for e in extra], dtype=np.int64)])
            amount = np.concatenate([amount, np.array([e[3] for e in extra], dtype=np.float64)])
            quantity = np.concatenate([quantity, np.array([e[4] for e in extra], dtype=np.float64)])
            carousel_info = np.concatenate(
                [carousel_info, np.array([[e[5], e[6], e[7]] for e in extra], dtype=np.int64)]
            )
            order = np.argsort(day, kind="stable")
            day, seller, buyer, goods = day[order], seller[order], buyer[order], goods[order]
            amount, quantity, carousel_info = amount[order], quantity[order], carousel_info[order]
        total = len(day)
        piece = context.goods_piece[goods]
        quantity = np.where(piece, np.maximum(1.0, np.round(quantity)), np.round(quantity, 3))
        vat_pct = context.vat_pct[goods]
        vat = np.round(amount * vat_pct / 100, 2)
        seller_slot = draw_index(self.slot_cum, rng.random(total))
        buyer_slot = draw_index(self.slot_cum, rng.random(total))
        goods_cells = context.goods_descriptions[goods, rng.integers(0, context.descriptions.shape[1], total)]

        order_by_seller = np.argsort(seller, kind="stable")
        sorted_seller = seller[order_by_seller]
        rank = np.arange(total) - np.searchsorted(sorted_seller, sorted_seller, side="left")
        number = np.empty(total, dtype=np.int64)
        number[order_by_seller] = self.counters[sorted_seller] + rank + 1
        self.counters += np.bincount(seller, minlength=len(self.counters))
        registration = [str(REGISTRATION_BASE + self.written + i + 1) for i in range(total)]
        self.written += total

        slots = len(COMPANY_VARIANT_WEIGHTS)
        self.totals.seller_mentions += np.bincount(
            seller * slots + seller_slot, minlength=len(self.totals.seller_mentions)
        )
        self.totals.buyer_mentions += np.bincount(buyer * slots + buyer_slot, minlength=len(self.totals.buyer_mentions))

        truth = []
        for row in np.flatnonzero(carousel_info[:, 0] >= 0).tolist():
            carousel_index, round_number, position = (int(v) for v in carousel_info[row])
            carousel = self.carousels[carousel_index]
            carousel.registration_numbers.append(registration[row])
            truth.append(
                [
                    registration[row],
                    "vat_carousel",
                    carousel.carousel_id,
                    str(round_number),
                    str(position + 1),
                    str(universe.company_codes[seller[row]]),
                    str(universe.company_codes[buyer[row]]),
                ]
            )
        self.totals.carousel_invoices += len(truth)

        columns = [
            registration,
            [str(value) for value in number.tolist()],
            context.day_text[day].tolist(),
            universe.company_cells[seller, seller_slot].tolist(),
            universe.company_cells[buyer, buyer_slot].tolist(),
            goods_cells.tolist(),
            [f"{v:.0f}" if whole else f"{v:.3f}" for v, whole in zip(quantity.tolist(), piece.tolist(), strict=True)],
            context.goods_unit[goods].tolist(),
            list(
                map(
                    "%.2f,%g,%.2f,%.2f".__mod__,
                    zip(amount.tolist(), vat_pct.tolist(), vat.tolist(), (amount + vat).tolist(), strict=True),
                )
            ),
        ]
        return columns, truth
