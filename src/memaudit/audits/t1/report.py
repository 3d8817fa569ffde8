"""What T1's report fragment (templates/report.html.j2) draws from report.json: the recovery by
attacker-knowledge tier as a table and two figures (share reproduced, dEMD)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ... import svg


def ordered_tiers(report: Mapping[str, Any], by_tier: Mapping[str, Any]) -> list[str]:
    """Tiers in the config's order of attacker knowledge (JSON keys come back sorted)."""
    return [t for t in report["config"]["tiers"] if t in by_tier]


def figures(report: Mapping[str, Any], name: str) -> dict[str, Any]:
    by_tier = report["tests"][name]["metrics"].get("by_tier") or {}
    tiers = ordered_tiers(report, by_tier)
    rows = [
        {
            "tier": t,
            "member": by_tier[t]["recovery"]["member"],
            "non_member": by_tier[t]["recovery"]["non_member"],
            "residual": by_tier[t]["residual_risk_recovery"],
        }
        for t in tiers
    ]
    drawn = []
    for metric, axis, title, caption in (
        (
            "recovery",
            "share of true codes reproduced",
            f"{name} recovery by tier",
            f"{name}: share of the true next codes reproduced, by attacker knowledge (95% CI).",
        ),
        (
            "demd",
            "dEMD (lower = closer)",
            f"{name} distance by tier",
            f"{name}: dEMD between sampled and true continuations (lower is closer).",
        ),
    ):
        series = {
            arm: [(by_tier[t][metric][arm], by_tier[t][metric][f"{arm}_ci95"]) for t in tiers]
            for arm in ("member", "non_member")
        }
        drawn.append({"body": Markup(svg.tier_lines(tiers, series, axis, title)), "caption": caption})
    return {"tier_rows": rows, "figures": drawn if tiers else []}
