"""One template environment for every page: a value a user typed is escaped in report.html,
scan.html and compare.html (and compare.md), and a key a template reads that the data lacks fails
the render instead of printing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from memaudit.compare.render import render_compare_html, render_compare_markdown
from memaudit.report.html import render_html
from memaudit.synthetic.cohort import SynthConfig, write_cohort

HOSTILE = "<script>alert(1)"


def _comparison(run_a: str, run_b: str) -> dict:
    measure = {"a": 0.6, "b": 0.7, "difference": 0.1, "ci": [0.05, 0.15], "holm_p": 0.01, "worse": True}
    return {
        "regression": True,
        "run_a": run_a,
        "run_b": run_b,
        "risk": {"a": "low", "b": "medium"},
        "counts": {"T5 memorized cases": {"a": 0, "b": 1}},
        "design": "paired",
        "confidence": 0.95,
        "margin": 0.02,
        "alpha": 0.05,
        "measures": {"T4 loss AUROC": measure},
        "memaudit_version": "0.0.0",
    }


def _report(model_summary: str) -> dict:
    tests = {
        name: {"title": name, "status": "not_tested", "summary": "nothing", "metrics": {}}
        for name in ("T1", "T2", "T3", "T4", "T5", "T6")
    }
    return {
        "memaudit_version": "0.0.0",
        "schema_version": "1.5.0",
        "created": "2026-12-07T00:00:00Z",
        "seed": 0,
        "cohort": {"members": 3, "non_members": 4},
        "inputs": {"data": "d" * 8, "model": "m" * 8, "config": "c" * 8},
        "config": {"tiers": ["none"]},
        "model_input": {"summary": model_summary, "sequences": 7, "sequences_longer_than_context": 0},
        "risk": {"level": "incomplete", "complete": False, "reasons": ["r"], "not_tested": []},
        "tests": tests,
        "coverage": {"groups": {}, "tests": {}},
        "flagged_subjects": [],
    }


def test_a_path_holding_markup_is_escaped_in_every_page(tmp_path: Path) -> None:
    data = tmp_path / HOSTILE / "meds"
    write_cohort(data, SynthConfig(n_subjects=60, seed=1, canaries_per_repetition=1), progress=False)
    done = subprocess.run(
        [sys.executable, "-m", "memaudit.cli", "scan", "--data", str(data), "--out", str(tmp_path / "scan")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert HOSTILE in json.loads((tmp_path / "scan" / "scan.json").read_text())["data"]
    pages = {
        "scan.html": (tmp_path / "scan" / "scan.html").read_text(),
        "compare.html": render_compare_html(_comparison(f"runs/{HOSTILE}", "runs/b")),
        "compare.md": render_compare_markdown(_comparison(f"runs/{HOSTILE}", "runs/b")),
        "report.html": render_html(_report(f"the model at runs/{HOSTILE}")),
    }
    for name, page in pages.items():
        assert "<script>alert" not in page, name
        assert "&lt;script&gt;alert(1)" in page, name


def test_a_missing_key_fails_the_render() -> None:
    broken = _comparison("a", "b")
    del broken["risk"]
    with pytest.raises(jinja2.UndefinedError):
        render_compare_html(broken)
    report = _report("summary")
    del report["seed"]  # read by the page's header only
    with pytest.raises(jinja2.UndefinedError):
        render_html(report)
