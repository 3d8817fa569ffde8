"""From a MEDS cohort to the audit's prompts: sample each arm (seeded), rebuild the model's stream,
keep or drop static rows as the model's stack did, and build every subject's prompt per tier."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..cohort.meds_reader import MedsDataset, Timeline
from ..cohort.sensitive import GroupMatcher, groups_from_config
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig
from ..errors import UserInputError
from .tiers import Prompt, build_prompt, split_demographics, tier_codes

ARM_SAMPLING_STREAM = 101  # the arms' random stream, derived from the config seed


@dataclass
class PreparedCohort:
    """The audited subjects, their timelines in the model's language and their prompts."""

    matcher: GroupMatcher
    members: list[int]
    non_members: list[int]
    timelines: Mapping[int, Timeline]
    prompts: Mapping[str, Mapping[int, Prompt]]  # tier -> subject -> prompt
    excluded: Mapping[str, int]  # tier -> subjects too short for it
    code_prevalence: Mapping[str, float]  # share of cohort subjects with each code
    skipped_tiers: Mapping[str, str] = field(default_factory=dict)  # tier -> why it was not run
    stream: Mapping = field(default_factory=dict)  # how timelines were rebuilt (cohort/stream.py)


def sample_arm(ids: np.ndarray, n: int | None, rng: np.random.Generator) -> list[int]:
    """`n` subjects drawn without replacement (all of them when n is None or too large), sorted."""
    if n is None or n >= ids.size:
        return sorted(int(i) for i in ids)
    return sorted(int(i) for i in rng.choice(ids, size=n, replace=False))


def apply_static_rows(
    timelines: dict[int, Timeline],
    mode: str,
    knows: Callable[[str], bool] | None,
) -> tuple[dict[int, Timeline], dict]:
    """Keep or drop static rows (time = null) as the model's stack did; `auto` keeps them only when
    the model's vocabulary knows at least one of them (`knows` None: no vocabulary to ask)."""
    codes = sorted({c for t in timelines.values() for c in t.codes[: t.static]})
    if not codes:
        return timelines, {
            "static_codes": 0,
            "used": False,
            "reason": "the data has no static rows (time = null)",
        }
    if mode == "auto":
        known = [c for c in codes if knows is not None and knows(c)]
        mode = "keep" if knows is None or known else "drop"
        reason = (
            "the model's vocabulary knows none of the static codes, so its stack dropped static rows"
            if mode == "drop"
            else "cohort.static_rows: auto and the model's vocabulary knows "
            f"{len(known) if knows else 'an unknown number'} of them"
        )
    else:
        reason = f"cohort.static_rows: {mode}"
    if mode == "drop":
        timelines = {s: t.without_static() for s, t in timelines.items()}
    return timelines, {"static_codes": len(codes), "used": mode == "keep", "reason": reason}


def prepare(
    dataset: MedsDataset,
    config: AuditConfig,
    recipe: StreamRecipe,
    knows: Callable[[str], bool] | None = None,
) -> PreparedCohort:
    """Everything the audits read about the cohort. `knows(code)`: whether the model's vocabulary
    has the code (None: the model exposes no vocabulary)."""
    member_ids = dataset.arm_ids(config.splits.members)
    non_member_ids = dataset.arm_ids(config.splits.non_members)
    overlap = np.intersect1d(member_ids, non_member_ids)
    if overlap.size:
        raise UserInputError(
            "disjoint member and non-member sets",
            f"{overlap.size} subjects in both",
            "fix subject_splits.parquet: a subject in both arms invalidates the audit",
        )
    rng = np.random.default_rng([config.seed, ARM_SAMPLING_STREAM])
    members = sample_arm(member_ids, config.subjects_per_arm, rng)
    non_members = sample_arm(non_member_ids, config.subjects_per_arm, rng)
    timelines, static_note = apply_static_rows(
        dataset.timelines(members + non_members, recipe), recipe.static_rows, knows
    )
    members = [s for s in members if s in timelines]
    non_members = [s for s in non_members if s in timelines]
    if len(members) < 2 or len(non_members) < 2:
        raise UserInputError(
            "at least 2 subjects with events in each arm",
            f"{len(members)} members and {len(non_members)} non-members",
            "check the split names and that data/ holds those subjects' events",
        )
    matcher = GroupMatcher(groups_from_config(config.sensitive_groups))
    prefixes = config.demographic_prefixes
    prompts, excluded, skipped = {}, {}, {}
    member_set, non_member_set = set(members), set(non_members)
    for tier in config.tiers:
        if tier == "static" and not any(
            split_demographics(timelines[s], prefixes)[0] for s in members + non_members
        ):
            skipped[tier] = (
                "no audited timeline holds a demographic code the model's stream contains (static "
                f"rows: {static_note['reason']}; demographic_prefixes {list(prefixes)})"
            )
            continue
        built = {
            s: build_prompt(
                s, timelines[s], tier, matcher, prefixes, config.t1.continuation_codes, config.t1.extraction_k
            )
            for s in members + non_members
        }
        prompts[tier] = {s: p for s, p in built.items() if p is not None}
        excluded[tier] = sum(p is None for p in built.values())
        kept = prompts[tier]
        if sum(1 for s in kept if s in member_set) < 2 or sum(1 for s in kept if s in non_member_set) < 2:
            raise UserInputError(
                f"timelines long enough for tier {tier} ({tier_codes(tier) or 0} codes + "
                f"{config.t1.extraction_k} to continue)",
                f"{excluded[tier]} of {len(built)} subjects too short",
                f"drop tier {tier} from the config's tiers",
            )
    return PreparedCohort(
        matcher,
        members,
        non_members,
        timelines,
        prompts,
        excluded,
        dataset.code_prevalence(),
        skipped,
        {**recipe.describe(), "static_rows_found": static_note},
    )
