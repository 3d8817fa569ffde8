"""The audit runner: cohort → prompts → (cached, batched) model calls → T1..T6 → findings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..adapters.base import EMBED, GENERATE, SCORE
from ..adapters.cache import CachedAdapter
from ..cohort.meds_reader import MedsDataset, Timeline
from ..cohort.sensitive import GroupMatcher
from ..config import AuditConfig
from ..errors import UserInputError
from ..prompts.tiers import build_prompt, split_demographics, tier_codes
from . import t1_trajectory, t2_sensitive, t3_probe, t4_membership, t5_perturbation, t6_subgroups
from .code_embeddings import icd_ontology, ppmi_svd
from .context import AuditContext
from .vocabulary import numeric_artifacts
from .requests import Score, fulfil
from .result import TestResult


@dataclass
class AuditOutcome:
    context: AuditContext
    results: dict[str, TestResult]
    cache_hits: int
    cache_misses: int
    unknown_codes: dict[str, int]
    vocabulary: dict | None = None
    model_input: dict | None = None


def _sample_arm(ids: np.ndarray, n: int | None, rng: np.random.Generator) -> list[int]:
    if n is None or n >= ids.size:
        return sorted(int(i) for i in ids)
    return sorted(int(i) for i in rng.choice(ids, size=n, replace=False))


def _static_rows(timelines: dict[int, Timeline], mode: str, knows: Callable[[str], bool] | None,
                 ) -> tuple[dict[int, Timeline], dict]:
    """Keep or drop static rows (time = null) as the model's stack did; `auto` keeps them only when
    the model's vocabulary knows at least one of them."""
    codes = sorted({c for t in timelines.values() for c in t.codes[:t.static]})
    if not codes:
        return timelines, {"static_codes": 0, "used": False, "reason": "the data has no static rows (time = null)"}
    if mode == "auto":
        known = [c for c in codes if knows is not None and knows(c)]
        mode = "keep" if knows is None or known else "drop"
        reason = ("the model's vocabulary knows none of the static codes, so its stack dropped static rows"
                  if mode == "drop" else "cohort.static_rows: auto and the model's vocabulary knows "
                  f"{len(known) if knows else 'an unknown number'} of them")
    else:
        reason = f"cohort.static_rows: {mode}"
    if mode == "drop":
        timelines = {s: t.without_static() for s, t in timelines.items()}
    return timelines, {"static_codes": len(codes), "used": mode == "keep", "reason": reason}


def prepare_context(dataset: MedsDataset, config: AuditConfig, capabilities: frozenset[str],
                    model_embeddings: dict[str, np.ndarray] | None = None,
                    knows: Callable[[str], bool] | None = None) -> AuditContext:
    """`knows(code)`: whether the model's vocabulary has the code (None: the model exposes no vocabulary)."""
    splits = config["splits"]
    member_ids, non_member_ids = dataset.arm_ids(splits["members"]), dataset.arm_ids(splits["non_members"])
    overlap = np.intersect1d(member_ids, non_member_ids)
    if overlap.size:
        raise UserInputError("disjoint member and non-member sets", f"{overlap.size} subjects in both",
                             "fix subject_splits.parquet: a subject in both arms invalidates the audit")
    rng = np.random.default_rng([config.seed, 101])
    members = _sample_arm(member_ids, config["subjects_per_arm"], rng)
    non_members = _sample_arm(non_member_ids, config["subjects_per_arm"], rng)
    recipe = config.recipe
    timelines, static_note = _static_rows(dataset.timelines(members + non_members, recipe), recipe.static_rows, knows)
    members = [s for s in members if s in timelines]
    non_members = [s for s in non_members if s in timelines]
    if len(members) < 2 or len(non_members) < 2:
        raise UserInputError("at least 2 subjects with events in each arm",
                             f"{len(members)} members and {len(non_members)} non-members",
                             "check the split names and that data/ holds those subjects' events")
    matcher = GroupMatcher(config.groups)
    t1 = config["t1"]
    prompts, excluded, skipped = {}, {}, {}
    member_set, non_member_set = set(members), set(non_members)
    for tier in config.tiers:
        if tier.name == "static" and not any(split_demographics(timelines[s], config["demographic_prefixes"])[0]
                                             for s in members + non_members):
            skipped[tier.name] = ("no audited timeline holds a demographic code the model's stream contains (static "
                                  f"rows: {static_note['reason']}; demographic_prefixes {config['demographic_prefixes']})")
            continue
        built = {s: build_prompt(s, timelines[s], tier.name, matcher, config["demographic_prefixes"],
                                 int(t1["continuation_codes"]), int(t1["extraction_k"]))
                 for s in members + non_members}
        prompts[tier.name] = {s: p for s, p in built.items() if p is not None}
        excluded[tier.name] = sum(p is None for p in built.values())
        kept = prompts[tier.name]
        if sum(1 for s in kept if s in member_set) < 2 or sum(1 for s in kept if s in non_member_set) < 2:
            raise UserInputError(f"timelines long enough for tier {tier.name} ({tier_codes(tier.name) or 0} codes + "
                                 f"{t1['extraction_k']} to continue)", f"{excluded[tier.name]} of "
                                 f"{len(built)} subjects too short", f"drop tier {tier.name} from the config's tiers")
    embedding_kind = t1["embedding"]
    if embedding_kind == "model" and model_embeddings:
        code_emb = model_embeddings
    elif embedding_kind == "icd":
        code_emb = icd_ontology({c for t in timelines.values() for c in t.codes})
    else:
        code_emb = ppmi_svd([timelines[s].codes for s in non_members], dim=int(t1["embedding_dim"]))
    return AuditContext(config, matcher, members, non_members, timelines, prompts, excluded,
                        dataset.code_prevalence(), code_emb, capabilities, skipped,
                        {**recipe.describe(), "static_rows_found": static_note})


def unknown_codes(ctx: AuditContext, adapter) -> dict[str, int]:  # noqa: ANN001
    """Audited codes outside the model's vocabulary, counted from the data (not from the calls,
    which a resumed run partly serves from the cache)."""
    knows = vocabulary_lookup(adapter)
    if knows is None:
        return {}
    counts: dict[str, int] = {}
    for t in ctx.timelines.values():
        for c in t.codes:
            if not knows(c):
                counts[c] = counts.get(c, 0) + 1
    return counts


def vocabulary_lookup(adapter) -> Callable[[str], bool] | None:  # noqa: ANN001
    """Whether the adapter's model has a code: its tokenizer's `knows`, or membership in a plain
    token table; None when the adapter exposes no vocabulary."""
    vocab = getattr(adapter, "vocab", None)
    if hasattr(vocab, "knows"):
        return vocab.knows
    table = getattr(vocab, "token_to_id", None)
    return None if table is None else table.__contains__


def _missing(name: str, title: str, needed: str) -> TestResult:
    return TestResult.skipped(name, title, f"the model adapter does not offer `{needed}`")


def run_audit(dataset: MedsDataset, adapter, config: AuditConfig, cache_path: Path,  # noqa: ANN001
              reference_adapter=None, progress: bool = False) -> AuditOutcome:  # noqa: ANN001
    caps = frozenset(adapter.capabilities())
    model_emb = None
    if config["t1"]["embedding"] == "model" and hasattr(adapter, "vocab") and hasattr(adapter, "model"):
        table = adapter.model.get_input_embeddings().weight.detach().cpu().numpy()
        model_emb = {c: table[i] for c, i in adapter.vocab.token_to_id.items()}
    ctx = prepare_context(dataset, config, caps, model_emb, vocabulary_lookup(adapter))
    audited = [ctx.timelines[s].codes for s in sorted(ctx.members + ctx.non_members)]
    if hasattr(adapter, "learn"):
        adapter.learn(sorted({c for codes in audited for c in codes}))
    cached = CachedAdapter(adapter, cache_path)
    seed = config.seed
    chunk = int(config["generation"]["batch_size"]) * 8
    try:
        stage1 = []
        if GENERATE in caps:
            stage1 += t1_trajectory.requests(ctx) + t2_sensitive.requests(ctx)
        if EMBED in caps:
            stage1 += t3_probe.requests(ctx)
        if SCORE in caps:
            stage1 += t4_membership.requests(ctx)
        responses = fulfil(stage1, cached, seed, chunk, progress)
        results: dict[str, TestResult] = {}
        flagged = []
        if GENERATE in caps:
            results["T1"] = t1_trajectory.run(ctx, responses)
            results["T2"], flagged = t2_sensitive.run(ctx, responses)
        else:
            results["T1"] = _missing("T1", t1_trajectory.TITLE, GENERATE)
            results["T2"] = _missing("T2", t2_sensitive.TITLE, GENERATE)
        results["T3"] = t3_probe.run(ctx, responses) if EMBED in caps else _missing("T3", t3_probe.TITLE, EMBED)
        reference = None
        if SCORE in caps and reference_adapter is not None:
            ref_cached = CachedAdapter(reference_adapter, cache_path.with_name(cache_path.stem + "_reference.sqlite"))
            subjects = sorted(ctx.members + ctx.non_members)
            ref = fulfil([Score(ctx.timelines[s].codes) for s in subjects], ref_cached, seed, chunk, progress)
            reference = {s: ref[Score(ctx.timelines[s].codes)] for s in subjects}
            ref_cached.close()
        results["T4"] = (t4_membership.run(ctx, responses, reference) if SCORE in caps
                         else _missing("T4", t4_membership.TITLE, SCORE))
        if GENERATE in caps and not getattr(adapter, "adaptive", True):
            results["T5"] = TestResult.skipped("T5", t5_perturbation.TITLE, "the generations backend answers only the "
                                               "exported prompts, and T5's perturbed prompts depend on T2's flags")
        elif GENERATE in caps:
            chosen, nulls = t5_perturbation.cases(ctx, flagged, results["T2"].per_subject)
            t5_responses = fulfil(t5_perturbation.requests(ctx, chosen, nulls), cached,
                                  t5_perturbation.t5_seed(seed), chunk, progress)
            results["T5"] = t5_perturbation.run(ctx, chosen, nulls, t5_responses)
        else:
            results["T5"] = _missing("T5", t5_perturbation.TITLE, GENERATE)
        per_subject = {k: v for r in results.values() for k, v in r.per_subject.items()}
        t4_best, t4_thr = None, None
        if results["T4"].status != "skipped":
            t4_best = results["T4"].metrics["best_score"]
            ops = results["T4"].metrics["by_score"][t4_best]["tpr_at_fpr"]
            t4_thr = next((o["threshold"] for o in ops if o["status"] == "ok"), None)
        results["T6"] = t6_subgroups.run(ctx, per_subject, t4_best, t4_thr)
    finally:
        cached.close()
    unknown = unknown_codes(ctx, adapter)
    vocab = getattr(getattr(adapter, "vocab", None), "token_to_id", None)
    vocabulary = None
    if vocab is not None:
        counts = dataset.code_subject_counts(dataset.arm_ids(config["splits"]["members"]))
        vocabulary = numeric_artifacts(vocab, counts, int(config["vocabulary_check"]["min_subjects"]))
    model_input = adapter.window_plan(audited) if hasattr(adapter, "window_plan") else None
    return AuditOutcome(ctx, results, cached.hits, cached.misses, unknown, vocabulary, model_input)
