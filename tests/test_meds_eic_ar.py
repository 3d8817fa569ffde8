"""MEDS_EIC_AR as its users run it: its own preprocessing and training (`pip install meds-eic-ar`,
in .venv-eicar from scripts/setup_eicar.sh) on a MIMIC-IV-style cohort, its checkpoint exported
with its own exporter, then audited as written, with preset meds_eic_ar and no hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from memaudit.adapters.hf import HFAdapter
from memaudit.config import load_config
from memaudit.synthetic.cohort import SynthConfig, write_cohort

EICAR = Path(__file__).parents[1] / ".venv-eicar" / "bin"


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{EICAR}:{os.environ['PATH']}", "OMP_NUM_THREADS": "2"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env, **kw)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def eic_ar(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert (EICAR / "MEICAR_pretrain").exists(), (
        "MEDS_EIC_AR is not installed: run bash scripts/setup_eicar.sh"
    )
    root = tmp_path_factory.mktemp("eic_ar")
    write_cohort(
        root / "raw",
        # each record once: the stack's own training stays at 300 subjects (this test checks the
        # stack's wiring, not what repetition does)
        SynthConfig(
            n_subjects=300, seed=4, canaries_per_repetition=3, style="mimic", repetitions_in_data=False
        ),
        progress=False,
    )
    _run(
        [
            str(EICAR / "MEICAR_process_data"),
            f"input_dir={root / 'raw'}",
            f"intermediate_dir={root / 'int'}",
            f"output_dir={root / 'tens'}",
            "do_demo=True",
            "do_reshard=True",
        ]
    )
    _run(
        [
            str(EICAR / "MEICAR_pretrain"),
            "--config-name=_demo_pretrain",
            f"output_dir={root / 'out'}",
            f"datamodule.config.tensorized_cohort_dir={root / 'tens'}",
            "trainer.overfit_batches=0",
            "trainer.max_epochs=3",
            "trainer.detect_anomaly=False",
            "max_seq_len=128",
            "datamodule.batch_size=16",
            "trainer.callbacks.early_stopping.patience=100000",
        ]
    )
    _run(
        [
            sys.executable,
            "-m",
            "memaudit.cli",
            "import-eic-ar",
            "--checkpoint",
            str(root / "out" / "checkpoints" / "last.ckpt"),
            "--tensorized",
            str(root / "tens"),
            "--out",
            str(root / "model"),
            "--python",
            str(EICAR / "python"),
            "--trust-pickle",
        ]
    )
    return {"int": root / "int", "model": root / "model", "root": root}


def test_its_exported_model_scores_its_stream_without_a_second_start_token(eic_ar: dict[str, Path]) -> None:
    config = load_config(preset="meds_eic_ar")
    adapter = HFAdapter(eic_ar["model"], model_input=config.model_input.to_dict())
    shard = next((eic_ar["int"] / "data" / "held_out").glob("*.parquet"))
    frame = pl.read_parquet(shard).filter(pl.col("time").is_not_null())
    codes = frame.filter(pl.col("subject_id") == frame["subject_id"][0])["code"].to_list()[:40]
    assert codes[0] == "TIMELINE//START"
    ids = adapter.tokenizer.encode(codes)
    with torch.no_grad():
        logp = torch.log_softmax(adapter.model(input_ids=torch.tensor([ids])).logits[0], -1)
    direct = [float(logp[t, ids[t + 1]]) for t in range(len(ids) - 1)]  # its own loss: no token before START
    np.testing.assert_allclose(adapter.score([codes])[0].logprobs, direct, atol=1e-4)


def test_its_output_is_audited_as_written(
    memaudit_cli: Callable, eic_ar: dict[str, Path], tmp_path: Path
) -> None:
    done = memaudit_cli(
        "audit",
        "--preset",
        "meds_eic_ar",
        "--data",
        str(eic_ar["int"]),
        "--model",
        str(eic_ar["model"]),
        "--out",
        str(tmp_path / "run"),
        "--subjects-per-arm",
        "60",
        "--quiet",
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    stream = report["cohort"]["stream"]
    assert (
        stream["splits_from_folders"] and stream["static_rows_found"]["used"] is False
    )  # no splits file in INT
    assert any(g["status"] == "tested" for g in report["coverage"]["groups"].values())  # ICD codes matched
    assert report["tests"]["T1"]["metrics"]["time_weighting"] == "on"  # its value-binned time deltas read
    assert "static" not in report["tests"]["T1"]["metrics"]["by_tier"]
    t5 = report["coverage"]["tests"]["T5"]
    assert t5["prompts_per_family"]["age"] == 0 and t5["prompts_per_family"]["sex"] == 0  # no demographics
    vocabulary = report["findings"]["vocabulary_artifacts"]
    assert vocabulary["n_constant_edges"] >= 1  # its time-delta bin edges are constants, not patient values
    assert not any(t.startswith("TIMELINE//DELTA") for t in vocabulary["identifying_tokens_masked"])
    assert "What the audit can test" in done.stdout


def test_a_checkpoint_is_refused_with_the_way_to_export_it(
    memaudit_cli: Callable, eic_ar: dict[str, Path], tmp_path: Path
) -> None:
    ckpt = eic_ar["root"] / "out" / "checkpoints" / "last.ckpt"
    done = memaudit_cli(
        "audit",
        "--preset",
        "meds_eic_ar",
        "--data",
        str(eic_ar["int"]),
        "--model",
        str(ckpt),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        timeout=300,
    )
    assert done.returncode == 2 and "import-eic-ar" in done.stderr and "Traceback" not in done.stderr
    untrusted = memaudit_cli(
        "import-eic-ar",
        "--checkpoint",
        str(ckpt),
        "--tensorized",
        str(eic_ar["root"] / "tens"),
        "--out",
        str(tmp_path / "m"),
        timeout=300,
    )
    assert (
        untrusted.returncode == 2 and "--trust-pickle" in untrusted.stderr and not (tmp_path / "m").exists()
    )
