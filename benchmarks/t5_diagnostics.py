"""T5 diagnostics: how much each perturbation family moves p̂, by what the ground truth planted.

    python benchmarks/t5_diagnostics.py --dir validation_run [--model MODEL_DIR] [--samples 20] [--null 40]

Runs on the cohort and model of `memaudit validate --quick --out DIR` (DIR/data, DIR/model; or
another model trained on DIR/data, e.g. a larger one from `memaudit train --hidden-size 256
--layers 4 --epochs 20`), sends every flagged T2 case to T5 (not only `t5.max_cases`), adds four
exploratory families to the shipped ones: the clinical codes reordered, half of them swapped, the
earlier half dropped, and every code *not linked* to a sensitive group swapped for another unlinked
code of its type (linked: see memaudit.audits.clinical_links), which keeps the clinical picture that
predicts a group and replaces the rest of the patient. It prints, per class of case, the mean drop
p̂(original) − p̂(perturbed) per family, then every planted-at-random case whose flag replicated
with its mean p̂ per family. A family separates memorization from generalization when it moves
canaries (random plants repeated ≥ 5×) and not pattern cases. Responses are cached in
MODEL_DIR/../t5_diagnostics.sqlite next to the model.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

from memaudit import pipeline
from memaudit.adapters.cache import CachedAdapter
from memaudit.adapters.dispatch import fulfil
from memaudit.adapters.hf import HFAdapter
from memaudit.audits.handoffs import FlaggedCase
from memaudit.audits.t1 import trajectory as t1_trajectory
from memaudit.audits.t2 import sensitive as t2_sensitive
from memaudit.audits.t5 import cases as t5_cases
from memaudit.audits.t5 import perturbation as t5
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config
from memaudit.groundtruth.validate import QUICK_AUDIT
from memaudit.prompts.requests import AUDITED

SHIPPED = t5.perturbations
LINKED: set[str] = set()  # codes linked to a sensitive group in the audited cohort (filled in main)


def swapped(prompt, positions, candidates, rng, avoid=frozenset()):
    """The prompt with each position's code replaced by another code of its type, not in `avoid`."""
    out = list(prompt)
    for i in positions:
        pool = [c for c in candidates.get(t5.code_kind(prompt[i]), []) if c != prompt[i] and c not in avoid]
        if pool:
            out[i] = pool[int(rng.integers(len(pool)))]
    return tuple(out)


def with_exploratory(ctx, prompt, candidates):
    out = dict(SHIPPED(ctx, prompt, candidates))
    clinical = [i for i, c in enumerate(prompt) if not c.startswith(ctx.config.demographic_prefixes)]
    if len(clinical) >= 4:
        rng = np.random.default_rng(
            int.from_bytes(hashlib.sha256("|".join(prompt).encode()).digest()[:8], "little")
        )
        out["half_swapped"] = swapped(
            prompt, rng.choice(clinical, size=len(clinical) // 2, replace=False), candidates, rng
        )
        reordered = list(prompt)
        for target, source in zip(clinical, [clinical[k] for k in rng.permutation(len(clinical))]):
            reordered[target] = prompt[source]
        out["order"] = tuple(reordered)
        early = set(clinical[: len(clinical) // 2])
        out["early_half_dropped"] = tuple(c for i, c in enumerate(prompt) if i not in early)
        out["unlinked_swapped"] = swapped(
            prompt, [i for i in clinical if prompt[i] not in LINKED], candidates, rng, avoid=LINKED
        )
    return out


def family(name: str) -> str:
    return "age" if name.startswith("age") else name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", default="validation_run")
    ap.add_argument("--model", default=None, help="model directory (default DIR/model)")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--null", type=int, default=40)
    args = ap.parse_args()
    root = Path(args.dir)
    config = load_config(
        overrides={
            **QUICK_AUDIT,
            "seed": 0,
            "t5": {"max_cases": 100_000, "n_samples": args.samples, "n_null": args.null},
        }
    )
    model = Path(args.model) if args.model else root / "model"
    adapter = HFAdapter(model, batch_size=256)
    ctx = pipeline.prepare(MedsDataset(root / "data"), config, adapter)
    for group in ctx.config.sensitive_groups:
        LINKED.update(ctx.linked_codes(group))
    cached = {AUDITED: CachedAdapter(adapter, model.parent / "t5_diagnostics.sqlite")}
    responses = dict(fulfil(t1_trajectory.requests(ctx) + t2_sensitive.requests(ctx), cached, 2048, True))
    while more := t2_sensitive.follow_up(ctx, responses):
        responses.update(fulfil(more, cached, 2048, True))
    flags = t2_sensitive.run(ctx, responses).handoff
    t5.perturbations = with_exploratory
    chosen = t5_cases.cases(ctx, flags.flagged, flags)
    nulls = t5_cases.null_cases(ctx, flags.p_hat)
    candidates = t5.swap_candidates(ctx)
    wanted = []
    for c in chosen + nulls:
        prompt = ctx.prompts[c.tier][c.subject_id].codes
        wanted.append(t5.sample_request(ctx, prompt, original=True))
        wanted += [t5.sample_request(ctx, p) for p in t5.perturbations(ctx, prompt, candidates).values()]
    t5_responses = fulfil(wanted, cached, 2048, True)
    cached[AUDITED].close()
    truth = pl.read_parquet(root / "data" / "ground_truth.parquet")
    kind = {
        (r["subject_id"], p["group"]): (p["kind"], r["canary_repetitions"])
        for r in truth.iter_rows(named=True)
        for p in (r["planted"] or [])
    }
    threshold = config.t2.threshold
    drops: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    random_cases: list[tuple[int, FlaggedCase, dict[str, list[float]]]] = []
    for arm, cases in (("member", chosen), ("non-member null", nulls)):
        for c in cases:
            profile, _s = t5.profile(
                ctx,
                c,
                t5_responses[t5.sample_request(ctx, ctx.prompts[c.tier][c.subject_id].codes, original=True)],
                t5_responses,
                candidates,
            )
            planted, repeats = kind.get((c.subject_id, c.group), ("none", 0))
            label = f"{arm}: {'canary ≥5×' if planted == 'random' and repeats >= 5 else planted}"
            if arm == "member" and profile["original"] < threshold:
                label += " (not replicated)"
            drops[label]["n"].append(1.0)
            if arm == "member" and planted == "random" and profile["original"] >= threshold:
                by_family: dict[str, list[float]] = defaultdict(list)
                for name, value in profile.items():
                    by_family[family(name)].append(value)
                random_cases.append((repeats, c, by_family))
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
    print(f"\nplanted-at-random member cases whose flag replicated: mean p̂ per family ({len(random_cases)})")
    print("| repeats | group | tier | original | " + " | ".join(families) + " |")
    print("|---|---|---|---|" + "---|" * len(families))
    for repeats, c, by_family in sorted(random_cases, key=lambda x: (-x[0], x[1].group, x[1].tier)):
        cells = [f"{np.mean(by_family[f]):.2f}" if by_family.get(f) else "–" for f in families]
        print(
            f"| {repeats} | {c.group} | {c.tier} | {by_family['original'][0]:.2f} | "
            + " | ".join(cells)
            + " |"
        )


if __name__ == "__main__":
    main()
