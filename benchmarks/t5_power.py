"""T5's power, measured first: the null's floor (a twin of the audited model) and the canaries'
excess, in the units of two statistics.

    python benchmarks/t5_power.py --run DIR [--twin-seed 1000]

DIR is a kept run of `memaudit validate --repeat 1 --scenario memorizing --keep --out OUT`
(OUT/memorizing/run_<i>: data/, model/, reference_model/, audit/). The script trains a *twin* of
the audited model M (same data and recipe, another training seed: DIR/twin_model) and, on the
audit's T5 null cases (non-members flagged by the T2 rule) and its judged member cases, computes

- the sample-share contrast (T5's statistic: Jeffreys logit of the share of 100 fresh samples
  with the group), M against the reference R and M against the twin M';
- the teacher-forced log-probability of the case's first group code at its true position (the
  prompt, then the true continuation up to that code): no sampling noise and no cap.

For each statistic: the null's between-patient spread of M − R and of M − M' (the floor no number
of references removes), and the excess of canaries repeated ≥ 20× over the null's mean, in units
of the M − R spread. Prints one table; writes DIR/t5_power.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl

from memaudit import pipeline
from memaudit.adapters.hf import HFAdapter
from memaudit.audits.t5.null import fit_null, logit_contrast
from memaudit.audits.t5.perturbation import sample_request
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.config import load_config
from memaudit.groundtruth.score import ground_truth_by_hash
from memaudit.synthetic.trainer import TrainConfig, train_model


def teacher_forced(adapter: HFAdapter, ctx, cases: list[dict]) -> np.ndarray:
    """log p(first group code of the continuation | prompt + true codes before it), per case."""
    sequences, positions = [], []
    for c in cases:
        prompt = ctx.prompts[c["tier"]][c["subject_id"]]
        horizon = prompt.continuation[: ctx.horizon]
        pos = next(i for i, code in enumerate(horizon) if ctx.matcher.has_group([code], c["group"]))
        sequences.append(list(prompt.codes) + list(horizon[: pos + 1]))
        positions.append(len(prompt.codes) + pos)
    scores = adapter.score(sequences)
    return np.array([s.logprobs[p] for s, p in zip(scores, positions)])


def shares(adapter: HFAdapter, ctx, cases: list[dict]) -> np.ndarray:
    """k of `t5.n_samples_original` fresh samples carrying the group, per case."""
    out = []
    for c in cases:
        request = sample_request(ctx, ctx.prompts[c["tier"]][c["subject_id"]].codes, original=True)
        g = request
        samples = adapter.generate([g.prompt], g.n_samples, g.max_new_codes, g.temperature, g.top_p, g.seed)[
            0
        ]
        out.append(sum(ctx.matcher.has_group(s, c["group"]) for s in samples))
    return np.array(out, float)


def spread(values: np.ndarray, se: np.ndarray | None = None) -> float:
    """Between-patient standard deviation (sampling variance removed where `se` is given)."""
    if se is None:
        return float(np.std(values, ddof=1))
    return float(fit_null(values, se).tau)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True, type=Path)
    parser.add_argument("--twin-seed", type=int, default=1000)
    args = parser.parse_args()
    run = args.run
    report = json.loads((run / "audit" / "report.json").read_text())
    salt = (run / "audit" / "salt.secret").read_text().strip()
    truth = ground_truth_by_hash(pl.read_parquet(run / "data" / "ground_truth.parquet"), salt)
    ids = dict(zip(truth["subject"], truth["subject_id"]))
    repeats = dict(zip(truth["subject"], truth["canary_repetitions"].fill_null(0)))
    kinds = {
        (r["subject"], p["group"]): p["kind"] for r in truth.iter_rows(named=True) for p in r["planted"] or []
    }
    twin = run / "twin_model"
    if not (twin / "config.json").exists():
        train_model(run / "data", twin, TrainConfig(epochs=12, seed=args.twin_seed), progress=False)
    config = load_config(overrides=report["config"])
    models = {
        name: HFAdapter(run / d)
        for name, d in (("M", "model"), ("R", "reference_model"), ("twin", "twin_model"))
    }
    ctx = pipeline.prepare(MedsDataset(run / "data"), config, models["M"], has_reference=True)
    metrics = report["tests"]["T5"]["metrics"]
    n = config.t5.n_samples_original
    nulls = [{**c, "subject_id": ids[c["subject"]]} for c in metrics["null_cases"]]
    cases = [{**c, "subject_id": ids[c["subject"]]} for c in metrics["cases"] if c["p_reference"] is not None]
    canary = np.array(
        [
            kinds.get((c["subject"], c["group"])) == "random" and repeats.get(c["subject"], 0) >= 20
            for c in cases
        ]
    )
    pattern = np.array([kinds.get((c["subject"], c["group"])) == "pattern" for c in cases])
    out: dict = {"n_null": len(nulls), "n_canary_20_plus": int(canary.sum()), "n_pattern": int(pattern.sum())}

    # the sample-share contrast, in logits
    k_m_null = np.round(np.array([c["p_audited"] for c in nulls]) * n)
    k_r_null = np.round(np.array([c["p_reference"] for c in nulls]) * n)
    k_twin_null = shares(models["twin"], ctx, nulls)
    mr, mr_se = logit_contrast(k_m_null, k_r_null, n)
    mt, mt_se = logit_contrast(k_m_null, k_twin_null, n)
    k_m = np.round(np.array([c["p_audited"] for c in cases]) * n)
    k_r = np.round(np.array([c["p_reference"] for c in cases]) * n)
    case_mr, _ = logit_contrast(k_m, k_r, n)
    unit = spread(mr, mr_se)
    out["sample_share"] = {
        "null_spread_M_vs_R": unit,
        "null_spread_M_vs_twin": spread(mt, mt_se),
        "null_mean_M_vs_R": float(np.mean(mr)),
        "canary_excess_in_spreads": float((np.mean(case_mr[canary]) - np.mean(mr)) / unit)
        if canary.any()
        else None,
        "pattern_excess_in_spreads": float((np.mean(case_mr[pattern]) - np.mean(mr)) / unit)
        if pattern.any()
        else None,
    }

    # the teacher-forced log-probability of the removed code
    lp = {name: teacher_forced(m, ctx, nulls) for name, m in models.items()}
    lp_cases = {name: teacher_forced(m, ctx, cases) for name, m in models.items()}
    null_mr, null_mt = lp["M"] - lp["R"], lp["M"] - lp["twin"]
    case_tf = lp_cases["M"] - lp_cases["R"]
    unit = spread(null_mr)
    out["teacher_forced"] = {
        "null_spread_M_vs_R": unit,
        "null_spread_M_vs_twin": spread(null_mt),
        "null_mean_M_vs_R": float(np.mean(null_mr)),
        "canary_excess_in_spreads": float((np.mean(case_tf[canary]) - np.mean(null_mr)) / unit)
        if canary.any()
        else None,
        "pattern_excess_in_spreads": float((np.mean(case_tf[pattern]) - np.mean(null_mr)) / unit)
        if pattern.any()
        else None,
    }
    (run / "t5_power.json").write_text(json.dumps(out, indent=2))
    print(
        f"{out['n_null']} null cases, {out['n_canary_20_plus']} canary ×20+ cases, "
        f"{out['n_pattern']} pattern cases"
    )
    print(
        "| statistic | null spread M−R | null spread M−twin (floor) | canary excess (spreads) "
        "| pattern excess |"
    )
    print("|---|---|---|---|---|")
    for name in ("sample_share", "teacher_forced"):
        s = out[name]
        fmt = lambda x: "–" if x is None else f"{x:.2f}"
        print(
            f"| {name} | {fmt(s['null_spread_M_vs_R'])} | {fmt(s['null_spread_M_vs_twin'])} | "
            f"{fmt(s['canary_excess_in_spreads'])} | {fmt(s['pattern_excess_in_spreads'])} |"
        )


if __name__ == "__main__":
    main()
