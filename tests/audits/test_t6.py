"""T6 as a contrast: a subgroup leaks more only if its member-minus-non-member difference exceeds
the rest's, so a subgroup's own base rate is not mistaken for memorization."""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from memaudit.audits.t6.subgroups import _identified, did, did_p


def _cells(rng: np.random.Generator, base_in: float, base_out: float, extra_members_in: float) -> dict:
    """Flag indicators of 60 subjects per cell: a subgroup base rate for both arms inside, and a
    member-only excess inside."""
    draw = lambda p, n=60: (rng.random(n) < p).astype(float)
    return {
        "m_in": draw(base_in + extra_members_in),
        "n_in": draw(base_in),
        "m_out": draw(base_out),
        "n_out": draw(base_out),
    }


def test_a_subgroup_base_rate_is_not_a_leak() -> None:
    """Inside the subgroup both arms are flagged more often (0.5 against 0.1 outside): without the
    non-member contrast that looks like members leaking; with it, p-values stay uniform."""
    rng = np.random.default_rng(0)
    p = np.array([did_p(_cells(rng, 0.5, 0.1, 0.0)) for _ in range(400)])
    lo, hi = binom.ppf([0.005, 0.995], p.size, 0.05) / p.size
    assert lo <= np.mean(p < 0.05) <= hi
    naive = [
        np.mean(c["m_in"]) - np.mean(c["m_out"]) for c in (_cells(rng, 0.5, 0.1, 0.0) for _ in range(50))
    ]
    assert np.mean(naive) > 0.3  # what comparing members inside with members outside would call a leak


def test_members_leaking_more_inside_the_subgroup_are_found() -> None:
    rng = np.random.default_rng(1)
    cells = _cells(rng, 0.2, 0.2, 0.4)
    assert did(**cells) > 0.2 and did_p(cells) < 0.01


def test_identification_thresholds_are_set_on_each_sides_non_members() -> None:
    rng = np.random.default_rng(2)
    scores = {
        "m_in": rng.normal(1.0, 1, 50),
        "n_in": rng.normal(1.0, 1, 50),
        "m_out": rng.normal(0, 1, 200),
        "n_out": rng.normal(0, 1, 200),
    }
    flags = _identified(scores)
    # a higher score level inside is absorbed by the inside threshold: about 10% of each arm on each side
    assert all(abs(flags[k].mean() - 0.1) < 0.1 for k in flags)
    assert _identified({**scores, "n_in": scores["n_in"][:5]}) is None  # too few non-members for 10% FPR
