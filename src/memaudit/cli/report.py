"""`memaudit report`: re-render report.html from a run directory's report.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_OK

NAME = "report"
HELP = "re-render report.html from a run directory's report.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir")


def run(args: argparse.Namespace) -> int:
    from ..pipeline import rerender

    print(f"wrote {rerender(Path(args.run_dir))}")
    return EXIT_OK
