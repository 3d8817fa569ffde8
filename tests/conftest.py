"""Shared fixtures: one tiny real cohort and one tiny real model per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from memaudit.cohort.synth import SynthConfig, write_cohort
from memaudit.model.train import TrainConfig, train_model

TINY = SynthConfig(n_subjects=400, seed=3, canary_repetitions=(1, 5, 20, 50), canaries_per_repetition=5)


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
