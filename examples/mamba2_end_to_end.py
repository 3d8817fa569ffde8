"""Train a tiny Mamba2 (the architecture of EHRMamba2) on the synthetic cohort and audit it.

    python examples/mamba2_end_to_end.py --out mamba2_run

Uses only public memaudit APIs: synth -> train (architecture="mamba2") -> memaudit.run_audit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import memaudit
from memaudit.synthetic.cohort import SynthConfig, write_cohort
from memaudit.synthetic.trainer import TrainConfig, train_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="mamba2_run")
    ap.add_argument("--subjects", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=6)
    args = ap.parse_args()
    out = Path(args.out)
    if not (out / "data" / "metadata").exists():
        write_cohort(out / "data", SynthConfig(n_subjects=args.subjects, canaries_per_repetition=5))
    if not (out / "model" / "config.json").exists():
        train_model(
            out / "data",
            out / "model",
            TrainConfig(epochs=args.epochs, hidden_size=64, architecture="mamba2"),
        )
    report = memaudit.run_audit(
        out / "data",
        out / "model",
        {"subjects_per_arm": 100, "tiers": ["none", "static", "codes:10", "codes:20"]},
        out=out / "audit",
        progress=True,
    )
    print(f"risk {report['risk']['level']}; report at {out / 'audit' / 'report.html'}")
    for name, test in report["tests"].items():
        print(f"{name} {test['status']}: {test['summary']}")


if __name__ == "__main__":
    main()
