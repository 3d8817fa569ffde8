"""Scale: synth N subjects, then load and build prompts for an audit sample, each stage in its own
process so its peak RSS is its own. Reports seconds and peak RSS per stage for each N, and the
time per 1k subjects (linear growth means a flat column).

    python benchmarks/scale.py [--sizes 10000,30000,100000] [--per-arm 200]"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

STAGE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
stage, root, n, per_arm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if stage == "synth":
    from memaudit.synthetic.cohort import SynthConfig, write_cohort
    write_cohort(root, SynthConfig(n_subjects=n), progress=False)
else:
    from memaudit.cohort.meds_reader import MedsDataset
    from memaudit.cohort.stream import StreamRecipe
    from memaudit.config import load_config
    from memaudit.prompts.prepare import prepare
    config = load_config(overrides={"subjects_per_arm": per_arm})
    ctx = prepare(MedsDataset(root), config, StreamRecipe.from_config(config.cohort))
    assert len(ctx.members) == per_arm
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2}))
"""


def stage(name: str, root: Path, n: int, per_arm: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", STAGE, name, str(root), str(n), str(per_arm)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(sizes: list[int], per_arm: int) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            root = Path(d) / f"cohort_{n}"
            synth = stage("synth", root, n, per_arm)
            load = stage("prepare", root, n, per_arm)
            rows.append(
                {
                    "subjects": n,
                    "synth_seconds": synth["seconds"],
                    "synth_peak_rss_gb": synth["peak_rss_gb"],
                    "load_and_prompts_seconds": load["seconds"],
                    "load_peak_rss_gb": load["peak_rss_gb"],
                    "seconds_per_1k_subjects": (synth["seconds"] + load["seconds"]) / (n / 1000),
                }
            )
    return {
        "scale": rows,
        "scale_peak_rss_gb": max(max(r["synth_peak_rss_gb"], r["load_peak_rss_gb"]) for r in rows),
        "scale_seconds_per_1k_subjects": rows[-1]["seconds_per_1k_subjects"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--per-arm", type=int, default=200)
    args = ap.parse_args()
    result = measure([int(s) for s in args.sizes.split(",")], args.per_arm)
    print(json.dumps(result, indent=2))
    for r in result["scale"]:
        print(
            f"{r['subjects']:>7} subjects: synth {r['synth_seconds']:.1f}s ({r['synth_peak_rss_gb']:.2f} "
            "GB), "
            f"load+prompts {r['load_and_prompts_seconds']:.1f}s ({r['load_peak_rss_gb']:.2f} GB), "
            f"{r['seconds_per_1k_subjects']:.2f}s per 1k subjects"
        )


if __name__ == "__main__":
    main()
