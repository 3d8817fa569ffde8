"""T5 diagnostics: how much each perturbation family moves p̂, by what the ground truth planted.

    python benchmarks/t5_diagnostics.py --dir validation_run [--samples 20] [--null 40]

Runs on the cohort and model of `memaudit validate --quick --out DIR` (DIR/data, DIR/model),
sends every flagged T2 case to T5 (not only `t5.max_cases`), adds three exploratory families (the
clinical codes reordered, half of them swapped, the earlier half dropped) to the shipped ones, and prints, per class
of case, the mean drop p̂(original) − p̂(perturbed) per family. A family separates memorization from
generalization when it moves canaries (random plants repeated ≥ 5×) and not pattern cases.
Responses are cached in DIR/t5_diagnostics.sqlite.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

from memaudit.adapters.cache import CachedAdapter
from memaudit.adapters.hf import HFAdapter
from memaudit.audits import runner, t1_trajectory, t2_sensitive, t5_perturbation as t5
from memaudit.audits.requests import fulfil
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config
from memaudit.validation.run import QUICK_AUDIT

SHIPPED = t5.perturbations


def with_exploratory(ctx, prompt, candidates):  # noqa: ANN001, ANN201
    out = dict(SHIPPED(ctx, prompt, candidates))
    clinical = [i for i, c in enumerate(prompt) if not c.startswith(tuple(ctx.config["demographic_prefixes"]))]
    if len(clinical) >= 4:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256("|".join(prompt).encode()).digest()[:8], "little"))
        swapped = list(prompt)
        for i in rng.choice(clinical, size=len(clinical) // 2, replace=False):
            pool = [c for c in candidates.get(t5._code_type(prompt[i]), []) if c != prompt[i]]
            if pool:
                swapped[i] = pool[int(rng.integers(len(pool)))]
        out["half_swapped"] = tuple(swapped)
        reordered = list(prompt)
        for target, source in zip(clinical, [clinical[k] for k in rng.permutation(len(clinical))]):
            reordered[target] = prompt[source]
        out["order"] = tuple(reordered)
        early = set(clinical[: len(clinical) // 2])
        out["early_half_dropped"] = tuple(c for i, c in enumerate(prompt) if i not in early)
    return out


def family(name: str) -> str:
    return "age" if name.startswith("age") else name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", default="validation_run")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--null", type=int, default=40)
    args = ap.parse_args()
    root = Path(args.dir)
    config = load_config(overrides={**QUICK_AUDIT, "seed": 0,
                                    "t5": {"max_cases": 100_000, "n_samples": args.samples, "n_null": args.null}})
    adapter = HFAdapter(root / "model", batch_size=256)
    ctx = runner.prepare_context(MedsDataset(root / "data"), config, adapter.capabilities())
    cached = CachedAdapter(adapter, root / "t5_diagnostics.sqlite")
    responses = fulfil(t1_trajectory.requests(ctx) + t2_sensitive.requests(ctx), cached, config.seed, 2048, True)
    t2_result, flagged = t2_sensitive.run(ctx, responses)
    t5.perturbations = with_exploratory
    chosen, nulls = t5.cases(ctx, flagged, t2_result.per_subject)
    t5_responses = fulfil(t5.requests(ctx, chosen, nulls), cached, t5.t5_seed(config.seed), 2048, True)
    cached.close()
    truth = pl.read_parquet(root / "data" / "ground_truth.parquet")
    kind = {(r["subject_id"], p["group"]): (p["kind"], r["canary_repetitions"])
            for r in truth.iter_rows(named=True) for p in (r["planted"] or [])}
    threshold = float(config["t2"]["threshold"])
    drops: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    candidates = t5._candidates(ctx)
    for arm, cases in (("member", chosen), ("non-member null", [n for v in nulls.values() for n in v])):
        for c in cases:
            profile, _s = t5.profile(ctx, c, t5_responses, candidates)
            planted, repeats = kind.get((c.subject_id, c.group), ("none", 0))
            label = f"{arm}: {'canary ≥5×' if planted == 'random' and repeats >= 5 else planted}"
            if arm == "member" and profile["original"] < threshold:
                label += " (not replicated)"
            drops[label]["n"].append(1.0)
            for name, value in profile.items():
                if name != "original":
                    drops[label][family(name)].append(profile["original"] - value)
    families = sorted({f for d in drops.values() for f in d if f != "n"})
    print(f"mean drop of p̂ (original − perturbed), {args.samples} samples per prompt")
    print("| class | n | " + " | ".join(families) + " |")
    print("|---|---|" + "---|" * len(families))
    for label in sorted(drops):
        d = drops[label]
        cells = [f"{np.mean(d[f]):+.3f}" if d.get(f) else "–" for f in families]
        print(f"| {label} | {len(d['n'])} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
