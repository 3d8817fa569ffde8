"""The counterfactual contrast of T5, as plain functions over arrays.

A flagged case is memorized when the audited model M regenerates the sensitive group for this
patient more than a reference model R (same recipe, never trained on the patient) does, by more
than the same contrast varies among patients neither model saw (Feldman & Zhang 2020, counterfactual
memorization; Zhang et al. 2021).

Statistic, per case with k_M of n samples under M and k_R of n under R carrying the group:

    c = logit((k_M + ½) / (n + 1)) − logit((k_R + ½) / (n + 1))        (Jeffreys-smoothed)
    se² = 1 / ((n + 1) p̃_M (1 − p̃_M)) + 1 / ((n + 1) p̃_R (1 − p̃_R))   (delta method)

Null: the non-members flagged by the same T2 rule (p̂ at or above the threshold, the group within
the horizon). Neither model saw them, so under the hypothesis "M treats this patient as a patient
it never saw", the case's contrast is a draw from theirs. Their contrasts are modelled as
normal with mean μ₀ and between-patient variance τ² = max(var(c_null) − mean(se²_null), 0), and

    p = 1 − Φ((c − μ₀) / √(τ² + se²)),

valid under that null to the extent the null contrasts are normal (the placebo audit checks the
calibration). The empirical rank p-value, (1 + #{c_null ≥ c}) / (1 + N), is reported beside it.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from .stats import benjamini_hochberg


def logit_contrast(k_m: np.ndarray, k_r: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys-smoothed logit contrasts and their standard errors.

    k_m, k_r: (n_cases,) counts of samples with the group under M and R, out of n each.
    Returns (contrast, se), each (n_cases,)."""
    p_m = (np.asarray(k_m, float) + 0.5) / (n + 1)
    p_r = (np.asarray(k_r, float) + 0.5) / (n + 1)
    contrast = np.log(p_m / (1 - p_m)) - np.log(p_r / (1 - p_r))
    se = np.sqrt(1 / ((n + 1) * p_m * (1 - p_m)) + 1 / ((n + 1) * p_r * (1 - p_r)))
    return contrast, se


def fit_null(contrast: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """(μ₀, τ) of the null contrasts: their mean, and the between-patient spread left after
    subtracting the binomial sampling variance. contrast, se: (n_null,)."""
    if contrast.size < 2:
        return float(np.mean(contrast)) if contrast.size else 0.0, 0.0
    tau2 = max(float(np.var(contrast, ddof=1)) - float(np.mean(se**2)), 0.0)
    return float(np.mean(contrast)), float(np.sqrt(tau2))


def contrast_p_values(
    contrast: np.ndarray, se: np.ndarray, null_contrast: np.ndarray, null_se: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided p-values of the cases' contrasts (n_cases,) against the null's (n_null,):
    (normal random-effects p, empirical rank p)."""
    mu, tau = fit_null(null_contrast, null_se)
    parametric = norm.sf((contrast - mu) / np.sqrt(tau**2 + se**2))
    empirical = (1 + (null_contrast[None, :] >= contrast[:, None] - 1e-12).sum(1)) / (1 + null_contrast.size)
    return parametric, empirical


def verdicts(
    p_m: np.ndarray,
    p_r: np.ndarray,
    p_values: np.ndarray,
    contrast: np.ndarray,
    null_contrast: np.ndarray,
    threshold: float,
    alpha: float,
    min_effect: float,
    null_quantile: float = 0.99,
) -> tuple[list[str], np.ndarray]:
    """Each case's verdict and the Benjamini-Hochberg q-values across cases.

    p_m, p_r: (n_cases,) shares of n fresh samples with the group under M and R.
    - not_replicated: p_m below the T2 threshold (the flag was sampling noise);
    - memorized: q < alpha, the contrast above the null's `null_quantile`, and p_m − p_r ≥ min_effect;
    - generalized: the reference model, which never saw the patient, would be flagged by the same
      T2 rule (p_r at the threshold), and the contrast is not significant against the null;
    - inconclusive otherwise.

    A difference of the two shares is not the test of generalization: a reference model trained
    on fewer subjects leaks less for everyone, and the null's contrasts carry that gap."""
    _, q = benjamini_hochberg(p_values, alpha)
    cut = float(np.quantile(null_contrast, null_quantile)) if null_contrast.size else np.inf
    out = []
    for i in range(len(p_m)):
        if p_m[i] < threshold:
            out.append("not_replicated")
        elif q[i] < alpha and contrast[i] > cut and p_m[i] - p_r[i] >= min_effect:
            out.append("memorized")
        elif p_r[i] >= threshold and q[i] >= alpha:
            out.append("generalized")
        else:
            out.append("inconclusive")
    return out, q
