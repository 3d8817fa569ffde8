"""The runner: every registered test, in waves. A wave is the tests whose earlier results are
ready; their requests are answered together (each distinct request once, through the cache), then
each test runs on the responses. A test whose capability the adapter lacks is `skipped` with the
reason, never silently dropped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..adapters.base import ModelAdapter
from ..adapters.dispatch import fulfil
from ..prompts.requests import AUDITED
from .context import AuditContext
from .registry import Audit
from .result import TestResult


@dataclass
class AuditOutcome:
    """The audit's results and what the report says about how they were obtained."""

    context: AuditContext
    results: dict[str, TestResult]
    cache_hits: int = 0
    cache_misses: int = 0
    unknown_codes: dict[str, int] = field(default_factory=dict)
    vocabulary: dict | None = None
    model_input: dict | None = None
    coverage: dict = field(default_factory=dict)  # what could be tested, known before any model call
    stability: dict | None = None  # the risk level over subject-resampled audits (memaudit.stability)


def why_skipped(audit: Audit, capabilities: frozenset[str], adaptive: bool) -> str | None:
    """The one rule that skips a test before it runs (the runner and `memaudit check` both apply
    it): a capability the adapter lacks, or new prompts a model that answers only exported ones
    cannot answer. None when the test runs."""
    missing = sorted(audit.needs - capabilities)
    if missing:
        return "the model adapter does not offer " + " or ".join(f"`{m}`" for m in missing)
    if audit.asks_new_prompts and not adaptive:
        return (
            "the generations backend answers only the exported prompts, and "
            f"{audit.name}'s prompts depend on earlier results"
        )
    return None


def run_audits(
    ctx: AuditContext,
    audits: Sequence[Audit],
    models: Mapping[str, ModelAdapter],
    adaptive: bool = True,
    chunk: int = 2048,
    progress: bool = False,
) -> dict[str, TestResult]:
    """The results of `audits`, keyed and ordered by name. `models[AUDITED]` answers the audited
    model's requests (and `models[REFERENCE]` the reference model's); `adaptive` False means the
    audited model answers only prompts known in advance."""
    capabilities = frozenset(models[AUDITED].capabilities())
    names = {a.name for a in audits}
    results: dict[str, TestResult] = {}
    pending = list(audits)
    while pending:
        wave = [a for a in pending if all(r in results or r not in names for r in a.reads)]
        if not wave:
            raise ValueError(f"circular `reads` among {[a.name for a in pending]}")
        ready, requests = [], []
        for audit in wave:
            reason = why_skipped(audit, capabilities, adaptive)
            if reason:
                results[audit.name] = TestResult.skipped(audit.name, audit.title, reason)
            else:
                ready.append(audit)
                requests += audit.requests(ctx, results)
        responses = dict(fulfil(requests, models, chunk, progress)) if requests else {}
        while more := [r for audit in ready for r in audit.follow_up(ctx, results, responses)]:
            responses.update(fulfil(more, models, chunk, progress))
        for audit in ready:
            results[audit.name] = audit.run(ctx, responses, results)
        pending = [a for a in pending if a not in wave]
    return {a.name: results[a.name] for a in audits}
