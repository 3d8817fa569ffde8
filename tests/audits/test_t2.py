"""T2 sensitive attribute leakage on the tiny real model."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def test_t2_flags_the_random_plant_of_a_heavily_repeated_canary(tiny_outcome, cohort_dir: Path) -> None:
    gt = pl.read_parquet(cohort_dir / "ground_truth.parquet").filter(pl.col("canary_repetitions") >= 20)
    plants = gt.explode("planted").drop_nulls("planted").unnest("planted").filter(pl.col("kind") == "random")
    random_plants = set(zip(plants["subject_id"].to_list(), plants["group"].to_list()))
    t2 = tiny_outcome.results["T2"]
    flagged = {(s, why.split(":")[1].split("@")[0]) for s, whys in t2.flags.items() for why in whys}
    assert random_plants & flagged, "no random plant of a heavily repeated canary was flagged"
    # the hand-off to T5 and T6 carries the same flags and every (group, tier) p-hat
    assert {(c.subject_id, c.group) for c in t2.handoff.flagged} == flagged
    tiers = set(tiny_outcome.context.prompts)
    assert set(t2.handoff.p_hat) == {
        (g, t) for g in tiny_outcome.context.config.sensitive_groups for t in tiers
    }


def test_labels_are_the_group_within_the_horizon(tiny_outcome) -> None:
    """A subject has the group for T2 when a code of it is among the next max_new_codes true
    codes after the prompt (what a sample can reach), not merely somewhere in the timeline."""
    ctx = tiny_outcome.context
    beyond = 0
    for g in ctx.matcher.groups:
        for tier, prompts in ctx.prompts.items():
            labels = ctx.horizon_labels(g.name, tier)
            for s, p in prompts.items():
                due = any(ctx.matcher.has_group([c], g.name) for c in p.continuation[: ctx.horizon])
                assert labels[s] == due
                beyond += ctx.labels(g.name)[s] and not due
    assert beyond > 0  # some subjects have a group only outside the horizon: labelled without it
