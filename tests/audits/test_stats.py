from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import average_precision_score, roc_auc_score

from memaudit.audits import stats


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_auroc_matches_sklearn_and_is_one_when_perfectly_separated(rng: np.random.Generator) -> None:
    pos, neg = rng.normal(0.5, 1, 80), rng.normal(0, 1, 120)
    pos[:5] = neg[:5]  # ties
    y = np.r_[np.ones(80), np.zeros(120)]
    assert stats.auroc(pos, neg) == pytest.approx(roc_auc_score(y, np.r_[pos, neg]))
    assert stats.auroc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert stats.auroc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 0.0


def test_auroc_counts_ties_as_half_on_heavily_tied_scores_and_is_nan_on_a_missing_score(
    rng: np.random.Generator,
) -> None:
    """Scores with few distinct values (counts of generated codes) tie constantly."""
    for _ in range(50):
        pos, neg = rng.integers(0, 4, rng.integers(1, 40)), rng.integers(0, 4, rng.integers(1, 40))
        y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        assert stats.auroc(pos, neg) == pytest.approx(roc_auc_score(y, np.r_[pos, neg]), abs=1e-12)
    assert np.isnan(stats.auroc(np.array([1.0, np.nan]), np.array([0.0])))
    assert np.isnan(stats.auroc(np.array([]), np.array([0.0])))


def test_average_precision_matches_sklearn(rng: np.random.Generator) -> None:
    y = rng.random(300) < 0.2
    s = rng.random(300) + y * 0.3
    s[:20] = np.round(s[:20], 1)
    assert stats.average_precision(y, s) == pytest.approx(average_precision_score(y, s))


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (17, 250)])
def test_intervals_match_scipy(k: int, n: int) -> None:
    exact = sps.binomtest(k, n).proportion_ci(0.95, method="exact")
    wilson = sps.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert stats.clopper_pearson(k, n) == pytest.approx((exact.low, exact.high))
    assert stats.wilson(k, n) == pytest.approx((wilson.low, wilson.high))


def test_benjamini_hochberg_matches_scipy(rng: np.random.Generator) -> None:
    p = np.r_[rng.random(40), rng.random(10) * 0.001]
    rejected, adjusted = stats.benjamini_hochberg(p, 0.05)
    np.testing.assert_allclose(adjusted, sps.false_discovery_control(p, method="bh"))
    assert rejected.sum() >= 10


def test_bootstrap_ci_covers_the_mean_and_is_seeded(rng: np.random.Generator) -> None:
    x = np.random.default_rng(1).normal(3, 1, 200)
    lo, hi = stats.bootstrap_ci(np.mean, [x], np.random.default_rng(5), 500)
    assert lo < 3 < hi and hi - lo < 0.5
    assert (lo, hi) == stats.bootstrap_ci(np.mean, [x], np.random.default_rng(5), 500)


def test_tests_of_difference(rng: np.random.Generator) -> None:
    a, b = rng.normal(1, 1, 60), rng.normal(0, 1, 60)
    assert stats.mann_whitney_p(a, b) == pytest.approx(sps.mannwhitneyu(a, b).pvalue)
    assert stats.permutation_p(a, b, rng, 500) < 0.01
    assert stats.permutation_p(b, b + 1e-9, rng, 200) > 0.5


def test_residual_risk() -> None:
    assert stats.residual_risk(0.6, 0.2) == pytest.approx(0.5)
    assert stats.residual_risk(0.2, 0.2) == 0.0


def test_tpr_at_fpr_needs_ten_over_fpr_non_members_and_reports_the_achieved_fpr(
    rng: np.random.Generator,
) -> None:
    pos, neg = rng.normal(2, 1, 100), rng.normal(0, 1, 1000)
    ok = stats.tpr_at_fpr(pos, neg, 0.01)
    assert ok["status"] == "ok" and ok["achieved_fpr"] <= 0.01 and 0 < ok["tpr"] <= 1
    assert ok["tpr_ci95"][0] <= ok["tpr"] <= ok["tpr_ci95"][1]
    assert ok["achieved_fpr_ci95"][0] <= ok["achieved_fpr"] <= ok["achieved_fpr_ci95"][1]
    assert stats.tpr_at_fpr(pos, neg, 0.001)["status"] == "insufficient"  # 1000 < 10 / 0.001
    assert stats.tpr_at_fpr(pos, neg[:999], 0.01)["status"] == "insufficient"


def test_epsilon_lower_bound_is_certified_on_the_half_it_was_not_chosen_on(rng: np.random.Generator) -> None:
    same = rng.normal(0, 1, 200)
    assert stats.epsilon_lower_bound(same, same.copy(), rng)["epsilon"] == 0.0
    weak = stats.epsilon_lower_bound(rng.normal(0.5, 1, 300), rng.normal(0, 1, 300), rng)["epsilon"]
    strong = stats.epsilon_lower_bound(rng.normal(10, 1, 300), rng.normal(0, 1, 300), rng)["epsilon"]
    assert 0 <= weak < strong
    # perfectly separated, certified on the held-back 150 vs 150: at best TPR_lo ≈ 0.976 over
    # FPR_hi ≈ 0.0243, ε ≈ log(40); the threshold chosen on the other half may let one member fall below
    perfect = np.log((stats.clopper_pearson(150, 150)[0] - 1e-5) / stats.clopper_pearson(0, 150)[1])
    assert np.log(30) < strong <= perfect + 1e-12


def test_epsilon_lower_bound_is_zero_in_at_least_95_percent_of_null_audits() -> None:
    """Members and non-members exchangeable (a placebo): the certified bound must stay 0 in >= 95%
    of audits; the maximum over thresholds of per-threshold bounds did not (6 of 60 above 0)."""
    rng = np.random.default_rng(11)
    positive = [
        stats.epsilon_lower_bound(rng.normal(size=300), rng.normal(size=300), rng)["epsilon"] > 0
        for _ in range(200)
    ]
    assert np.mean(positive) <= 0.05


def test_auroc_gap_is_member_minus_non_member_auroc() -> None:
    member = np.c_[[0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]]
    non_member = np.c_[[0.1, 0.8, 0.9, 0.2], [1, 1, 0, 0]]
    assert stats.auroc_gap(member, non_member) == pytest.approx(1.0 - 0.25)


def test_gap_permutation_p_is_calibrated_under_exchangeable_arms_and_small_for_a_real_gap() -> None:
    from memaudit.audits.stats import gap_permutation_p

    rng = np.random.default_rng(0)

    def rows(n: int, shift: float) -> np.ndarray:
        y = rng.random(n) < 0.2
        return np.c_[rng.normal(size=n) + shift * y, y]

    null_p = np.array([gap_permutation_p(rows(60, 0.5), rows(60, 0.5), rng, 199) for _ in range(200)])
    assert 0.01 <= np.mean(null_p < 0.05) <= 0.10  # binomial range of 5% over 200 trials
    assert gap_permutation_p(rows(150, 3.0), rows(150, 0.0), rng, 199) <= 0.01


def test_judge_gaps_needs_significance_after_benjamini_hochberg() -> None:
    from memaudit.audits.arm_gaps import GapQuestion, fine_permutations, judge_gaps

    rng = np.random.default_rng(1)

    def rows(n: int, shift: float) -> np.ndarray:
        y = np.arange(n) % 4 == 0
        return np.c_[rng.normal(size=n) + shift * y, y]

    from memaudit.audits.stats import auroc_gap

    nulls = [GapQuestion({}, rows(80, 0.3), rows(80, 0.3)) for _ in range(15)]
    for q in nulls:
        q.entry["auroc_gap"] = auroc_gap(q.member_rows, q.non_member_rows)
    fail_alpha = 0.01 / 3  # T2's share of the gate's alpha by default
    status, worst, where = judge_gaps(nulls, rng, 199, 0.95, 0.05, 0.15, fail_alpha)
    assert (
        status == "pass" and worst == 0.0 and where is None and all("auroc_gap_q" in q.entry for q in nulls)
    )
    real = GapQuestion({}, rows(200, 3.0), rows(200, 0.0))
    real.entry["auroc_gap"] = auroc_gap(real.member_rows, real.non_member_rows)
    status, worst, where = judge_gaps(nulls + [real], rng, 999, 0.95, 0.05, 0.15, fail_alpha)
    # Holm over 16 questions at 0.0033 needs p < 0.0002, below the 1/1000 that 999 permutations
    # resolve: the fail-sized gap was permuted again, finely enough
    assert real.entry["auroc_gap_permutations"] == fine_permutations(16, fail_alpha) > 999
    assert real.entry["auroc_gap_holm_p"] < fail_alpha and real.entry["fails"]
    assert status == "fail" and real.entry["significant"] and worst == real.entry["auroc_gap"] > 0.15
    assert where is real


def test_a_fail_sized_gap_significant_only_at_the_false_discovery_rate_warns() -> None:
    """One fail-sized gap with p ≈ 0.002 among 16 questions: Benjamini-Hochberg at 0.05 keeps it
    (0.002 × 16 < 0.05), Holm at T2's share of the gate (0.0033 / 16) does not, however finely it
    is permuted: the test warns, it does not fail."""
    from memaudit.audits.arm_gaps import GapQuestion, judge_gaps
    from memaudit.audits.stats import auroc_gap, gap_permutation_p

    rng = np.random.default_rng(3)

    def rows(n: int, shift: float) -> np.ndarray:
        y = np.arange(n) % 4 == 0
        return np.c_[rng.normal(size=n) + shift * y, y]

    # a modest real gap: search seeds of data for one whose permutation p lies near 0.002
    for _ in range(200):
        member, non_member = rows(120, 1.1), rows(120, 0.0)
        p = gap_permutation_p(member, non_member, np.random.default_rng(0), 4999)
        if 0.0008 < p < 0.003 and auroc_gap(member, non_member) >= 0.15:
            break
    else:
        pytest.fail("no data seed gave a gap with p near 0.002")
    nulls = [GapQuestion({"auroc_gap": -0.1}, rows(80, 0.0), rows(80, 0.0)) for _ in range(15)]
    modest = GapQuestion({"auroc_gap": auroc_gap(member, non_member)}, member, non_member)
    status, _, where = judge_gaps(nulls + [modest], rng, 999, 0.95, 0.05, 0.15, 0.01 / 3)
    assert modest.entry["significant"] and not modest.entry["fails"]
    assert status == "warn" and where is modest


def test_gap_permutation_p_equals_a_loop_over_permutations_with_ties() -> None:
    from memaudit.audits.stats import auroc_gap, gap_permutation_p

    data = np.random.default_rng(5)
    member = np.c_[data.integers(0, 4, 40) / 4, data.random(40) < 0.3]  # coarse scores: many ties
    non_member = np.c_[data.integers(0, 4, 50) / 4, data.random(50) < 0.3]
    observed, pooled = auroc_gap(member, non_member), np.vstack([member, non_member])
    arm = np.arange(len(pooled)) < 40
    masks = np.random.default_rng(7).permuted(np.broadcast_to(arm, (300, arm.size)), axis=1)
    hits = sum(auroc_gap(pooled[m], pooled[~m]) >= observed - 1e-12 for m in masks)
    assert gap_permutation_p(member, non_member, np.random.default_rng(7), 300) == (hits + 1) / 301


def test_permutations_that_leave_an_arm_without_a_gap_are_not_counted() -> None:
    """Three positives in 30 subjects: a permutation that puts all of them in one arm leaves the
    other arm's AUROC undefined; such permutations count neither as hits nor in the denominator,
    which a brute-force loop over the same permutations confirms."""
    from memaudit.audits.stats import auroc_gap, gap_permutation_p

    data = np.random.default_rng(2)
    member = np.c_[data.random(15), np.arange(15) < 2]
    non_member = np.c_[data.random(15), np.arange(15) < 1]
    observed, pooled = auroc_gap(member, non_member), np.vstack([member, non_member])
    arm = np.arange(30) < 15
    masks = np.random.default_rng(4).permuted(np.broadcast_to(arm, (500, 30)), axis=1)
    gaps = np.array([auroc_gap(pooled[m], pooled[~m]) for m in masks])
    defined = np.isfinite(gaps)
    assert (~defined).sum() > 0  # the case the rule is for happens
    hits = int(np.sum(gaps[defined] >= observed - 1e-12))
    p = gap_permutation_p(member, non_member, np.random.default_rng(4), 500, chunk=120)
    assert p == (hits + 1) / (defined.sum() + 1)


def test_holm_matches_its_step_down_definition() -> None:
    """Holm: the i-th smallest p is multiplied by (m − i + 1), and adjusted values never decrease
    with rank; brute force over random p-values with ties."""
    from memaudit.audits.stats import holm

    rng = np.random.default_rng(11)
    for _ in range(50):
        p = np.round(rng.uniform(0, 0.2, rng.integers(1, 12)), 3)
        order = np.argsort(p, kind="mergesort")
        expected = np.empty_like(p)
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (p.size - rank) * p[i]))
            expected[i] = running
        assert np.allclose(holm(p), expected)
    assert holm([]).size == 0


def _bootstrap_one_by_one(statistic, samples, rng, n_boot, confidence=0.95):
    """The percentile interval drawn resample by resample, as its definition reads."""
    values = np.array(
        [statistic(*(s[rng.integers(0, len(s), len(s))] for s in samples)) for _ in range(n_boot)]
    )
    a = (1 - confidence) / 2
    return (float(np.quantile(values, a)), float(np.quantile(values, 1 - a)))


def test_bootstrap_of_means_over_blocks_of_resamples_is_the_one_by_one_interval_to_the_bit() -> None:
    gen = np.random.default_rng(1)
    for i in range(60):
        a = gen.random(int(gen.integers(1, 400))) if i % 2 else gen.integers(0, 2, 97).astype(float)
        b = gen.normal(size=int(gen.integers(1, 400)))
        n_boot = int(gen.choice([37, 200, 1000]))
        one = lambda x: float(np.mean(x))
        diff = lambda x, y: float(np.mean(x) - np.mean(y))
        assert stats.bootstrap_ci(stats.MEAN, [a], np.random.default_rng(i), n_boot) == (
            _bootstrap_one_by_one(one, [a], np.random.default_rng(i), n_boot)
        )
        assert stats.bootstrap_ci(stats.MEAN_DIFFERENCE, [a, b], np.random.default_rng(i), n_boot) == (
            _bootstrap_one_by_one(diff, [a, b], np.random.default_rng(i), n_boot)
        )


def test_epsilon_lower_bound_chooses_and_certifies_as_the_threshold_by_threshold_search() -> None:
    """All thresholds' Clopper-Pearson ends at once give the bound a loop over thresholds gives."""

    def by_loop(pos, neg, rng, delta=1e-5, confidence=0.95):
        p_perm, n_perm = rng.permutation(pos.size), rng.permutation(neg.size)
        p_sel, p_cert = pos[p_perm[: pos.size // 2]], pos[p_perm[pos.size // 2 :]]
        n_sel, n_cert = neg[n_perm[: neg.size // 2]], neg[n_perm[neg.size // 2 :]]
        best_t, best = None, -1.0
        for t in np.unique(np.r_[p_sel, n_sel]):
            e = stats._epsilon_at(
                int(np.sum(p_sel >= t)), p_sel.size, int(np.sum(n_sel >= t)), n_sel.size, delta, confidence
            )
            if e > best:
                best_t, best = float(t), e
        kp, kn = int(np.sum(p_cert >= best_t)), int(np.sum(n_cert >= best_t))
        return stats._epsilon_at(kp, p_cert.size, kn, n_cert.size, delta, confidence), best_t, best

    gen = np.random.default_rng(2)
    for i in range(80):
        pos = np.round(gen.normal(gen.uniform(0, 2), 1, int(gen.integers(4, 200))), i % 3)
        neg = np.round(gen.normal(0, 1, int(gen.integers(4, 200))), i % 3)
        got = stats.epsilon_lower_bound(pos, neg, np.random.default_rng(i))
        want = by_loop(pos, neg, np.random.default_rng(i))
        assert (got["epsilon"], got["threshold"], got["selection_half_epsilon"]) == want
