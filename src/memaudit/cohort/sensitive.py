"""Sensitive groups: named sets of code patterns, matched against MEDS codes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

ICD_PREFIX = "DIAGNOSIS//ICD10CM//"
_CATEGORY = re.compile(r"^[A-Z][0-9][0-9A-Z]$")


@dataclass(frozen=True)
class SensitiveGroup:
    """One group. `icd10cm` holds ICD-10-CM categories or ranges of them ("F10-F19", "Z21");
    `patterns` holds extra regular expressions matched against the whole code."""

    name: str
    label: str
    icd10cm: tuple[str, ...] = ()
    patterns: tuple[str, ...] = field(default=())

    def matches(self, code: str) -> bool:
        if code.startswith(ICD_PREFIX):
            category = code[len(ICD_PREFIX):][:3]
            for spec in self.icd10cm:
                low, _, high = spec.partition("-")
                if low <= category <= (high or low):
                    return True
        return any(re.search(p, code) for p in self.patterns)


def parse_groups(raw: Mapping[str, Mapping[str, object]]) -> tuple[SensitiveGroup, ...]:
    from ..errors import UserInputError

    groups = []
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise UserInputError("a mapping with label/icd10cm/patterns", f"{name}: {spec!r}",
                                 "write each sensitive group as {label: ..., icd10cm: [...]}")
        unknown = set(spec) - {"label", "icd10cm", "patterns"}
        if unknown:
            raise UserInputError("keys label, icd10cm, patterns", f"{sorted(unknown)} in group {name}",
                                 "remove or rename those keys")
        icd = tuple(str(s) for s in spec.get("icd10cm", []) or [])
        for s in icd:
            for part in s.split("-"):
                if not _CATEGORY.match(part):
                    raise UserInputError("ICD-10-CM categories like 'F10' or ranges like 'F10-F19'",
                                         f"{s!r} in group {name}", "use three-character categories")
        patterns = tuple(str(p) for p in spec.get("patterns", []) or [])
        for p in patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise UserInputError("valid regular expressions", f"{p!r} ({e})", "fix the pattern") from None
        if not icd and not patterns:
            raise UserInputError("at least one icd10cm range or pattern", f"none in group {name}",
                                 "add icd10cm or patterns")
        groups.append(SensitiveGroup(name, str(spec.get("label", name)), icd, patterns))
    return tuple(groups)


class GroupMatcher:
    """Memoised code → groups lookup: audits test the same codes millions of times."""

    def __init__(self, groups: Iterable[SensitiveGroup]) -> None:
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
