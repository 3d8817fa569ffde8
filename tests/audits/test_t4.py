"""T4 membership inference: the scores on arrays, and the attack on the tiny real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from memaudit.adapters.base import ScoreResult
from memaudit.audits.stats import auroc
from memaudit.audits.t4 import membership as t4_membership


def test_min_k_matches_a_direct_computation() -> None:
    lp = np.array([-0.1, -5.0, -0.2, -3.0, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8])
    r = ScoreResult(lp, np.full(10, -1.0), np.full(10, 2.0))
    assert t4_membership.min_k_score(r, 0.2) == pytest.approx((-5.0 - 3.0) / 2)
    assert t4_membership.min_k_plus_plus_score(r, 0.2) == pytest.approx(((-5.0 + 1) / 2 + (-3.0 + 1) / 2) / 2)
    assert t4_membership.loss_score(r) == pytest.approx(lp.mean())


def test_t4_separates_heavily_repeated_canaries_from_non_members(tiny_outcome, cohort_dir: Path) -> None:
    gt = pl.read_parquet(cohort_dir / "ground_truth.parquet")
    # the records: a canary's copies are counted once, under its original id
    originals = gt.filter(pl.col("copy_of").is_null() & (pl.col("canary_repetitions") >= 20))
    canaries = set(originals["subject_id"].to_list())
    scores = tiny_outcome.results["T4"].per_subject["t4_loss"]
    pos = np.array([scores[s] for s in canaries if s in scores])
    neg = np.array([scores[s] for s in tiny_outcome.context.non_members])
    assert pos.size == len(canaries) and auroc(pos, neg) > 0.9
    assert tiny_outcome.results["T4"].metrics["by_score"]["loss"]["tpr_at_fpr"][0]["status"] == "ok"
    handoff = tiny_outcome.results["T4"].handoff
    assert handoff.score == tiny_outcome.results["T4"].metrics["primary_score"]


def test_choosing_the_best_attack_is_paid_for_by_simultaneous_intervals() -> None:
    """Six attacks with no membership signal: the largest AUROC's own interval would exclude 0.5
    in about a quarter of audits; the simultaneous interval does in about 5%. With one real
    signal, the chosen attack's simultaneous bound still clears 0.5."""
    from memaudit.audits.t4.membership import simultaneous_auroc_intervals

    rng = np.random.default_rng(1)
    false_claims = 0
    for _ in range(100):
        members, non_members = rng.normal(size=(6, 120)), rng.normal(size=(6, 120))
        _, low, _ = simultaneous_auroc_intervals(members, non_members, rng, 200, 0.95)
        false_claims += bool((low > 0.5).any())
    assert false_claims <= 12
    members = rng.normal(size=(6, 300))
    members[2] += 0.5  # one attack sees membership (AUROC about 0.64)
    point, low, q = simultaneous_auroc_intervals(members, rng.normal(size=(6, 300)), rng, 300, 0.95)
    assert int(np.argmax(point)) == 2 and low[2] > 0.5 and 0 < q < 0.1
