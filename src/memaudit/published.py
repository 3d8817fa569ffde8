"""What leaves the run directory for a model registry or a model card: headline figures, and the
small-cell rule for counts of patients."""

from __future__ import annotations

from dataclasses import dataclass

SMALL_CELL = (
    11  # counts of 1 to 10 patients are not printed (the small-cell rule of US public-health releases)
)


@dataclass(frozen=True)
class Headline:
    """One number a test publishes: logged to MLflow as `memaudit.<test>.<key>`; a rate (`rate`)
    also becomes a model card's evaluation result, a count never does."""

    key: str
    label: str
    value: float
    rate: bool = True


def patients(n: int) -> str:
    """A count of patients as a published text may print it."""
    return f"fewer than {SMALL_CELL}" if 0 < n < SMALL_CELL else str(n)
