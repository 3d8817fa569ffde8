"""`memaudit import-eic-ar`: export a MEDS_EIC_AR checkpoint as a model directory to audit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..rundir import writable_location
from .common import EXIT_OK

NAME = "import-eic-ar"
HELP = "export a MEDS_EIC_AR checkpoint as a model directory to audit"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", required=True, help="its Lightning checkpoint, e.g. OUTPUT_DIR/checkpoints/last.ckpt"
    )
    p.add_argument(
        "--tensorized", required=True, help="MEICAR_process_data's output_dir (metadata/codes.parquet)"
    )
    p.add_argument("--out", required=True, help="new model directory")
    p.add_argument(
        "--python", default=sys.executable, help="the Python with MEDS_EIC_AR installed (default: this one)"
    )
    p.add_argument("--trust-pickle", action="store_true", help="required: a Lightning checkpoint is a pickle")


def run(args: argparse.Namespace) -> int:
    from ..adapters.stacks.eic_ar import import_eic_ar

    out = import_eic_ar(
        Path(args.checkpoint),
        Path(args.tensorized),
        writable_location(Path(args.out)),
        args.python,
        args.trust_pickle,
    )
    print(
        f"wrote {out}: audit it with `memaudit audit --preset meds_eic_ar --model {out} "
        "--data INTERMEDIATE_DIR`"
    )
    return EXIT_OK
