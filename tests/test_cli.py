from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memaudit.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, needle", [
    (["synth", "--out", "{tmp}/x", "--subjects", "-5"], "--subjects"),
    (["synth", "--out", "{tmp}/x", "--subjects", "100", "--canary-repetitions", "0,5"], "repetition"),
    (["train", "--data", "{tmp}", "--out", "{tmp}/m"], "MEDS dataset"),
    (["train", "--data", "{tmp}/nowhere", "--out", "{tmp}/m"], "does not exist"),
    (["synth", "--out", "{tmp}/afile/x", "--subjects", "200"], "writable"),
])
def test_bad_arguments_get_one_clear_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "afile").write_text("a file, not a directory")
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "error" in ln]
    assert len(lines) == 1 and needle in lines[0]
    assert not (tmp_path / "x").exists() and not (tmp_path / "m").exists()


def test_synth_refuses_a_non_empty_output_and_leaves_it_untouched(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = run("synth", "--out", str(tmp_path), "--subjects", "200", "--quiet")
    assert result.returncode == 2 and "not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
