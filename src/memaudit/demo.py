"""`memaudit demo`: the whole path on the bundled synthetic cohort and the built-in model."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_demo(out: Path, subjects: int, epochs: int, seed: int, quiet: bool) -> int:
    from .adapters.hf import HFAdapter
    from .cohort.meds_reader import MedsDataset
    from .cohort.synth import SynthConfig, write_cohort
    from .model.train import TrainConfig, train_model

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
    adapter = HFAdapter(model)
    ds = MedsDataset(data)
    rng = np.random.default_rng(seed)
    members = ds.timelines(rng.choice(ds.arm_ids("train"), 50, replace=False))
    others = ds.timelines(rng.choice(ds.arm_ids("held_out"), 50, replace=False))
    loss = {name: -float(np.mean([r.logprobs.mean() for r in adapter.score([t.codes for t in tl.values()])]))
            for name, tl in (("members", members), ("non-members", others))}
    sample = adapter.generate([next(iter(members.values())).codes[:12]], 1, 8, 1.0, 1.0, seed)[0][0]
    print(f"[3/3] adapter smoke test: mean loss members {loss['members']:.3f}, non-members "
          f"{loss['non-members']:.3f}; a sampled continuation has {len(sample)} codes")
    return 0
