"""The vocabulary artifact check: tokens that carry one patient's measured value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

import memaudit
from memaudit.audits.vocabulary import carries_value, mask

SMALL = {
    "subjects_per_arm": 15,
    "tiers": ["static", "codes:10"],
    "generation": {"n_samples": 3, "max_new_codes": 8},
    "statistics": {"n_bootstrap": 50},
    "t5": {"max_cases": 2, "n_samples": 3, "n_samples_original": 6, "n_null": 3},
}


def test_vocabulary_tokens_carrying_one_patients_value_are_reported(
    cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    assert carries_value("HEIGHT//value_[175.27,inf)") and carries_value("LAB//X//[3,7)")
    assert not carries_value("DIAGNOSIS//ICD10CM//E11.9") and not carries_value("LAB//HBA1C//HIGH")
    assert mask("WEIGHT//value_[60.5,70.25)") == "WEIGHT//value_[#,#)"
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    vocab = json.loads((model / "vocab.json").read_text())
    vocab["token_to_id"]["HEIGHT//value_[175.27,inf)"] = vocab["token_to_id"]["LAB//SODIUM//NORMAL"]
    (model / "vocab.json").write_text(json.dumps(vocab))
    data = tmp_path / "meds"
    shutil.copytree(cohort_dir, data)
    shard = data / "data" / "train" / "0.parquet"
    frame = pl.read_parquet(shard)
    first = frame["subject_id"][0]
    frame = frame.with_columns(
        pl.when((pl.col("subject_id") == first) & (pl.col("code") == "LAB//SODIUM//NORMAL"))
        .then(pl.lit("HEIGHT//value_[175.27,inf)"))
        .otherwise(pl.col("code"))
        .alias("code")
    )
    frame.write_parquet(shard)
    report = memaudit.run_audit(data, model, SMALL, out=tmp_path / "run")
    finding = report["findings"]["vocabulary_artifacts"]
    assert finding["status"] == "fail" and "HEIGHT//value_[#,inf)" in finding["rare_value_tokens_masked"]
    assert report["risk"]["level"] == "high"
    assert "175.27" not in (tmp_path / "run" / "report.json").read_text()
    assert "Vocabulary artifacts" in (tmp_path / "run" / "report.html").read_text()
