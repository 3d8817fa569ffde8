"""`memaudit compare`: two audits of one model with different seeds and salts pass the gate
(paired through the cohort's subjects), a model trained on repeated records fails it against the
same recipe trained with --dedup, and runs that cannot be compared are refused in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import TrainConfig, train_model

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, tiny_audit: dict, seed: int, **extra) -> Path:
    path = tmp_path / f"audit_{seed}_{len(extra)}.yaml"
    path.write_text(yaml.safe_dump({**tiny_audit, "seed": seed, **extra}))
    return path


def _audit(memaudit_cli: Callable, data: Path, model: Path, out: Path, config: Path) -> Path:
    done = memaudit_cli("audit", "--quiet", "--data", str(data), "--model", str(model), "--out", str(out),
                        "--config", str(config), timeout=1200)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_two_audits_of_one_model_pass_and_incomparable_runs_are_refused(
    memaudit_cli: Callable, cohort_dir: Path, model_dir: Path, tiny_audit: dict, tmp_path: Path
) -> None:
    a = _audit(memaudit_cli, cohort_dir, model_dir, tmp_path / "a", _config(tmp_path, tiny_audit, 1))
    b = _audit(memaudit_cli, cohort_dir, model_dir, tmp_path / "b", _config(tmp_path, tiny_audit, 2))
    done = memaudit_cli("compare", str(a), str(b), "--data", str(cohort_dir), "--out", str(tmp_path / "ab"),
                        "--fail-on-regression")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    comparison = json.loads((tmp_path / "ab" / "compare.json").read_text())
    assert comparison["design"] == "paired" and not comparison["regression"]
    assert any(name.startswith("T4 ") for name in comparison["measures"])
    assert (tmp_path / "ab" / "compare.md").read_text().startswith("# memaudit compare")
    other = _audit(memaudit_cli, cohort_dir, model_dir, tmp_path / "c",
                   _config(tmp_path, tiny_audit, 1, tiers=["none", "static"]))  # fmt: skip
    refused = memaudit_cli("compare", str(a), str(other), "--out", str(tmp_path / "ac"))
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1 and "tiers" in lines[0], refused.stderr


def test_a_model_trained_on_repeated_records_is_a_regression_against_dedup(
    memaudit_cli: Callable, tiny_audit: dict, tmp_path: Path
) -> None:
    data = tmp_path / "meds"
    write_cohort(
        data,
        # half of the members' records written 5 times: the audit counts each record once, so the
        # regression must reach many patients for an average over members to show it
        SynthConfig(n_subjects=300, seed=12, canary_repetitions=(5,), canaries_per_repetition=90),
        progress=False,
    )  # fmt: skip
    for name, dedup in (("dedup", True), ("plain", False)):
        train_model(data, tmp_path / name, TrainConfig(epochs=12, seed=1, dedup=dedup), progress=False)
    config = _config(tmp_path, tiny_audit, 1)
    a = _audit(memaudit_cli, data, tmp_path / "dedup", tmp_path / "run_dedup", config)
    b = _audit(memaudit_cli, data, tmp_path / "plain", tmp_path / "run_plain", config)
    done = memaudit_cli("compare", str(a), str(b), "--data", str(data), "--out", str(tmp_path / "ab"),
                        "--fail-on-regression")  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    comparison = json.loads((tmp_path / "ab" / "compare.json").read_text())
    t4 = [m for name, m in comparison["measures"].items() if name.startswith("T4 ")]
    assert any(m["worse"] and m["difference"] > comparison["margin"] for m in t4)
