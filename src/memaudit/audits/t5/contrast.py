"""T5 with a reference model: measure the cases' and the null's counts under both models, judge
them (audits/t5/null.py, audits/t5/decision.py) and summarise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...prompts.requests import REFERENCE, Responses
from ..context import AuditContext
from ..handoffs import FlaggedCase
from ..result import TestResult
from .cases import count, original_request, original_samples, row, samples_spent
from .decision import MIN_NULL_CASES, NAME, NULL_QUANTILE, THIN_NULL, TITLE, VERDICTS, status_of, verdicts
from .null import contrast_test, logit_contrast

CONTRAST_STATISTIC = (
    "logit contrast of the audited model's against the reference model's share of {n} fresh samples "
    "with the group (Jeffreys-smoothed), for the cases whose fresh samples replicate the flag; null: the "
    "same contrast on non-members flagged by the same T2 rule whose fresh samples replicate it too, for "
    "the same group (random effects, group means shrunk towards the overall mean), its tail a Student t "
    "fitted to the null cases' own z where a leave-one-out check on them holds, else their empirical "
    "ranks; memorized: Holm across the judged cases at T5's share of the gate's alpha (family-wise); "
    "likely memorized: Benjamini-Hochberg only"
)


@dataclass(frozen=True)
class ContrastMeasure:
    """What the audited and reference models said about the cases and the null (T5 counterfactual).

    k_all, n_all: (n_cases,) fresh samples with the group, and samples drawn, under the audited
    model; judged: indices of the cases whose samples replicate the flag at the cap; nulls: the
    null cases that replicate too, null_m / null_r: (n_null,) their counts under each model;
    k_r: (n_judged,) the judged cases' counts under the reference model."""

    k_all: np.ndarray
    n_all: np.ndarray
    judged: list[int]
    nulls: list[FlaggedCase]
    null_m: np.ndarray
    null_r: np.ndarray
    k_r: np.ndarray


def _counts(
    ctx: AuditContext, responses: Responses, cases: list[FlaggedCase]
) -> tuple[np.ndarray, np.ndarray]:
    drawn = [original_samples(ctx, responses, c) for c in cases]
    return (
        np.array([count(ctx, d, c.group) for c, d in zip(cases, drawn)]),
        np.array([len(d) for d in drawn]),
    )


def _reference_counts(ctx: AuditContext, responses: Responses, cases: list[FlaggedCase]) -> np.ndarray:
    return np.array([count(ctx, responses[original_request(ctx, c, REFERENCE)], c.group) for c in cases])


def measure_contrast(
    ctx: AuditContext, chosen: list[FlaggedCase], nulls: list[FlaggedCase], responses: Responses
) -> ContrastMeasure:
    """Measure: the cases' and the null's counts under both models. Judged are the cases whose
    fresh samples replicate the flag at the cap; the null goes through the same selection, or its
    contrasts would sit below the cases' by construction."""
    n, thr = ctx.config.t5.n_samples_original, ctx.config.t2.threshold
    k_all, n_all = _counts(ctx, responses, chosen)
    judged = [i for i in range(len(chosen)) if n_all[i] == n and k_all[i] / n >= thr]
    null_m, null_n = _counts(ctx, responses, nulls)
    keep = (null_n == n) & (null_m / np.maximum(null_n, 1) >= thr)
    kept = [c for c, k in zip(nulls, keep) if k]
    return ContrastMeasure(
        k_all,
        n_all,
        judged,
        kept,
        null_m[keep],
        _reference_counts(ctx, responses, kept),
        _reference_counts(ctx, responses, [chosen[i] for i in judged]),
    )


def _judged_value(values: np.ndarray, j: int | None) -> float | None:
    """A judged case's value (None for a case that was not judged)."""
    return None if j is None else float(values[j])


def case_rows(
    ctx: AuditContext, chosen: list[FlaggedCase], m: ContrastMeasure, contrast, test, labels, holm_p, q
) -> list[dict]:
    """One row per flagged case: its shares, contrast, z, every p-value and its verdict."""
    n = ctx.config.t5.n_samples_original
    at = {case: j for j, case in enumerate(m.judged)}
    rows = []
    for i, c in enumerate(chosen):
        j = at.get(i)
        rows.append(
            {
                **row(ctx, c),
                "p_audited": float(m.k_all[i] / max(m.n_all[i], 1)),
                "n_audited": int(m.n_all[i]),
                "p_reference": None if j is None else float(m.k_r[j] / n),
                "contrast": _judged_value(contrast, j),
                "z": _judged_value(test.z, j),
                "p_value": _judged_value(test.p, j),
                "p_value_normal": _judged_value(test.p_normal, j),
                "p_value_student_t": _judged_value(test.p_student_t, j),
                "p_value_empirical": _judged_value(test.p_empirical, j),
                "holm_p": _judged_value(holm_p, j),
                "q_value": _judged_value(q, j),
                "verdict": labels[i],
            }
        )
    return rows


def summarise_contrast(counted: dict[str, int], n_cases: int, n_null: int, source: str) -> str:
    """Summarise: the verdicts, counted, and how the null's tail was read."""
    tail_note = (
        ""
        if source == "student_t"
        else " The fitted tail failed its check on the null's own cases, so p-values are the cases' "
        f"ranks among the {n_null} null cases (valid, but none below {1 / (n_null + 1):.3f})."
    )
    if source == "student_t" and n_null < THIN_NULL and counted["memorized"]:
        tail_note += (
            f" The tail was fitted to {n_null} null cases: fewer than {THIN_NULL} check a fitted tail "
            "poorly, and placebo audits have called cases memorized on such tails; each case's rank "
            "among the null is in report.json (p_value_empirical)."
        )
    return (
        f"Of {n_cases} flagged case(s), {counted['memorized']} memorized (the audited model "
        "regenerates the condition beyond what a reference model that never saw the patient does, "
        f"judged against {n_null} non-members flagged the same way, family-wise across the "
        f"cases), {counted['likely_memorized']} likely memorized (significant only at the false "
        f"discovery rate), {counted['generalized']} generalized (the reference model leaks it too), "
        f"{counted['inconclusive']} inconclusive; {counted['not_replicated']} did not replicate with "
        f"fresh samples.{tail_note}"
    )


def null_metrics(m: ContrastMeasure, test, null_contrast: np.ndarray, n: int) -> dict:
    """The null's figures for the report: its mean contrast, its z at the 99th percentile, how its
    tail was read, and each null case (named by salted hash in the report)."""
    return {
        "null_contrast_mean": float(np.mean(null_contrast)),
        "null_z_quantile": float(np.quantile(test.null_z, NULL_QUANTILE)),
        "null_tail": {
            "p_value_from": test.source,
            "student_t": {"df": test.tail.df, "scale": test.tail.scale},
            "check": test.check,
        },
        "null_cases": [
            {
                "subject_id": c.subject_id,
                "group": c.group,
                "tier": c.tier,
                "p_audited": km / n,
                "p_reference": kr / n,
                "contrast": float(x),
            }
            for c, km, kr, x in zip(m.nulls, m.null_m, m.null_r, null_contrast)
        ],
    }


def contrast_result(
    ctx: AuditContext, chosen: list[FlaggedCase], nulls: list[FlaggedCase], seen: int, responses: Responses
) -> TestResult:
    """T5 with a reference model: measure, judge (`contrast_test`, `verdicts`), summarise."""
    cfg, n, thr = ctx.config.t5, ctx.config.t5.n_samples_original, ctx.config.t2.threshold
    m = measure_contrast(ctx, chosen, nulls, responses)
    spent = samples_spent(ctx, chosen + nulls, responses)
    metrics = {
        "mode": "counterfactual",
        "n_null": len(m.nulls),
        "n_seen_by_reference": seen,
        "alpha": cfg.alpha,
        "fail_alpha": ctx.config.risk.fail_alpha(NAME),
        "min_effect": cfg.min_effect,
        "null_quantile": NULL_QUANTILE,
        "sampling": {**spent.to_dict(), "reference_samples": n * (len(m.judged) + len(m.nulls))},
        "statistic": CONTRAST_STATISTIC.format(n=n),
    }
    if len(m.nulls) < MIN_NULL_CASES:
        reason = (
            f"only {len(m.nulls)} non-members were flagged by the same T2 rule and replicated; at least "
            f"{MIN_NULL_CASES} are needed to judge a contrast against them (audit more subjects)"
        )
        return TestResult.not_tested(NAME, TITLE, reason, metrics)
    k_m = m.k_all[m.judged]
    contrast, se = logit_contrast(k_m, m.k_r, n)
    null_contrast, null_se = logit_contrast(m.null_m, m.null_r, n)
    groups = [chosen[i].group for i in m.judged]
    test = contrast_test(contrast, se, null_contrast, null_se, groups, [c.group for c in m.nulls])
    judged_labels, holm_p, q = verdicts(
        k_m / n,
        m.k_r / n,
        test.p,
        test.z,
        test.null_z,
        thr,
        cfg.alpha,
        cfg.min_effect,
        NULL_QUANTILE,
        ctx.config.risk.fail_alpha(NAME),
    )
    at = {case: j for j, case in enumerate(m.judged)}
    labels = [judged_labels[at[i]] if i in at else "not_replicated" for i in range(len(chosen))]
    rows = case_rows(ctx, chosen, m, contrast, test, labels, holm_p, q)
    flags: dict[int, list[str]] = {}
    for c in (c for c, label in zip(chosen, labels) if label == "memorized"):
        flags.setdefault(c.subject_id, []).append(f"T5:{c.group}@{c.tier}")
    counted = {v: labels.count(v) for v in VERDICTS}
    metrics.update(cases=rows, counts=counted, **null_metrics(m, test, null_contrast, n))
    summary = summarise_contrast(counted, len(rows), len(m.nulls), test.source)
    per_subject = {"t5_memorized": {c.subject_id: float(v == "memorized") for c, v in zip(chosen, labels)}}
    status = status_of(labels, cfg.fails_gate)
    if counted["memorized"] and not cfg.fails_gate:
        summary += (
            " Memorized cases warn rather than fail the gate (t5.fails_gate is off): T5's calls have not "
            "yet matched what training on the patient measurably changed (see memaudit's validation)."
        )
    return TestResult(NAME, TITLE, status, summary, metrics, per_subject, flags)
