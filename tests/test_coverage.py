"""Nothing silent: what the audit cannot see is reported, an audit that could test nothing
sensitive is incomplete, never low, and the preflight says so before any model call."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

UNMATCHABLE = "sensitive_groups:\n  rare_thing:\n    icd10cm: [Z99.89]\n    icd9cm: [V49.89]\n"
SMALL = (
    "tiers: [static, codes:10]\ngeneration:\n  n_samples: 3\n  max_new_codes: 12\n"
    "statistics:\n  n_bootstrap: 50\n"
    "t5:\n  max_cases: 3\n  n_samples: 4\n  n_samples_original: 8\n  n_null: 5\n"
)


@pytest.fixture(scope="module")
def unmatchable(
    memaudit_cli: Callable, cohort_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    out = tmp_path_factory.mktemp("incomplete")
    (out / "audit.yaml").write_text(SMALL + UNMATCHABLE)
    audit = memaudit_cli(
        "audit",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--out",
        str(out / "run"),
        "--config",
        str(out / "audit.yaml"),
        "--subjects-per-arm",
        "40",
        "--quiet",
        "--fail-on",
        "high",
    )
    return {"dir": out, "audit": audit, "report": json.loads((out / "run" / "report.json").read_text())}


def test_with_no_sensitive_group_matched_the_audit_is_incomplete_not_low(unmatchable: dict) -> None:
    report = unmatchable["report"]
    assert report["risk"]["level"] in ("incomplete", "medium", "high") and report["risk"]["complete"] is False
    group = report["coverage"]["groups"]["rare_thing"]
    assert (
        group["status"] == "not tested"
        and group["codes_in_stream"] == 0
        and "matches the group" in group["reason"]
    )
    assert (
        report["tests"]["T2"]["status"] == "not_tested" and "rare_thing" in report["tests"]["T2"]["summary"]
    )
    assert report["tests"]["T5"]["status"] == "not_tested"
    assert any("rare_thing" in why for why in report["risk"]["not_tested"])
    html = (unmatchable["dir"] / "run" / "report.html").read_text()
    assert "What the audit could test" in html and "not tested" in html


def test_the_gate_fails_an_incomplete_audit_unless_accepted(
    memaudit_cli: Callable, unmatchable: dict, cohort_dir: Path, model_dir: Path
) -> None:
    failed = unmatchable["audit"]
    assert failed.returncode == 3 and "incomplete" in failed.stdout and "--accept-incomplete" in failed.stdout
    accepted = memaudit_cli(
        "audit",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--out",
        str(unmatchable["dir"] / "run"),
        "--config",
        str(unmatchable["dir"] / "audit.yaml"),
        "--subjects-per-arm",
        "40",
        "--quiet",
        "--fail-on",
        "high",
        "--accept-incomplete",
    )
    level = unmatchable["report"]["risk"]["level"]
    assert accepted.returncode == (3 if level == "high" else 0), accepted.stdout[-500:]


def test_check_explains_an_audit_that_could_mean_nothing(
    memaudit_cli: Callable, unmatchable: dict, cohort_dir: Path, model_dir: Path
) -> None:
    refused = memaudit_cli(
        "check",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--config",
        str(unmatchable["dir"] / "audit.yaml"),
        "--subjects-per-arm",
        "40",
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = refused.stderr.strip().splitlines()
    assert len(line) == 1 and "sensitive group" in line[0] and "Fix:" in line[0]
    (unmatchable["dir"] / "ok.yaml").write_text(SMALL)
    ok = memaudit_cli(
        "check",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--config",
        str(unmatchable["dir"] / "ok.yaml"),
        "--subjects-per-arm",
        "40",
    )
    assert ok.returncode == 0, ok.stderr
    assert (
        "| HIV |" in ok.stdout
        and "model calls before T5" in ok.stdout
        and "codes the model does not know" in ok.stdout
    )
    assert not (unmatchable["dir"] / "ok").exists()  # the preflight writes nothing
