from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def run(memaudit_cli: Callable) -> Callable:
    return functools.partial(memaudit_cli, timeout=300)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["synth", "--out", "{tmp}/x", "--subjects", "-5"], "--subjects"),
        (["synth", "--out", "{tmp}/x", "--subjects", "100", "--canary-repetitions", "0,5"], "repetition"),
        (["train", "--data", "{tmp}", "--out", "{tmp}/m"], "MEDS dataset"),
        (["train", "--data", "{tmp}/nowhere", "--out", "{tmp}/m"], "does not exist"),
        (["synth", "--out", "{tmp}/afile/x", "--subjects", "200"], "writable"),
    ],
)
def test_bad_arguments_get_one_clear_line_and_exit_2(
    run: Callable, tmp_path: Path, args: list[str], needle: str
) -> None:
    (tmp_path / "afile").write_text("a file, not a directory")
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "error" in ln]
    assert len(lines) == 1 and needle in lines[0]
    assert not (tmp_path / "x").exists() and not (tmp_path / "m").exists()


def test_synth_refuses_a_non_empty_output_and_leaves_it_untouched(run: Callable, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = run("synth", "--out", str(tmp_path), "--subjects", "200", "--quiet")
    assert result.returncode == 2 and "not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_audit_writes_a_report_and_the_gate_exits_3(
    run: Callable, cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    import json

    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        "tiers: [static, codes:10]\ngeneration:\n  n_samples: 3\n  max_new_codes: 12\n"
        "statistics:\n  n_bootstrap: 50\nt5:\n  max_cases: 3\n  n_samples: 4\n  n_samples_original: 8\n  "
        "n_null: 5\n"
    )
    ok = run(
        "audit",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(cfg),
        "--subjects-per-arm",
        "40",
        "--quiet",
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert set(report["tests"]) == {"T1", "T2", "T3", "T4", "T5", "T6"}
    assert report["risk"]["level"] in {"low", "medium", "high"} and "| T4 " in ok.stdout
    gated = run(
        "audit",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(cfg),
        "--subjects-per-arm",
        "40",
        "--quiet",
        "--fail-on",
        "medium",
    )
    expected = 3 if report["risk"]["level"] in {"medium", "high"} else 0
    assert gated.returncode == expected


@pytest.mark.parametrize(
    "text, needle",
    [
        ("tiers: [static]\nbogus_key: 1\n", "bogus_key"),
        ("generation:\n  n_samples: 0\n", "n_samples"),
        ("tiers: [codes:abc]\n", "tiers"),
        ("generation: [1, 2]\n", "generation"),
        ("splits:\n  members: train\n  non_members: train\n", "different"),
    ],
)
def test_bad_config_gets_one_line_and_exit_2(
    run: Callable, cohort_dir: Path, model_dir: Path, tmp_path: Path, text: str, needle: str
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    result = run(
        "audit",
        "--data",
        str(cohort_dir),
        "--model",
        str(model_dir),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(cfg),
        "--quiet",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert needle in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "run" / "report.json").exists()


def test_model_dir_without_vocab_or_weights_is_refused(
    run: Callable, cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    for missing, needle in (("vocab.json", "vocab.json"), ("model.safetensors", "weights")):
        broken = tmp_path / f"no_{missing}"
        shutil.copytree(model_dir, broken)
        (broken / missing).unlink()
        result = run(
            "audit",
            "--data",
            str(cohort_dir),
            "--model",
            str(broken),
            "--out",
            str(tmp_path / "r"),
            "--quiet",
        )
        assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr


def test_schema_prints_the_report_schema_and_report_refuses_a_dir_without_report(
    run: Callable, tmp_path: Path
) -> None:
    import json

    schema = run("schema")
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "memaudit report"
    missing = run("report", str(tmp_path))
    assert missing.returncode == 2 and "report.json" in missing.stderr and "Traceback" not in missing.stderr
