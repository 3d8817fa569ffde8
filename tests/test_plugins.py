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
    "t7: {false_discovery_rate: 0.2}\n"
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
    # its own settings, under its own key, as the user wrote them
    assert report["config"]["t7"] == {"false_discovery_rate": 0.2, "min_excess": 0.0}
    assert t7["metrics"]["false_discovery_rate"] == 0.2


def test_an_installed_audit_owns_its_config_section(cohort_dir: Path, tmp_path: Path) -> None:
    """`t7:` is the plug-in's section: listed by `memaudit config`, checked like a built-in one, and
    an unknown key without the plug-in installed."""
    env = _install(tmp_path)
    listed = _memaudit(env, "config")
    assert listed.returncode == 0 and "t7:  # T7 verbatim continuation" in listed.stdout
    assert "  false_discovery_rate: 0.05  # Benjamini-Hochberg" in listed.stdout
    bad = tmp_path / "bad.yaml"
    for text, needle in [
        ("t7: {false_discovery_rate: 2}\n", "'t7.false_discovery_rate'"),
        ("t7: {fdr: 0.1}\n", "'t7.fdr'"),
    ]:
        bad.write_text(text)
        done = _memaudit(env, "check", "--data", str(cohort_dir), "--model", "m", "--config", str(bad))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert needle in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    bad.write_text("t7: {false_discovery_rate: 0.1}\n")
    plain = _memaudit(
        dict(os.environ), "check", "--data", str(cohort_dir), "--model", "m", "--config", str(bad)
    )
    assert plain.returncode == 2 and "unknown key 't7'" in plain.stderr, plain.stderr


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
