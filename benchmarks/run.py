"""All four benchmarks in one run; `--quick` uses small sizes (a few minutes on 2 cores).

python benchmarks/run.py --quick --json bench.json"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import demd as demd_bench
import overhead as overhead_bench
import scale as scale_bench
import t4_scoring as t4_bench
from memaudit.adapters.hf import HFAdapter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    q = args.quick
    result: dict = {}
    with tempfile.TemporaryDirectory() as d:
        model = t4_bench.tiny_model(Path(d) / "t4")
        result.update(t4_bench.measure(HFAdapter(model, batch_size=16), 128, 4 if q else 16))
    rng = np.random.default_rng(0)
    result.update(demd_bench.t1_path(40 if q else 200, 16, 32, rng))
    result.update(demd_bench.solver_only(640 if q else 3200, 32, rng))
    with tempfile.TemporaryDirectory() as d:
        result.update(overhead_bench.measure(Path(d), 400 if q else 600, 60 if q else 100))
    result.update(scale_bench.measure([5000, 20000] if q else [10000, 30000, 100000], 100 if q else 200))
    keys = [
        "t4_speedup",
        "t4_max_abs_diff",
        "demd_t1_speedup",
        "demd_t1_max_abs_diff",
        "demd_solver_speedup",
        "demd_solver_max_abs_diff",
        "overhead_fraction",
        "scale_peak_rss_gb",
        "scale_seconds_per_1k_subjects",
    ]
    for k in keys:
        print(f"{k:32s} {result[k]:.4g}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"reproduce: python benchmarks/run.py{' --quick' if q else ''} --json FILE")


if __name__ == "__main__":
    main()
