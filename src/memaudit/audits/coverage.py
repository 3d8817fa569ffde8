"""What the audit can see, known before any model call: for each sensitive group the codes the
cohort's stream holds and the positives per arm and tier; for each test what it has to work on.
A group or a test with nothing to work on is "not tested" with the reason, never a pass."""

from __future__ import annotations

from dataclasses import dataclass, field

from .context import AuditContext

MIN_POSITIVES_PER_ARM = 2  # subjects with (and without) the group in each arm for a member/non-member gap


@dataclass(frozen=True)
class Coverage:
    """Whether a test has anything to work on; `reason` says why not; `details` gives sizes."""

    testable: bool
    reason: str = ""
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"testable": self.testable, "reason": self.reason or None, **self.details}


def group_coverage(ctx: AuditContext) -> dict[str, dict]:
    """Per sensitive group: distinct codes of the audited stream it matches, positives per arm
    anywhere in the timeline and, per tier, within the generation horizon; tested or not, and why."""
    stream_codes = {c for t in ctx.timelines.values() for c in t.codes}
    out = {}
    for g in ctx.matcher.groups:
        matched = {c for c in stream_codes if g.name in ctx.matcher.groups_of(c)}
        anywhere = ctx.labels(g.name)
        per_tier, tiers_tested = {}, []
        for tier, prompts in ctx.prompts.items():
            labels = ctx.horizon_labels(g.name, tier)
            counts = {arm: {"positive": 0, "negative": 0} for arm in ("member", "non_member")}
            for s in prompts:
                counts[ctx.arm(s)]["positive" if labels[s] else "negative"] += 1
            per_tier[tier] = {arm: c["positive"] for arm, c in counts.items()}
            if min(v for c in counts.values() for v in c.values()) >= MIN_POSITIVES_PER_ARM:
                tiers_tested.append(tier)
        if not matched:
            reason = (
                "no code of the audited subjects' stream matches the group (check conventions and the "
                "group's codes)"
            )
        elif not tiers_tested:
            reason = (
                f"fewer than {MIN_POSITIVES_PER_ARM} subjects with the group within the generation horizon "
                "(or without it) in an arm at every tier"
            )
        else:
            reason = ""
        out[g.name] = {
            "label": g.label,
            "codes_in_stream": len(matched),
            "positives_anywhere": {
                arm: sum(1 for s, v in anywhere.items() if v and ctx.arm(s) == arm)
                for arm in ("member", "non_member")
            },
            "positives_within_horizon": per_tier,
            "tiers_tested": tiers_tested,
            "status": "tested" if tiers_tested else "not tested",
            "reason": reason or None,
        }
    return out
