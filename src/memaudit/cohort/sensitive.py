"""Sensitive groups (config `sensitive_groups`): ICD-10-CM and ICD-9-CM codes or ranges, read
through the cohort's code conventions, plus explicit code lists or files, regular expressions, and
text search over the descriptions of `metadata/codes.parquet` (e.g. antiretroviral medications).

    >>> spec = SensitiveGroup(icd10cm=("F10-F19",), icd9cm=("303-305",))
    >>> group = build_group("substance_use", spec)
    >>> conventions = infer_conventions(Conventions(), [])
    >>> [group.matches(c, conventions) for c in ("DIAGNOSIS//ICD//10//F1020", "DIAGNOSIS//ICD//9//30500",
    ...                                          "PROCEDURE//ICD//9//3051")]
    [True, True, False]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config.sections import Conventions, SensitiveGroup
from ..errors import UserInputError
from ..tables import first_line, read_table
from .conventions import CodeConventions, infer_conventions

__all__ = ["Conventions", "Group", "GroupMatcher", "SensitiveGroup", "build_group", "build_groups"]


def _ranges(specs: Iterable[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for spec in specs:
        low, _, high = spec.replace(".", "").upper().partition("-")
        out.append((low, high or low))
    return tuple(out)


@dataclass(frozen=True)
class Group:
    """One group. ICD ranges compare the code's leading characters with the range's ends, so
    `F10-F19` holds F1020 and `303-305` holds 30500; a single spec is a prefix (`F102`)."""

    name: str
    label: str
    icd10: tuple[tuple[str, str], ...] = ()
    icd9: tuple[tuple[str, str], ...] = ()
    codes: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern, ...] = ()

    def matches(self, code: str, conventions: CodeConventions) -> bool:
        if code in self.codes or any(p.search(code) for p in self.patterns):
            return True
        dx = conventions.diagnosis(code)
        if dx is None:
            return False
        ranges = self.icd10 if dx.version == 10 else self.icd9
        return any(low <= dx.code[: len(low)] <= high for low, high in ranges)

    @property
    def has_icd(self) -> bool:
        return bool(self.icd10 or self.icd9)


def _code_file(path: str) -> set[str]:
    """The codes of a `code_files` entry: a `code` column of a .csv/.parquet, else one per line."""
    p = Path(path)
    expected = "a readable code list (one code per line, or a `code` column)"
    fix = "fix the path in sensitive_groups.<group>.code_files"
    try:
        if p.suffix in (".csv", ".parquet"):
            return set(read_table(p, expected, fix, columns=("code",))["code"].cast(str).to_list())
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UserInputError(expected, f"{path}: {first_line(e)}", fix) from None
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}


def build_group(name: str, spec: SensitiveGroup, descriptions: Mapping[str, str] | None = None) -> Group:
    """The group of a config spec; `descriptions` (code → text, from codes.parquet) serve its
    description search."""
    codes = set(spec.codes)
    for path in spec.code_files:
        codes |= _code_file(path)
    if spec.descriptions and descriptions:
        searches = [re.compile(d, re.IGNORECASE) for d in spec.descriptions]
        codes |= {c for c, text in descriptions.items() if text and any(s.search(text) for s in searches)}
    return Group(
        name,
        spec.label or name,
        _ranges(spec.icd10cm),
        _ranges(spec.icd9cm),
        frozenset(codes),
        tuple(re.compile(p) for p in spec.patterns),
    )


def build_groups(
    specs: Mapping[str, SensitiveGroup], descriptions: Mapping[str, str] | None = None
) -> tuple[Group, ...]:
    return tuple(build_group(name, spec, descriptions) for name, spec in specs.items())


class GroupMatcher:
    """Memoised code → groups lookup under the cohort's conventions: audits test the same codes
    millions of times."""

    def __init__(self, groups: Iterable[Group], conventions: CodeConventions | None = None) -> None:
        self.groups = tuple(groups)
        self.conventions = conventions or infer_conventions(Conventions(), [])
        self._cache: dict[str, frozenset[str]] = {}
        self._codes_of: dict[str, set[str]] = {g.name: set() for g in self.groups}  # matched so far

    def groups_of(self, code: str) -> frozenset[str]:
        hit = self._cache.get(code)
        if hit is None:
            hit = frozenset(g.name for g in self.groups if g.matches(code, self.conventions))
            self._cache[code] = hit
            for name in hit:
                self._codes_of[name].add(code)
        return hit

    def is_sensitive(self, code: str) -> bool:
        return bool(self.groups_of(code))

    def has_group(self, codes: Iterable[str], group: str) -> bool:
        # set operations instead of a lookup per code: audits ask this of millions of samples
        codes = set(codes)
        for code in codes.difference(self._cache):
            self.groups_of(code)
        return not codes.isdisjoint(self._codes_of.get(group, ()))
