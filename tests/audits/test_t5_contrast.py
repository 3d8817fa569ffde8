"""T5's counterfactual contrast on arrays: calibrated under its null, and its verdicts."""

from __future__ import annotations

import numpy as np
from scipy.stats import binom, norm

from memaudit.audits.t5.decision import verdicts
from memaudit.audits.t5.null import (
    contrast_test,
    empirical_p,
    fit_null,
    fit_tail,
    logit_contrast,
    standardise,
    tail_check,
)

N = 100  # fresh samples per prompt and model


def _patients(rng: np.random.Generator, k: int, gap: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Samples with the group under M and R for k patients neither model saw: each patient has
    its own leak rate under R (a clinical picture), and M leaks a little more for everyone (it
    was trained on more data: the training gap the null must carry)."""
    logit_r = rng.normal(0.5, 1.0, k)
    logit_m = logit_r + gap + rng.normal(0, 0.5, k)
    p = lambda x: 1 / (1 + np.exp(-x))
    return binom.rvs(N, p(logit_m), random_state=rng), binom.rvs(N, p(logit_r), random_state=rng)


def test_the_contrast_is_smoothed_and_its_error_shrinks_with_samples() -> None:
    contrast, se = logit_contrast(np.array([0, 100, 50]), np.array([0, 0, 50]), N)
    assert np.isfinite(contrast).all() and contrast[0] == 0 and contrast[1] > 5 and contrast[2] == 0
    _, se_more = logit_contrast(np.array([200]), np.array([200]), 4 * N)
    assert se_more[0] < se[2] / 1.9


def test_the_null_fit_removes_sampling_noise() -> None:
    rng = np.random.default_rng(0)
    k_m, k_r = _patients(rng, 4000)
    c, se = logit_contrast(k_m, k_r, N)
    fit = fit_null(c, se)
    assert 0.6 < fit.mu < 1.0 and 0.35 < fit.tau < 0.65  # the simulated gap 0.8 and spread 0.5


def test_p_values_are_uniform_when_the_case_is_one_more_unseen_patient() -> None:
    """The placebo: cases drawn like the null patients (members the models never saw). Over
    many audits the share of p < 0.05 stays within its binomial range."""
    rng = np.random.default_rng(1)
    p_values = []
    for _ in range(200):
        cases, nulls = _patients(rng, 10), _patients(rng, 100)
        c, se = logit_contrast(*cases, N)
        nc, nse = logit_contrast(*nulls, N)
        p_values += list(norm.sf(standardise(c, se, nc, nse)[0]))
    share = np.mean(np.asarray(p_values) < 0.05)
    lo, hi = binom.ppf([0.005, 0.995], len(p_values), 0.05) / len(p_values)
    assert lo <= share <= hi, share


def test_a_recalled_random_plant_is_memorized_and_a_pattern_the_reference_shares_is_generalized() -> None:
    rng = np.random.default_rng(2)
    null_m, null_r = _patients(rng, 100)
    # case 0: a canary's random plant, recalled by M in 85 of 100 samples, by R in 3
    # case 1: a pattern both models see (R at 0.7, M at 0.85, the usual gap)
    # case 2: a flag that did not replicate (M at 0.1 in fresh samples)
    k_m, k_r = np.array([85, 85, 10]), np.array([3, 70, 2])
    c, se = logit_contrast(k_m, k_r, N)
    nc, nse = logit_contrast(null_m, null_r, N)
    test = contrast_test(c, se, nc, nse)
    labels, holm_p, q = verdicts(
        k_m / N, k_r / N, test.p, test.z, test.null_z, threshold=0.3, alpha=0.05, min_effect=0.2
    )
    assert labels == ["memorized", "generalized", "not_replicated"]
    assert holm_p[0] < 0.05 <= q[1]


def test_a_large_contrast_that_the_reference_also_leaks_is_not_memorized() -> None:
    rng = np.random.default_rng(3)
    nc, nse = logit_contrast(*_patients(rng, 100), N)
    # M at 0.99, R at 0.80: significant on the logit scale, but the shares differ by less than 0.2
    k_m, k_r = np.array([99]), np.array([80])
    c, se = logit_contrast(k_m, k_r, N)
    test = contrast_test(c, se, nc, nse)
    labels, _, _ = verdicts(k_m / N, k_r / N, test.p, test.z, test.null_z, 0.3, 0.05, 0.2)
    assert labels != ["memorized"]


def test_the_null_is_the_cases_own_group() -> None:
    """M leaks one group more than R for everyone (gap 2.0) and another less (gap −1.0): an unseen
    patient of either group gets uniform p-values against its own group's null, while the pooled
    null calls the first group's patients significant far too often."""
    rng = np.random.default_rng(4)
    stratified, pooled = [], []
    for _ in range(150):
        groups, nulls = [], ([], [])
        for name, gap, n in (("a", 2.0, 30), ("b", -1.0, 60)):
            k_m, k_r = _patients(rng, n, gap)
            nulls[0].append(k_m)
            nulls[1].append(k_r)
            groups += [name] * n
        nc, nse = logit_contrast(np.concatenate(nulls[0]), np.concatenate(nulls[1]), N)
        cases = _patients(rng, 4, 2.0)  # unseen patients flagged for group a
        c, se = logit_contrast(*cases, N)
        stratified += list(norm.sf(standardise(c, se, nc, nse, ["a"] * 4, groups)[0]))
        pooled += list(norm.sf(standardise(c, se, nc, nse)[0]))
    lo, hi = binom.ppf([0.005, 0.995], len(stratified), 0.05) / len(stratified)
    assert lo <= np.mean(np.asarray(stratified) < 0.05) <= hi
    assert np.mean(np.asarray(pooled) < 0.05) > 2 * hi


def test_the_tail_fit_finds_normal_tails_normal_and_heavy_tails_heavy() -> None:
    rng = np.random.default_rng(5)
    assert fit_tail(rng.normal(0, 1.3, 2000)).df >= 30
    assert abs(fit_tail(rng.normal(0, 1.3, 2000)).scale - 1.3) < 0.1
    assert fit_tail(rng.standard_t(2.0, 2000)).df <= 3


def _null_with_heavy_tail(rng: np.random.Generator, k: int, df: float) -> tuple[np.ndarray, np.ndarray]:
    """Null contrasts whose patient-to-patient spread has a Student t tail (df) and little
    sampling noise (se 0.05), so the tail of z is the tail of the spread."""
    return rng.standard_t(df, k), np.full(k, 0.05)


def test_the_tail_check_rejects_a_normal_fit_to_a_heavy_tail_and_keeps_the_student_t() -> None:
    rng = np.random.default_rng(6)
    nc, nse = _null_with_heavy_tail(rng, 400, 1.5)
    check = tail_check(nc, nse)
    assert not check["normal"]["holds"] and check["student_t"]["holds"]
    light = tail_check(rng.normal(0, 1, 400), np.full(400, 0.05))
    assert light["normal"]["holds"] and light["student_t"]["holds"]


def test_a_case_that_null_cases_exceed_is_not_called_memorized_however_small_its_normal_p() -> None:
    """The demo's false FAIL: a pattern case at z ≈ 3.3 (normal p ≈ 0.0005) among 50 cases, with
    null cases beyond it. The fitted tail gives it a p that no family-wise control calls."""
    rng = np.random.default_rng(7)
    nc, nse = _null_with_heavy_tail(rng, 100, 2.5)
    nc[:2] = [3.8, 4.2]  # two unseen patients beyond the case
    scale = np.std(nc)
    c = np.r_[3.3 * scale + np.mean(nc), rng.normal(np.mean(nc), scale, 49)]
    se = np.full(50, 0.05)
    test = contrast_test(c, se, nc, nse)
    assert test.p_normal[0] < 0.002
    labels, holm_p, _ = verdicts(
        np.full(50, 0.9), np.full(50, 0.1), test.p, test.z, test.null_z, 0.3, 0.05, 0.2
    )
    assert holm_p[0] >= 0.05 and "memorized" not in labels


def test_where_no_fitted_tail_holds_the_p_value_is_the_empirical_rank() -> None:
    """A null whose tail no t fits (a tight bulk and a cluster of 10 far patients): the p-values
    fall back to ranks among the null cases, which hold by exchangeability alone."""
    rng = np.random.default_rng(8)
    nc = np.r_[rng.normal(0, 0.1, 190), np.full(10, 5.0)]
    nse = np.full(200, 0.01)
    c, se = np.array([4.0, 6.0]), np.full(2, 0.01)
    test = contrast_test(c, se, nc, nse)
    assert test.source == "empirical"
    assert np.allclose(test.p, empirical_p(test.z, test.null_z))
    assert test.p[0] == 11 / 201 and test.p[1] == 1 / 201


def test_memorized_needs_family_wise_evidence_and_the_false_discovery_rate_alone_is_likely() -> None:
    """Ten judged cases: Holm keeps the first (0.003 × 10 < 0.05) but not the second
    (0.006 × 9 ≥ 0.05); Benjamini-Hochberg keeps both."""
    p = np.array([0.003, 0.006] + [0.4] * 8)
    labels, holm_p, q = verdicts(
        np.full(10, 0.9), np.full(10, 0.1), p, np.full(10, 5.0), np.zeros(100), 0.3, 0.05, 0.2
    )
    assert labels[:2] == ["memorized", "likely_memorized"]
    assert holm_p[0] < 0.05 <= holm_p[1] and q[1] < 0.05


def test_memorized_is_judged_at_t5s_share_of_the_gate() -> None:
    """Holm p 0.045 is below T5's own alpha (0.05) but not below its share of the gate's alpha
    (0.04 by default): likely memorized, not memorized."""
    from memaudit.config import load_config

    fail_alpha = load_config().risk.fail_alpha("T5")
    p = np.array([0.0045] + [0.5] * 9)
    labels, holm_p, _ = verdicts(
        np.full(10, 0.9),
        np.full(10, 0.1),
        p,
        np.full(10, 5.0),
        np.zeros(100),
        0.3,
        0.05,
        0.2,
        fail_alpha=fail_alpha,
    )
    assert fail_alpha < holm_p[0] < 0.05 and labels[0] == "likely_memorized"
    labels, _, _ = verdicts(
        np.full(10, 0.9), np.full(10, 0.1), p, np.full(10, 5.0), np.zeros(100), 0.3, 0.05, 0.2
    )
    assert labels[0] == "memorized"


def test_a_memorized_call_on_a_tail_fitted_to_a_thin_null_says_so() -> None:
    from memaudit.audits.t5.contrast import summarise_contrast
    from memaudit.audits.t5.decision import THIN_NULL, VERDICTS

    counted = dict.fromkeys(VERDICTS, 0) | {"memorized": 1}
    thin = summarise_contrast(counted, 5, THIN_NULL - 1, "student_t")
    assert f"fitted to {THIN_NULL - 1} null cases" in thin and "p_value_empirical" in thin
    assert "null cases:" not in summarise_contrast(counted, 5, THIN_NULL, "student_t")
    assert "fitted to" not in summarise_contrast(counted | {"memorized": 0}, 5, 20, "student_t")


def test_a_memorized_case_warns_unless_t5_is_let_fail_the_gate() -> None:
    from memaudit.audits.t5.decision import status_of

    assert status_of(["generalized", "memorized"], fails_gate=False) == "warn"
    assert status_of(["generalized", "memorized"], fails_gate=True) == "fail"
    assert status_of(["likely_memorized"], fails_gate=True) == "warn"
    assert status_of(["generalized", "inconclusive"], fails_gate=True) == "pass"
