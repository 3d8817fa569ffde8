"""From the cohort to the prompts: arms, tiers and sensitive codes removed."""

from __future__ import annotations


def test_members_and_non_members_are_disjoint_and_tiers_exclude_short_timelines(tiny_outcome) -> None:
    ctx = tiny_outcome.context
    assert not set(ctx.members) & set(ctx.non_members)
    assert ctx.excluded["codes:20"] >= ctx.excluded["codes:10"] >= ctx.excluded["static"]
    t1 = tiny_outcome.results["T1"].metrics["by_tier"]
    assert t1["codes:20"]["n_excluded_too_short"] == ctx.excluded["codes:20"]


def test_no_prompt_carries_a_sensitive_code(tiny_outcome) -> None:
    ctx = tiny_outcome.context
    sent = [c for prompts in ctx.prompts.values() for p in prompts.values() for c in p.codes]
    assert sent and not any(ctx.matcher.is_sensitive(c) for c in sent)
