"""How sure is the verdict: subject-resampled audits on the audit's own model responses."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from memaudit.adapters.cache import CachedAdapter
from memaudit.adapters.hf import HFAdapter
from memaudit.audits.result import FAIL, PASS, WARN
from memaudit.audits.t5.rejudge import rejudge as rejudge_t5
from memaudit.config import load_config
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


def test_t5_rejudged_on_a_reference_contrast_reaches_fail_warn_or_pass_by_its_rule(
    tiny_outcome, tiny_audit
) -> None:
    """A counterfactual T5 result whose one judged case is far beyond forty null cases: drawn, it
    warns (fails where `t5.fails_gate` is on); not drawn, nothing is judged and T5 passes."""
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
    assert rejudge_t5(result, ctx, everyone) == WARN  # a memorized case warns by default
    failing = dataclasses.replace(
        ctx, config=load_config(overrides={**tiny_audit, "t5": {**tiny_audit["t5"], "fails_gate": True}})
    )
    assert rejudge_t5(result, failing, everyone) == FAIL
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


def test_half_samples_sharing_their_per_prompt_measurements_judge_as_if_each_measured_its_own(
    tmp_path: Path,
) -> None:
    """T1's distances and T2's shares read from the memo shared by the half-samples: the same
    results as the half-sample measuring them itself, and each prompt measured once."""
    from memaudit.testing import ScriptedAdapter, make_context, run_scripted

    rng = np.random.default_rng(0)
    labs = [f"LAB//{n}//{lv}" for n in ("NA", "K", "GLU") for lv in ("LOW", "HIGH")]
    timelines = {s: ["SEX//F", "AGE//50-54", *map(str, rng.choice(labs, 30))] for s in range(1, 81)}
    for s in range(2, 81, 2):
        timelines[s][16] = "DIAGNOSIS//ICD10CM//B20"
    overrides = {"tiers": ["codes:10"], "statistics": {"n_bootstrap": 50, "stability_resamples": 0}}
    ctx = make_context(tmp_path, timelines, list(range(1, 41)), overrides)
    leaks = {s: {"DIAGNOSIS//ICD10CM//B20": 0.8 if s <= 40 else 0.2} for s in timelines}
    adapter = ScriptedAdapter(ctx, leaks=leaks)
    measured: dict = {}
    for seed in range(3):
        alone, _ = resampled_context(ctx, np.random.default_rng(seed))
        shared, _ = resampled_context(ctx, np.random.default_rng(seed), measured)
        want = run_scripted(alone, adapter, ["T1", "T2"])
        got = run_scripted(shared, adapter, ["T1", "T2"])
        for name in ("T1", "T2"):  # as JSON: NaN (an untested group's AUROC) equals itself there
            assert got[name].status == want[name].status
            assert json.dumps(got[name].metrics, default=str) == json.dumps(want[name].metrics, default=str)
    assert measured and len(measured) <= len(ctx.prompts["codes:10"]) * (1 + len(ctx.matcher.groups))
