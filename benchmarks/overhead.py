"""End-to-end overhead: audit wall time vs the time spent inside the adapter's generate / score /
embed for the same requests, measured in one run by timing the backend calls.

    python benchmarks/overhead.py [--subjects 600] [--per-arm 100]"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from memaudit import pipeline
from memaudit.adapters.base import AdapterBase
from memaudit.adapters.hf import HFAdapter
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config
from memaudit.rundir import RunDir
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import TrainConfig, train_model


class TimedAdapter(AdapterBase):
    """Wraps a backend and adds up the seconds spent in its model calls."""

    def __init__(self, backend: HFAdapter) -> None:
        self.backend, self.seconds = backend, 0.0

    def vocabulary(self):
        return self.backend.vocabulary()

    def window_plan(self, sequences, prompts=(), max_new_codes=0):
        return self.backend.window_plan(sequences, prompts, max_new_codes)

    def capabilities(self):
        return self.backend.capabilities()

    def fingerprint(self) -> str:
        return self.backend.fingerprint()

    def _timed(self, name: str, *args):
        t0 = time.perf_counter()
        try:
            return getattr(self.backend, name)(*args)
        finally:
            self.seconds += time.perf_counter() - t0

    def generate(self, prompts, n_samples, max_new_codes, temperature, top_p, seed, first_sample=0):
        return self._timed(
            "generate", prompts, n_samples, max_new_codes, temperature, top_p, seed, first_sample
        )

    def score(self, *args):
        return self._timed("score", *args)

    def embed(self, *args):
        return self._timed("embed", *args)


def measure(workdir: Path, subjects: int, per_arm: int) -> dict:
    data, model = workdir / "data", workdir / "model"
    if not (data / "metadata").exists():
        write_cohort(data, SynthConfig(n_subjects=subjects, canaries_per_repetition=3), progress=False)
    if not (model / "config.json").exists():
        train_model(data, model, TrainConfig(epochs=2), progress=False)
    adapter = TimedAdapter(HFAdapter(model))
    config = load_config(overrides={"subjects_per_arm": per_arm})
    dataset = MedsDataset(data)
    t0 = time.perf_counter()
    with RunDir.open(workdir / f"run_{time.time_ns()}") as run:
        ctx = pipeline.prepare(dataset, config, adapter)
        pipeline.run(ctx, dataset, adapter, run)
    wall = time.perf_counter() - t0
    return {
        "overhead_wall_seconds": wall,
        "overhead_model_seconds": adapter.seconds,
        "overhead_fraction": (wall - adapter.seconds) / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subjects", type=int, default=600)
    ap.add_argument("--per-arm", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        result = measure(Path(d), args.subjects, args.per_arm)
    print(json.dumps(result, indent=2))
    print(f"{result['overhead_fraction']:.0%} of the audit's wall time is spent outside the model calls")


if __name__ == "__main__":
    main()
