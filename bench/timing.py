"""Interleaved A-B-A-B timing: every candidate runs once per round, rounds alternate, and the
median of the rounds is reported, so drift on the machine hits all candidates alike."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    unit: str = "ms"
    values: dict[str, float] = field(default_factory=dict)  # candidate -> median
    extra: dict[str, str] = field(default_factory=dict)
    baseline: str | None = None
    candidate: str | None = None
    target: str = ""
    met: bool | None = None

    def ratio(self) -> float | None:
        if not self.baseline or not self.candidate:
            return None
        a, b = self.values.get(self.baseline), self.values.get(self.candidate)
        if not a or not b:
            return None
        return a / b if self.unit in ("ms", "s") else b / a


def median_ms(fn: Callable[[], object], *, inner: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) * 1000 / inner


def compare(
    candidates: dict[str, Callable[[], object]], *, rounds: int = 5, inner: int = 1, warmup: int = 1
) -> dict[str, float]:
    """Median milliseconds per call of each candidate, interleaved over `rounds`."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for round_ in range(rounds):
        order = list(candidates.items())
        if round_ % 2:
            order.reverse()
        for name, fn in order:
            samples[name].append(median_ms(fn, inner=inner))
    return {name: statistics.median(values) for name, values in samples.items()}
