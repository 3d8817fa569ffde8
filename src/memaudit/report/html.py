"""report.html: one self-contained page rendered from report.json alone (no recomputation).

The page is Jinja2 templates (`report/templates/`, autoescaped): `page.html.j2` includes one
template per section and one per test's fragment (`tests/T4.html.j2` …); figures are inline SVG
built here (`svg.py`) and passed in as markup."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from ..atomic import write_text
from ..audits.registry import method_texts
from ..templating import template_environment
from . import svg
from .json_report import gate_sentence, scored_sentence

VERDICT_CLASS = {"memorized": "fail", "likely_memorized": "warn"}
# the page's sections in order; a test's fragment is `tests/<name>.html.j2`
SECTIONS = (
    "sections/executive.html.j2",
    "sections/coverage.html.j2",
    "sections/leakage.html.j2",
    "tests/T4.html.j2",
    "tests/T5.html.j2",
    "tests/T6.html.j2",
    "sections/vocabulary.html.j2",
    "sections/methods.html.j2",
    "sections/model_input.html.j2",
    "sections/sampling.html.j2",
    "sections/flagged.html.j2",
)
GENERIC_FRAGMENT = "tests/generic.html.j2"
BUILT_IN_TESTS = ("T1", "T2", "T3", "T4", "T5", "T6")  # their findings are drawn by the sections above
PROFILE_FIGURES = 12  # T5 perturbation profiles drawn; the rest are in report.json


def _shares(by: dict) -> str:
    """{"medium": 0.9, "low": 0.1} as "medium 90%, low 10%"."""
    return ", ".join(f"{k} {v:.0%}" for k, v in by.items())


ENVIRONMENT = template_environment("memaudit.report")
ENVIRONMENT.filters.update(
    shares=_shares,
    gate_sentence=gate_sentence,
    capitalize_first=lambda text: text[:1].upper() + text[1:],
)


def _figure(body: str, caption: str) -> dict:
    return {"body": Markup(body), "caption": caption}


def _ordered(report: dict, by_tier: dict) -> list[str]:
    """Tiers in the config's order of attacker knowledge (JSON keys come back sorted)."""
    return [t for t in report["config"]["tiers"] if t in by_tier]


def _tier_rows(report: dict) -> list[dict]:
    """Per tier: T1 recovery by arm, its residual risk and the best T2 member AUROC over groups."""
    t1 = report["tests"]["T1"]["metrics"].get("by_tier", {})
    t2 = report["tests"]["T2"]["metrics"].get("by_group", {})
    rows = []
    for tier in _ordered(report, t1):
        e = t1[tier]
        aurocs = [
            g["by_tier"][tier]["member"]["auroc"]
            for g in t2.values()
            if tier in g["by_tier"] and g["by_tier"][tier]["member"]["auroc"] is not None
        ]
        rows.append(
            {
                "tier": tier,
                "member": e["recovery"]["member"],
                "non_member": e["recovery"]["non_member"],
                "residual": e["residual_risk_recovery"],
                "best_auroc": max(aurocs) if aurocs else None,
            }
        )
    return rows


def _leakage_figures(report: dict) -> list[dict]:
    t1 = report["tests"]["T1"]["metrics"].get("by_tier")
    figs = []
    if t1:
        tiers = _ordered(report, t1)
        for metric, axis, title, caption in (
            (
                "recovery",
                "share of true codes reproduced",
                "T1 recovery by tier",
                "T1: share of the true next codes reproduced, by attacker knowledge (95% CI).",
            ),
            (
                "demd",
                "dEMD (lower = closer)",
                "T1 distance by tier",
                "T1: dEMD between sampled and true continuations (lower is closer).",
            ),
        ):
            series = {
                arm: [(t1[t][metric][arm], t1[t][metric][f"{arm}_ci95"]) for t in tiers]
                for arm in ("member", "non_member")
            }
            figs.append(_figure(svg.tier_lines(tiers, series, axis, title), caption))
    t2 = report["tests"]["T2"]["metrics"].get("by_group")
    if t2:
        tiers = _ordered(report, next(iter(t2.values()))["by_tier"])
        series = {}
        for arm in ("member", "non_member"):
            pts = []
            for t in tiers:
                vals = [
                    g["by_tier"][t][arm]["auroc"]
                    for g in t2.values()
                    if g["by_tier"][t][arm]["auroc"] is not None
                ]
                pts.append((sum(vals) / len(vals) if vals else None, None))
            series[arm] = pts
        figs.append(
            _figure(
                svg.tier_lines(tiers, series, "mean AUROC over groups", "T2 AUROC by tier"),
                "T2: how well regenerated sensitive codes identify who has them (mean AUROC over groups).",
            )
        )
    return figs


def _roc_figure(report: dict) -> dict | None:
    m = report["tests"]["T4"]["metrics"].get("by_score")
    if not m:
        return None
    curves = {  # a score without an AUROC (no finite value) has no curve to draw
        f"{n} (AUROC {s['auroc']:.2f})": (s["roc"]["fpr"], s["roc"]["tpr"])
        for n, s in m.items()
        if s.get("auroc") is not None
    }
    decision = report["tests"]["T4"]["metrics"]["decision"]
    marks = [(o["fpr"], o["tpr"]) for o in decision["tpr_at_fpr"] if o["status"] == "ok"]
    return _figure(
        svg.log_roc(curves, marks, "T4 log-scale ROC"),
        "Log-scale ROC of each score on every scored member record and non-member; circles mark the "
        "operating points of the score that decides.",
    )


def _profile_figures(report: dict) -> list[dict]:
    """T5 without a reference: each case's change of p̂ under each identifier perturbation."""
    t5 = report["tests"]["T5"]["metrics"]
    if t5.get("mode") == "counterfactual":
        return []
    figs = []
    for c in t5.get("cases", [])[:PROFILE_FIGURES]:
        prof = c["profile"]
        items = [(k, v - prof["original"], None) for k, v in prof.items() if k != "original"]
        figs.append(
            _figure(
                svg.bars(items, f"T5 profile {c['subject']}", -1, 1),
                f"{c['subject']} · {c['group']} @ {c['tier']}: p̂ {prof['original']:.2f}; change under each "
                f"perturbation. {c['verdict']} (sharpness {c['sharpness']:.2f}, p = {c['p_value']:.3f}).",
            )
        )
    return figs


def _disparity_figure(report: dict) -> dict | None:
    subs = report["tests"]["T6"]["metrics"].get("by_subgroup")
    if not subs:
        return None
    items = [
        (f"{name} · {metric}", e["did"], e["did_ci95"])
        for name, sub in subs.items()
        for metric, e in sub.items()
        if isinstance(e, dict) and e.get("status") == "ok"
    ]
    body = svg.bars(items, "T6 disparity chart") if items else "<p>No subgroup had enough subjects.</p>"
    return _figure(
        body, "Member-minus-non-member difference inside the subgroup minus outside it, with 95% CI."
    )


def _sections(report: dict) -> list[tuple[str, str | None]]:
    """(template, test name) in page order: the built-in sections, with a generic fragment after
    T6's for each test another package added."""
    extra = [(GENERIC_FRAGMENT, name) for name in report["tests"] if name not in BUILT_IN_TESTS]
    at = SECTIONS.index("tests/T6.html.j2") + 1
    return [(s, None) for s in SECTIONS[:at]] + extra + [(s, None) for s in SECTIONS[at:]]


def render_html(report: dict) -> str:
    return ENVIRONMENT.get_template("page.html.j2").render(
        report=report,
        sections=_sections(report),
        methods={name: text for name, text in method_texts().items() if text and name in report["tests"]},
        verdict_class=VERDICT_CLASS,
        tier_rows=_tier_rows(report),
        leakage_figures=_leakage_figures(report),
        roc_figure=_roc_figure(report),
        profile_figures=_profile_figures(report),
        disparity_figure=_disparity_figure(report),
        scored_sentence=scored_sentence(report),
    )


def write_html(report: dict, path: Path) -> None:
    write_text(Path(path), render_html(report))
