"""Code conventions: how a cohort's codes spell what the audits need to know, in one place.

- **Diagnoses** in ICD-9-CM or ICD-10-CM, with any prefix, dotted or not, the version in the code
  (`DIAGNOSIS//ICD//10//F1020`, `DIAGNOSIS//ICD10CM//F10.20`, `ICD9CM/305.00`) or in a column of
  `metadata/codes.parquet`; bare tokens through a configured format.
- **Sex**: the pair of codes a sex flip swaps (`SEX//F`/`SEX//M`, `GENDER//F`/`GENDER//M`).
- **Age**: age-band codes of any prefix and width (`AGE//65-69`, `AGE_BAND//60-69`), exact ages
  under a configured prefix (`age:67`), or the birth row.
- **Time**: the days a time-gap code stands for (`TIME//1-4w`, derived gap bins,
  `TIMELINE//DELTA//years//value_[0.08,0.16)`).

`infer_conventions` reads them off the codes of the model's stream and config `conventions:`;
what it could not find stays None and the audits say what they could not test because of it.

    >>> c = infer_conventions(Conventions(), ["GENDER//F", "GENDER//M", "DIAGNOSIS//ICD//9//30500"])
    >>> c.diagnosis("DIAGNOSIS//ICD//9//30500"), c.flip_sex("GENDER//F")
    (Diagnosis(version=9, code='30500'), 'GENDER//M')
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..config.sections import Conventions, TimeGapRecipe

# memaudit's own time-gap codes: (code, lower bound in days, upper bound in days)
TIME_BINS: tuple[tuple[str, float, float], ...] = (
    ("TIME//<1w", 0.0, 7.0),
    ("TIME//1-4w", 7.0, 28.0),
    ("TIME//1-3m", 28.0, 91.0),
    ("TIME//3-6m", 91.0, 182.0),
    ("TIME//6-12m", 182.0, 365.0),
    ("TIME//>1y", 365.0, 730.0),
)

TIME_PREFIX = "TIME//"  # memaudit's own time-gap codes all start so

# Diagnosis formats recognised without configuration: (pattern, version when the pattern has none).
# Only diagnosis kinds: `PROCEDURE//ICD//9//3051` is an ICD-9 *procedure* and must not read as 305.
BUILT_IN_DIAGNOSIS_FORMATS: tuple[tuple[str, int | None], ...] = (
    (r"^(?:DIAGNOSIS|DX|DIAG|CONDITION)//ICD//(?P<version>9|10)(?:CM)?//(?P<code>[A-Z0-9.]+)$", None),
    (r"^(?:DIAGNOSIS|DX|DIAG|CONDITION)//ICD(?P<version>9|10)(?:CM)?//(?P<code>[A-Z0-9.]+)$", None),
    (r"^ICD(?P<version>9|10)CM/{1,2}(?P<code>[A-Z0-9.]+)$", None),
)
SEX_CODE = re.compile(r"^(?P<prefix>(?:SEX|GENDER)//)(?P<value>F|M|FEMALE|MALE)$", re.IGNORECASE)
AGE_BAND = re.compile(r"^(?P<prefix>[^/]*AGE[^/]*//)(?P<low>\d+)-(?P<high>\d+)$", re.IGNORECASE)
BAND = re.compile(r"(?P<low>\d+)(?:-(?P<high>\d+))?")  # a band (65-69) or an exact age (67)
EXACT_AGE_STEP_YEARS = 5  # an exact-age code (CEHR-GPT's age:67) moves this many years per step
# a value-binned time delta (MEDS_EIC_AR): TIMELINE//DELTA//years//value_[0.0821,0.164)
DELTA_BIN = re.compile(
    r"^TIMELINE//DELTA//(?P<unit>years|days|hours|minutes|seconds)//value_[\[(]"
    r"(?P<low>[-+0-9.eE]+|-inf),(?P<high>[-+0-9.eE]+|inf)[)\]]$"
)
DAYS_PER = {"years": 365.25, "days": 1.0, "hours": 1 / 24, "minutes": 1 / 1440, "seconds": 1 / 86400}
OPEN_ENDED_FACTOR = 1.5  # an open-ended gap bin [low, inf) is read as 1.5 × its lower bound


@dataclass(frozen=True)
class Diagnosis:
    """An ICD diagnosis: the version (9 or 10) and the code without dots, upper case."""

    version: int
    code: str


@dataclass(frozen=True)
class AgeBands:
    prefix: str
    width: int
    exact: bool = False  # codes are exact ages (age:67), not bands


@dataclass(frozen=True)
class StreamStructure:
    """Tokens of a stack's stream that are structure, not clinical codes: `markers` (visit start
    and end, visit types, the end token) and time-gap tokens with the days each stands for. A
    stack's adapter declares them (`stream_structure()`); `codes:K` prompts count clinical codes
    only, and markers are not part of a true or generated continuation."""

    markers: frozenset[str] = frozenset()
    gap_days: Mapping[str, float] = field(default_factory=dict)

    def is_structure(self, code: str) -> bool:
        return code in self.markers or code in self.gap_days


@dataclass
class CodeConventions:
    """What the audits know about the codes; build it with `infer_conventions`."""

    formats: tuple[tuple[re.Pattern, int | None], ...]
    versions: Mapping[str, int] = field(default_factory=dict)  # code -> ICD version from codes.parquet
    sex: tuple[str, str] | None = None  # (female, male)
    age: AgeBands | None = None
    birth_code: str | None = None
    gap_days: Mapping[str, float] = field(default_factory=dict)  # explicit time-gap codes
    sources: dict[str, str] = field(default_factory=dict)  # what was inferred and what configured
    markers: frozenset[str] = frozenset()  # start / end tokens of a timeline: structure, not clinical codes

    def __post_init__(self) -> None:
        self._dx: dict[str, Diagnosis | None] = {}

    def diagnosis(self, code: str) -> Diagnosis | None:
        """The code as an ICD diagnosis, or None when it is not one."""
        if code not in self._dx:
            self._dx[code] = self._parse(code)
        return self._dx[code]

    def _parse(self, code: str) -> Diagnosis | None:
        for pattern, fixed in self.formats:
            m = pattern.match(code)
            if not m:
                continue
            version = fixed or (int(m.group("version")) if "version" in pattern.groupindex else None)
            version = version or self.versions.get(code)
            if version in (9, 10):
                return Diagnosis(version, m.group("code").replace(".", "").upper())
        return None

    def is_diagnosis(self, code: str) -> bool:
        return self.diagnosis(code) is not None

    def age_band(self, code: str) -> tuple[int, int] | None:
        """(lowest, highest) age of an age-band code of the cohort's prefix."""
        if self.age is None or not code.startswith(self.age.prefix):
            return None
        m = BAND.fullmatch(code[len(self.age.prefix) :])
        if not m:
            return None
        low = int(m.group("low"))
        return (low, int(m.group("high")) if m.group("high") else low)

    def shift_age(self, code: str, bands: int) -> str | None:
        """The age-band code `bands` bands away, or None when the code is no band or the shifted
        band leaves 0-120 years."""
        band = self.age_band(code)
        if band is None or self.age is None:
            return None
        if self.age.exact:
            age = band[0] + bands * EXACT_AGE_STEP_YEARS
            return f"{self.age.prefix}{age}" if 0 <= age <= 120 else None
        low = band[0] + bands * self.age.width
        return f"{self.age.prefix}{low}-{low + self.age.width - 1}" if 0 <= low <= 120 else None

    def flip_sex(self, code: str) -> str | None:
        if self.sex is None or code not in self.sex:
            return None
        return self.sex[1] if code == self.sex[0] else self.sex[0]

    def is_demographic(self, code: str) -> bool:
        return (
            (self.sex is not None and code in self.sex)
            or self.age_band(code) is not None
            or code == self.birth_code
        )

    def demographic_rule(self, prefixes: tuple[str, ...]) -> Callable[[str], bool]:
        """Whether a code is a demographic (one of `prefixes`, or a sex, age band or birth code of
        these conventions), remembered per code: prompts ask it of every code of every timeline."""
        return cache(lambda code: code.startswith(prefixes) or self.is_demographic(code))

    def days_of_gap(self, code: str) -> float | None:
        """The days a time-gap code stands for, or None for other codes."""
        days = self.gap_days.get(code)
        if days is not None:
            return days
        m = DELTA_BIN.match(code)
        if not m:
            return None
        low, high = float(m.group("low")), float(m.group("high"))
        low = max(low, 0.0)
        mid = low * OPEN_ENDED_FACTOR if high == float("inf") else (low + high) / 2
        return mid * DAYS_PER[m.group("unit")]

    def describe(self) -> dict[str, Any]:
        """For the report: what each convention is and where it came from."""
        return {
            "sex_codes_found": self.sex is not None,  # the codes themselves stay out of reports
            "age_bands": None
            if self.age is None
            else {"prefix": self.age.prefix, "width_years": self.age.width, "exact_ages": self.age.exact},
            "birth_code": self.birth_code,
            "diagnosis_versions_from_codes_table": len(self.versions),
            "sources": dict(self.sources),
        }


def gap_days_of_recipe(recipe: TimeGapRecipe) -> dict[str, float]:
    """Each derived gap code's days: the middle of its bin (an open-ended last bin: 1.5 × its lower
    bound)."""
    out, low = {}, recipe.min_days
    for i, (label, upper) in enumerate(recipe.bins):
        last = i == len(recipe.bins) - 1
        out[label] = low * OPEN_ENDED_FACTOR if last and upper >= 1e6 else (low + upper) / 2
        low = upper
    return out


def infer_conventions(
    config: Conventions,
    codes: Iterable[str],
    versions: Mapping[str, int] | None = None,
    derived_age: Any = None,
    derived_gaps: TimeGapRecipe | None = None,
    markers: Iterable[str] = (),
    structure: StreamStructure | None = None,
) -> CodeConventions:
    """The conventions of a cohort whose model stream holds `codes` (distinct codes, in any order):
    configured values first, else what the codes show. `versions`: ICD version per code from
    config `conventions.version_column`; `derived_age` / `derived_gaps`: the stream recipe's;
    `markers`: the timeline's start and end tokens (structure, not clinical codes); `structure`:
    the markers and gap tokens a stack's adapter declares."""
    codes = set(codes)
    sources: dict[str, str] = {}
    formats = tuple((re.compile(f.pattern), f.version) for f in config.diagnosis_formats) + tuple(
        (re.compile(p), v) for p, v in BUILT_IN_DIAGNOSIS_FORMATS
    )
    sex = tuple(config.sex_codes) if config.sex_codes else sex_pair(codes)
    sources["sex_codes"] = "config" if config.sex_codes else ("inferred" if sex else "not found")
    if derived_age is not None:
        age = AgeBands(derived_age.prefix, derived_age.band_years)
        sources["age_bands"] = "derived from the birth row (cohort.derive_age)"
    else:
        age = _infer_age(codes, config.age_prefix)
        sources["age_bands"] = ("config" if config.age_prefix else "inferred") if age else "not found"
    gaps = {label: (low + high) / 2 for label, low, high in TIME_BINS if label in codes}
    if derived_gaps is not None:
        gaps.update(gap_days_of_recipe(derived_gaps))
    if structure is not None:
        gaps.update(structure.gap_days)
        markers = [*markers, *structure.markers]
    gaps.update(config.time_gap_codes)
    conventions = CodeConventions(
        formats, dict(versions or {}), sex, age, config.birth_code, gaps, sources, frozenset(markers)
    )
    n_delta = sum(1 for c in codes if DELTA_BIN.match(c))
    sources["time_gaps"] = (
        f"{len([c for c in codes if conventions.days_of_gap(c) is not None])} gap codes "
        f"({len(gaps)} named, {n_delta} value-binned deltas)"
        if gaps or n_delta
        else "none: the stream carries no time-gap code"
    )
    return conventions


def sex_pair(codes: Iterable[str]) -> tuple[str, str] | None:
    """The (female, male) codes among `codes` (`GENDER//F` and `GENDER//M`...), or None."""
    pairs: dict[str, dict[str, str]] = {}
    for c in codes:
        m = SEX_CODE.match(c)
        if m:
            pairs.setdefault(m.group("prefix").upper(), {})[m.group("value")[0].upper()] = c
    for values in pairs.values():
        if "F" in values and "M" in values:
            return values["F"], values["M"]
    return None


def _infer_age(codes: set[str], prefix: str | None) -> AgeBands | None:
    """The age-band prefix (configured, else the most common `...AGE...//` prefix) and the most
    common band width among its codes."""
    if prefix is None:
        found = [m.group("prefix") for m in (AGE_BAND.match(c) for c in codes) if m]
        if not found:
            return None
        prefix = Counter(found).most_common(1)[0][0]
    bands = [m for m in (BAND.fullmatch(c[len(prefix) :]) for c in codes if c.startswith(prefix)) if m]
    if not bands:
        return None
    if not any(m.group("high") for m in bands):
        return AgeBands(prefix, 1, exact=True)
    bands = [m for m in bands if m.group("high")]
    widths = Counter(int(m.group("high")) - int(m.group("low")) + 1 for m in bands)
    return AgeBands(prefix, widths.most_common(1)[0][0])
