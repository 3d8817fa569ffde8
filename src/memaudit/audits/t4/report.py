"""What T4 adds beyond report.json's metrics: the lines of `risk.rests_on`, the log-scale ROC figure
of its fragment (templates/report.html.j2), and what it publishes to a model registry and card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from ... import svg
from ...published import Headline, patients


def rests_on(name: str, m: Mapping[str, Any], deciding: str) -> list[str]:
    """T4's (`name`) lines: the repeated-record arm when it sets the status, the deciding attack's AUROC (and
    a low-FPR operating point whose interval lies above its rate) when that does."""
    out = []
    arm = m.get("repeated_records") or {}
    if arm.get("outcome") == deciding:
        out.append(arm["line"].replace(f"{name} repeated records:", f"{name} {deciding}: repeated records"))
    d = m["decision"]
    if d.get("outcome", deciding) == deciding:
        lo, hi = d["auroc_ci95"]
        line = f"{name} {deciding}: {m['primary_score']} AUROC {d['auroc']:.2f} [{lo:.2f}, {hi:.2f}]"
        low = [
            o
            for o in d["tpr_at_fpr"]
            if o["status"] == "ok" and o["fpr"] <= 0.01 and o["tpr_ci95"][0] > o["fpr"]
        ]
        if low:
            o = low[-1]
            line += (
                f"; TPR {o['tpr']:.1%} [{o['tpr_ci95'][0]:.1%}, {o['tpr_ci95'][1]:.1%}] at {o['fpr']:g} FPR"
            )
        out.append(line)
    return out


def figures(report: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The log-scale ROC of each score (LiRA's convention: low false-positive rates visible), with
    the deciding score's operating points marked."""
    m = report["tests"][name]["metrics"]
    if not m.get("by_score"):
        return {"roc": None}
    curves = {  # a score without an AUROC (no finite value) has no curve to draw
        f"{n} (AUROC {s['auroc']:.2f})": (s["roc"]["fpr"], s["roc"]["tpr"])
        for n, s in m["by_score"].items()
        if s.get("auroc") is not None
    }
    marks = [(o["fpr"], o["tpr"]) for o in m["decision"]["tpr_at_fpr"] if o["status"] == "ok"]
    caption = (
        "Log-scale ROC of each score on every scored member record and non-member; circles mark the "
        "operating points of the score that decides."
    )
    return {"roc": {"body": Markup(svg.log_roc(curves, marks, f"{name} log-scale ROC")), "caption": caption}}


def headline(report: Mapping[str, Any], name: str) -> list[Headline]:
    """The deciding attack's AUROC and TPR at each estimable FPR, and the repeated-record arm's
    size and TPR at its deciding point."""
    m = report["tests"][name]["metrics"]
    out = []
    decision = m.get("decision")
    if report["tests"][name]["status"] in ("pass", "warn", "fail") and decision:
        out.append(Headline("auroc", f"{name} membership AUROC ({m['primary_score']})", decision["auroc"]))
        out += [
            Headline(f"tpr_at_fpr_{p['fpr']:g}", f"{name} TPR at {p['fpr']:g} FPR", p["tpr"])
            for p in decision["tpr_at_fpr"]
            if p["status"] == "ok"
        ]
    arm = m.get("repeated_records") or {}
    out.append(Headline("repeated_records", f"{name} repeated records", arm.get("n_records", 0), rate=False))
    if arm.get("decision"):
        p = arm["decision"]["point"]
        label = f"{name} repeated records identified at {p['fpr']:g} FPR"
        out.append(Headline(f"repeated_records_tpr_at_fpr_{p['fpr']:g}", label, p["tpr"]))
    return out


def _interval(point: Mapping[str, Any]) -> str:
    lo, hi = point["tpr_ci95"]
    return f"{point['tpr']:.0%} [{lo:.0%}, {hi:.0%}]"


def card_lines(report: Mapping[str, Any], name: str, status: str) -> list[str]:
    m = report["tests"][name]["metrics"]
    arm = m.get("repeated_records") or {}
    if arm.get("outcome") == status:
        point = arm["decision"]["point"]
        return [
            f"{name} {status}: the repeated records are identified at {point['fpr']:g} FPR at a rate of "
            f"{_interval(point)}"
        ]
    lo, hi = m["decision"]["auroc_ci95"]
    return [f"{name} {status}: membership AUROC {m['decision']['auroc']:.2f} [{lo:.2f}, {hi:.2f}]"]


def card_paragraphs(report: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    """The repeated records: how many (as the small-cell rule prints them) and in which bands."""
    note = (report["cohort"].get("stream") or {}).get("repeated_records") or {}
    arm = report["tests"][name]["metrics"].get("repeated_records") or {}
    if note.get("rule") == "keep":
        return [("Repeated records", "not looked for (`splits.repeated_records: keep`).")]
    records = arm.get("n_records", 0)
    if not records:
        return [("Repeated records", "none found in the training data.")]
    text = f"{patients(records)} member records are repeated in the training data"
    if arm.get("bands"):
        bands = [b["band"] for b in arm["bands"] if b["n"]]
        text += f" (repetition bands {', '.join(bands)})"
    return [("Repeated records", text + "; they are judged as an arm of their own.")]
