"""Counterfactual truth for T5: complementary halves put each record in exactly half of the
models, and the score's labels follow its interval."""

from __future__ import annotations

import numpy as np
import pytest

from memaudit.groundtruth.truth_models import counterfactual, label, summarise
from memaudit.synthetic.trainer import held_out_members


def test_each_record_is_in_exactly_half_of_the_models() -> None:
    members = np.arange(100, 160)
    groups = [[100, 101, 102], [110, 111]]  # repeated records: their copies go together
    k = 8
    held = [
        set(held_out_members(members, 0.5, 1000 + pair, groups, complement=bool(side)))
        for pair in range(k // 2)
        for side in (0, 1)
    ]
    for s in members.tolist():
        assert sum(s not in h for h in held) == k // 2
    for h in held:
        assert all(set(g) <= h or not set(g) & h for g in groups)
    # the draw itself is unchanged by the option: without it, the reference's usual half
    assert held_out_members(members, 0.5, 1000, groups) == sorted(held[0])


def test_the_label_follows_the_interval() -> None:
    seen = np.array([True, False] * 8)
    memorized = np.where(seen, 0.8, 0.1) + np.tile([0.02, -0.02, -0.02, 0.02], 4)  # spread on each side
    cf, se, low, high = counterfactual(memorized, seen)
    assert 0 < se < 0.05
    assert cf == pytest.approx(0.7, abs=0.05) and low > 0
    assert label(cf, low, high) == "memorized"
    rng = np.random.default_rng(0)
    alike = rng.normal(0.3, 0.02, 16)
    assert label(*np.array(counterfactual(alike, seen))[[0, 2, 3]]) == "not memorized"
    noisy = rng.normal(0.3, 0.4, 16) + 0.25 * seen
    assert label(*np.array(counterfactual(noisy, seen))[[0, 2, 3]]) == "undetermined"
    assert label(*np.array(counterfactual(alike, np.zeros(16, bool)))[[0, 2, 3]]) == "undetermined"


def test_precision_counts_the_calls_the_truth_confirms() -> None:
    rows = [
        {"kind": "judged", "verdict": "memorized", "label": "memorized", "share_sd_across_models": 0.1},
        {"kind": "judged", "verdict": "memorized", "label": "not memorized", "share_sd_across_models": 0.1},
        {"kind": "judged", "verdict": "generalized", "label": "memorized", "share_sd_across_models": 0.1},
        {"kind": "null", "share_sd_across_models": 0.15},
    ]
    s = summarise(rows)
    assert (s["t5_precision"]["k"], s["t5_precision"]["n"]) == (1, 2)
    assert (s["t5_recall"]["k"], s["t5_recall"]["n"]) == (1, 2)
    assert s["labels_of_memorized_calls"] == ["memorized", "not memorized"]
    assert s["null_share_sd_across_models_median"] == 0.15
