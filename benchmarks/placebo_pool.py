"""The gate's false FAIL pooled over the placebo audits of several `memaudit validate --repeat`
output folders (each folder's repeats.json counts only its own runs).

    python benchmarks/placebo_pool.py DIR [DIR ...] [--json OUT]

Every `DIR/<scenario>/run_<i>/run.json` is read; its placebo audits (one per `--placebo-draws`
draw) are counted as `memaudit.groundtruth.repeats_summary.placebo_false_fails` counts them: per
audit and per training (draws of one model share it), as recorded, and with T5's memorized calls
warning (the default since T5's version 3), and the placebo audits with a T5 `memorized` call, which
`t5.fails_gate: true` would turn into a FAIL, so the switch's cost is read on the same audits.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from memaudit.groundtruth.repeats_summary import placebo_audits_of, placebo_false_fails


def pooled(dirs: list[Path]) -> dict:
    runs = [json.loads(f.read_text()) for d in dirs for f in sorted(d.glob("*/run_*/run.json"))]
    by_scenario = Counter()
    for r in runs:
        by_scenario[r["scenario"]] += len(placebo_audits_of(r))
    return {"placebo_audits_by_scenario": dict(by_scenario), **placebo_false_fails(runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = pooled(args.dirs)
    print(f"placebo audits {result['audits']} of {result['trainings']} trainings")
    print(f"  by scenario: {result['placebo_audits_by_scenario']}")
    for key in (
        "false_fail",
        "trainings_with_a_false_fail",
        "false_fail_with_t5_warning",
        "trainings_with_a_false_fail_with_t5_warning",
        "audits_with_a_t5_memorized_call",
    ):
        s = result[key]
        print(f"  {key}: {s['k']}/{s['n']} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
