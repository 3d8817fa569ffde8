from __future__ import annotations

import numpy as np
import ot
import pytest

from memaudit.audits.t1.demd import cost_matrix, demd, emd_uniform, horizon_demd, horizon_demd_many
from memaudit.cohort.conventions import infer_conventions
from memaudit.config.sections import Conventions


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
    gaps = infer_conventions(Conventions(), ["TIME//>1y"]).days_of_gap
    near = demd(["A", "B"], ["B", "A"], onehot(["A", "B"]), gap_days=gaps)
    far = demd(
        ["A", "TIME//>1y", "B"], ["B", "TIME//>1y", "A"], onehot(["A", "B", "TIME//>1y"]), gap_days=gaps
    )
    assert far > near
    # without gap codes to read times from, time weighting is off: order alone costs nothing
    assert demd(["A", "TIME//>1y", "B"], ["B", "TIME//>1y", "A"], onehot(["A", "B", "TIME//>1y"])) == 0.0


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
    emb = onehot(["A", "B", "C"])
    assert horizon_demd(["A", "B", "C", "C"], ["A", "B"], emb) == pytest.approx(0.0)
    assert horizon_demd(["A"], ["A", "B"], emb) == pytest.approx(0.5)
    assert horizon_demd([], ["A", "B"], emb) == pytest.approx(1.0)


def test_the_truth_keeps_its_real_times_and_a_sample_reads_its_gap_codes() -> None:
    emb = onehot(["A", "B", "TIME//1-4w", "TIME//>1y"])
    gaps = infer_conventions(Conventions(), ["TIME//1-4w", "TIME//>1y"]).days_of_gap
    truth = ["A", "B"]  # B came 17.5 days after the prompt
    on_time = horizon_demd(
        ["A", "TIME//1-4w", "B"], truth + ["B"], emb, 90.0, np.array([0.0, 17.5, 17.5]), gaps
    )
    a_year_late = horizon_demd(
        ["A", "TIME//>1y", "B"], truth + ["B"], emb, 90.0, np.array([0.0, 17.5, 17.5]), gaps
    )
    assert on_time < a_year_late
    # MEDS_EIC_AR's value-binned deltas read as the middle of their bin
    eic = infer_conventions(Conventions(), ["TIMELINE//DELTA//years//value_[0.0821,0.1644)"])
    assert eic.days_of_gap("TIMELINE//DELTA//years//value_[0.0821,0.1644)") == pytest.approx(0.12325 * 365.25)
    assert infer_conventions(Conventions(), ["X"]).days_of_gap("TIME//1-4w") is None  # not in this stream


def test_the_batched_path_equals_one_pair_at_a_time() -> None:
    """T1's batched dEMD (costs of all samples built at once) gives each pair's own value, with
    and without time weighting, for samples shorter than the truth and codes without embeddings."""
    rng = np.random.default_rng(0)
    vocab = [f"C{i}" for i in range(12)] + ["TIME//1-4w", "TIME//>1y"]
    emb = {c: rng.normal(size=5) for c in vocab[:10]}  # C10, C11 and the gaps have no embedding
    gaps = infer_conventions(Conventions(), ["TIME//1-4w", "TIME//>1y"]).days_of_gap
    truth = list(rng.choice(vocab, 9))
    truth_days = np.cumsum(rng.uniform(0, 60, 9))
    samples = [list(rng.choice(vocab, int(rng.integers(0, 14)))) for _ in range(25)]
    for days, gap in ((None, None), (truth_days, gaps)):
        batched = horizon_demd_many(samples, truth, emb, 90.0, days, gap)
        single = [horizon_demd(s, truth, emb, 90.0, days, gap) for s in samples]
        np.testing.assert_allclose(batched, single, atol=1e-12)
    assert horizon_demd_many([], truth, emb).shape == (0,)
