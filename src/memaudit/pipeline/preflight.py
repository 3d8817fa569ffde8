"""`memaudit check`: what an audit would test and what it would ask of the model, before any model call."""

from __future__ import annotations

from pathlib import Path

from ..adapters.base import ModelAdapter, optional
from ..audits.context import AuditContext
from ..audits.registry import registered
from ..cohort.meds_reader import MedsDataset
from ..cohort.stream import StreamRecipe
from ..config import AuditConfig
from ..errors import UserInputError
from ..prompts.requests import Embed, Generate, Score
from .build import ModelSource, build_adapter, build_reference, prepare
from .coverage import coverage, coverage_table


def check(data: Path, source: ModelSource, config: AuditConfig) -> tuple[dict, str]:
    """The preflight: what the audit would test, codes the model lacks, and the model calls it
    would make, with no model call. Raises UserInputError when the audit could mean nothing."""
    recipe = StreamRecipe.from_config(config.cohort)
    dataset = MedsDataset(Path(data))
    adapter = build_adapter(source, config)
    reference = build_reference(source, config)
    ctx = prepare(dataset, config, adapter, recipe, has_reference=reference is not None)
    covered = coverage(ctx, adapter)
    vocabulary = optional(adapter, "vocabulary")()
    unknown = (
        set()
        if vocabulary is None
        else {c for t in ctx.timelines.values() for c in t.codes if not vocabulary.knows(c)}
    )
    calls = planned_calls(ctx, adapter)
    summary = {"coverage": covered, "unknown_codes": len(unknown), "model_calls": calls}
    if not any(g["status"] == "tested" for g in covered["groups"].values()):
        reasons = "; ".join(f"{g['label']}: {g['reason']}" for g in covered["groups"].values())
        raise UserInputError(
            "at least one sensitive group the cohort's codes match, with positives in both arms",
            f"none ({reasons})",
            "check the codes with `memaudit check`'s table, set conventions (e.g. diagnosis_formats) or "
            "sensitive_groups for your code system",
        )
    text = coverage_table(covered) + (
        f"\ncodes the model does not know: {len(unknown)} distinct"
        f"\nmodel calls before T5: {calls['generate_prompts']} prompts × samples = "
        f"{calls['generated_samples']} "
        f"samples in the first round (sequential rounds add at most {calls['later_rounds_at_most']}), "
        f"{calls['scored_sequences']} scored and {calls['embedded_sequences']} embedded sequences; "
        f"T5 adds at most {calls['t5_samples_at_most']} samples"
    )
    return summary, text


def planned_calls(ctx: AuditContext, adapter: ModelAdapter) -> dict:
    """The distinct model calls of the first wave (T1-T4), what sequential rounds may add, and
    T5's bound."""
    caps = frozenset(adapter.capabilities())
    requests: set = set()
    for audit_ in registered():
        if not audit_.reads and audit_.needs <= caps:
            requests |= set(audit_.requests(ctx, {}))
    generate = [r for r in requests if isinstance(r, Generate)]
    cap = ctx.config.generation.n_samples
    later_rounds = sum(cap - r.n_samples for r in generate if r.n_samples == ctx.first_round(cap) < cap)
    t5 = ctx.config.t5
    per_case = t5.n_samples_original * (2 if ctx.has_reference else 1)
    if not ctx.has_reference:
        per_case += t5.n_samples * (2 * t5.age_steps + 2)
    return {
        "generate_prompts": len(generate),
        "generated_samples": sum(r.n_samples for r in generate),
        "later_rounds_at_most": later_rounds,
        "scored_sequences": sum(isinstance(r, Score) for r in requests),
        "embedded_sequences": sum(isinstance(r, Embed) for r in requests),
        "t5_samples_at_most": (t5.max_cases + t5.n_null) * per_case,
    }
