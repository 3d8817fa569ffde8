"""Validation grid: detection power vs canary repetitions, across model sizes and epochs.

    python benchmarks/validation.py --out bench_validation [--subjects 1200] [--sizes 64,128] [--epochs 6,12]

Writes OUT/validation_grid.csv, OUT/validation_grid.md and OUT/power_vs_repetitions.svg, and
prints the table. Each cell runs synth (shared), train, audit, placebo audit and scoring.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from memaudit import svg
from memaudit.config import load_config
from memaudit.groundtruth.validate import QUICK_AUDIT, validate
from memaudit.pipeline import ModelSource, audit
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import TrainConfig, train_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench_validation")
    ap.add_argument("--subjects", type=int, default=1200)
    ap.add_argument("--sizes", default="64,128")
    ap.add_argument("--epochs", default="6,12")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    data = out / "data"
    if not (data / "ground_truth.parquet").exists():
        write_cohort(data, SynthConfig(n_subjects=args.subjects, seed=args.seed), progress=False)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        for epochs in [int(e) for e in args.epochs.split(",")]:
            cell = out / f"h{size}_e{epochs}"
            if not (cell / "model" / "config.json").exists():
                train_model(
                    data,
                    cell / "model",
                    TrainConfig(epochs=epochs, hidden_size=size, seed=args.seed),
                    progress=False,
                )
            if not (cell / "audit" / "report.json").exists():
                audit(
                    data,
                    ModelSource(model=cell / "model"),
                    cell / "audit",
                    load_config(overrides={**QUICK_AUDIT, "seed": args.seed}),
                    progress=False,
                    echo=False,
                )
            v = validate(data, cell / "audit", progress=False)
            for r, p in v["power_by_repeats"].items():
                rows.append(
                    {
                        "hidden_size": size,
                        "epochs": epochs,
                        "repeats": int(r),
                        "t4_power_at_1pct_fpr": p,
                        "exposure_bits": v["exposure_by_repeats"][r],
                        "placebo_auroc": v["placebo"]["t4_auroc"],
                        "placebo_false_flag_rate": v["placebo"]["false_flag_rate"],
                    }
                )
            print(
                json.dumps(
                    {"cell": cell.name, "power": v["power_by_repeats"], "targets_met": v["targets_met"]}
                )
            )
    with open(out / "validation_grid.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = [
        "| hidden | epochs | repeats | T4 power @1% FPR | exposure (bits) | placebo AUROC | placebo false "
        "flags |",
        "|---|---|---|---|---|---|---|",
    ]
    md += [
        f"| {r['hidden_size']} | {r['epochs']} | {r['repeats']} | {r['t4_power_at_1pct_fpr']} | "
        f"{r['exposure_bits']:.2f} | {r['placebo_auroc']:.3f} | {r['placebo_false_flag_rate']:.3f} |"
        for r in rows
    ]
    (out / "validation_grid.md").write_text("\n".join(md) + "\n")
    repeats = sorted({r["repeats"] for r in rows})
    series = {
        f"h{s}_e{e}": [
            (
                next(
                    x["t4_power_at_1pct_fpr"]
                    for x in rows
                    if x["hidden_size"] == s and x["epochs"] == e and x["repeats"] == k
                ),
                None,
            )
            for k in repeats
        ]
        for s, e in sorted({(r["hidden_size"], r["epochs"]) for r in rows})
    }
    (out / "power_vs_repetitions.svg").write_text(
        svg.tier_lines([str(k) for k in repeats], series, "T4 power at 1% FPR", "power vs canary repetitions")
    )
    print("\n".join(md))


if __name__ == "__main__":
    main()
