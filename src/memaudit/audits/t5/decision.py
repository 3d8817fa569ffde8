"""What T5 calls each case: the verdict rule over the cases' p-values and effects, and the
constants the rule and the report share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..result import FAIL, PASS, WARN
from ..stats import benjamini_hochberg, holm

NAME, TITLE = "T5", "Memorized or generalized"
MIN_NULL_CASES = 10  # non-member flags needed before a contrast can be judged against them
NULL_QUANTILE = 0.99  # a memorized contrast also exceeds this quantile of the null contrasts
# a null thinner than this checks a fitted tail poorly: a memorized call on such a tail says so
# (docs/validation.md measures how often placebo audits false-FAIL there)
THIN_NULL = 50

VERDICTS = ("memorized", "likely_memorized", "generalized", "inconclusive", "not_replicated")


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
    fail_alpha: float | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each case's verdict, with the Holm-adjusted p-values and Benjamini-Hochberg q-values across
    the cases (each (n_cases,)).

    p_m, p_r: (n_cases,) shares of n fresh samples with the group under M and R; z: (n_cases,)
    the cases' standardised contrasts, null_z: (n_null,) the null cases' own.
    - not_replicated: p_m below the T2 threshold (the flag was sampling noise);
    - memorized: Holm-adjusted p < fail_alpha (default alpha; the chance that an audit calls any
      case memorized that is not is at most fail_alpha: the release gate makes one claim per
      audit), z above the null's own z at `null_quantile` (a check that leans on no fit), and
      p_m − p_r ≥ min_effect;
    - likely_memorized: the same, with Benjamini-Hochberg q < alpha in place of Holm (a share of
      false discoveries among discoveries, not a per-audit claim);
    - generalized: the reference model, which never saw the patient, would be flagged by the same
      T2 rule (p_r at the threshold), and the contrast is not significant against the null;
    - inconclusive otherwise.

    A difference of the two shares is not the test of generalization: a reference model trained
    on fewer subjects leaks less for everyone, and the null's contrasts carry that gap."""
    fail_alpha = alpha if fail_alpha is None else fail_alpha
    holm_p = holm(p_values)
    _, q = benjamini_hochberg(p_values, alpha)
    cut = float(np.quantile(null_z, null_quantile)) if np.asarray(null_z).size else np.inf
    out = []
    for i in range(len(p_m)):
        beyond = z[i] > cut and p_m[i] - p_r[i] >= min_effect
        if p_m[i] < threshold:
            out.append("not_replicated")
        elif beyond and holm_p[i] < fail_alpha:
            out.append("memorized")
        elif beyond and q[i] < alpha:
            out.append("likely_memorized")
        elif p_r[i] >= threshold and q[i] >= alpha:
            out.append("generalized")
        else:
            out.append("inconclusive")
    return out, holm_p, q


def status_of(labels: Sequence[str], fails_gate: bool) -> str:
    """T5's status from its cases' verdicts: a memorized case fails the gate only where
    `t5.fails_gate` is on (else it warns, as a likely memorized case does), since T5's memorized
    calls have not yet matched what training on the patient measurably changed (docs/validation.md)."""
    if "memorized" in labels:
        return FAIL if fails_gate else WARN
    return WARN if "likely_memorized" in labels else PASS
