"""What an audit can test, known before any model call: per sensitive group and per test."""

from __future__ import annotations

from ..adapters.base import ModelAdapter, optional
from ..audits.context import AuditContext
from ..audits.coverage import group_coverage
from ..audits.registry import Audit, registered
from ..audits.runner import why_skipped


def coverage(ctx: AuditContext, adapter: ModelAdapter, audits: list[Audit] | None = None) -> dict:
    """What the audit can test, before any model call: per sensitive group and per test."""
    caps, adaptive = frozenset(adapter.capabilities()), optional(adapter, "adaptive")
    tests = {}
    for audit_ in audits if audits is not None else registered():
        reason = why_skipped(audit_, caps, adaptive)
        tests[audit_.name] = (
            {"testable": False, "reason": reason} if reason else audit_.coverage(ctx).as_dict()
        )
    return {
        "groups": group_coverage(ctx),
        "tests": tests,
        "conventions": ctx.conventions.describe(),
        "skipped_tiers": dict(ctx.cohort.skipped_tiers),
    }


def coverage_table(covered: dict) -> str:
    """The coverage as Markdown, printed before the audit runs and by `memaudit check`."""
    lines = [
        "## What the audit can test",
        "",
        "| sensitive group | codes in stream | with it (members / non-members) | tested at | status |",
        "|---|---|---|---|---|",
    ]
    for g in covered["groups"].values():
        pos = g["positives_anywhere"]
        lines.append(
            f"| {g['label']} | {g['codes_in_stream']} | {pos['member']} / {pos['non_member']} | "
            f"{', '.join(g['tiers_tested']) or '–'} | "
            f"{g['status']}{': ' + g['reason'] if g['reason'] else ''} |"
        )
    lines += ["", "| test | can test | note |", "|---|---|---|"]
    for name, t in covered["tests"].items():
        note = t.get("reason") or ", ".join(
            f"{k}: {v}" for k, v in t.items() if k not in ("testable", "reason")
        )
        lines.append(f"| {name} | {'yes' if t['testable'] else 'no'} | {note} |")
    for tier, why in covered.get("skipped_tiers", {}).items():
        lines.append(f"| tier {tier} | no | {why} |")
    return "\n".join(lines)
