"""Reference data and parties turned into the flat arrays the vectorised row generators index into."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from apps.datasets.synthetic import reference
from apps.datasets.synthetic.config import STREAM_DESCRIPTIONS, GeneratorConfig
from apps.datasets.synthetic.draws import Draws
from apps.datasets.synthetic.parties import Universe
from apps.datasets.synthetic.writer import csv_escape

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

DESCRIPTIONS_PER_CODE = 24
# Units counted in whole pieces (the rest are measured with decimals).
PIECE_UNITS = frozenset({"шт", "пар"})

_MONTH_FACTOR = (0.8, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 1.05, 1.1, 1.1, 1.15)
_WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 0.97, 0.35, 0.1)
# Prices drift up about 0.4 % a month over the period.
MONTHLY_PRICE_DRIFT = 1.004


@dataclass(frozen=True)
class ProfileTable:
    """Per origin profile, its countries and their cumulative weights, padded to one width."""

    countries: IntArray  # [profiles, width]
    cumulative: FloatArray  # [profiles, width]

    def sample(self, profile: IntArray, uniforms: FloatArray) -> IntArray:
        position = (uniforms[:, None] >= self.cumulative[profile]).sum(axis=1)
        position = np.minimum(position, self.countries.shape[1] - 1)
        return np.asarray(self.countries[profile, position], dtype=np.int64)


def _profile_table(profiles: list[dict[str, float]]) -> ProfileTable:
    width = max(len(weights) for weights in profiles)
    countries = np.zeros((len(profiles), width), dtype=np.int64)
    cumulative = np.ones((len(profiles), width), dtype=np.float64)
    for row, weights in enumerate(profiles):
        isos = list(weights)
        values = np.array([weights[iso] for iso in isos], dtype=np.float64)
        running = np.cumsum(values) / values.sum()
        countries[row, : len(isos)] = [reference.COUNTRY_INDEX[iso] for iso in isos]
        countries[row, len(isos) :] = reference.COUNTRY_INDEX[isos[-1]]
        cumulative[row, : len(isos)] = running
    return ProfileTable(countries, cumulative)


def cumulative(weights: FloatArray) -> FloatArray:
    running = np.cumsum(weights)
    return np.asarray(running / running[-1], dtype=np.float64)


def draw_index(cumulative_weights: FloatArray, uniforms: FloatArray) -> IntArray:
    """Indices drawn with the probabilities whose running total is ``cumulative_weights``."""
    index = np.searchsorted(cumulative_weights, uniforms, side="right")
    return np.asarray(np.minimum(index, len(cumulative_weights) - 1), dtype=np.int64)


class Context:
    """Everything the row generators need, computed once per run."""

    def __init__(self, config: GeneratorConfig, universe: Universe) -> None:
        self.config = config
        self.universe = universe
        goods = reference.GOODS
        self.goods_code = np.array([g.code for g in goods], dtype=object)
        self.goods_unit = np.array([g.unit for g in goods], dtype=object)
        self.goods_piece = np.array([g.unit in PIECE_UNITS for g in goods], dtype=np.bool_)
        self.usd_per_kg = np.array([g.usd_per_kg for g in goods], dtype=np.float64)
        self.kg_per_unit = np.array([g.kg_per_unit for g in goods], dtype=np.float64)
        self.lot_kg = np.array([g.lot_kg for g in goods], dtype=np.float64)
        self.duty_pct = np.array([g.duty_pct for g in goods], dtype=np.float64)
        self.excise_eur = np.array([g.excise_eur_per_unit for g in goods], dtype=np.float64)
        self.vat_pct = np.array([g.vat_pct for g in goods], dtype=np.float64)
        self.export_duty_pct = np.array([reference.EXPORT_DUTY_PCT.get(g.code, 0.0) for g in goods])
        self.eu_preference_excluded = np.array(
            [g.chapter in reference.EU_PREFERENCE_EXCLUDED_CHAPTERS for g in goods], dtype=np.bool_
        )
        self.bulk = self.lot_kg >= 20_000
        profile_names = list(reference.ORIGIN_PROFILES)
        self.goods_profile = np.array([profile_names.index(g.profile) for g in goods], dtype=np.int64)
        self.profiles = _profile_table([reference.ORIGIN_PROFILES[name] for name in profile_names])
        hs6 = sorted({g.hs6 for g in goods})
        self.hs6_codes = hs6
        self.goods_hs6 = np.array([hs6.index(g.hs6) for g in goods], dtype=np.int64)

        countries = reference.COUNTRIES
        self.country_iso = np.array([c.iso for c in countries], dtype=object)
        self.country_eu = np.array([c.region == "EU" for c in countries], dtype=np.bool_)
        self.country_near = np.array([c.region in ("EU", "EUROPE") for c in countries], dtype=np.bool_)
        self.price_factor = np.array([c.price_factor for c in countries], dtype=np.float64)
        currency_cum = np.zeros((len(countries), len(reference.CURRENCIES)), dtype=np.float64)
        for row, country in enumerate(countries):
            weights = reference.currency_weights(country)
            values = np.array([weights.get(code, 0.0) for code in reference.CURRENCIES])
            currency_cum[row] = np.cumsum(values) / values.sum()
        self.currency_cum = currency_cum
        self.currency_code = np.array(reference.CURRENCIES, dtype=object)
        self.uah_rate = np.array(
            [[reference.uah_rate(code, month) for month in range(reference.PERIOD_MONTHS)]
             for code in reference.CURRENCIES],
            dtype=np.float64,
        )  # fmt: skip
        self.usd = reference.CURRENCY_INDEX["USD"]
        self.eur = reference.CURRENCY_INDEX["EUR"]
        self.price_drift = MONTHLY_PRICE_DRIFT ** np.arange(reference.PERIOD_MONTHS, dtype=np.float64)
        transit: dict[str, float] = {"PL": 40, "SK": 15, "HU": 15, "RO": 15, "LT": 10, "MD": 5}
        self.transit = _profile_table([transit])

        self.post_code = np.array([p.code for p in reference.CUSTOMS_POSTS], dtype=object)
        self.post_cells = np.array([f"{p.code},{csv_escape(p.name)}" for p in reference.CUSTOMS_POSTS], dtype=object)
        self.country_pairs = np.array(
            [[f"{first.iso},{second.iso}" for second in countries] for first in countries], dtype=object
        )
        self.mode_name = np.array([reference.TRANSPORT_MODES[m] for m in reference.MODE_KEYS], dtype=object)
        self.mode_posts = []
        self.mode_incoterms = []
        for mode in reference.MODE_KEYS:
            posts = reference.BORDER_POSTS_BY_MODE[mode]
            self.mode_posts.append(
                (np.array([reference.POST_INDEX[c] for c in posts]), cumulative(np.array(list(posts.values()), float)))
            )
            terms = reference.INCOTERMS_BY_MODE[mode]
            self.mode_incoterms.append(
                (
                    np.array([reference.INCOTERMS.index(t) for t in terms]),
                    cumulative(np.array(list(terms.values()), dtype=np.float64)),
                )
            )
        self.incoterm = np.array(reference.INCOTERMS, dtype=object)
        self.mode_incoterm = np.array(
            [[f"{self.mode_name[m]},{term}" for term in reference.INCOTERMS] for m in range(len(self.mode_name))],
            dtype=object,
        )
        self.uplift = np.array([reference.INCOTERM_UPLIFT[t] for t in reference.INCOTERMS], dtype=np.float64)

        self._build_days()
        self.descriptions = build_descriptions(config)
        self.goods_descriptions = np.array(
            [[f"{code},{text}" for text in row] for code, row in zip(self.goods_code, self.descriptions, strict=True)],
            dtype=object,
        )
        self._build_partner_pools()

    def _build_days(self) -> None:
        days = [reference.PERIOD_START + datetime.timedelta(days=d) for d in range(reference.PERIOD_DAYS)]
        weights = np.array(
            [
                _WEEKDAY_FACTOR[day.weekday()]
                * _MONTH_FACTOR[day.month - 1]
                * (1 + 0.12 * index / 365)
                * (0.2 if (day.month, day.day) == (1, 1) else 1.0)
                for index, day in enumerate(days)
            ],
            dtype=np.float64,
        )
        self.day_cumulative = cumulative(weights)
        self.day_text = np.array([day.strftime("%d.%m.%Y") for day in days], dtype=object)
        self.day_direction = np.array([[f"{text},ІМ", f"{text},ЕК"] for text in self.day_text], dtype=object)
        self.day_month = np.array(
            [(day.year - reference.PERIOD_START.year) * 12 + day.month - reference.PERIOD_START.month for day in days],
            dtype=np.int64,
        )
        self.day_year = np.array([day.year for day in days], dtype=np.int64)
        self.first_year = int(self.day_year.min())
        self.years = int(self.day_year.max()) - self.first_year + 1

    def days_for_rows(self, start: int, stop: int, total: int) -> IntArray:
        """The day of each row: rows are in date order, spread over the period with the daily volume profile."""
        quantiles = (np.arange(start, stop, dtype=np.float64) + 0.5) / total
        return draw_index(self.day_cumulative, quantiles)

    def _build_partner_pools(self) -> None:
        """For each goods code, the foreign companies in its origin countries (non-EU ones listed apart)."""
        foreign_country = self.universe.foreign_country
        self.partner_pool: list[IntArray] = []
        self.partner_pool_non_eu: list[IntArray] = []
        fallback = np.array([reference.COUNTRY_INDEX[iso] for iso in ("CN", "TR", "AE", "GE", "MD")], dtype=np.int64)
        for goods in reference.GOODS:
            countries = np.array([reference.COUNTRY_INDEX[iso] for iso in reference.ORIGIN_PROFILES[goods.profile]])
            pool = np.flatnonzero(np.isin(foreign_country, countries))
            non_eu = countries[~self.country_eu[countries]]
            non_eu_pool = np.flatnonzero(np.isin(foreign_country, non_eu if len(non_eu) else fallback))
            self.partner_pool.append(np.asarray(pool, dtype=np.int64))
            self.partner_pool_non_eu.append(np.asarray(non_eu_pool, dtype=np.int64))


_MODIFIERS_UK = (
    "в асортименті", "нові, не були у використанні", "у заводському пакуванні", "для подальшої реалізації",
    "торговельної марки «{tm}»", "арт. {art}", "виробник {maker}", "модель {art}", "згідно з інвойсом № {inv}",
    "код виробника {art}", "ТМ {tm}", "не для військового використання", "партія {inv}",
)  # fmt: skip
_MODIFIERS_RU = (
    "в ассортименте", "новые", "в заводской упаковке", "торговой марки «{tm}»", "арт. {art}",
    "производитель {maker}",
)  # fmt: skip
_SYLLABLES = ("nor", "dex", "el", "vi", "ra", "kro", "ft", "sol", "ma", "ter", "lux", "pro", "ven", "to", "ri",
              "ka", "zen", "tek", "ar", "mo", "lin", "sa", "bel", "ox", "fi", "no")  # fmt: skip


def build_descriptions(config: GeneratorConfig) -> ObjectArray:
    """Per goods code, the ways declarants describe the goods: wording, trade marks, article numbers, Russian."""
    draws = Draws(config.stream(STREAM_DESCRIPTIONS))
    pools = np.empty((len(reference.GOODS), DESCRIPTIONS_PER_CODE), dtype=object)

    def mark() -> str:
        word = "".join(draws.pick(_SYLLABLES) for _ in range(draws.integer(2, 3)))
        return word.capitalize() if draws.chance(0.7) else word.upper()

    def fill(template: str) -> str:
        return template.format(
            tm=mark(),
            art=f"{mark().upper()[:3]}-{draws.integer(100, 99999)}",
            maker=f"{mark()} {draws.pick(('Co., Ltd.', 'GmbH', 'S.r.l.', 'Ltd', 'Sp. z o.o.', 'A.Ş.'))}",
            inv=f"{draws.integer(1, 9999)}/{draws.integer(23, 25)}",
        )

    for row, goods in enumerate(reference.GOODS):
        for column in range(DESCRIPTIONS_PER_CODE):
            if draws.chance(0.1):
                text = goods.description_ru
                if draws.chance(0.7):
                    text = f"{text}, {fill(draws.pick(_MODIFIERS_RU))}"
            else:
                text = draws.pick(goods.descriptions_uk)
                style = draws.integer(0, 5)
                if style in (1, 2):
                    text = f"{text}, {fill(draws.pick(_MODIFIERS_UK))}"
                elif style == 3:
                    text = f"{text}: {fill(draws.pick(_MODIFIERS_UK))}, {fill(draws.pick(_MODIFIERS_UK))}"
                elif style == 4:
                    text = text.upper()
                elif style == 5:
                    text = f"{text} ({fill(draws.pick(_MODIFIERS_UK))})"
            pools[row, column] = csv_escape(text)
    return pools
