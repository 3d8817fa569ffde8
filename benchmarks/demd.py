"""dEMD: memaudit's solver vs POT's `ot.emd2` on the same padded cost matrices, side by side.

    python benchmarks/demd.py [--pairs 2000] [--length 32]

Both get identical cost matrices (built once, outside the timing); equal-length sequences, as
T1 compares them over the truth's horizon."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import ot

from memaudit.audits.demd import emd_uniform


def measure(n_pairs: int, length: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    costs = [rng.random((length, length)) for _ in range(n_pairs)]
    w = np.full(length, 1.0 / length)
    t0 = time.perf_counter()
    ours = np.array([emd_uniform(c) for c in costs])
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    pot = np.array([ot.emd2(w, w, c) for c in costs])
    t_pot = time.perf_counter() - t0
    return {
        "demd_pairs": n_pairs,
        "demd_length": length,
        "demd_ours_seconds": t_ours,
        "demd_pot_seconds": t_pot,
        "demd_speedup": t_pot / t_ours,
        "demd_max_abs_diff": float(np.max(np.abs(ours - pot))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--length", type=int, default=32)
    args = ap.parse_args()
    result = measure(args.pairs, args.length)
    print(json.dumps(result, indent=2))
    print(
        f"ours is {result['demd_speedup']:.2f}x the speed of POT emd2 per pair; max |diff| "
        f"{result['demd_max_abs_diff']:.1e}"
    )


if __name__ == "__main__":
    main()
