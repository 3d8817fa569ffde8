"""`memaudit scan` at scale: wall time and peak memory of a scan of N subjects, with the rows
per second, beside the time it takes to write the cohort (for scale).

    python benchmarks/scan.py [--subjects 100000] [--out DIR]

Writes a synthetic cohort with repetitions in the data (so the repeated-record search has groups
to find), then runs the scan in a child process and reads its peak resident memory."""

from __future__ import annotations

import argparse
import json
import resource
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
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "memaudit.cli", "scan", "--data", str(data), "--out", str(root / "scan")],
        capture_output=True,
        text=True,
    )
    seconds = time.time() - started
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    scan = json.loads((root / "scan" / "scan.json").read_text())
    print(
        json.dumps(
            {
                "subjects": args.subjects,
                "training_subjects": scan["n_subjects"],
                "rows": rows,
                "synth_seconds": round(synth_seconds, 1),
                "scan_seconds": round(seconds, 1),
                "rows_per_second": round(rows / seconds),
                "scan_peak_rss_mib": round(peak_mib),
                "repeated_record_groups": len(scan["repeated_records"]["groups"]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
