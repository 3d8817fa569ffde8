"""Fuzzing the two parsers of user input: whatever arrives, a UserInputError or a valid result."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import polars as pl
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config
from memaudit.errors import UserInputError

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 500), st.floats(-2, 2, allow_nan=False),
                    st.text(max_size=8), st.lists(st.text(max_size=6), max_size=3))
keys = st.sampled_from(["seed", "tiers", "generation", "n_samples", "t2", "threshold", "subjects_per_arm", "splits",
                        "members", "top_p", "t4", "fprs", "bogus", "sensitive_groups", "icd10cm", "label"])
configs = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_config_parser_accepts_or_explains(raw: object) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.yaml"
        path.write_text(yaml.safe_dump(raw))
        try:
            config = load_config(path)
        except UserInputError as e:
            assert e.expected and e.fix
            return
        assert config.tiers and config["generation"]["n_samples"] >= 1


def test_t5_sample_counts_must_be_positive() -> None:
    for key in ("n_samples", "n_samples_original"):
        try:
            load_config(overrides={"t5": {key: 0}})
        except UserInputError as e:
            assert f"t5.{key}" in e.expected and e.fix
        else:
            raise AssertionError(f"t5.{key}: 0 was accepted")


columns = st.fixed_dictionaries({}, optional={
    "subject_id": st.sampled_from([pl.Int64, pl.String, pl.Float64]),
    "time": st.sampled_from([pl.Datetime("us"), pl.Int64, pl.String]),
    "code": st.sampled_from([pl.String, pl.Int64]),
    "numeric_value": st.sampled_from([pl.Float32, pl.String]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns, st.lists(st.tuples(st.integers(1, 4), st.integers(0, 5), st.sampled_from(["A", "B", "SEX//F", ""])),
                         max_size=12), st.booleans())
def test_meds_reader_accepts_or_explains(dtypes: dict, rows: list, with_splits: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        (root / "data" / "train").mkdir(parents=True)
        (root / "metadata").mkdir()
        base = {"subject_id": [r[0] for r in rows], "time": [datetime(2020, 1, 1 + r[1]) for r in rows],
                "code": [r[2] for r in rows], "numeric_value": [1.0 for _ in rows]}
        frame = pl.DataFrame({c: pl.Series(base[c]).cast(t, strict=False) for c, t in dtypes.items()}) if dtypes else pl.DataFrame()
        frame.write_parquet(root / "data" / "train" / "0.parquet")
        if with_splits:
            ids = sorted({r[0] for r in rows})
            pl.DataFrame({"subject_id": ids, "split": ["train"] * len(ids)},
                         schema={"subject_id": pl.Int64, "split": pl.String}).write_parquet(
                root / "metadata" / "subject_splits.parquet")
        try:
            ds = MedsDataset(root)
            timelines = ds.timelines(ds.arm_ids("train"))
        except UserInputError as e:
            assert e.expected and e.fix
            return
        assert all(len(t.codes) == len(t.days) for t in timelines.values())
