"""CEHR-GPT as its users run it: its own pretraining runner (in .venv-cehrgpt from
scripts/setup_cehrgpt.sh) trains from a MIMIC-IV-style MEDS cohort, `memaudit import-cehrgpt`
reads what the runner wrote, and the audit runs with preset cehrgpt and no hook. The audit's
numbers are checked against CEHR-GPT's own: each subject's loss, and its own generate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from memaudit.adapters.stacks.cehrgpt import CehrGptAdapter
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.testing import write_meds

pytestmark = pytest.mark.slow

CEHRGPT = Path(__file__).parents[1] / ".venv-cehrgpt" / "bin"
OWN = Path(__file__).parent / "helpers" / "cehrgpt_own.py"


def _run(args: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=1200, env=env, **kw)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def _memaudit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "memaudit.cli", *args], check=check)


def runner_config(root: Path, epochs: int) -> Path:
    """The smallest CPU pretraining config that runs (hidden size a multiple of 3)."""
    settings = {
        "model_name_or_path": str(root / "out"),
        "tokenizer_name_or_path": str(root / "out"),
        "output_dir": str(root / "out"),
        "data_folder": str(root / "db"),
        "dataset_prepared_path": str(root / "prepared"),
        "is_data_in_meds": True,
        "meds_to_cehrbert_conversion_type": "MedsToBertMimic4",
        "att_function_type": "day",
        "inpatient_att_function_type": "day",
        "include_auxiliary_token": True,
        "include_demographic_prompt": True,
        "streaming": False,
        "use_cpu": True,
        "preprocessing_num_workers": 1,
        "preprocessing_batch_size": 64,
        "hidden_size": 96,
        "num_hidden_layers": 2,
        "n_head": 4,
        "max_position_embeddings": 512,
        "min_num_tokens": 5,
        "evaluation_strategy": "no",
        "save_strategy": "no",
        "use_early_stopping": False,
        "num_train_epochs": epochs,
        "per_device_train_batch_size": 16,
        "learning_rate": 0.001,
        "warmup_steps": 10,
        "seed": 0,
        "report_to": "none",
        "dataloader_num_workers": 0,
    }
    path = root / "pretrain.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def cehrgpt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert (CEHRGPT / "meds_reader_convert").exists(), (
        "CEHR-GPT is not installed: run bash scripts/setup_cehrgpt.sh"
    )
    root = tmp_path_factory.mktemp("cehrgpt")
    # each record once: the runner trains on 300 subjects (this test checks the stack's wiring)
    once = SynthConfig(n_subjects=300, seed=0, style="mimic", repetitions_in_data=False)
    write_cohort(root / "meds", once, progress=False)
    _run([str(CEHRGPT / "meds_reader_convert"), str(root / "meds"), str(root / "db"), "--num_threads", "1"])
    config = runner_config(root, epochs=10)
    _run([str(CEHRGPT / "python"), "-m", "cehrgpt.runners.hf_cehrgpt_pretrain_runner", str(config)])
    python = str(CEHRGPT / "python")
    _memaudit(
        "import-cehrgpt",
        "--runner-config",
        str(config),
        "--out",
        str(root / "audit_model"),
        "--python",
        python,
    )
    done = _memaudit(
        "audit", "--quiet", "--preset", "cehrgpt", "--model", str(root / "audit_model"),
        "--data", str(root / "meds"), "--out", str(root / "run"), check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return {"root": root, "config": config, "model": root / "audit_model", "run": root / "run"}


def test_audited_as_written_every_group_tested_and_members_identifiable(cehrgpt: dict[str, Path]) -> None:
    report = json.loads((cehrgpt["run"] / "report.json").read_text())
    groups = report["coverage"]["groups"]
    assert groups and all(g["status"] == "tested" for g in groups.values()), groups
    stream = report["cohort"]["stream"]
    assert stream["stream_table"].endswith("streams.parquet")
    assert stream["structure_tokens"]["counted_in_codes_k"] is False
    assert stream["structure_tokens"]["markers"] >= 3 and stream["structure_tokens"]["time_gaps"] > 10
    assert report["coverage"]["conventions"]["age_bands"]["exact_ages"] is True
    decision = report["tests"]["T4"]["metrics"]["decision"]
    assert decision["auroc"] > 0.5 and decision["auroc_ci95"][0] > 0.5, decision
    assert set(report["coverage"]["tests"]["T1"]["tiers"]) == {"static", "codes:10", "codes:20"}


def _own(cehrgpt: dict[str, Path], n: int, prompt_tokens: int, max_new: int) -> dict:
    prepared = next(
        p.parent.parent
        for p in (cehrgpt["root"] / "prepared").glob("*/*/dataset_info.json")
        if "input_ids" in json.loads(p.read_text())["features"]
    )
    done = _run(
        [str(CEHRGPT / "python"), str(OWN), str(cehrgpt["root"] / "out"), str(prepared)]
        + [str(n), str(prompt_tokens), str(max_new)]
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_per_subject_loss_and_greedy_samples_are_cehrgpts_own(cehrgpt: dict[str, Path]) -> None:
    own = _own(cehrgpt, n=4, prompt_tokens=12, max_new=20)
    streams = pl.read_parquet(cehrgpt["model"] / "streams.parquet")
    adapter = CehrGptAdapter(cehrgpt["model"])
    try:
        ids = [int(s) for s in own["loss"]]
        codes = {
            s: c for s, c in zip(streams["subject_id"].to_list(), streams["codes"].to_list()) if s in ids
        }
        scored = adapter.score([codes[s] for s in ids])
        ours = [-float(np.mean(r.logprobs)) for r in scored]
        assert np.allclose(ours, [own["loss"][str(s)] for s in ids], rtol=1e-5, atol=1e-6)
        prompts = [g["prompt"] for g in own["greedy"]]
        greedy = adapter.generate(prompts, 1, 20, 0.0, 1.0, seed=0)
        markers = adapter.stream_structure().markers
        for g, (sample,) in zip(own["greedy"], greedy):
            theirs = g["tokens"][: g["tokens"].index("[END]")] if "[END]" in g["tokens"] else g["tokens"]
            assert sample == [t for t in theirs if t not in markers]
        twice = [adapter.generate(prompts, 3, 20, 1.0, 0.95, seed=7) for _ in range(2)]
        assert twice[0] == twice[1]  # a sample depends on (seed, prompt, index) only
    finally:
        adapter.close()


def test_bad_input_is_one_line(cehrgpt: dict[str, Path], tmp_path: Path) -> None:
    own_dir = _memaudit(
        "audit", "--quiet", "--preset", "cehrgpt", "--model", str(cehrgpt["root"] / "out"),
        "--data", str(cehrgpt["root"] / "meds"), "--out", str(tmp_path / "a"), check=False,
    )  # fmt: skip
    no_package = _memaudit(
        "import-cehrgpt", "--runner-config", str(cehrgpt["config"]), "--out", str(tmp_path / "b"),
        "--python", sys.executable, check=False,
    )  # fmt: skip
    from transformers import GPT2Config

    other = tmp_path / "gpt2"
    GPT2Config(n_layer=1, n_embd=8, n_head=2).save_pretrained(other)
    settings = yaml.safe_load(cehrgpt["config"].read_text())
    (tmp_path / "other.yaml").write_text(yaml.safe_dump({**settings, "output_dir": str(other)}))
    other_stack = _memaudit(
        "import-cehrgpt", "--runner-config", str(tmp_path / "other.yaml"), "--out", str(tmp_path / "c"),
        check=False,
    )  # fmt: skip
    foreign = write_meds(
        tmp_path / "foreign", {s: ["DIAGNOSIS//ICD//10//I10"] * (20 + s) for s in range(1, 9)}, [1, 2, 3, 4]
    )
    wrong_cohort = _memaudit(
        "audit", "--quiet", "--preset", "cehrgpt", "--model", str(cehrgpt["model"]),
        "--data", str(foreign), "--out", str(tmp_path / "d"), check=False,
    )  # fmt: skip
    for done, says in (
        (own_dir, "import-cehrgpt"),
        (no_package, "cehrgpt package importable"),
        (other_stack, "model_type 'gpt2'"),
        (wrong_cohort, "sampled subjects in it"),  # one code repeated: near copies, counted as such
    ):
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and says in lines[0], done.stderr[-2000:]
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
