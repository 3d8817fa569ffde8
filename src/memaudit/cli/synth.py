"""`memaudit synth`: write a synthetic MEDS cohort with planted ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..rundir import writable_location
from .common import EXIT_OK, int_list, positive_int

NAME = "synth"
HELP = "write a synthetic MEDS cohort with planted ground truth"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="new directory for the MEDS dataset")
    p.add_argument("--subjects", type=positive_int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--canary-repetitions", type=int_list, default=(1, 5, 20, 50), help="e.g. 1,5,20,50")
    p.add_argument(
        "--repetitions-in-data",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write a ×r canary r times (copies under new subject ids), as real extracts repeat records "
        "(default); --no-repetitions-in-data writes each record once and the trainer repeats canaries",
    )
    p.add_argument("--canaries-per-repetition", type=int, default=10)
    p.add_argument(
        "--style",
        default="memaudit",
        choices=["memaudit", "mimic"],
        help="memaudit's own codes, or MIMIC-IV MEDS conventions (ICD-9/10 mixed, GENDER static rows, "
        "MEDS_BIRTH, lab item ids, no time-gap codes)",
    )


def run(args: argparse.Namespace) -> int:
    from ..synthetic.cohort import SynthConfig, write_cohort

    cfg = SynthConfig(
        n_subjects=args.subjects,
        seed=args.seed,
        canary_repetitions=args.canary_repetitions,
        canaries_per_repetition=args.canaries_per_repetition,
        repetitions_in_data=args.repetitions_in_data,
        style=args.style,
    )
    counts = write_cohort(writable_location(Path(args.out)), cfg, progress=not args.quiet)
    print(f"wrote MEDS cohort to {args.out}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return EXIT_OK
