"""T4 over every record against T4 over the sampled arms: wall time and peak memory, side by side
in one run, through the audit's own batching (the same model calls the hf and ray backends make).

    python benchmarks/t4_population.py --data DIR --model MODEL [--per-arm 300] [--out DIR]

Each variant runs in a child process of its own (prepare, T4's requests answered and cached, T4
judged; the stability replicates off) and reports its wall time and peak resident memory."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from memaudit.audits.registry import registered
from memaudit.config import load_config
from memaudit.pipeline import ModelSource, build_adapter, prepare, run
from memaudit.cohort.meds_reader import MedsDataset
from memaudit.rundir import RunDir

data, model, out, population, per_arm = sys.argv[1:6]
config = load_config(overrides={
    "subjects_per_arm": int(per_arm), "t4": {"population": population},
    "statistics": {"stability_resamples": 0}, "tiers": ["none"],
})
started = time.time()
adapter = build_adapter(ModelSource(model=Path(model)), config)
dataset = MedsDataset(Path(data))
with RunDir.open(Path(out)) as run_dir:
    ctx = prepare(dataset, config, adapter)
    prepared = time.time()
    outcome = run(ctx, dataset, adapter, run_dir, audits=[a for a in registered() if a.name == "T4"])
t4 = outcome.results["T4"].metrics
print(json.dumps({
    "population": population,
    "members_scored": t4["n_member"], "non_members_scored": t4["n_non_member"],
    "prepare_seconds": round(prepared - started, 1), "t4_seconds": round(time.time() - prepared, 1),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "repeated_records": t4["repeated_records"].get("n_records", 0),
    "estimable_fprs": [o["fpr"] for o in t4["decision"]["tpr_at_fpr"] if o["status"] == "ok"],
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--per-arm", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="memaudit-t4-population-"))
    figures = {}
    for population in ("sampled", "all"):
        started = time.time()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.data), str(args.model), str(root / population),
             population, str(args.per_arm)],
            capture_output=True,
            text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        figures[population] = {
            **json.loads(done.stdout.strip().splitlines()[-1]),
            "wall_seconds": round(time.time() - started, 1),
        }
    figures["time_ratio_all_to_sampled"] = round(
        figures["all"]["wall_seconds"] / figures["sampled"]["wall_seconds"], 2
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
