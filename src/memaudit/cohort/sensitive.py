"""Sensitive groups: named sets of code patterns (config `sensitive_groups`), matched against the
codes of the model's stream."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..config.sections import SensitiveGroup as GroupSpec

ICD10CM_PREFIX = "DIAGNOSIS//ICD10CM//"


@dataclass(frozen=True)
class Group:
    """One group: ICD-10-CM categories or ranges of them ("F10-F19", "Z21") and extra regular
    expressions matched against the whole code."""

    name: str
    label: str
    icd10cm: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def matches(self, code: str) -> bool:
        if code.startswith(ICD10CM_PREFIX):
            category = code[len(ICD10CM_PREFIX) :][:3]
            for spec in self.icd10cm:
                low, _, high = spec.partition("-")
                if low <= category <= (high or low):
                    return True
        return any(re.search(p, code) for p in self.patterns)


def groups_from_config(specs: Mapping[str, GroupSpec]) -> tuple[Group, ...]:
    return tuple(Group(name, spec.label or name, spec.icd10cm, spec.patterns) for name, spec in specs.items())


class GroupMatcher:
    """Memoised code → groups lookup: audits test the same codes millions of times."""

    def __init__(self, groups: Iterable[Group]) -> None:
        self.groups = tuple(groups)
        self._cache: dict[str, frozenset[str]] = {}

    def groups_of(self, code: str) -> frozenset[str]:
        hit = self._cache.get(code)
        if hit is None:
            hit = frozenset(g.name for g in self.groups if g.matches(code))
            self._cache[code] = hit
        return hit

    def is_sensitive(self, code: str) -> bool:
        return bool(self.groups_of(code))

    def has_group(self, codes: Iterable[str], group: str) -> bool:
        return any(group in self.groups_of(c) for c in codes)
