"""Is a member-minus-non-member AUROC gap real? T2 and T3 ask it once per (group, tier), often
16 times an audit; with a 95% interval per question, one of them crosses zero by chance about one
audit in three, and bootstrap intervals of an AUROC with few positives are too narrow. So each gap
gets a one-sided permutation p-value, and the gaps of one test are judged together with
Benjamini–Hochberg at 1 − confidence. Example: p-values [0.001, 0.04, 0.30, 0.50] at q = 0.05 give
q-values [0.004, 0.08, 0.40, 0.50]; only the first gap is significant."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .result import FAIL, PASS, WARN
from .stats import benjamini_hochberg, gap_permutation_p


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
) -> tuple[str, float, GapQuestion | None]:
    """The test's status, its largest significant gap and the question it came from (None when no
    gap is significant); annotates each question's entry."""
    for q in questions:  # one score for everyone (the `none` tier) cannot separate anything: not a question
        if np.ptp(np.r_[q.member_rows[:, 0], q.non_member_rows[:, 0]]) == 0:
            q.entry.update(auroc_gap_p=1.0, auroc_gap_q=1.0, significant=False)
    questions = [q for q in questions if "auroc_gap_q" not in q.entry]
    if not questions:
        return PASS, 0.0, None
    p = [gap_permutation_p(q.member_rows, q.non_member_rows, rng, n_perm) for q in questions]
    rejected, adjusted = benjamini_hochberg(p, 1 - confidence)
    status, worst, worst_question = PASS, 0.0, None
    for q, p_value, q_value, significant in zip(questions, p, adjusted, rejected):
        gap = q.entry["auroc_gap"]
        q.entry.update(auroc_gap_p=float(p_value), auroc_gap_q=float(q_value), significant=bool(significant))
        if significant and gap > 0:
            if gap > worst:
                worst, worst_question = gap, q
            status = FAIL if gap >= fail or status == FAIL else (WARN if gap >= warn else status)
    return status, worst, worst_question
