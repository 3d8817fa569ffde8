"""`memaudit scan`: before training: which training subjects are at risk and why (no model)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_GATE, EXIT_OK, config_from, positive_int, similarity

NAME = "scan"
HELP = "before training: which training subjects are at risk and why (no model)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="MEDS cohort")
    p.add_argument(
        "--out", default="scan_run", help="scan directory (scan.json, scan.html; default scan_run)"
    )
    p.add_argument("--config", help="audit YAML: its tiers, sensitive groups, splits and stream recipe")
    p.add_argument("--split", help="the training split (default: the config's splits.members)")
    p.add_argument("--k", type=positive_int, default=5, help="fewer patients than this single one out")
    p.add_argument(
        "--min-events", type=positive_int, default=5, help="shortest timeline compared as a record"
    )
    p.add_argument("--top", type=positive_int, default=100, help="subjects listed in the ranking")
    p.add_argument(
        "--near-copy-similarity",
        type=similarity,
        default=0.9,
        help="records whose code multisets are at least this Jaccard-similar are near copies (0: off)",
    )
    p.add_argument("--fail-on", choices=["medium", "high"], help="exit 3 when the scan's level reaches this")


def run(args: argparse.Namespace) -> int:
    from ..scan import LEVELS, ScanOptions, run_scan

    near = None if args.near_copy_similarity == 0 else args.near_copy_similarity
    options = ScanOptions(
        k=args.k, min_events=args.min_events, top=args.top, split=args.split, near_copy_similarity=near
    )
    scan = run_scan(Path(args.data), Path(args.out), config_from(args), options)
    records = scan["repeated_records"]
    print(
        f"scanned {scan['n_subjects']} subjects of split {scan['split']} in {scan['seconds']}s: "
        f"{len(records['groups'])} repeated-record groups ({records['subjects_in_groups']} subjects), "
        f"{len(scan['near_copies']['pairs'])} near-copy pairs, "
        f"{len(scan['rare_sensitive']['codes'])} sensitive codes held by fewer than {scan['k']} patients; "
        f"level {scan['level']}; wrote {args.out}/scan.json and scan.html"
    )
    if args.fail_on and LEVELS.index(scan["level"]) >= LEVELS.index(args.fail_on):
        print(f"scan gate: level {scan['level']} >= --fail-on {args.fail_on}: FAILED (exit 3)")
        return EXIT_GATE
    return EXIT_OK
