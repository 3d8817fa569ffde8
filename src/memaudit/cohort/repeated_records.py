"""Repeated records: what makes a model memorize a patient, found in the data before training.

Two mechanisms, both produced by real extracts (merged sources, re-registered patients,
copy-forward notes):

- **the same timeline under several subject ids**: subjects whose timed events (birth rows
  excluded) are the same codes in the same order; `identical_times` says whether their day
  offsets from the first event agree too (an exact copy) or only the codes do (a near copy, shifted
  in time). Each set of such subjects is one group; a model trained on the data sees that record
  `size` times per epoch.
- **a visit repeated within one subject**: the same set of at least `MIN_VISIT_CODES` codes at
  two or more times (copy-forward).

    frame (subject_id, time, code): s1 = [A@d0, B@d3, C@d9], s2 = [A@d100, B@d103, C@d109]
    → one group {size 2, identical_times True}     (offsets 0, 3, 9 in both)
"""

from __future__ import annotations

import polars as pl

MIN_VISIT_CODES = 3  # a repeated visit needs this many codes: one or two repeat by chance
US_PER_DAY = 86_400_000_000


def timeline_signatures(rows: pl.LazyFrame, birth_code: str) -> pl.DataFrame:
    """Per subject: the number of timed events, a hash of its code sequence and a hash of its
    (code, day offset) sequence. Codes sharing a time are put in code order, so two copies whose
    rows were written in another order still match."""
    timed = rows.filter(pl.col("time").is_not_null() & (pl.col("code") != birth_code))
    return (
        timed.sort("subject_id", "time", "code")
        .with_columns(
            ((pl.col("time") - pl.col("time").min().over("subject_id")).dt.total_microseconds() // US_PER_DAY)
            .cast(pl.Int64)
            .alias("day")
        )
        .group_by("subject_id")
        .agg(
            pl.len().alias("n_events"),
            pl.col("code").str.join("\x1f").hash().alias("codes_hash"),
            pl.concat_str(pl.col("code"), pl.col("day").cast(pl.String), separator="@")
            .str.join("\x1f")
            .hash()
            .alias("timed_hash"),
        )
        .collect()
    )


def repeated_groups(signatures: pl.DataFrame, min_events: int) -> list[dict]:
    """Sets of at least two subjects with the same code sequence (of at least `min_events`
    events): [{"subject_ids": [...], "size": n, "identical_times": bool, "n_events": k}], largest
    first."""
    groups = (
        signatures.filter(pl.col("n_events") >= min_events)
        .group_by("codes_hash")
        .agg(
            pl.col("subject_id").sort(),
            pl.len().alias("size"),
            (pl.col("timed_hash").n_unique() == 1).alias("identical_times"),
            pl.col("n_events").first(),
        )
        .filter(pl.col("size") > 1)
        .sort("size", "n_events", descending=True)
    )
    return [
        {
            "subject_ids": [int(s) for s in row["subject_id"]],
            "size": int(row["size"]),
            "identical_times": bool(row["identical_times"]),
            "n_events": int(row["n_events"]),
        }
        for row in groups.iter_rows(named=True)
    ]


def repeated_visits(rows: pl.LazyFrame, birth_code: str) -> dict[int, int]:
    """subject → how many of its visits (codes sharing a time) repeat an earlier visit's code set
    of at least MIN_VISIT_CODES codes; subjects without one are left out."""
    visits = (
        rows.filter(pl.col("time").is_not_null() & (pl.col("code") != birth_code))
        .group_by("subject_id", "time")
        .agg(
            # the visit's code set as the wrapping sum of its distinct codes' hashes: the same set
            # in any order gives the same key, without building a string per visit
            pl.col("code").hash().unique().sum().alias("visit"),
            pl.col("code").n_unique().alias("n"),
        )
        .filter(pl.col("n") >= MIN_VISIT_CODES)
        .group_by("subject_id", "visit")
        .len()
        .filter(pl.col("len") > 1)
        .group_by("subject_id")
        .agg((pl.col("len") - 1).sum().alias("repeats"))
        .collect()
    )
    return dict(zip(visits["subject_id"].to_list(), visits["repeats"].to_list()))


def record_groups(rows: pl.LazyFrame, birth_code: str) -> list[list[int]]:
    """The subject ids of each repeated-record group among `rows` (the same code sequence under
    several subject ids, any number of events), each sorted: its first id is the one kept where
    copies count once."""
    return [g["subject_ids"] for g in repeated_groups(timeline_signatures(rows, birth_code), min_events=1)]


def collapse_copies(
    members: list[int], non_members: list[int], groups: list[list[int]]
) -> tuple[list[int], list[int], dict[int, tuple[int, ...]], dict]:
    """The two arms with each repeated record counted once: a member group keeps its lowest id; a
    non-member whose record a member holds is dropped (the model trained on that record); a
    non-member group keeps its lowest id. Returns the arms, each kept member's other ids holding
    its record, and what was dropped, by count."""
    member_set, non_member_set = set(members), set(non_members)
    drop_members, drop_non_members, trained_on = set(), set(), set()
    copies: dict[int, tuple[int, ...]] = {}
    for group in groups:
        in_members = [s for s in group if s in member_set]
        in_non = [s for s in group if s in non_member_set]
        drop_members.update(in_members[1:])
        if len(in_members) > 1:
            copies[in_members[0]] = tuple(in_members[1:])
        if in_members:
            trained_on.update(in_non)
        else:
            drop_non_members.update(in_non[1:])
    note = {
        "groups": len(groups),
        "largest_group": max((len(g) for g in groups), default=0),
        "member_copies_counted_once": len(drop_members),
        "non_members_holding_a_member_record": len(trained_on),
        "non_member_copies_counted_once": len(drop_non_members),
    }
    dropped = drop_members | drop_non_members | trained_on
    kept = lambda arm: [s for s in arm if s not in dropped]
    return kept(members), kept(non_members), copies, note
