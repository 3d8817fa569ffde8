"""T5 without a reference model: each case's answer under identifier perturbation (age band, sex,
one code), described against the same profile of non-members flagged the same way. It can warn
and never fails: an age-dependent pattern also moves with age, and a memorized record keyed on
rare codes does not."""

from __future__ import annotations

import numpy as np

from ...prompts.requests import Responses
from ..context import AuditContext
from ..handoffs import FlaggedCase
from ..result import PASS, WARN, TestResult
from ..stats import benjamini_hochberg
from .cases import original_samples, row, samples_spent
from .decision import NAME, TITLE
from .perturbation import (
    FAMILIES,
    available_families,
    describe,
    drop_p,
    family,
    profile,
    swap_candidates,
    why_families_cannot_run,
)

DESCRIPTIONS = ("identifier_sensitive", "identifier_stable", "inconclusive", "not_replicated")


def profile_result(
    ctx: AuditContext, chosen: list[FlaggedCase], nulls: list[FlaggedCase], responses: Responses
) -> TestResult:
    cfg = ctx.config.t5
    candidates = swap_candidates(ctx)
    null_profiles = [
        profile(ctx, c, original_samples(ctx, responses, c), responses, candidates) for c in nulls
    ]
    # the same selection as the described cases: nulls whose fresh samples replicate the flag
    null_drops = [s for prof, s in null_profiles if prof["original"] >= ctx.config.t2.threshold]
    offset = float(np.mean(null_drops)) if null_drops else 0.0
    measured = []
    for c in chosen:
        original = original_samples(ctx, responses, c)
        prof, sharp = profile(ctx, c, original, responses, candidates)
        measured.append((c, prof, sharp, drop_p(prof, len(original), cfg.n_samples, offset)))
    _, q = benjamini_hochberg([m[3] for m in measured], cfg.alpha)
    rows = []
    ran: set[str] = set()
    for (c, prof, sharp, p), q_value in zip(measured, q):
        label = describe(prof, sharp, float(q_value), cfg.alpha, cfg.min_drop, ctx.config.t2.threshold)
        ran |= {family(k) for k in prof if k != "original"}
        rows.append(
            {
                **row(ctx, c),
                "profile": prof,
                "sharpness": sharp,
                "p_value": p,
                "q_value": float(q_value),
                "verdict": label,
            }
        )
    counted = {v: sum(r["verdict"] == v for r in rows) for v in DESCRIPTIONS}
    families = ", ".join(f for f in FAMILIES if f in ran) or "none"
    not_run = why_families_cannot_run(ctx, available_families(ctx))
    summary = (
        f"No reference model was given, so T5 describes how {len(rows)} flagged case(s) respond to "
        f"identifier perturbation ({families}): {counted['identifier_sensitive']} dropped sharply, "
        f"{counted['identifier_stable']} held, {counted['inconclusive']} inconclusive, "
        f"{counted['not_replicated']} did not replicate. This can warn but not show memorization: "
        "age- or sex-dependent patterns also drop, and memory keyed on rare codes holds."
        + "".join(f" Not perturbed, {f}: {w}." for f, w in not_run.items())
    )
    metrics = {
        "mode": "perturbation",
        "cases": rows,
        "counts": counted,
        "families_run": sorted(ran),
        "families_not_run": not_run,
        "sampling": samples_spent(ctx, chosen + nulls, responses).to_dict(),
        "n_null": len(nulls),
        "null_mean_drop": offset,
        "alpha": cfg.alpha,
        "min_drop": cfg.min_drop,
        "statistic": "sharpness = p̂(original) − mean p̂(perturbed); one-sided two-proportion z-test of "
        "the original against the pooled perturbed samples, offset by the mean sharpness of non-members "
        "flagged by the same T2 rule; Benjamini-Hochberg across cases",
    }
    return TestResult(NAME, TITLE, WARN if counted["identifier_sensitive"] else PASS, summary, metrics)
