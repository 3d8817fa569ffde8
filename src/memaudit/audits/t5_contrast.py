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
it never saw", the case's contrast is a draw from theirs *for the same group*: how much more M
leaks a group than R depends on the group (M saw every training record, R half of them), so the
null is stratified by group. Null contrasts of group g are modelled as normal with mean μ_g and
between-patient variance τ² (pooled within groups, less the mean sampling variance); μ_g is the
group's mean shrunk towards the overall mean by how much group means truly differ (ω², the spread
of the group means beyond their sampling error), with posterior variance v_g. Then

    z = (c − μ_g) / √(τ² + se² + v_g),    p = 1 − Φ(z),

valid under that null to the extent the null contrasts are normal (the placebo audit checks the
calibration). The empirical rank p-value of z among the null's own z is reported beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class NullFit:
    """The null contrasts' model: overall mean, between-patient spread τ, and per group the
    shrunk mean μ_g and its variance v_g (a group without null cases gets the overall mean)."""

    mu: float
    tau: float
    group_mu: Mapping[str, float]
    group_var: Mapping[str, float]
    default_var: float

    def centre(self, groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(μ_g, v_g) of each entry of `groups`, each (n,)."""
        mu = np.array([self.group_mu.get(g, self.mu) for g in groups], float)
        var = np.array([self.group_var.get(g, self.default_var) for g in groups], float)
        return mu, var


def fit_null(contrast: np.ndarray, se: np.ndarray, groups: Sequence[str] | None = None) -> NullFit:
    """The null model of the module docstring. contrast, se: (n_null,); groups: (n_null,) or None
    (one group)."""
    contrast, se = np.asarray(contrast, float), np.asarray(se, float)
    groups = list(groups) if groups is not None else [""] * contrast.size
    if contrast.size == 0:
        return NullFit(0.0, 0.0, {}, {}, 0.0)
    mu = float(np.mean(contrast))
    names = sorted(set(groups))
    members = {g: contrast[[x == g for x in groups]] for g in names}
    means = {g: float(np.mean(v)) for g, v in members.items()}
    dof = contrast.size - len(names)
    within = (
        sum(float(np.sum((v - means[g]) ** 2)) for g, v in members.items()) / dof
        if dof > 0
        else float(np.var(contrast))
    )
    noise = float(np.mean(se**2))
    tau2 = max(within - noise, 0.0)
    s2 = tau2 + noise
    omega2 = (
        max(
            float(np.var(list(means.values()), ddof=1))
            - float(np.mean([s2 / v.size for v in members.values()])),
            0.0,
        )
        if len(names) > 1
        else 0.0
    )
    if omega2 == 0.0:
        overall_var = s2 / contrast.size
        return NullFit(
            mu, float(np.sqrt(tau2)), dict.fromkeys(names, mu), dict.fromkeys(names, overall_var), overall_var
        )
    group_mu, group_var = {}, {}
    for g, v in members.items():
        weight = omega2 / (omega2 + s2 / v.size)
        group_mu[g] = weight * means[g] + (1 - weight) * mu
        group_var[g] = 1 / (1 / omega2 + v.size / s2)
    return NullFit(mu, float(np.sqrt(tau2)), group_mu, group_var, omega2)


def contrast_p_values(
    contrast: np.ndarray,
    se: np.ndarray,
    null_contrast: np.ndarray,
    null_se: np.ndarray,
    groups: Sequence[str] | None = None,
    null_groups: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-sided p-values of the cases' contrasts (n_cases,) against the null's (n_null,), each
    judged against the null of its group (None: one group for all): (normal p, empirical rank p,
    the cases' z (n_cases,), the null cases' own z (n_null,))."""
    contrast, se = np.asarray(contrast, float), np.asarray(se, float)
    null_contrast, null_se = np.asarray(null_contrast, float), np.asarray(null_se, float)
    groups = list(groups) if groups is not None else [""] * contrast.size
    null_groups = list(null_groups) if null_groups is not None else [""] * null_contrast.size
    fit = fit_null(null_contrast, null_se, null_groups)
    mu, var = fit.centre(groups)
    z = (contrast - mu) / np.sqrt(fit.tau**2 + se**2 + var)
    null_mu, null_var = fit.centre(null_groups)
    null_z = (null_contrast - null_mu) / np.sqrt(fit.tau**2 + null_se**2 + null_var)
    empirical = (1 + (null_z[None, :] >= z[:, None] - 1e-12).sum(1)) / (1 + null_z.size)
    return norm.sf(z), empirical, z, null_z


def verdicts(
    p_m: np.ndarray,
    p_r: np.ndarray,
    p_values: np.ndarray,
    z: np.ndarray,
    null_z: np.ndarray,
    threshold: float,
    alpha: float,
    min_effect: float,
    null_quantile: float = 0.99,
) -> tuple[list[str], np.ndarray]:
    """Each case's verdict and the Benjamini-Hochberg q-values across cases.

    p_m, p_r: (n_cases,) shares of n fresh samples with the group under M and R; z: (n_cases,)
    the cases' standardised contrasts, null_z: (n_null,) the null cases' own.
    - not_replicated: p_m below the T2 threshold (the flag was sampling noise);
    - memorized: q < alpha, z above the null's own z at `null_quantile` (a check that does not
      lean on normality), and p_m − p_r ≥ min_effect;
    - generalized: the reference model, which never saw the patient, would be flagged by the same
      T2 rule (p_r at the threshold), and the contrast is not significant against the null;
    - inconclusive otherwise.

    A difference of the two shares is not the test of generalization: a reference model trained
    on fewer subjects leaks less for everyone, and the null's contrasts carry that gap."""
    _, q = benjamini_hochberg(p_values, alpha)
    cut = float(np.quantile(null_z, null_quantile)) if null_z.size else np.inf
    out = []
    for i in range(len(p_m)):
        if p_m[i] < threshold:
            out.append("not_replicated")
        elif q[i] < alpha and z[i] > cut and p_m[i] - p_r[i] >= min_effect:
            out.append("memorized")
        elif p_r[i] >= threshold and q[i] >= alpha:
            out.append("generalized")
        else:
            out.append("inconclusive")
    return out, q
