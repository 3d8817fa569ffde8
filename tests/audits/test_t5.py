"""T5 perturbation: the perturbations, the case budget and the drop test."""

from __future__ import annotations

import pytest

from memaudit.audits import t5_perturbation as t5
from memaudit.audits.handoffs import FlaggedCase


def test_t5_perturbs_identifiers_and_separates_unreplicated_flags(tiny_outcome) -> None:
    ctx = tiny_outcome.context
    prompt = next(
        p.codes for p in ctx.prompts["codes:10"].values() if any(c.startswith("AGE//") for c in p.codes)
    )
    variants = t5.perturbations(ctx, prompt, t5._candidates(ctx))
    assert {"sex", "code_swap"} <= set(variants) and any(k.startswith("age") for k in variants)
    assert sum(a != b for a, b in zip(variants["code_swap"], prompt)) == 1
    assert sum(a != b for a, b in zip(variants["sex"], prompt)) == 1
    assert t5.verdict_of({"original": 0.1, "sex": 0.0}, 0.1, 0.01, 0.05, 0.2, 0.3) == "not_replicated"
    assert t5.verdict_of({"original": 0.6, "sex": 0.1}, 0.5, 0.01, 0.05, 0.2, 0.3) == "memorized"
    assert t5.verdict_of({"original": 0.6, "sex": 0.6}, 0.0, 0.5, 0.05, 0.2, 0.3) == "generalized"
    # a member at 3 of 8 where non-members sit at 5% is more surprising than one at 8 of 8 where they
    # sit at 90%
    assert t5._surprise(3 / 8, 0.05, 8) < t5._surprise(1.0, 0.9, 8)
    metrics = tiny_outcome.results["T5"].metrics
    assert set(metrics["counts"]) == {"memorized", "generalized", "inconclusive", "not_replicated"}
    assert metrics["cases"] and all(isinstance(r["prompt_evidence"], bool) for r in metrics["cases"])
    assert metrics["n_without_prompt_evidence"] == sum(not r["prompt_evidence"] for r in metrics["cases"])


def test_t5_spends_its_budget_on_flags_the_prompt_does_not_explain_first(tiny_outcome) -> None:
    from memaudit.audits.clinical_links import linked_codes

    ctx = tiny_outcome.context
    group = max(ctx.config.sensitive_groups, key=lambda g: sum(ctx.labels(g).values()))
    linked = linked_codes({s: t.codes for s, t in ctx.timelines.items()}, ctx.labels(group))
    assert ctx.linked_codes(group) == linked
    prompts = ctx.prompts["codes:10"]
    explained = next(s for s in ctx.members if s in prompts and set(prompts[s].codes) & linked)
    unexplained = next(s for s in ctx.members if s in prompts and not set(prompts[s].codes) & linked)
    # the explained flag is the more extreme one, and still comes second
    flagged = [
        FlaggedCase(explained, group, "codes:10", 1.0),
        FlaggedCase(unexplained, group, "codes:10", 0.4),
    ]
    chosen, nulls = t5.cases(ctx, flagged, tiny_outcome.results["T2"].handoff.p_hat)
    assert [c.subject_id for c in chosen] == [unexplained, explained]
    assert all(ctx.arm(n.subject_id) == "non_member" for n in nulls[(group, "codes:10")])


def test_t5_drop_test_uses_binomial_noise_and_the_null_offset() -> None:
    sharp = {"original": 0.9, **{f"p{i}": 0.2 for i in range(9)}}
    assert t5.drop_p(sharp, 20, 20, 0.0) < 1e-6
    assert t5.drop_p(sharp, 20, 20, 0.7) == pytest.approx(0.5, abs=0.01)  # no more than non-members drop
    noisy = {
        "original": 0.45,
        **{f"p{i}": 0.25 for i in range(9)},
    }  # a 0.2 drop is within noise at 20 samples
    assert 0.01 < t5.drop_p(noisy, 20, 20, 0.0) < 0.1
    # ... and clear once the original prompt, the reference of every comparison, has 100 samples
    assert t5.drop_p(noisy, 100, 20, 0.0) < 0.001
    assert t5.drop_p({"original": 0.5}, 20, 20, 0.0) == 1.0
