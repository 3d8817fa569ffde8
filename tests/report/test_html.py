"""The HTML page from templates, on a hand-written report.json (no model): every value is escaped,
every section renders when its test has nothing to show, and the page loads nothing."""

from __future__ import annotations

from memaudit.report.html import render_html

HOSTILE = "<script>alert('x')</script>"


def _report() -> dict:
    tests = {
        name: {
            "title": f"test {name}",
            "status": "not_tested",
            "summary": f"{name}: {HOSTILE}",
            "metrics": {},
        }
        for name in ("T1", "T2", "T3", "T4", "T5", "T6")
    }
    return {
        "memaudit_version": "0.0.0",
        "schema_version": "1.5.0",
        "created": "2026-12-02T00:00:00Z",
        "seed": 0,
        "cohort": {"members": 3, "non_members": 4, "skipped_tiers": {"codes:50": HOSTILE}},
        "inputs": {"data": "d" * 8, "model": "m" * 8},
        "config": {"tiers": ["none", "static"]},
        "risk": {
            "level": "incomplete",
            "reasons": [HOSTILE],
            "not_tested": [HOSTILE],
            "rests_on": [],
            "gate": {"alpha": 0.05, "by_test": {"T2": 0.01 / 3, "T5": 0.04}},
        },
        "tests": tests,
        "coverage": {"groups": {}, "tests": {}},
        "findings": {},
        "flagged_subjects": [{"subject": HOSTILE, "arm": "member", "tests": ["T2"]}],
    }


def test_every_value_is_escaped_and_every_section_renders_without_results() -> None:
    html = render_html(_report())
    assert "<script>" not in html and "&lt;script&gt;" in html
    for heading in (
        "Executive summary",
        "What the audit could test",
        *(f"test {name} ({name})" for name in ("T1", "T2", "T3", "T4", "T5", "T6")),
        "Methods",
        "Model input",
        "Flagged cases",
    ):
        assert heading in html, heading
    # each test's fragment, from its own package (T3 has none: the generic one), says what it found
    for name in ("T1", "T2", "T3", "T4", "T5", "T6"):
        assert f"{name}: &lt;script&gt;" in html, name
    assert "Risk: INCOMPLETE" in html
    assert "The gate fails at most 5% of audits of a model with no membership signal" in html
    assert "T2 0.33%, T5 4%" in html
    assert "http://" not in html and "https://" not in html and "<link" not in html
