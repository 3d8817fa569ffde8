"""Near copies found by MinHash LSH over code multisets, checked by the exact Jaccard."""

from __future__ import annotations

from datetime import datetime, timedelta

import meds
import numpy as np
import polars as pl

from memaudit.cohort.near_copies import clusters, near_copy_pairs
from memaudit.cohort.repeated_records import record_groups, timeline_signatures

COMMON = [f"LAB//{i}" for i in range(12)]  # codes every patient has


def _rows(timelines: dict[int, list[str]], shift: dict[int, int] | None = None) -> pl.LazyFrame:
    rows = []
    for s, codes in timelines.items():
        start = datetime(2020, 1, 1) + timedelta(days=(shift or {}).get(s, 0))
        rows.append((s, datetime(1950, 1, 1), meds.birth_code))
        rows += [(s, start + timedelta(days=3 * i), c) for i, c in enumerate(codes)]
    return pl.DataFrame(rows, schema=["subject_id", "time", "code"], orient="row").lazy()


def _cohort(n: int, seed: int = 0) -> dict[int, list[str]]:
    """n unrelated patients: the common codes plus 20 drawn from 300 others, in random order."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in range(n):
        codes = COMMON + [f"DIAGNOSIS//ICD10CM//X{k}" for k in rng.choice(300, 20, replace=False)]
        out[s] = [codes[i] for i in rng.permutation(len(codes))]
    return out


def test_a_copy_with_one_code_dropped_and_dates_shifted_is_found() -> None:
    timelines = _cohort(200)
    timelines[1000] = timelines[5][:7] + timelines[5][8:]  # one code dropped
    pairs = near_copy_pairs(_rows(timelines, shift={1000: 400}), meds.birth_code, 0.9)
    assert pairs.select("a", "b").rows() == [(5, 1000)]
    assert pairs["similarity"][0] == (len(timelines[5]) - 1) / len(timelines[5])


def test_unrelated_patients_with_common_codes_are_not_near_copies() -> None:
    timelines = _cohort(300, seed=1)
    assert near_copy_pairs(_rows(timelines), meds.birth_code, 0.9).is_empty()
    # the same patients share 12 of ~32 codes: a low threshold would find them
    assert not near_copy_pairs(_rows(timelines), meds.birth_code, 0.3).is_empty()


def test_exact_groups_are_unchanged_and_a_near_copy_links_to_one_of_them() -> None:
    timelines = _cohort(100, seed=2)
    for copy in (500, 501, 502):  # an exact record written 4 times
        timelines[copy] = list(timelines[7])
    timelines[600] = timelines[7] + ["PROCEDURE//extra"]  # and a near copy of it
    rows = _rows(timelines, shift={501: 90})
    assert record_groups(rows, meds.birth_code) == [[7, 500, 501, 502]]
    pairs = near_copy_pairs(rows, meds.birth_code, 0.9, sequences=timeline_signatures(rows, meds.birth_code))
    assert pairs.select("a", "b").rows() == [(7, 600)]  # exact copies are not near copies
    assert clusters(pairs) == [[7, 600]]
