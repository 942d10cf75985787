"""Small statistics helpers shared by the runner and the report."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for an empty sequence)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def median(values: Sequence[float]) -> float:
    """Median (0 for an empty sequence)."""
    return float(statistics.median(values)) if values else 0.0


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator`` rounded, or None when the denominator is zero."""
    if not denominator:
        return None
    return round(numerator / denominator, 3)
