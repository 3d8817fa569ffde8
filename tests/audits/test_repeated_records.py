"""A record written under several subject ids is one patient to the audit: its copies are counted
once in each arm, a non-member holding a member's record leaves the non-member arm (the model
trained on that record), the report says how many, and a reference model that trained on a copy
of a held-out member's record does not count that member as unseen. The built-in trainer holds a
record's copies out of its reference model together."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memaudit.pipeline.build import unseen_records
from memaudit.synthetic.trainer import held_out_members
from memaudit.testing import make_context

CODES = ["ICD10CM//I10", "ICD10CM//E119", "ICD10CM//J45", "ICD10CM//K219", "ICD10CM//N390"]


def _timelines() -> dict[int, list[str]]:
    """Subjects 1-12 distinct; 20, 21 copy member 1; 30 (a non-member) copies member 2; 40 and 41
    (non-members) hold one record between them."""
    distinct = {s: [CODES[(s * 7 + i * (s % 4 + 1)) % 5] for i in range(8 + s)] for s in range(1, 13)}
    return {
        **distinct,
        20: distinct[1],
        21: distinct[1],
        30: distinct[2],
        40: ["ICD10CM//Z000"] * 9,
        41: ["ICD10CM//Z000"] * 9,
    }


MEMBERS = [*range(1, 7), 20, 21]


def _context(tmp_path: Path, rule: str):
    return make_context(
        tmp_path / rule,
        _timelines(),
        members=MEMBERS,
        # exact copies only: these timelines draw on five codes, so their multisets are alike
        overrides={
            "splits": {"repeated_records": rule, "near_copy_similarity": None},
            "tiers": ["none", "codes:2"],
        },
    )


def test_copies_count_once_and_a_non_member_with_a_member_record_leaves_its_arm(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "count_once")
    assert ctx.members == [1, 2, 3, 4, 5, 6]
    assert ctx.non_members == [*range(7, 13), 40]
    note = ctx.cohort.stream["repeated_records"]
    assert note == {
        "rule": "count_once",
        "groups": 3,
        "largest_group": 3,
        "member_copies_counted_once": 2,
        "non_members_holding_a_member_record": 1,
        "non_member_copies_counted_once": 1,
    }
    assert dict(ctx.cohort.record_copies) == {1: (20, 21)}
    # T4's repeated-record arm: member 1's record, held by three member ids
    assert {s: r.times for s, r in ctx.cohort.repeated.items()} == {1: 3}


def test_keep_audits_every_subject_id(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "keep")
    assert ctx.members == sorted(MEMBERS)
    assert ctx.non_members == [*range(7, 13), 30, 40, 41]
    assert ctx.cohort.stream["repeated_records"] == {"rule": "keep"}


def test_a_member_is_unseen_only_when_every_copy_of_its_record_was_held_out() -> None:
    note: dict = {}
    copies = {1: (20, 21)}
    assert unseen_records(frozenset({1, 20, 21, 3}), copies, note) == {1, 20, 21, 3}
    assert note["unseen_members_whose_copy_the_reference_saw"] == 0
    assert unseen_records(frozenset({1, 20, 3}), copies, note) == {20, 3}
    assert note["unseen_members_whose_copy_the_reference_saw"] == 1


def test_the_reference_holds_out_whole_records() -> None:
    members = np.arange(1, 101)
    groups = [[1, 2, 3, 4, 5], [10, 11], [50, 60, 70]]
    records = 100 - sum(len(g) - 1 for g in groups)
    for seed in range(20):
        unseen = set(held_out_members(members, 0.5, seed, groups))
        for group in groups:
            assert set(group) <= unseen or not set(group) & unseen, (seed, group)
        # half of the records, whatever their copies
        held_records = len(unseen) - sum(len(g) - 1 for g in groups if set(g) <= unseen)
        assert held_records == round(records / 2)
    # without groups the draw is the subject-level one it always was
    plain = held_out_members(members, 0.5, 3)
    rng = np.random.default_rng([3, 23])
    assert plain == sorted(int(s) for s in rng.choice(members, size=50, replace=False))


def test_near_copies_join_the_repeated_record_arm_and_a_non_member_near_one_leaves_its_arm(
    tmp_path: Path,
) -> None:
    """Member 2 is member 1's record with one code dropped; member 3 is an exact copy of member 1;
    non-member 60 is member 1's record with a code added. Members 1, 2, 3 are one record held
    three times (two exact, one near), and 60 leaves the non-member arm as an exact copy would."""
    rng = np.random.default_rng(4)
    pool = [f"ICD10CM//Q{i:03d}" for i in range(400)]
    distinct = {s: [pool[i] for i in rng.choice(400, 30, replace=False)] for s in range(1, 60)}
    record = distinct[1]
    timelines = {**distinct, 2: record[:10] + record[11:], 3: list(record), 60: [*record, "ICD10CM//Z000"]}
    ctx = make_context(
        tmp_path,
        timelines,
        members=list(range(1, 30)),
        overrides={"splits": {"repeated_records": "count_once"}, "tiers": ["none", "codes:2"]},
    )
    assert {s: r.times for s, r in ctx.cohort.repeated.items()} == {1: 3}
    assert ctx.cohort.repeated[1].near_copy_similarity == 29 / 30
    assert 60 not in ctx.non_members and 60 not in ctx.scored_non_members
    assert 2 in ctx.members and 3 not in ctx.members  # a near copy stays a subject; an exact one counts once
    note = ctx.cohort.stream["repeated_records"]
    assert note["near_copy_records"] == 1 and note["non_members_near_a_member_record"] == 1
