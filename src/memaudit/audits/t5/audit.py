"""T5 memorized or generalized: is what T2 flagged patient-specific?

Each flagged member case is re-sampled with fresh samples (a flag that does not reach the T2
threshold again was sampling noise: `not_replicated`). Then:

- **with a reference model** (config `reference.model`: same recipe, never trained on the
  patient), the contrast of the audited model against it, judged against the same contrast on
  non-members flagged by the same T2 rule (contrast.py, null.py, decision.py): memorized (Holm
  across the audit's cases: family-wise), likely memorized (Benjamini-Hochberg only), generalized
  or inconclusive. A memorized or likely memorized case warns; a memorized one fails the test only
  with `t5.fails_gate` (decision.status_of).
- **without one**, the identifier-perturbation profile (audits/t5/perturbation.py, audits/t5/profile.py), as
  description: a case whose answer drops when identifiers change warns, never fails.

Flags of the records the data repeats (T4's repeated-record arm) are judged first, all of them;
the rest of the case budget (`t5.max_cases`) goes to the groups in turn; within a group, flags
whose prompt carries no code linked to the group (audits/clinical_links.py) come first, then the
least explained by the non-members whose prompts carry the same evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...adapters.base import GENERATE
from ...prompts.requests import REFERENCE, Request, Responses
from ...published import Headline
from ..context import AuditContext
from ..coverage import Coverage
from ..handoffs import FlaggedCase, SensitiveFlags
from ..registry import Audit, Earlier
from ..result import PASS, TestResult
from ..sampling import draws, next_round, schedule
from . import rejudge as half_sample
from . import report as report_fragment
from .cases import cases, count, first_round, null_cases, original_request, settled_below
from .contrast import contrast_result
from .decision import NAME, TITLE, VERDICTS
from .perturbation import (
    available_families,
    perturbations,
    sample_request,
    swap_candidates,
    why_families_cannot_run,
)
from .profile import profile_result
from .settings import T5

# what the test measures and how it judges: the report's Methods section
METHOD = (
    "Each member case T2 flagged is sampled afresh (in rounds; a case settled below the threshold "
    "stops there and is not replicated). With a reference model (trained the same way "
    "without these patients), the audited model's rate is contrasted with the reference model's, and "
    "the contrast is judged against the same contrast for non-members flagged the same way, whom "
    "neither model saw: a case the audited model leaks far more than the reference does, beyond what "
    "unseen patients show, is memorized; one the reference model leaks too is generalized. Without a "
    "reference model the case is re-sampled with its identifiers changed (age band, sex, one code); "
    "that describes whether the answer depends on them, but an age-dependent pattern also changes "
    "with age and a memorized record keyed on rare codes does not, so it can warn and never fail."
)


class MemorizationAudit(Audit):
    name, title, method = NAME, TITLE, METHOD
    config_section = T5
    fails_on_a_p_value = True
    confirmatory = True
    version = "3"  # 2: the repeated records' flags judged first; 3: memorized warns unless t5.fails_gate
    needs = frozenset({GENERATE})
    reads = ("T2",)
    asks_new_prompts = True

    def coverage(self, ctx: AuditContext) -> Coverage:
        if ctx.has_reference:
            return Coverage(True, "", {"mode": "counterfactual contrast against the reference model"})
        families = available_families(ctx)
        applicable = [f for f, n in families.items() if n]
        why = why_families_cannot_run(ctx, families)
        reason = (
            ""
            if applicable
            else "no reference model was given and no perturbation family applies: "
            + "; ".join(f"{f}: {w}" for f, w in why.items())
        )
        return Coverage(
            bool(applicable),
            reason,
            {
                "mode": "identifier perturbation (description)",
                "prompts_per_family": families,
                "families_not_run": why,
            },
        )

    def _selection(
        self, ctx: AuditContext, earlier: Earlier
    ) -> tuple[list[FlaggedCase], list[FlaggedCase], int]:
        """(cases, null cases, flags the reference model saw), chosen once per audit (per context)."""

        def choose() -> tuple[list[FlaggedCase], list[FlaggedCase], int]:
            flags: SensitiveFlags | None = earlier["T2"].handoff if "T2" in earlier else None
            flagged = list(flags.flagged) if flags else []
            seen = 0
            if ctx.has_reference and ctx.reference_unseen is not None:
                seen = sum(c.subject_id not in ctx.reference_unseen for c in flagged)
                flagged = [c for c in flagged if c.subject_id in ctx.reference_unseen]
            return (
                cases(ctx, flagged, flags) if flags else [],
                null_cases(ctx, flags.p_hat) if flags else [],
                seen,
            )

        return ctx.once(f"{NAME} selection", choose)

    def samples_at_most(self, ctx: AuditContext) -> int:
        """Every judged and null case sampled afresh under the audited model (and the reference),
        or, without a reference, under each identifier perturbation too."""
        cfg = ctx.config.t5
        per_case = cfg.n_samples_original * (2 if ctx.has_reference else 1)
        if not ctx.has_reference:
            per_case += cfg.n_samples * (2 * cfg.age_steps + 2)
        # a repeated record's flags are judged beyond the budget: at most one per group and tier
        repeated = sum(s in ctx.cohort.repeated for s in ctx.members)
        beyond = repeated * len(ctx.config.sensitive_groups) * len(ctx.prompts)
        return (cfg.max_cases + beyond + cfg.n_null) * per_case

    def requests(self, ctx: AuditContext, earlier: Earlier) -> list[Request]:
        chosen, nulls, _ = self._selection(ctx, earlier)
        if not chosen:
            return []
        return [first_round(ctx, c) for c in chosen + nulls]

    def follow_up(self, ctx: AuditContext, earlier: Earlier, responses: Responses) -> list[Request]:
        """A case's fresh samples go on in rounds until its flag settles below the threshold
        (not replicated) or the cap is reached; only a flag that replicated at the cap is sampled
        under the reference model (or perturbed)."""
        chosen, nulls, _ = self._selection(ctx, earlier)
        out: list[Request] = []
        candidates = None if ctx.has_reference else swap_candidates(ctx)
        for c in chosen + nulls:
            full = original_request(ctx, c)
            first = ctx.first_round(full.n_samples)
            drawn = draws(responses, full, first)
            k = count(ctx, drawn, c.group)
            looks = len(schedule(first, full.n_samples))
            if len(drawn) < full.n_samples:
                if not settled_below(k, len(drawn), ctx, looks):
                    out.append(next_round(len(drawn), full, first))
                continue
            if k / len(drawn) < ctx.config.t2.threshold:
                continue
            if ctx.has_reference:
                wanted = [original_request(ctx, c, REFERENCE)]
            else:
                prompt = ctx.prompts[c.tier][c.subject_id].codes
                wanted = [sample_request(ctx, p) for p in perturbations(ctx, prompt, candidates).values()]
            out += [r for r in wanted if r not in responses]
        return out

    def run(self, ctx: AuditContext, responses: Responses, earlier: Earlier) -> TestResult:
        if "T2" not in earlier or earlier["T2"].handoff is None or earlier["T2"].status == "not_tested":
            return TestResult.not_tested(
                NAME, TITLE, "T2 tested no sensitive group, so there is no flag to judge"
            )
        chosen, nulls, seen = self._selection(ctx, earlier)
        if not chosen:
            why = f" ({seen} flagged members were in the reference model's training data)" if seen else ""
            return TestResult(
                NAME,
                TITLE,
                PASS,
                f"No member case to judge: T2 flagged none the test can judge{why}.",
                {"cases": [], "counts": dict.fromkeys(VERDICTS, 0), "n_seen_by_reference": seen},
            )
        if ctx.has_reference:
            return contrast_result(ctx, chosen, nulls, seen, responses)
        return profile_result(ctx, chosen, nulls, responses)

    def rests_on(self, result: TestResult, status: str) -> list[str]:
        return half_sample.rests_on(result, status)

    def rejudge(self, result: TestResult, ctx: AuditContext, drawn: Mapping[Any, int]) -> str:
        return half_sample.rejudge(result, ctx, drawn)

    def report_figures(self, report: Mapping[str, Any]) -> dict[str, Any]:
        return report_fragment.figures(report, NAME)

    def headline(self, report: Mapping[str, Any]) -> list[Headline]:
        return report_fragment.headline(report, NAME)
