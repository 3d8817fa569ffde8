"""Reading MEDS: the reader takes any parquet it is given and either reads it or explains why not."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memaudit.cohort.meds_reader import MedsDataset
from memaudit.errors import UserInputError

columns = st.fixed_dictionaries(
    {},
    optional={
        "subject_id": st.sampled_from([pl.Int64, pl.String, pl.Float64]),
        "time": st.sampled_from([pl.Datetime("us"), pl.Int64, pl.String]),
        "code": st.sampled_from([pl.String, pl.Int64]),
        "numeric_value": st.sampled_from([pl.Float32, pl.String]),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    columns,
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 5), st.sampled_from(["A", "B", "SEX//F", ""])),
        max_size=12,
    ),
    st.booleans(),
)
def test_meds_reader_accepts_or_explains(dtypes: dict, rows: list, with_splits: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "data" / "train").mkdir(parents=True)
        (root / "metadata").mkdir()
        base = {
            "subject_id": [r[0] for r in rows],
            "time": [datetime(2020, 1, 1 + r[1]) for r in rows],
            "code": [r[2] for r in rows],
            "numeric_value": [1.0 for _ in rows],
        }
        frame = (
            pl.DataFrame({c: pl.Series(base[c]).cast(t, strict=False) for c, t in dtypes.items()})
            if dtypes
            else pl.DataFrame()
        )
        frame.write_parquet(root / "data" / "train" / "0.parquet")
        if with_splits:
            ids = sorted({r[0] for r in rows})
            pl.DataFrame(
                {"subject_id": ids, "split": ["train"] * len(ids)},
                schema={"subject_id": pl.Int64, "split": pl.String},
            ).write_parquet(root / "metadata" / "subject_splits.parquet")
        try:
            ds = MedsDataset(root)
            timelines = ds.timelines(ds.arm_ids("train"))
        except UserInputError as e:
            assert e.expected and e.fix
            return
        assert all(len(t.codes) == len(t.days) for t in timelines.values())


def _write(root: Path, split_file: bool, rows: list[tuple[int, int, str]]) -> None:
    for split, ids in (("train", (1, 2)), ("held_out", (3, 4))):
        (root / "data" / split).mkdir(parents=True, exist_ok=True)
        part = [r for r in rows if r[0] in ids]
        pl.DataFrame(
            {
                "subject_id": [r[0] for r in part],
                "time": [datetime(2020, 1, 1 + r[1]) for r in part],
                "code": [r[2] for r in part],
            }
        ).write_parquet(root / "data" / split / "0.parquet")
    if split_file:
        (root / "metadata").mkdir()
        pl.DataFrame(
            {"subject_id": [1, 2, 3, 4], "split": ["train", "train", "held_out", "held_out"]}
        ).write_parquet(root / "metadata" / "subject_splits.parquet")


def test_repeated_rows_are_valid_meds_and_stay_in_the_stream(tmp_path: Path) -> None:
    rows = [(1, 0, "TIMELINE//START"), (1, 1, "A"), (1, 1, "A"), (2, 0, "B"), (3, 0, "C"), (4, 0, "D")]
    _write(tmp_path, True, rows)
    timelines = MedsDataset(tmp_path).timelines([1])
    assert timelines[1].codes == ("TIMELINE//START", "A", "A")


def test_splits_come_from_data_folders_when_the_splits_file_is_missing(tmp_path: Path) -> None:
    _write(tmp_path, False, [(1, 0, "A"), (2, 0, "B"), (3, 0, "C"), (4, 0, "D")])
    ds = MedsDataset(tmp_path)
    assert (
        ds.splits_from_folders
        and list(ds.arm_ids("train")) == [1, 2]
        and list(ds.arm_ids("held_out")) == [3, 4]
    )
