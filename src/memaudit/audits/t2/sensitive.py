"""T2 sensitive attribute leakage: do samples reveal a sensitive group removed from the prompt?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...adapters.base import GENERATE
from ...prompts.requests import Request, Responses
from ...published import Headline
from ..arm_gaps import GapQuestion, judge_gaps
from ..context import AuditContext
from ..coverage import MIN_POSITIVES_PER_ARM, Coverage, group_coverage
from ..handoffs import FlaggedCase, SensitiveFlags
from ..registry import Audit, Earlier
from ..result import NOT_TESTED, TestResult
from ..sampling import Spent, draws, first_round_request, is_open, next_round, sample_request, schedule
from ..stats import auroc, auroc_gap, average_precision, bootstrap_ci, residual_risk
from . import report as report_fragment
from .settings import T2

NAME, TITLE = "T2", "Sensitive attribute leakage"
# what the test measures and how it judges: the report's Methods section
METHOD = (
    "The codes of each sensitive group are removed from the prompt. p̂ is the share of a subject's "
    "samples that bring a code of the group back. A subject counts as having the group when it is "
    "among the next codes a sample can reach (the generation horizon). We measure how well p̂ ranks "
    "those subjects (AUROC, AUPRC, precision and recall at the threshold), separately for members and"
    " non-members, and test the member-minus-non-member AUROC gap by permuting arm labels, corrected "
    "for the number of groups and tiers (to warn: false discovery rate; to fail: family-wise, at this "
    "test's share of the gate's error rate). A group whose codes the cohort does not hold, or with too "
    "few subjects, is listed as not tested. Samples are drawn in rounds: a prompt stops once every "
    "flag it decides is settled either way by a confidence sequence whose chance of stopping on the "
    "wrong side of the threshold is at most generation.stop_error (5% by default); the sampling table "
    "below says what each test drew."
)


def requests(ctx: AuditContext) -> list[Request]:
    return [first_round_request(ctx, p.codes) for prompts in ctx.prompts.values() for p in prompts.values()]


def distinct_prompts(ctx: AuditContext) -> list[tuple[str, ...]]:
    return sorted({p.codes for prompts in ctx.prompts.values() for p in prompts.values()})


def samples(ctx: AuditContext, responses: Responses, prompt: tuple[str, ...]) -> list[list[str]]:
    """Every sample drawn for the prompt: its first round and the rounds sequential sampling added."""
    full = sample_request(ctx, prompt)
    return draws(responses, full, ctx.first_round(full.n_samples))


def decided_groups(ctx: AuditContext) -> dict[tuple[str, ...], list[str]]:
    """The groups whose flag each distinct prompt decides: those due within the horizon for a
    subject it prompts (a flag needs the group there; members and non-members alike, as T5's null
    is flagged by the same rule)."""
    out: dict[tuple[str, ...], set[str]] = {}
    for tier, prompts in ctx.prompts.items():
        for s, p in prompts.items():
            due = out.setdefault(p.codes, set())
            due.update(g.name for g in ctx.matcher.groups if ctx.horizon_labels(g.name, tier)[s])
    return {p: sorted(groups) for p, groups in out.items()}


def follow_up(ctx: AuditContext, responses: Responses) -> list[Request]:
    """The next round of every prompt with a flag decision still open: for a group due within
    the horizon, the confidence sequence of its rate still straddles the T2 threshold
    (audits/sampling.py). The rule reads neither the arm nor the samples of other prompts, so
    members and non-members are sampled alike."""
    g, thr = ctx.config.generation, ctx.config.t2.threshold
    out = []
    for prompt, groups in sorted(decided_groups(ctx).items()):
        full = sample_request(ctx, prompt)
        first = ctx.first_round(full.n_samples)
        drawn = draws(responses, full, first)
        looks = len(schedule(first, full.n_samples))
        counts = [sum(ctx.matcher.has_group(s, group) for s in drawn) for group in groups]
        if len(drawn) < full.n_samples and is_open(counts, len(drawn), thr, g.stop_error, looks):
            out.append(next_round(len(drawn), full, first))
    return out


def _arm_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    pos, neg = scores[labels], scores[~labels]
    predicted = scores >= threshold
    tp = int(np.sum(predicted & labels))
    return {
        "auroc": auroc(pos, neg),
        "auprc": average_precision(labels, scores),
        "precision": tp / max(int(predicted.sum()), 1),
        "recall": tp / max(int(labels.sum()), 1),
        "n_positive": int(labels.sum()),
        "n": int(labels.size),
        "prevalence": float(labels.mean()) if labels.size else 0.0,
    }


NOT_ENOUGH = (
    f"not tested: fewer than {MIN_POSITIVES_PER_ARM} subjects with the group within the horizon "
    "(or without it) in an arm"
)


def arm_rows(ctx: AuditContext, scores: dict[int, float], labels: dict[int, bool], arm: str) -> np.ndarray:
    """(n_subjects, 2) rows of (p-hat, has the group within the horizon) for one arm."""
    ids = [s for s in scores if ctx.arm(s) == arm]
    return np.c_[np.array([scores[s] for s in ids], float), np.array([labels[s] for s in ids], bool)]


def tier_entry(
    ctx: AuditContext,
    scores: dict[int, float],
    labels: dict[int, bool],
    anywhere: dict[int, bool],
    enough: bool,
    rng: np.random.Generator,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Measure, for one group at one tier: each arm's AUROC, AUPRC, precision and recall at the
    threshold (and the AUROC against the group anywhere), the member-minus-non-member AUROC gap
    with its bootstrap interval where both arms have enough subjects with and without the group;
    with the members' and non-members' (p-hat, label) rows."""
    rows = {arm: arm_rows(ctx, scores, labels, arm) for arm in ("member", "non_member")}
    entry = {arm: _arm_metrics(r[:, 0], r[:, 1] > 0, ctx.config.t2.threshold) for arm, r in rows.items()}
    for arm in rows:
        ids = [s for s in scores if ctx.arm(s) == arm]
        entry[arm]["auroc_anywhere"] = auroc(
            np.array([scores[s] for s in ids if anywhere[s]]),
            np.array([scores[s] for s in ids if not anywhere[s]]),
        )
    member, non_member = rows["member"], rows["non_member"]
    entry["auroc_gap"] = entry["member"]["auroc"] - entry["non_member"]["auroc"] if enough else None
    entry["auroc_gap_ci95"] = (
        list(bootstrap_ci(auroc_gap, [member, non_member], rng, min(ctx.n_boot, 300), ctx.confidence))
        if enough
        else None
    )
    entry["residual_risk_recall"] = residual_risk(entry["member"]["recall"], entry["non_member"]["recall"])
    entry["status"] = "ok" if enough else NOT_ENOUGH
    return entry, member, non_member


def summarise(
    n_members: int, horizon: int, threshold: float, worst_gap: float, worst, untested: list[str]
) -> str:
    """Summarise: how many members regenerated a removed condition, and the largest significant gap."""
    summary = (
        f"{n_members} member(s) had a removed sensitive condition, due within the next "
        f"{horizon} codes, regenerated in at least {threshold:.0%} of samples; "
    )
    summary += (
        f"the largest significant member-minus-non-member AUROC gap is {worst_gap:.2f} "
        f"({worst.where[0]} at {worst.where[1]})."
        if worst
        else "no member-minus-non-member AUROC gap is significant."
    )
    if untested:
        summary += f" Not tested: {'; '.join(untested)}."
    return summary


def run(ctx: AuditContext, responses: Responses) -> TestResult:
    """Labels are the group within the generation horizon (what a sample can reproduce); the
    AUROC against the group anywhere in the timeline is reported beside it."""
    thr = ctx.config.t2.threshold
    rng = ctx.rng(NAME)
    coverage = group_coverage(ctx)
    drawn = {p: samples(ctx, responses, p) for p in distinct_prompts(ctx)}
    n_drawn = {p: len(v) for p, v in drawn.items()}
    by_group, per_subject, flagged, flags, p_hats = {}, {}, [], {}, {}
    questions: list[GapQuestion] = []
    for g in ctx.matcher.groups:
        by_tier = {}
        for tier, prompts in ctx.prompts.items():
            labels = ctx.horizon_labels(g.name, tier)
            # a prompt's share depends on its samples alone: a half-sample of the audit reads it again
            scores = {
                s: ctx.per_prompt(
                    (NAME, g.name, p.codes, n_drawn[p.codes]), ctx.group_share, drawn[p.codes], g.name
                )
                for s, p in prompts.items()
            }
            per_subject[f"t2_p_hat__{g.name}__{tier}"] = p_hats[(g.name, tier)] = scores
            enough = tier in coverage[g.name]["tiers_tested"]
            entry, member, non_member = tier_entry(ctx, scores, labels, ctx.labels(g.name), enough, rng)
            by_tier[tier] = entry
            if enough:
                questions.append(GapQuestion(entry, member, non_member, (g.label, tier)))
            for s, v in scores.items():
                if v >= thr and labels[s] and ctx.arm(s) == "member":
                    flagged.append(FlaggedCase(s, g.name, tier, v))
                    flags.setdefault(s, []).append(f"T2:{g.name}@{tier}")
        by_group[g.name] = {
            "label": g.label,
            "by_tier": by_tier,
            "status": coverage[g.name]["status"],
            "reason": coverage[g.name]["reason"],
        }
    untested = [f"{c['label']} ({c['reason']})" for c in coverage.values() if c["status"] != "tested"]
    metrics = {
        "threshold": thr,
        "by_group": by_group,
        "n_flagged_cases": len(flagged),
        "n_flagged_members": len({c.subject_id for c in flagged}),
        "label": f"group within the next {ctx.horizon} true codes (the generation horizon)",
        "groups_not_tested": untested,
        "sampling": Spent(
            ctx.config.generation.n_samples, ctx.first_round(ctx.config.generation.n_samples), n_drawn
        ).to_dict(),
    }
    if not questions:  # nothing tested: no flag goes on to T5
        reason = "no sensitive group could be tested: " + "; ".join(untested)
        metrics["skip_reason"] = reason
        handoff = SensitiveFlags(p_hats, (), n_drawn)
        return TestResult(
            NAME, TITLE, NOT_TESTED, f"Not tested: {reason}.", metrics, per_subject, {}, handoff
        )
    handoff = SensitiveFlags(p_hats, tuple(flagged), n_drawn)
    levels = (
        ctx.config.risk.t2_auroc_gap_warn,
        ctx.config.risk.t2_auroc_gap_fail,
        ctx.config.risk.fail_alpha(NAME),
    )
    status, worst_gap, worst = judge_gaps(questions, rng, ctx.n_perm, ctx.confidence, *levels)
    metrics["worst_significant_auroc_gap"] = worst_gap
    summary = summarise(metrics["n_flagged_members"], ctx.horizon, thr, worst_gap, worst, untested)
    return TestResult(NAME, TITLE, status, summary, metrics, per_subject, flags, handoff)


class SensitiveLeakageAudit(Audit):
    name, title, method = NAME, TITLE, METHOD
    config_section = T2
    fails_on_a_p_value = True
    needs = frozenset({GENERATE})

    def coverage(self, ctx: AuditContext) -> Coverage:
        groups = group_coverage(ctx)
        tested = [g["label"] for g in groups.values() if g["status"] == "tested"]
        reason = "" if tested else "no sensitive group has enough subjects with and without it in each arm"
        return Coverage(bool(tested), reason, {"groups_tested": tested})

    def requests(self, ctx: AuditContext, earlier: Earlier) -> list[Request]:
        return requests(ctx)

    def follow_up(self, ctx: AuditContext, earlier: Earlier, responses: Responses) -> list[Request]:
        return follow_up(ctx, responses) if ctx.sequential else []

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        return run(ctx, responses)

    def report_figures(self, report: Mapping[str, Any]) -> dict[str, Any]:
        return report_fragment.figures(report, NAME)

    def headline(self, report: Mapping[str, Any]) -> list[Headline]:
        return report_fragment.headline(report, NAME)
