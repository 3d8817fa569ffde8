"""The built-in trainer's safeguards change what the model sees: --dedup trains on one copy of
each repeated record, --min-code-subjects turns rare codes into the unknown token, --dp-epsilon
trains with Opacus's DP-SGD and reports the accountant's epsilon."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from safetensors.torch import load_file

from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import TrainConfig, train_model

pytestmark = pytest.mark.slow
TINY = {"epochs": 1, "hidden_size": 16, "layers": 1, "heads": 2, "batch_size": 16}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("safeguards") / "meds"
    write_cohort(
        out,
        SynthConfig(
            n_subjects=200,
            seed=8,
            canary_repetitions=(1, 5, 20),
            canaries_per_repetition=2,
            repetitions_in_data=True,
        ),
        progress=False,
    )
    return out


def _trained(cohort: Path, out: Path, **options) -> dict:
    train_model(cohort, out, TrainConfig(**TINY, **options), progress=False)
    return json.loads((out / "memaudit_training.json").read_text())


def test_dedup_trains_each_repeated_record_once(cohort: Path, tmp_path: Path) -> None:
    truth = pl.read_parquet(cohort / "ground_truth.parquet")
    copies = truth["copy_of"].drop_nulls().len()
    plain, dedup = _trained(cohort, tmp_path / "plain"), _trained(cohort, tmp_path / "dedup", dedup=True)
    assert copies == 2 * (4 + 19)
    assert dedup["safeguards"]["dedup"]["copies_dropped"] == copies
    assert plain["n_training_sequences"] - dedup["n_training_sequences"] == copies


def test_rare_codes_become_the_unknown_token(cohort: Path, tmp_path: Path) -> None:
    info = _trained(cohort, tmp_path / "k5", min_code_subjects=5)
    vocab = json.loads((tmp_path / "k5" / "vocab.json").read_text())
    tokens = vocab.get("token_to_id", vocab)
    members = pl.read_parquet(cohort / "data" / "train" / "*.parquet")
    holders = members.group_by("code").agg(pl.col("subject_id").n_unique().alias("n"))
    rare = set(holders.filter(pl.col("n") < 5)["code"].to_list())
    assert info["safeguards"]["min_code_subjects"]["codes_made_unknown"] == len(rare) > 0
    assert not rare & set(tokens)


def test_dp_sgd_reports_its_epsilon_and_changes_the_weights(cohort: Path, tmp_path: Path) -> None:
    info = _trained(cohort, tmp_path / "dp", dp_epsilon=8.0)
    dp = info["safeguards"]["dp_sgd"]
    assert 0 < dp["epsilon"] <= 8.0 + 1e-6 and dp["noise_multiplier"] > 0
    assert dp["delta"] == pytest.approx(1 / info["n_training_sequences"])
    _trained(cohort, tmp_path / "plain", seed=0)
    a, b = (
        load_file(tmp_path / "dp" / "model.safetensors"),
        load_file(tmp_path / "plain" / "model.safetensors"),
    )
    assert any(not (a[k] == b[k]).all() for k in a)
