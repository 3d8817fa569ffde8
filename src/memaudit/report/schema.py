"""The versioned JSON Schema of report.json, shipped with the package; its `tests` entry names
every registered test (the built-in six and those other installed packages add)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources

from ..audits.registry import registered

BUILT_IN_PATTERN = "^T[1-6]$"


@lru_cache(maxsize=1)
def _shipped() -> dict:
    return json.loads(resources.files("memaudit").joinpath("data/report.schema.json").read_text())


def report_schema() -> dict:
    """The shipped schema with one `tests` property per registered test: a report may hold any of
    them and nothing else, and must hold the built-in six."""
    schema = copy.deepcopy(_shipped())
    tests = schema["properties"]["tests"]
    entry = tests["patternProperties"].pop(BUILT_IN_PATTERN)
    tests["properties"] = {audit.name: entry for audit in registered()}
    if not tests["patternProperties"]:
        del tests["patternProperties"]
    return schema


def validate_report(report: dict) -> None:
    import jsonschema

    jsonschema.validate(report, report_schema())
