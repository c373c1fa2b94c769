"""Scalar random draws for the per-entity Python code, fast and reproducible.

A numpy Generator costs about a microsecond per scalar call; building a hundred thousand parties makes millions
of them. ``Draws`` takes uniforms from the generator in blocks and hands them out one by one, so each draw is a
list lookup. The sequence depends only on the generator's seed, so runs stay reproducible.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")
_BLOCK = 65_536


class Draws:
    def __init__(self, generator: np.random.Generator) -> None:
        self.generator = generator
        self._block: list[float] = []
        self._position = 0

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        if self._position >= len(self._block):
            self._block = self.generator.random(_BLOCK).tolist()
            self._position = 0
        value = self._block[self._position]
        self._position += 1
        return value

    def integer(self, low: int, high: int) -> int:
        """A uniform integer in [low, high]."""
        return low + int(self.random() * (high - low + 1))

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def weighted(self, cumulative: Sequence[float]) -> int:
        """An index drawn with the probabilities whose running total (ending at 1) is ``cumulative``."""
        return min(bisect.bisect_right(cumulative, self.random()), len(cumulative) - 1)

    def geometric(self, success: float) -> int:
        """Trials until the first success (1, 2, ...)."""
        return 1 + int(math.log(1.0 - self.random()) / math.log(1.0 - success))

    def lognormal(self, mean: float, sigma: float) -> float:
        # Box-Muller from two uniforms.
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
        return math.exp(mean + sigma * radius * math.cos(2.0 * math.pi * self.random()))

    def shares(self, count: int) -> list[int]:
        """``count`` positive whole percentages that add up to 100."""
        raw = [0.2 + self.random() for _ in range(count)]
        total = sum(raw)
        rounded = [max(1, round(100 * value / total)) for value in raw]
        rounded[0] += 100 - sum(rounded)
        return rounded
