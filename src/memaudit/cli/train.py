"""`memaudit train`: train the built-in model (a tiny transformers Llama) on the member split."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..rundir import writable_location
from .common import EXIT_OK, positive_int

NAME = "train"
HELP = "train the built-in model (a tiny transformers Llama) on the member split"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="MEDS dataset directory")
    p.add_argument("--out", required=True, help="new directory for the Hugging Face model")
    p.add_argument("--epochs", type=positive_int, default=12)
    p.add_argument("--hidden-size", type=positive_int, default=128)
    p.add_argument("--layers", type=positive_int, default=2)
    p.add_argument("--heads", type=positive_int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-canary-repetition",
        action="store_true",
        help="do not repeat canaries from the ground truth (a cohort written with each record once); "
        "copies the data holds stay: --dedup trains on each record once",
    )
    p.add_argument(
        "--architecture",
        default="llama",
        choices=["llama", "gpt2", "mamba", "mamba2"],
        help="transformers architecture of the built-in model (default llama)",
    )
    p.add_argument(
        "--early-stopping",
        type=positive_int,
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without tuning-loss improvement",
    )
    p.add_argument(
        "--hold-out",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="train without this share of the members' records (seeded; a repeated record's copies "
        "together), listed in unseen_members.parquet: a reference model for `memaudit audit "
        "--reference-model`",
    )
    p.add_argument(
        "--dedup",
        action="store_true",
        help="safeguard: train on one copy of each repeated record (memaudit scan's groups)",
    )
    p.add_argument(
        "--min-code-subjects",
        type=positive_int,
        default=1,
        metavar="K",
        help="safeguard: codes held by fewer than K training patients become the unknown token",
    )
    p.add_argument(
        "--dp-epsilon",
        type=float,
        default=None,
        metavar="E",
        help="safeguard: DP-SGD through Opacus at this epsilon (delta = 1/n); needs memaudit[dp]",
    )


def run(args: argparse.Namespace) -> int:
    from ..synthetic.trainer import TrainConfig, train_model

    cfg = TrainConfig(
        epochs=args.epochs,
        hidden_size=args.hidden_size,
        layers=args.layers,
        heads=args.heads,
        seed=args.seed,
        repeat_canaries=not args.no_canary_repetition,
        early_stopping_patience=args.early_stopping,
        architecture=args.architecture,
        hold_out=args.hold_out,
        dedup=args.dedup,
        min_code_subjects=args.min_code_subjects,
        dp_epsilon=args.dp_epsilon,
    )
    info = train_model(Path(args.data), writable_location(Path(args.out)), cfg, progress=not args.quiet)
    last = info["history"][-1]
    held = (
        f"; {info['members_held_out']} members held out (unseen_members.parquet)"
        if info["members_held_out"]
        else ""
    )
    dp = info["safeguards"]["dp_sgd"]
    if dp is not None:
        held += (
            f"; DP-SGD: epsilon {dp['epsilon']:.2f} at delta {dp['delta']:.1e} (Opacus, {dp['accountant']})"
        )
    print(
        f"trained {info['n_member_subjects']} members for {last['epoch']} epochs in {info['seconds']}s: "
        f"train loss {last['train_loss']:.3f}, tuning loss {last['tuning_loss']:.3f}; saved to "
        f"{args.out}{held}"
    )
    return EXIT_OK
