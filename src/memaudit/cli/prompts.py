"""`memaudit prompts`: export the audit's prompts for a model that runs elsewhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..rundir import writable_location
from .common import EXIT_OK, config_from

NAME = "prompts"
HELP = "export the audit's prompts for a model that runs elsewhere"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="MEDS dataset directory")
    p.add_argument("--out", required=True, help="parquet file to write")
    p.add_argument("--config", help="audit YAML (the same one you will audit with)")


def run(args: argparse.Namespace) -> int:
    from ..pipeline import export_prompts

    n = export_prompts(Path(args.data), config_from(args), writable_location(Path(args.out)))
    print(
        f"wrote {n} distinct prompts to {args.out}; generate every row and pass the samples to "
        "`memaudit audit --generations FILE`"
    )
    return EXIT_OK
