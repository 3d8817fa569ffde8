"""What each safeguard buys and costs, measured side by side on one synthetic cohort.

    python benchmarks/safeguards.py --out DIR [--subjects 1000] [--seed 0] [--style memaudit|mimic]
        [--variants baseline,dedup,...]

The cohort holds its repeated records in the data (a ×r canary written r times under new subject
ids, as real extracts hold them), so the baseline trainer sees each ×r canary r times per epoch and
`memaudit scan` finds every group. Each variant trains the built-in model and its reference model
(half of the members held out, the same safeguard) and audits it; then, from the audit's own files
and the ground truth:

- privacy: risk level; T4's primary AUROC (all members, each repeated record counted once, as the
  audit counts it); on the ×20+ canaries against the non-members, the AUROC and the power at 1% FPR
  of the same score; canaries flagged by T2; T5's memorized cases;
- utility (what the model still does for patients it never saw): the non-members' mean
  log-probability per code, and their T1 recovery at codes:10.

Each variant is `DIR/<variant>/` and is reused when finished (the run is resumable); `DIR/safeguards.json`
and `DIR/safeguards.md` are recomputed from what is there. Cost is written per variant."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl

from memaudit.audits.stats import auroc
from memaudit.config import load_config
from memaudit.groundtruth.score import ground_truth_by_hash
from memaudit.pipeline import ModelSource, audit
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import TrainConfig, train_model

VARIANTS = {
    "baseline": {},
    "dedup": {"dedup": True},
    "min_code_subjects_5": {"min_code_subjects": 5},
    "dp_epsilon_8": {"dp_epsilon": 8.0},
    "dp_epsilon_1": {"dp_epsilon": 1.0},
}
AUDIT = {
    "tiers": ["none", "static", "codes:10", "codes:20"],
    "subjects_per_arm": None,  # every member record: the ×20+ canaries are 20 of about 600
    "generation": {"max_new_codes": 48},
    "statistics": {"stability_resamples": 0},
}


def run_variant(data: Path, out: Path, safeguard: dict, seed: int) -> dict:
    done = out / "variant.json"
    if done.exists():
        return json.loads(done.read_text())
    seconds = {}
    start = time.perf_counter()
    if not (out / "model" / "config.json").exists():
        train_model(data, out / "model", TrainConfig(epochs=12, seed=seed, **safeguard), progress=False)
    seconds["train"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    if not (out / "reference" / "config.json").exists():
        train_model(
            data,
            out / "reference",
            TrainConfig(epochs=12, seed=seed, hold_out=0.5, **safeguard),
            progress=False,
        )
    seconds["reference"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    config = load_config(overrides={**AUDIT, "seed": seed, "reference": {"model": str(out / "reference")}})
    report, _ = audit(
        data, ModelSource(model=out / "model"), out / "audit", config, progress=False, echo=False
    )
    seconds["audit"] = round(time.perf_counter() - start, 1)
    result = {**measure(data, out, report), "seconds": seconds}
    result["training"] = json.loads((out / "model" / "memaudit_training.json").read_text())["safeguards"]
    done.write_text(json.dumps(result, indent=2))
    return result


def measure(data: Path, out: Path, report: dict) -> dict:
    salt = (out / "audit" / "salt.secret").read_text().strip()
    truth = ground_truth_by_hash(pl.read_parquet(data / "ground_truth.parquet"), salt)
    subjects = pl.read_parquet(out / "audit" / "subjects.parquet").join(
        truth.select("subject", "canary_repetitions"), on="subject", how="left"
    )
    score = report["tests"]["T4"]["metrics"]["primary_score"]
    column = f"t4_{score}"
    non = subjects.filter(pl.col("arm") == "non_member")
    canary = subjects.filter((pl.col("arm") == "member") & (pl.col("canary_repetitions") >= 20))
    threshold = float(np.quantile(non[column].drop_nulls().to_numpy(), 0.99))
    flagged = {
        f["subject"] for f in report["flagged_subjects"] if any(t.startswith("T2") for t in f["tests"])
    }
    counts = report["tests"]["T5"]["metrics"].get("counts", {})
    return {
        "risk": report["risk"]["level"],
        "t4_score": score,
        "t4_auroc": report["tests"]["T4"]["metrics"]["decision"]["auroc"],
        "canaries_audited": canary.height,
        "canary_auroc": auroc(canary[column].to_numpy(), non[column].to_numpy()),
        "canary_power_at_1pct_fpr": float((canary[column].to_numpy() > threshold).mean())
        if canary.height
        else None,
        "canaries_flagged_t2": len(flagged & set(canary["subject"].to_list())),
        "t5_memorized": counts.get("memorized"),
        "utility_logprob_per_code": float(non["t4_loss"].mean()),
        "utility_t1_recovery_codes10": float(non["t1_recovery__codes:10"].mean()),
    }


def table(results: dict[str, dict]) -> str:
    lines = [
        "| variant | risk | T4 AUROC | ×20+ canaries: AUROC | power at 1% FPR | flagged by T2 "
        "| T5 memorized | held-out log-prob per code | held-out T1 recovery | minutes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        minutes = sum(r["seconds"].values()) / 60
        lines.append(
            f"| {name} | {r['risk']} | {r['t4_auroc']:.2f} | {r['canary_auroc']:.2f} | "
            f"{r['canary_power_at_1pct_fpr']:.2f} (n {r['canaries_audited']}) | {r['canaries_flagged_t2']} | "
            f"{r['t5_memorized']} | {r['utility_logprob_per_code']:.2f} | "
            f"{r['utility_t1_recovery_codes10']:.2f} | {minutes:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--style", default="memaudit", choices=["memaudit", "mimic"], help="the cohort's codes"
    )
    args = parser.parse_args()
    data = args.out / "data"
    if not (data / "ground_truth.parquet").exists():
        write_cohort(
            data,
            SynthConfig(
                n_subjects=args.subjects,
                seed=args.seed,
                canaries_per_repetition=10,
                canary_plant_window=(12, 30),
                repetitions_in_data=True,
                style=args.style,
            ),
            progress=False,
        )
    for name in args.variants.split(","):
        run_variant(data, args.out / name, VARIANTS[name], args.seed)
        print(f"{name} done", flush=True)
    results = {
        name: json.loads((args.out / name / "variant.json").read_text())
        for name in VARIANTS
        if (args.out / name / "variant.json").exists()
    }
    (args.out / "safeguards.json").write_text(json.dumps(results, indent=2))
    (args.out / "safeguards.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
