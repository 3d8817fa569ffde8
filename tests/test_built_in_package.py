"""A built-in test is its package and nothing else: a throwaway package beside t1 … t6 (a module, a
template, no memaudit file edited) is audited with them, owns its config section, version, gate
role and report fragment, and is required by the report's schema; and outside their own packages
no module names a built-in test (the exceptions: the code that scores particular tests against
planted truth)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import memaudit

THROWAWAY = """
from dataclasses import dataclass

from memaudit.audits.registry import Audit
from memaudit.audits.result import PASS, TestResult
from memaudit.config.params import Interval, Section, param


@dataclass(frozen=True)
class T9(Section):
    docs = "T9 short timelines (a throwaway built-in)"
    min_codes: int = param(40, "member timelines shorter than this are counted", Interval(1, None))


class ShortTimelines(Audit):
    name, title = "T9", "Short timelines"
    config_section = T9
    version = "7"

    def run(self, ctx, responses, earlier):
        limit = ctx.config.t9.min_codes
        short = sum(len(ctx.cohort.timelines[s].codes) < limit for s in ctx.members)
        return TestResult(self.name, self.title, PASS, f"{short} short member timelines.", {"short": short})

    def report_figures(self, report):
        return {"share": report["tests"][self.name]["metrics"]["short"] / report["cohort"]["members"]}


AUDIT = ShortTimelines
"""
FRAGMENT = '<h2 id="t9">{{ test.title }} ({{ name }})</h2><p>share short: {{ figures.share | fmt }}</p>\n'
RUN_WITH_THE_PACKAGE = (
    "import sys, memaudit.audits as audits; audits.__path__.append(sys.argv[1]); "
    "from memaudit.cli import main; sys.exit(main(sys.argv[2:]))"
)


def _memaudit(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """memaudit with `folder` as one more place built-in test packages live."""
    return subprocess.run(
        [sys.executable, "-c", RUN_WITH_THE_PACKAGE, str(folder), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_a_throwaway_built_in_package_is_audited_with_its_own_config_fragment_and_version(
    cohort_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    package = tmp_path / "tests_folder" / "t9"
    (package / "templates").mkdir(parents=True)
    (package / "__init__.py").write_text(THROWAWAY)
    (package / "templates" / "report.html.j2").write_text(FRAGMENT)
    folder = package.parent

    listed = _memaudit(folder, "config")
    assert listed.returncode == 0, listed.stderr
    assert "t9:  # T9 short timelines" in listed.stdout and "  min_codes: 40" in listed.stdout
    schema = json.loads(_memaudit(folder, "schema").stdout)
    assert "T9" in schema["properties"]["tests"]["required"]

    config = tmp_path / "audit.yaml"
    config.write_text(
        "tiers: [none, codes:10]\ngeneration: {n_samples: 4}\n"
        "statistics: {n_bootstrap: 50, stability_resamples: 0}\n"
        "t5: {max_cases: 2, n_null: 10, n_samples_original: 8}\nt9: {min_codes: 1000}\n"
    )
    out = tmp_path / "run"
    audited = _memaudit(
        folder,
        "audit",
        *("--data", str(cohort_dir), "--model", str(model_dir), "--config", str(config)),
        *("--out", str(out), "--subjects-per-arm", "20", "--quiet"),
    )
    assert audited.returncode in (0, 1), audited.stderr  # pass or a level the gate acts on
    report = json.loads((out / "report.json").read_text())
    t9 = report["tests"]["T9"]
    assert t9["version"] == "7" and t9["metrics"]["short"] == report["cohort"]["members"]
    assert report["config"]["t9"] == {"min_codes": 1000}
    html = (out / "report.html").read_text()
    assert '<h2 id="t9">Short timelines (T9)</h2><p>share short: 1.000</p>' in html
    # the built-in tests' fragments are drawn from their own packages, in the registry's order
    at = [html.index(f"({name})</h2>") for name in ("T1", "T2", "T3", "T4", "T5", "T6", "T9")]
    assert at == sorted(at)


SCORES_PARTICULAR_TESTS = ("groundtruth/", "synthetic/demo.py")  # planted truth, the demo's table


def _names_a_test(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are a built-in test's name ("T5"), outside docstrings and f-string
    prose: the ways a module reaches into a particular test's results."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in BUILT_IN_NAMES:
            found.append((node.lineno, node.value))
    return found


BUILT_IN_NAMES = {f"T{i}" for i in range(1, 7)}


def test_no_module_outside_a_tests_own_package_names_a_built_in_test() -> None:
    root = Path(memaudit.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root).as_posix()
        if where.startswith("audits/t") and where[len("audits/t")].isdigit():
            continue  # a test's own package (it names the tests it reads through their hand-offs)
        if where.startswith(SCORES_PARTICULAR_TESTS):
            continue
        offenders += [f"{where}:{line} {name}" for line, name in _names_a_test(ast.parse(path.read_text()))]
    for path in sorted(root.rglob("*.j2")):
        where = path.relative_to(root).as_posix()
        if where.startswith("audits/t"):
            continue
        text = path.read_text()
        offenders += [
            f"{where} {name}" for name in sorted(BUILT_IN_NAMES) if f".{name}" in text or f"'{name}'" in text
        ]
    assert offenders == []


def test_a_package_of_audits_without_an_audit_class_is_one_line_and_exit_2(tmp_path: Path) -> None:
    package = tmp_path / "tests_folder" / "t9"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A test package whose AUDIT was forgotten."""\n')
    listed = _memaudit(package.parent, "config")
    assert listed.returncode == 2 and "Traceback" not in listed.stderr
    assert "AUDIT" in listed.stderr and "t9" in listed.stderr and len(listed.stderr.strip().splitlines()) == 1
