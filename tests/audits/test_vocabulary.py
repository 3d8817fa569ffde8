"""The vocabulary artifact check: tokens that carry one patient's measured value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

import memaudit
from memaudit.audits.vocabulary import carries_value, mask, value_artifacts

SMALL = {
    "subjects_per_arm": 15,
    "tiers": ["static", "codes:10"],
    "generation": {"n_samples": 3, "max_new_codes": 8},
    "statistics": {"n_bootstrap": 50},
    "t5": {"max_cases": 2, "n_samples": 3, "n_samples_original": 6, "n_null": 3},
}


def test_a_bin_edge_is_flagged_when_it_equals_a_value_few_members_measured() -> None:
    assert carries_value("HEIGHT//value_[175.27,inf)") and carries_value("LAB//X//[3,7)")
    assert not carries_value("DIAGNOSIS//ICD10CM//E11.9") and not carries_value("MEDICATION//Lidocaine 0.5%")
    assert not carries_value("LAB//50912//mL/min/1.73 m2")
    assert mask("WEIGHT//value_[60.5,70.25)") == "WEIGHT//value_[#,#)"
    tokens = [
        "HEIGHT//value_[175.27112,inf)",
        "TIMELINE//DELTA//years//value_[0.0821918,0.164384)",
        "LAB//K//value_[4.0,5.0)",
        "MEDICATION//Lidocaine 0.5%",
        "AGE//60-64",
    ]
    measured = {"HEIGHT": {175.27112: 1, 160.0: 40}, "LAB//K": {4.0: 30, 4.4: 12}}
    held = {"HEIGHT//value_[175.27112,inf)": 1, "LAB//K//value_[4.0,5.0)": 42}
    finding = value_artifacts(tokens, measured, held, min_subjects=5)
    assert finding["status"] == "fail" and finding["identifying_tokens_masked"] == ["HEIGHT//value_[#,inf)"]
    assert (finding["n_value_tokens"], finding["n_common_value_edges"], finding["n_constant_edges"]) == (
        3,
        1,
        1,
    )
    assert (
        value_artifacts(tokens[1:], measured, held, 5)["status"] == "pass"
    )  # constants and common bins pass
    # a bin edge at one member's value in a bin many members share is a quantile, not a disclosure
    assert value_artifacts(tokens[:1], measured, {tokens[0]: 9}, 5)["status"] == "pass"


def test_vocabulary_tokens_carrying_one_patients_value_are_reported(
    cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    vocab = json.loads((model / "vocab.json").read_text())
    vocab["token_to_id"]["HEIGHT//value_[175.27112,inf)"] = vocab["token_to_id"]["LAB//SODIUM//NORMAL"]
    (model / "vocab.json").write_text(json.dumps(vocab))
    data = tmp_path / "meds"
    shutil.copytree(cohort_dir, data)
    shard = data / "data" / "train" / "0.parquet"
    frame = pl.read_parquet(shard)
    first = frame["subject_id"][0]
    height = (
        frame.filter(pl.col("subject_id") == first)
        .head(1)
        .with_columns(pl.lit("HEIGHT").alias("code"), pl.lit(175.27112, pl.Float32).alias("numeric_value"))
    )
    pl.concat([height, frame]).sort("subject_id", "time", maintain_order=True).write_parquet(shard)
    report = memaudit.run_audit(data, model, SMALL, out=tmp_path / "run")
    finding = report["findings"]["vocabulary_artifacts"]
    assert finding["status"] == "fail" and "HEIGHT//value_[#,inf)" in finding["identifying_tokens_masked"]
    assert report["risk"]["level"] == "high"
    assert "175.27" not in (tmp_path / "run" / "report.json").read_text()
    assert "Vocabulary artifacts" in (tmp_path / "run" / "report.html").read_text()
