"""The audit measured against planted ground truth, on the tiny cohort and model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memaudit.config import load_config
from memaudit.groundtruth.validate import QUICK_AUDIT, format_table, validate
from memaudit.pipeline import ModelSource, audit


@pytest.fixture(scope="module")
def validation(
    cohort_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, Path]:
    run = tmp_path_factory.mktemp("validation") / "audit"
    overrides = {
        **QUICK_AUDIT,
        "generation": {"n_samples": 6, "max_new_codes": 48},
        "statistics": {"n_bootstrap": 200},
        "t5": {"max_cases": 20, "n_null": 19, "n_samples": 8, "n_samples_original": 16},
    }
    audit(
        cohort_dir,
        ModelSource(model=model_dir),
        run,
        load_config(overrides=overrides),
        progress=False,
        echo=False,
    )
    return validate(cohort_dir, run, progress=False), run


def test_power_rises_with_repetitions(validation) -> None:
    v, _ = validation
    power = {int(r): p for r, p in v["power_by_repeats"].items()}
    assert set(power) == {1, 5, 20, 50}
    assert power[50] >= power[20] >= power[1] and power[50] >= 0.8 and power[1] <= 0.4
    exposure = {int(r): e for r, e in v["exposure_by_repeats"].items()}
    assert exposure[50] >= exposure[20] >= exposure[5] > exposure[1]  # saturates at log2(non-members + 1)


def test_the_placebo_arm_is_not_flagged(validation) -> None:
    v, run = validation
    p = v["placebo"]
    assert p["t4_auroc_ci95"][0] <= 0.5 <= p["t4_auroc_ci95"][1]
    lo, hi = p["share_p_below_0_05_acceptance95"]
    assert lo <= p["share_p_below_0_05"] <= hi
    assert p["false_flag_rate"] <= 0.1
    assert p["risk_level"] != "high"  # no test may fail on a model that never saw either arm
    placebo_report = json.loads((run / "placebo" / "report.json").read_text())
    assert placebo_report["cohort"]["member_split"] == "placebo_members"


def test_validation_json_has_the_fixed_keys(validation) -> None:
    v, run = validation
    stored = json.loads((run / "validation.json").read_text())
    for key in ("power_by_repeats", "exposure_by_repeats", "placebo", "t5_accuracy"):
        assert key in stored
    assert {"t4_auroc", "t4_auroc_ci95", "false_flag_rate", "share_p_below_0_05"} <= set(stored["placebo"])
    assert {"random_labelled_memorized", "pattern_labelled_generalized", "n_cases"} <= set(
        stored["t5_accuracy"]
    )
    assert "T4 power" in format_table(v)
