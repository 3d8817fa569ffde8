"""The versioned JSON Schema of report.json, shipped with the package; its `tests` entry names
every registered test (the built-in ones, required, and those other installed packages add)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources

from ..audits.registry import is_built_in, registered


@lru_cache(maxsize=1)
def _shipped() -> dict:
    return json.loads(resources.files("memaudit").joinpath("data/report.schema.json").read_text())


def report_schema() -> dict:
    """The shipped schema with one `tests` property per registered test: a report may hold any of
    them and nothing else, and must hold the built-in ones."""
    schema = copy.deepcopy(_shipped())
    tests = schema["properties"]["tests"]
    audits = registered()
    tests["properties"] = {audit.name: {"$ref": "#/$defs/test"} for audit in audits}
    tests["required"] = [audit.name for audit in audits if is_built_in(audit)]
    return schema


def validate_report(report: dict) -> None:
    import jsonschema

    jsonschema.validate(report, report_schema())
