from __future__ import annotations

from pathlib import Path

import meds
import polars as pl
import pyarrow.parquet as pq

from memaudit.cohort.meds_reader import MedsDataset
from memaudit.cohort.sensitive import GroupMatcher, build_groups
from memaudit.config import AuditConfig
from memaudit.synthetic.cohort import SynthConfig, write_cohort


def test_every_shard_and_metadata_validate_against_meds_schema(cohort_dir: Path) -> None:
    shards = sorted((cohort_dir / "data").rglob("*.parquet"))
    assert {p.parent.name for p in shards} == {"train", "tuning", "held_out"}
    for shard in shards:
        table = pq.read_table(shard)
        meds.DataSchema.validate(table)
        df = pl.from_arrow(table)
        assert df["subject_id"].is_sorted()
        assert (
            df.group_by("subject_id", maintain_order=True)
            .agg(pl.col("time").is_sorted().alias("ok"))["ok"]
            .all()
        )
    meds.CodeMetadataSchema.validate(pq.read_table(cohort_dir / "metadata" / "codes.parquet"))
    meds.SubjectSplitSchema.validate(pq.read_table(cohort_dir / "metadata" / "subject_splits.parquet"))
    assert (cohort_dir / "metadata" / "dataset.json").exists()


def test_no_held_out_event_is_in_training_data(cohort_dir: Path) -> None:
    train = pl.read_parquet(cohort_dir / "data" / "train")
    held = pl.read_parquet(cohort_dir / "data" / "held_out")
    assert set(train["subject_id"]).isdisjoint(set(held["subject_id"]))
    splits = pl.read_parquet(cohort_dir / "metadata" / "subject_splits.parquet")
    held_ids = set(splits.filter(pl.col("split") == "held_out")["subject_id"])
    assert held_ids == set(held["subject_id"]) and held_ids.isdisjoint(set(train["subject_id"]))


def test_ground_truth_records_canaries_and_both_kinds_of_plant(cohort_dir: Path) -> None:
    gt = pl.read_parquet(cohort_dir / "ground_truth.parquet")
    originals = gt.filter(pl.col("copy_of").is_null())
    assert originals.height == 400
    canaries = originals.filter(pl.col("canary_repetitions") > 0)
    assert sorted(canaries["canary_repetitions"].unique().to_list()) == [1, 5, 20, 50]
    assert set(canaries["split"]) == {"train"}
    # each ×r canary is in the data r times: r - 1 copies in the training split, linked to it
    copies = gt.filter(pl.col("copy_of").is_not_null())
    per_original = copies.group_by("copy_of").len()
    expected = dict(zip(canaries["subject_id"].to_list(), (r - 1 for r in canaries["canary_repetitions"])))
    assert dict(zip(per_original["copy_of"].to_list(), per_original["len"].to_list())) == {
        s: n for s, n in expected.items() if n
    }
    assert set(copies["split"]) == {"train"}
    plants = gt.explode("planted").drop_nulls("planted").unnest("planted")
    assert {"random", "pattern"} <= set(plants["kind"])
    assert {"hiv", "substance_use", "mental_health", "sti"} <= set(plants["group"])
    # every planted group is really in that subject's timeline
    ds = MedsDataset(cohort_dir)
    matcher = GroupMatcher(build_groups(AuditConfig().sensitive_groups))
    timelines = ds.timelines(plants["subject_id"].unique().to_list())
    for sid, group in plants.select("subject_id", "group").iter_rows():
        assert matcher.has_group(timelines[sid].codes, group)


def test_cohort_is_clinically_shaped(cohort_dir: Path) -> None:
    ds = MedsDataset(cohort_dir)
    df = pl.read_parquet(cohort_dir / "data")
    codes = set(df["code"])
    for prefix in (
        "AGE//",
        "SEX//",
        "TIME//",
        "DIAGNOSIS//ICD10CM//",
        "LAB//",
        "MEDICATION//",
        "PROCEDURE//",
    ):
        assert any(c.startswith(prefix) for c in codes), prefix
    assert {"LOW", "NORMAL", "HIGH"} <= {c.rsplit("//", 1)[-1] for c in codes if c.startswith("LAB//")}
    labs = df.filter(pl.col("code").str.starts_with("LAB//"))
    assert labs["numeric_value"].null_count() == 0
    prevalence = ds.code_prevalence()
    assert any(p < 0.005 for c, p in prevalence.items() if c.startswith("DIAGNOSIS//"))
    elderly = [c for c in codes if c.startswith("AGE//") and int(c[5:].split("-")[0]) >= 85]
    assert elderly
    described = pl.read_parquet(cohort_dir / "metadata" / "codes.parquet")
    b20 = described.filter(pl.col("code") == "DIAGNOSIS//ICD10CM//B20")
    if b20.height:
        assert "immunodeficiency" in b20["description"][0]


def test_same_seed_same_cohort_whatever_the_shard_size(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_cohort(a, SynthConfig(n_subjects=60, seed=5, canaries_per_repetition=2), progress=False)
    write_cohort(
        b, SynthConfig(n_subjects=60, seed=5, canaries_per_repetition=2, shard_size=7), progress=False
    )
    read = lambda d: pl.read_parquet(d / "data").sort("subject_id", "time", maintain_order=True)
    assert read(a).equals(read(b))
    assert len(list((b / "data" / "train").glob("*.parquet"))) > 1


def test_a_planted_code_moved_into_its_window_keeps_times_ordered_and_a_short_timeline_keeps_it() -> None:
    """The canary's plant moves to a clinical position drawn from the window, at the time of the
    event it then precedes; a timeline with fewer clinical codes than the window starts at keeps
    the plant where it was (appending it at the end put an early time after later ones)."""
    from datetime import datetime, timedelta

    import numpy as np

    from memaudit.synthetic.cohort import _place

    start = datetime(2020, 1, 1)
    events = [(start, "SEX//F", None)] + [(start + timedelta(days=i), f"DX//{i}", None) for i in range(40)]
    long = list(events)
    _place(long, "DX//3", (12, 30), np.random.default_rng(0))
    at = [e[1] for e in long].index("DX//3")
    assert 12 <= at - 1 < 30 and sorted(long, key=lambda e: e[0]) == long
    short = events[:10]
    before = list(short)
    _place(short, "DX//3", (12, 30), np.random.default_rng(0))
    assert short == before
