"""Customs declarations, generated a chunk at a time with numpy and written as CSV columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from apps.datasets.synthetic import reference, schemes
from apps.datasets.synthetic.config import SPLIT_THRESHOLD_EUR, STREAM_DECLARATIONS
from apps.datasets.synthetic.context import Context, cumulative, draw_index
from apps.datasets.synthetic.parties import COMPANY_VARIANT_WEIGHTS, FOREIGN_VARIANT_WEIGHTS

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

HEADER = (
    "Номер декларації",
    "Дата оформлення",
    "Напрямок",
    "Код митного органу",
    "Митний орган",
    "Код декларанта",
    "Декларант",
    "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД",
    "Суб'єкт ЗЕД",
    "Іноземний контрагент",
    "Країна контрагента",
    "Країна походження",
    "Країна відправлення",
    "Код товару УКТЗЕД",
    "Опис товару",
    "Кількість",
    "Одиниця виміру",
    "Маса нетто, кг",
    "Маса брутто, кг",
    "Фактурна вартість",
    "Валюта",
    "Митна вартість, грн",
    "Мито, грн",
    "ПДВ, грн",
    "Акциз, грн",
    "Вид транспорту",
    "Умови поставки",
    "Виявлено порушення",
    "Донараховано, грн",
)

TRUTH_HEADER = (
    "declaration_number",
    "scheme",
    "group_id",
    "trader_entity_id",
    "trader_code",
    "declared_goods_code",
    "true_goods_code",
    "origin",
    "month",
    "declared_usd_per_kg",
    "reference_usd_per_kg",
    "value_factor",
    "invoice_value_eur",
)

# Mode probabilities (sea, rail, road) by partner distance and bulkiness of the goods.
_MODE_TABLE = np.cumsum(
    np.array(
        [
            [0.5, 0.15, 0.35],  # far, general cargo
            [0.75, 0.15, 0.1],  # far, bulk
            [0.08, 0.12, 0.8],  # Europe, general cargo
            [0.15, 0.4, 0.45],  # Europe, bulk
        ]
    ),
    axis=1,
)
_POST_MODE = reference.MODE_KEYS.index("post")
_UA = reference.COUNTRY_INDEX[reference.HOME_COUNTRY]


def _format(template: str, values: FloatArray) -> list[str]:
    return list(map(template.__mod__, values.tolist()))


@dataclass
class DeclarationTotals:
    """What the chunks add up to: mention counts for the ground truth, mirror sums, summary figures."""

    trader_mentions: IntArray
    declarant_mentions: IntArray
    partner_mentions: IntArray
    mirror_usd: FloatArray
    company_rows: IntArray
    company_first_day: IntArray
    company_last_day: IntArray
    scheme_rows: dict[str, int] = field(default_factory=dict)
    exports: int = 0
    labelled: int = 0
    fraud_found: int = 0
    fraud_found_on_schemes: int = 0
    revenue_uah: float = 0.0
    split_groups: int = 0


class DeclarationGenerator:
    def __init__(self, context: Context) -> None:
        self.context = context
        universe = context.universe
        self.companies = len(universe.companies)
        self.foreign = len(universe.foreign)
        self.importer_cum = cumulative(universe.importer_weights)
        self.exporter_cum = cumulative(universe.exporter_weights)
        dishonest = universe.dishonest[universe.importers]
        dishonest_share = float(universe.importer_weights[dishonest].sum() / universe.importer_weights.sum())
        self.rates = schemes.SchemeRates.for_run(
            fraud_rate=context.config.fraud_rate, dishonest_row_share=dishonest_share
        )
        # Shell rows can only fall on days some shell trades; raise their rate on those days to keep the total.
        days = np.arange(reference.PERIOD_DAYS)
        covered = (
            (universe.shell_start[None, :] <= days[:, None]) & (universe.shell_end[None, :] >= days[:, None])
        ).any(axis=1)
        volume = np.diff(context.day_cumulative, prepend=0.0)
        self.shell_rate = min(self.rates.shell / max(float(volume[covered].sum()), 1e-9), 0.5)
        self.company_slot_cum = cumulative(np.array(COMPANY_VARIANT_WEIGHTS))
        self.foreign_slot_cum = cumulative(np.array(FOREIGN_VARIANT_WEIGHTS))
        self.counters = np.zeros(len(reference.CUSTOMS_POSTS) * context.years, dtype=np.int64)
        pairs = reference.MISCLASSIFICATION_PAIRS
        self.pair_true = np.array([reference.GOODS_INDEX[a] for a, _b in pairs], dtype=np.int64)
        self.pair_declared = np.array([reference.GOODS_INDEX[b] for _a, b in pairs], dtype=np.int64)
        self.small_goods = np.array([reference.GOODS_INDEX[c] for c in reference.SMALL_CONSIGNMENT_CODES])
        cells = len(reference.COUNTRIES) * len(context.hs6_codes) * reference.PERIOD_MONTHS
        self.totals = DeclarationTotals(
            trader_mentions=np.zeros(self.companies * len(COMPANY_VARIANT_WEIGHTS), dtype=np.int64),
            declarant_mentions=np.zeros(self.companies * len(COMPANY_VARIANT_WEIGHTS), dtype=np.int64),
            partner_mentions=np.zeros(self.foreign * len(FOREIGN_VARIANT_WEIGHTS), dtype=np.int64),
            mirror_usd=np.zeros(cells, dtype=np.float64),
            company_rows=np.zeros(self.companies, dtype=np.int64),
            company_first_day=np.full(self.companies, reference.PERIOD_DAYS, dtype=np.int64),
            company_last_day=np.full(self.companies, -1, dtype=np.int64),
            scheme_rows=dict.fromkeys(schemes.SCHEME_NAMES.values(), 0),
        )

    def _partners_for(self, rng: np.random.Generator, goods: IntArray, *, non_eu: bool = False) -> IntArray:
        pools = self.context.partner_pool_non_eu if non_eu else self.context.partner_pool
        out = np.empty(len(goods), dtype=np.int64)
        draws = rng.random(len(goods))
        for position, (item, draw) in enumerate(zip(goods.tolist(), draws.tolist(), strict=True)):
            pool = pools[item]
            out[position] = pool[int(draw * len(pool))]
        return out

    def chunk(self, index: int, start: int, stop: int) -> tuple[list[list[str]], list[list[str]]]:
        """The CSV columns of rows [start, stop), and the ground-truth rows of the schemed ones among them."""
        context = self.context
        universe = context.universe
        config = context.config
        rng = config.stream(STREAM_DECLARATIONS, index)
        n = stop - start
        day = context.days_for_rows(start, stop, config.rows)
        export = rng.random(n) < schemes.EXPORT_SHARE
        scheme = np.zeros(n, dtype=np.int8)
        group = np.full(n, -1, dtype=np.int64)
        small = np.zeros(n, dtype=np.bool_)
        value_eur = np.zeros(n, dtype=np.float64)

        trader = np.empty(n, dtype=np.int64)
        imports = ~export
        trader[imports] = universe.importers[draw_index(self.importer_cum, rng.random(int(imports.sum())))]
        trader[export] = universe.exporters[draw_index(self.exporter_cum, rng.random(int(export.sum())))]
        entry = (rng.random(n) * universe.portfolio_size[trader]).astype(np.int64)
        goods = universe.portfolio_goods[trader, entry]
        partner = universe.portfolio_partner[trader, entry]

        self._plant_split_groups(rng, n, day, export, scheme, group, small, value_eur, trader, goods, partner)
        imports = ~export
        eligible = imports & (scheme == schemes.NONE)
        multiplier = np.where(universe.dishonest[trader], self.rates.dishonest_multiplier, self.rates.honest_multiplier)
        p_under = np.minimum(self.rates.under * multiplier, 0.8)
        p_mis = np.minimum(self.rates.misclassification * multiplier, 0.8)
        draw = rng.random(n)
        shell_rows = eligible & (draw < self.shell_rate)
        # Under-invoicing pays only where value is taxed (no duty and no VAT on electric cars in 2023-2025).
        taxed = context.vat_pct[goods] > 0
        under_rows = eligible & taxed & ~shell_rows & (draw < self.shell_rate + p_under)
        mis_rows = eligible & ~shell_rows & ~under_rows & (draw < self.shell_rate + p_under + p_mis)
        self._plant_shell_rows(rng, np.flatnonzero(shell_rows), day, scheme, group, trader, goods, partner)
        scheme[under_rows] = schemes.UNDER_INVOICING
        declared_goods = goods.copy()
        mis = np.flatnonzero(mis_rows)
        if len(mis):
            pair = rng.integers(0, len(self.pair_true), len(mis))
            goods[mis] = self.pair_true[pair]
            declared_goods[mis] = self.pair_declared[pair]
            partner[mis] = self._partners_for(rng, goods[mis], non_eu=True)
            scheme[mis] = schemes.MISCLASSIFICATION

        legit_small = np.flatnonzero(
            ~export & (scheme == schemes.NONE) & (rng.random(n) < schemes.SMALL_CONSIGNMENT_SHARE)
        )
        if len(legit_small):
            trader[legit_small] = universe.importers[rng.integers(0, len(universe.importers), len(legit_small))]
            goods[legit_small] = self.small_goods[rng.integers(0, len(self.small_goods), len(legit_small))]
            declared_goods[legit_small] = goods[legit_small]
            partner[legit_small] = self._partners_for(rng, goods[legit_small])
            small[legit_small] = True
            value_eur[legit_small] = rng.uniform(*schemes.SMALL_CONSIGNMENT_EUR, len(legit_small))

        month = context.day_month[day]
        partner_country = universe.foreign_country[partner]
        origin = partner_country.copy()
        reorigin = imports & (scheme != schemes.MISCLASSIFICATION) & (rng.random(n) < 0.2)
        origin[reorigin] = context.profiles.sample(
            context.goods_profile[goods[reorigin]], rng.random(int(reorigin.sum()))
        )
        origin[export] = _UA

        near = context.country_near[partner_country]
        mode_class = near.astype(np.int64) * 2 + context.bulk[goods].astype(np.int64)
        mode = np.minimum((rng.random(n)[:, None] >= _MODE_TABLE[mode_class]).sum(axis=1), 2)
        mode[small] = _POST_MODE
        departure = partner_country.copy()
        overland = imports & ~near & ((mode == 1) | (mode == 2))
        departure[overland] = context.transit.sample(
            np.zeros(int(overland.sum()), dtype=np.int64), rng.random(int(overland.sum()))
        )
        departure[export] = _UA

        border_post = np.empty(n, dtype=np.int64)
        incoterm = np.empty(n, dtype=np.int64)
        for mode_index in range(len(reference.MODE_KEYS)):
            rows = np.flatnonzero(mode == mode_index)
            posts, post_cum = context.mode_posts[mode_index]
            border_post[rows] = posts[draw_index(post_cum, rng.random(len(rows)))]
            terms, term_cum = context.mode_incoterms[mode_index]
            incoterm[rows] = terms[draw_index(term_cum, rng.random(len(rows)))]
        home = (rng.random(n) < schemes.HOME_POST_SHARE) & (mode != _POST_MODE)
        post = np.where(home, universe.home_post[trader], border_post)
        split_rows = np.flatnonzero(scheme == schemes.SPLIT_SHIPMENT)
        if len(split_rows):
            # A split shipment is cleared at one post: the first part's.
            group_ids, first = np.unique(group[split_rows], return_index=True)
            first_post = post[split_rows[first]]
            post[split_rows] = first_post[np.searchsorted(group_ids, group[split_rows])]

        # Quantities, masses and values.
        kg_per_unit = context.kg_per_unit[goods]
        units = context.lot_kg[goods] * rng.lognormal(0.0, 0.8, n) / kg_per_unit
        piece = context.goods_piece[goods]
        units = np.where(piece, np.maximum(1.0, np.round(units)), units)
        weighed = context.goods_unit[goods] != "кг"
        net = units * kg_per_unit * np.where(weighed, rng.uniform(0.97, 1.03, n), 1.0)
        price = (
            context.usd_per_kg[goods]
            * context.price_factor[origin]
            * context.price_drift[month]
            * rng.lognormal(0.0, 0.22, n)
        )
        factor = np.ones(n, dtype=np.float64)
        under = scheme == schemes.UNDER_INVOICING
        factor[under] = rng.uniform(*schemes.UNDER_INVOICING_FACTOR, n)[under]
        shell = scheme == schemes.SHELL_COMPANY
        factor[shell] = rng.uniform(*schemes.SHELL_COMPANY_FACTOR, n)[shell]
        discount = imports & (scheme == schemes.NONE) & ~small & (rng.random(n) < schemes.DISCOUNT_SHARE)
        factor[discount] = rng.uniform(*schemes.DISCOUNT_FACTOR, n)[discount]

        rate_usd = context.uah_rate[context.usd, month]
        rate_eur = context.uah_rate[context.eur, month]
        true_usd = net * price
        small_usd = value_eur * rate_eur / rate_usd
        net = np.where(small, np.maximum(small_usd / price, 0.05), net)
        true_usd = np.where(small, small_usd, true_usd)
        declared_usd = true_usd * factor
        net = np.round(net, 3)
        gross = np.round(net * rng.uniform(1.02, 1.12, n), 3)

        declared_kg_per_unit = context.kg_per_unit[declared_goods]
        quantity = net / declared_kg_per_unit
        declared_piece = context.goods_piece[declared_goods]
        quantity = np.where(declared_piece, np.maximum(1.0, np.round(quantity)), np.round(quantity, 3))

        currency = np.minimum(
            (rng.random(n)[:, None] >= context.currency_cum[partner_country]).sum(axis=1),
            len(reference.CURRENCIES) - 1,
        )
        currency[small] = context.eur
        rate = context.uah_rate[currency, month]
        invoice = np.round(np.where(small, value_eur, declared_usd * rate_usd / rate), 2)
        customs_value = np.round(invoice * rate * (1 + context.uplift[incoterm]), 2)

        eu_free = context.country_eu[origin] & ~context.eu_preference_excluded[declared_goods]
        duty_pct = np.where(imports & ~eu_free & ~small, context.duty_pct[declared_goods], 0.0)
        duty_pct = np.where(export, context.export_duty_pct[declared_goods], duty_pct)
        duty = np.round(customs_value * duty_pct / 100, 2)
        excise = np.where(imports & ~small, np.round(quantity * context.excise_eur[declared_goods] * rate_eur, 2), 0.0)
        vat_pct = np.where(imports & ~small, context.vat_pct[declared_goods], 0.0)
        vat = np.round((customs_value + duty + excise) * vat_pct / 100, 2)

        labelled = rng.random(n) < config.labelled_share
        true_duty_pct = np.where(eu_free, 0.0, context.duty_pct[goods])
        true_quantity = np.where(piece, units, net / kg_per_unit)
        outcome = schemes.inspection_outcome(
            rng,
            scheme=scheme,
            dishonest=universe.dishonest[trader],
            customs_value=customs_value,
            value_factor=factor,
            duty_pct_declared=duty_pct,
            duty_pct_true=true_duty_pct,
            excise_declared=excise,
            excise_true=true_quantity * context.excise_eur[goods] * rate_eur,
            vat_pct=context.vat_pct[goods],
        )

        # Parties as written: spelling variants drawn per row.
        trader_slot = draw_index(self.company_slot_cum, rng.random(n))
        self_declared = rng.random(n) < schemes.SELF_DECLARED_SHARE
        declarant = np.where(
            self_declared, trader, universe.broker_preference[trader, (rng.random(n) < 0.3).astype(np.int64)]
        )
        declarant_slot = draw_index(self.company_slot_cum, rng.random(n))
        partner_slot = draw_index(self.foreign_slot_cum, rng.random(n))
        description_slot = rng.integers(0, context.descriptions.shape[1], n)

        numbers = self._numbers(day, post)
        self._accumulate(
            trader, trader_slot, declarant, declarant_slot, partner, partner_slot, day, export, origin, goods,
            month, true_usd, scheme, labelled, outcome,
        )  # fmt: skip

        # Neighbouring fields are formatted or looked up together: fewer, longer pieces join much faster.
        outcome_cells = [","] * n
        verdicts = np.where(outcome.fraud_found, "так,", "ні,")
        for row, verdict, revenue in zip(
            np.flatnonzero(labelled).tolist(),
            verdicts[labelled].tolist(),
            _format("%.2f", outcome.revenue[labelled]),
            strict=True,
        ):
            outcome_cells[row] = verdict + revenue
        unit = context.goods_unit[declared_goods].tolist()
        quantity_cells = [
            f"{value:.0f},{name}" if whole else f"{value:.3f},{name}"
            for value, name, whole in zip(quantity.tolist(), unit, declared_piece.tolist(), strict=True)
        ]
        goods_cells = context.goods_descriptions[goods, description_slot]
        misdeclared = np.flatnonzero(declared_goods != goods)
        goods_cells[misdeclared] = [
            f"{context.goods_code[d]},{context.descriptions[g, slot]}"
            for d, g, slot in zip(
                declared_goods[misdeclared].tolist(), goods[misdeclared].tolist(),
                description_slot[misdeclared].tolist(), strict=True,
            )
        ]  # fmt: skip
        columns = [
            numbers,
            context.day_direction[day, export.astype(np.int64)].tolist(),
            context.post_cells[post].tolist(),
            universe.company_cells[declarant, declarant_slot].tolist(),
            universe.company_cells[trader, trader_slot].tolist(),
            universe.foreign_cells[partner, partner_slot].tolist(),
            context.country_pairs[origin, departure].tolist(),
            goods_cells.tolist(),
            quantity_cells,
            list(map("%.3f,%.3f".__mod__, zip(net.tolist(), gross.tolist(), strict=True))),
            list(map("%.2f,%s".__mod__, zip(invoice.tolist(), context.currency_code[currency].tolist(), strict=True))),
            list(
                map(
                    "%.2f,%.2f,%.2f,%.2f".__mod__,
                    zip(customs_value.tolist(), duty.tolist(), vat.tolist(), excise.tolist(), strict=True),
                )
            ),
            context.mode_incoterm[mode, incoterm].tolist(),
            outcome_cells,
        ]
        truth = self._truth_rows(
            numbers, scheme, group, trader, declared_goods, goods, origin, month, declared_usd, net, factor,
            rate_usd, rate_eur,
        )  # fmt: skip
        return columns, truth

    def _plant_split_groups(
        self,
        rng: np.random.Generator,
        n: int,
        day: IntArray,
        export: npt.NDArray[np.bool_],
        scheme: npt.NDArray[np.int8],
        group: IntArray,
        small: npt.NDArray[np.bool_],
        value_eur: FloatArray,
        trader: IntArray,
        goods: IntArray,
        partner: IntArray,
    ) -> None:
        """Groups of 3-6 consecutive rows: one splitter, one goods code, one partner, one day, each under 150 EUR."""
        universe = self.context.universe
        slots = n // 8
        expected = n * self.rates.split_groups_per_row
        count = min(int(expected) + int(rng.random() < expected % 1), slots)
        if not count or not len(universe.splitters):
            return
        chosen = np.sort(rng.choice(slots, size=count, replace=False))
        low, high = schemes.SPLIT_PARTS
        parts = rng.integers(low, high + 1, count)
        starts = chosen * 8 + (rng.random(count) * (8 - parts + 1)).astype(np.int64)
        group_trader = universe.splitters[rng.integers(0, len(universe.splitters), count)]
        group_goods = self.small_goods[rng.integers(0, len(self.small_goods), count)]
        group_partner = self._partners_for(rng, group_goods)
        shares = rng.uniform(*schemes.SPLIT_SHARE_OF_THRESHOLD, (count, high))
        for position in range(count):
            first = int(starts[position])
            rows = slice(first, first + int(parts[position]))
            export[rows] = False
            scheme[rows] = schemes.SPLIT_SHIPMENT
            group[rows] = self.totals.split_groups
            small[rows] = True
            trader[rows] = group_trader[position]
            goods[rows] = group_goods[position]
            partner[rows] = group_partner[position]
            day[rows] = day[first]
            value_eur[rows] = np.floor(shares[position, : int(parts[position])] * SPLIT_THRESHOLD_EUR * 100) / 100
            self.totals.split_groups += 1

    def _plant_shell_rows(
        self,
        rng: np.random.Generator,
        rows: IntArray,
        day: IntArray,
        scheme: npt.NDArray[np.int8],
        group: IntArray,
        trader: IntArray,
        goods: IntArray,
        partner: IntArray,
    ) -> None:
        """Give these rows to a shell company trading on that day, weighted by the shells' appetite."""
        universe = self.context.universe
        if not len(rows) or not len(universe.shells):
            return
        row_day = day[rows][:, None]
        active = (universe.shell_start[None, :] <= row_day) & (universe.shell_end[None, :] >= row_day)
        weights = active * universe.shell_weights[None, :]
        total = weights.sum(axis=1)
        keep = total > 0
        rows, weights, total = rows[keep], weights[keep], total[keep]
        if not len(rows):
            return
        running = np.cumsum(weights, axis=1) / total[:, None]
        choice = np.minimum((rng.random(len(rows))[:, None] >= running).sum(axis=1), len(universe.shells) - 1)
        shell = universe.shells[choice]
        entry = (rng.random(len(rows)) * universe.portfolio_size[shell]).astype(np.int64)
        trader[rows] = shell
        goods[rows] = universe.portfolio_goods[shell, entry]
        partner[rows] = universe.portfolio_partner[shell, entry]
        scheme[rows] = schemes.SHELL_COMPANY
        group[rows] = shell

    def _numbers(self, day: IntArray, post: IntArray) -> list[str]:
        """Declaration numbers UA<post>/<year>/<sequence>, the sequence running per post and year in date order."""
        context = self.context
        year = context.day_year[day]
        key = post * context.years + (year - context.first_year)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        rank = np.arange(len(key)) - np.searchsorted(sorted_key, sorted_key, side="left")
        sequence = np.empty(len(key), dtype=np.int64)
        sequence[order] = self.counters[sorted_key] + rank + 1
        self.counters += np.bincount(key, minlength=len(self.counters))
        return [
            f"{code}/{y}/{s:06d}"
            for code, y, s in zip(context.post_code[post].tolist(), year.tolist(), sequence.tolist(), strict=True)
        ]

    def _accumulate(
        self,
        trader: IntArray,
        trader_slot: IntArray,
        declarant: IntArray,
        declarant_slot: IntArray,
        partner: IntArray,
        partner_slot: IntArray,
        day: IntArray,
        export: npt.NDArray[np.bool_],
        origin: IntArray,
        goods: IntArray,
        month: IntArray,
        true_usd: FloatArray,
        scheme: npt.NDArray[np.int8],
        labelled: npt.NDArray[np.bool_],
        outcome: schemes.Outcome,
    ) -> None:
        totals = self.totals
        company_slots = len(COMPANY_VARIANT_WEIGHTS)
        totals.trader_mentions += np.bincount(
            trader * company_slots + trader_slot, minlength=len(totals.trader_mentions)
        )
        totals.declarant_mentions += np.bincount(
            declarant * company_slots + declarant_slot, minlength=len(totals.declarant_mentions)
        )
        totals.partner_mentions += np.bincount(
            partner * len(FOREIGN_VARIANT_WEIGHTS) + partner_slot, minlength=len(totals.partner_mentions)
        )
        totals.company_rows += np.bincount(trader, minlength=self.companies)
        np.minimum.at(totals.company_first_day, trader, day)
        np.maximum.at(totals.company_last_day, trader, day)
        imports = ~export
        hs6 = self.context.goods_hs6[goods]
        cell = (origin * len(self.context.hs6_codes) + hs6) * reference.PERIOD_MONTHS + month
        totals.mirror_usd += np.bincount(cell[imports], weights=true_usd[imports], minlength=len(totals.mirror_usd))
        for code, name in schemes.SCHEME_NAMES.items():
            totals.scheme_rows[name] += int((scheme == code).sum())
        totals.exports += int(export.sum())
        totals.labelled += int(labelled.sum())
        found = labelled & outcome.fraud_found
        totals.fraud_found += int(found.sum())
        totals.fraud_found_on_schemes += int((found & (scheme != schemes.NONE)).sum())
        totals.revenue_uah += float(outcome.revenue[labelled].sum())

    def _truth_rows(
        self,
        numbers: list[str],
        scheme: npt.NDArray[np.int8],
        group: IntArray,
        trader: IntArray,
        declared_goods: IntArray,
        goods: IntArray,
        origin: IntArray,
        month: IntArray,
        declared_usd: FloatArray,
        net: FloatArray,
        factor: FloatArray,
        rate_usd: FloatArray,
        rate_eur: FloatArray,
    ) -> list[list[str]]:
        context = self.context
        universe = context.universe
        rows = np.flatnonzero(scheme != schemes.NONE)
        reference_price = context.usd_per_kg[goods] * context.price_factor[origin] * context.price_drift[month]
        eur = declared_usd * rate_usd / rate_eur
        out = []
        for row in rows.tolist():
            code = int(scheme[row])
            if code == schemes.SPLIT_SHIPMENT:
                group_id = f"SPLIT-{int(group[row]) + 1:06d}"
            elif code == schemes.SHELL_COMPANY:
                group_id = universe.companies[int(group[row])].entity_id
            else:
                group_id = ""
            company = universe.companies[int(trader[row])]
            out.append(
                [
                    numbers[row],
                    schemes.SCHEME_NAMES[code],
                    group_id,
                    company.entity_id,
                    company.code,
                    str(context.goods_code[declared_goods[row]]),
                    str(context.goods_code[goods[row]]),
                    str(context.country_iso[origin[row]]),
                    _month_text(int(month[row])),
                    f"{declared_usd[row] / max(net[row], 1e-9):.4f}",
                    f"{reference_price[row]:.4f}",
                    f"{factor[row]:.3f}",
                    f"{eur[row]:.2f}",
                ]
            )
        return out


def _month_text(month: int) -> str:
    absolute = reference.PERIOD_START.month - 1 + month
    return f"{reference.PERIOD_START.year + absolute // 12}-{absolute % 12 + 1:02d}"
