"""A test from another package: examples/memaudit-verbatim, installed as a user installs it, is
audited with the built-in tests and shows in report.json, the HTML and `memaudit check`, with no
memaudit file naming it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "examples" / "memaudit-verbatim"
CONFIG = (
    "tiers: [none, static, codes:10]\n"
    "generation: {n_samples: 4, max_new_codes: 32}\n"
    "statistics: {n_bootstrap: 100, stability_resamples: 0}\n"
    "t5: {max_cases: 4, n_null: 19, n_samples: 4, n_samples_original: 8}\n"
)


def _install(tmp_path: Path) -> dict[str, str]:
    """pip-installs a copy of the example into a folder of its own; the environment that puts it
    on the path."""
    source, target = tmp_path / "src", tmp_path / "site"
    shutil.copytree(EXAMPLE, source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def _memaudit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memaudit.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_an_installed_audit_runs_with_the_built_in_ones(
    cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    env = _install(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    common = ["--data", str(cohort_dir), "--model", str(model_dir), "--config", str(config)]
    checked = _memaudit(env, "check", *common, "--subjects-per-arm", "30")
    assert checked.returncode == 0, checked.stderr
    assert "| T7 | yes |" in checked.stdout
    audited = _memaudit(
        env, "audit", *common, "--out", str(tmp_path / "run"), "--subjects-per-arm", "30", "--quiet"
    )
    assert audited.returncode == 0, audited.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert set(report["tests"]) == {"T1", "T2", "T3", "T4", "T5", "T6", "T7"}
    t7 = report["tests"]["T7"]
    assert t7["title"] == "Verbatim continuation" and t7["status"] in {"pass", "warn"}
    assert set(t7["metrics"]["by_tier"]) == {"none", "static", "codes:10"}
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<h2>Verbatim continuation (T7)</h2>" in html and "<h3>T7 Verbatim continuation</h3>" in html
    # answered from the cache T1 filled: the plug-in's greedy requests are T1's
    assert report["tests"]["T7"]["metrics"]["k"] == report["config"]["t1"]["extraction_k"]


def test_a_broken_entry_point_is_one_clear_line(tmp_path: Path) -> None:
    """A package declaring an audit that cannot be imported: exit 2, what was expected, no traceback."""
    info = tmp_path / "broken_audit-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-audit\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[memaudit.audits]\nt9 = no_such_module:Audit\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = _memaudit(env, "schema")  # the schema names every registered test
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "entry point t9" in result.stderr and "broken-audit" in result.stderr
