"""`memaudit schema`: print the JSON Schema of report.json."""

from __future__ import annotations

import argparse

from .common import EXIT_OK

NAME = "schema"
HELP = "print the JSON Schema of report.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No options beyond --quiet."""


def run(args: argparse.Namespace) -> int:
    import json

    from ..report.schema import report_schema

    print(json.dumps(report_schema(), indent=2))
    return EXIT_OK
