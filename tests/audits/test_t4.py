"""T4 membership inference: the scores on arrays, and the attack on the tiny real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from memaudit.adapters.base import ScoreResult
from memaudit.audits import t4_membership
from memaudit.audits.stats import auroc


def test_min_k_matches_a_direct_computation() -> None:
    lp = np.array([-0.1, -5.0, -0.2, -3.0, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8])
    r = ScoreResult(lp, np.full(10, -1.0), np.full(10, 2.0))
    assert t4_membership.min_k_score(r, 0.2) == pytest.approx((-5.0 - 3.0) / 2)
    assert t4_membership.min_k_plus_plus_score(r, 0.2) == pytest.approx(((-5.0 + 1) / 2 + (-3.0 + 1) / 2) / 2)
    assert t4_membership.loss_score(r) == pytest.approx(lp.mean())


def test_t4_separates_heavily_repeated_canaries_from_non_members(tiny_outcome, cohort_dir: Path) -> None:
    gt = pl.read_parquet(cohort_dir / "ground_truth.parquet")
    canaries = set(gt.filter(pl.col("canary_repetitions") >= 20)["subject_id"].to_list())
    scores = tiny_outcome.results["T4"].per_subject["t4_loss"]
    pos = np.array([scores[s] for s in canaries if s in scores])
    neg = np.array([scores[s] for s in tiny_outcome.context.non_members])
    assert pos.size == len(canaries) and auroc(pos, neg) > 0.9
    assert tiny_outcome.results["T4"].metrics["by_score"]["loss"]["tpr_at_fpr"][0]["status"] == "ok"
    handoff = tiny_outcome.results["T4"].handoff
    assert handoff.score == tiny_outcome.results["T4"].metrics["primary_score"]
