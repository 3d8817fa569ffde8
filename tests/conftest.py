"""Shared fixtures: one tiny real cohort, one tiny real model trained on it, and one audit of it,
each built once per test session. Fixtures that train a model are marked `slow` by their users
(`pytest -m "not slow"` runs the rest in about a minute)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from memaudit.audits.runner import AuditOutcome
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import TrainConfig, train_model

TINY = SynthConfig(n_subjects=400, seed=3, canary_repetitions=(1, 5, 20, 50), canaries_per_repetition=5)

# the audit of the tiny model that the audits' tests read
TINY_AUDIT = {
    "subjects_per_arm": None,
    "tiers": ["none", "static", "codes:10", "codes:20"],
    "generation": {"n_samples": 6, "max_new_codes": 64},
    "statistics": {"n_bootstrap": 200},
    "t5": {"max_cases": 12, "n_null": 19, "n_samples": 8, "n_samples_original": 16},
}


def _memaudit_cli(*args: str, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m memaudit.cli ARGS` in a fresh process, as a user runs it: exit code, stdout, stderr
    (`env`: variables set on top of this process's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "memaudit.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def memaudit_cli() -> Callable[..., subprocess.CompletedProcess]:
    """Runs the `memaudit` command: memaudit_cli("audit", "--data", ..., timeout=600)."""
    return _memaudit_cli


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cohort") / "meds"
    write_cohort(out, TINY, progress=False)
    return out


@pytest.fixture(scope="session")
def model_dir(cohort_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "hf"
    train_model(cohort_dir, out, TrainConfig(epochs=20, seed=1), progress=False)
    return out


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 subjects: for end-to-end runs of models trained in the test itself."""
    out = tmp_path_factory.mktemp("small") / "meds"
    write_cohort(out, SynthConfig(n_subjects=80, seed=9, canaries_per_repetition=2), progress=False)
    return out


def run_pipeline(data: Path | MedsDataset, adapter, config, run_dir: Path, reference=None) -> AuditOutcome:
    """prepare → run on a real adapter, as the pipeline does, without writing the report."""
    from memaudit import pipeline
    from memaudit.rundir import RunDir

    dataset = data if isinstance(data, MedsDataset) else MedsDataset(data)
    with RunDir.open(run_dir) as run:
        ctx = pipeline.prepare(dataset, config, adapter, has_reference=reference is not None)
        return pipeline.run(ctx, dataset, adapter, run, reference)


@pytest.fixture(scope="session")
def tiny_audit() -> dict:
    """The overrides of the tiny audit, for tests that vary it."""
    return TINY_AUDIT


@pytest.fixture(scope="session")
def audit_run():
    """The helper above, for tests that audit a model of their own."""
    return run_pipeline


@pytest.fixture(scope="session")
def tiny_outcome(cohort_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> AuditOutcome:
    from memaudit.adapters.hf import HFAdapter

    return run_pipeline(
        cohort_dir,
        HFAdapter(model_dir),
        load_config(overrides=TINY_AUDIT),
        tmp_path_factory.mktemp("tiny_audit"),
    )


SLOW_FIXTURES = {
    "model_dir",
    "release_run",
    "tiny_outcome",
    "foreign",
    "validation",
    "run_dir",
    "reference_run",
    "reference_dir",
}


def _trains_a_model(item: pytest.Item) -> bool:
    code = getattr(getattr(item, "function", None), "__code__", None)
    return code is not None and "train_model" in code.co_names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use a fixture which trains a model, or that train one themselves, are `slow`."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or _trains_a_model(item):
            item.add_marker(pytest.mark.slow)
