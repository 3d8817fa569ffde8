"""`memaudit import-cehrgpt`: make an audit directory from what CEHR-GPT's pretraining runner
wrote (model and streams)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..rundir import writable_location
from .common import EXIT_OK

NAME = "import-cehrgpt"
HELP = "make an audit directory from what CEHR-GPT's pretraining runner wrote (model and streams)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner-config", required=True, help="the YAML given to hf_cehrgpt_pretrain_runner")
    p.add_argument("--out", required=True, help="new audit directory (pass it as --model)")
    p.add_argument(
        "--python", default=sys.executable, help="the Python with cehrgpt installed (default: this one)"
    )


def run(args: argparse.Namespace) -> int:
    from ..adapters.stacks.cehrgpt_import import import_cehrgpt

    out, n = import_cehrgpt(Path(args.runner_config), writable_location(Path(args.out)), args.python)
    print(
        f"wrote {out} ({n} subjects' streams): audit it with `memaudit audit --preset cehrgpt --model {out} "
        "--data MEDS_DIR`"
    )
    return EXIT_OK
