"""The registry and the runner: every registered test runs once, in order, or says why not."""

from __future__ import annotations

import pytest

from memaudit.audits.registry import Audit, register, registered
from memaudit.audits.result import TestResult


def test_registered_tests_declare_what_they_need_and_read() -> None:
    audits = {a.name: a for a in registered()}
    assert list(audits) == ["T1", "T2", "T3", "T4", "T5", "T6"]
    assert audits["T3"].needs == {"embed"} and audits["T4"].needs == {"score"}
    assert audits["T5"].reads == ("T2",) and audits["T5"].asks_new_prompts
    assert set(audits["T6"].reads) == {"T1", "T2", "T4"}


def test_a_second_audit_under_a_taken_name_is_refused() -> None:
    class Impostor(Audit):
        name, title = "T1", "Not trajectory memorization"

        def run(self, ctx, responses, earlier) -> TestResult:
            raise AssertionError

    with pytest.raises(ValueError, match="two audits named T1"):
        register(Impostor)
