"""`memaudit card`: write the audit's verdict into a Hugging Face model card."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_OK

NAME = "card"
HELP = "write the audit's verdict into a Hugging Face model card"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a finished audit run directory")
    p.add_argument(
        "--model-card", help="an existing model card (README.md) to update; its other sections stay"
    )
    p.add_argument("--out", help="where to write (default: the --model-card file, else RUN/model_card.md)")
    p.add_argument("--model-name", help="the model's name in model-index (default: the card's, else 'model')")


def run(args: argparse.Namespace) -> int:
    from ..release.card import write_card

    path = write_card(
        Path(args.run_dir),
        Path(args.model_card) if args.model_card else None,
        Path(args.out) if args.out else None,
        args.model_name,
    )
    print(f"wrote the privacy section and results of {args.run_dir} into {path}")
    return EXIT_OK
