"""Into the release pipeline: `memaudit card` writes the verdict into a Hugging Face model card
that huggingface_hub loads, keeps the card's other sections and is idempotent; `--mlflow` logs to a
real SQLite-backed MLflow store and tags a registered model version; bad input is one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml
from huggingface_hub import ModelCard

from memaudit.config import load_config
from memaudit.errors import UserInputError
from memaudit.pipeline import ModelSource, audit
from memaudit.release.card import END, START, write_card
from memaudit.release.mlflow_log import log_audit

OVERRIDES = {
    "subjects_per_arm": 60,
    "tiers": ["none", "static", "codes:10"],
    "generation": {"n_samples": 4, "max_new_codes": 24},
    "statistics": {"n_bootstrap": 100, "stability_resamples": 2},
    "t5": {"max_cases": 4, "n_samples": 6, "n_samples_original": 12, "n_null": 8},
}
EXISTING = """---
license: apache-2.0
tags:
- ehr
---

# My EHR model

## Training data

Trained on 1,000 synthetic patients.

## Limitations

Not for clinical use.
"""


@pytest.fixture(scope="module")
def release_run(cohort_dir: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "run"
    audit(
        cohort_dir,
        ModelSource(model=model_dir),
        out,
        load_config(overrides=OVERRIDES),
        progress=False,
        echo=False,
    )
    return out


def test_the_card_loads_with_the_section_and_the_results(release_run: Path, tmp_path: Path) -> None:
    path = write_card(release_run, None, tmp_path / "card.md", "tiny-ehr")
    card = ModelCard.load(path)
    report = json.loads((release_run / "report.json").read_text())
    assert "memaudit" in card.data.tags
    results = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert (
        results["memaudit_risk_level"]
        == {"low": 0, "medium": 1, "high": 2, "incomplete": -1}[report["risk"]["level"]]
    )
    assert results["auroc"] == pytest.approx(report["tests"]["T4"]["metrics"]["decision"]["auroc"], abs=1e-4)
    text = card.text
    assert "## Privacy: patient-level memorization audit" in text and text.count(START) == 1
    assert f"Verdict: risk {report['risk']['level'].upper()}" in text
    assert "T4 Membership inference | 2 |" in text  # each test's version
    assert "Not covered." in text and "Attacker knowledge tested." in text
    hashes = pl.read_parquet(release_run / "subjects.parquet")["subject"].to_list()
    assert not any(h in path.read_text() for h in hashes)  # no subject named, even by hash


def test_a_rerun_replaces_its_own_section_only_and_is_idempotent(release_run: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(EXISTING)
    write_card(release_run, readme, None, None)
    first = readme.read_text()
    card = ModelCard.load(readme)
    assert card.data.license == "apache-2.0" and {"ehr", "memaudit"} <= set(card.data.tags)
    body = EXISTING.split("---\n", 2)[2]
    assert card.text.startswith(body.rstrip("\n"))  # the card's own sections, byte for byte
    write_card(release_run, readme, None, None)
    assert readme.read_text() == first
    # a card whose section was edited by hand gets the section back, the rest untouched
    edited = first.replace("## Limitations", "## Limitations (edited)")
    readme.write_text(edited.replace(START, START + "\nstale line"))
    write_card(release_run, readme, None, None)
    assert "stale line" not in readme.read_text() and "## Limitations (edited)" in readme.read_text()
    assert readme.read_text().count(END) == 1


def test_bad_input_to_card_is_one_line_and_writes_nothing(
    memaudit_cli: Callable, release_run: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken.md"
    broken.write_text("---\nlicense: [unclosed\n---\n\n# x\n")
    damaged = tmp_path / "damaged"
    shutil.copytree(release_run, damaged)
    (damaged / "report.json").write_text('{"schema_version": "1.6.0"}')
    for args, what in (
        ((str(empty), "--out", str(tmp_path / "a.md")), "report.json"),
        ((str(damaged), "--out", str(tmp_path / "b.md")), "report.json"),
        ((str(release_run), "--model-card", str(broken), "--out", str(tmp_path / "c.md")), "model card"),
    ):
        done = memaudit_cli("card", *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and what in lines[0], done.stderr
    assert not any((tmp_path / n).exists() for n in ("a.md", "b.md", "c.md"))


def test_mlflow_logs_to_a_real_store_and_tags_the_registered_version(
    memaudit_cli: Callable, release_run: Path, cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    # artifacts under tmp_path (a SQLite store's default artifact root is ./mlruns, beside the caller)
    client.create_experiment("release", artifact_location=(tmp_path / "artifacts").as_uri())
    client.create_registered_model("ehr-fm")
    version = str(client.create_model_version("ehr-fm", source=str(model_dir)).version)
    run = tmp_path / "run"
    shutil.copytree(release_run, run)  # the audit resumes from its cache: no new model call
    (tmp_path / "audit.yaml").write_text(json.dumps(OVERRIDES))
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "release"}
    done = memaudit_cli(
        "audit", "--quiet", "--data", str(cohort_dir), "--model", str(model_dir), "--out", str(run),
        "--config", str(tmp_path / "audit.yaml"), "--mlflow", "--mlflow-model", "ehr-fm",
        "--mlflow-model-version", version, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((run / "report.json").read_text())
    tags = client.get_model_version("ehr-fm", version).tags
    assert tags["memaudit.risk"] == report["risk"]["level"]
    logged = client.get_run(tags["memaudit.run_id"])
    assert logged.data.tags["memaudit.risk"] == report["risk"]["level"]
    assert logged.data.params["memaudit.seed"] == str(report["seed"])
    assert logged.data.metrics["memaudit.T4.auroc"] == pytest.approx(
        report["tests"]["T4"]["metrics"]["decision"]["auroc"]
    )
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id, "memaudit")}
    assert artifacts == {"memaudit/report.json", "memaudit/report.html"}  # never the caches or the salt


def test_from_python_inside_an_active_run_the_audit_logs_there_and_leaves_it_open(
    release_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("python", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    report = json.loads((release_run / "report.json").read_text())
    with mlflow.start_run() as outer:
        assert log_audit(release_run, report) == outer.info.run_id
        assert mlflow.active_run().info.run_id == outer.info.run_id  # still the caller's to end
        other = mlflow.MlflowClient().create_run(outer.info.experiment_id).info.run_id
        assert log_audit(release_run, report, run_id=other) == other  # a named run: resumed and ended
        assert mlflow.active_run().info.run_id == outer.info.run_id
        mlflow.log_param("after", "yes")
    assert mlflow.get_run(other).data.tags["memaudit.risk"] == report["risk"]["level"]
    logged = mlflow.get_run(outer.info.run_id)
    assert (
        logged.data.tags["memaudit.risk"] == report["risk"]["level"] and logged.data.params["after"] == "yes"
    )


def test_an_unreachable_tracking_store_is_one_line_and_the_audit_stays(release_run: Path) -> None:
    report = json.loads((release_run / "report.json").read_text())
    os.environ["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"
    try:
        with pytest.raises(UserInputError, match="reachable MLflow tracking store"):
            log_audit(release_run, report)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert (release_run / "report.json").exists()


def _ci_env(tmp_path: Path, cohort_dir: Path, model_dir: Path, last_release: Path) -> dict[str, str]:
    config = tmp_path / "audit.yaml"
    config.write_text(json.dumps(OVERRIDES))  # the last release's configuration
    return {
        **os.environ,
        "MEMAUDIT_DATA": str(cohort_dir),
        "MEMAUDIT_MODEL": str(model_dir),
        "MEMAUDIT_CONFIG": str(config),
        "MEMAUDIT_RUN": "memaudit_run",
        "LAST_RELEASE_RUN": str(last_release),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # this memaudit
    }


def _bash(script: str, cwd: Path, env: dict) -> int:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, timeout=1200).returncode


def test_the_ci_examples_run_with_the_exit_codes_the_docs_promise(
    release_run: Path, cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    """GitHub Actions: each `run:` step in order (a failed step skips the rest unless `if:
    always()`; setup steps are the runner's), exit 3 from the audit exactly when the risk is high,
    compare against the last release (the same model: no regression), the card, and the report
    the upload step names. GitLab: the script (its gate kept to the end) and the after_script."""
    root = Path(__file__).resolve().parents[1] / "examples" / "ci"
    workflow = yaml.safe_load((root / "github-actions.yml").read_text())
    env = _ci_env(tmp_path, cohort_dir, model_dir, release_run)
    assert set(workflow["env"]) <= set(env)  # every variable the workflow reads is set here
    codes, failed, uploaded = {}, False, []
    for step in workflow["jobs"]["privacy-audit"]["steps"]:
        if step.get("id") == "install" or "run" not in step:
            if step.get("id") == "upload":
                uploaded.append(tmp_path / step["with"]["path"])
            continue
        if failed and "always()" not in str(step.get("if", "")):
            continue
        codes[step["id"]] = _bash(step["run"], tmp_path, env)
        failed = failed or codes[step["id"]] != 0
    level = json.loads((tmp_path / "memaudit_run" / "report.json").read_text())["risk"]["level"]
    assert codes == {"check": 0, "audit": 3 if level == "high" else 0, "compare": 0, "card": 0}
    assert uploaded and all(p.is_file() for p in uploaded)
    assert ModelCard.load(tmp_path / "memaudit_run" / "model_card.md").data.eval_results

    job = yaml.safe_load((root / "gitlab-ci.yml").read_text())["privacy-audit"]
    lab = tmp_path / "gitlab"
    shutil.copytree(tmp_path / "memaudit_run", lab / "memaudit_run")  # resumes from the cache
    (lab / "memaudit_run" / "model_card.md").unlink()
    env = _ci_env(lab, cohort_dir, model_dir, release_run)
    assert set(job["variables"]) <= set(env)
    assert _bash("\n".join(job["script"]), lab, env) == (3 if level == "high" else 0)
    assert _bash("\n".join(job["after_script"]), lab, env) == 0
    assert all((lab / p).is_file() for p in job["artifacts"]["paths"])
