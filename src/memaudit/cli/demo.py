"""`memaudit demo`: synth, train and audit the built-in model end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..rundir import writable_location
from .common import positive_int

NAME = "demo"
HELP = "synth, train and audit the built-in model end to end"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo_run", help="run directory (default demo_run)")
    p.add_argument("--subjects", type=positive_int, default=2000)
    p.add_argument("--epochs", type=positive_int, default=12)
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from ..synthetic.demo import run_demo

    return run_demo(
        writable_location(Path(args.out)),
        subjects=args.subjects,
        epochs=args.epochs,
        seed=args.seed,
        quiet=args.quiet,
    )
