"""Which of T2's flags T5 judges, which non-members form its null, and the fresh samples each is
drawn: the repeated records' flags first, then the case budget across groups (module docstring of
audits/t5/audit.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import zip_longest

import numpy as np
from scipy.stats import binom

from ...prompts.requests import AUDITED, Generate, Responses
from ..context import AuditContext
from ..handoffs import FlaggedCase, SensitiveFlags
from ..sampling import Spent, draws, rounds, settled
from .perturbation import sample_request


def surprise(p_hat_: float, base: float, n: int) -> float:
    """P(at least this many of n samples carry the group | the non-members' rate): small when the
    member's p̂ is not what any patient with such a prompt would get."""
    k = round(p_hat_ * n)
    return float(binom.sf(k - 1, n, min(max(base, 0.5 / n), 1 - 0.5 / n)))


def prompt_evidence(ctx: AuditContext, group: str, tier: str, subject: int) -> bool:
    """Whether the subject's prompt at the tier carries a code linked to the group: a flag such a
    prompt explains may be generalization; one it does not is where memorization would show."""
    linked = ctx.linked_codes(group)
    return any(c in linked for c in ctx.prompts[tier][subject].codes)


def cases(ctx: AuditContext, flagged: Sequence[FlaggedCase], flags: SensitiveFlags) -> list[FlaggedCase]:
    """The flagged member cases (of T2's `flags`) within the budget, ranked as the module docstring
    says."""
    t2_p_hat = flags.p_hat
    base: dict[tuple[str, str, bool], float] = {}
    for group, tier in {(c.group, c.tier) for c in flagged}:
        by_evidence: dict[bool, list[float]] = {False: [], True: []}
        for s, v in t2_p_hat.get((group, tier), {}).items():
            if ctx.arm(s) == "non_member":
                by_evidence[prompt_evidence(ctx, group, tier, s)].append(v)
        everyone = by_evidence[False] + by_evidence[True]
        for has, vals in by_evidence.items():
            base[(group, tier, has)] = float(np.mean(vals or everyone)) if everyone else 0.0
    explained = {c: prompt_evidence(ctx, c.group, c.tier, c.subject_id) for c in flagged}
    rate = {c: base[(c.group, c.tier, explained[c])] for c in flagged}
    ranked = sorted(
        flagged,
        key=lambda c: (
            explained[c],
            surprise(c.p_hat, rate[c], flags.n_drawn[ctx.prompts[c.tier][c.subject_id].codes]),
            -(c.p_hat - rate[c]),
            c.group,
            c.tier,
            c.subject_id,
        ),
    )
    # the records the data repeats (T4's repeated-record arm) are the likeliest to be memorized:
    # every flag of theirs is judged, whatever the budget; the budget's rest goes to the others
    repeated = [c for c in ranked if c.subject_id in ctx.cohort.repeated]
    by_group: dict[str, list[FlaggedCase]] = {}
    for c in ranked:
        if c.subject_id not in ctx.cohort.repeated:
            by_group.setdefault(c.group, []).append(c)
    # groups take turns, so a common condition cannot crowd the rare ones out of the budget
    turns = zip_longest(*(by_group[g] for g in sorted(by_group)))
    rest = max(ctx.config.t5.max_cases - len(repeated), 0)
    return repeated + [c for rnd in turns for c in rnd if c is not None][:rest]


def null_cases(
    ctx: AuditContext, t2_p_hat: Mapping[tuple[str, str], Mapping[int, float]]
) -> list[FlaggedCase]:
    """Non-members flagged by the same T2 rule (p̂ at the threshold, the group within the
    horizon), every group and tier pooled; a seeded draw of `t5.n_null` when there are more."""
    thr = ctx.config.t2.threshold
    pool = [
        FlaggedCase(s, group, tier, v)
        for (group, tier), scores in t2_p_hat.items()
        for s, v in scores.items()
        if ctx.arm(s) == "non_member" and v >= thr and ctx.horizon_labels(group, tier)[s]
    ]
    pool.sort(key=lambda c: (c.group, c.tier, c.subject_id))
    if len(pool) > ctx.config.t5.n_null:
        keep = ctx.rng("T5 null cases").choice(len(pool), size=ctx.config.t5.n_null, replace=False)
        pool = [pool[i] for i in sorted(keep)]
    return pool


def count(ctx: AuditContext, samples: list[list[str]], group: str) -> int:
    return sum(ctx.matcher.has_group(s, group) for s in samples)


def original_request(ctx: AuditContext, case: FlaggedCase, model: str = AUDITED) -> Generate:
    """Every fresh sample of the case's prompt (`t5.n_samples_original`, the cap)."""
    return sample_request(ctx, ctx.prompts[case.tier][case.subject_id].codes, original=True, model=model)


def first_round(ctx: AuditContext, case: FlaggedCase) -> Generate:
    full = original_request(ctx, case)
    return rounds(full, ctx.first_round(full.n_samples))[0]


def original_samples(ctx: AuditContext, responses: Responses, case: FlaggedCase) -> list[list[str]]:
    """The audited model's fresh samples of the case drawn so far (all of them at the cap)."""
    full = original_request(ctx, case)
    return draws(responses, full, ctx.first_round(full.n_samples))


def settled_below(k: int, n: int, ctx: AuditContext, looks: int) -> bool:
    """Whether k of n fresh samples settle the rate below the T2 threshold (the flag does not
    replicate), by the confidence sequence of audits/sampling.py."""
    thr = ctx.config.t2.threshold
    return settled(k, n, thr, ctx.config.generation.stop_error / looks) and k / n < thr


def samples_spent(ctx: AuditContext, all_cases: list[FlaggedCase], responses: Responses) -> Spent:
    cap = ctx.config.t5.n_samples_original
    drawn = {(c.tier, c.subject_id): len(original_samples(ctx, responses, c)) for c in all_cases}
    return Spent(cap, ctx.first_round(cap), drawn)


def row(ctx: AuditContext, c: FlaggedCase) -> dict:
    return {
        "subject_id": c.subject_id,
        "group": c.group,
        "tier": c.tier,
        "p_hat_t2": c.p_hat,
        "prompt_evidence": prompt_evidence(ctx, c.group, c.tier, c.subject_id),
    }
