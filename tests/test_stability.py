"""How sure is the verdict: subject-resampled audits on the audit's own model responses."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from memaudit.adapters.cache import CachedAdapter
from memaudit.adapters.hf import HFAdapter
from memaudit.audits.result import FAIL, PASS, WARN
from memaudit.audits.t5.rejudge import rejudge as rejudge_t5
from memaudit.stability import LEVELS, NotRecorded, RecordedOnly, resampled_context


def test_a_replicate_is_half_of_each_arm_without_repeats(tiny_outcome) -> None:
    ctx = tiny_outcome.context
    replicate, copies = resampled_context(ctx, np.random.default_rng(0))
    assert len(replicate.members) == len(ctx.members) // 2
    assert len(replicate.non_members) == len(ctx.non_members) // 2
    assert {copies[c] for c in replicate.members} <= set(ctx.members)
    assert {copies[c] for c in replicate.non_members} <= set(ctx.non_members)
    assert len(set(copies.values())) == len(copies)  # no patient twice: the tests count patients
    other, _ = resampled_context(ctx, np.random.default_rng(1))
    assert {copies[c] for c in replicate.members} != {_[c] for c in other.members}
    for tier, prompts in replicate.prompts.items():
        for c, prompt in prompts.items():
            assert prompt == ctx.prompts[tier][copies[c]]
    assert all(replicate.arm(c) == ctx.arm(copies[c]) for c in copies)


def test_t5_rejudged_on_a_reference_contrast_reaches_fail_warn_or_pass_by_its_rule(tiny_outcome) -> None:
    """A counterfactual T5 result whose one judged case is far beyond forty null cases: drawn, it
    fails; not drawn, nothing is judged and T5 passes."""
    ctx = tiny_outcome.context
    rng = np.random.default_rng(3)
    nulls = [
        {"subject_id": 1000 + i, "group": "g", "p_audited": 0.5, "p_reference": float(p)}
        for i, p in enumerate(np.round(rng.uniform(0.3, 0.5, 40), 2))
    ]
    case = {"subject_id": 1, "group": "g", "p_audited": 1.0, "p_reference": 0.0, "verdict": "memorized"}
    result = dataclasses.replace(
        tiny_outcome.results["T5"],
        status=FAIL,
        metrics={"mode": "counterfactual", "cases": [case], "null_cases": nulls},
    )
    everyone = Counter([1] + [n["subject_id"] for n in nulls])
    assert rejudge_t5(result, ctx, everyone) == FAIL
    assert rejudge_t5(result, ctx, everyone - Counter([1])) == PASS


def test_the_report_says_how_stable_its_level_is(tiny_outcome) -> None:
    stability = tiny_outcome.stability
    assert stability["resamples"] == tiny_outcome.context.config.statistics.stability_resamples > 0
    assert stability["recomputed"] == stability["resamples"]
    assert set(stability["levels"]) <= set(LEVELS)
    assert sum(stability["levels"].values()) == pytest.approx(1.0)
    for name, by_status in stability["tests"].items():
        assert name in tiny_outcome.results and sum(by_status.values()) == pytest.approx(1.0)


def test_a_request_the_audit_never_made_is_refused_not_computed(model_dir: Path, tmp_path: Path) -> None:
    cache = CachedAdapter(RecordedOnly(HFAdapter(model_dir)), tmp_path / "cache.sqlite")
    with pytest.raises(NotRecorded):
        cache.score([["SEX//F"]])
    cache.close()


def test_a_replicates_level_comes_from_its_statuses_alone() -> None:
    """A half-sample can re-judge T5 to warn while the audit's own case table holds no
    likely-memorized case: the replicate's level is read from the statuses (it once took the
    smallest q of no case and the audit raised)."""
    from memaudit.audits.result import TestResult
    from memaudit.audits.runner import AuditOutcome
    from memaudit.report.json_report import level_of

    cases = [{"verdict": "generalized", "holm_p": 0.5, "q_value": 0.4}]
    t5 = TestResult("T5", "Memorized or generalized", WARN, "Of 1 flagged case(s), 0 memorized.",
                    {"mode": "counterfactual", "cases": cases, "alpha": 0.05})  # fmt: skip
    assert level_of(AuditOutcome(context=None, results={"T5": t5})) == ("medium", True)
