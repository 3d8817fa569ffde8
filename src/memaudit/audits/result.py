"""What every test returns: a status, one plain sentence, metrics, per-subject values, and what it
hands to later tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A test's status; the values are report.json's words (a StrEnum is its own string)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"  # the model adapter lacks a capability the test needs
    NOT_TESTED = "not_tested"  # the cohort gave the test nothing to work on


PASS, WARN, FAIL, SKIPPED, NOT_TESTED = Status


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class
    name: str
    title: str
    status: Status
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    # column name -> subject_id -> value; written to subjects.parquet under salted hashes
    per_subject: dict[str, dict[int, float]] = field(default_factory=dict)
    # subject_id -> why it was flagged
    flags: dict[int, list[str]] = field(default_factory=dict)
    # what later tests read (audits/handoffs.py); None when the test was skipped
    handoff: Any = None

    @classmethod
    def skipped(cls, name: str, title: str, reason: str) -> TestResult:
        return cls(name, title, SKIPPED, f"Skipped: {reason}.", {"skip_reason": reason})

    @classmethod
    def not_tested(cls, name: str, title: str, reason: str, metrics: dict | None = None) -> TestResult:
        return cls(
            name, title, NOT_TESTED, f"Not tested: {reason}.", {**(metrics or {}), "skip_reason": reason}
        )
