"""What T6's report fragment (templates/report.html.j2) draws from report.json: each subgroup's
difference in differences as a bar with its interval."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ... import svg


def figures(report: Mapping[str, Any], name: str) -> dict[str, Any]:
    subs = report["tests"][name]["metrics"].get("by_subgroup")
    if not subs:
        return {"disparity": None}
    items = [
        (f"{sub_name} · {metric}", e["did"], e["did_ci95"])
        for sub_name, sub in subs.items()
        for metric, e in sub.items()
        if isinstance(e, dict) and e.get("status") == "ok"
    ]
    body = svg.bars(items, f"{name} disparity chart") if items else "<p>No subgroup had enough subjects.</p>"
    caption = "Member-minus-non-member difference inside the subgroup minus outside it, with 95% CI."
    return {"disparity": {"body": Markup(body), "caption": caption}}
