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

    z = (c − μ_g) / √(τ² + se² + v_g).

The tail of z under the null is not assumed normal: one patient neither model saw can disagree
with the rest far more than a normal spread allows (measured on the demo: 2 of 98 null cases
beyond a case whose normal p was 0.0005). The p-value is the upper tail of a Student t fitted by
maximum likelihood to the null cases' own z (location 0; its degrees of freedom from the data,
so a normal null gives large ones and a heavy tail small ones):

    p = 1 − T_ν((z) / s).

Before it is trusted, the fit is checked on the null's own cases (`tail_check`): each null case
in turn is left out, the whole null (means, τ, t fit) refitted on the rest, and the case's z
compared with the refitted 99th and 99.9th percentiles. Where more cases lie beyond them than
the binomial allows (one-sided p < 0.05), the fitted tail does not hold on this audit and the
p-value falls back to the empirical rank of z among the null's own z, which is valid by
exchangeability alone (a case and the null cases are patients neither model saw) but cannot go
below 1 / (n_null + 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, norm
from scipy.stats import t as student_t


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


def standardise(
    contrast: np.ndarray,
    se: np.ndarray,
    null_contrast: np.ndarray,
    null_se: np.ndarray,
    groups: Sequence[str] | None = None,
    null_groups: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The cases' z (n_cases,) and the null cases' own z (n_null,), each against the null of its
    group (None: one group for all), as in the module docstring."""
    contrast, se = np.asarray(contrast, float), np.asarray(se, float)
    null_contrast, null_se = np.asarray(null_contrast, float), np.asarray(null_se, float)
    groups = list(groups) if groups is not None else [""] * contrast.size
    null_groups = list(null_groups) if null_groups is not None else [""] * null_contrast.size
    fit = fit_null(null_contrast, null_se, null_groups)
    mu, var = fit.centre(groups)
    z = (contrast - mu) / np.sqrt(fit.tau**2 + se**2 + var)
    null_mu, null_var = fit.centre(null_groups)
    null_z = (null_contrast - null_mu) / np.sqrt(fit.tau**2 + null_se**2 + null_var)
    return z, null_z


# degrees of freedom tried by the tail fit: 1 (Cauchy) up to practically normal
DF_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 30.0, 100.0, 1000.0)


@dataclass(frozen=True)
class TailFit:
    """A Student t with location 0, `df` degrees of freedom and scale `scale`, fitted to null z."""

    df: float
    scale: float

    def sf(self, z: np.ndarray) -> np.ndarray:
        return student_t.sf(np.asarray(z, float) / self.scale, self.df)

    def ppf(self, q: float) -> float:
        return float(student_t.ppf(q, self.df) * self.scale)


def fit_tail(null_z: np.ndarray) -> TailFit:
    """Maximum-likelihood Student t (location 0) over `DF_GRID`; the scale for each df by EM
    (the t as a scale mixture of normals), all dfs at once. null_z: (n_null,)."""
    z2 = np.asarray(null_z, float) ** 2
    if z2.size < 2:
        return TailFit(DF_GRID[-1], 1.0)
    df = np.asarray(DF_GRID)[:, None]
    s2 = np.full((len(DF_GRID), 1), max(float(np.mean(z2)), 1e-12))
    for _ in range(60):
        w = (df + 1) / (df + z2[None, :] / s2)
        s2 = np.maximum(np.mean(w * z2[None, :], axis=1, keepdims=True), 1e-12)
    loglik = student_t.logpdf(np.sqrt(z2[None, :] / s2), df).sum(1) - z2.size * 0.5 * np.log(s2[:, 0])
    best = int(np.argmax(loglik))
    return TailFit(float(DF_GRID[best]), float(np.sqrt(s2[best, 0])))


def empirical_p(z: np.ndarray, null_z: np.ndarray) -> np.ndarray:
    """Rank p-value of each case's z (n_cases,) among the null's own z (n_null,): valid when a
    case is exchangeable with the null cases."""
    z, null_z = np.asarray(z, float), np.asarray(null_z, float)
    return (1 + (null_z[None, :] >= z[:, None] - 1e-12).sum(1)) / (1 + null_z.size)


TAIL_QUANTILES = (0.99, 0.999)
TAIL_CHECK_LEVEL = 0.05  # a fit fails its check when this many beyond has one-sided binomial p below


def tail_check(
    null_contrast: np.ndarray, null_se: np.ndarray, null_groups: Sequence[str] | None = None
) -> dict:
    """Leave-one-out check of both null models on the null's own cases (n_null,).

    For each null case, the null is refitted without it and the case's z compared with the
    refitted normal's and Student t's 99th and 99.9th percentiles. Returns, per model, per
    quantile: cases beyond, the count expected, and the one-sided binomial p of so many; `holds`
    per model is whether no quantile has too many (p ≥ TAIL_CHECK_LEVEL)."""
    null_contrast, null_se = np.asarray(null_contrast, float), np.asarray(null_se, float)
    n = null_contrast.size
    null_groups = list(null_groups) if null_groups is not None else [""] * n
    beyond = {"normal": dict.fromkeys(TAIL_QUANTILES, 0), "student_t": dict.fromkeys(TAIL_QUANTILES, 0)}
    for i in range(n):
        rest = np.arange(n) != i
        z_i, rest_z = standardise(
            null_contrast[i : i + 1],
            null_se[i : i + 1],
            null_contrast[rest],
            null_se[rest],
            [null_groups[i]],
            [g for g, keep in zip(null_groups, rest) if keep],
        )
        tail = fit_tail(rest_z)
        for q in TAIL_QUANTILES:
            beyond["normal"][q] += int(z_i[0] > norm.ppf(q))
            beyond["student_t"][q] += int(z_i[0] > tail.ppf(q))
    out: dict = {"n_null": n, "quantiles": list(TAIL_QUANTILES)}
    for model, counts in beyond.items():
        rows = {}
        for q, k in counts.items():
            p = float(binom.sf(k - 1, n, 1 - q)) if n else 1.0
            rows[f"{q:g}"] = {"beyond": k, "expected": n * (1 - q), "p_too_many": p}
        out[model] = {
            "by_quantile": rows,
            "holds": all(r["p_too_many"] >= TAIL_CHECK_LEVEL for r in rows.values()),
        }
    return out


@dataclass(frozen=True)
class ContrastTest:
    """The cases judged against the null: z (n_cases,), the null's own z (n_null,), the p-value
    each construction gives (n_cases,), which of them `p` is, and the tail fit and its check."""

    z: np.ndarray
    null_z: np.ndarray
    p: np.ndarray
    p_normal: np.ndarray
    p_student_t: np.ndarray
    p_empirical: np.ndarray
    source: str  # "student_t" (its tail held on the null's own cases) or "empirical"
    tail: TailFit
    check: dict


def contrast_test(
    contrast: np.ndarray,
    se: np.ndarray,
    null_contrast: np.ndarray,
    null_se: np.ndarray,
    groups: Sequence[str] | None = None,
    null_groups: Sequence[str] | None = None,
) -> ContrastTest:
    """One-sided p-values of the cases' contrasts (n_cases,) against the null's (n_null,), as the
    module docstring says: the fitted Student t where its tail check holds, else empirical ranks."""
    z, null_z = standardise(contrast, se, null_contrast, null_se, groups, null_groups)
    tail = fit_tail(null_z)
    check = tail_check(null_contrast, null_se, null_groups)
    p_t, p_emp = tail.sf(z), empirical_p(z, null_z)
    source = "student_t" if check["student_t"]["holds"] else "empirical"
    return ContrastTest(
        z, null_z, p_t if source == "student_t" else p_emp, norm.sf(z), p_t, p_emp, source, tail, check
    )
