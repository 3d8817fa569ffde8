"""The versioned JSON Schema of report.json, shipped with the package."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def report_schema() -> dict:
    return json.loads(resources.files("memaudit").joinpath("data/report.schema.json").read_text())


def validate_report(report: dict) -> None:
    import jsonschema

    jsonschema.validate(report, report_schema())
