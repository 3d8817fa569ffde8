"""Attacker-knowledge tiers → prompts. Pure: a timeline and a tier in, a prompt out.

Example: with tier codes:2 and timeline [SEX//F, AGE//70-74, I10, B20, metformin, ...], the
prompt is [SEX//F, AGE//70-74, I10] (B20 is sensitive and removed) and the true
continuation starts at metformin.

Demographic codes (static rows, a derived age, and the codes `is_demographic` recognises: sex,
age bands, the birth row) go into every prompt but the `none` tier's; the K codes of `codes:K`
are clinical codes, counted after them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..cohort.conventions import StreamStructure
from ..cohort.meds_reader import Timeline
from ..cohort.sensitive import GroupMatcher


@dataclass(frozen=True)
class Prompt:
    subject_id: int
    tier: str
    codes: tuple[str, ...]  # what the model is sent; sensitive codes removed
    continuation: tuple[str, ...]  # the subject's true next codes
    continuation_days: np.ndarray  # days since the prompt's last code, per continuation code


def split_demographics(
    timeline: Timeline, is_demographic: Callable[[str], bool]
) -> tuple[tuple[str, ...], int]:
    """Demographic codes (the timeline's header of static rows and derived age, then the codes
    `is_demographic` recognises) and the index where the clinical timeline starts."""
    codes = timeline.codes
    demo = [*codes[: timeline.header], *(c for c in codes[timeline.header :] if is_demographic(c))]
    first_clinical = next(
        (i for i in range(timeline.header, len(codes)) if not is_demographic(codes[i])), len(codes)
    )
    return tuple(demo), first_clinical


def tier_codes(tier: str) -> int | None:
    return int(tier.split(":", 1)[1]) if tier.startswith("codes:") else None


def build_prompt(
    subject_id: int,
    timeline: Timeline,
    tier: str,
    matcher: GroupMatcher,
    is_demographic: Callable[[str], bool],
    continuation_len: int,
    min_continuation: int,
    structure: StreamStructure | None = None,
) -> Prompt | None:
    """The subject's prompt at `tier`, or None when the timeline is too short for the tier.

    With a stack's `structure`, the K codes of `codes:K` are clinical codes: the prompt runs
    through the K-th of them with the visit markers and time gaps between them, and the true
    continuation keeps time gaps but not markers."""
    codes_ = timeline.codes
    demo, start = split_demographics(timeline, is_demographic)
    is_structure = structure.is_structure if structure is not None else lambda c: False
    is_marker = (lambda c: c in structure.markers) if structure is not None else lambda c: False
    clinical_idx = [
        i for i in range(start, len(codes_)) if not is_demographic(codes_[i]) and not is_structure(codes_[i])
    ]
    k = tier_codes(tier) or 0
    if len(clinical_idx) < k + min_continuation:
        return None
    after = clinical_idx[k - 1] + 1 if k else start
    known = [codes_[i] for i in range(start, after) if not is_demographic(codes_[i])]
    if tier == "none":
        codes: tuple[str, ...] = ()
    else:
        codes = tuple(c for c in (*demo, *known) if not matcher.is_sensitive(c))
    cont_idx = [
        i for i in range(after, len(codes_)) if not is_demographic(codes_[i]) and not is_marker(codes_[i])
    ][:continuation_len]
    anchor = timeline.days[clinical_idx[k - 1]] if k else timeline.days[cont_idx[0]]
    return Prompt(
        subject_id, tier, codes, tuple(codes_[i] for i in cont_idx), timeline.days[cont_idx] - anchor
    )


def k_anonymity_counts(prompts: Sequence[Prompt]) -> dict[tuple[str, ...], int]:
    """How many subjects share each prompt (the attacker's knowledge) at a tier."""
    counts: dict[tuple[str, ...], int] = {}
    for p in prompts:
        counts[p.codes] = counts.get(p.codes, 0) + 1
    return counts
