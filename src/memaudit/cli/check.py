"""`memaudit check`: preflight: what the audit can test on this cohort and model, before any model call."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_OK, config_from, model_options, source_from

NAME = "check"
HELP = "preflight: what the audit can test on this cohort and model, before any model call"


def add_arguments(p: argparse.ArgumentParser) -> None:
    model_options(p)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import check

    _, text = check(Path(args.data), source_from(args), config_from(args))
    print(text)
    return EXIT_OK
