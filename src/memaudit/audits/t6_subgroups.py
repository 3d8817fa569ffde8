"""T6 subgroups: re-slice T1/T2/T4 per-subject results by vulnerable cohorts."""

from __future__ import annotations

import numpy as np

from ..prompts.requests import Responses
from ..prompts.tiers import k_anonymity_counts
from .context import AuditContext
from .handoffs import OperatingPoint, SensitiveFlags, TrajectoryRecovery
from .registry import Audit, Earlier, register
from .result import PASS, WARN, TestResult
from .stats import bootstrap_ci

NAME, TITLE = "T6", "Subgroups"


def subgroups(ctx: AuditContext) -> dict[str, set[int]]:
    cfg = ctx.config.t6
    rare = {
        s
        for s, t in ctx.timelines.items()
        if any(
            ctx.code_prevalence.get(c, 0.0) < cfg.rare_prevalence
            for c in t.codes
            if c.startswith("DIAGNOSIS//")
        )
    }
    elderly = set()
    for s, t in ctx.timelines.items():
        band = next((c for c in t.codes if c.startswith("AGE//")), None)
        digits = band[5:].split("-")[0].rstrip("+") if band else ""
        if digits.isdigit() and int(digits) >= cfg.elderly_min_age:
            elderly.add(s)
    out = {"rare_condition": rare, "elderly": elderly}
    for tier, prompts in ctx.prompts.items():
        if tier == "none":
            continue
        counts = k_anonymity_counts(list(prompts.values()))
        out[f"k_anonymous_prompt@{tier}"] = {
            s for s, p in prompts.items() if counts[p.codes] < cfg.k_anonymity
        }
    return out


def _metrics(
    ctx: AuditContext,
    recovery: TrajectoryRecovery | None,
    flags: SensitiveFlags | None,
    operating_point: OperatingPoint | None,
) -> dict[str, dict[int, float]]:
    """Per-member values that subgroups are compared on."""
    out: dict[str, dict[int, float]] = {}
    if recovery and recovery.by_tier:
        tiers = list(recovery.by_tier.values())
        out["t1_recovery"] = {
            s: float(np.mean([r[s] for r in tiers if s in r]))
            for s in ctx.members
            if any(s in r for r in tiers)
        }
    if flags and flags.p_hat:
        thr = ctx.config.t2.threshold
        out["t2_flagged"] = {s: 0.0 for s in ctx.members}
        for (group, _), scores in flags.p_hat.items():
            labels = ctx.labels(group)
            for s, v in scores.items():
                if s in out["t2_flagged"] and labels[s] and v >= thr:
                    out["t2_flagged"][s] = 1.0
    if operating_point and operating_point.threshold is not None:
        out["t4_identified"] = {
            s: float(operating_point.scores[s] > operating_point.threshold) for s in ctx.members
        }
    return out


def run(
    ctx: AuditContext,
    recovery: TrajectoryRecovery | None,
    flags: SensitiveFlags | None,
    operating_point: OperatingPoint | None,
) -> TestResult:
    rng = ctx.rng(NAME)
    t4_best = operating_point.score if operating_point else None
    metrics = _metrics(ctx, recovery, flags, operating_point)
    if not metrics:
        return TestResult.skipped(NAME, TITLE, "no T1, T2 or T4 per-subject results to re-slice")
    warn_at = ctx.config.risk.t6_disparity_warn
    by_subgroup, status, notes = {}, PASS, []
    diff = lambda a, b: float(np.mean(a) - np.mean(b))
    for name, members in subgroups(ctx).items():
        entry = {"n_subjects": len(members), "n_members": sum(1 for s in members if ctx.arm(s) == "member")}
        for metric, values in metrics.items():
            inside = np.array([v for s, v in values.items() if s in members])
            everyone = np.array(list(values.values()))
            if inside.size < 3:
                entry[metric] = {"status": "insufficient", "n": int(inside.size)}
                continue
            ci = bootstrap_ci(diff, [inside, everyone], rng, min(ctx.n_boot, 500), ctx.confidence)
            entry[metric] = {
                "status": "ok",
                "subgroup": float(inside.mean()),
                "cohort": float(everyone.mean()),
                "disparity": diff(inside, everyone),
                "disparity_ci95": list(ci),
                "n": int(inside.size),
            }
            if ci[0] > warn_at:
                status = WARN
                notes.append(f"{name} ({metric} +{diff(inside, everyone):.2f})")
        by_subgroup[name] = entry
    summary = (
        "Vulnerable subgroups leak more than the cohort: " + ", ".join(notes) + "."
        if notes
        else "No vulnerable subgroup (rare conditions, elderly, k-anonymous prompts) leaks significantly "
        "more than the cohort as a whole."
    )
    return TestResult(
        NAME,
        TITLE,
        status,
        summary,
        {"by_subgroup": by_subgroup, "metrics": sorted(metrics), "t4_score": t4_best},
    )


@register
class SubgroupAudit(Audit):
    name, title = NAME, TITLE
    reads = ("T1", "T2", "T4")

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        handoff = lambda name: earlier[name].handoff if name in earlier else None
        return run(ctx, handoff("T1"), handoff("T2"), handoff("T4"))
