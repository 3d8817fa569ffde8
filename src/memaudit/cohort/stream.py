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

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import UserInputError
from ..hooks import load_hook

US_PER_DAY = 86_400e6
STATIC_ROWS = ("keep", "drop", "auto")


@dataclass(frozen=True)
class AgeRecipe:
    birth_code: str = "MEDS_BIRTH"
    prefix: str = "AGE//"
    band_years: int = 5

    def code(self, age_years: float) -> str:
        low = int(age_years // self.band_years * self.band_years)
        return f"{self.prefix}{low}-{low + self.band_years - 1}"


@dataclass(frozen=True)
class TimeGapRecipe:
    bins: tuple[tuple[str, float], ...]   # (code, upper bound in days), ascending; the last one is open-ended
    min_days: float = 1.0                 # shorter gaps (events of one visit) get no code

    def code(self, gap_days: float) -> str | None:
        if gap_days < self.min_days:
            return None
        return next((label for label, upper in self.bins if gap_days < upper), self.bins[-1][0])


@dataclass(frozen=True)
class StreamRecipe:
    static_rows: str = "keep"
    event_to_code: Callable[[str, float | None], str | None] | None = None
    age: AgeRecipe | None = None
    time_gaps: TimeGapRecipe | None = None

    @property
    def is_identity(self) -> bool:
        return self.event_to_code is None and self.age is None and self.time_gaps is None

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> "StreamRecipe":
        static = section.get("static_rows", "keep")
        if static not in STATIC_ROWS:
            raise UserInputError("cohort.static_rows one of keep, drop, auto", repr(static), "pick one of them")
        hook = section.get("event_to_code")
        return cls(static, load_hook(hook, "cohort.event_to_code") if hook else None,
                   _age(section.get("derive_age")), _gaps(section.get("derive_time_gaps")))

    def describe(self) -> dict[str, Any]:
        return {"static_rows": self.static_rows,
                "event_to_code": self.event_to_code is not None,
                "derived_age": None if self.age is None else {"from": self.age.birth_code, "prefix": self.age.prefix,
                                                              "band_years": self.age.band_years},
                "derived_time_gaps": None if self.time_gaps is None else
                {"min_days": self.time_gaps.min_days, "bins": [list(b) for b in self.time_gaps.bins]}}


def _age(raw: Any) -> AgeRecipe | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"birth_code", "prefix", "band_years"}:
        raise UserInputError("cohort.derive_age as a mapping with birth_code, prefix, band_years", repr(raw),
                             "write e.g. derive_age: {birth_code: MEDS_BIRTH, prefix: 'AGE//', band_years: 5}")
    recipe = AgeRecipe(**raw)
    if not isinstance(recipe.band_years, int) or recipe.band_years < 1:
        raise UserInputError("cohort.derive_age.band_years a positive integer", repr(recipe.band_years), "use e.g. 5")
    return recipe


def _gaps(raw: Any) -> TimeGapRecipe | None:
    if raw is None:
        return None
    fix = "write e.g. derive_time_gaps: {min_days: 1, bins: [['TIME//<1w', 7], ['TIME//1-4w', 28], ['TIME//>4w', 1e9]]}"
    if not isinstance(raw, dict) or set(raw) - {"bins", "min_days"} or not raw.get("bins"):
        raise UserInputError("cohort.derive_time_gaps as a mapping with bins (and min_days)", repr(raw), fix)
    try:
        bins = tuple((str(label), float(upper)) for label, upper in raw["bins"])
    except (TypeError, ValueError):
        raise UserInputError("bins as [code, upper_days] pairs", repr(raw["bins"]), fix) from None
    if any(b[1] <= a[1] for a, b in zip(bins, bins[1:])):
        raise UserInputError("bins with increasing upper bounds", repr(raw["bins"]), fix)
    return TimeGapRecipe(bins, float(raw.get("min_days", 1.0)))


def build_stream(times_us: Sequence[int | None], codes: Sequence[str], values: Sequence[float | None],
                 recipe: StreamRecipe) -> tuple[list[str], np.ndarray, int, int]:
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
        header.append(recipe.age.code((origin - birth) / US_PER_DAY / 365.25))
    out_codes, out_days = list(header), [0.0] * len(header)
    previous: int | None = None
    for t, code in timed:
        if recipe.time_gaps is not None and previous is not None and t != previous:
            gap = recipe.time_gaps.code((t - previous) / US_PER_DAY)
            if gap is not None:
                out_codes.append(gap)
                out_days.append((t - origin) / US_PER_DAY)
        out_codes.append(code)
        out_days.append((t - origin) / US_PER_DAY)
        previous = t
    return out_codes, np.asarray(out_days, dtype=np.float64), len(static), len(header)
