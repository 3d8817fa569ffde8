"""T5 without a reference model: the identifier-perturbation profile of a flagged case, as
description. The case's prompt is re-sampled with its identifiers changed: the age band moved by
±1..±`t5.age_steps` bands (the cohort's own band width and prefix), sex flipped (between the sex
codes the cohort has), one code swapped for another of its kind; a perturbation whose code the
model does not know is not sent.

What it can show: whether the answer is tied to the identifiers in the prompt. What it cannot:
an age- or sex-dependent clinical pattern drops under identifier changes for any patient (a
pattern-planted case looks "sensitive"), and memory keyed on rare codes survives them (a
memorized case looks "stable"). So the profile may warn, never fail: memorization needs the
reference model's contrast (audits/t5/contrast.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import norm

from ...cohort.conventions import sex_pair
from ...prompts.requests import Generate, Request
from ..context import AuditContext
from ..handoffs import FlaggedCase

FAMILIES = ("age", "sex", "code_swap")


def t5_seed(seed: int) -> int:
    """T5's sampling seed: fresh samples, not T2's, so the flag's selection does not carry its
    winner's curse into T5's estimates."""
    return int.from_bytes(hashlib.sha256(f"{seed}|T5".encode()).digest()[:4], "little")


def sample_request(
    ctx: AuditContext, prompt: tuple[str, ...], original: bool = False, model: str = "audited"
) -> Generate:
    """`t5.n_samples_original` fresh samples of a flagged prompt (replication, and the reference of
    every comparison), or `t5.n_samples` of a perturbed one."""
    g, cfg = ctx.config.generation, ctx.config.t5
    n = cfg.n_samples_original if original else cfg.n_samples
    return Generate(prompt, n, g.max_new_codes, g.temperature, g.top_p, t5_seed(ctx.config.seed), model)


def code_kind(code: str) -> str:
    """The kind of a code for swapping: what precedes its first `//` (DIAGNOSIS, LAB, ...)."""
    return code.split("//", 1)[0]


def swap_candidates(ctx: AuditContext) -> dict[str, list[str]]:
    """Codes a swap may put in, by kind: non-members' codes that are not sensitive, demographic,
    time gaps or timeline markers, and that the model knows."""
    conv = ctx.conventions
    codes = sorted(
        {
            c
            for s in ctx.non_members
            for c in ctx.timelines[s].codes
            if not ctx.matcher.is_sensitive(c)
            and not conv.is_demographic(c)
            and conv.days_of_gap(c) is None
            and c not in conv.markers
            and ctx.known(c)
        }
    )
    out: dict[str, list[str]] = {}
    for c in codes:
        out.setdefault(code_kind(c), []).append(c)
    return out


def perturbations(
    ctx: AuditContext, prompt: tuple[str, ...], candidates: dict[str, list[str]]
) -> dict[str, tuple[str, ...]]:
    """Named perturbed prompts (age±k, sex, code_swap); only those whose new code the model knows."""
    out: dict[str, tuple[str, ...]] = {}
    conv, steps = ctx.conventions, ctx.config.t5.age_steps
    for i, c in enumerate(prompt):
        for d in [s for k in range(1, steps + 1) for s in (-k, k)]:
            shifted = conv.shift_age(c, d)
            if shifted and ctx.known(shifted):
                out[f"age{d:+d}"] = prompt[:i] + (shifted,) + prompt[i + 1 :]
        flipped = conv.flip_sex(c)
        if flipped and ctx.known(flipped):
            out["sex"] = prompt[:i] + (flipped,) + prompt[i + 1 :]
    swappable = [
        i
        for i, c in enumerate(prompt)
        if len([x for x in candidates.get(code_kind(c), []) if x != c]) > 0
        and not conv.is_demographic(c)
        and conv.days_of_gap(c) is None
        and c not in conv.markers
    ]
    if swappable:
        seed = int.from_bytes(hashlib.sha256("\x1f".join(prompt).encode()).digest()[:8], "little")
        rng = np.random.default_rng([ctx.config.seed, seed])
        i = swappable[int(rng.integers(len(swappable)))]
        pool = [c for c in candidates[code_kind(prompt[i])] if c != prompt[i]]
        out["code_swap"] = prompt[:i] + (pool[int(rng.integers(len(pool)))],) + prompt[i + 1 :]
    return out


def family(name: str) -> str:
    return "age" if name.startswith("age") else name


def available_families(ctx: AuditContext) -> dict[str, int]:
    """How many audited prompts each perturbation family applies to (before any model call);
    computed once per context (coverage and the summary both read it)."""

    def count() -> dict[str, int]:
        candidates = swap_candidates(ctx)
        counts = dict.fromkeys(FAMILIES, 0)
        for prompts in ctx.prompts.values():
            for p in prompts.values():
                for fam in {family(name) for name in perturbations(ctx, p.codes, candidates)}:
                    counts[fam] += 1
        return counts

    return dict(ctx.once("T5 perturbation families", count))


def why_families_cannot_run(ctx: AuditContext, counts: Mapping[str, int]) -> dict[str, str]:
    """For each family that applies to no audited prompt (`counts` from `available_families`), why:
    what the model's stream lacks, and what the cohort holds that the stream does not show."""
    conv, timelines = ctx.conventions, ctx.timelines.values()
    cohort_ages = any(t.facts.age_at_start is not None for t in timelines)
    cohort_sex = sex_pair({c for t in timelines for c in t.facts.static_codes}) is not None
    why: dict[str, str] = {}
    if not counts.get("age"):
        if conv.age is None:
            why["age"] = "the model's stream holds no age code" + (
                " (the cohort's birth rows give ages, but the model never sees them: nothing to move)"
                if cohort_ages
                else ""
            )
        else:
            why["age"] = "no prompt holds an age band whose neighbouring bands the model knows"
    if not counts.get("sex"):
        if conv.sex is None:
            why["sex"] = "the model's stream holds no sex code" + (
                " (the cohort's static rows hold one, but the model never sees it: nothing to flip)"
                if cohort_sex
                else ""
            )
        else:
            why["sex"] = "no prompt holds a sex code whose other value the model knows"
    if not counts.get("code_swap"):
        why["code_swap"] = "no prompt code has another code of its kind that the model knows"
    return why


def profile(
    ctx: AuditContext,
    case: FlaggedCase,
    original_samples: list[list[str]],
    responses: Mapping[Request, object],
    candidates: dict[str, list[str]],
) -> tuple[dict[str, float], float]:
    """p̂ of the original prompt (over `original_samples`) and of each perturbation that was
    sampled (a flag that did not replicate is not perturbed), and the sharpness: p̂(original)
    minus the mean perturbed p̂."""
    prompt = ctx.prompts[case.tier][case.subject_id].codes
    original = ctx.group_share(original_samples, case.group)
    requests = {name: sample_request(ctx, p) for name, p in perturbations(ctx, prompt, candidates).items()}
    prof = {name: ctx.group_share(responses[r], case.group) for name, r in requests.items() if r in responses}
    sharpness = original - float(np.mean(list(prof.values()))) if prof else 0.0
    return {"original": original, **prof}, sharpness


def drop_p(profile_: dict[str, float], n_original: int, n_perturbed: int, null_drop: float) -> float:
    """One-sided p-value that the case's p̂ falls under perturbation by more than the non-members'
    mean drop: a two-proportion z-test of the original prompt's samples against all perturbed
    samples pooled (null: the perturbed rate equals the original's minus the null's drop)."""
    perturbed = [v for k, v in profile_.items() if k != "original"]
    if not perturbed:
        return 1.0
    n_o, n_p = n_original, n_perturbed * len(perturbed)
    p_o, p_p = profile_["original"], float(np.mean(perturbed))
    pooled = (p_o * n_o + p_p * n_p) / (n_o + n_p)
    se = np.sqrt(max(pooled * (1 - pooled), 1 / (4 * (n_o + n_p))) * (1 / n_o + 1 / n_p))
    return float(norm.sf((p_o - p_p - max(null_drop, 0.0)) / se))


def describe(
    profile_: dict[str, float],
    sharpness: float,
    q_value: float,
    alpha: float,
    min_drop: float,
    threshold: float,
) -> str:
    """not_replicated: fresh samples stay below the T2 threshold; identifier_sensitive: p̂ drops
    sharply and more than in non-members; identifier_stable: the answer persists (mean perturbed
    p̂ still at the threshold); inconclusive otherwise."""
    perturbed: Sequence[float] = [v for k, v in profile_.items() if k != "original"]
    if profile_["original"] < threshold:
        return "not_replicated"
    if sharpness >= min_drop and q_value < alpha:
        return "identifier_sensitive"
    if sharpness < min_drop and perturbed and float(np.mean(perturbed)) >= threshold:
        return "identifier_stable"
    return "inconclusive"
