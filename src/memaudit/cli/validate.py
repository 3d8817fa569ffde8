"""`memaudit validate`: measure the audit against the synthetic cohort's ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserInputError
from ..rundir import writable_location
from .common import EXIT_OK, positive_int

NAME = "validate"
HELP = "measure the audit against the synthetic cohort's ground truth"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="synthetic MEDS cohort (with ground_truth.parquet)")
    p.add_argument("--run", help="finished audit run directory")
    p.add_argument("--model", help="model directory for the placebo audit (default: the run's model)")
    p.add_argument(
        "--quick", action="store_true", help="synth, train, audit, placebo audit and score a small cohort"
    )
    p.add_argument("--out", help="with --quick or --repeat: output directory (default validation_run)")
    p.add_argument("--seed", type=int, default=0, help="the seed (with --repeat: of the first run)")
    p.add_argument(
        "--repeat",
        type=positive_int,
        help="train and audit N independent models per scenario (new data and training seed each); "
        "finished runs under --out are reused",
    )
    p.add_argument(
        "--scenario",
        default="seen_once,memorizing",
        help="with --repeat: comma-separated among seen_once, memorizing, demo, few_records, "
        "few_records_dp8, few_records_dp1",
    )
    p.add_argument(
        "--keep", action="store_true", help="with --repeat: keep each run's cohort, models and caches"
    )
    p.add_argument(
        "--placebo-draws",
        type=positive_int,
        default=1,
        help="placebo audits of each model, each another cut of the unseen subjects (with --repeat: "
        "added to finished runs kept with --keep)",
    )
    p.add_argument(
        "--truth-models",
        type=positive_int,
        help="with --data and --run: train K models on complementary halves of the member records and "
        "label each T5 case memorized or not by what training on the record changed (RUN/truth/truth.json)",
    )
    p.add_argument(
        "--truth-epochs",
        type=positive_int,
        default=12,
        help="with --truth-models: the audited model's epochs",
    )
    p.add_argument(
        "--no-information",
        action="store_true",
        help="with --quick: skip the informational model trained without canary repetition",
    )
    p.add_argument(
        "--style",
        default="memaudit",
        choices=["memaudit", "mimic"],
        help="with --quick: the synthetic cohort's code style",
    )


def run(args: argparse.Namespace) -> int:
    from ..groundtruth.validate import format_table, quick, validate

    if args.repeat:
        from ..groundtruth.repeats import repeat
        from ..groundtruth.repeats_summary import format_repeats

        out = writable_location(Path(args.out or "repeats_run"))
        result = repeat(
            out,
            args.repeat,
            [s.strip() for s in args.scenario.split(",") if s.strip()],
            start=args.seed,
            progress=not args.quiet,
            keep=args.keep,
            placebo_draws=args.placebo_draws,
        )
        print(format_repeats(result))
        print(f"wrote {out / 'repeats.json'}")
        return EXIT_OK
    if args.truth_models:
        from ..groundtruth.truth_models import measure

        if not args.data or not args.run:
            raise UserInputError(
                "--data and --run with --truth-models",
                "missing arguments",
                "pass the synthetic cohort and the finished audit run (with a reference model)",
            )
        truth = measure(Path(args.run), Path(args.data), args.truth_models, epochs=args.truth_epochs)
        precision = truth["t5_precision"]
        print(
            f"T5 memorized calls labelled memorized by {args.truth_models} half-models: "
            f"{precision['k']} of {precision['n']} (labels: {truth['labels_of_memorized_calls']}); "
            f"wrote {Path(args.run) / 'truth' / 'truth.json'}"
        )
        return EXIT_OK
    if args.quick:
        result = quick(
            writable_location(Path(args.out or "validation_run")),
            seed=args.seed,
            progress=not args.quiet,
            with_information=not args.no_information,
            style=args.style,
        )
        where = Path(args.out or "validation_run") / "validation.json"
    else:
        if not args.data or not args.run:
            raise UserInputError(
                "--data and --run (or --quick)",
                "missing arguments",
                "pass --data DIR --run RUN_DIR, or --quick --out DIR",
            )
        result = validate(
            Path(args.data),
            Path(args.run),
            Path(args.model) if args.model else None,
            not args.quiet,
            placebo_draws=args.placebo_draws,
        )
        where = Path(args.run) / "validation.json"
    print(format_table(result))
    print(f"wrote {where}")
    return EXIT_OK
