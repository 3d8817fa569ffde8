"""What an attacker's knowledge singles out, and which conditions are too rare to hide, before
any model is trained.

- **Uniqueness**: at each of the audit's tiers (`static`, `codes:K`) the attacker knows a
  patient's prompt, built by the audit's own prompt code (sensitive codes removed). Patients
  whose prompt fewer than `k` training patients share are singled out by it (k-anonymity).
- **Rare sensitive conditions**: codes of a sensitive group held by fewer than `k` training
  patients; a model that learns such a code learns it from those few.
- **Value bins**: where the stream recipe turns values into codes (`cohort.event_to_code`), the
  value-derived codes held by fewer than `k` patients disclose those patients' values. Without a
  configured binning the scan cannot know the bins and says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from ..cohort.conventions import infer_conventions
from ..cohort.meds_reader import MedsDataset, Timeline
from ..cohort.sensitive import GroupMatcher, build_groups
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig
from ..prompts.prepare import code_descriptions, icd_versions
from ..prompts.tiers import build_prompt


def matcher_and_demographics(dataset: MedsDataset, config: AuditConfig, timelines: Mapping[int, Timeline]):
    """The audit's sensitive-group matcher and demographic rule for these timelines."""
    table = dataset.code_table()
    codes = {c for t in timelines.values() for c in t.codes}
    conventions = infer_conventions(
        config.conventions, codes, icd_versions(table, config.conventions.version_column)
    )
    matcher = GroupMatcher(build_groups(config.sensitive_groups, code_descriptions(table)), conventions)
    return matcher, conventions.demographic_rule(config.demographic_prefixes)


def uniqueness(
    timelines: Mapping[int, Timeline], config: AuditConfig, matcher: GroupMatcher, is_demographic, k: int
) -> dict[str, dict]:
    """Per tier: the subjects whose prompt fewer than `k` subjects share, and how many timelines
    were too short for the tier."""
    out = {}
    for tier in config.tiers:
        if tier == "none":
            continue
        prompts = {s: build_prompt(s, t, tier, matcher, is_demographic, 1, 1) for s, t in timelines.items()}
        kept = {s: p.codes for s, p in prompts.items() if p is not None}
        counts = Counter(kept.values())
        out[tier] = {
            "unique_subjects": sorted(s for s, codes in kept.items() if counts[codes] < k),
            "classes": len(counts),
            "too_short": sum(p is None for p in prompts.values()),
        }
    return out


def rare_sensitive(timelines: Mapping[int, Timeline], matcher: GroupMatcher, k: int) -> list[dict]:
    """Sensitive codes held by fewer than `k` subjects: [{code, groups, subject_ids}], rarest first."""
    holders: dict[str, set[int]] = {}
    for s, t in timelines.items():
        for c in set(t.codes):
            if matcher.is_sensitive(c):
                holders.setdefault(c, set()).add(s)
    rare = [
        {"code": c, "groups": sorted(matcher.groups_of(c)), "subject_ids": sorted(ids)}
        for c, ids in holders.items()
        if len(ids) < k
    ]
    return sorted(rare, key=lambda r: (len(r["subject_ids"]), r["code"]))


def value_bins(dataset: MedsDataset, recipe: StreamRecipe, subject_ids: list[int], k: int) -> dict:
    """The value-derived codes held by fewer than `k` subjects, or why the scan cannot tell."""
    if recipe.event_to_code is None:
        return {
            "status": "not_checked",
            "reason": "no value binning is configured (cohort.event_to_code): the bins a vocabulary will "
            "hold are unknown before it is fitted",
        }
    measured = dataset.measured_values(dataset.code_subject_counts(subject_ids), subject_ids)
    value_codes = {
        str(binned)
        for code, values in measured.items()
        for binned in {recipe.event_to_code(code, v) for v in values}
        if binned is not None and binned != code
    }
    stream = dataset.stream_code_subjects(subject_ids, recipe)
    disclosing = sorted(c for c in value_codes if 0 < stream.get(c, 0) < k)
    return {"status": "checked", "value_codes": len(value_codes), "held_by_fewer_than_k": disclosing}
