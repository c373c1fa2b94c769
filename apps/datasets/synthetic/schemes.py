"""The planted fraud schemes: their parameters, and the inspection outcomes they lead to.

Declaration-level schemes (one code per row): under-invoicing, goods-code misclassification, split shipments
and shell-company imports. Invoice-level: VAT carousels (cycles of tax invoices). Aggregate: mirror
mismatches (a partner country reports far more exports to Ukraine than Ukraine declared as imports).
docs/synthetic-data.md describes each; the constants here are the numbers it quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from apps.datasets.synthetic.config import SCHEME_SHARES, SPLIT_THRESHOLD_EUR

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NONE = 0
UNDER_INVOICING = 1
MISCLASSIFICATION = 2
SPLIT_SHIPMENT = 3
SHELL_COMPANY = 4
SCHEME_NAMES = {
    UNDER_INVOICING: "under_invoicing",
    MISCLASSIFICATION: "misclassification",
    SPLIT_SHIPMENT: "split_shipment",
    SHELL_COMPANY: "shell_company",
}

# Share of declarations that are exports.
EXPORT_SHARE = 0.28
# Declared value as a share of the true value.
UNDER_INVOICING_FACTOR = (0.15, 0.45)
SHELL_COMPANY_FACTOR = (0.45, 0.75)
# Honest noise: a few genuine clearance sales and discounts sit low too, without any fraud.
DISCOUNT_SHARE = 0.004
DISCOUNT_FACTOR = (0.5, 0.75)
# Split shipments: 3-6 postal declarations, same trader, goods, partner and day, each just under the limit.
SPLIT_PARTS = (3, 6)
SPLIT_MEAN_PARTS = 4.5
SPLIT_SHARE_OF_THRESHOLD = (0.78, 0.995)
# Honest postal consignments under the limit, one at a time.
SMALL_CONSIGNMENT_SHARE = 0.01
SMALL_CONSIGNMENT_EUR = (15.0, SPLIT_THRESHOLD_EUR - 1)
# Planted declaration fraud is committed mostly by the traders flagged dishonest (10 % of importers).
DISHONEST_SHARE_OF_SCHEMES = 0.8
# Partner companies that declare their own goods (no broker).
SELF_DECLARED_SHARE = 0.15
# Rows cleared at the trader's home (inland) post rather than at the border.
HOME_POST_SHARE = 0.55

# Probability that an inspection of a row finds the fraud, by scheme; the rest is noise.
FRAUD_FOUND_PROBABILITY = {
    NONE: 0.004,
    UNDER_INVOICING: 0.88,
    MISCLASSIFICATION: 0.85,
    SPLIT_SHIPMENT: 0.8,
    SHELL_COMPANY: 0.75,
}
DISHONEST_NOISE = 0.02  # extra chance of a (real, unplanted) finding at a dishonest trader
NOISE_REVENUE_SHARE = (0.02, 0.12)  # additional revenue of an unplanted finding, share of the customs value
RECOVERY_SHARE = (0.7, 1.0)  # inspectors recover this share of the evaded payments

# VAT carousels.
CAROUSEL_MEMBERS = (3, 5)
CAROUSEL_ROUNDS = (2, 4)
CAROUSEL_MARKUP = (0.01, 0.03)  # each company in the ring resells at a small markup

# Mirror mismatches: share of (partner country, HS6, month) cells with enough trade that get inflated.
MIRROR_MIN_USD = 50_000.0
MIRROR_PLANTED_SHARE = 0.03
MIRROR_PLANTED_RATIO = (1.8, 3.5)
MIRROR_NOISE = (0.93, 1.07)


@dataclass(frozen=True)
class SchemeRates:
    """Per-row probabilities, on import rows, that give the requested share of all rows."""

    shell: float
    under: float
    misclassification: float
    split_groups_per_row: float
    dishonest_multiplier: float
    honest_multiplier: float

    @classmethod
    def for_run(cls, *, fraud_rate: float, dishonest_row_share: float) -> SchemeRates:
        import_share = 1 - EXPORT_SHARE
        dishonest_row_share = min(max(dishonest_row_share, 1e-6), 1 - 1e-6)
        return cls(
            shell=fraud_rate * SCHEME_SHARES["shell_company"] / import_share,
            under=fraud_rate * SCHEME_SHARES["under_invoicing"] / import_share,
            misclassification=fraud_rate * SCHEME_SHARES["misclassification"] / import_share,
            split_groups_per_row=fraud_rate * SCHEME_SHARES["split_shipment"] / SPLIT_MEAN_PARTS,
            dishonest_multiplier=DISHONEST_SHARE_OF_SCHEMES / dishonest_row_share,
            honest_multiplier=(1 - DISHONEST_SHARE_OF_SCHEMES) / (1 - dishonest_row_share),
        )


@dataclass(frozen=True)
class Outcome:
    fraud_found: BoolArray
    revenue: FloatArray


def inspection_outcome(
    rng: np.random.Generator,
    *,
    scheme: npt.NDArray[np.int8],
    dishonest: BoolArray,
    customs_value: FloatArray,
    value_factor: FloatArray,
    duty_pct_declared: FloatArray,
    duty_pct_true: FloatArray,
    excise_declared: FloatArray,
    excise_true: FloatArray,
    vat_pct: FloatArray,
) -> Outcome:
    """Whether an inspection of each row finds fraud, and the additional revenue (UAH) it assesses."""
    probability = np.full(len(scheme), FRAUD_FOUND_PROBABILITY[NONE]) + DISHONEST_NOISE * dishonest
    for code, value in FRAUD_FOUND_PROBABILITY.items():
        if code != NONE:
            probability[scheme == code] = value
    found = rng.random(len(scheme)) < probability

    vat = vat_pct / 100
    duty_true = duty_pct_true / 100
    duty_declared = duty_pct_declared / 100
    hidden_value = customs_value * (1 / value_factor - 1)
    evaded = np.zeros(len(scheme), dtype=np.float64)
    undervalued = (scheme == UNDER_INVOICING) | (scheme == SHELL_COMPANY)
    evaded[undervalued] = (hidden_value * (duty_declared + vat * (1 + duty_declared)))[undervalued]
    misclassified = scheme == MISCLASSIFICATION
    duty_gap = customs_value * (duty_true - duty_declared) + (excise_true - excise_declared)
    evaded[misclassified] = (duty_gap * (1 + vat))[misclassified]
    split = scheme == SPLIT_SHIPMENT
    evaded[split] = (customs_value * (duty_true + vat * (1 + duty_true)))[split]
    noise = scheme == NONE
    evaded[noise] = customs_value[noise] * rng.uniform(*NOISE_REVENUE_SHARE, size=int(noise.sum()))
    revenue = np.where(found, np.round(np.maximum(evaded, 0) * rng.uniform(*RECOVERY_SHARE, len(scheme)), 2), 0.0)
    return Outcome(found, np.asarray(revenue, dtype=np.float64))
