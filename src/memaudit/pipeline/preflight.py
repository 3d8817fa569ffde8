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
        f"{calls['scored_sequences']} scored and {calls['embedded_sequences']} embedded sequences"
        + "".join(
            f"; {key.split('_')[0].upper()} adds at most {n} samples"
            for key, n in calls.items()
            if key.endswith("_samples_at_most")
        )
    )
    return summary, text


def planned_calls(ctx: AuditContext, adapter: ModelAdapter) -> dict:
    """The distinct model calls of the first wave (the tests that read no earlier result), what
    sequential rounds may add, and the bound each later test (T5) declares."""
    caps = frozenset(adapter.capabilities())
    requests: set = set()
    for audit_ in registered():
        if not audit_.reads and audit_.needs <= caps:
            requests |= set(audit_.requests(ctx, {}))
    generate = [r for r in requests if isinstance(r, Generate)]
    cap = ctx.config.generation.n_samples
    later_rounds = sum(cap - r.n_samples for r in generate if r.n_samples == ctx.first_round(cap) < cap)
    later = {a.name: a.samples_at_most(ctx) for a in registered() if a.reads and a.needs <= caps}
    return {
        "generate_prompts": len(generate),
        "generated_samples": sum(r.n_samples for r in generate),
        "later_rounds_at_most": later_rounds,
        "scored_sequences": sum(isinstance(r, Score) for r in requests),
        "embedded_sequences": sum(isinstance(r, Embed) for r in requests),
        **{f"{name.lower()}_samples_at_most": n for name, n in later.items() if n is not None},
    }
