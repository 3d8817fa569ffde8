"""`memaudit scan` before training: repeated records found in the data (one group per repeated
canary, of its size, none among members seen once), ranked subjects named by salted hash, the
gate's exit codes, and bad input in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import meds
import polars as pl
import pytest

from memaudit.report.privacy import subject_hash
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import _canary_repeats

REPETITIONS = (1, 5, 20, 50)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scan") / "meds"
    config = SynthConfig(
        n_subjects=300,
        seed=5,
        canary_repetitions=REPETITIONS,
        canaries_per_repetition=2,
        repetitions_in_data=True,
    )
    write_cohort(out, config, progress=False)
    return out


def _scan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memaudit.cli", "scan", *args], capture_output=True, text=True, timeout=600
    )


def test_one_group_per_repeated_canary_of_its_size(cohort: Path, tmp_path: Path) -> None:
    done = _scan("--data", str(cohort), "--out", str(tmp_path / "scan"))
    assert done.returncode == 0, done.stderr
    scan = json.loads((tmp_path / "scan" / "scan.json").read_text())
    salt = (tmp_path / "scan" / "salt.secret").read_text().strip()
    truth = pl.read_parquet(cohort / "ground_truth.parquet")
    originals = truth.filter(pl.col("copy_of").is_null() & (pl.col("canary_repetitions") > 1))
    expected = {
        frozenset(
            subject_hash(salt, s)
            for s in [sid, *truth.filter(pl.col("copy_of") == sid)["subject_id"].to_list()]
        )
        for sid in originals["subject_id"].to_list()
    }
    groups = scan["repeated_records"]["groups"]
    assert {frozenset(g["members"]) for g in groups} == expected  # recall 1.0, nothing else
    assert sorted(g["size"] for g in groups) == sorted(r for r in REPETITIONS for _ in range(2) if r > 1)
    assert all(g["identical_times"] for g in groups)
    assert scan["near_copies"]["pairs"] == []  # exact copies are not near copies, nor unrelated patients
    assert scan["level"] == "high"
    top = scan["subjects_at_risk"][0]
    assert top["copies"] == 50 and len(top["subject"]) == 16
    raw_ids = {str(s) for s in truth["subject_id"].to_list()}
    assert not any(i in (tmp_path / "scan" / "scan.json").read_text() for i in raw_ids)
    html = (tmp_path / "scan" / "scan.html").read_text()
    assert html.count("<tr><td>50</td>") == 2 and "Level: HIGH" in html


def test_the_gate_exit_codes(cohort: Path, tmp_path: Path) -> None:
    assert _scan("--data", str(cohort), "--out", str(tmp_path / "a"), "--fail-on", "high").returncode == 3
    once = tmp_path / "once"
    write_cohort(
        once,
        SynthConfig(n_subjects=200, seed=6, canary_repetitions=(1,), canaries_per_repetition=2),
        progress=False,
    )
    done = _scan("--data", str(once), "--out", str(tmp_path / "b"), "--fail-on", "high")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "b" / "scan.json").read_text())["repeated_records"]["groups"] == []


def test_the_trainer_does_not_repeat_what_the_data_already_repeats(cohort: Path, tmp_path: Path) -> None:
    assert _canary_repeats(cohort) == {}
    once = tmp_path / "once"
    write_cohort(
        once,
        SynthConfig(n_subjects=200, seed=6, canary_repetitions=(1, 5), canaries_per_repetition=2,
                    repetitions_in_data=False),
        progress=False,
    )  # fmt: skip
    assert sorted(_canary_repeats(once).values()) == [1, 1, 5, 5]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    done = _scan("--data", str(tmp_path / "missing"), "--out", str(tmp_path / "scan"))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "MEDS dataset" in lines[0]
    assert not (tmp_path / "scan").exists()


def test_a_near_copy_with_a_code_dropped_and_dates_shifted_is_found(cohort: Path, tmp_path: Path) -> None:
    """A seen-once training patient re-registered: one code dropped, every date 400 days later,
    under a new subject id. The scan pairs the two with their similarity; the exact groups stay."""
    data = tmp_path / "meds"
    shutil.copytree(cohort, data)
    truth = pl.read_parquet(cohort / "ground_truth.parquet")
    once = truth.filter((pl.col("canary_repetitions") <= 1) & pl.col("copy_of").is_null())["subject_id"]
    splits = pl.read_parquet(data / "metadata" / "subject_splits.parquet")
    train = set(splits.filter(pl.col("split") == "train")["subject_id"].to_list())
    original = next(s for s in once.to_list() if s in train)
    rows = pl.read_parquet(data / "data" / "train" / "*.parquet").filter(pl.col("subject_id") == original)
    timed = rows.filter(pl.col("time").is_not_null() & (pl.col("code") != meds.birth_code))
    dropped = timed.row(timed.height // 2, named=True)
    copy_id = int(splits["subject_id"].max()) + 1
    indexed = rows.with_row_index()
    drop_at = indexed.filter((pl.col("time") == dropped["time"]) & (pl.col("code") == dropped["code"]))[
        "index"
    ]
    copy = (
        indexed.filter(pl.col("index") != drop_at[0])
        .drop("index")
        .with_columns(
            pl.lit(copy_id, dtype=pl.Int64).alias("subject_id"), pl.col("time") + timedelta(days=400)
        )
    )
    copy.write_parquet(data / "data" / "train" / "near_copy.parquet")
    pl.concat([splits, pl.DataFrame({"subject_id": [copy_id], "split": ["train"]})]).write_parquet(
        data / "metadata" / "subject_splits.parquet"
    )
    done = _scan("--data", str(data), "--out", str(tmp_path / "scan"))
    assert done.returncode == 0, done.stderr
    scan = json.loads((tmp_path / "scan" / "scan.json").read_text())
    salt = (tmp_path / "scan" / "salt.secret").read_text().strip()
    pairs = scan["near_copies"]["pairs"]
    assert [sorted(p["subjects"]) for p in pairs] == [
        sorted(subject_hash(salt, s) for s in (original, copy_id))
    ]
    n = timed.height
    assert pairs[0]["similarity"] == pytest.approx((n - 1) / n, abs=1e-4)
    assert len(scan["repeated_records"]["groups"]) == sum(1 for r in REPETITIONS if r > 1) * 2
    assert "1 pair(s)" in (tmp_path / "scan" / "scan.html").read_text()
