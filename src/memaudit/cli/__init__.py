"""The `memaudit` command: arguments only; each command calls the pipeline (or the synthetic
cohort, trainer and validation built on it). Bad input ends with one line on stderr and exit
code 2; a failed release gate exits 3.

Each command is one module of this package with `NAME`, `HELP`, `add_arguments(parser)` and
`run(args) -> exit code`; `COMMANDS` lists them in the order `memaudit --help` shows them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import UserInputError
from ..rundir import write_error
from ..version import __version__
from . import (
    audit,
    card,
    check,
    compare,
    demo,
    import_cehrgpt,
    import_eic_ar,
    prompts,
    report,
    scan,
    schema,
    show_config,
    synth,
    train,
    validate,
)
from .common import EXIT_BAD_INPUT

COMMANDS = (
    synth,
    train,
    check,
    audit,
    card,
    prompts,
    validate,
    scan,
    compare,
    report,
    schema,
    show_config,
    import_eic_ar,
    import_cehrgpt,
    demo,
)


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one line on stderr and exit 2, like every other bad input (no usage block:
    `--help` shows it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="memaudit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"memaudit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        p.set_defaults(command_handler=command.run)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        command.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.command_handler(args))
    except UserInputError as e:
        print(f"memaudit: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        message = write_error(e)
        if message is None:
            raise
        print(f"memaudit: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("memaudit: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
