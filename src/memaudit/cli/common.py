"""What the commands share: exit codes, argument types and the options that name a cohort, a
model and a configuration. Argument types raise argparse's error, which the parser turns into one
line and exit code 2."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ..errors import UserInputError

EXIT_OK, EXIT_BAD_INPUT, EXIT_GATE = 0, 2, 3


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}; pass a positive number")
    return value


def in_unit_interval(low_open: bool, high_open: bool) -> Callable[[str], float]:
    """An argparse type: a number in [0, 1] with the ends open as asked."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if (value <= 0 if low_open else value < 0) or (value >= 1 if high_open else value > 1):
            ends = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"expected a number in {ends}, got {value}")
        return value

    return parse


def similarity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a similarity between 0 and 1, got {value}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers like 1,5,20,50, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive repetition counts like 1,5,20,50, got {text!r}")
    return values


def model_options(p: argparse.ArgumentParser) -> None:
    """The options of every command that reads a cohort and a model (check, audit)."""
    p.add_argument("--data", required=True, help="MEDS dataset directory")
    p.add_argument("--model", help="Hugging Face model directory")
    p.add_argument(
        "--generations", help="parquet of precomputed samples instead of a model (see `memaudit prompts`)"
    )
    p.add_argument("--config", help="audit YAML merged over the defaults (`memaudit config` prints them)")
    p.add_argument("--preset", help="settings of a known stack, merged under --config: meds_eic_ar, cehrgpt")
    p.add_argument(
        "--reference-model", help="a model of the same recipe trained without the audited subjects"
    )
    p.add_argument(
        "--reference-unseen", help="with --reference-model: .parquet/.csv of the members it did not see"
    )
    p.add_argument("--trust-pickle", action="store_true", help="allow pickle checkpoints (they can run code)")
    p.add_argument("--subjects-per-arm", type=positive_int, help="override subjects_per_arm")


def config_from(args: argparse.Namespace):  # -> AuditConfig; imported here so that --help stays fast
    from ..config import load_config

    overrides: dict = {}
    if getattr(args, "subjects_per_arm", None):
        overrides["subjects_per_arm"] = args.subjects_per_arm
    if getattr(args, "reference_model", None):
        overrides["reference"] = {"model": args.reference_model, "unseen_members": args.reference_unseen}
    return load_config(Path(args.config) if args.config else None, overrides, getattr(args, "preset", None))


def source_from(args: argparse.Namespace):  # -> ModelSource
    from ..pipeline import ModelSource

    if not args.model and not args.generations:
        raise UserInputError("--model MODEL_DIR or --generations FILE", "neither", "pass one of them")
    return ModelSource(
        model=Path(args.model) if args.model else None,
        generations=Path(args.generations) if args.generations else None,
        backend=getattr(args, "backend", "local"),
        ray_address=getattr(args, "ray_address", None),
        trust_pickle=args.trust_pickle,
    )
