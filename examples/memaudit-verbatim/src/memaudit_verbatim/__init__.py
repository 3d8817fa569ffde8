"""T7 Verbatim continuation: how many of a patient's true next codes greedy decoding reproduces
in order, members against non-members. A test another package adds to memaudit through the
`memaudit.audits` entry-point group."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

from memaudit.audits.context import AuditContext
from memaudit.audits.registry import Audit, Earlier
from memaudit.audits.result import PASS, WARN, TestResult
from memaudit.audits.stats import benjamini_hochberg
from memaudit.config.params import Interval, Section, param
from memaudit.prompts.requests import Generate, Request, Responses

NAME, TITLE = "T7", "Verbatim continuation"
GENERATE = "generate"
METHOD = (
    "Each prompt's greedy continuation (temperature 0, as long as T1's extraction length) is compared "
    "with the patient's true next codes: the verbatim prefix is how many codes it reproduces in order "
    "from the first. Per tier, members' prefixes are compared with non-members' by a one-sided "
    "Mann-Whitney test, Benjamini-Hochberg across tiers; a significant excess warns. It never fails."
)


def greedy(ctx: AuditContext, prompt: tuple[str, ...]) -> Generate:
    """The greedy request T1 makes too (same fields, so the same cached answer)."""
    return Generate(prompt, 1, ctx.config.t1.extraction_k, 0.0, 1.0, ctx.config.seed)


def verbatim_prefix(sample: list[str], truth: tuple[str, ...]) -> int:
    """Leading codes of `sample` equal to `truth`'s, in order."""
    n = 0
    for got, want in zip(sample, truth):
        if got != want:
            break
        n += 1
    return n


@dataclass(frozen=True)
class VerbatimSettings(Section):
    """T7's own settings, written under `t7:` in the audit's YAML and read as `ctx.config.t7`."""

    docs = "T7 verbatim continuation (memaudit-verbatim)"
    false_discovery_rate: float = param(
        0.05, "Benjamini-Hochberg rate across tiers for a significant excess", Interval(0, 1, True, True)
    )
    min_excess: float = param(
        0.0,
        "members' mean verbatim prefix over non-members' (codes) that a significant tier must pass to warn",
        Interval(0, None),
    )


class VerbatimAudit(Audit):
    name, title, method = NAME, TITLE, METHOD
    needs = frozenset({GENERATE})
    config_section = VerbatimSettings

    def requests(self, ctx: AuditContext, earlier: Earlier) -> list[Request]:
        return [greedy(ctx, p.codes) for prompts in ctx.prompts.values() for p in prompts.values()]

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        members = set(ctx.members)
        by_tier, per_subject = {}, {}
        for tier, prompts in ctx.prompts.items():
            prefix = {
                s: verbatim_prefix(responses[greedy(ctx, p.codes)][0], p.continuation)
                for s, p in prompts.items()
            }
            m = np.array([v for s, v in prefix.items() if s in members], float)
            n = np.array([v for s, v in prefix.items() if s not in members], float)
            if m.size == 0 or n.size == 0:
                continue
            p_value = (
                1.0 if np.ptp(np.r_[m, n]) == 0 else float(mannwhitneyu(m, n, alternative="greater").pvalue)
            )
            by_tier[tier] = {
                "member_mean": float(m.mean()),
                "non_member_mean": float(n.mean()),
                "p_value": p_value,
            }
            per_subject[f"t7_verbatim_prefix__{tier}"] = {s: float(v) for s, v in prefix.items()}
        if not by_tier:
            return TestResult.not_tested(NAME, TITLE, "no tier had prompts in both arms")
        tiers = list(by_tier)
        settings = ctx.config.t7
        rejected, q = benjamini_hochberg(
            [by_tier[t]["p_value"] for t in tiers], settings.false_discovery_rate
        )
        excess = {t: by_tier[t]["member_mean"] - by_tier[t]["non_member_mean"] for t in tiers}
        for t, r, q_value in zip(tiers, rejected, q):
            significant = bool(r) and excess[t] > settings.min_excess
            by_tier[t].update(q_value=float(q_value), significant=significant)
        worst = max(tiers, key=excess.get)
        significant = [t for t in tiers if by_tier[t]["significant"]]
        status = WARN if significant else PASS
        summary = (
            f"Greedy decoding reproduces {by_tier[worst]['member_mean']:.2f} of members' next codes "
            f"verbatim vs {by_tier[worst]['non_member_mean']:.2f} of non-members' at tier {worst} "
            + (
                "(significant)."
                if by_tier[worst]["significant"]
                else "(not significant after Benjamini-Hochberg)."
            )
        )
        metrics = {
            "k": ctx.config.t1.extraction_k,
            "false_discovery_rate": settings.false_discovery_rate,
            "largest_member_excess": excess[worst],
            "tier_of_largest_excess": worst,
            "significant_tiers": len(significant),
            "by_tier": by_tier,
        }
        return TestResult(NAME, TITLE, status, summary, metrics, per_subject)


__all__ = ["VerbatimAudit", "VerbatimSettings", "verbatim_prefix"]
