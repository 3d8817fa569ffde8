"""`memaudit scan` at scale: wall time and peak memory of a scan of N subjects, with the rows
per second, beside the time it takes to write the cohort (for scale).

    python benchmarks/scan.py [--subjects 100000] [--out DIR]

Writes a synthetic cohort with repetitions in the data (so the repeated-record search has groups
to find), then runs the scan twice, near copies off and on, each in a child process that reports
its own peak resident memory."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from memaudit.synthetic.cohort import SynthConfig, write_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="memaudit-scan-bench-"))
    data = root / "meds"
    started = time.time()
    if not data.exists():
        write_cohort(
            data, SynthConfig(n_subjects=args.subjects, seed=0, repetitions_in_data=True), progress=False
        )
    synth_seconds = time.time() - started
    rows = pl.scan_parquet(str(data / "data" / "**" / "*.parquet")).select(pl.len()).collect().item()
    figures = {"subjects": args.subjects, "rows": rows, "synth_seconds": round(synth_seconds, 1)}
    # near copies off and on, side by side in one run: what the MinHash search costs
    for label, similarity in (("exact_only", "0"), ("near_copies", "0.9")):
        figures[label] = scan_once(data, root / f"scan_{label}", similarity, rows)
    figures["near_copies_time_ratio"] = round(
        figures["near_copies"]["scan_seconds"] / figures["exact_only"]["scan_seconds"], 2
    )
    print(json.dumps(figures, indent=2))


def scan_once(data: Path, out: Path, similarity: str, rows: int) -> dict:
    """One `memaudit scan` in a child process of its own: wall time and that process's peak RSS."""
    script = (
        "import resource, runpy, sys; sys.argv = sys.argv[1:]; "
        "code = 0\ntry: runpy.run_module('memaudit.cli', run_name='__main__')\n"
        "except SystemExit as e: code = e.code\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print('PEAK_KIB', peak, file=sys.stderr); sys.exit(code)"
    )
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", script, "memaudit", "scan", "--data", str(data), "--out", str(out),
         "--near-copy-similarity", similarity],
        capture_output=True,
        text=True,
    )  # fmt: skip
    seconds = time.time() - started
    assert done.returncode == 0, done.stderr[-2000:]
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KIB"))
    scan = json.loads((out / "scan.json").read_text())
    return {
        "training_subjects": scan["n_subjects"],
        "scan_seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "scan_peak_rss_mib": round(peak / 1024),
        "repeated_record_groups": len(scan["repeated_records"]["groups"]),
        "near_copy_pairs": len(scan["near_copies"]["pairs"]),
    }


if __name__ == "__main__":
    main()
