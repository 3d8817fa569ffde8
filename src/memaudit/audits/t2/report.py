"""What T2's report fragment (templates/report.html.j2) draws from report.json: the AUROC of the
regenerated sensitive codes by attacker-knowledge tier, member and non-member arms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ... import svg
from ...published import Headline


def figures(report: Mapping[str, Any], name: str) -> dict[str, Any]:
    groups = report["tests"][name]["metrics"].get("by_group") or {}
    if not groups:
        return {"tier_rows": [], "figure": None}
    seen = {t for g in groups.values() for t in g["by_tier"]}
    tiers = [t for t in report["config"]["tiers"] if t in seen]

    def aurocs(tier: str, arm: str) -> list[float]:
        return [
            g["by_tier"][tier][arm]["auroc"]
            for g in groups.values()
            if tier in g["by_tier"] and g["by_tier"][tier][arm]["auroc"] is not None
        ]

    series = {
        arm: [(sum(v) / len(v) if (v := aurocs(t, arm)) else None, None) for t in tiers]
        for arm in ("member", "non_member")
    }
    rows = [{"tier": t, "best_member": max(aurocs(t, "member"), default=None)} for t in tiers]
    body = svg.tier_lines(tiers, series, "mean AUROC over groups", f"{name} AUROC by tier")
    caption = f"{name}: how well regenerated sensitive codes identify who has them (mean AUROC over groups)."
    return {"tier_rows": rows, "figure": {"body": Markup(body), "caption": caption}}


def headline(report: Mapping[str, Any], name: str) -> list[Headline]:
    """The largest member-minus-non-member AUROC gap over groups and tiers."""
    gaps = [
        entry["auroc_gap"]
        for group in (report["tests"][name]["metrics"].get("by_group") or {}).values()
        for entry in (group.get("by_tier") or {}).values()
        if entry.get("auroc_gap") is not None
    ]
    return [Headline("largest_auroc_gap", f"{name} largest AUROC gap", max(gaps))] if gaps else []
