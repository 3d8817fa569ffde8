"""How codes spell what the audits need to know: here, time-gap codes and the days they stand for.

memaudit's own code style marks the time between visits with `TIME//` codes; each stands for a
range of days, and dEMD reads a code as the middle of its range."""

from __future__ import annotations

# memaudit's own time-gap codes: (code, lower bound in days, upper bound in days)
TIME_BINS: tuple[tuple[str, float, float], ...] = (
    ("TIME//<1w", 0.0, 7.0),
    ("TIME//1-4w", 7.0, 28.0),
    ("TIME//1-3m", 28.0, 91.0),
    ("TIME//3-6m", 91.0, 182.0),
    ("TIME//6-12m", 182.0, 365.0),
    ("TIME//>1y", 365.0, 730.0),
)
TIME_PREFIX = "TIME//"
_MIDPOINTS = {label: (low + high) / 2 for label, low, high in TIME_BINS}


def gap_days(code: str) -> float | None:
    """The days a time-gap code stands for (the middle of its range), or None for other codes."""
    return _MIDPOINTS.get(code)
