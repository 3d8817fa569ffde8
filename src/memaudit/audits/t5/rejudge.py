"""T5 on a half-sample of the audited subjects, judged from its own recorded table (the verdict's
stability, stability.py): its budget of cases and its seeded draw of null cases would pick prompts
the audit never sampled, so the half-sample keeps the audit's judged cases and null cases, each as
many times as its subject was drawn, and reruns the contrast test and the verdicts on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..context import AuditContext
from ..result import FAIL, NOT_TESTED, PASS, TestResult
from .decision import MIN_NULL_CASES, NAME, NULL_QUANTILE, status_of, verdicts
from .null import contrast_test, logit_contrast


def rejudge(result: TestResult, ctx: AuditContext, drawn: Mapping[Any, int]) -> str:
    """T5's status on the audit's judged and null cases as drawn (`drawn`: original subject id →
    times drawn, 0 or 1 in a half-sample). A T5 that did not judge a contrast (no reference model,
    nothing flagged, not tested) keeps its status."""
    metrics = result.metrics
    if metrics.get("mode") != "counterfactual" or "null_cases" not in metrics:
        return result.status
    n = ctx.config.t5.n_samples_original
    judged = [
        c for c in metrics["cases"] if c["p_reference"] is not None for _ in range(drawn[c["subject_id"]])
    ]
    nulls = [c for c in metrics["null_cases"] for _ in range(drawn[c["subject_id"]])]
    if len(nulls) < MIN_NULL_CASES:
        return result.status if not judged else NOT_TESTED
    if not judged:
        return PASS

    def counts(rows: Sequence[Mapping], key: str) -> np.ndarray:
        return np.round(np.array([r[key] for r in rows], float) * n)

    contrast, se = logit_contrast(counts(judged, "p_audited"), counts(judged, "p_reference"), n)
    null_contrast, null_se = logit_contrast(counts(nulls, "p_audited"), counts(nulls, "p_reference"), n)
    test = contrast_test(
        contrast, se, null_contrast, null_se, [c["group"] for c in judged], [c["group"] for c in nulls]
    )
    labels, _, _ = verdicts(
        np.array([c["p_audited"] for c in judged]),
        np.array([c["p_reference"] for c in judged]),
        test.p,
        test.z,
        test.null_z,
        ctx.config.t2.threshold,
        ctx.config.t5.alpha,
        ctx.config.t5.min_effect,
        NULL_QUANTILE,
        ctx.config.risk.fail_alpha(NAME),
    )
    return status_of(labels, ctx.config.t5.fails_gate)


def rests_on(result: TestResult, status: str) -> list[str]:
    """The line of `risk.rests_on` when T5 sets the level: its memorized (or likely memorized)
    cases and the smallest adjusted p (or q) among them."""
    m = result.metrics
    if m.get("mode") != "counterfactual":
        return [f"{NAME} {status}: {result.summary.split('. ')[0].rstrip('.')}."]
    memorized = any(c["verdict"] == "memorized" for c in m["cases"])
    verdict = "memorized" if memorized else "likely_memorized"
    key = "holm_p" if memorized else "q_value"
    cases = [c for c in m["cases"] if c["verdict"] == verdict]
    smallest = min(c[key] for c in cases)
    label = "Holm-adjusted p" if memorized else "q"
    level = m.get("fail_alpha", m["alpha"]) if memorized else m["alpha"]
    gate = " (warns: t5.fails_gate is off)" if memorized and status != FAIL else ""
    return [
        f"{NAME} {status}: {len(cases)} case(s) {verdict.replace('_', ' ')}, smallest {label} "
        f"{smallest:.3g} (below {level:g}){gate}"
    ]
