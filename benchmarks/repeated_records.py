"""What counting each repeated record once costs the audit's preparation: `prepare` (arms, timelines,
prompts) of one cohort with `splits.repeated_records` keep and count_once, each in its own process
so its peak RSS is its own.

    python benchmarks/repeated_records.py --data DIR [--per-arm 200]

DIR: a MEDS cohort, e.g. the one `python benchmarks/scan.py --subjects 100000` writes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

STAGE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.cohort.stream import StreamRecipe
from memaudit.config import load_config
from memaudit.prompts.prepare import prepare
root, rule, per_arm = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = load_config(overrides={"subjects_per_arm": per_arm, "splits": {"repeated_records": rule}})
ctx = prepare(MedsDataset(root), config, StreamRecipe.from_config(config.cohort))
print(json.dumps({"seconds": round(time.perf_counter() - t0, 1),
                  "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2),
                  "repeated_records": ctx.stream["repeated_records"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--per-arm", type=int, default=200)
    args = parser.parse_args()
    rows = {}
    for rule in ("keep", "count_once"):
        done = subprocess.run(
            [sys.executable, "-c", STAGE, str(args.data), rule, str(args.per_arm)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows[rule] = json.loads(done.stdout.strip().splitlines()[-1])
    rows["count_once_over_keep_seconds"] = round(rows["count_once"]["seconds"] / rows["keep"]["seconds"], 2)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
