"""What T5's report fragment (templates/report.html.j2) draws from report.json: without a
reference model, each case's perturbation profile (the change of p-hat under each identifier
perturbation) as a bar chart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ... import svg
from ...published import Headline

PROFILE_FIGURES = 12  # profiles drawn; the rest are in report.json


def figures(report: Mapping[str, Any], name: str) -> dict[str, Any]:
    m = report["tests"][name]["metrics"]
    if m.get("mode") == "counterfactual":
        return {"profiles": []}
    drawn = []
    for c in m.get("cases", [])[:PROFILE_FIGURES]:
        prof = c["profile"]
        items = [(k, v - prof["original"], None) for k, v in prof.items() if k != "original"]
        caption = (
            f"{c['subject']} · {c['group']} @ {c['tier']}: p̂ {prof['original']:.2f}; change under each "
            f"perturbation. {c['verdict']} (sharpness {c['sharpness']:.2f}, p = {c['p_value']:.3f})."
        )
        drawn.append(
            {"body": Markup(svg.bars(items, f"{name} profile {c['subject']}", -1, 1)), "caption": caption}
        )
    return {"profiles": drawn}


def headline(report: Mapping[str, Any], name: str) -> list[Headline]:
    """The number of judged cases at each verdict (counts: a registry's, never a card's)."""
    counts = report["tests"][name]["metrics"].get("counts") or {}
    return [Headline(verdict, f"{name} {verdict} cases", n, rate=False) for verdict, n in counts.items()]
