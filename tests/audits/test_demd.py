from __future__ import annotations

import numpy as np
import ot
import pytest

from memaudit.audits.demd import cost_matrix, demd, emd_uniform


def onehot(codes: list[str]) -> dict[str, np.ndarray]:
    return {c: np.eye(len(codes))[i] for i, c in enumerate(codes)}


def test_identical_sequences_are_at_zero_and_disjoint_ones_at_the_maximum() -> None:
    emb = onehot(["A", "B", "C", "D", "E", "F"])
    a = ["A", "TIME//1-4w", "B", "C"]
    assert demd(a, a, emb) == pytest.approx(0.0)
    assert demd(["A", "B", "C"], ["D", "E", "F"], emb) == pytest.approx(1.0)
    assert demd(["A", "B"], ["D", "E", "F"], emb) == pytest.approx(1.0)  # unequal lengths too


def test_similar_codes_and_close_times_cost_less() -> None:
    emb = {"A": np.array([1.0, 0.0]), "A2": np.array([0.9, 0.1]), "Z": np.array([0.0, 1.0])}
    assert demd(["A"], ["A2"], emb) < demd(["A"], ["Z"], emb)
    near = demd(["A", "B"], ["B", "A"], onehot(["A", "B"]))
    far = demd(["A", "TIME//>1y", "B"], ["B", "TIME//>1y", "A"], onehot(["A", "B", "TIME//>1y"]))
    assert far > near


@pytest.mark.parametrize("n, m", [(5, 5), (4, 7), (9, 3)])
def test_matches_pot_emd2(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 10 + m)
    cost = rng.random((n, m))
    expected = ot.emd2(np.full(n, 1 / n), np.full(m, 1 / m), cost)
    assert emd_uniform(cost) == pytest.approx(expected, abs=1e-9)


def test_cost_matrix_is_in_unit_interval() -> None:
    rng = np.random.default_rng(0)
    emb = {c: rng.normal(size=4) for c in "ABCDE"}
    c = cost_matrix(list("ABCDE"), list("EDCBA"), emb, 90.0)
    assert c.min() >= 0 and c.max() <= 1 and np.allclose(np.diag(c[:, ::-1]), 0)


def test_horizon_demd_pads_an_early_stop_and_cuts_an_overlong_sample() -> None:
    from memaudit.audits.demd import horizon_demd

    emb = onehot(["A", "B", "C"])
    assert horizon_demd(["A", "B", "C", "C"], ["A", "B"], emb) == pytest.approx(0.0)
    assert horizon_demd(["A"], ["A", "B"], emb) == pytest.approx(0.5)
    assert horizon_demd([], ["A", "B"], emb) == pytest.approx(1.0)
