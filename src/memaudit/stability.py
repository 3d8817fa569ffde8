"""How sure is the verdict: the risk level recomputed on subject-resampled audits.

A replicate keeps a random half of the audited members and of the audited non-members (drawn
without replacement: the delete-d jackknife with d = n/2, whose half-sample estimates spread
about the full-sample one as much as the full-sample estimate spreads about the truth), and runs
every test again on the model responses the audit already holds: a subject's prompts are the
same, so every request is one the audit already made. Half-samples rather than the bootstrap:
a bootstrap replicate holds patients twice, which the tests' own permutations, probes and
intervals would count as two patients (the copies fall into both folds of T3's probe and are
split across arms by T2's permutations), making each replicate's tests fire too often. Each test
in a half-sample has half the patients, so a level that holds in most half-samples holds with
room to spare; one that does not rests on few patients. No model is called; a replicate that
would need a new call (sequential sampling can stop a prompt at another round when the evidence
differs) is counted as not recomputed, never guessed.

A test whose requests a half-sample would change (T5: its budget of cases and its seeded draw of
null cases would pick prompts the audit never sampled) re-judges itself from its own recorded
table instead (`Audit.rejudge`).

The share of replicates at each level says how much the verdict rests on which patients happened
to be audited (within a replicate, the tests' own bootstraps and permutations use at most
`REPLICATE_RESAMPLES` draws); it does not cover another training of the model (`memaudit validate --repeat`
measures that on synthetic data).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .adapters.base import ModelAdapter, optional
from .adapters.cache import CachedAdapter
from .audits.context import AuditContext
from .audits.registry import Audit
from .audits.runner import AuditOutcome, run_audits
from .prompts.requests import AUDITED, REFERENCE
from .report.json_report import level_of
from .rundir import RunDir

LEVELS = ("high", "medium", "low", "incomplete")
# bootstrap and permutation counts inside a replicate: each replicate needs each test's status,
# not its interval to the last digit, and this keeps a replicate a few seconds
REPLICATE_RESAMPLES = 200


class NotRecorded(Exception):
    """A replicate asked for a response the audit never obtained."""


class RecordedOnly:
    """The adapter's identity (fingerprint, numerics, capabilities) without its model: behind a
    response cache, every request the audit made is answered and any other raises NotRecorded."""

    def __init__(self, adapter: ModelAdapter) -> None:
        self._adapter = adapter

    def capabilities(self) -> frozenset[str]:
        return self._adapter.capabilities()

    def fingerprint(self) -> str:
        return self._adapter.fingerprint()

    def numerics(self) -> str:
        return optional(self._adapter, "numerics")()

    def adaptive(self) -> bool:
        return optional(self._adapter, "adaptive")()

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        raise NotRecorded("generate")

    def score(self, *args: Any, **kwargs: Any) -> Any:
        raise NotRecorded("score")

    def embed(self, *args: Any, **kwargs: Any) -> Any:
        raise NotRecorded("embed")


class Remembered:
    """Responses held in memory in front of a cache, so that replicates after the first read no
    database (each replicate asks for the same requests again)."""

    def __init__(self, cache: CachedAdapter) -> None:
        self._cache = cache
        self._seen: dict[tuple, Any] = {}

    def capabilities(self) -> frozenset[str]:
        return self._cache.capabilities()

    def fingerprint(self) -> str:
        return self._cache.fingerprint()

    def _answer(self, kind: tuple, items: Sequence[Sequence[str]], ask: Any) -> list[Any]:
        keys = [(*kind, tuple(x)) for x in items]
        missing = [i for i, k in enumerate(keys) if k not in self._seen]
        if missing:
            for i, answer in zip(missing, ask([items[i] for i in missing])):
                self._seen[keys[i]] = answer
        return [self._seen[k] for k in keys]

    def generate(
        self,
        prompts: Sequence[Sequence[str]],
        n_samples: int,
        max_new_codes: int,
        temperature: float,
        top_p: float,
        seed: int,
        first_sample: int = 0,
    ) -> list:
        params = (n_samples, max_new_codes, temperature, top_p, seed, first_sample)
        return self._answer(("generate", *params), prompts, lambda p: self._cache.generate(p, *params))

    def score(self, sequences: Sequence[Sequence[str]]) -> list:
        return self._answer(("score",), sequences, self._cache.score)

    def embed(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        rows = self._answer(("embed",), sequences, lambda s: list(self._cache.embed(s)))
        return np.vstack(rows) if rows else np.zeros((0, 0))

    def close(self) -> None:
        self._cache.close()


def resampled_context(
    ctx: AuditContext, rng: np.random.Generator, measured: dict | None = None
) -> tuple[AuditContext, dict[int, int]]:
    """A context whose arms are a random half of `ctx`'s (without replacement), and the map new id
    → the subject it stands for (fresh integer ids: no test can rely on the audit's own).
    `measured`: the per-prompt measurements the half-samples of one audit share."""
    copies: dict[int, int] = {}
    arms: list[list[int]] = []
    scored: list[list[int]] = []
    next_id = 0
    half = lambda arm: (
        [arm[i] for i in sorted(rng.choice(len(arm), size=len(arm) // 2, replace=False))] if arm else []
    )
    for arm, population in ((ctx.members, ctx.scored_members), (ctx.non_members, ctx.scored_non_members)):
        drawn = half(arm)
        # T4's population beyond the sampled arm, halved on its own (nothing drawn when there is none)
        sampled = set(arm)
        beyond = half([s for s in population if s not in sampled])
        ids = []
        for original in drawn + beyond:
            copies[next_id] = original
            ids.append(next_id)
            next_id += 1
        arms.append(ids[: len(drawn)])
        scored.append(sorted(ids))
    cohort = ctx.cohort
    outside = {c: o for c, o in copies.items() if o in cohort.scored_codes}
    resampled = dataclasses.replace(
        cohort,
        members=arms[0],
        non_members=arms[1],
        scored_members=scored[0],
        scored_non_members=scored[1],
        scored_codes={c: cohort.scored_codes[o] for c, o in outside.items()},
        repeated={c: cohort.repeated[o] for c, o in copies.items() if o in cohort.repeated},
        timelines={c: cohort.timelines[o] for c, o in copies.items() if o not in cohort.scored_codes},
        prompts={
            tier: {c: prompts[o] for c, o in copies.items() if o in prompts}
            for tier, prompts in cohort.prompts.items()
        },
    )
    unseen = (
        None
        if ctx.reference_unseen is None
        else frozenset(c for c, o in copies.items() if o in ctx.reference_unseen)
    )
    statistics = dataclasses.replace(
        ctx.config.statistics,
        n_bootstrap=min(ctx.config.statistics.n_bootstrap, REPLICATE_RESAMPLES),
        n_permutations=min(ctx.config.statistics.n_permutations, REPLICATE_RESAMPLES),
    )
    config = dataclasses.replace(ctx.config, statistics=statistics)
    replicate = dataclasses.replace(
        ctx, config=config, cohort=resampled, reference_unseen=unseen, measured=measured
    )
    return replicate, copies


def verdict_stability(
    outcome: AuditOutcome,
    adapter: ModelAdapter,
    reference: ModelAdapter | None,
    run_dir: RunDir,
    audits: Sequence[Audit],
) -> dict:
    """The share of `statistics.stability_resamples` subject-resampled audits at each risk level
    and each test at each status (see the module docstring)."""
    ctx = outcome.context
    n = ctx.config.statistics.stability_resamples
    if n == 0:
        return {"resamples": 0, "note": "not computed (statistics.stability_resamples is 0)"}
    rng = ctx.rng("verdict stability")
    models = {AUDITED: Remembered(CachedAdapter(RecordedOnly(adapter), run_dir.cache))}
    if reference is not None:
        models[REFERENCE] = Remembered(CachedAdapter(RecordedOnly(reference), run_dir.reference_cache))
    # a test that judges a half-sample from its own recorded table (`Audit.rejudge`) is not rerun
    own_table = [a for a in audits if type(a).rejudge is not Audit.rejudge]
    rerun = [a for a in audits if a not in own_table]
    levels: Counter = Counter()
    statuses: dict[str, Counter] = defaultdict(Counter)
    not_recomputed = 0
    measured: dict = {}  # every half-sample reads the same recorded responses
    try:
        for _ in range(n):
            replicate, copies = resampled_context(ctx, rng, measured)
            try:
                results = run_audits(replicate, rerun, models, adaptive=optional(adapter, "adaptive"))
            except NotRecorded:
                not_recomputed += 1
                continue
            drawn = Counter(copies.values())
            for audit in (a for a in own_table if a.name in outcome.results):
                recorded = outcome.results[audit.name]
                status = audit.rejudge(recorded, ctx, drawn)
                results[audit.name] = dataclasses.replace(recorded, status=status)
            for name, r in results.items():
                statuses[name][r.status] += 1
            # the level from the statuses alone: a re-judged test keeps the audit's table, whose
            # verdicts need not match its new status
            levels[
                level_of(
                    dataclasses.replace(outcome, context=replicate, results={**outcome.results, **results})
                )[0]
            ] += 1
    finally:
        for cache in models.values():
            cache.close()
    done = n - not_recomputed
    share = lambda counter: {k: v / done for k, v in sorted(counter.items())} if done else {}
    return {
        "resamples": n,
        "recomputed": done,
        "levels": share(levels),
        "tests": {name: share(counter) for name, counter in statuses.items()},
        "method": "half of the members and half of the non-members drawn without replacement, every test "
        "rerun on the audit's own model responses"
        + "".join(f" ({a.name} re-judged on its judged and null cases as drawn)" for a in own_table)
        + "; no new model call",
    }
