"""Every command a release pipeline calls keeps the bad-input guarantee: damaged, foreign and
out-of-range inputs get one line on stderr and exit 2, with no traceback and nothing written where
the command would have written. (The audit's own battery is in test_cli.py and test_reliability.py;
a model card that is not a card and --mlflow against an unreachable store, which need a real
report, are in test_release.py.)"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from memaudit.synthetic.cohort import SynthConfig, write_cohort


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real cohort, a run directory with a damaged report.json, one whose report.json is
    another program's, an empty directory, a file where a directory belongs."""
    root = tmp_path_factory.mktemp("bad")
    write_cohort(root / "meds", SynthConfig(n_subjects=60, seed=2, canaries_per_repetition=1), progress=False)
    for name, text in (("damaged", '{"schema_version": '), ("foreign", json.dumps({"accuracy": 0.9}))):
        (root / name).mkdir()
        (root / name / "report.json").write_text(text)
        (root / name / "subjects.parquet").write_bytes(b"PAR1 not parquet")
    (root / "empty").mkdir()
    (root / "afile").write_text("a file, not a directory")
    (root / "runner.yaml").write_text("model_type: not-cehrgpt\n")
    return root


CASES = [
    # compare: damaged, foreign and missing run directories; out-of-range options
    (["compare", "{r}/damaged", "{r}/damaged", "--out", "{out}"], "report.json"),
    (["compare", "{r}/foreign", "{r}/foreign", "--out", "{out}"], "report.json"),
    (["compare", "{r}/empty", "{r}/empty", "--out", "{out}"], "run directory"),
    (["compare", "{r}/empty", "{r}/empty", "--out", "{out}", "--alpha", "2"], "--alpha"),
    (["compare", "{r}/empty", "{r}/empty", "--out", "{out}", "--margin", "-0.1"], "--margin"),
    # card: a run without a report, a damaged one, a model card that is not a card
    (["card", "{r}/empty", "--out", "{out}"], "report.json"),
    (["card", "{r}/foreign", "--out", "{out}"], "report.json"),
    # scan: not MEDS, a file, an out-of-range similarity
    (["scan", "--data", "{r}/empty", "--out", "{out}"], "MEDS"),
    (["scan", "--data", "{r}/afile", "--out", "{out}"], "afile"),
    (["scan", "--data", "{r}/meds", "--out", "{out}", "--near-copy-similarity", "1.5"], "similarity"),
    # validate: a run without a report, a cohort without ground truth, an unknown scenario
    (["validate", "--data", "{r}/meds", "--run", "{r}/empty"], "report.json"),
    (["validate", "--data", "{r}/empty", "--run", "{r}/damaged"], "ground_truth"),
    (["validate", "--repeat", "1", "--scenario", "nothing", "--out", "{out}"], "scenario"),
    # importers: a checkpoint that is not there, a runner config of another model type
    (
        ["import-eic-ar", "--checkpoint", "{r}/none.ckpt", "--tensorized", "{r}/empty", "--out", "{out}"],
        "none.ckpt",
    ),
    (["import-cehrgpt", "--runner-config", "{r}/runner.yaml", "--out", "{out}"], "runner"),
]


@pytest.mark.parametrize(
    "args, needle", CASES, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(CASES)]
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    memaudit_cli: Callable, inputs: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "out"
    run = functools.partial(memaudit_cli, timeout=300)
    done = run(*[a.format(r=inputs, out=out) for a in args])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert needle in lines[0], lines[0]
    assert not out.exists()
