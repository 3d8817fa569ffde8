"""`memaudit compare`: two audits side by side, and a gate on the second leaking more."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_GATE, EXIT_OK, in_unit_interval

NAME = "compare"
HELP = "two audits side by side, and a gate on the second leaking more"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_a", help="the baseline run directory (e.g. the last release)")
    p.add_argument("run_b", help="the run directory compared with it (e.g. the release candidate)")
    p.add_argument("--out", default="compare_run", help="output directory (default compare_run)")
    p.add_argument("--data", help="the MEDS cohort both audited: pairs the subjects both runs audited")
    p.add_argument(
        "--alpha",
        type=in_unit_interval(True, True),
        default=0.05,
        help="family-wise error of the regression gate, in (0, 1)",
    )
    p.add_argument(
        "--margin",
        type=in_unit_interval(False, True),
        default=0.05,
        help="the worsening (AUROC or gap) the gate acts on, in [0, 1)",
    )
    p.add_argument("--fail-on-regression", action="store_true", help="exit 3 when B is significantly worse")


def run(args: argparse.Namespace) -> int:
    from ..compare import CompareOptions, run_compare

    comparison = run_compare(
        Path(args.run_a),
        Path(args.run_b),
        Path(args.out),
        Path(args.data) if args.data else None,
        CompareOptions(alpha=args.alpha, margin=args.margin),
    )
    worse = [name for name, m in comparison["measures"].items() if m["worse"]]
    print(
        f"{comparison['design']} comparison of {len(comparison['measures'])} measures: risk "
        f"{comparison['risk']['a']} -> {comparison['risk']['b']}; "
        + (f"B worse on {', '.join(worse)}" if worse else "no significant regression")
        + f"; wrote {args.out}/compare.json, compare.html, compare.md"
    )
    if args.fail_on_regression and comparison["regression"]:
        print("compare gate: B leaks significantly more than A: FAILED (exit 3)")
        return EXIT_GATE
    return EXIT_OK
