"""`memaudit config`: print the default audit configuration as commented YAML."""

from __future__ import annotations

import argparse

from .common import EXIT_OK

NAME = "config"
HELP = "print the default audit configuration as commented YAML"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No options beyond --quiet."""


def run(args: argparse.Namespace) -> int:
    from ..config.reference import default_yaml

    print(default_yaml(), end="")
    return EXIT_OK
