"""Bad input, kill-and-resume, determinism, concurrency and PHI safety of the tool itself."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

CONFIG = (
    "tiers: [none, static, codes:10]\ngeneration:\n  n_samples: 4\n  max_new_codes: 24\n"
    "statistics:\n  n_bootstrap: 100\nt5:\n  max_cases: 4\n  n_null: 5\n  n_samples: 4\n  "
    "n_samples_original: 8\n"
)


def audit(
    data: Path, model: Path, out: Path, *extra: str, config: str = CONFIG, **kw
) -> subprocess.CompletedProcess:
    cfg = out.parent / f"{out.name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(config)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "memaudit.cli",
            "audit",
            "--data",
            str(data),
            "--model",
            str(model),
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--quiet",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def mutate(cohort_dir: Path, tmp: Path, change: Callable[[Path], None]) -> Path:
    copy = tmp / "meds"
    shutil.copytree(cohort_dir, copy)
    change(copy)
    return copy


def _rewrite_train(fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        shard = root / "data" / "train" / "0.parquet"
        fn(pl.read_parquet(shard)).write_parquet(shard)

    return change


def _splits(fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / "metadata" / "subject_splits.parquet"
        fn(pl.read_parquet(path)).write_parquet(path)

    return change


def _truncate(root: Path) -> None:
    shard = root / "data" / "held_out" / "0.parquet"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])


def _reverse_first_subject(df: pl.DataFrame) -> pl.DataFrame:
    first = df["subject_id"][0]
    return pl.concat(
        [df.filter(pl.col("subject_id") == first).reverse(), df.filter(pl.col("subject_id") != first)]
    )


BAD_MEDS = {
    "missing column": (_rewrite_train(lambda d: d.drop("code")), "column 'code'"),
    "wrong dtype": (
        _rewrite_train(lambda d: d.with_columns(pl.col("subject_id").cast(pl.String))),
        "subject_id",
    ),
    "empty split": (_splits(lambda d: d.filter(pl.col("split") != "held_out")), "held_out"),
    "null codes": (
        _rewrite_train(
            lambda d: d.with_columns(
                pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("code")).alias("code")
            )
        ),
        "null",
    ),
    "times out of order": (_rewrite_train(_reverse_first_subject), "sorted by time"),
    "overlapping arms": (
        _splits(
            lambda d: pl.concat(
                [
                    d,
                    d.filter(pl.col("split") == "train")
                    .head(3)
                    .with_columns(pl.lit("held_out").alias("split")),
                ]
            )
        ),
        "both",
    ),
    "truncated parquet": (_truncate, "parquet"),
    "not MEDS at all": (lambda root: shutil.rmtree(root / "data"), "MEDS"),
}


@pytest.mark.parametrize("case", sorted(BAD_MEDS))
def test_bad_meds_input_gets_one_line_exit_2_and_no_outputs(
    case: str, cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    change, needle = BAD_MEDS[case]
    data = mutate(cohort_dir, tmp_path, change)
    result = audit(data, model_dir, tmp_path / "run", "--subjects-per-arm", "400")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Fix:" in lines[0], lines
    assert not (tmp_path / "run" / "report.json").exists()


def test_tiers_longer_than_every_timeline_are_refused(
    cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    result = audit(cohort_dir, model_dir, tmp_path / "run", config=CONFIG.replace("codes:10", "codes:400"))
    assert result.returncode == 2 and "codes:400" in result.stderr and "too short" in result.stderr


def test_codes_the_model_never_saw_are_counted_not_fatal(
    cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    data = mutate(
        cohort_dir,
        tmp_path,
        _rewrite_train(
            lambda d: d.with_columns(
                pl.when(pl.col("code").str.starts_with("LAB//SODIUM"))
                .then(pl.lit("LAB//NEVER_SEEN//HIGH"))
                .otherwise(pl.col("code"))
                .alias("code")
            )
        ),
    )
    result = audit(data, model_dir, tmp_path / "run", "--subjects-per-arm", "30")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert (
        report["cohort"]["unknown_codes"]["distinct"] >= 1
        and report["cohort"]["unknown_codes"]["occurrences"] >= 1
    )


def test_a_full_disk_gets_one_line_and_exit_2(cohort_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    def small_files() -> None:  # every file the run writes may hold at most 64 KiB: the disk "fills"
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    result = audit(
        cohort_dir, model_dir, tmp_path / "run", "--subjects-per-arm", "60", preexec_fn=small_files
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Fix:" in result.stderr
    assert not (tmp_path / "run" / "report.json").exists()
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_a_second_run_into_a_locked_run_dir_is_refused(
    cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    from memaudit.rundir import RunDir

    with RunDir.open(tmp_path / "run"):
        result = audit(cohort_dir, model_dir, tmp_path / "run", "--subjects-per-arm", "20")
    assert result.returncode == 2 and "locked" in result.stderr


def test_pickle_checkpoints_are_refused_unless_trusted(model_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from memaudit.adapters.hf import HFAdapter
    from memaudit.errors import UserInputError

    pickled = tmp_path / "pickled"
    shutil.copytree(model_dir, pickled)
    torch.save(load_file(pickled / "model.safetensors"), pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    with pytest.raises(UserInputError, match="trust-pickle"):
        HFAdapter(pickled)
    assert HFAdapter(pickled, trust_pickle=True).score([["SEX//F"]])[0].logprobs.shape == (1,)


# --- resumability, determinism, PHI ----------------------------------------------------------------
RESUME_CONFIG = CONFIG.replace("n_samples: 4", "n_samples: 8").replace(
    "max_new_codes: 24", "max_new_codes: 48"
)


def _without_timestamp(path: Path) -> dict:
    report = json.loads(path.read_text())
    report.pop("created")
    return report


@pytest.fixture(scope="module")
def reference_run(
    cohort_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("reference") / "run"
    result = audit(cohort_dir, model_dir, out, config=RESUME_CONFIG)
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result.stdout + result.stderr


def _cached_rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_mid_generation_then_rerun_resumes_to_the_same_report(
    cohort_dir: Path, model_dir: Path, tmp_path: Path, reference_run
) -> None:
    ref_dir, _ = reference_run
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(ref_dir / "salt.secret", out / "salt.secret")  # hashes are salted; share the salt to compare
    cfg = tmp_path / "run.yaml"
    cfg.write_text(RESUME_CONFIG)
    cmd = [
        sys.executable,
        "-m",
        "memaudit.cli",
        "audit",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--config",
        str(cfg),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while _cached_rows(out / "cache.sqlite") == 0 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed mid-generation"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _cached_rows(out / "cache.sqlite")
    assert partial > 0 and not (out / "report.json").exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    log = json.loads((out / "run_log.json").read_text())
    assert log["cache_hits"] >= partial
    assert _without_timestamp(out / "report.json") == _without_timestamp(ref_dir / "report.json")


def test_two_runs_with_the_same_seed_give_the_same_report(
    cohort_dir: Path, model_dir: Path, tmp_path: Path, reference_run
) -> None:
    ref_dir, _ = reference_run
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(ref_dir / "salt.secret", out / "salt.secret")
    assert audit(cohort_dir, model_dir, out, config=RESUME_CONFIG).returncode == 0
    assert _without_timestamp(out / "report.json") == _without_timestamp(ref_dir / "report.json")
    assert (out / "report.html").read_text().split("·")[3:] == (ref_dir / "report.html").read_text().split(
        "·"
    )[3:]


def test_no_subject_id_or_raw_code_in_any_output(cohort_dir: Path, reference_run) -> None:
    ref_dir, logs = reference_run
    data = pl.read_parquet(cohort_dir / "data")
    ids = {str(i) for i in data["subject_id"].unique().to_list()}
    codes = set(data["code"].unique().to_list())
    texts = {"logs": logs}
    for name in ("report.json", "report.html", "run_log.json"):
        texts[name] = (ref_dir / name).read_text()
    subjects = pl.read_parquet(ref_dir / "subjects.parquet")
    texts["subjects.parquet"] = subjects.write_csv()
    salt = (ref_dir / "salt.secret").read_text().strip()
    for name, text in texts.items():
        tokens = set(re.findall(r"\d+", text))
        assert not tokens & ids, f"a subject id in {name}"
        leaked = [c for c in codes if c in text]
        assert not leaked, f"raw codes in {name}: {leaked[:3]}"
        assert salt not in text, f"the salt in {name}"
    assert all(re.fullmatch(r"[0-9a-f]{16}", h) for h in subjects["subject"])


def test_examples_appear_only_when_opted_in(cohort_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    result = audit(cohort_dir, model_dir, tmp_path / "run", "--subjects-per-arm", "60", "--include-examples")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    if report["flagged_subjects"]:
        assert report["examples"] and all("//" in c for e in report["examples"] for c in e["timeline"])
    else:
        assert report["examples"] == []
