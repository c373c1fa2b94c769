"""Parameters of one generator run and the population sizes derived from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Rows generated per chunk. Part of the determinism contract: the random streams are drawn per chunk.
CHUNK_ROWS = 50_000
SPLIT_THRESHOLD_EUR = 150.0

# How the declaration-level fraud budget (--fraud-rate) is shared between the planted schemes.
SCHEME_SHARES = {"under_invoicing": 0.35, "misclassification": 0.25, "split_shipment": 0.15, "shell_company": 0.25}


def _clamp(value: float, low: int, high: int) -> int:
    return int(min(max(round(value), low), high))


@dataclass(frozen=True)
class GeneratorConfig:
    rows: int
    seed: int
    fraud_rate: float = 0.03
    labelled_share: float = 0.3

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ValueError("rows must be at least 1")
        if not 0 <= self.fraud_rate <= 0.3:
            raise ValueError("fraud_rate must be between 0 and 0.3")
        if not 0 <= self.labelled_share <= 1:
            raise ValueError("labelled_share must be between 0 and 1")
        if self.seed < 0:
            raise ValueError("seed must be a non-negative integer")

    @property
    def invoice_rows(self) -> int:
        return max(200, self.rows // 4)

    @property
    def importers(self) -> int:
        return _clamp(self.rows / 70, 30, 40_000)

    @property
    def exporters(self) -> int:
        return _clamp(self.rows / 400, 10, 8_000)

    @property
    def brokers(self) -> int:
        return _clamp(self.rows / 15_000, 8, 300)

    @property
    def domestic_companies(self) -> int:
        return _clamp(self.rows / 150, 20, 20_000)

    @property
    def shells(self) -> int:
        return _clamp(self.rows / 12_000, 4, 400)

    @property
    def splitters(self) -> int:
        return _clamp(self.rows / 20_000, 3, 300)

    @property
    def foreign_companies(self) -> int:
        return _clamp(self.rows / 120, 60, 30_000)

    def stream(self, *key: int) -> np.random.Generator:
        """An independent random stream for one part of the run; the same key always gives the same numbers."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key)))


# Stream keys: one per part of the run, so adding draws to one part never shifts another.
STREAM_PARTIES = 1
STREAM_SCHEMES = 2
STREAM_DESCRIPTIONS = 3
STREAM_DECLARATIONS = 10
STREAM_INVOICES = 11
STREAM_REGISTRY = 12
STREAM_MIRROR = 13
