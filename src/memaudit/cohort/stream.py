"""What the model's token stream looked like: a configurable recipe from MEDS rows to a timeline.

Real EHR foundation-model stacks do not feed raw MEDS rows to the model. Some drop static rows
(time = null), some rewrite (code, numeric_value) into binned codes such as `LAB//50912//Q3`, and
many insert derived codes: an age band at the first event and a time-gap code between events.
The audit must prompt the model in the model's own language, so the recipe (config `cohort:`)
rebuilds that stream from MEDS. Example, with age and time gaps on:

    rows  [(null, GENDER//F), (1950-03-01, MEDS_BIRTH), (2020-01-01, I10), (2020-03-01, E11.9)]
    →     [GENDER//F, AGE//65-69, I10, TIME//1-3m, E11.9]    (header of 2: GENDER//F, AGE//65-69)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config.sections import AgeRecipe, Cohort, TimeGapRecipe
from ..hooks import load_hook

US_PER_DAY = 86_400e6


def age_code(recipe: AgeRecipe, age_years: float) -> str:
    """The age-band code of an age: band_years 5 and 67.3 years give `AGE//65-69`."""
    low = int(age_years // recipe.band_years * recipe.band_years)
    return f"{recipe.prefix}{low}-{low + recipe.band_years - 1}"


def gap_code(recipe: TimeGapRecipe, gap_days: float) -> str | None:
    """The time-gap code of a gap, or None for a gap shorter than `min_days` (one visit)."""
    if gap_days < recipe.min_days:
        return None
    return next((label for label, upper in recipe.bins if gap_days < upper), recipe.bins[-1][0])


@dataclass(frozen=True)
class StreamRecipe:
    """Config `cohort:` with its hook imported: build it once, before any model loads, so a bad
    hook is refused first."""

    static_rows: str = "keep"
    event_to_code: Callable[[str, float | None], str | None] | None = None
    age: AgeRecipe | None = None
    time_gaps: TimeGapRecipe | None = None
    table: Path | None = None  # the stack's own streams (cohort.stream_table): no rebuilding

    @property
    def is_identity(self) -> bool:
        return (
            self.event_to_code is None and self.age is None and self.time_gaps is None and self.table is None
        )

    @classmethod
    def from_config(cls, section: Cohort | Mapping[str, Any]) -> StreamRecipe:
        section = Cohort.parse(section, "cohort")
        hook = section.event_to_code
        return cls(
            section.static_rows,
            load_hook(hook, "cohort.event_to_code") if hook else None,
            section.derive_age,
            section.derive_time_gaps,
            Path(section.stream_table) if section.stream_table else None,
        )

    def describe(self) -> dict[str, Any]:
        if self.table is not None:
            return {"stream_table": str(self.table)}
        return {
            "static_rows": self.static_rows,
            "event_to_code": self.event_to_code is not None,
            "derived_age": None
            if self.age is None
            else {"from": self.age.birth_code, "prefix": self.age.prefix, "band_years": self.age.band_years},
            "derived_time_gaps": None
            if self.time_gaps is None
            else {"min_days": self.time_gaps.min_days, "bins": [list(b) for b in self.time_gaps.bins]},
        }


def build_stream(
    times_us: Sequence[int | None], codes: Sequence[str], values: Sequence[float | None], recipe: StreamRecipe
) -> tuple[list[str], np.ndarray, int, int]:
    """One subject's rows (in MEDS order) → (codes, days since the first timed event, number of
    leading static-row codes, number of leading header codes: static rows plus a derived age)."""
    static: list[str] = []
    timed: list[tuple[int, str]] = []
    birth: int | None = None
    for t, code, value in zip(times_us, codes, values):
        if recipe.age is not None and code == recipe.age.birth_code:
            birth = t if t is not None else birth
            continue
        if recipe.event_to_code is not None:
            mapped = recipe.event_to_code(code, None if value is None or value != value else float(value))
            if mapped is None:
                continue
            code = str(mapped)
        if t is None:
            static.append(code)
        else:
            timed.append((int(t), code))
    origin = timed[0][0] if timed else 0
    header = list(static)
    if recipe.age is not None and birth is not None and timed:
        header.append(age_code(recipe.age, (origin - birth) / US_PER_DAY / 365.25))
    out_codes, out_days = list(header), [0.0] * len(header)
    previous: int | None = None
    for t, code in timed:
        if recipe.time_gaps is not None and previous is not None and t != previous:
            gap = gap_code(recipe.time_gaps, (t - previous) / US_PER_DAY)
            if gap is not None:
                out_codes.append(gap)
                out_days.append((t - origin) / US_PER_DAY)
        out_codes.append(code)
        out_days.append((t - origin) / US_PER_DAY)
        previous = t
    return out_codes, np.asarray(out_days, dtype=np.float64), len(static), len(header)
