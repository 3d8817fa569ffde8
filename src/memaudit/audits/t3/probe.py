"""T3 embedding probe: can a linear probe read a removed sensitive group off the prompt embedding?"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ...adapters.base import EMBED
from ...prompts.requests import Embed, Request, Responses
from ..arm_gaps import GapQuestion, judge_gaps
from ..context import AuditContext
from ..coverage import Coverage
from ..registry import Audit, Earlier
from ..result import TestResult
from ..stats import auroc, auroc_gap, bootstrap_ci
from .settings import T3

NAME, TITLE = "T3", "Embedding probe"
# what the test measures and how it judges: the report's Methods section
METHOD = (
    "A logistic-regression probe, trained with cross-fitting so that no subject is scored by a probe "
    "trained on it, predicts each sensitive group from the model's embedding of the prompt. Higher "
    "accuracy for members than non-members means the embedding encodes what it saw in training. Its "
    "gaps are tested and corrected as T2's."
)


def _tiers(ctx: AuditContext) -> list[str]:
    return [t for t in ctx.prompts if t != "none"]  # the empty prompt embeds everyone alike


def requests(ctx: AuditContext) -> list[Request]:
    return [Embed(p.codes) for t in _tiers(ctx) for p in ctx.prompts[t].values()]


def cross_fitted_scores(
    x: np.ndarray, y: np.ndarray, folds: int, seed: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """Out-of-fold probabilities: no subject is scored by a probe that was trained on it, nor on
    a subject of its group (`groups`: one id per row; rows with identical prompts, such as copies
    of one record under several subject ids, must share a fold or the probe scores what it saw)."""
    out = np.zeros(len(y))
    if groups is None or len(np.unique(groups)) == len(groups):
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y)
    else:
        splits = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y, groups)
    for train, test in splits:
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        probe.fit(x[train], y[train])
        out[test] = probe.predict_proba(x[test])[:, 1]
    return out


def _needed(ctx: AuditContext) -> int:
    return max(ctx.config.t3.min_positives, ctx.config.t3.folds)


def _untestable(ctx: AuditContext) -> str:
    """Why no probe can be trained, or "" when one can."""
    tiers = _tiers(ctx)
    if not tiers:
        return "no tier besides `none` has prompts to embed"
    most, where = 0, ""
    for g in ctx.matcher.groups:
        labels = ctx.labels(g.name)
        for tier in tiers:
            n = sum(labels[s] for s in ctx.prompts[tier])
            if n > most:
                most, where = n, f" ({g.label} at {tier})"
    if most >= _needed(ctx):
        return ""
    return (
        f"a probe needs at least {_needed(ctx)} audited subjects with a sensitive group at a tier; the most "
        f"is {most}{where}"
    )


def tier_entry(
    ctx: AuditContext, responses: Responses, tier: str, labels: dict[int, bool], rng: np.random.Generator
) -> tuple[dict, dict[str, np.ndarray]]:
    """Measure, for one group at one tier: the cross-fitted probe's AUROC in each arm and the
    member-minus-non-member gap with its bootstrap interval; with each arm's (score, label) rows
    (none where too few subjects have the group to fit a probe)."""
    folds, min_pos = ctx.config.t3.folds, ctx.config.t3.min_positives
    ids = sorted(ctx.prompts[tier])
    y = np.array([labels[s] for s in ids], bool)
    if y.sum() < max(min_pos, folds) or (~y).sum() < folds:
        return {
            "status": "insufficient",
            "n_positive": int(y.sum()),
            "reason": f"{int(y.sum())} positives; at least {max(min_pos, folds)} are needed",
        }, {}
    x = np.vstack([responses[Embed(ctx.prompts[tier][s].codes)] for s in ids])
    prompts = [ctx.prompts[tier][s].codes for s in ids]
    groups = np.unique(np.array(["\x1f".join(p) for p in prompts], dtype=object), return_inverse=True)[1]
    if len(np.unique(groups[y])) < folds or len(np.unique(groups[~y])) < folds:
        return {
            "status": "insufficient",
            "n_positive": int(y.sum()),
            "reason": f"fewer than {folds} distinct prompts among the subjects with or without the group",
        }, {}
    scores = cross_fitted_scores(x, y, folds, ctx.config.seed, groups)
    member = np.array([ctx.arm(s) == "member" for s in ids])
    entry = {"status": "ok", "n_positive": int(y.sum())}
    arms = {}
    for arm, mask in (("member", member), ("non_member", ~member)):
        arms[arm] = np.c_[scores[mask], y[mask]]
        entry[f"{arm}_auroc"] = auroc(scores[mask & y], scores[mask & ~y])
    entry["auroc_gap"] = entry["member_auroc"] - entry["non_member_auroc"]
    entry["auroc_gap_ci95"] = list(
        bootstrap_ci(
            auroc_gap, [arms["member"], arms["non_member"]], rng, min(ctx.n_boot, 300), ctx.confidence
        )
    )
    return entry, arms


def summarise(probed: list[dict], worst_gap: float, worst: GapQuestion | None) -> str:
    """Summarise: the probe's best AUROC by arm, and the largest significant gap."""
    best = max(probed, key=lambda e: max(e["member_auroc"], e["non_member_auroc"]))
    summary = (
        f"A linear probe on prompt embeddings predicts removed sensitive groups with AUROC up to "
        f"{best['member_auroc']:.2f} for members vs {best['non_member_auroc']:.2f} for non-members; "
    )
    if not worst:
        return summary + "no member-minus-non-member gap is significant."
    e = worst.entry
    return summary + (
        f"the largest significant gap is {worst_gap:.2f} ({worst.where[0]} at {worst.where[1]}: "
        f"{e['member_auroc']:.2f} vs {e['non_member_auroc']:.2f})."
    )


def run(ctx: AuditContext, responses: Responses) -> TestResult:
    rng = ctx.rng(NAME)
    by_group: dict = {}
    questions: list[GapQuestion] = []
    for g in ctx.matcher.groups:
        by_tier = {}
        for tier in _tiers(ctx):
            entry, arms = tier_entry(ctx, responses, tier, ctx.labels(g.name), rng)
            by_tier[tier] = entry
            if arms and np.isfinite(entry["auroc_gap"]):
                questions.append(GapQuestion(entry, arms["member"], arms["non_member"], (g.label, tier)))
        by_group[g.name] = {"label": g.label, "by_tier": by_tier}
    risk = ctx.config.risk
    status, worst_gap, worst = judge_gaps(
        questions,
        rng,
        ctx.n_perm,
        ctx.confidence,
        risk.t3_auroc_gap_warn,
        risk.t3_auroc_gap_fail,
        risk.fail_alpha(NAME),
    )
    probed = [e for g in by_group.values() for e in g["by_tier"].values() if e["status"] == "ok"]
    if not probed:
        return TestResult.not_tested(NAME, TITLE, _untestable(ctx), {"by_group": by_group})
    metrics = {"by_group": by_group, "worst_significant_auroc_gap": worst_gap, "folds": ctx.config.t3.folds}
    return TestResult(NAME, TITLE, status, summarise(probed, worst_gap, worst), metrics)


class EmbeddingProbeAudit(Audit):
    name, title, method = NAME, TITLE, METHOD
    config_section = T3
    fails_on_a_p_value = True
    needs = frozenset({EMBED})

    def coverage(self, ctx: AuditContext) -> Coverage:
        reason = _untestable(ctx)
        return Coverage(not reason, reason)

    def requests(self, ctx: AuditContext, earlier: Earlier) -> list[Request]:
        return [] if _untestable(ctx) else requests(ctx)

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        return run(ctx, responses)
