"""MEDS_EIC_AR models as transformers directories (`memaudit import-eic-ar`).

MEDS_EIC_AR saves Lightning checkpoints (pickles: they can run code when loaded). Its own
`export_lightning_to_hf_dir` writes the Llama inside as a plain transformers directory whose
logits equal the checkpoint's. It runs in the Python that has MEDS_EIC_AR installed (its pins may
differ from memaudit's, so it is often another virtual environment); the tensorized cohort's
vocabulary (`metadata/codes.parquet`) is copied beside the weights, where preset `meds_eic_ar`
looks for it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ...atomic import atomic_dir
from ...errors import UserInputError

EXPORT = """
import sys
from pathlib import Path
from MEDS_EIC_AR.model.backends.export import export_lightning_to_hf_dir
from MEDS_EIC_AR.training import MEICARModule
export_lightning_to_hf_dir(MEICARModule.load_from_checkpoint(Path(sys.argv[1])), sys.argv[2])
"""
VOCABULARY = Path("metadata") / "codes.parquet"


def import_eic_ar(checkpoint: Path, tensorized: Path, out: Path, python: str, trust_pickle: bool) -> Path:
    """Export `checkpoint` with MEDS_EIC_AR's exporter (run by `python`) into `out`, with the
    tensorized cohort's codes.parquet beside it. Nothing is written to `out` unless it all works."""
    checkpoint, tensorized, out = Path(checkpoint), Path(tensorized), Path(out)
    if not trust_pickle:
        raise UserInputError(
            "--trust-pickle to load a Lightning checkpoint",
            f"{checkpoint} (a pickle: it can run code)",
            "pass --trust-pickle if you trust the file",
        )
    if not checkpoint.is_file():
        raise UserInputError(
            "a MEDS_EIC_AR checkpoint file (.ckpt)",
            f"{checkpoint} (not a file)",
            "pass e.g. OUTPUT_DIR/checkpoints/last.ckpt",
        )
    if not (tensorized / VOCABULARY).is_file():
        raise UserInputError(
            "the tensorized cohort directory of MEICAR_process_data (output_dir)",
            f"{tensorized} without {VOCABULARY}",
            "pass the output_dir you trained from",
        )
    if out.exists() and any(out.iterdir()):
        raise UserInputError("an empty or new model directory", f"{out} (not empty)", "choose a new --out")
    with atomic_dir(out) as tmp:
        hf = tmp / "hf"
        done = subprocess.run(
            [python, "-c", EXPORT, str(checkpoint), str(hf)], capture_output=True, text=True
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
            raise UserInputError(
                f"MEDS_EIC_AR importable by {python}",
                last,
                "pass --python pointing at the interpreter where `pip install meds-eic-ar` ran",
            )
        for f in hf.iterdir():
            shutil.move(str(f), tmp / f.name)
        hf.rmdir()
        shutil.copy(tensorized / VOCABULARY, tmp / "codes.parquet")
    return out
