"""Is a member-minus-non-member AUROC gap real? T2 and T3 ask it once per (group, tier), often
16 times an audit; with a 95% interval per question, one of them crosses zero by chance about one
audit in three, and bootstrap intervals of an AUROC with few positives are too narrow. So each gap
gets a one-sided permutation p-value, and the gaps of one test are judged together:
- warn: a gap of at least `warn`, significant with Benjamini–Hochberg at 1 − confidence. Example:
  p-values [0.001, 0.04, 0.30, 0.50] at q = 0.05 give q-values [0.004, 0.08, 0.40, 0.50]; only the
  first gap is significant.
- fail: a gap of at least `fail`, significant with Holm at the test's share of the gate's alpha
  (`risk.fail_alpha`), so that the test fails a model without membership signal at most that
  often per audit. Holm at a few thousandths across 16 questions needs p-values below 1/10,000,
  finer than the first permutations resolve, so a fail-sized gap whose first p-value is small is
  permuted again, more times, and the fresh p-value replaces it (both are valid permutation
  p-values; which one is used depends only on the first, so the result stays valid).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .result import FAIL, PASS, WARN
from .stats import benjamini_hochberg, gap_permutation_p, holm


@dataclass
class GapQuestion:
    entry: dict  # the (group, tier) metrics; receives auroc_gap_p, auroc_gap_q, significant
    member_rows: np.ndarray  # (score, label) per member
    non_member_rows: np.ndarray
    where: tuple[str, str] = ("", "")  # (group label, tier), for the summary


def judge_gaps(
    questions: list[GapQuestion],
    rng: np.random.Generator,
    n_perm: int,
    confidence: float,
    warn: float,
    fail: float,
    fail_alpha: float,
) -> tuple[str, float, GapQuestion | None]:
    """The test's status, its largest significant gap and the question it came from (None when no
    gap is significant); annotates each question's entry."""
    # one score for everyone (the `none` tier) cannot separate anything: not a question
    constant = [np.ptp(np.r_[q.member_rows[:, 0], q.non_member_rows[:, 0]]) == 0 for q in questions]
    for q in (q for q, c in zip(questions, constant) if c):
        q.entry.update(auroc_gap_p=1.0, auroc_gap_q=1.0, significant=False, fails=False)
    questions = [q for q, c in zip(questions, constant) if not c]
    if not questions:
        return PASS, 0.0, None
    p = [gap_permutation_p(q.member_rows, q.non_member_rows, rng, n_perm) for q in questions]
    fine = fine_permutations(len(questions), fail_alpha)
    for i, q in enumerate(questions):
        if fine > n_perm and q.entry["auroc_gap"] >= fail and p[i] <= FINE_SCREEN:
            p[i] = gap_permutation_p(q.member_rows, q.non_member_rows, rng, fine)
            q.entry["auroc_gap_permutations"] = fine
    rejected, adjusted = benjamini_hochberg(p, 1 - confidence)
    holm_p = holm(np.array(p, float))
    status, worst, worst_question = PASS, 0.0, None
    for q, p_value, q_value, h, significant in zip(questions, p, adjusted, holm_p, rejected):
        gap = q.entry["auroc_gap"]
        fails = gap >= fail and h < fail_alpha
        q.entry.update(
            auroc_gap_p=float(p_value),
            auroc_gap_q=float(q_value),
            auroc_gap_holm_p=float(h),
            significant=bool(significant),
            fails=bool(fails),
        )
        if significant and gap > 0:
            if gap > worst:
                worst, worst_question = gap, q
            status = FAIL if fails or status == FAIL else (WARN if gap >= warn else status)
    return status, worst, worst_question


# a first p-value at most this small sends a fail-sized gap to the finer permutations
FINE_SCREEN = 0.01


def fine_permutations(n_questions: int, fail_alpha: float) -> int:
    """Permutations that resolve Holm's smallest threshold, fail_alpha / n_questions, about ten
    times over (a p-value of (hits + 1) / (permutations + 1) cannot go below 1 / (permutations + 1))."""
    return int(np.ceil(10 * n_questions / fail_alpha))
