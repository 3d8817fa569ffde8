"""`memaudit demo`: the whole path on the bundled synthetic cohort and the built-in model."""

from __future__ import annotations

from pathlib import Path


def run_demo(out: Path, subjects: int, epochs: int, seed: int, quiet: bool) -> int:
    from .cohort import SynthConfig, write_cohort
    from .trainer import TrainConfig, train_model

    out = Path(out)
    data, model = out / "data", out / "model"
    if not (data / "metadata").exists():
        counts = write_cohort(data, SynthConfig(n_subjects=subjects, seed=seed), progress=not quiet)
        print(f"[1/3] synthetic MEDS cohort: {counts} -> {data}")
    else:
        print(f"[1/3] reusing cohort {data}")
    if not (model / "config.json").exists():
        info = train_model(data, model, TrainConfig(epochs=epochs, seed=seed), progress=not quiet)
        print(f"[2/3] built-in model trained in {info['seconds']}s -> {model}")
    else:
        print(f"[2/3] reusing model {model}")
    from ..config import load_config
    from ..pipeline import ModelSource, audit

    print("[3/3] auditing the built-in model (T1-T6)")
    _, code = audit(
        data,
        ModelSource(model=model),
        out / "audit",
        load_config(overrides={"seed": seed}),
        progress=not quiet,
    )
    print(f"report: {out / 'audit' / 'report.json'}")
    return code
