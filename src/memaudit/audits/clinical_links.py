"""Codes linked to a sensitive group in the audited cohort: the clinical picture from which any
model could infer the group. T5 uses it to tell a flag the prompt explains from one it does not.

Example: if 40 of 600 audited subjects have HIV and 12 of the 15 subjects with an antiretroviral
have HIV, the antiretroviral is linked to HIV (12 ≥ 3 subjects have both, and 12/15 is at least
twice 40/600); a background lab that 300 subjects have, 20 of them with HIV, is not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

MIN_SUBJECTS = 3  # a code seen with the group in fewer subjects is one patient's detail, not a pattern
MIN_LIFT = 2.0  # the group is at least this many times as common among the code's subjects as overall


def linked_codes(
    codes_by_subject: Mapping[int, Iterable[str]],
    has_group: Mapping[int, bool],
    min_subjects: int = MIN_SUBJECTS,
    min_lift: float = MIN_LIFT,
) -> frozenset[str]:
    holders: dict[str, set[int]] = defaultdict(set)
    for s, codes in codes_by_subject.items():
        for c in set(codes):
            holders[c].add(s)
    with_group = {s for s, has in has_group.items() if has}
    base = len(with_group) / max(len(has_group), 1)
    return frozenset(
        c
        for c, subjects in holders.items()
        if len(subjects & with_group) >= min_subjects
        and len(subjects & with_group) / len(subjects) >= min_lift * base
    )
