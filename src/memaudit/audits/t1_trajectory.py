"""T1 trajectory memorization: how close sampled continuations come to the subject's own."""

from __future__ import annotations

import numpy as np

from ..adapters.base import GENERATE
from ..prompts.requests import Generate, Request, Responses
from .context import AuditContext
from .demd import horizon_demd
from .handoffs import TrajectoryRecovery
from .registry import Audit, Earlier, register
from .result import FAIL, PASS, WARN, TestResult
from .stats import compare_arms, residual_risk

NAME, TITLE = "T1", "Trajectory memorization"


def sample_request(ctx: AuditContext, prompt: tuple[str, ...]) -> Generate:
    """The audit's samples of a prompt (shared by T1, T2 and T6)."""
    g = ctx.config.generation
    return Generate(prompt, g.n_samples, g.max_new_codes, g.temperature, g.top_p, ctx.config.seed)


def greedy_request(ctx: AuditContext, prompt: tuple[str, ...]) -> Generate:
    return Generate(prompt, 1, ctx.config.t1.extraction_k, 0.0, 1.0, ctx.config.seed)


def requests(ctx: AuditContext) -> list[Request]:
    out: list[Request] = []
    for tier_prompts in ctx.prompts.values():
        for p in tier_prompts.values():
            out += [sample_request(ctx, p.codes), greedy_request(ctx, p.codes)]
    return out


def recovery(sample: list[str], truth: tuple[str, ...]) -> float:
    """Share of the distinct true continuation codes that the sample reproduces."""
    true_set = set(truth)
    return len(true_set & set(sample)) / len(true_set) if true_set else 0.0


def run(ctx: AuditContext, responses: Responses) -> TestResult:
    cfg = ctx.config.t1
    length, k = cfg.continuation_codes, cfg.extraction_k
    rng = ctx.rng(NAME)
    by_tier, per_subject, recovery_by_tier = {}, {}, {}
    worst_residual, worst_status = 0.0, PASS
    for tier, prompts in ctx.prompts.items():
        dist, rec, extract = {}, {}, {}
        for sid, p in prompts.items():
            truth = p.continuation[:length]
            samples = responses[sample_request(ctx, p.codes)]
            dist[sid] = float(
                np.mean([horizon_demd(s, truth, ctx.code_embeddings, cfg.time_scale_days) for s in samples])
            )
            rec[sid] = float(np.mean([recovery(s[:length], truth) for s in samples]))
            greedy = responses[greedy_request(ctx, p.codes)][0]
            extract[sid] = float(tuple(greedy[:k]) == p.continuation[:k])
        arms = {
            name: {a: np.array([v[s] for s in v if ctx.arm(s) == a]) for a in ("member", "non_member")}
            for name, v in (("demd", dist), ("recovery", rec), ("extractable", extract))
        }
        entry = {
            name: compare_arms(a["member"], a["non_member"], rng, ctx.n_boot, ctx.confidence)
            for name, a in arms.items()
        }
        rr = residual_risk(entry["recovery"]["member"], entry["recovery"]["non_member"])
        entry["residual_risk_recovery"] = rr
        entry["residual_risk_extraction"] = residual_risk(
            entry["extractable"]["member"], entry["extractable"]["non_member"]
        )
        entry["n_excluded_too_short"] = int(ctx.excluded.get(tier, 0))
        by_tier[tier] = entry
        for name, v in (("demd", dist), ("recovery", rec), ("extractable", extract)):
            per_subject[f"t1_{name}__{tier}"] = v
        recovery_by_tier[tier] = rec
        significant = entry["recovery"]["p_value"] < 0.05 and entry["recovery"]["difference_ci95"][0] > 0
        if significant and np.isfinite(rr):
            worst_residual = max(worst_residual, rr)
            if rr >= ctx.config.risk.t1_residual_fail:
                worst_status = FAIL
            elif rr >= ctx.config.risk.t1_residual_warn and worst_status != FAIL:
                worst_status = WARN
    if "none" in by_tier:
        base = by_tier["none"]["recovery"]
        for entry in by_tier.values():
            entry["gain_over_baseline"] = {
                "member": entry["recovery"]["member"] - base["member"],
                "non_member": entry["recovery"]["non_member"] - base["non_member"],
            }
    top = max(by_tier, key=lambda t: by_tier[t]["recovery"]["difference"])
    e = by_tier[top]
    summary = (
        f"At tier {top}, sampled continuations reproduce {e['recovery']['member']:.0%} of members' true "
        "next codes "
        f"vs {e['recovery']['non_member']:.0%} for non-members (residual risk "
        f"{e['residual_risk_recovery']:.2f}); "
        f"{e['extractable']['member']:.0%} of members are {k}-extractable by greedy decoding."
    )
    return TestResult(
        NAME,
        TITLE,
        worst_status,
        summary,
        {
            "by_tier": by_tier,
            "worst_significant_residual_risk": worst_residual,
            "continuation_codes": length,
            "extraction_k": k,
            "baseline_tier": "none",
        },
        per_subject,
        handoff=TrajectoryRecovery(recovery_by_tier),
    )


@register
class TrajectoryAudit(Audit):
    name, title = NAME, TITLE
    needs = frozenset({GENERATE})

    def requests(self, ctx: AuditContext, earlier: Earlier) -> list[Request]:
        return requests(ctx)

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        return run(ctx, responses)
