"""From a MEDS cohort to the audit's prompts: count each repeated record once (the same timeline
under several subject ids is one audited patient; a non-member holding a member's record is not a
non-member), sample each arm (seeded), rebuild the model's stream,
keep or drop static rows and unknown codes as the model's stack did, read the cohort's code
conventions, and build every subject's prompt per tier."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import meds
import numpy as np
import polars as pl

from ..cohort.conventions import CodeConventions, StreamStructure, infer_conventions
from ..cohort.meds_reader import MedsDataset, Timeline
from ..cohort.near_copies import clusters, near_copy_pairs
from ..cohort.repeated_records import collapse_copies, record_groups
from ..cohort.sensitive import GroupMatcher, build_groups
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig
from ..errors import UserInputError
from .tiers import Prompt, build_prompt, split_demographics, tier_codes

ARM_SAMPLING_STREAM = 101  # the arms' random stream, derived from the config seed


@dataclass(frozen=True)
class RepeatedRecord:
    """A member record the training data holds more than once: `times` copies under as many subject
    ids, exact or near (`near_copy_similarity`: the lowest Jaccard similarity linking its near
    copies; None when every copy is exact)."""

    times: int
    near_copy_similarity: float | None = None


@dataclass
class PreparedCohort:
    """The audited subjects, their timelines in the model's language and their prompts."""

    matcher: GroupMatcher
    members: list[int]
    non_members: list[int]
    timelines: Mapping[int, Timeline]
    prompts: Mapping[str, Mapping[int, Prompt]]  # tier -> subject -> prompt
    excluded: Mapping[str, int]  # tier -> subjects too short for it
    code_prevalence: Mapping[str, float]  # share of the dataset's subjects with each code in their stream
    skipped_tiers: Mapping[str, str] = field(default_factory=dict)  # tier -> why it was not run
    stream: Mapping = field(default_factory=dict)  # how timelines were rebuilt (cohort/stream.py)
    member_code_subjects: Mapping[str, int] = field(default_factory=dict)  # members with each stream code
    # audited member -> the other member ids holding its record (splits.repeated_records count_once)
    record_copies: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    # T4's population (t4.population): the members and non-members it scores, the sampled arms
    # included; empty: the sampled arms
    scored_members: list[int] = field(default_factory=list)
    scored_non_members: list[int] = field(default_factory=list)
    # the codes of the scored subjects outside the sampled arms (those inside are in `timelines`)
    scored_codes: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    # scored member -> how the training data repeats its record (T4's repeated-record arm)
    repeated: Mapping[int, RepeatedRecord] = field(default_factory=dict)

    @property
    def conventions(self) -> CodeConventions:
        return self.matcher.conventions


def sample_arm(ids: np.ndarray, n: int | None, rng: np.random.Generator) -> list[int]:
    """`n` subjects drawn without replacement (all of them when n is None or too large), sorted."""
    if n is None or n >= ids.size:
        return sorted(int(i) for i in ids)
    return sorted(int(i) for i in rng.choice(ids, size=n, replace=False))


def apply_static_rows(
    timelines: dict[int, Timeline], mode: str, knows: Callable[[str], bool] | None
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


def drop_unknown(
    timelines: dict[int, Timeline], knows: Callable[[str], bool]
) -> tuple[dict[int, Timeline], dict]:
    """Remove the codes the model's vocabulary lacks, as stacks that drop them before training do."""
    out, dropped = {}, {}
    for s, t in timelines.items():
        keep = [i for i, c in enumerate(t.codes) if knows(c)]
        for i in set(range(len(t.codes))) - set(keep):
            dropped[t.codes[i]] = dropped.get(t.codes[i], 0) + 1
        out[s] = t.subset(keep)
    return out, {"distinct": len(dropped), "occurrences": sum(dropped.values())}


def icd_versions(table: pl.DataFrame | None, column: str | None) -> dict[str, int]:
    """ICD version per code from a column of metadata/codes.parquet (9/10, or ICD9CM/ICD10CM)."""
    if column is None:
        return {}
    if table is None or column not in table.columns:
        raise UserInputError(
            f"a column '{column}' in metadata/codes.parquet (conventions.version_column)",
            "no such column" if table is not None else "no metadata/codes.parquet",
            "name an existing column, or set conventions.version_column: null",
        )
    out = {}
    for code, v in zip(table["code"].to_list(), table[column].cast(pl.String).to_list()):
        digits = "".join(ch for ch in str(v or "") if ch.isdigit())
        if digits in ("9", "10"):
            out[code] = int(digits)
    return out


def code_descriptions(table: pl.DataFrame | None) -> dict[str, str]:
    if table is None or "description" not in table.columns:
        return {}
    return {c: d for c, d in zip(table["code"].to_list(), table["description"].to_list()) if d}


def prepare(
    dataset: MedsDataset,
    config: AuditConfig,
    recipe: StreamRecipe,
    knows: Callable[[str], bool] | None = None,
    structure: StreamStructure | None = None,
) -> PreparedCohort:
    """Everything the audits read about the cohort. `knows(code)`: whether the model's vocabulary
    has the code (None: the model exposes no vocabulary); `structure`: the stream's structure
    tokens, as the stack's adapter declares them (None: every token counts as a code).

    The steps: the arms, each repeated record counted once; the sampled and the scored subjects;
    their timelines as the model's stream holds them; the coding conventions and the sensitive
    groups' matcher; the prompts of each tier; the codes' prevalence."""
    member_ids, non_member_ids = disjoint_arms(dataset, config)
    member_ids, non_member_ids, record_copies, repeated, repeated_note = count_records_once(
        dataset, config, recipe, member_ids, non_member_ids
    )
    arms = sampled_arms(config, member_ids, non_member_ids)
    timelines, stream_note = stream_timelines(dataset, config, recipe, arms, knows)
    stream_note["repeated_records"] = repeated_note
    arms, scored_codes = with_events(arms, timelines)
    conventions, matcher = conventions_and_matcher(dataset, config, recipe, timelines, structure)
    if structure is not None:
        stream_note["structure_tokens"] = {
            "markers": len(structure.markers),
            "time_gaps": len(structure.gap_days),
            "counted_in_codes_k": False,
        }
    prompts, excluded, skipped = tier_prompts(
        config, timelines, arms, conventions, matcher, structure, stream_note["static_rows_found"]
    )
    member_counts, prevalence = code_prevalence(dataset, recipe, member_ids)
    members, non_members = arms.members, arms.non_members
    return PreparedCohort(
        matcher,
        members,
        non_members,
        timelines,
        prompts,
        excluded,
        prevalence,
        skipped,
        stream_note,
        member_counts,
        {s: record_copies[s] for s in members if s in record_copies},
        arms.scored_members,
        arms.scored_non_members,
        scored_codes,
        {s: repeated[s] for s in arms.scored_members if s in repeated},
    )


def disjoint_arms(dataset: MedsDataset, config: AuditConfig) -> tuple[np.ndarray, np.ndarray]:
    """The member and non-member subject ids; a subject in both is refused."""
    member_ids = dataset.arm_ids(config.splits.members)
    non_member_ids = dataset.arm_ids(config.splits.non_members)
    overlap = np.intersect1d(member_ids, non_member_ids)
    if overlap.size:
        raise UserInputError(
            "disjoint member and non-member sets",
            f"{overlap.size} subjects in both",
            "fix subject_splits.parquet: a subject in both arms invalidates the audit",
        )
    return member_ids, non_member_ids


@dataclass(frozen=True)
class Arms:
    """The subjects the generation tests sample (seeded) and those T4's population scores."""

    members: list[int]
    non_members: list[int]
    scored_members: list[int]
    scored_non_members: list[int]

    @property
    def sampled(self) -> list[int]:
        return self.members + self.non_members

    @property
    def scored_only(self) -> list[int]:
        """Scored subjects outside the sample: only their codes are kept."""
        sampled = set(self.sampled)
        return [s for s in self.scored_members + self.scored_non_members if s not in sampled]


def sampled_arms(config: AuditConfig, member_ids: np.ndarray, non_member_ids: np.ndarray) -> Arms:
    rng = np.random.default_rng([config.seed, ARM_SAMPLING_STREAM])
    members = sample_arm(member_ids, config.subjects_per_arm, rng)
    non_members = sample_arm(non_member_ids, config.subjects_per_arm, rng)
    everyone = config.t4.population == "all"
    return Arms(
        members,
        non_members,
        sorted(int(s) for s in member_ids) if everyone else members,
        sorted(int(s) for s in non_member_ids) if everyone else non_members,
    )


def stream_timelines(
    dataset: MedsDataset,
    config: AuditConfig,
    recipe: StreamRecipe,
    arms: Arms,
    knows: Callable[[str], bool] | None,
) -> tuple[dict[int, Timeline], dict]:
    """The timelines of every sampled and scored subject as the model's stream holds them (static
    rows kept or dropped, unknown codes dropped where configured), and what was done to them."""
    sampled = arms.sampled
    timelines, static_note = apply_static_rows(
        dataset.timelines(sampled + arms.scored_only, recipe), recipe.static_rows, knows
    )
    if recipe.table is not None:
        static_note["reason"] = (
            "the stream is the stack's own (cohort.stream_table): its header holds demographics"
        )
        if not any(s in timelines for s in sampled):
            raise UserInputError(
                f"the cohort whose streams {recipe.table} holds",
                f"none of {len(sampled)} sampled subjects in it",
                "pass the MEDS cohort the model's pipeline converted (the same subject ids)",
            )
    stream_note: dict = {
        **recipe.describe(),
        "static_rows_found": static_note,
        "splits_from_folders": dataset.splits_from_folders,
    }
    if config.model_input.unknown_codes == "drop" and knows is not None:
        timelines, stream_note["unknown_codes_dropped"] = drop_unknown(timelines, knows)
    if recipe.table is not None:
        stream_note["sampled_subjects_not_in_stream_table"] = sum(s not in timelines for s in sampled)
    return timelines, stream_note


def with_events(arms: Arms, timelines: dict[int, Timeline]) -> tuple[Arms, dict[int, tuple[str, ...]]]:
    """The arms without subjects whose stream is empty, and the codes of the scored-only subjects
    (taken out of `timelines`: nothing but T4 reads them)."""
    has_events = lambda s: len(timelines.get(s, ())) > 0
    kept = Arms(*([s for s in arm if has_events(s)] for arm in dataclasses.astuple(arms)))
    scored_codes = {s: timelines.pop(s).codes for s in arms.scored_only if s in timelines}
    if len(kept.members) < 2 or len(kept.non_members) < 2:
        raise UserInputError(
            "at least 2 subjects with events in each arm",
            f"{len(kept.members)} members and {len(kept.non_members)} non-members",
            "check the split names and that data/ holds those subjects' events",
        )
    return kept, scored_codes


def conventions_and_matcher(
    dataset: MedsDataset,
    config: AuditConfig,
    recipe: StreamRecipe,
    timelines: dict[int, Timeline],
    structure: StreamStructure | None,
) -> tuple[CodeConventions, GroupMatcher]:
    """The coding conventions inferred from the stream's codes, and the sensitive groups' matcher
    under them."""
    table = dataset.code_table()
    conventions = infer_conventions(
        config.conventions,
        {c for t in timelines.values() for c in t.codes},
        icd_versions(table, config.conventions.version_column),
        recipe.age,
        recipe.time_gaps,
        markers=[t for t in (config.model_input.start_token, config.model_input.end_token) if t],
        structure=structure,
    )
    matcher = GroupMatcher(build_groups(config.sensitive_groups, code_descriptions(table)), conventions)
    return conventions, matcher


def tier_prompts(
    config: AuditConfig,
    timelines: dict[int, Timeline],
    arms: Arms,
    conventions: CodeConventions,
    matcher: GroupMatcher,
    structure: StreamStructure | None,
    static_note: dict,
) -> tuple[dict, dict, dict]:
    """Each tier's prompts of the sampled subjects ({tier: {subject: Prompt}}), how many timelines
    were too short for it, and the tiers skipped with the reason (`static` when no audited
    timeline holds an informative demographic code)."""
    is_demographic = conventions.demographic_rule(config.demographic_prefixes)
    continuation = max(config.t1.continuation_codes, config.generation.max_new_codes)
    sampled = arms.sampled
    member_set, non_member_set = set(arms.members), set(arms.non_members)
    informative = lambda c: (
        is_demographic(c) and c != conventions.birth_code
    )  # a birth row alone tells nothing
    prompts, excluded, skipped = {}, {}, {}
    for tier in config.tiers:
        if tier == "static" and not any(
            any(informative(c) for c in split_demographics(timelines[s], is_demographic)[0]) for s in sampled
        ):
            skipped[tier] = (
                "no audited timeline holds a demographic code the model's stream contains (static "
                f"rows: {static_note['reason']}; sex codes: {conventions.sources['sex_codes']}; age bands: "
                f"{conventions.sources['age_bands']})"
            )
            continue
        built = {
            s: build_prompt(
                s,
                timelines[s],
                tier,
                matcher,
                is_demographic,
                continuation,
                config.t1.extraction_k,
                structure,
            )
            for s in sampled
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
    return prompts, excluded, skipped


def code_prevalence(
    dataset: MedsDataset, recipe: StreamRecipe, member_ids: np.ndarray
) -> tuple[dict[str, int], dict[str, float]]:
    """How many members hold each stream code, and each code's share among all subjects."""
    member_counts = dataset.stream_code_subjects(member_ids, recipe)
    others = np.setdiff1d(dataset.subject_splits()["subject_id"].to_numpy(), member_ids)
    other_counts = dataset.stream_code_subjects(others, recipe)
    n_all = max(len(member_ids) + len(others), 1)
    prevalence = {
        c: (member_counts.get(c, 0) + other_counts.get(c, 0)) / n_all
        for c in set(member_counts) | set(other_counts)
    }
    return member_counts, prevalence


def count_records_once(
    dataset: MedsDataset,
    config: AuditConfig,
    recipe: StreamRecipe,
    member_ids: np.ndarray,
    non_member_ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[int, ...]], dict[int, RepeatedRecord], dict]:
    """`splits.repeated_records: count_once`: each record the data holds under several subject ids
    is one patient (`collapse_copies`), near copies linked (`with_near_copies`); returns the arms'
    ids, each kept member's other ids holding its record, the members whose record is repeated and
    what was found, by count. `keep`: the arms as they are."""
    note: dict = {"rule": config.splits.repeated_records}
    if config.splits.repeated_records != "count_once":
        return member_ids, non_member_ids, {}, {}, note
    birth = recipe.age.birth_code if recipe.age is not None else meds.birth_code
    groups = record_groups(dataset.rows(np.concatenate([member_ids, non_member_ids])), birth)
    members, non_members, record_copies, counts = collapse_copies(
        member_ids.tolist(), non_member_ids.tolist(), groups
    )
    repeated = {s: RepeatedRecord(1 + len(c)) for s, c in record_copies.items()}
    if config.splits.near_copy_similarity is not None:
        non_members, repeated, near = with_near_copies(
            dataset.rows(np.asarray(members + non_members)),
            birth,
            config.splits.near_copy_similarity,
            members,
            non_members,
            repeated,
        )
        counts.update(near)
    return np.asarray(members), np.asarray(non_members), record_copies, repeated, {**note, **counts}


def with_near_copies(
    rows: pl.LazyFrame,
    birth_code: str,
    threshold: float,
    members: list[int],
    non_members: list[int],
    repeated: dict[int, RepeatedRecord],
) -> tuple[list[int], dict[int, RepeatedRecord], dict]:
    """Near copies among the arms' records (cohort/near_copies.py), after exact copies were counted
    once: members linked by near copies are one record repeated, on their lowest id, `times` the sum
    of their copies; a non-member linked to a member record leaves its arm, as an exact copy does.
    Returns the non-members kept, the repeated member records and what was found, by count."""
    # exact copies were counted once already: no two of these records share a code sequence, so
    # the search need not hash the sequences again to leave identical ones out
    pairs = near_copy_pairs(rows, birth_code, threshold)
    linked = clusters(pairs)
    member_set = set(members)
    lowest: dict[int, float] = {}  # member -> the lowest similarity of a member pair it is in
    for a, b, similarity in pairs.iter_rows():
        if a in member_set and b in member_set:
            lowest[a] = min(similarity, lowest.get(a, 1.0))
            lowest[b] = min(similarity, lowest.get(b, 1.0))
    leave, out = set(), dict(repeated)
    in_clusters = 0
    for cluster in linked:
        in_members = [s for s in cluster if s in member_set]
        if not in_members:
            continue
        leave.update(s for s in cluster if s not in member_set)
        if len(in_members) > 1:
            in_clusters += len(in_members)
            times = sum(out.pop(s, RepeatedRecord(1)).times for s in in_members)
            out[in_members[0]] = RepeatedRecord(times, min(lowest.get(s, 1.0) for s in in_members))
    note = {
        "near_copy_similarity": threshold,
        "near_copy_records": sum(1 for c in linked if sum(s in member_set for s in c) > 1),
        "members_in_near_copy_records": in_clusters,
        "non_members_near_a_member_record": len(leave),
    }
    return [s for s in non_members if s not in leave], out, note
