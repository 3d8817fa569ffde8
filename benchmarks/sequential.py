"""Sequential sampling against fixed sampling, side by side in one run, on the demo's cohort,
model and reference model: model calls, generated codes, wall time and the agreement of the
decisions.

    python benchmarks/sequential.py [--dir demo_run] [--per-arm 300]

Runs the whole audit (T1-T6) three times, each with an empty response cache:

- fixed 10: every prompt sampled 10 times (the default before sequential sampling);
- fixed 100: every prompt sampled 100 times (the cap: the paper's precision);
- sequential: rounds of 16, 32, 64, 100, a prompt stopping once its flags are settled.

Agreement is T2's flag decision (p̂ at the threshold, for every subject and group due within
the horizon) of sequential against fixed 100, per prompt; T5's verdicts are compared too. The
demo directory is built by `memaudit demo --out DIR` (or `bash scripts/demo.sh`) if missing.
"""

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
from memaudit.synthetic.demo import run_demo

MODES = {
    "fixed 10": {"n_samples": 10, "sequential": False},
    "fixed 100": {"n_samples": 100, "sequential": False},
    "sequential": {"n_samples": 100, "sequential": True, "first_round": 16},
}


class CountingAdapter(AdapterBase):
    """A backend that counts what it is asked: generate calls, samples, generated codes, seconds."""

    def __init__(self, backend: HFAdapter) -> None:
        self.backend = backend
        self.calls = self.samples = self.codes = 0
        self.seconds = 0.0

    def __getattr__(self, name: str):
        return getattr(self.backend, name)

    def capabilities(self):
        return self.backend.capabilities()

    def fingerprint(self) -> str:
        return self.backend.fingerprint()

    def vocabulary(self):
        return self.backend.vocabulary()

    def window_plan(self, sequences, prompts=(), max_new_codes=0):
        return self.backend.window_plan(sequences, prompts, max_new_codes)

    def generate(self, prompts, n_samples, max_new_codes, temperature, top_p, seed, first_sample=0):
        t0 = time.perf_counter()
        out = self.backend.generate(prompts, n_samples, max_new_codes, temperature, top_p, seed, first_sample)
        self.seconds += time.perf_counter() - t0
        self.calls += len(prompts)
        self.samples += len(prompts) * n_samples
        self.codes += sum(len(s) for samples in out for s in samples)
        return out

    def score(self, sequences):
        t0 = time.perf_counter()
        try:
            return self.backend.score(sequences)
        finally:
            self.seconds += time.perf_counter() - t0

    def embed(self, sequences):
        t0 = time.perf_counter()
        try:
            return self.backend.embed(sequences)
        finally:
            self.seconds += time.perf_counter() - t0


def audit_once(root: Path, workdir: Path, mode: str, per_arm: int, seed: int) -> dict:
    overrides = {
        "seed": seed,
        "subjects_per_arm": per_arm or None,
        "generation": MODES[mode],
        "reference": {"model": str(root / "reference_model")},
    }
    config = load_config(overrides=overrides)
    dataset = MedsDataset(root / "data")
    audited = CountingAdapter(HFAdapter(root / "model", batch_size=config.generation.batch_size))
    reference = CountingAdapter(HFAdapter(root / "reference_model", batch_size=config.generation.batch_size))
    t0 = time.perf_counter()
    with RunDir.open(workdir / mode.replace(" ", "_")) as run:
        ctx = pipeline.prepare(dataset, config, audited, has_reference=True)
        outcome = pipeline.run(ctx, dataset, audited, run, reference)
    wall = time.perf_counter() - t0
    t2 = outcome.results["T2"]
    flags = {
        (g, t, s): v >= config.t2.threshold
        for (g, t), scores in t2.handoff.p_hat.items()
        for s, v in scores.items()
        if ctx.horizon_labels(g, t)[s]
    }
    t5 = outcome.results["T5"].metrics
    return {
        "wall_seconds": round(wall, 1),
        "model_seconds": round(audited.seconds + reference.seconds, 1),
        "generate_prompt_calls": audited.calls + reference.calls,
        "generated_samples": audited.samples + reference.samples,
        "generated_codes": audited.codes + reference.codes,
        "t2_sampling": t2.metrics.get("sampling"),
        "t5_sampling": t5.get("sampling"),
        "t2_flags": flags,
        "t5_verdicts": {(c["subject_id"], c["group"], c["tier"]): c["verdict"] for c in t5.get("cases", [])},
        "status": {name: r.status for name, r in outcome.results.items()},
    }


def agreement(a: dict, b: dict) -> tuple[float, int]:
    shared = a.keys() & b.keys()
    return (sum(a[k] == b[k] for k in shared) / len(shared) if shared else float("nan")), len(shared)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="demo_run", help="the demo's directory (built if missing)")
    ap.add_argument("--per-arm", type=int, default=300, help="subjects per arm (demo: 300; 0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of: " + ", ".join(MODES))
    args = ap.parse_args()
    root = Path(args.dir)
    if not (root / "reference_model" / "config.json").exists():
        run_demo(root, 2000, 12, args.seed, quiet=True)  # the demo command's defaults
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for mode in args.modes.split(","):
            results[mode] = audit_once(root, Path(d), mode, args.per_arm, args.seed)
            print(f"{mode}: {results[mode]['wall_seconds']} s", flush=True)
    rows = ("wall_seconds", "model_seconds", "generate_prompt_calls", "generated_samples", "generated_codes")
    names = list(results)
    print("\n| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for row in rows:
        print(f"| {row} | " + " | ".join(str(results[m][row]) for m in names) + " |")
    for test in ("t2_sampling", "t5_sampling"):
        cells = []
        for m in names:
            s = results[m][test]
            cells.append(
                f"{s['samples_drawn']} drawn, {s['stopped_early']}/{s['prompts']} early" if s else "–"
            )
        print(f"| {test} | " + " | ".join(cells) + " |")
    print("| statuses | " + " | ".join(json.dumps(results[m]["status"]) for m in names) + " |")
    if "sequential" in results and "fixed 100" in results:
        seq, cap = results["sequential"], results["fixed 100"]
        share, n = agreement(seq["t2_flags"], cap["t2_flags"])
        print(
            f"\nT2 flag decisions, sequential vs fixed 100: {share:.2%} agree over {n} (subject, group, tier)"
        )
        share5, n5 = agreement(seq["t5_verdicts"], cap["t5_verdicts"])
        print(f"T5 verdicts, sequential vs fixed 100: {share5:.2%} agree over {n5} cases judged in both")
    if "sequential" in results and "fixed 10" in results:
        ratio = results["sequential"]["generated_samples"] / results["fixed 10"]["generated_samples"]
        print(f"sequential draws {ratio:.2f}x the samples of fixed 10")


if __name__ == "__main__":
    main()
